"""The numbers of the ``clusters`` reproduction: the grid of trained encoders and real data.

Setting (choices of this project): ``data.intertwined`` (K clusters of M augmentation sets =
balls of radius r whose anchors form a regular simplex of edge delta, the clusters copies of it
offset by ``separation``, embedded in R^D); the overlap ratio ``r / delta`` runs over
``ratios`` (r = ``radius`` fixed, delta = r / ratio). Function classes of growing capacity
(``capacities``: linear, then MLPs of growing width and depth, ``models.encoders``), the cosine
kernel at each temperature of ``grid_kernels``, exactly m negatives per anchor as in
``clusters_training`` (groups of m + 1 sources, CLIP form; ``"all"`` = every other source).
Every grid point is measured with ``analysis.cluster_preservation`` on ``views_per_source``
fresh draws from every set.

With ``data`` set, a real-data section trains the project's trainer on that source and measures
cluster preservation of several augmented views of test samples (class = cluster, sample =
source), trained against untrained.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from contrastlab.analysis import cluster_preservation
from contrastlab.analysis._threads import single_thread
from contrastlab.data.intertwined import IntertwinedClusters, make_intertwined_clusters
from contrastlab.experiments._common import progress
from contrastlab.experiments.clusters.settings import Settings
from contrastlab.experiments.clusters_training import (
    input_scale,
    real_data_preservation,
    train_encoder,
)
from contrastlab.models.encoders import build_encoder
from contrastlab.specs import build_kernel

__all__ = ["Computed", "compute", "seeds_of"]


def seeds_of(settings: Settings) -> list[int]:
    """The seeds of the repetitions: ``seed, seed + 1, ..., seed + seeds - 1``."""
    return [settings.seed + i for i in range(settings.seeds)]


def _layout(settings: Settings, ratio: float, seed: int) -> IntertwinedClusters:
    return make_intertwined_clusters(
        settings.clusters,
        settings.sets_per_cluster,
        radius=settings.radius,
        spacing=settings.radius / ratio,
        separation=settings.separation,
        dim=settings.dim,
        seed=seed,
    )


def _grid_point(
    settings: Settings, data: IntertwinedClusters, views: Any, point: dict[str, Any]
) -> dict[str, Any]:
    """Train one encoder of the grid and measure it on ``views = (x, cluster, source)``."""
    x, cluster, source = views
    seed = point["seed"]
    trained = train_encoder(
        data,
        point["capacity"],
        point["m"],
        build_kernel(point["kernel"]),
        out_dim=settings.out_dim,
        steps=settings.steps,
        rows=settings.rows,
        lr=settings.lr,
        seed=seed,
    )
    return {
        "seed": seed,
        "ratio": point["ratio"],
        "capacity": point["capacity"],
        "negatives": str(point["m"]),
        "m": trained.negatives,
        "t": float(point["kernel"]["t"]),
        "final_loss": float(np.mean(trained.losses[-20:])),
        "first_loss": float(trained.losses[0]),
        **cluster_preservation(trained.embed(x), cluster, source, seed=seed),
    }


def _untrained(
    settings: Settings, data: IntertwinedClusters, views: Any, where: dict[str, Any]
) -> dict[str, Any]:
    """The same architecture at its initialisation: what training changed."""
    x, cluster, source = views
    start = build_encoder(where["capacity"], data.dim, settings.out_dim, where["seed"])
    with torch.no_grad():
        z = start(torch.as_tensor(x / input_scale(data), dtype=torch.float32)).double()
    measured = cluster_preservation(z.numpy(), cluster, source, seed=where["seed"])
    return {**where, **measured}


def _grid(settings: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train and measure every (seed, ratio, capacity, m, t); also each untrained encoder."""
    points, untrained = [], []
    total = settings.seeds * len(settings.ratios) * len(settings.capacities)
    total *= len(settings.negatives) * len(settings.grid_kernels)
    with progress(total, "clusters grid") as advance:
        for seed in seeds_of(settings):
            for ratio in settings.ratios:
                data = _layout(settings, ratio, seed)
                views = data.views(settings.views_per_source, np.random.default_rng([seed, 6]))
                for capacity in settings.capacities:
                    for m in settings.negatives:
                        for kernel in settings.grid_kernels:
                            point = {"seed": seed, "ratio": ratio, "capacity": capacity}
                            point.update({"m": m, "kernel": kernel})
                            points.append(_grid_point(settings, data, views, point))
                            advance()
                    where = {"seed": seed, "ratio": ratio, "capacity": capacity}
                    untrained.append(_untrained(settings, data, views, where))
    return points, untrained


def _real_data(settings: Settings, source: str) -> dict[str, Any]:
    """The real-data section: the project's trainer on ``source``, in a temporary run folder."""
    with tempfile.TemporaryDirectory(prefix="contrastlab-clusters-") as run_dir:
        return real_data_preservation(
            source,
            epochs=settings.data_epochs,
            samples=settings.data_samples,
            views=settings.data_views,
            seed=settings.seed,
            run_dir=run_dir,
        )


@dataclass(frozen=True)
class Computed:
    """The numbers of one run.

    Attributes:
        points: one dict per grid point and seed (seed, ratio, capacity, negatives, m, t,
            losses and the measures of ``analysis.cluster_preservation``).
        untrained: per (seed, ratio, capacity), the measures of the encoder at its
            initialisation.
        real: the real-data section (``clusters_training.real_data_preservation``) or None.
    """

    points: list[dict[str, Any]]
    untrained: list[dict[str, Any]]
    real: dict[str, Any] | None


def compute(settings: Settings) -> Computed:
    """The grid, and the real-data section when ``data`` is set (one thread)."""
    with single_thread():
        points, untrained = _grid(settings)
        real = _real_data(settings, settings.data) if settings.data is not None else None
    return Computed(points, untrained, real)
