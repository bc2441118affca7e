"""Checkpoints: atomic writes, RNG states, safe loading, clear errors for damaged files."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastlab.errors import InputError
from contrastlab.train.checkpoint import (
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)


def test_round_trip_restores_every_random_stream(tmp_path: Path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)  # noqa: NPY002 (the legacy global state is what is saved)
    random.seed(3)
    states = rng_states()
    numpy_draw = np.random.rand(3)  # noqa: NPY002
    expected = (torch.rand(3), numpy_draw, [random.random() for _ in range(3)])
    path = save_checkpoint(
        tmp_path / "c.pt", {"rng": states, "weights": torch.arange(4.0), "epoch": 2}
    )
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed away
    loaded = load_checkpoint(path)
    assert loaded["epoch"] == 2 and torch.equal(loaded["weights"], torch.arange(4.0))
    restore_rng_states(loaded["rng"])
    numpy_again = np.random.rand(3)  # noqa: NPY002
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
