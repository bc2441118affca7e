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


def kernel_specs(value: Any, key: str = "kernels") -> tuple[dict[str, Any], ...]:
    """A list of kernel specifications as canonical mappings (``contrastlab.specs.kernel_spec``).

    Each item may be a mapping ``{"name": ..., **params}``, a command-line string
    (``"laplacian:t=0.3"``) or a kernel; the result is a tuple of canonical mappings. ``key``
    names the setting in messages.

    Raises:
        InputError: not a non-empty list, or an item that names no valid kernel.
    """
    from contrastlab.errors import InputError
    from contrastlab.specs import kernel_spec

    if isinstance(value, (str, dict)) or not isinstance(value, (list, tuple)) or not value:
        raise InputError(f"{key}: expected a non-empty list of kernels, got {value!r}")
    try:
        return tuple(kernel_spec(item) for item in value)
    except (TypeError, ValueError) as err:
        raise InputError(f"{key}: {err}") from err


def describe_kernel(spec: dict[str, Any]) -> str:
    """A kernel spec in report prose: ``gaussian (t=0.4)``, parts of a sum in brackets."""
    params = []
    for key, value in spec.items():
        if key == "name":
            continue
        if key == "kernels":
            value = "[" + ", ".join(describe_kernel(part) for part in value) + "]"
        params.append(f"{key}={value}")
    return f"{spec['name']} ({', '.join(params) or 'defaults'})"
