"""Model snapshots during training (``train.save_epochs``) and warm starts (``model.init_from``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from contrastlab.errors import InputError
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import build_config
from contrastlab.train.runs import embed, load_run
from contrastlab.train.trainer import train

from .conftest import TINY

SETS = [*TINY, "eval.raw_baseline=false", "eval.linear_probe=false", "monitor.knn=false"]


def _run(out: Path, *extra: str, epochs: int = 3) -> dict:
    config = build_config(None, [*SETS, *extra], **{"train.epochs": epochs})
    return train(config, out, log=lambda _: None)


def test_snapshots_hold_the_weights_of_their_epoch(tmp_path: Path) -> None:
    _run(tmp_path / "long", "train.save_epochs=[1, 3]")
    snaps = sorted(p.name for p in (tmp_path / "long" / "snapshots").iterdir())
    assert snaps == ["epoch_0001.pt", "epoch_0003.pt"]
    # A 3-epoch run's final weights equal the epoch-3 snapshot.
    final = load_checkpoint(tmp_path / "long" / "checkpoint.pt")["model"]
    third = load_checkpoint(tmp_path / "long" / "snapshots" / "epoch_0003.pt")["model"]
    assert all(torch.equal(final[k], third[k]) for k in final)
    first = load_checkpoint(tmp_path / "long" / "snapshots" / "epoch_0001.pt")["model"]
    assert any(not torch.equal(final[k], first[k]) for k in final)
    # embed() reads a snapshot instead of the final checkpoint.
    early, _ = embed(load_run(tmp_path / "long", tmp_path / "long/snapshots/epoch_0001.pt"), "test")
    late, _ = embed(load_run(tmp_path / "long"), "test")
    assert early.shape == late.shape and not torch.allclose(
        torch.from_numpy(early), torch.from_numpy(late)
    )


def test_save_epochs_outside_the_run_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="save_epochs"):
        _run(tmp_path / "bad", "train.save_epochs=[4]")


def test_init_from_copies_matching_tensors_and_leaves_resized_ones_fresh(tmp_path: Path) -> None:
    _run(tmp_path / "base", epochs=1)
    base = load_checkpoint(tmp_path / "base" / "checkpoint.pt")["model"]
    messages: list[str] = []
    config = build_config(
        None,
        [*SETS, f"model.init_from={tmp_path / 'base'}", "model.projector_dim=2", "optim.lr=1e-12"],
        **{"train.epochs": 1},
    )
    train(config, tmp_path / "warm", log=messages.append)
    warm = load_checkpoint(tmp_path / "warm" / "checkpoint.pt")["model"]
    resized = [k for k in warm if k in base and warm[k].shape != base[k].shape]
    assert resized, "the last projector layer changed size"
    assert any(all(name in m for name in resized) for m in messages if "fresh:" in m)
    # With a negligible learning rate the copied backbone is still the base one.
    for key in (k for k in warm if k.startswith("backbone.") and "running" not in k):
        if warm[key].dtype.is_floating_point:
            assert torch.allclose(warm[key], base[key], atol=1e-6), key


def test_init_from_a_foreign_file_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="bogus.pt"):
        _run(tmp_path / "x", f"model.init_from={bogus}", epochs=1)


def test_a_fresh_run_into_an_old_folder_drops_its_snapshots(tmp_path: Path) -> None:
    _run(tmp_path / "run", "train.save_epochs=[1, 2]", epochs=2)
    _run(tmp_path / "run", "train.save_epochs=[1]", epochs=1)
    # no snapshot of the old run is left to be mistaken for one of the new run
    assert [p.name for p in (tmp_path / "run" / "snapshots").iterdir()] == ["epoch_0001.pt"]
