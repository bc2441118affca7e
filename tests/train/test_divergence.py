"""Runs driven into NaN (stopped, the last good checkpoint kept) and into collapse (warned, in
metrics.jsonl, metrics.json and the report); a healthy run is not flagged."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from contrastlab.cli import main
from contrastlab.train.checkpoint import load_checkpoint

from .conftest import reference_lr
from .faults import QUICK, STEPS, run_cli, train_args

NAN_LR = 1e8
DIVERGING = [*QUICK, "optim.name=sgd", "optim.warmup_epochs=0", f"optim.lr={NAN_LR:g}"]


def test_a_run_into_nan_stops_naming_epoch_step_lr_and_keeps_the_last_good_checkpoint(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    sets = [*DIVERGING, "train.checkpoint_every_steps=2"]
    done = run_cli(train_args(out, 3, sets=sets))
    assert done.returncode == 3, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in done.stderr
    found = re.search(r"at epoch (\d+), step (\d+), lr (\S+): training stopped", line)
    assert found, line
    epoch, step, lr = int(found[1]), int(found[2]), found[3]
    assert "non-finite values" in line and epoch == 1 + (step - 1) // STEPS
    assert lr == f"{reference_lr(step - 1, 3 * STEPS, 0, NAN_LR, 0.0):.3g}"  # that step's rate
    kept = load_checkpoint(out / "checkpoint.pt")
    assert 0 < kept["step"] < step and kept["step"] % 2 == 0  # written before the bad step
    assert (
        f"the last good checkpoint ({kept['epoch']} epochs and {kept['epoch_step']} steps)" in line
    )
    assert all(torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point())
    assert not (out / "metrics.json").exists() and not (out / "train.lock").exists()


def test_without_a_checkpoint_yet_the_message_says_so(tmp_path: Path) -> None:
    done = run_cli(train_args(tmp_path / "run", 3, sets=DIVERGING))
    assert done.returncode == 3 and "no checkpoint was written yet" in done.stderr


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def test_a_collapsed_run_is_warned_about_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = train_args(out, 3, sets=[*QUICK, "optim.lr=1e4"])
    args.remove("--quiet")
    assert main(args) == 0  # a warning, not an error: the files are written
    err = capsys.readouterr().err
    assert "warning: the representation has collapsed at epoch 3 (effective rank" in err
    records = _records(out)
    assert records[-1]["collapsed"] is True and records[-1]["effective_rank"] < 2
    assert records[-1]["uniformity"] > -0.1  # every embedding nearly the same point
    collapse = json.loads((out / "metrics.json").read_text())["collapse"]
    assert collapse["collapsed"] is True and collapse["collapsed_epochs"][-1] == 3
    assert collapse["uniform_loss"] == pytest.approx(math.log(2 * 128 - 1))
    assert "WARNING: the representation has collapsed" in (out / "report.html").read_text()


def test_a_healthy_run_is_not_flagged(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(train_args(out, 2)) == 0
    records = _records(out)
    assert [r["collapsed"] for r in records] == [False, False]
    assert all(r["effective_rank"] > 4 and r["uniformity"] < -0.2 for r in records)
    collapse = json.loads((out / "metrics.json").read_text())["collapse"]
    assert collapse["collapsed"] is False and collapse["collapsed_epochs"] == []
    assert "WARNING" not in (out / "report.html").read_text()
