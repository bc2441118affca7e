"""Figures of training runs: loss and monitor accuracy per epoch, one line per run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def training_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]]) -> Any:
    """A matplotlib figure: loss (left) and kNN k=20 / online-probe accuracy (right) per epoch.

    Args:
        histories: run name -> the records of its ``metrics.jsonl``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
    for index, (name, records) in enumerate(histories.items()):
        colour = f"C{index}"
        ax_loss.plot(
            [r["epoch"] for r in records], [r["loss"] for r in records], color=colour, label=name
        )
        for key, style in (("knn_top1_k20", "-o"), ("online_linear_top1", "--")):
            points = [(r["epoch"], r[key]) for r in records if key in r]
            if points:
                label = f"{name}: {'kNN k=20' if key.startswith('knn') else 'online linear'}"
                ax_acc.plot(
                    *zip(*points, strict=True), style, color=colour, label=label, markersize=3
                )
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="Loss")
    ax_acc.set(xlabel="epoch", ylabel="test accuracy", title="Monitors on the test split")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
