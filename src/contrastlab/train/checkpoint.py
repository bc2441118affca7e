"""Checkpoints: written atomically, loaded safely, with every random-number state.

A checkpoint is a plain dict of tensors, numbers, strings and containers: the model, optimiser,
online probe and AMP scaler states, the epoch and step reached, and the RNG states of torch (CPU
and every CUDA device), NumPy and Python's ``random``. It is written to a temporary file in the
same folder and renamed over the old one (:func:`contrastlab.files.atomic_write`), so a run
killed mid-write, or a write that fails, leaves the previous checkpoint intact. Loading uses
``torch.load(..., weights_only=True)``: a checkpoint from someone else cannot run code, and a
truncated or foreign file raises :class:`InputError` with a one-line message.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from contrastlab.errors import InputError
from contrastlab.files import atomic_write

FORMAT = "contrastlab-checkpoint-1"


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the format tag) atomically to ``path``
    (:func:`contrastlab.files.atomic_write`: umask permissions; a failed write raises
    :class:`~contrastlab.files.OutputError` and keeps the previous checkpoint)."""
    buffer = io.BytesIO()  # serialised first: torch reports a failed write as a RuntimeError
    torch.save({"format": FORMAT, **state}, buffer)
    return atomic_write(path, buffer.getvalue())


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Raises:
        InputError: missing, truncated, corrupt or foreign file.
    """
    source = Path(path)
    if not source.is_file():
        raise InputError(f"checkpoint {source} not found")
    try:
        state = torch.load(source, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for a damaged file; all mean the same
        reason = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else ""
        raise InputError(
            f"checkpoint {source} is truncated or not a contrastlab checkpoint "
            f"({type(err).__name__}: {reason[:100]})"
        ) from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"checkpoint {source} is not a contrastlab checkpoint")
    return state


def rng_states() -> dict[str, Any]:
    """Every random-number state a training step may draw from, as checkpoint-safe values."""
    numpy_state: Any = np.random.get_state()  # noqa: NPY002
    python_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
        "numpy": {
            "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
            "pos": int(numpy_state[2]),
            "has_gauss": int(numpy_state[3]),
            "cached_gaussian": float(numpy_state[4]),
        },
        "python": [python_state[0], list(python_state[1]), python_state[2]],
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    """Inverse of :func:`rng_states`."""
    torch.set_rng_state(states["torch"].cpu())
    if states.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states["cuda"]])
    numpy_state = states["numpy"]
    np.random.set_state(  # noqa: NPY002
        (
            "MT19937",
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def initialise_from(model: torch.nn.Module, source: str | os.PathLike[str]) -> list[str]:
    """Copy into ``model`` every tensor of a checkpoint whose name and shape match.

    Args:
        model: the freshly built model.
        source: a checkpoint file, or a run folder holding ``checkpoint.pt``.

    Returns:
        The names of the model's tensors left at their fresh initialisation (for example a last
        projector layer whose output size changed).

    Raises:
        InputError: the checkpoint cannot be read, or no tensor of it fits the model.
    """
    path = Path(source)
    if path.is_dir():
        path = path / "checkpoint.pt"
    saved = load_checkpoint(path)["model"]
    own = model.state_dict()
    fitting = {k: v for k, v in saved.items() if k in own and own[k].shape == v.shape}
    if not fitting:
        raise InputError(f"model.init_from {path}: no tensor of that checkpoint fits this model")
    model.load_state_dict(fitting, strict=False)
    return [k for k in own if k not in fitting]
