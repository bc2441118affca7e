"""Shared helpers for the training tests: tiny settings, single-threaded torch, and the
documented learning-rate schedule with a recorder of the rates optimisers really apply."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

# Small enough that a digits epoch takes a fraction of a second on one core.
TINY = [
    "model.widths=[8, 16]",
    "model.projector_hidden=32",
    "model.projector_dim=16",
    "train.progress=false",
    "train.threads=1",
]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny tensors: on a shared two-core machine OpenMP threads mostly wait on each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def reference_lr(step: int, total: int, warmup: int, base: float, min_ratio: float) -> float:
    """The documented schedule, written independently of ``train.optim``: ``base * (s + 1) / W``
    for the first ``W = warmup`` steps, then ``min + (base - min) * (1 + cos(pi * p)) / 2`` with
    ``p = (s - W) / (T - W)``, ``T = total`` and ``min = min_ratio * base``."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / (total - warmup)
    floor = min_ratio * base
    return floor + (base - floor) * (1 + math.cos(math.pi * progress)) / 2


@contextmanager
def applied_rates() -> Iterator[list[list[float]]]:
    """Every optimiser step taken inside the block, as the learning rates of its groups."""
    seen: list[list[float]] = []

    def record(optimizer: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        seen.append([float(group["lr"]) for group in optimizer.param_groups])

    handle = register_optimizer_step_pre_hook(record)
    try:
        yield seen
    finally:
        handle.remove()
