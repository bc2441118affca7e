"""Checkpoints: atomic writes (a failed write keeps the last good one), RNG states, safe loading,
clear errors for damaged files."""

from __future__ import annotations

import io
import json
import os
import pickle
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from contrastlab.cli import main
from contrastlab.errors import InputError
from contrastlab.train.checkpoint import (
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)

from .conftest import TINY


def test_round_trip_restores_every_random_stream(tmp_path: Path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)  # noqa: NPY002 (the legacy global state is what is saved)
    np.random.normal()  # noqa: NPY002 (leaves the second Box-Muller value cached)
    random.seed(3)
    states = rng_states()
    numpy_draw = np.random.normal(size=3)  # noqa: NPY002 (the cached value comes first)
    expected = (torch.rand(3), numpy_draw, [random.random() for _ in range(3)])
    path = save_checkpoint(
        tmp_path / "new" / "folder" / "c.pt",
        {"rng": states, "weights": torch.arange(4.0), "epoch": 2},
    )
    assert path == tmp_path / "new" / "folder" / "c.pt"  # missing folders are created
    assert [p.name for p in path.parent.iterdir()] == ["c.pt"]  # the temporary file renamed away
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 2 and torch.equal(loaded["weights"], torch.arange(4.0))
    restore_rng_states(loaded["rng"])
    numpy_again = np.random.normal(size=3)  # noqa: NPY002
    again = (torch.rand(3), numpy_again, [random.random() for _ in range(3)])
    assert torch.equal(expected[0], again[0])
    np.testing.assert_array_equal(expected[1], again[1])
    assert expected[2] == again[2]


class _Payload:
    """Something a weights-only loader must refuse to build."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (print, ("this must never run",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_truncated_foreign_and_missing_files(tmp_path: Path) -> None:
    good = save_checkpoint(tmp_path / "good.pt", {"weights": torch.randn(1000)})
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(InputError, match="truncated or not a contrastlab checkpoint"):
        load_checkpoint(cut)
    code = tmp_path / "code.pt"
    torch.save({"format": "contrastlab-checkpoint-1", "x": _Payload()}, code)
    with pytest.raises(InputError, match="truncated or not a contrastlab checkpoint"):
        load_checkpoint(code)
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(InputError, match="is not a contrastlab checkpoint"):
        load_checkpoint(other)
    noise = tmp_path / "noise.pt"
    noise.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(InputError):
        load_checkpoint(noise)
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")
    message = str(pytest.raises(InputError, load_checkpoint, cut).value)
    assert "\n" not in message


def _half_written_save(real_save: Callable[..., None]) -> Callable[..., None]:
    """A ``torch.save`` that writes the first half of the real bytes, then fails (disk full)."""

    def save(obj: object, f: Any, *args: Any, **kwargs: Any) -> None:
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        data = buffer.getvalue()
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as handle:
                handle.write(data[: len(data) // 2])
        else:
            f.write(data[: len(data) // 2])
            f.flush()
        raise OSError(28, "No space left on device")

    return save


def _failing_replace(renames: list[tuple[Path, Path]]) -> Callable[[Any, Any], None]:
    def replace(src: Any, dst: Any) -> None:
        renames.append((Path(src), Path(dst)))
        raise OSError(5, "Input/output error")

    return replace


@pytest.mark.parametrize("failure", ["mid-write", "at the rename"])
def test_a_failed_save_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    path = tmp_path / "checkpoint.pt"
    weights = torch.randn(5000, generator=torch.Generator().manual_seed(0))
    save_checkpoint(path, {"epoch": 1, "weights": weights})
    before = path.read_bytes()
    renames: list[tuple[Path, Path]] = []
    if failure == "mid-write":
        monkeypatch.setattr(torch, "save", _half_written_save(torch.save))
    else:
        monkeypatch.setattr(os, "replace", _failing_replace(renames))
    with pytest.raises(OSError):
        save_checkpoint(path, {"epoch": 2, "weights": torch.zeros(5000)})
    monkeypatch.undo()
    if failure == "at the rename":
        # a rename is atomic within one file system: the new file was written beside the old one
        ((written, target),) = renames
        assert target == path and written.parent == path.parent and written != path
    assert path.read_bytes() == before
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 1 and torch.equal(loaded["weights"], weights)
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left


def test_a_run_whose_checkpoint_write_fails_resumes_from_the_last_good_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sets = [*TINY, "monitor.knn=false", "eval.linear_probe=false", "eval.raw_baseline=false"]
    args = ["train", "--data", "digits", "--out", str(tmp_path / "run"), "--epochs", "3"]
    args += ["--batch-size", "128", "--quiet", *[a for s in sets for a in ("--set", s)]]
    real_save, calls = torch.save, []

    def second_save_fails(obj: object, f: Any, *a: Any, **k: Any) -> None:
        calls.append(obj)
        (_half_written_save(real_save) if len(calls) == 2 else real_save)(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", second_save_fails)
    with pytest.raises(OSError, match="No space left"):
        main(args)
    monkeypatch.undo()
    run = tmp_path / "run"
    assert load_checkpoint(run / "checkpoint.pt")["epoch"] == 1  # epoch 2's write failed
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    assert main([*args, "--resume"]) == 0
    assert load_checkpoint(run / "checkpoint.pt")["epoch"] == 3
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").open()] == [1, 2, 3]


def test_checkpoint_and_monitor_intervals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_save, saved_epochs = torch.save, []

    def spy(obj: Any, f: Any, *a: Any, **k: Any) -> None:
        saved_epochs.append(obj["epoch"])
        real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", spy)
    sets = [*TINY, "eval.linear_probe=false", "eval.raw_baseline=false"]
    sets += ["train.checkpoint_every=2", "monitor.every=3"]
    args = ["train", "--data", "digits", "--out", str(tmp_path / "run"), "--epochs", "5"]
    assert (
        main([*args, "--batch-size", "256", "--quiet", *[a for s in sets for a in ("--set", s)]])
        == 0
    )
    assert saved_epochs == [2, 4, 5]  # every second epoch, and the last
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["epoch"] for r in records if "knn_top1_k20" in r] == [3, 5]  # and the last


def test_load_places_tensors_where_asked(tmp_path: Path) -> None:
    # e.g. a GPU run's checkpoint read on a laptop: every tensor lands on map_location
    path = save_checkpoint(tmp_path / "c.pt", {"model": {"w": torch.ones(3)}})
    assert load_checkpoint(path)["model"]["w"].device.type == "cpu"
    assert load_checkpoint(path, map_location="meta")["model"]["w"].device.type == "meta"


def test_init_from_a_checkpoint_of_another_model_is_a_clear_error(tmp_path: Path) -> None:
    from torch import nn

    from contrastlab.train.checkpoint import initialise_from

    other = save_checkpoint(tmp_path / "other.pt", {"model": {"encoder.w": torch.ones(5, 5)}})
    with pytest.raises(InputError, match="no tensor of that checkpoint fits this model"):
        initialise_from(nn.Linear(2, 3), other)
