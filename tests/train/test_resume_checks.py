"""``--resume`` with other settings: what may change is taken over, anything else is refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from contrastlab.cli import main
from contrastlab.errors import InputError
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.resume import resume_settings

from .faults import QUICK, train_args


@pytest.fixture(scope="module")
def one_epoch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("resume") / "run"
    assert main(train_args(out, 1)) == 0
    return out


def _refused(out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    before = (out / "checkpoint.pt").read_bytes(), (out / "config.yaml").read_text()
    capsys.readouterr()
    assert main(train_args(out, 1, "--resume", *extra)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert ((out / "checkpoint.pt").read_bytes(), (out / "config.yaml").read_text()) == before
    return err


def test_another_kernel_is_refused_naming_the_key(
    one_epoch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(one_epoch, capsys, "--kernel", "laplacian")
    assert "loss.kernel (saved {'name': 'cosine', 't': 0.5}, given {'name': 'laplacian'" in err


def test_a_changed_temperature_model_and_rate_are_each_named(
    one_epoch: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused(
        one_epoch,
        capsys,
        *("--set", "loss.kernel.t=0.2", "--set", "model.projector_dim=8"),
        *("--set", "optim.lr=0.01", "--set", "train.seed=3"),
    )
    for key in ("loss.kernel", "model.projector_dim", "optim.lr", "train.seed"):
        assert f"{key} (saved " in err, key
    assert "model.projector_hidden" not in err  # given as before: not a difference


def test_another_data_source_is_refused(
    one_epoch: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    err = _refused(one_epoch, capsys, "--data", f"npz:{tmp_path / 'other.npz'}")
    assert "data.source (saved 'digits'" in err


def test_epochs_threads_and_monitors_may_change(one_epoch: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    for name in ("checkpoint.pt", "config.yaml", "metrics.jsonl"):
        (out / name).write_bytes((one_epoch / name).read_bytes())
    extra = ["--set", "monitor.knn=true", "--set", "monitor.every=1", "--set", "train.threads=1"]
    assert main(train_args(out, 2, "--resume", *extra)) == 0
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 2 and saved["monitor"]["knn"] is True
    assert load_checkpoint(out / "checkpoint.pt")["epoch"] == 2


def test_a_data_file_changed_under_the_same_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "vectors.npz"
    np.savez(data, features=rng.normal(size=(200, 6)), labels=rng.integers(0, 3, 200))
    args = ["train", "--data", f"npz:{data}", "--out", str(tmp_path / "run"), "--epochs", "1"]
    args += ["--batch-size", "32", "--quiet", *[a for s in QUICK[3:] for a in ("--set", s)]]
    assert main(args) == 0
    np.savez(data, features=rng.normal(size=(150, 6)), labels=rng.integers(0, 3, 150))
    capsys.readouterr()
    assert main([*args[:6], "2", *args[7:], "--resume"]) == 2
    err = capsys.readouterr().err
    assert "the data of" in err and "changed since its checkpoint (train_size 160 -> 120)" in err


def test_resume_settings_compares_only_what_was_given() -> None:
    saved = {"optim": {"lr": 0.5, "name": "sgd"}, "train": {"epochs": 3, "seed": 0}}
    given = {"optim": {"lr": 0.1, "name": "auto"}, "train": {"epochs": 5, "seed": 1}}
    # nothing given: the saved settings, untouched
    assert resume_settings(saved, given, [], "run") == saved
    # given epochs: taken; given the optim section: lr differs, name is auto (not compared)
    assert resume_settings(saved, given, ["train.epochs"], "run")["train"]["epochs"] == 5
    with pytest.raises(InputError, match=r"optim\.lr \(saved 0\.5, given 0\.1\); only") as caught:
        resume_settings(saved, given, ["optim"], "run")
    assert "optim.name" not in str(caught.value)
