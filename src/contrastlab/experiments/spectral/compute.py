"""The numbers of the ``spectral`` reproduction: graphs, trained embeddings, spectral baselines.

The identity checked (Tan, Zhang, Yang, Yuan, ICLR 2024): for a similarity graph ``pi`` with
row-stochastic ``P = D^-1 pi``, the full-batch InfoNCE with soft targets and the Gaussian kernel
``l_ij = -||z_i - z_j||^2 / t`` is

    H(Z) = sum_i [ -sum_j P_ij l_ij + log sum_{j != i} exp(l_ij) ]
         = (2 / t) trace(Z^T L(A) Z) + log R(Z),      A = (P + P^T) / 2,  L(A) = D_A - A.

The constant 2/t from the formulas: ``-sum_ij P_ij l_ij = (1/t) sum_ij P_ij ||z_i - z_j||^2
= (1/t) sum_ij A_ij ||z_i - z_j||^2`` (the distance is symmetric) ``= (2/t) trace(Z^T L Z)``.

:func:`compute` trains free embeddings with ``losses.soft_target_infonce`` for every kernel on
planted-partition graphs and compares them with the bottom eigenvectors of ``L(A)`` and with
spectral clustering; the regime sweep, the mini-batch part and full-batch CLIP on bipartite
graphs are in :mod:`.regimes`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from contrastlab import kernels
from contrastlab.analysis._threads import single_thread
from contrastlab.analysis.graphs import (
    bottom_eigenvectors,
    kmeans_labels,
    laplacian,
    spectral_clustering,
)
from contrastlab.analysis.subspaces import subspace_alignment
from contrastlab.data.graphs import planted_partition
from contrastlab.experiments._common import mean_sd, progress
from contrastlab.experiments.free_embedding import train_free_embedding
from contrastlab.experiments.spectral import regimes
from contrastlab.experiments.spectral.measures import (
    clustering_scores,
    nonconstant_bottom,
    targets,
)
from contrastlab.experiments.spectral.settings import Settings, pq_label
from contrastlab.specs import build_kernel

__all__ = ["Computed", "compute", "identity_terms"]

Array = NDArray[np.float64]


def identity_terms(Z: Array, P: Array, t: float) -> tuple[float, float]:
    """Right-hand side of the identity from the formulas, numpy float64 (independent of torch).

    Returns:
        ``(2/t) trace(Z^T L(A) Z)`` and
        ``log R = sum_i log sum_{j != i} exp(-||z_i - z_j||^2 / t)``.
    """
    A = (P + P.T) / 2.0
    L = np.diag(A.sum(axis=1)) - A
    trace = float(np.trace(Z.T @ L @ Z))
    diff = Z[:, None, :] - Z[None, :, :]
    logits = -np.einsum("ijk,ijk->ij", diff, diff) / t
    np.fill_diagonal(logits, -np.inf)
    return 2.0 / t * trace, float(logsumexp(logits, axis=1).sum())


def _identity_logger(
    P: Array, kernel: kernels.Gaussian, log: list[dict[str, float]]
) -> Callable[[int, Any, float], None]:
    """A training callback that appends the identity's relative residual at a step to ``log``."""

    def on_log(step: int, Z: Any, H: float) -> None:
        attraction, log_r = identity_terms(Z.numpy(), P, kernel.t)
        log.append({"step": step, "H": H, "residual": abs(H - attraction - log_r) / abs(H)})

    return on_log


def _one_graph(settings: Settings, p: float, q: float, seed: int, tick: Any) -> dict[str, Any]:
    """Spectral baselines and every kernel's trained embedding on one planted-partition graph."""
    k, dim = settings.k, settings.dim or settings.k
    adjacency, truth = planted_partition(k, settings.m, p, q, seed=seed)
    P = targets(adjacency)
    A = (P + P.T) / 2.0
    _, vectors = bottom_eigenvectors(laplacian(A), k, seed=seed)
    eig = nonconstant_bottom(vectors, k)
    row: dict[str, Any] = {
        "spectral_L": clustering_scores(kmeans_labels(vectors, k, seed), truth),
        "spectral_Lsym": clustering_scores(spectral_clustering(A, k, seed=seed), truth),
        "kernels": {},
    }
    for spec in settings.kernels:
        kernel = build_kernel(spec)
        trace_log: list[dict[str, float]] = []
        on_log = (
            _identity_logger(P, kernel, trace_log) if isinstance(kernel, kernels.Gaussian) else None
        )

        result = train_free_embedding(
            P,
            kernel,
            dim,
            steps=settings.steps,
            lr=settings.lr,
            seed=seed,
            log_every=settings.log_every,
            on_log=on_log,
        )
        Z = result.embedding
        align = subspace_alignment(Z - Z.mean(axis=0), eig)
        entry: dict[str, Any] = {
            "alignment": align.mean_squared_cosine,
            "captured_fraction": align.captured_fraction,
            **clustering_scores(kmeans_labels(Z, k, seed), truth),
            "final_loss": result.losses[-1],
            "loss_curve": result.losses[:: settings.log_every],
        }
        if trace_log:
            entry["identity_log"] = trace_log
        row["kernels"][spec["name"]] = entry
        tick()
    return row


def summarise(runs: list[dict[str, Any]], names: list[str]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every score of one (p, q) setting."""
    out: dict[str, Any] = {}
    for method in ("spectral_L", "spectral_Lsym"):
        for score in ("nmi", "ari"):
            out[f"{method}_{score}"] = mean_sd([r[method][score] for r in runs])
    for name in names:
        for score in ("alignment", "captured_fraction", "nmi", "ari"):
            out[f"{name}_{score}"] = mean_sd([r["kernels"][name][score] for r in runs])
    residuals = [e["residual"] for r in runs for e in r["kernels"]["gaussian"]["identity_log"]]
    out["max_residual"] = float(max(residuals))
    out["logged_steps"] = len(residuals)
    return out


@dataclass(frozen=True)
class Computed:
    """The numbers of one run of the experiment.

    Attributes:
        names: the kernels' names, in the order of the settings.
        runs: per (p, q) label, one row per graph (see ``_one_graph``).
        summary: per label, mean and sd over graphs of every score (:func:`summarise`).
        bipartite: per label, mean and sd of the full-batch CLIP scores (``regimes.clip_runs``;
            empty without ``bipartite``).
        sweep: the regime sweep (``regimes.regime_sweep``), one entry per q / p.
        minibatch: the mini-batch part (``regimes.minibatch_runs``).
    """

    names: list[str]
    runs: dict[str, list[dict[str, Any]]]
    summary: dict[str, dict[str, Any]]
    bipartite: dict[str, dict[str, Any]]
    sweep: list[dict[str, Any]]
    minibatch: dict[str, Any]


def compute(settings: Settings) -> Computed:
    """Every graph of every (p, q) setting and seed, trained and measured, then the regime
    sweep, the mini-batch part and full-batch CLIP (one thread)."""
    names = [spec["name"] for spec in settings.kernels]
    seeds = [settings.seed + i for i in range(settings.seeds)]
    runs: dict[str, list[dict[str, Any]]] = {}
    total = len(settings.pq) * len(seeds) * len(names) + regimes.sweep_work(settings)
    with single_thread(), progress(total, "spectral") as tick:
        for p, q in settings.pq:
            runs[pq_label(p, q)] = [_one_graph(settings, p, q, seed, tick) for seed in seeds]
        sweep = regimes.regime_sweep(settings, tick)
        minibatch = regimes.minibatch_runs(settings, tick)
        bipartite = regimes.clip_runs(settings, tick) if settings.bipartite else {}
    summary = {label: summarise(r, names) for label, r in runs.items()}
    return Computed(names, runs, summary, bipartite, sweep, minibatch)
