"""The ``--device`` option of the benchmarks: checked before any measurement, synchronised
around every timed call (CUDA kernels run asynchronously, so a timer must wait for them)."""

from __future__ import annotations

from typing import Any


def check_device(name: str) -> Any:
    """``"cpu"``, ``"cuda"`` or ``"cuda:K"`` as a ``torch.device``.

    Raises:
        InputError: on another name, or CUDA asked for where there is none (or not device K).
    """
    from contrastlab.devices import resolve_device

    return resolve_device(name, what="--device")


def synchronize(device: Any) -> None:
    """Wait for the device's queued work (a no-op on the CPU)."""
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def describe(device: Any) -> str:
    """One line naming the device: the GPU's model and memory, or the CPU's core count."""
    import os

    import torch

    device = torch.device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"{device}: {props.name}, {props.total_memory / 2**30:.0f} GiB"
    return f"cpu: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}"
