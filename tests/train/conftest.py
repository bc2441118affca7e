"""Shared helpers for the training tests: tiny settings and single-threaded torch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

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
