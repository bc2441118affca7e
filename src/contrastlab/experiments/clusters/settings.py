"""Settings of the ``clusters`` reproduction (``clusters.md``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments._common import kernel_specs
from contrastlab.settings import setting

__all__ = ["QUICK", "Settings", "check"]


def _grid_kernels(value: Any) -> tuple[dict[str, Any], ...]:
    return kernel_specs(value, key="grid_kernels")


@dataclass(frozen=True)
class Settings:
    """What ``reproduce clusters`` runs: a grid of encoders trained on intertwined clusters."""

    clusters: int = setting(4, low=2, doc="K")
    sets_per_cluster: int = setting(24, low=2, doc="M augmentation sets (sources) per cluster")
    radius: float = setting(1.0, above=0, doc="r")
    separation: float = setting(3.0, above=0, doc="between set j of two clusters; > 2 r")
    dim: int = setting(32, low=1, doc="ambient dimension D")
    ratios: tuple[float, ...] = setting(
        (0.1, 0.2, 0.3, 0.4, 0.5, 1.0, 2.0),
        above=0,
        doc="r / delta; sets overlap above 0.5, clusters interleave below radius / separation",
    )
    capacities: tuple[str, ...] = setting(
        ("linear", "mlp-32x1", "mlp-128x2", "mlp-256x3"), doc="growing capacity"
    )
    negatives: tuple[int | str, ...] = setting((1, 4, 16, 64, "all"), doc="m per anchor")
    grid_kernels: tuple[dict[str, Any], ...] = setting(
        _grid_kernels(("cosine:t=0.1", "cosine:t=0.5")),
        normalise=_grid_kernels,
        doc="the cosine kernel at each temperature of the grid",
    )
    out_dim: int = setting(16, low=1)
    steps: int = setting(300, low=1)
    rows: int = setting(128, low=1, doc="pairs per step")
    lr: float = setting(3e-3, above=0)
    views_per_source: int = setting(8, low=2, doc="evaluation draws per set (2 to measure a gap)")
    seed: int = setting(0, low=0, doc="the first seed")
    seeds: int = setting(3, low=1, doc="repetitions of the grid: seeds seed, seed + 1, ...")
    data: str | None = setting(None, doc="a trainer SRC for the real-data section")
    data_epochs: int = setting(15, low=1)
    data_samples: int = setting(300, low=3)
    data_views: int = setting(8, low=1)


QUICK: Mapping[str, Any] = {
    "ratios": [0.1, 0.3, 0.4, 0.5, 1.0],
    "capacities": ["linear", "mlp-32x1", "mlp-256x2"],
    "negatives": [1, 16, "all"],
    "grid_kernels": ["cosine:t=0.5"],
    "steps": 200,
    "data_epochs": 5,
    "data_samples": 200,
    "data_views": 4,
}


def temperatures(settings: Settings) -> list[float]:
    """The temperatures of the grid, one per grid kernel."""
    return [float(spec["t"]) for spec in settings.grid_kernels]


def check(settings: Settings) -> None:
    """Cross-field checks: non-empty lists, every m possible with ``clusters * sets_per_cluster``
    sources, every capacity a known class, cosine grid kernels at distinct temperatures, and the
    layout of every ratio built once (``separation > 2 radius``, ``dim >= M + K``).

    Raises:
        InputError: naming the key.
    """
    from contrastlab.data.intertwined import make_intertwined_clusters
    from contrastlab.experiments.clusters_training import negatives_per_anchor
    from contrastlab.models.encoders import build_encoder

    for key in ("ratios", "capacities", "negatives"):
        if not getattr(settings, key):
            raise InputError(f"{key}: expected a non-empty list, got []")
    for spec in settings.grid_kernels:
        if spec["name"] != "cosine":
            raise InputError(f"grid_kernels: the grid varies the cosine kernel, got {spec['name']}")
    if len(set(temperatures(settings))) != len(settings.grid_kernels):
        raise InputError(f"grid_kernels: one kernel per temperature, got {temperatures(settings)}")
    n_sources = settings.clusters * settings.sets_per_cluster
    for m in settings.negatives:
        negatives_per_anchor(m, n_sources)
    for capacity in settings.capacities:
        build_encoder(capacity, 2, 2)
    for ratio in settings.ratios:
        make_intertwined_clusters(
            settings.clusters,
            settings.sets_per_cluster,
            radius=settings.radius,
            spacing=settings.radius / ratio,
            separation=settings.separation,
            dim=settings.dim,
            seed=settings.seed,
        )
