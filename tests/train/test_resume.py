"""Resuming: a real SIGKILL then ``--resume`` matches an unbroken run; ``--resume --epochs N``
extends a finished run (its learning rate as documented) and cannot shorten one."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import yaml

from contrastlab.cli import main
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import build_config
from contrastlab.train.trainer import train

from .conftest import TINY, applied_rates, reference_lr
from .faults import command, env, train_args

EPOCHS = 10


SETS = [*TINY, "monitor.every=4", "eval.raw_baseline=false", "eval.linear_probe=false"]


def _args(out: Path, *extra: str) -> list[str]:
    """``contrastlab train`` arguments of this file's tiny digits run."""
    return train_args(out, EPOCHS, *extra, sets=SETS)


def test_killed_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        command(_args(killed)), env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    checkpoint = killed / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "no checkpoint within two minutes"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted_at = load_checkpoint(checkpoint)["epoch"]
    assert 1 <= interrupted_at < EPOCHS, "the run ended before it could be killed"

    # Resume in this process: same command line, through the real entry point.
    assert main(_args(killed, "--resume")) == 0
    # The unbroken run in this process (same settings, one thread) saves a third start-up.
    straight = tmp_path / "straight"
    config = build_config(
        None, SETS, **{"data.source": "digits", "train.epochs": EPOCHS, "optim.batch_size": 128}
    )
    train(config, straight, log=lambda _: None)

    a = load_checkpoint(killed / "checkpoint.pt")
    b = load_checkpoint(straight / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == EPOCHS and a["step"] == b["step"]
    for key, value in b["model"].items():
        assert torch.equal(a["model"][key], value), key
    history = (killed / "metrics.jsonl").read_text().splitlines()
    assert len(history) == EPOCHS  # one record per epoch, none lost or doubled by the kill


# --resume --epochs N on a finished run: the extension (through the CLI, in this process).
STEPS = 1437 // 128  # digits' training split in global batches of 128
EXTEND = [*TINY, "monitor.every=1", "eval.raw_baseline=false", "eval.linear_probe=false"]


def _train_cli(out: Path, epochs: int, *extra: str, sets: list[str] = EXTEND) -> int:
    flags = [arg for s in sets for arg in ("--set", s)]
    return main(
        ["train", "--data", "digits", "--out", str(out), "--epochs", str(epochs)]
        + ["--batch-size", "128", "--quiet", *flags, *extra]
    )


def _history(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_resume_with_more_epochs_extends_a_finished_run(tmp_path: Path) -> None:
    # A constant learning rate: the schedule does not depend on the run's length, so the
    # extension must equal an uninterrupted 4-epoch run (the next test covers the schedule).
    constant = [*EXTEND, "optim.warmup_epochs=0", "optim.min_lr_ratio=1.0"]
    extended, straight = tmp_path / "extended", tmp_path / "straight"
    assert _train_cli(extended, 2, sets=constant) == 0
    first_two = _history(extended)
    assert _train_cli(extended, 4, "--resume", sets=constant) == 0
    assert _train_cli(straight, 4, sets=constant) == 0

    a, b = load_checkpoint(extended / "checkpoint.pt"), load_checkpoint(straight / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == 4 and a["step"] == b["step"] == 4 * STEPS
    for part in ("model", "probe"):  # the online probe and its optimiser resume too
        for key, value in b[part].items():
            assert torch.equal(a[part][key], value), (part, key)
    history, reference = _history(extended), _history(straight)
    assert [r["epoch"] for r in history] == [1, 2, 3, 4]
    assert history[:2] == first_two  # the epochs already trained are kept as they were
    for mine, theirs in zip(history, reference, strict=True):
        keys = ("step", "loss", "knn_top1_k20", "online_linear_top1")
        assert [mine[k] for k in keys] == [theirs[k] for k in keys]
    assert yaml.safe_load((extended / "config.yaml").read_text())["train"]["epochs"] == 4
    metrics = json.loads((extended / "metrics.json").read_text())
    assert metrics["epochs"] == 4 and len(metrics["history"]) == 4
    # throughput over the whole run, the epochs before the resume included
    images, seconds = (sum(r[k] for r in history) for k in ("images", "step_seconds"))
    assert images == 4 * STEPS * 128
    assert metrics["images_per_second"] == pytest.approx(images / seconds)


def test_extension_follows_the_schedule_of_the_new_length(tmp_path: Path) -> None:
    out, base = tmp_path / "run", 0.002
    sets = [*EXTEND, "optim.warmup_epochs=1", f"optim.lr={base}", "optim.min_lr_ratio=0.0"]
    assert _train_cli(out, 2, sets=sets) == 0
    with applied_rates() as seen:
        assert _train_cli(out, 4, "--resume", sets=sets) == 0
    # the documented rule: every step of the extension has the 4-epoch schedule's rate
    expected = [reference_lr(s, 4 * STEPS, STEPS, base, 0.0) for s in range(2 * STEPS, 4 * STEPS)]
    main_optimiser = [groups for groups in seen if len(groups) == 2]  # the probe's has one group
    assert len(main_optimiser) == 2 * STEPS
    assert [groups[0] for groups in main_optimiser] == pytest.approx(expected, rel=1e-12)
    logged = [r["lr"] for r in _history(out)]
    assert logged == pytest.approx(
        [
            reference_lr(STEPS - 1, 2 * STEPS, STEPS, base, 0.0),  # the 2-epoch run's own rates
            reference_lr(2 * STEPS - 1, 2 * STEPS, STEPS, base, 0.0),
            reference_lr(3 * STEPS - 1, 4 * STEPS, STEPS, base, 0.0),  # then the 4-epoch ones
            reference_lr(4 * STEPS - 1, 4 * STEPS, STEPS, base, 0.0),
        ],
        rel=1e-12,
    )


def test_resume_cannot_shorten_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    quick = [*EXTEND, "monitor.knn=false"]
    assert _train_cli(out, 2, sets=quick) == 0
    before = (out / "checkpoint.pt").read_bytes(), (out / "config.yaml").read_text()
    capsys.readouterr()
    assert _train_cli(out, 1, "--resume", sets=quick) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "trained 2 epochs already" in err
    assert ((out / "checkpoint.pt").read_bytes(), (out / "config.yaml").read_text()) == before
