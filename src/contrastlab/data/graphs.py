"""Random graph generators: planted partitions (one modality and bipartite).

A graph is a symmetric, non-negative ``scipy.sparse`` CSR matrix (n x n, zero diagonal); a
two-modality graph is a bi-adjacency matrix ``B`` (n_a x n_b). The analysis of graphs
(Laplacians, eigenvectors, spectral clustering) is :mod:`contrastlab.analysis.graphs`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from contrastlab.errors import InputError, check_count

__all__ = ["bipartite_planted_partition", "planted_partition"]


def _check_probability(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and 0.0 <= float(value) <= 1.0):
        raise InputError(f"{name}: must be a probability in [0, 1], got {value!r}")
    return float(value)


def planted_partition(
    k: int, m: int, p: float, q: float, seed: int | None = 0
) -> tuple[sp.csr_matrix, NDArray[np.int64]]:
    """Random graph with ``k`` planted clusters of ``m`` objects each.

    Each unordered pair ``i < j`` is an edge (weight 1) independently with probability ``p`` when
    both are in the same cluster, ``q`` otherwise. ``(p, q) = (1, 0)`` gives ``k`` disjoint cliques.

    Returns:
        ``(adjacency, labels)``: symmetric 0/1 CSR matrix ``(k m, k m)`` with zero diagonal, and
        the cluster of each object (``labels[i] = i // m``).
    """
    k, m = check_count("k", k, 1), check_count("m", m, 2)
    p, q = _check_probability("p", p), _check_probability("q", q)
    labels = np.repeat(np.arange(k), m)
    rng = np.random.default_rng(seed)
    same = labels[:, None] == labels[None, :]
    upper = np.triu(rng.random((k * m, k * m)) < np.where(same, p, q), 1)
    adjacency = sp.csr_matrix((upper | upper.T).astype(np.float64))
    return adjacency, labels


def bipartite_planted_partition(
    k: int, m_a: int, m_b: int, p: float, q: float, seed: int | None = 0
) -> tuple[sp.csr_matrix, NDArray[np.int64], NDArray[np.int64]]:
    """Bipartite planted partition: ``k`` clusters with ``m_a`` objects of one modality and
    ``m_b`` of the other each; an edge ``(i, j)`` joins object ``i`` of the first modality and
    ``j`` of the second with probability ``p`` in the same cluster, ``q`` across.

    Returns:
        ``(biadjacency, labels_a, labels_b)``: 0/1 CSR matrix ``(k m_a, k m_b)`` and the clusters.
    """
    k = check_count("k", k, 1)
    m_a, m_b = check_count("m_a", m_a, 1), check_count("m_b", m_b, 1)
    p, q = _check_probability("p", p), _check_probability("q", q)
    labels_a, labels_b = np.repeat(np.arange(k), m_a), np.repeat(np.arange(k), m_b)
    rng = np.random.default_rng(seed)
    same = labels_a[:, None] == labels_b[None, :]
    edges = rng.random(same.shape) < np.where(same, p, q)
    return sp.csr_matrix(edges.astype(np.float64)), labels_a, labels_b
