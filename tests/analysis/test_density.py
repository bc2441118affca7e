"""RLD against a dense float64 reference written from the formula, and networkx's modularity."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
import torch

from contrastlab.analysis import calinski_harabasz, density, rld, rld_knn, rld_profile, rld_weights
from contrastlab.errors import InputError


def reference_graph(X: np.ndarray, t: float, normalize: bool = True) -> np.ndarray:
    """W_ij = N^2 E_ij^2 / (r_i r_j) exactly as rld_gcn.md writes it, dense, float64."""
    Z = X / np.linalg.norm(X, axis=1, keepdims=True) if normalize else X
    D = np.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1))
    n = len(Z)
    dbar = D[np.triu_indices(n, 1)].mean()
    E = np.exp(-D / (dbar * t))
    np.fill_diagonal(E, 0.0)
    r = E.sum(axis=1)
    return n * n * E**2 / np.outer(r, r)


def reference_rld(X: np.ndarray, y: np.ndarray, t: float, normalize: bool = True) -> float:
    W = reference_graph(X, t, normalize)
    communities = [set(np.flatnonzero(y == c)) for c in np.unique(y)]
    return nx.community.modularity(nx.from_numpy_array(W), communities, weight="weight")


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 60)
    X = rng.normal(size=(60, 6)) + 1.5 * np.eye(4, 6)[y]
    return X, y


@pytest.mark.parametrize("t", [1.0, 0.2, 0.05])
def test_equals_networkx_modularity(data, t):
    X, y = data
    assert rld(X, y, t=t) == pytest.approx(reference_rld(X, y, t), abs=1e-12)


@pytest.mark.parametrize("block_size", [2, 7, 20, 59, 60, 1000])
def test_blockwise_equals_dense(data, block_size):
    X, y = data
    dense = rld(X, y, t=0.1, block_size=len(X))
    assert rld(X, y, t=0.1, block_size=block_size) == pytest.approx(dense, abs=1e-13)


def test_invariant_to_rescaling(data):
    X, y = data
    assert rld(7.3 * X, y) == pytest.approx(rld(X, y), abs=1e-12)
    raw = rld(X, y, t=0.05, normalize=False)
    assert rld(0.01 * X, y, t=0.05, normalize=False) == pytest.approx(raw, abs=1e-12)
    assert raw == pytest.approx(reference_rld(X, y, 0.05, normalize=False), abs=1e-12)


def test_random_labels_near_zero():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 8))
    for t in (1.0, 0.1):
        assert abs(rld(X, rng.integers(0, 5, 400), t=t)) < 0.03


def test_profile_terms_and_upper_bound(data):
    X, y = data
    ts = (1.0, 0.5, 0.3, 0.1, 0.07)  # integer ratios and not: several bases
    profile = rld_profile(X, y, ts, block_size=16)
    for t, value in zip(ts, profile.values):
        assert value == pytest.approx(reference_rld(X, y, t), abs=1e-12)
        assert profile.value(t) == value
    assert np.allclose(profile.per_class.sum(axis=1), profile.values)
    W = reference_graph(X, 0.07)
    k = W.sum(axis=1)
    a = np.array([k[y == c].sum() for c in range(4)]) / k.sum()
    e = np.array([W[np.ix_(y == c, y == c)].sum() for c in range(4)]) / k.sum()
    assert np.allclose(profile.degree_share[-1], a, atol=1e-13)
    assert np.allclose(profile.per_class[-1], e - a**2, atol=1e-13)
    assert profile.upper_bound[-1] == pytest.approx(1 - (a**2).sum(), abs=1e-13)
    assert all(v <= ub for v, ub in zip(profile.values, profile.upper_bound))
    assert profile.to_json()["rld"] == list(profile.values)


def test_balanced_upper_bound_is_point_nine():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(10), 20)
    X = 10 * np.eye(10, 16)[y] + 0.01 * rng.normal(size=(200, 16))
    profile = rld_profile(X, y, (0.1,))
    assert profile.upper_bound[0] == pytest.approx(0.9, abs=1e-3)
    assert profile.values[0] == pytest.approx(0.9, abs=1e-3)


def test_float32_and_shifted_paths_agree_with_float64(data):
    X, y = data
    exact = rld_profile(X, y, (1.0, 0.1), precision="float64").values
    fast = rld_profile(X, y, (1.0, 0.1), precision="float32").values
    assert np.allclose(fast, exact, atol=1e-5)
    # t so small that float32 needs the per-row shift, float64 does not
    tiny32 = rld_profile(X, y, (0.002,), precision="float32")
    tiny64 = rld_profile(X, y, (0.002,), precision="float64")
    assert tiny32.info["shifted"] and not tiny64.info["shifted"]
    assert tiny32.values[0] == pytest.approx(tiny64.values[0], abs=1e-4)


def test_accepts_tensors_and_string_labels(data):
    X, y = data
    names = np.array(["a", "b", "c", "d"])[y]
    assert rld(torch.from_numpy(X), torch.from_numpy(y)) == pytest.approx(rld(X, y), abs=1e-12)
    assert rld(X, names) == pytest.approx(rld(X, y), abs=1e-12)


def test_compile_failure_falls_back_to_eager(data, monkeypatch):
    X, y = data

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(density.torch, "compile", broken)
    monkeypatch.setattr(density._TileOps, "_COMPILED", {})
    with pytest.warns(RuntimeWarning, match="eagerly"):
        profile = rld_profile(X, y, (0.1,), compile=True)
    assert profile.info["compiled"] is False
    assert profile.values[0] == pytest.approx(rld(X, y, t=0.1), abs=1e-12)


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.ones(5), np.zeros(5), "2-D"),
        (np.ones((5, 2)), np.zeros(4), "4 labels"),
        (np.array([[1.0, np.nan], [1.0, 2.0]]), np.zeros(2), "non-finite"),
        (np.array([[0.0, 0.0], [1.0, 2.0]]), np.zeros(2), "all-zero"),
        (np.ones((1, 2)), np.zeros(1), "at least 2 rows"),
    ],
)
def test_bad_inputs(X, y, match):
    with pytest.raises(InputError, match=match):
        rld(X, y)


def test_bad_parameters(data):
    X, y = data
    with pytest.raises(InputError, match="temperature"):
        rld(X, y, t=0)
    with pytest.raises(InputError, match="block_size"):
        rld(X, y, block_size=0)
    with pytest.raises(InputError, match="precision"):
        rld(X, y, precision="half")  # type: ignore[arg-type]


def test_weights_dense_and_top_k(data):
    X, _ = data
    W = rld_weights(X, 0.1)
    assert np.allclose(W, reference_graph(X, 0.1), rtol=1e-10, atol=0)
    sparse = rld_weights(X, 0.1, top_k=5, block_size=13)
    assert abs(sparse - sparse.T).max() == 0
    dense_kept = sparse.toarray()
    for i in range(len(X)):
        fifth = np.sort(W[i])[-5]
        kept_own = np.flatnonzero(W[i] >= fifth)
        assert np.allclose(dense_kept[i, kept_own], W[i, kept_own])


def test_calinski_harabasz_matches_sklearn(data):
    from sklearn.metrics import calinski_harabasz_score

    X, y = data
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    assert calinski_harabasz(X, y) == pytest.approx(calinski_harabasz_score(Z, y))
    with pytest.raises(InputError, match="classes"):
        calinski_harabasz(X, np.zeros(len(X)))


def test_knn_approximation_close_at_small_t():
    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(5), 80)
    centres = rng.normal(size=(40, 8))
    X = centres[rng.integers(0, 8, 400) + 8 * y] + 0.1 * rng.normal(size=(400, 8))
    exact = rld(X, y, t=0.05)
    assert rld_knn(X, y, t=0.05, k=100) == pytest.approx(exact, abs=0.02)


@pytest.mark.parametrize("n, block", [(4097, 2048), (1001, 100), (7, 3), (2049, None)])
def test_compiled_tiles_never_have_one_row(n, block):
    # dynamo specialises on size-1 dimensions, so a one-row tile would compile every pass again
    from contrastlab.analysis.density import _resolve, _tiles

    chosen, _, compiled = _resolve(n, block, "float32", True)
    assert compiled
    sizes = {rows.stop - rows.start for rows, _, _ in _tiles(n, chosen)}
    assert min(sizes) >= 2


def reference_knn_rld(X: np.ndarray, y: np.ndarray, t: float, k: int) -> float:
    """RLD on the kNN graph as ``rld_knn`` documents it, dense float64 with the exact ``dbar``:
    ``r_i`` sums ``E_ij`` over the k nearest neighbours of ``i`` only, and
    ``W_ij = E_ij^2 / (r_i r_j)`` is kept on the edges of the union of the kNN lists."""
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    D = np.sqrt(((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1))
    n = len(Z)
    E = np.exp(-D / (D[np.triu_indices(n, 1)].mean() * t))
    neighbours = np.argsort(D + np.diag(np.full(n, np.inf)), axis=1)[:, :k]
    knn = np.zeros((n, n), dtype=bool)
    knn[np.arange(n)[:, None], neighbours] = True
    r = (E * knn).sum(axis=1)
    W = np.where(knn | knn.T, E**2 / np.outer(r, r), 0.0)
    communities = [set(np.flatnonzero(y == c)) for c in np.unique(y)]
    return nx.community.modularity(nx.from_numpy_array(W), communities, weight="weight")


def test_knn_approximation_where_truncation_matters():
    """k = 10 neighbours in classes of 50 that overlap, at t = 0.5: much of W's weight lies
    outside the kNN graph, so the value depends on how the truncation is applied."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 50)
    X = 0.7 * rng.normal(size=(3, 6))[y] + rng.normal(size=(150, 6))
    expected = reference_knn_rld(X, y, 0.5, 10)
    # dbar comes from 200,000 sampled pairs: an error of about 1e-5 here
    assert rld_knn(X, y, t=0.5, k=10) == pytest.approx(expected, abs=1e-4)
    assert abs(expected - rld(X, y, t=0.5)) > 0.1  # far from the exact RLD
    # with every other row a neighbour nothing is truncated: the exact RLD
    assert rld_knn(X, y, t=0.5, k=149) == pytest.approx(rld(X, y, t=0.5), abs=5e-4)


def authors_rld(X: np.ndarray, y: np.ndarray, t: float) -> float:
    """RLD as the authors' code computes it (``relative_local_density_score`` in
    xsgxlz/How-does-Contrastive-Learning-Organize-Images), written here from its formula: the
    features as given, ``s_ij = -d_ij / mean_{i<j} d_ij``, ``E = exp(s / t)`` with a zero
    diagonal, ``W = N^2 E^2 / (rowsum colsum)``, and Newman's modularity
    ``Q = sum_ij (W_ij - k_i k_j / 2m) [y_i = y_j] / 2m``."""
    n = len(X)
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    E = np.exp(-D / D[np.triu_indices(n, 1)].mean() / t)
    np.fill_diagonal(E, 0.0)
    W = n * n * E**2 / E.sum(axis=1, keepdims=True) / E.sum(axis=0, keepdims=True)
    k = W.sum(axis=1)
    two_m = k.sum()
    return float(((W - np.outer(k, k) / two_m) * (y[:, None] == y[None, :])).sum() / two_m)


def test_authors_value_on_raw_features_needs_normalize_false():
    """``rld`` L2-normalises by default, the authors' code does not: on raw 2-D points the two
    differ, and ``normalize=False`` gives the authors' value."""
    from contrastlab.data.toys import make_toy

    X, y = make_toy("tiny_blobs", n_per_class=40, seed=0)
    theirs = authors_rld(X, y, 0.05)
    assert theirs == pytest.approx(reference_rld(X, y, 0.05, normalize=False), abs=1e-12)
    assert rld(X, y, t=0.05, normalize=False) == pytest.approx(theirs, abs=1e-12)
    assert abs(rld(X, y, t=0.05) - theirs) > 0.01  # the default is another number
