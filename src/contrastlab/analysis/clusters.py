"""Cluster preservation: does a representation keep underlying clusters together?

The project's operational version of Parulekar et al. (COLT 2023), ``clusters.md``: the paper's
formal constants could not be confirmed, so these measurements stand in for them. On
L2-normalised embeddings, with ``cluster`` the cluster id of each row and ``source`` the
original sample (augmentation set) it came from:

- ``within_between``: mean squared distance within clusters over mean squared distance between
  clusters (pairs of distinct rows; 0 = every cluster collapsed to a point);
- ``intertwining_gap``: mean distance between rows of the same cluster but different sources
  over the mean distance between distinct rows of the same source (near 1: the
  representation cannot tell a cluster's augmentation sets apart; much larger: it memorises
  sources; ``inf`` when every source collapsed to a point);
- ``margin``: smallest between-cluster distance minus largest within-cluster distance (> 0: one
  distance threshold separates the clusters exactly);
- ``kmeans_nmi``, ``kmeans_ari``: k-means (K = number of clusters, 10 restarts, seed 0) against
  ``cluster``;
- ``centroid_accuracy``: each row assigned to the nearest cluster mean (in-sample).

Squared-distance means use the closed form ``sum_{A x B} |a - b|^2 = |B| S_A + |A| S_B -
2 <s_A, s_B>``; the plain-distance statistics come from one blockwise pass over all pairs, with
O(N * block) memory.

Example:
    >>> import numpy as np
    >>> X = np.repeat(np.eye(3), 4, axis=0) + 1e-3 * np.arange(12)[:, None]
    >>> m = cluster_preservation(X, np.repeat([0, 1, 2], 4))
    >>> m["margin"] > 0, m["kmeans_nmi"]
    (True, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from contrastlab.analysis._inputs import check_features, check_labels, l2_normalise
from contrastlab.errors import InputError

__all__ = ["cluster_preservation"]

_BLOCK = 1024


def _mean_squared_distances(Z: np.ndarray, codes: np.ndarray, k: int) -> tuple[float, float]:
    """Mean squared distance over within-cluster pairs and over between-cluster pairs."""
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    sq = (Z * Z).sum(axis=1)
    sq_sum = np.bincount(codes, weights=sq, minlength=k)
    sums = np.zeros((k, Z.shape[1]))
    np.add.at(sums, codes, Z)
    # ordered pairs (i, j) of clusters a, b: |b| S_a + |a| S_b - 2 <s_a, s_b>
    pair = counts[None, :] * sq_sum[:, None] + counts[:, None] * sq_sum[None, :] - 2 * sums @ sums.T
    within_total = float(np.trace(pair))  # includes i == j pairs, which add 0
    within_pairs = float((counts * (counts - 1)).sum())
    between_total = float(pair.sum()) - within_total
    between_pairs = float(counts.sum() ** 2 - (counts**2).sum())
    within = within_total / within_pairs if within_pairs else float("nan")
    between = between_total / between_pairs if between_pairs else float("nan")
    return within, between


def _pair_statistics(
    Z: np.ndarray, cluster: np.ndarray, source: np.ndarray | None
) -> dict[str, float]:
    """One pass over all ordered pairs of distinct rows, in row blocks."""
    X = torch.from_numpy(Z)
    c = torch.from_numpy(cluster)
    s = torch.from_numpy(source) if source is not None else None
    n = X.shape[0]
    min_between, max_within = np.inf, -np.inf
    same_source_sum = same_source_count = 0.0
    cross_source_sum = cross_source_count = 0.0
    with torch.no_grad():
        for start in range(0, n, _BLOCK):
            rows = slice(start, min(start + _BLOCK, n))
            d = torch.cdist(X[rows], X)
            not_self = torch.ones_like(d, dtype=torch.bool)
            not_self[torch.arange(d.shape[0]), torch.arange(rows.start, rows.stop)] = False
            same_cluster = c[rows].view(-1, 1) == c.view(1, -1)
            within = same_cluster & not_self
            between = ~same_cluster
            if between.any():
                min_between = min(min_between, float(d[between].min()))
            if within.any():
                max_within = max(max_within, float(d[within].max()))
            if s is not None:
                same_source = (s[rows].view(-1, 1) == s.view(1, -1)) & not_self
                cross = within & ~same_source
                same_source_sum += float(d[same_source].sum())
                same_source_count += float(same_source.sum())
                cross_source_sum += float(d[cross].sum())
                cross_source_count += float(cross.sum())
    out = {"margin": float(min_between - max_within)}
    if s is not None:
        if not same_source_count or not cross_source_count:
            raise InputError(
                "source needs some sources with 2+ rows and some clusters with 2+ sources"
            )
        same_mean = same_source_sum / same_source_count
        cross_mean = cross_source_sum / cross_source_count
        out["same_source_distance"] = same_mean
        out["cross_source_distance"] = cross_mean
        out["intertwining_gap"] = cross_mean / same_mean if same_mean > 0 else float("inf")
    return out


def cluster_preservation(
    X: Any, cluster: Any, source: Any = None, *, seed: int = 0
) -> dict[str, float]:
    """Cluster-preservation measurements of embeddings (see the module docstring).

    Args:
        X: embeddings (N, D), N >= 3.
        cluster: cluster id per row (at least 2 clusters, and one with 2+ rows).
        source: optional id of the original sample each row was made from; enables
            ``intertwining_gap``.
        seed: k-means seed.

    Returns:
        ``within_between``, ``margin``, ``kmeans_nmi``, ``kmeans_ari``, ``centroid_accuracy``,
        and with ``source`` also ``intertwining_gap``, ``same_source_distance``,
        ``cross_source_distance``.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    features = check_features(X, "X", min_rows=3)
    codes, classes = check_labels(cluster, features.shape[0], "cluster")
    src = check_labels(source, features.shape[0], "source")[0] if source is not None else None
    k = len(classes)
    if k < 2 or k >= features.shape[0]:
        raise InputError(
            f"cluster needs 2 <= clusters < rows, got {k} for {features.shape[0]} rows"
        )
    Z = l2_normalise(features.astype(np.float64))
    within, between = _mean_squared_distances(Z, codes, k)
    if np.isnan(within):
        raise InputError("cluster needs at least one cluster with 2 or more rows")
    out: dict[str, float] = {"within_between": within / between}
    out.update(_pair_statistics(Z, codes, src))
    predicted = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(Z)
    out["kmeans_nmi"] = float(normalized_mutual_info_score(codes, predicted))
    out["kmeans_ari"] = float(adjusted_rand_score(codes, predicted))
    centroids = np.zeros((k, Z.shape[1]))
    np.add.at(centroids, codes, Z)
    centroids /= np.bincount(codes, minlength=k)[:, None]
    # |z - c|^2 up to the row's own |z|^2, which does not change the argmin
    nearest = ((centroids**2).sum(axis=1)[None, :] - 2.0 * Z @ centroids.T).argmin(axis=1)
    out["centroid_accuracy"] = float(np.mean(nearest == codes))
    return out
