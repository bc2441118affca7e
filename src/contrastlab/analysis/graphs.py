"""Similarity graphs, their Laplacians, bottom eigenvectors and spectral clustering.

A graph is a symmetric, non-negative ``scipy.sparse`` CSR matrix ``pi`` (n x n, zero diagonal);
a two-modality graph is a bi-adjacency matrix ``B`` (n_a x n_b). ``pi_ij`` is read as how likely
objects ``i`` and ``j`` are produced as a positive pair (the augmentation graph of the spectral
view of contrastive learning).

- :func:`planted_partition`, :func:`bipartite_planted_partition`: the graph generators, from
  :mod:`contrastlab.data.graphs` (re-exported here).
- :func:`knn_graph`: symmetric k-nearest-neighbour graph of given data.
- :func:`augmentation_graph`: ``pi = M M^T`` (diagonal removed) from view probabilities ``M``.
- :func:`laplacian`: ``L = D - A`` or ``I - D^-1/2 A D^-1/2``.
- :func:`bottom_eigenvectors`: smallest eigenpairs by ``scipy.sparse.linalg.eigsh``.
- :func:`spectral_clustering`: k-means on the bottom eigenvectors (Ng-Jordan-Weiss for the
  normalised Laplacian); :func:`bipartite_spectral_embedding` for bi-adjacency matrices.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from contrastlab.data.graphs import bipartite_planted_partition, planted_partition
from contrastlab.errors import InputError, check_count

__all__ = [
    "augmentation_graph",
    "bipartite_planted_partition",
    "bipartite_spectral_embedding",
    "bottom_eigenvectors",
    "kmeans_labels",
    "knn_graph",
    "laplacian",
    "planted_partition",
    "spectral_clustering",
]

Array = NDArray[np.float64]
LaplacianKind = Literal["unnormalized", "symmetric"]


def knn_graph(
    X: Any, n_neighbors: int = 10, mode: Literal["connectivity", "distance"] = "connectivity"
) -> sp.csr_matrix:
    """Symmetric k-nearest-neighbour graph of the rows of ``X``: ``A = max(G, G^T)``.

    ``G`` is ``sklearn.neighbors.kneighbors_graph`` (each row's ``n_neighbors`` nearest other
    rows, Euclidean); ``mode="distance"`` keeps the distances as weights instead of 1.
    """
    from sklearn.neighbors import kneighbors_graph

    data = np.asarray(X.detach().cpu().numpy() if hasattr(X, "detach") else X, dtype=np.float64)
    if data.ndim != 2:
        raise InputError(f"X: expected a 2-D array (n, d), got shape {data.shape}")
    n_neighbors = check_count("n_neighbors", n_neighbors, 1)
    if n_neighbors >= data.shape[0]:
        raise InputError(
            f"n_neighbors: must be < number of rows {data.shape[0]}, got {n_neighbors}"
        )
    graph = kneighbors_graph(data, n_neighbors, mode=mode, include_self=False)
    return sp.csr_matrix(graph.maximum(graph.T))


def augmentation_graph(membership: Any) -> sp.csr_matrix:
    """Augmentation graph ``pi = M M^T`` with the diagonal removed.

    Args:
        membership: ``(n, v)`` non-negative; ``M[i, a]`` is the probability that object ``i``
            produces view ``a``. Then ``pi_ij = sum_a M[i, a] M[j, a]`` is the probability that
            ``i`` and ``j`` produce the same view, i.e. are drawn as a positive pair.
    """
    m = sp.csr_matrix(membership, dtype=np.float64)
    if m.nnz and (m.data < 0).any():
        raise InputError("membership: probabilities must be non-negative")
    pi = sp.csr_matrix(m @ m.T)
    pi.setdiag(0.0)
    pi.eliminate_zeros()
    return pi


def _square_graph(A: Any) -> sp.csr_matrix:
    graph = sp.csr_matrix(A, dtype=np.float64)
    if graph.shape[0] != graph.shape[1]:
        raise InputError(f"adjacency: expected a square matrix, got shape {graph.shape}")
    if graph.nnz and (graph.data < 0).any():
        raise InputError("adjacency: weights must be non-negative")
    if abs(graph - graph.T).max() > 1e-12 * max(abs(graph).max(), 1.0):
        raise InputError("adjacency: must be symmetric")
    return graph


def laplacian(A: Any, kind: LaplacianKind = "unnormalized") -> sp.csr_matrix:
    """Graph Laplacian of a symmetric non-negative adjacency ``A``.

    ``kind="unnormalized"``: ``L = D - A`` with ``D = diag(A 1)``; ``Z^T L Z`` is then
    ``(1/2) sum_ij A_ij ||z_i - z_j||^2``. ``kind="symmetric"``: ``I - D^-1/2 A D^-1/2``
    (isolated vertices get a 1 on the diagonal).
    """
    graph = _square_graph(A)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    if kind == "unnormalized":
        return sp.csr_matrix(sp.diags(degree) - graph)
    if kind == "symmetric":
        inv_sqrt = np.zeros_like(degree)
        inv_sqrt[degree > 0] = degree[degree > 0] ** -0.5
        scale = sp.diags(inv_sqrt)
        return sp.csr_matrix(sp.identity(graph.shape[0]) - scale @ graph @ scale)
    raise InputError(f"kind: must be 'unnormalized' or 'symmetric', got {kind!r}")


def bottom_eigenvectors(L: Any, k: int, seed: int | None = 0) -> tuple[Array, Array]:
    """The ``k`` smallest eigenvalues (ascending) and their eigenvectors ``(n, k)`` of a symmetric
    positive semi-definite ``L``.

    ``scipy.sparse.linalg.eigsh`` in shift-invert mode around ``sigma = -1e-3`` (``L - sigma I``
    is positive definite, so the factorisation is stable even with repeated zero eigenvalues of a
    disconnected graph). Within a repeated eigenvalue any orthonormal basis may be returned.
    Matrices too small for ``eigsh`` (``k >= n - 1``) use dense ``scipy.linalg.eigh``.
    """
    from scipy.linalg import eigh
    from scipy.sparse.linalg import eigsh

    matrix = sp.csr_matrix(L, dtype=np.float64)
    n = matrix.shape[0]
    if matrix.shape != (n, n):
        raise InputError(f"L: expected a square matrix, got shape {matrix.shape}")
    k = check_count("k", k, 1)
    if k > n:
        raise InputError(f"k: at most {n} eigenvectors of a {n} x {n} matrix, asked for {k}")
    if k >= n - 1:
        values, vectors = eigh(matrix.toarray(), subset_by_index=(0, k - 1))
        return values, vectors
    v0 = np.random.default_rng(seed).standard_normal(n)
    values, vectors = eigsh(matrix.tocsc(), k=k, sigma=-1e-3, which="LM", v0=v0)
    order = np.argsort(values)
    return values[order], vectors[:, order]


def kmeans_labels(features: Array, k: int, seed: int | None = 0) -> NDArray[np.int64]:
    """Cluster labels of the rows of ``features`` by ``sklearn.cluster.KMeans`` (10 starts)."""
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(features).astype(np.int64)


def spectral_clustering(
    A: Any, k: int, kind: LaplacianKind = "symmetric", seed: int | None = 0
) -> NDArray[np.int64]:
    """Spectral clustering: k-means on the bottom ``k`` eigenvectors of the Laplacian of ``A``.

    ``kind="symmetric"`` rows are normalised to unit length first (Ng, Jordan, Weiss 2002);
    ``kind="unnormalized"`` uses the eigenvectors as they are.

    Returns:
        cluster label of each vertex, ``(n,)``.
    """
    _, vectors = bottom_eigenvectors(laplacian(A, kind), k, seed=seed)
    if kind == "symmetric":
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.where(norms > 0, norms, 1.0)
    return kmeans_labels(vectors, k, seed)


def bipartite_spectral_embedding(
    B: Any, k: int, seed: int | None = 0
) -> tuple[Array, Array, Array]:
    """Top ``k`` singular triplets of the normalised bi-adjacency ``D_a^-1/2 B D_b^-1/2``.

    This is the spectral counterpart of CLIP on a bipartite graph: the left singular vectors
    embed the first modality, the right ones the second. The top pair (singular value 1 for a
    connected graph) is the trivial ``D^1/2 1`` direction.

    Returns:
        ``(singular_values, U (n_a, k), V (n_b, k))``, singular values descending.
    """
    from scipy.sparse.linalg import svds

    biadj = sp.csr_matrix(B, dtype=np.float64)
    if biadj.nnz and (biadj.data < 0).any():
        raise InputError("biadjacency: weights must be non-negative")
    k = check_count("k", k, 1)
    deg_a = np.asarray(biadj.sum(axis=1)).ravel()
    deg_b = np.asarray(biadj.sum(axis=0)).ravel()

    def inv_sqrt(d: Array) -> Array:
        out = np.zeros_like(d)
        out[d > 0] = d[d > 0] ** -0.5
        return out

    normalised = sp.diags(inv_sqrt(deg_a)) @ biadj @ sp.diags(inv_sqrt(deg_b))
    if k >= min(biadj.shape):
        u, s, vt = np.linalg.svd(normalised.toarray(), full_matrices=False)
        return s[:k], u[:, :k], vt[:k].T
    v0 = np.random.default_rng(seed).standard_normal(min(biadj.shape))
    u, s, vt = svds(normalised, k=k, v0=v0)
    order = np.argsort(s)[::-1]
    return s[order], u[:, order], vt[order].T
