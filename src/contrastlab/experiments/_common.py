"""Small helpers shared by the theory reproductions: progress, summaries, plots."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np


@contextlib.contextmanager
def progress(total: int, desc: str) -> Iterator[Callable[[], None]]:
    """A tqdm bar on stderr (shown only on a terminal); yields a function that advances it."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, file=sys.stderr, disable=None, leave=False)
    try:
        yield lambda: bar.update(1)
    finally:
        bar.close()


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def fmt(value: float) -> str:
    """A number for report prose: 4 significant digits, scientific when tiny."""
    return f"{value:.3e}" if value != 0 and abs(value) < 1e-3 else f"{value:.4g}"


def figure(
    width: float = 6.4, height: float = 3.6, ncols: int = 1, nrows: int = 1
) -> tuple[Any, Any]:
    """A matplotlib ``Figure`` outside pyplot (no GUI backend) and its axes ``(nrows, ncols)``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)
