"""Settings of the ``gmm`` reproduction (``gmm.md``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contrastlab.errors import InputError
from contrastlab.settings import setting
from contrastlab.specs import kernel_spec

__all__ = ["KERNEL_NAMES", "QUICK", "Settings", "check"]

#: The similarities of the claim: cosine, or the unnormalised inner product ``<Ax, Ax'> / t``.
KERNEL_NAMES = ("cosine", "inner_product")


def _kernel(value: Any) -> dict[str, Any]:
    try:
        spec = kernel_spec(value)
    except (TypeError, ValueError) as err:
        raise InputError(f"kernel: {err}") from err
    if spec["name"] not in KERNEL_NAMES:
        raise InputError(f"kernel: must be one of {', '.join(KERNEL_NAMES)}, got {spec['name']!r}")
    return spec


@dataclass(frozen=True)
class Settings:
    """What ``reproduce gmm`` runs: linear InfoNCE and CLIP encoders on Gaussian mixtures."""

    k: int = setting(4, low=2, doc="components; F has dimension k - 1")
    dim: int = setting(20, low=1, doc="ambient dimension D at the base point")
    separation: float = setting(4.0, above=0, doc="Mahalanobis distance between any two means")
    anisotropy: float = setting(100.0, above=0, doc="variance ratio of the class-free directions")
    n_large: int | None = setting(None, low=0, doc="high-variance directions (None: k - 1)")
    rank: int | None = setting(None, low=1, doc="encoder output dimension r (None: k - 1)")
    kernel: dict[str, Any] = setting(
        kernel_spec("cosine:t=0.2"), normalise=_kernel, doc="cosine or inner_product, with t"
    )
    steps: int = setting(400, low=1)
    batch_size: int = setting(256, low=2, doc="InfoNCE needs at least 2 pairs per batch")
    lr: float = setting(0.02, above=0)
    n_fit: int = setting(4000, low=1, doc="population regime: LDA and PCA are fitted on these")
    n_eval: int = setting(1000, low=1, doc="held-out sample: nearest centroids and k-means NMI")
    seeds: int = setting(5, low=1)
    seed: int = setting(0, low=0)
    sweep_anisotropy: tuple[float, ...] = setting((1.0, 3.0, 10.0, 30.0, 100.0), above=0)
    sweep_dim: tuple[int, ...] = setting((10, 20, 50, 100), low=1)
    sweep_noise: tuple[float, ...] = setting((0.0, 0.2, 0.4, 0.6), low=0, high=1)
    coupling_angle: float = setting(
        60.0,
        low=0,
        high=90,
        doc="degrees: the coupled point (Fisher != mean span) and samples sweep",
    )
    sweep_coupling: tuple[float, ...] = setting(
        (0.0, 15.0, 30.0, 45.0, 60.0, 75.0), low=0, high=90, doc="degrees, at the base anisotropy"
    )
    sweep_samples: tuple[int, ...] = setting(
        (50, 200, 1000, 5000), low=1, doc="finite regime, at the coupled point"
    )
    clip_dims: tuple[int, ...] = setting((20, 30), low=1, doc="(D_a, D_b)")
    clip_noise: tuple[float, ...] = setting((0.0, 0.3), low=0, high=1, doc="the claim's points")
    clip_anisotropy_diagnostic: tuple[float, ...] = setting(
        (1.0, 10.0), above=0, doc="extra CLIP points (noise 0), not in the rule"
    )
    clip_whiten: bool = setting(True, doc="precondition each modality (see compute._clip_point)")
    real_width: int = setting(128, low=0, doc="digits: frozen random ReLU features (0: pixels)")
    real_steps: int = setting(500, low=0, doc="digits: InfoNCE steps (0: no real-data part)")


QUICK: Mapping[str, Any] = {
    "seeds": 3,
    "steps": 250,
    "batch_size": 128,
    "sweep_anisotropy": [1.0, 10.0, 100.0],
    "sweep_dim": [10, 20, 50],
    "sweep_noise": [0.0, 0.3, 0.6],
    "sweep_coupling": [0.0, 30.0, 60.0],
    "sweep_samples": [100, 1000],
    "real_steps": 300,
    "clip_noise": [0.0, 0.3],
    "clip_anisotropy_diagnostic": [1.0],
}


def check(settings: Settings) -> None:
    """Cross-field checks: ``rank <= dim``, two CLIP dimensions, samples >= 2k, and a mixture of
    every distinct sweep shape built once (bad sizes fail here, before any training).

    Raises:
        InputError: naming the key.
    """
    from contrastlab.data.gmm import make_gmm

    k = settings.k
    if settings.rank is not None and settings.rank > settings.dim:
        raise InputError(f"rank: must be in [1, dim], got {settings.rank!r}")
    if len(settings.clip_dims) != 2:
        raise InputError(f"clip_dims: expected [D_a, D_b], got {list(settings.clip_dims)!r}")
    for n in settings.sweep_samples:
        if n < 2 * k:
            raise InputError(f"sweep_samples: each sample count must be >= 2k = {2 * k}, got {n}")
    shapes = {(a, settings.dim, 0.0) for a in settings.sweep_anisotropy}
    shapes |= {(settings.anisotropy, d, 0.0) for d in (settings.dim, *settings.sweep_dim)}
    couplings = (settings.coupling_angle, *settings.sweep_coupling)
    shapes |= {(settings.anisotropy, settings.dim, float(c)) for c in couplings}
    for anisotropy, dim, coupling in sorted(shapes):
        make_gmm(
            k,
            dim,
            settings.separation,
            anisotropy,
            n_large=settings.n_large,
            seed=0,
            coupling=coupling,
        )
