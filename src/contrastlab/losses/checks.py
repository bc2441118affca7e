"""Input validation shared by the losses: shapes, sample counts and finite values."""

from __future__ import annotations

import os

import torch
from torch import Tensor


def check_finite(name: str, tensor: Tensor) -> None:
    """Raise ``ValueError`` with the count of NaN/inf entries.

    Runs on CPU tensors always; on accelerators only with ``CONTRASTLAB_DEBUG=1`` (the check
    would otherwise force a device synchronisation every step).
    """
    if tensor.device.type != "cpu" and not os.environ.get("CONTRASTLAB_DEBUG"):
        return
    if tensor.numel() == 0 or bool(torch.isfinite(tensor.sum())):
        return  # one cheap pass; a NaN or inf anywhere makes the sum non-finite
    bad = int((~torch.isfinite(tensor)).sum().item())
    if bad:  # zero when the sum only overflowed
        raise ValueError(f"{name} has {bad} non-finite values (NaN or inf) of {tensor.numel()}")


def check_pair(first: Tensor, second: Tensor, names: tuple[str, str], min_rows: int = 2) -> None:
    """Two ``(B, d)`` tensors of equal shape with ``B >= min_rows``, finite."""
    for name, t in zip(names, (first, second)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 2:
            raise ValueError(f"{name} must be 2-D (batch, dim), got shape {tuple(t.shape)}")
    if first.shape != second.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape, got "
            f"{tuple(first.shape)} and {tuple(second.shape)}"
        )
    if first.shape[0] < min_rows:
        raise ValueError(f"need at least {min_rows} samples per view, got {first.shape[0]}")
    if first.shape[1] < 1:
        raise ValueError(f"embeddings have dimension 0: shape {tuple(first.shape)}")
    if first.device != second.device:
        raise ValueError(f"{names[0]} is on {first.device} but {names[1]} on {second.device}")
    for name, t in zip(names, (first, second)):
        check_finite(name, t)


def compute_dtype(tensor: Tensor) -> torch.dtype:
    """float64 stays float64; everything else (bf16/fp16 under autocast) is computed in float32."""
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32
