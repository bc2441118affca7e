"""Preemption: SIGTERM / SIGINT mid-epoch save the current step, ``--resume`` continues there
to the weights of an uninterrupted run; ``train.checkpoint_every_steps`` survives a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from contrastlab.cli import main
from contrastlab.errors import Preempted
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import build_config
from contrastlab.train.trainer import train

from .faults import QUICK, command, env, train_args
from .test_ddp import SETTINGS as DDP_SETTINGS
from .test_ddp import _free_port as free_port
from .test_ddp import _vectors as ddp_vectors

EPOCHS = 8
BATCH = ["--batch-size", "64"]  # 22 steps per epoch
STEPS = 1437 // 64


def _args(out: Path, *extra: str, sets: list[str] = QUICK) -> list[str]:
    args = train_args(out, EPOCHS, *extra, sets=sets)
    at = args.index("--batch-size")
    return args[:at] + BATCH + args[at + 2 :]


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run, in this process."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert main(_args(out)) == 0
    return out


def _start(out: Path, sets: list[str] = QUICK) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(_args(out, sets=sets)),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(process: subprocess.Popen[str], ready: object, what: str) -> None:
    deadline = time.monotonic() + 120
    while not ready():  # type: ignore[operator]
        assert process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, f"no {what} within two minutes"
        time.sleep(0.005)


def _same_run(resumed: Path, straight: Path) -> None:
    a, b = load_checkpoint(resumed / "checkpoint.pt"), load_checkpoint(straight / "checkpoint.pt")
    assert a["epoch"] == b["epoch"] == EPOCHS and a["step"] == b["step"] == EPOCHS * STEPS
    for part in ("model", "probe"):
        for key, value in b[part].items():
            assert torch.equal(a[part][key], value), (part, key)
    keys = ("epoch", "step", "loss", "lr")
    records = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    reference = [json.loads(line) for line in (straight / "metrics.jsonl").read_text().splitlines()]
    assert [[r[k] for k in keys] for r in records] == [[r[k] for k in keys] for r in reference]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_run_saves_the_step_and_resume_matches_an_unbroken_run(
    tmp_path: Path, straight: Path, signum: signal.Signals
) -> None:
    out = tmp_path / "run"
    process = _start(out)
    history = out / "metrics.jsonl"
    _wait_for(process, lambda: history.exists() and history.read_text(), "first epoch")
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 75, err
    saved = load_checkpoint(out / "checkpoint.pt")
    epoch, position = saved["epoch"], saved["epoch_step"]
    assert 1 <= epoch < EPOCHS and 0 < position <= STEPS  # inside an epoch, not at its end
    assert saved["step"] == epoch * STEPS + position
    assert err.strip() == (
        f"contrastlab train: stopped by {signum.name} at epoch {epoch + 1}, step {position} of "
        f"{STEPS}; checkpoint saved to {out / 'checkpoint.pt'}; continue with --resume"
    )
    assert not (out / "train.lock").exists()  # released on the way out
    assert main(_args(out, "--resume")) == 0
    _same_run(out, straight)


def test_checkpoints_every_few_steps_survive_a_sigkill(tmp_path: Path, straight: Path) -> None:
    out = tmp_path / "run"
    process = _start(out, sets=[*QUICK, "train.checkpoint_every_steps=5"])
    checkpoint = out / "checkpoint.pt"
    _wait_for(process, checkpoint.exists, "checkpoint")
    while True:  # freeze the run, look at its last checkpoint: kill it mid-epoch
        process.send_signal(signal.SIGSTOP)
        saved = load_checkpoint(checkpoint)
        if 0 < saved["epoch_step"] < STEPS or process.poll() is not None:
            break
        process.send_signal(signal.SIGCONT)
        time.sleep(0.01)
    process.kill()
    process.wait()
    assert saved["epoch"] < EPOCHS and saved["step"] % 5 == 0
    assert main(_args(out, "--resume")) == 0
    _same_run(out, straight)


DDP_EPOCHS = 40  # 2 steps each: long enough to be stopped part way


def _stoppable_worker(rank: int, port: int, data: str, out: str, epochs: int) -> None:
    """One gloo rank of a 2-process run; a stop is written to ``out/rank<r>.txt``."""
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "OMP_NUM_THREADS": "1",
        }
    )
    torch.set_num_threads(1)
    sets = [s for s in DDP_SETTINGS if not s.startswith("train.epochs")]
    config = build_config(None, sets, **{"data.source": data, "train.device": "cpu"})
    config["train"]["epochs"] = epochs
    resume = (Path(out) / "checkpoint.pt").exists() and epochs == DDP_EPOCHS
    try:
        train(config, Path(out), resume=resume, log=lambda _: None)
    except Preempted as stopped:
        (Path(out) / f"rank{rank}.txt").write_text(str(stopped))


@pytest.mark.slow
def test_under_ddp_a_signal_to_one_rank_stops_every_rank_at_the_same_step(
    tmp_path: Path,
) -> None:
    source, out = ddp_vectors(tmp_path), tmp_path / "ddp"
    args = (free_port(), source, str(out), DDP_EPOCHS)
    context = mp.spawn(_stoppable_worker, args=args, nprocs=2, join=False)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists():
        assert time.monotonic() < deadline and all(p.is_alive() for p in context.processes)
        time.sleep(0.005)
    os.kill(context.processes[1].pid, signal.SIGTERM)  # rank 1 only
    while not context.join():
        pass
    messages = [(out / f"rank{r}.txt").read_text() for r in (0, 1)]
    saved = load_checkpoint(out / "checkpoint.pt")
    epoch, position = saved["epoch"], saved["epoch_step"]
    assert 0 < saved["step"] < 2 * DDP_EPOCHS and len(saved["rng"]) == 2
    where = f"at epoch {epoch + 1}, step {position} of 2; checkpoint saved to"
    assert messages[1].startswith(f"stopped by SIGTERM {where}")
    assert messages[0].startswith(f"stopped by a signal to another rank {where}")
    # both ranks resume from that step to the weights of an uninterrupted 2-process run
    mp.spawn(_stoppable_worker, args=(free_port(), source, str(out), DDP_EPOCHS), nprocs=2)
    straight = tmp_path / "straight"
    mp.spawn(_stoppable_worker, args=(free_port(), source, str(straight), DDP_EPOCHS), nprocs=2)
    a, b = (load_checkpoint(d / "checkpoint.pt") for d in (out, straight))
    assert a["step"] == b["step"] == 2 * DDP_EPOCHS
    for key, value in b["model"].items():
        assert torch.equal(a["model"][key], value), key
