"""The ``device`` fixture: every test here runs on the CPU in the normal suite and, where CUDA
is present, on the GPU too. The CUDA runs carry the ``gpu`` mark, so ``pytest -m gpu`` selects
exactly them (all skipped on a machine without CUDA); tests that only mean something on a GPU
(memory of the CUDA allocator, NCCL, compiled CUDA kernels) are marked ``gpu`` on their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

HAS_CUDA = torch.cuda.is_available()
NEEDS_CUDA = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
CUDA_ONLY = [pytest.mark.gpu, NEEDS_CUDA]


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=CUDA_ONLY)])
def device(request: pytest.FixtureRequest) -> torch.device:
    """The device a test runs on: the CPU always, CUDA where there is one."""
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _few_threads() -> Iterator[None]:
    # Small tensors on a shared two-core machine: OpenMP threads mostly wait on each other.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
