"""Test settings for the loss tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # The inputs here are tiny: on a shared two-core machine OpenMP threads only wait on each
    # other (about 10x slower under load), so these tests run single-threaded.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
