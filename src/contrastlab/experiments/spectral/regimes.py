"""The spectral experiment beyond the easy graphs: a regime sweep, mini-batches, full-batch CLIP.

- **Regime sweep** (:func:`regime_sweep`): planted partitions with ``p = regime_p`` and
  ``q = ratio * p`` for each ``ratio`` of ``regime_ratios``, from easy towards the detection
  threshold; per point and seed, spectral clustering's NMI (k-means on the bottom k
  eigenvectors of ``L(A)``; Ng-Jordan-Weiss for reference), and for each sweep kernel the NMI
  of k-means on its full-batch InfoNCE embedding and its alignment with the non-constant bottom
  eigenvectors. For reference, the Kesten-Stigum threshold of the stochastic block model
  (:func:`detection_threshold`), below which no method can detect the clusters as ``n`` grows.
- **Mini-batches** (:func:`minibatch_runs`): on graphs at ``minibatch_pq``, the Gaussian
  full-batch solution (``steps`` steps) against mini-batch InfoNCE solutions
  (``trainers.train_minibatch_embedding``, ``minibatch_steps`` steps for every batch size, so
  a small batch also sees fewer pairs) for each size of ``minibatch_sizes``.
- **CLIP** (:func:`clip_runs`): full-batch CLIP with soft targets (``trainers.soft_target_clip``,
  no sampled pairs) on bipartite planted partitions at each ``pq``, against the SVD of the
  normalised bi-adjacency.

Seeds ``seed, ..., seed + regime_seeds - 1`` (graph and start), one thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from contrastlab.analysis.graphs import (
    bipartite_spectral_embedding,
    bottom_eigenvectors,
    kmeans_labels,
    laplacian,
    spectral_clustering,
)
from contrastlab.analysis.subspaces import subspace_alignment
from contrastlab.data.graphs import bipartite_planted_partition, planted_partition
from contrastlab.experiments._common import mean_sd
from contrastlab.experiments.free_embedding import train_free_embedding
from contrastlab.experiments.spectral.measures import (
    clustering_scores,
    nonconstant_bottom,
    targets,
)
from contrastlab.experiments.spectral.settings import Settings, pq_label, usable_sizes
from contrastlab.experiments.spectral.trainers import (
    train_full_batch_clip,
    train_minibatch_embedding,
)
from contrastlab.specs import build_kernel

__all__ = [
    "clip_runs",
    "detection_threshold",
    "minibatch_runs",
    "regime_seeds",
    "regime_sweep",
    "sweep_work",
]

Array = np.ndarray
Tick = Callable[[], None]


def detection_threshold(k: int, m: int, p: float) -> float:
    """The ratio ``q / p`` at the Kesten-Stigum threshold of ``k`` equal blocks of ``m``.

    With ``n = k m``, ``a = n p`` and ``b = n q``, clusters are detectable (asymptotically, in
    the sparse limit) when ``(a - b)^2 > k (a + (k - 1) b)``. With ``c = q / p`` and
    ``s = k / (n p)`` this is ``c^2 - (2 + s (k - 1)) c + 1 - s > 0``; the threshold is the
    smaller root (0 when ``s >= 1``: undetectable at any ``q``).
    """
    s = k / (k * m * p)
    if s >= 1:
        return 0.0
    b = 2.0 + s * (k - 1)
    return (b - math.sqrt(b * b - 4.0 * (1.0 - s))) / 2.0


def regime_seeds(settings: Settings) -> list[int]:
    """``seed, seed + 1, ..., seed + regime_seeds - 1``."""
    return [settings.seed + i for i in range(settings.regime_seeds)]


def sweep_work(settings: Settings) -> int:
    """Progress units of the three parts (one per trained embedding)."""
    seeds = settings.regime_seeds
    units = len(settings.regime_ratios) * seeds * len(settings.regime_kernels)
    units += seeds * (1 + len(usable_sizes(settings)))
    return units + (len(settings.pq) * seeds if settings.bipartite else 0)


def _graph(settings: Settings, p: float, q: float, seed: int) -> dict[str, Any]:
    """A planted partition, its targets ``P``, ``A``, the non-constant bottom eigenvectors."""
    adjacency, truth = planted_partition(settings.k, settings.m, p, q, seed=seed)
    P = targets(adjacency)
    A = (P + P.T) / 2.0
    _, vectors = bottom_eigenvectors(laplacian(A), settings.k, seed=seed)
    return {
        "P": P,
        "A": A,
        "truth": truth,
        "vectors": vectors,
        "eig": nonconstant_bottom(vectors, settings.k),
    }


def _alignment(Z: Array, basis: Array) -> float:
    return subspace_alignment(Z - Z.mean(axis=0), basis).mean_squared_cosine


def _sweep_point(settings: Settings, ratio: float, seed: int, tick: Tick) -> dict[str, Any]:
    k, dim = settings.k, settings.dim or settings.k
    g = _graph(settings, settings.regime_p, ratio * settings.regime_p, seed)
    row: dict[str, Any] = {
        "seed": seed,
        "spectral_nmi": clustering_scores(kmeans_labels(g["vectors"], k, seed), g["truth"])["nmi"],
        "spectral_lsym_nmi": clustering_scores(
            spectral_clustering(g["A"], k, seed=seed), g["truth"]
        )["nmi"],
    }
    for spec in settings.regime_kernels:
        Z = train_free_embedding(
            g["P"], build_kernel(spec), dim, steps=settings.regime_steps, lr=settings.lr,
            seed=seed, log_every=settings.regime_steps + 1,
        ).embedding  # fmt: skip
        row[f"{spec['name']}_nmi"] = clustering_scores(kmeans_labels(Z, k, seed), g["truth"])["nmi"]
        row[f"{spec['name']}_alignment"] = _alignment(Z, g["eig"])
        tick()
    return row


def regime_sweep(settings: Settings, tick: Tick) -> list[dict[str, Any]]:
    """One entry per ratio: ``ratio``, ``p``, ``q``, ``runs`` (one row per seed) and the mean
    and sd over seeds of every score, plus ``nmi_gap`` (Gaussian InfoNCE minus spectral, paired
    per seed)."""
    out = []
    names = [spec["name"] for spec in settings.regime_kernels]
    for ratio in settings.regime_ratios:
        runs = [_sweep_point(settings, ratio, seed, tick) for seed in regime_seeds(settings)]
        entry: dict[str, Any] = {
            "ratio": float(ratio),
            "p": settings.regime_p,
            "q": ratio * settings.regime_p,
            "seeds": len(runs),
            "runs": runs,
        }
        keys = ["spectral_nmi", "spectral_lsym_nmi"]
        keys += [f"{n}_{score}" for n in names for score in ("nmi", "alignment")]
        for key in keys:
            entry[key] = mean_sd([r[key] for r in runs])
        entry["nmi_gap"] = mean_sd([r["gaussian_nmi"] - r["spectral_nmi"] for r in runs])
        out.append(entry)
    return out


def _minibatch_seed(settings: Settings, seed: int, tick: Tick) -> dict[str, Any]:
    p, q = settings.minibatch_pq
    g = _graph(settings, p, q, seed)
    k, dim = settings.k, settings.dim or settings.k
    kernel = build_kernel(next(s for s in settings.kernels if s["name"] == "gaussian"))
    full = train_free_embedding(
        g["P"], kernel, dim, steps=settings.steps, lr=settings.lr, seed=seed,
        log_every=settings.steps + 1,
    ).embedding  # fmt: skip
    tick()
    full_basis = full - full.mean(axis=0)
    row: dict[str, Any] = {"seed": seed, "full_alignment_spectral": _alignment(full, g["eig"])}
    for batch in usable_sizes(settings):
        Z = train_minibatch_embedding(
            g["P"], kernel, dim, batch, settings.minibatch_steps, lr=settings.lr, seed=seed
        ).embedding
        row[f"alignment_full@{batch}"] = _alignment(Z, full_basis)
        row[f"alignment_spectral@{batch}"] = _alignment(Z, g["eig"])
        row[f"nmi@{batch}"] = clustering_scores(kmeans_labels(Z, k, seed), g["truth"])["nmi"]
        tick()
    return row


def minibatch_runs(settings: Settings, tick: Tick) -> dict[str, Any]:
    """Per batch size, mean and sd over seeds of the alignment with the full-batch solution
    (``alignment_full``), with the spectral subspace, and the NMI; the rows per seed."""
    runs = [_minibatch_seed(settings, seed, tick) for seed in regime_seeds(settings)]
    sizes = usable_sizes(settings)
    out: dict[str, Any] = {"sizes": sizes, "pq": list(settings.minibatch_pq), "runs": runs}
    out["skipped_sizes"] = [int(b) for b in settings.minibatch_sizes if b not in sizes]
    out["seeds"] = len(runs)
    out["full_alignment_spectral"] = mean_sd([r["full_alignment_spectral"] for r in runs])
    for key in ("alignment_full", "alignment_spectral", "nmi"):
        out[key] = [mean_sd([r[f"{key}@{b}"] for r in runs]) for b in sizes]
    return out


def _nonconstant(embedding: Array, degree: Array, k: int) -> Array:
    """The random-walk form ``D^-1/2 U`` of singular vectors, constant direction removed."""
    return nonconstant_bottom(embedding / np.sqrt(degree)[:, None], k)


def _clip_seed(settings: Settings, p: float, q: float, seed: int) -> dict[str, float]:
    k, m, dim = settings.k, settings.m, settings.dim or settings.k
    biadj, labels_a, labels_b = bipartite_planted_partition(k, m, m, p, q, seed=seed)
    kernel = build_kernel(next(s for s in settings.kernels if s["name"] == "gaussian"))
    res = train_full_batch_clip(biadj, kernel, dim, settings.bipartite_steps, settings.lr, seed)
    _, U, V = bipartite_spectral_embedding(biadj, k, seed=seed)
    basis_a = _nonconstant(U, np.asarray(biadj.sum(axis=1)).ravel(), k)
    basis_b = _nonconstant(V, np.asarray(biadj.sum(axis=0)).ravel(), k)
    truth = np.concatenate([labels_a, labels_b])
    spectral = np.vstack([U, V])
    spectral /= np.maximum(np.linalg.norm(spectral, axis=1, keepdims=True), 1e-300)
    joint = np.vstack([res.embedding_a, res.embedding_b])
    return {
        "alignment_a": _alignment(res.embedding_a, basis_a),
        "alignment_b": _alignment(res.embedding_b, basis_b),
        "clip_nmi": clustering_scores(kmeans_labels(joint, k, seed), truth)["nmi"],
        "clip_nmi_a": clustering_scores(kmeans_labels(res.embedding_a, k, seed), labels_a)["nmi"],
        "clip_nmi_b": clustering_scores(kmeans_labels(res.embedding_b, k, seed), labels_b)["nmi"],
        "spectral_nmi": clustering_scores(kmeans_labels(spectral, k, seed), truth)["nmi"],
    }


def clip_runs(settings: Settings, tick: Tick) -> dict[str, dict[str, Any]]:
    """Per ``pq`` label: mean and sd over seeds of both alignments and both NMIs, and ``seeds``."""
    out: dict[str, dict[str, Any]] = {}
    for p, q in settings.pq:
        rows = []
        for seed in regime_seeds(settings):
            rows.append(_clip_seed(settings, p, q, seed))
            tick()
        entry: dict[str, Any] = {key: mean_sd([r[key] for r in rows]) for key in rows[0]}
        entry["seeds"] = len(rows)
        out[pq_label(p, q)] = entry
    return out
