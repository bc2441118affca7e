"""Settings of the ``spectral`` reproduction (``spectral.md``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments._common import kernel_specs
from contrastlab.settings import setting

__all__ = ["QUICK", "Settings", "check", "pq_label", "usable_sizes"]


@dataclass(frozen=True)
class Settings:
    """What ``reproduce spectral`` runs: planted-partition graphs and free embeddings on them."""

    k: int = setting(5, low=2, doc="clusters (the paper's k and m could not be confirmed)")
    m: int = setting(40, low=2, doc="objects per cluster")
    pq: tuple[tuple[float, ...], ...] = setting(
        ((1.0, 0.0), (0.75, 0.2)), doc="(p inside, q across) settings, the paper's two"
    )
    kernels: tuple[dict[str, Any], ...] = setting(
        # the library's defaults: gaussian t = 0.4, laplacian t = 0.5, student_t nu = 5, s = 0.2,
        # kernel_sum = the paper's Simple Sum of these gaussian and laplacian in one softmax
        kernel_specs(("gaussian", "laplacian", "student_t", "kernel_sum")),
        normalise=kernel_specs,
        doc="kernel specs trained on each graph (must include a gaussian)",
    )
    dim: int | None = setting(None, low=1, doc="embedding dimension d; None: d = k")
    steps: int = setting(1000, low=1)
    lr: float = setting(0.05, above=0)
    log_every: int = setting(20, low=1)
    seeds: int = setting(3, low=1, doc="graphs (and starts) per setting")
    seed: int = setting(0, low=0)
    bipartite: bool = setting(True, doc="full-batch CLIP on bipartite planted partitions (pq)")
    bipartite_steps: int = setting(600, low=1)
    regime_seeds: int = setting(3, low=1, doc="graphs per point of the sweep, mini-batch, CLIP")
    regime_p: float = setting(0.5, above=0, high=1, doc="p of the regime sweep (q = ratio * p)")
    regime_ratios: tuple[float, ...] = setting(
        (0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8), low=0, doc="q / p, easy towards detection"
    )
    regime_kernels: tuple[dict[str, Any], ...] = setting(
        kernel_specs(("gaussian", "laplacian", "student_t", "kernel_sum")),
        normalise=kernel_specs,
        doc="kernels trained at each sweep point (must include a gaussian)",
    )
    regime_steps: int = setting(500, low=1)
    minibatch_pq: tuple[float, ...] = setting((0.75, 0.2), doc="(p, q) of the mini-batch part")
    minibatch_sizes: tuple[int, ...] = setting(
        (4, 8, 16, 32, 64, 128), low=2, doc="anchors per step; () skips the part"
    )
    minibatch_steps: int = setting(1000, low=1)


QUICK: Mapping[str, Any] = {
    "steps": 300,
    "seeds": 2,
    "bipartite_steps": 200,
    "regime_ratios": [0.3, 0.5, 0.6, 0.7],
    "regime_kernels": ["gaussian"],
    "regime_steps": 200,
    "minibatch_sizes": [4, 16, 64],
    "minibatch_steps": 300,
}


def pq_label(p: float, q: float) -> str:
    """The name of one (p, q) setting in summaries and evidence keys: ``"p=1,q=0"``."""
    return f"p={p:g},q={q:g}"


def check(settings: Settings) -> None:
    """Cross-field checks: ``dim >= k``, ``pq`` pairs of probabilities, a Gaussian kernel and one
    kernel per name in ``kernels`` and ``regime_kernels``, sweep q's probabilities, mini-batch
    sizes: at least one at most ``k m`` when any is given.

    Raises:
        InputError: naming the key.
    """
    if settings.dim is not None and settings.dim < settings.k:
        raise InputError(f"dim: must be >= k = {settings.k}, got {settings.dim}")
    if not settings.pq or any(len(pair) != 2 for pair in settings.pq):
        raise InputError(f"pq: expected a list of [p, q] pairs, got {list(settings.pq)!r}")
    for p, q in settings.pq:
        if not (0 <= p <= 1 and 0 <= q <= 1):
            raise InputError(f"pq: p and q must be probabilities in [0, 1], got ({p}, {q})")
    for key in ("kernels", "regime_kernels"):
        names = [spec["name"] for spec in getattr(settings, key)]
        if "gaussian" not in names:
            raise InputError(f"{key}: must include 'gaussian' (the claims are about it)")
        if len(set(names)) != len(names):
            raise InputError(f"{key}: at most one kernel of each name, got {names}")
    if any(settings.regime_p * r > 1 for r in settings.regime_ratios):
        raise InputError(
            f"regime_ratios: q = ratio * regime_p must be a probability, got regime_p = "
            f"{settings.regime_p} and ratios {list(settings.regime_ratios)}"
        )
    if len(settings.minibatch_pq) != 2 or not all(0 <= v <= 1 for v in settings.minibatch_pq):
        raise InputError(f"minibatch_pq: expected [p, q] in [0, 1], got {settings.minibatch_pq}")
    n = settings.k * settings.m
    if settings.minibatch_sizes and not usable_sizes(settings):
        raise InputError(
            f"minibatch_sizes: none is at most k * m = {n}, got {list(settings.minibatch_sizes)}"
        )


def usable_sizes(settings: Settings) -> list[int]:
    """The mini-batch sizes at most ``k m`` (larger ones are skipped, and the report says so)."""
    return [int(b) for b in settings.minibatch_sizes if b <= settings.k * settings.m]
