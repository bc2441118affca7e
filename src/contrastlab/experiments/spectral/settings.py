"""Settings of the ``spectral`` reproduction (``spectral.md``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contrastlab.errors import InputError
from contrastlab.experiments._common import kernel_specs
from contrastlab.settings import setting

__all__ = ["QUICK", "Settings", "check", "pq_label"]


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
    bipartite: bool = setting(True)
    bipartite_steps: int = setting(600, low=1)
    bipartite_batch: int = setting(512, low=1)


QUICK: Mapping[str, Any] = {"steps": 300, "seeds": 2, "bipartite_steps": 200}


def pq_label(p: float, q: float) -> str:
    """The name of one (p, q) setting in summaries and evidence keys: ``"p=1,q=0"``."""
    return f"p={p:g},q={q:g}"


def check(settings: Settings) -> None:
    """Cross-field checks: ``dim >= k``, ``pq`` pairs of probabilities, a Gaussian kernel, one
    kernel per name.

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
    names = [spec["name"] for spec in settings.kernels]
    if "gaussian" not in names:
        raise InputError("kernels: must include 'gaussian' (the claims are about it)")
    if len(set(names)) != len(names):
        raise InputError(f"kernels: at most one kernel of each name, got {names}")
