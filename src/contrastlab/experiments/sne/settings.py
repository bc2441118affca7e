"""Settings of ``reproduce sne``: the sweep's kernels as specs, sizes, the checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contrastlab.experiments._kernel_settings import spec_list_normaliser, spec_normaliser
from contrastlab.settings import from_mapping, setting

#: The two kernels the sweep compares, by name: SimCLR's and t-SimCLR's.
SWEEP_NAMES = ("cosine", "student_t")


@dataclass(frozen=True)
class Settings:
    """What ``reproduce sne`` runs (defaults: the full run)."""

    data: str = setting("digits")
    dims: tuple[int, ...] = setting([2, 8, 32, 128], low=1, doc="projector output dimensions")
    sweep_kernels: tuple[dict[str, Any], ...] = setting(
        [{"name": "cosine", "t": 0.2}, {"name": "student_t", "nu": 5.0, "s": 1.0}],
        normalise=spec_list_normaliser("sweep_kernels"),
        doc="SimCLR's cosine and t-SimCLR's Student-t kernel, as specs",
    )
    epochs: int = setting(40, low=1)
    seeds: int = setting(4, low=1, doc="paired by seed; 4 leave 3 degrees of freedom")
    batch_size: int = setting(256, low=1)
    knn_k: int = setting(20, low=1)
    shift_blur: float = setting(0.8, low=0, doc="Gaussian blur sigma, pixels")
    shift_noise: float = setting(0.2, low=0, doc="additive noise sigma, [0, 1] scale")
    identity_batches: int = setting(5, low=1)
    identity_batch_pairs: int = setting(64, low=2)
    identity_dim: int = setting(16, low=1)
    map_epochs: int = setting(100, low=1, doc="per full phase of the map (embed2d's default)")
    map_kernel: dict[str, Any] = setting(
        {"name": "cauchy", "s": 1.0},
        normalise=spec_normaliser("map_kernel"),
        doc="the 2-D map's kernel (t-SimCNE: Cauchy), off the unit sphere",
    )
    tsne: bool = setting(True)
    tsne_iterations: int = setting(500, low=1)
    nu_values: tuple[float, ...] = setting(
        [1.0, 5.0, 10.0, 100.0], above=0, doc="Student-t nu of the tail sweep (1: Cauchy)"
    )
    nu_dim: int = setting(2, low=1, doc="the low feature dimension of the nu sweep")
    augment_noise: float = setting(
        0.3, above=0, doc="vector data, Gaussian-noise run: noise x each feature's spread"
    )
    augment_mixup: float = setting(
        0.5, above=0, below=1, doc="vector data, mixup run: largest share of the partner"
    )
    augment_data: str = setting(
        "digits",
        doc="vectors of the augmentation comparison: digits (64 pixels as a vector)"
        " or npz:PATH with 'features'",
    )
    toy_points: int = setting(200, low=10, doc="per Gaussian of the 2-D toy")
    toy_epochs: int = setting(60, low=1)
    toy_noise: float = setting(0.1, above=0, doc="toy augmentation: noise x coordinate spread")
    work_dir: str | None = setting(None, doc="where the run folders go (None: a temporary one)")


QUICK: Mapping[str, Any] = {
    "epochs": 15,
    "seeds": 1,
    "map_epochs": 20,
    "nu_values": [1.0, 5.0, 100.0],
    "toy_epochs": 30,
}


def as_settings(settings: Settings | Mapping[str, Any]) -> Settings:
    """``settings`` itself, or the :class:`Settings` of a plain mapping (the runner's old form)."""
    return settings if isinstance(settings, Settings) else from_mapping(Settings, settings)
