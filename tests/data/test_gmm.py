"""The Gaussian-mixture generator: its construction, its samples and its positive pairs."""

from __future__ import annotations

import numpy as np
import pytest

from contrastlab.data.gmm import (
    GaussianMixture,
    finite_positive_pairs,
    make_gmm,
    make_paired_gmm,
    regular_simplex,
)
from contrastlab.errors import InputError


def test_regular_simplex():
    P = regular_simplex(5)
    assert P.shape == (5, 4)
    np.testing.assert_allclose(P.mean(axis=0), 0.0, atol=1e-12)
    dist = np.linalg.norm(P[:, None] - P[None, :], axis=-1)
    np.testing.assert_allclose(dist[~np.eye(5, dtype=bool)], 1.0, atol=1e-12)


def test_anisotropic_construction():
    g = make_gmm(k=4, dim=12, separation=3.0, anisotropy=50.0, scale=2.0, seed=1)
    S, mu = g.covariance, g.means
    np.testing.assert_allclose(S, S.T)
    eig = np.sort(np.linalg.eigvalsh(S))
    np.testing.assert_allclose(eig[:9], 4.0, atol=1e-10)  # s^2 on all but n_large = 3
    np.testing.assert_allclose(eig[9:], 200.0, atol=1e-9)  # anisotropy * s^2
    np.testing.assert_allclose(mu.mean(axis=0), 0.0, atol=1e-12)
    Sinv = np.linalg.inv(S)
    for i in range(4):
        for j in range(i):
            d = mu[i] - mu[j]
            assert np.sqrt(d @ Sinv @ d) == pytest.approx(3.0, rel=1e-10)
    # The high-variance directions are orthogonal to S^-1 (mu_i - mu_bar).
    values, vectors = np.linalg.eigh(S)
    large = vectors[:, values > 100]
    np.testing.assert_allclose(large.T @ Sinv @ mu.T, 0.0, atol=1e-10)


def _projector(vectors: np.ndarray) -> np.ndarray:
    q, _ = np.linalg.qr(vectors)
    return q @ q.T


def _fisher_and_mean_span(g: GaussianMixture) -> tuple[np.ndarray, np.ndarray]:
    """Projectors onto S^-1 (mu_i - mu_bar) and onto mu_i - mu_bar, by plain float64 algebra
    (np.linalg.inv and QR; no code of the library's subspaces module)."""
    centred = (g.means - g.means.mean(axis=0)).T[:, : g.k - 1]  # k - 1 independent columns
    return _projector(np.linalg.inv(g.covariance) @ centred), _projector(centred)


@pytest.mark.parametrize("coupling", [0.0, 90.0])
def test_fisher_is_the_mean_span_without_coupling_and_at_90_degrees(coupling):
    g = make_gmm(k=4, dim=12, separation=3.0, anisotropy=50.0, seed=1, coupling=coupling)
    fisher, mean_span = _fisher_and_mean_span(g)
    np.testing.assert_allclose(fisher, mean_span, atol=1e-9)


@pytest.mark.parametrize("coupling", [15.0, 45.0, 60.0, 80.0])
def test_coupling_turns_the_fisher_subspace_away_from_the_mean_span(coupling):
    a = 50.0
    g = make_gmm(k=4, dim=12, separation=3.0, anisotropy=a, scale=2.0, seed=1, coupling=coupling)
    fisher, mean_span = _fisher_and_mean_span(g)
    # trace(P_F P_M) / (k - 1): 1 when F is the mean span. Each of the k - 1 mean directions is
    # coupled to one high-variance direction, so every principal angle equals phi below.
    c = np.deg2rad(coupling)
    phi = np.arctan((1 - 1 / a) * np.sin(c) * np.cos(c) / (1 - (1 - 1 / a) * np.sin(c) ** 2))
    assert np.trace(fisher @ mean_span) / 3 == pytest.approx(np.cos(phi) ** 2, rel=1e-9)
    assert np.trace(fisher @ mean_span) / 3 < 0.95
    # the covariance keeps its spectrum (the tilted directions stay orthonormal) ...
    eig = np.sort(np.linalg.eigvalsh(g.covariance))
    np.testing.assert_allclose(eig, [4.0] * 9 + [4.0 * a] * 3, rtol=1e-10)
    # ... and the high-variance directions sit at 90 - coupling degrees to the means' span
    values, vectors = np.linalg.eigh(g.covariance)
    large = vectors[:, values > 10]
    cosines = np.linalg.svd(large.T @ mean_span @ large, compute_uv=False)
    np.testing.assert_allclose(cosines, np.sin(c) ** 2, atol=1e-9)  # cos^2(90 - c)
    # the smallest Mahalanobis distance between two means is the separation
    Sinv = np.linalg.inv(g.covariance)
    dist = [
        np.sqrt((m1 - m2) @ Sinv @ (m1 - m2)) for i, m1 in enumerate(g.means) for m2 in g.means[:i]
    ]
    assert min(dist) == pytest.approx(3.0, rel=1e-10)


def test_coupling_zero_is_the_uncoupled_generator():
    old = make_gmm(k=3, dim=9, separation=2.5, anisotropy=20.0, seed=7)
    new = make_gmm(k=3, dim=9, separation=2.5, anisotropy=20.0, seed=7, coupling=0.0)
    np.testing.assert_array_equal(old.means, new.means)
    np.testing.assert_array_equal(old.covariance, new.covariance)


def test_isotropic_construction():
    g = make_gmm(k=3, dim=5, anisotropy=1.0, scale=0.5, seed=2)
    np.testing.assert_allclose(g.covariance, 0.25 * np.eye(5), atol=1e-15)


def test_sample_moments():
    g = make_gmm(k=3, dim=4, separation=5.0, anisotropy=4.0, n_large=1, seed=3)
    X, y = g.sample(60000, np.random.default_rng(0))
    assert np.bincount(y, minlength=3) / len(y) == pytest.approx([1 / 3] * 3, abs=0.01)
    for c in range(3):
        rows = X[y == c]
        np.testing.assert_allclose(rows.mean(axis=0), g.means[c], atol=0.08)
        np.testing.assert_allclose(np.cov(rows.T), g.covariance, atol=0.15)


def _nearest_mean(g: GaussianMixture, X: np.ndarray) -> np.ndarray:
    return np.argmin(((X[:, None] - g.means[None]) ** 2).sum(-1), axis=1)


@pytest.mark.parametrize("noise", [0.0, 0.5, 1.0])
def test_positive_pairs_noise_rule(noise):
    # Far-apart, tight components: the nearest mean tells each point's component.
    g = make_gmm(k=4, dim=6, separation=40.0, seed=4)
    x1, x2, y = g.positive_pairs(20000, np.random.default_rng(1), noise=noise)
    np.testing.assert_array_equal(_nearest_mean(g, x1), y)
    mismatch = np.mean(_nearest_mean(g, x2) != y)
    # A noisy positive comes from a uniform component: different with probability 3/4.
    assert mismatch == pytest.approx(noise * 3 / 4, abs=0.015)


def test_paired_mixture_shares_components():
    pg = make_paired_gmm(k=3, dim_a=5, dim_b=7, separation=40.0, seed=5)
    xa, xb, y = pg.pairs(500, np.random.default_rng(2))
    assert xa.shape == (500, 5) and xb.shape == (500, 7)
    np.testing.assert_array_equal(_nearest_mean(pg.a, xa), y)
    np.testing.assert_array_equal(_nearest_mean(pg.b, xb), y)


def test_finite_positive_pairs():
    rng = np.random.default_rng(3)
    X = np.arange(40, dtype=float)[:, None]
    y = np.repeat(np.arange(4), 10)
    x1, x2, ya = finite_positive_pairs(X, y, 5000, rng)
    i1, i2 = x1[:, 0].astype(int), x2[:, 0].astype(int)
    np.testing.assert_array_equal(y[i1], ya)
    np.testing.assert_array_equal(y[i2], ya)  # same component
    assert (i1 != i2).all()  # never the anchor itself
    _, x2n, yn = finite_positive_pairs(X, y, 20000, rng, noise=1.0)
    assert np.mean(y[x2n[:, 0].astype(int)] != yn) == pytest.approx(0.75, abs=0.015)


def test_bad_parameters():
    with pytest.raises(InputError, match="k"):
        make_gmm(k=1)
    with pytest.raises(InputError, match="anisotropy"):
        make_gmm(anisotropy=0.5)
    with pytest.raises(InputError, match="dim"):
        make_gmm(k=4, dim=5, anisotropy=10.0)  # needs k - 1 + n_large = 6 dimensions
    with pytest.raises(InputError, match="noise"):
        make_gmm().positive_pairs(4, np.random.default_rng(0), noise=1.5)
    for coupling in (-1.0, 90.5, True, "45"):
        with pytest.raises(InputError, match="coupling"):
            make_gmm(anisotropy=10.0, coupling=coupling)
    with pytest.raises(InputError, match="positive definite"):
        GaussianMixture(np.zeros((2, 2)), -np.eye(2), np.ones(2))
