"""A real kill and resume: SIGKILL a CPU run after a checkpoint, resume, match an unbroken run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from contrastlab.cli import main
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import build_config
from contrastlab.train.trainer import train

from .conftest import TINY

EPOCHS = 10


SETS = [*TINY, "monitor.every=4", "eval.raw_baseline=false", "eval.linear_probe=false"]


def _command(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "contrastlab",
        "train",
        "--data",
        "digits",
        "--out",
        str(out),
        "--epochs",
        str(EPOCHS),
        "--batch-size",
        "128",
        "--quiet",
        *[arg for s in SETS for arg in ("--set", s)],
        *extra,
    ]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_killed_run_resumes_to_the_same_weights(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _command(killed), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
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
    assert main(_command(killed, "--resume")[3:]) == 0
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
