"""Which device a computation runs on: one check shared by the API and the command line."""

from __future__ import annotations

from typing import Any

import torch

from contrastlab.errors import InputError


def resolve_device(device: Any = None, *, what: str = "device") -> torch.device:
    """``device`` (``"cpu"``, ``"cuda"``, ``"cuda:K"`` or a ``torch.device``) checked against
    this machine; ``None`` or ``"auto"``: CUDA when available, else the CPU.

    Args:
        device: the device asked for.
        what: how the error message names the setting (``"--device"`` on the command line).

    Raises:
        InputError: another device type, or CUDA (or CUDA device K) where there is none.
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        target = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise InputError(f"{what} must be cpu, cuda or cuda:K, got {device!r}") from err
    if target.type not in ("cpu", "cuda"):
        raise InputError(f"{what} must be cpu, cuda or cuda:K, got {device!r}")
    if target.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"{what} {device}: no CUDA device is available on this machine")
        count = torch.cuda.device_count()
        if target.index is not None and target.index >= count:
            raise InputError(f"{what} {device}: this machine has {count} CUDA device(s)")
    return target
