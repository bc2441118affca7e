"""Figures of the embedding diagnostics, as matplotlib ``Figure`` objects (no pyplot state).

Each function takes plain numbers and returns a figure for ``contrastlab.report.Report.figure``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _figure(width: float = 5.0, height: float = 3.6) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def rld_curve(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> Any:
    """RLD against temperature (log scale), one line per named ``(ts, values)``."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for name, (ts, values) in curves.items():
        order = np.argsort(ts)
        ax.plot(np.asarray(ts)[order], np.asarray(values)[order], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("temperature t (small = local)")
    ax.set_ylabel("RLD")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def purity_curve(curves: Mapping[str, Mapping[int, float]]) -> Any:
    """Neighbour label purity against k (log scale), one line per named ``{k: purity}``."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for name, purity in curves.items():
        ks = sorted(purity)
        ax.plot(ks, [purity[k] for k in ks], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("neighbours k")
    ax.set_ylabel("label purity")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scatter_2d(points: np.ndarray, labels: np.ndarray, title: str = "") -> Any:
    """A 2-D scatter coloured by label (at most 20 distinct colours, then they repeat)."""
    fig = _figure(5.0, 5.0)
    ax = fig.add_subplot(1, 1, 1)
    classes, codes = np.unique(labels, return_inverse=True)
    cmap, colours = ("tab10", 10) if len(classes) <= 10 else ("tab20", 20)
    ax.scatter(
        points[:, 0],
        points[:, 1],
        c=codes % colours,
        cmap=cmap,
        vmin=0,
        vmax=colours - 1,
        s=4,
        linewidths=0,
    )
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


def toy_grid(toys: Sequence[tuple[str, np.ndarray, np.ndarray, str]]) -> Any:
    """Small multiples of 2-D toy sets: ``(name, X, y, caption)`` each, three per row."""
    columns = 3
    rows = (len(toys) + columns - 1) // columns
    fig = _figure(3.2 * columns, 3.4 * rows)
    for i, (name, X, y, caption) in enumerate(toys):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.scatter(X[:, 0], X[:, 1], c=y % 10, cmap="tab10", s=3, linewidths=0)
        ax.set_title(f"{name}\n{caption}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal")
    fig.tight_layout()
    return fig
