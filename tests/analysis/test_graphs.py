"""Similarity graphs, Laplacians and spectral clustering, checked against networkx and numpy."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import normalized_mutual_info_score

from contrastlab import analysis
from contrastlab.analysis.graphs import augmentation_graph, bipartite_spectral_embedding
from contrastlab.errors import InputError


def _random_weighted_graph(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    W = rng.random((n, n)) * (rng.random((n, n)) < 0.4)
    W = np.triu(W, 1)
    return W + W.T


def test_planted_partition_structure():
    A, labels = analysis.planted_partition(3, 4, p=1.0, q=0.0, seed=0)
    dense = A.toarray()
    expected = (labels[:, None] == labels[None, :]).astype(float) - np.eye(12)
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], 4))


def test_planted_partition_densities_and_seed():
    A, labels = analysis.planted_partition(4, 50, p=0.6, q=0.1, seed=1)
    dense = A.toarray()
    assert (dense == dense.T).all() and (np.diag(dense) == 0).all()
    same = labels[:, None] == labels[None, :]
    off = ~np.eye(200, dtype=bool)
    assert dense[same & off].mean() == pytest.approx(0.6, abs=0.03)
    assert dense[~same].mean() == pytest.approx(0.1, abs=0.01)
    again, _ = analysis.planted_partition(4, 50, p=0.6, q=0.1, seed=1)
    assert (again != A).nnz == 0


def test_bipartite_planted_partition():
    B, la, lb = analysis.bipartite_planted_partition(2, 3, 5, p=1.0, q=0.0, seed=0)
    assert B.shape == (6, 10)
    np.testing.assert_array_equal(B.toarray(), (la[:, None] == lb[None, :]).astype(float))


@pytest.mark.parametrize("kind", ["unnormalized", "symmetric"])
def test_laplacian_matches_networkx(kind):
    W = _random_weighted_graph(15, seed=2)
    graph = nx.from_numpy_array(W)
    if kind == "unnormalized":
        expected = nx.laplacian_matrix(graph, nodelist=range(15)).toarray()
    else:
        expected = nx.normalized_laplacian_matrix(graph, nodelist=range(15)).toarray()
    np.testing.assert_allclose(analysis.laplacian(W, kind).toarray(), expected, atol=1e-12)


def test_laplacian_quadratic_form():
    W = _random_weighted_graph(10, seed=3)
    Z = np.random.default_rng(3).standard_normal((10, 2))
    L = analysis.laplacian(W).toarray()
    direct = 0.5 * sum(W[i, j] * np.sum((Z[i] - Z[j]) ** 2) for i in range(10) for j in range(10))
    assert np.trace(Z.T @ L @ Z) == pytest.approx(direct, rel=1e-12)


def test_bottom_eigenvectors_match_dense_solver():
    W = _random_weighted_graph(40, seed=4)
    L = analysis.laplacian(W)
    values, vectors = analysis.bottom_eigenvectors(L, 4)
    reference_values, reference_vectors = np.linalg.eigh(L.toarray())
    np.testing.assert_allclose(values, reference_values[:4], atol=1e-9)
    angles = analysis.principal_angles(vectors, reference_vectors[:, :4])
    assert angles.max() < 1e-6
    np.testing.assert_allclose(L @ vectors, vectors * values, atol=1e-8)


def test_disconnected_graph_has_k_zero_eigenvalues():
    A, labels = analysis.planted_partition(3, 5, p=1.0, q=0.0)
    values, vectors = analysis.bottom_eigenvectors(analysis.laplacian(A), 3)
    np.testing.assert_allclose(values, 0.0, atol=1e-9)
    indicators = (labels[:, None] == np.arange(3)).astype(float)
    assert analysis.principal_angles(vectors, indicators).max() < 1e-6


def test_tiny_matrix_uses_dense_path():
    L = analysis.laplacian(np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 2.0], [0.0, 2.0, 0.0]]))
    values, _ = analysis.bottom_eigenvectors(L, 3)
    np.testing.assert_allclose(values, np.linalg.eigvalsh(L.toarray()), atol=1e-12)


@pytest.mark.parametrize("kind", ["unnormalized", "symmetric"])
def test_spectral_clustering_recovers_planted_clusters(kind):
    A, labels = analysis.planted_partition(3, 30, p=0.7, q=0.05, seed=5)
    found = analysis.spectral_clustering(A, 3, kind=kind, seed=0)
    assert normalized_mutual_info_score(labels, found) == pytest.approx(1.0)


def test_bipartite_spectral_embedding_trivial_pair():
    B, la, lb = analysis.bipartite_planted_partition(2, 20, 20, p=0.8, q=0.1, seed=6)
    s, U, V = bipartite_spectral_embedding(B, 2)
    assert s[0] == pytest.approx(1.0, abs=1e-10)  # connected graph: top singular value 1
    deg_a = np.asarray(B.sum(axis=1)).ravel()
    assert abs(U[:, 0] @ np.sqrt(deg_a / deg_a.sum())) == pytest.approx(1.0, abs=1e-8)
    assert normalized_mutual_info_score(la, U[:, 1] > 0) == pytest.approx(1.0)
    assert normalized_mutual_info_score(lb, V[:, 1] > 0) == pytest.approx(1.0)


def test_knn_graph_against_brute_force():
    X = np.random.default_rng(7).standard_normal((30, 3))
    G = analysis.knn_graph(X, n_neighbors=4)
    dist = np.linalg.norm(X[:, None] - X[None, :], axis=-1)
    np.fill_diagonal(dist, np.inf)
    nearest = np.argsort(dist, axis=1)[:, :4]
    directed = np.zeros((30, 30))
    directed[np.repeat(np.arange(30), 4), nearest.ravel()] = 1.0
    np.testing.assert_array_equal(G.toarray(), np.maximum(directed, directed.T))


def test_augmentation_graph():
    M = np.random.default_rng(8).random((6, 4))
    expected = M @ M.T
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(augmentation_graph(M).toarray(), expected, atol=1e-14)


def test_bad_input():
    with pytest.raises(InputError, match="probability"):
        analysis.planted_partition(2, 3, p=1.5, q=0.0)
    with pytest.raises(InputError, match="symmetric"):
        analysis.laplacian(np.array([[0.0, 1.0], [0.0, 0.0]]))
    with pytest.raises(InputError, match="kind"):
        analysis.laplacian(np.zeros((2, 2)), kind="random_walk")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="n_neighbors"):
        analysis.knn_graph(np.zeros((3, 2)), n_neighbors=3)
    with pytest.raises(InputError, match="k"):
        analysis.bottom_eigenvectors(sp.identity(3), 4)
