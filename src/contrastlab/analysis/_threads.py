"""Run small computations on one thread.

Small matrix work (a 180-node GCN step, a 5,000 x 512 logistic regression) is dominated by
thread hand-offs, which a busy machine turns into waits: measured here, one thread made the GCN
probe 30x and the linear probe 10x faster than two. Large passes keep every thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def single_thread(enabled: bool = True) -> Iterator[None]:
    """Limit torch and the BLAS / OpenMP pools to one thread inside the block (if ``enabled``)."""
    if not enabled:
        yield
        return
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(previous)
