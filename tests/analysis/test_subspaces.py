"""Subspace measures against hand-derived values and explicit projector formulas (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab import analysis
from contrastlab.analysis.subspaces import SubspaceAlignment
from contrastlab.errors import InputError


def _projector(M: np.ndarray) -> np.ndarray:
    """P = M (M^T M)^+ M^T, written independently of the SVD code under test."""
    return M @ np.linalg.pinv(M.T @ M) @ M.T


def test_equal_subspaces_have_zero_angles():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((10, 3))
    V = U @ rng.standard_normal((3, 3))  # same span, another basis
    np.testing.assert_allclose(analysis.principal_angles(U, V), 0.0, atol=1e-7)
    a = analysis.subspace_alignment(U, V)
    assert a.captured_fraction == pytest.approx(1.0, abs=1e-12)
    assert a.containment == pytest.approx(1.0, abs=1e-12)
    assert a.largest_angle == pytest.approx(0.0, abs=1e-7)


def test_orthogonal_subspaces_have_right_angles():
    eye = np.eye(6)
    angles = analysis.principal_angles(eye[:, :2], eye[:, 2:5])
    np.testing.assert_allclose(angles, np.pi / 2, atol=1e-12)
    assert analysis.captured_fraction(eye[:, :2], eye[:, 2:5]) == pytest.approx(0.0, abs=1e-15)
    assert analysis.containment(eye[:, :2], eye[:, 2:5]) == pytest.approx(0.0, abs=1e-15)


def test_known_angle_and_ascending_order():
    theta = 0.3
    U = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])  # span(e1, e3)
    V = np.array([[np.cos(theta), 0.0], [np.sin(theta), 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(analysis.principal_angles(U, V), [0.0, theta], atol=1e-12)
    assert analysis.containment(U, V) == pytest.approx((1 + np.cos(theta)) / 2, abs=1e-12)
    a = analysis.subspace_alignment(U, V)
    assert a.mean_squared_cosine == pytest.approx((1 + np.cos(theta) ** 2) / 2, abs=1e-12)


def test_captured_fraction_matches_projector_trace():
    rng = np.random.default_rng(1)
    U, V = rng.standard_normal((12, 4)), rng.standard_normal((12, 3))
    expected = np.trace(_projector(U) @ _projector(V)) / 3
    assert analysis.captured_fraction(U, V) == pytest.approx(expected, abs=1e-12)
    assert analysis.captured_fraction(V, U) == pytest.approx(expected * 3 / 4, abs=1e-12)


def test_containment_counts_extra_directions_as_zero():
    eye = np.eye(4)
    # U = span(e1, e2) is not inside V = span(e1); V is inside U.
    assert analysis.containment(eye[:, :2], eye[:, :1]) == pytest.approx(0.5)
    assert analysis.captured_fraction(eye[:, :2], eye[:, :1]) == pytest.approx(1.0)


def test_alignment_dataclass_and_torch_input():
    rng = np.random.default_rng(2)
    U = rng.standard_normal((8, 2))
    a = analysis.subspace_alignment(torch.from_numpy(U), U[:, :1])
    assert isinstance(a, SubspaceAlignment)
    assert a.dim_u == 2 and a.dim_v == 1 and len(a.angles) == 1
    assert set(a.to_json()) >= {"angles", "captured_fraction", "containment", "largest_angle"}
    with pytest.raises(AttributeError):
        a.captured_fraction = 0.0  # type: ignore[misc]


def test_orthonormal_basis_drops_dependent_columns():
    rng = np.random.default_rng(3)
    M = rng.standard_normal((7, 2))
    Q = analysis.orthonormal_basis(np.hstack([M, M.sum(axis=1, keepdims=True)]))
    assert Q.shape == (7, 2)
    np.testing.assert_allclose(Q.T @ Q, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(_projector(Q), _projector(M), atol=1e-12)


def test_fisher_subspace_hand_derived_two_components():
    # S = [[2, 1], [1, 2]], S^-1 = [[2, -1], [-1, 2]] / 3; mu = +-(1, 0), mu_bar = 0
    # S^-1 mu_1 = (2/3, -1/3): F = span((2, -1)).
    S = np.array([[2.0, 1.0], [1.0, 2.0]])
    F = analysis.fisher_subspace(np.array([[1.0, 0.0], [-1.0, 0.0]]), S)
    assert F.shape == (2, 1)
    expected = np.array([2.0, -1.0]) / np.sqrt(5.0)
    assert abs(float(F[:, 0] @ expected)) == pytest.approx(1.0, abs=1e-12)


def test_fisher_subspace_hand_derived_diagonal_and_weights():
    # S = diag(1, 4, 9); means (1, 2, 0), (-1, -2, 0), (0, 0, 3) with weights (1/4, 1/4, 1/2):
    # mu_bar = (0, 0, 1.5); S^-1 (mu_i - mu_bar) = (1, 0.5, -1/6), (-1, -0.5, -1/6), (0, 0, 1/6)
    # -> F = span{(1, 0.5, 0), (0, 0, 1)}.
    means = np.array([[1.0, 2.0, 0.0], [-1.0, -2.0, 0.0], [0.0, 0.0, 3.0]])
    F = analysis.fisher_subspace(means, np.diag([1.0, 4.0, 9.0]), weights=[1, 1, 2])
    expected = np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(analysis.principal_angles(F, expected), 0.0, atol=1e-7)
    # Unweighted mean (0, 0, 1) gives a different mu_bar but the same span here.
    F2 = analysis.fisher_subspace(means, np.diag([1.0, 4.0, 9.0]))
    np.testing.assert_allclose(analysis.principal_angles(F2, expected), 0.0, atol=1e-7)


def test_lda_estimates_fisher_and_pca_finds_variance():
    rng = np.random.default_rng(4)
    S = np.diag([1.0, 1.0, 25.0, 1.0])
    means = np.array([[3.0, 0.0, 0.0, 0.0], [-3.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0]])
    y = rng.integers(0, 3, size=4000)
    X = means[y] + rng.standard_normal((4000, 4)) @ np.sqrt(S)
    F = analysis.fisher_subspace(means, S)
    assert analysis.captured_fraction(analysis.lda_subspace(X, y), F) > 0.99
    top = analysis.pca_subspace(X, 1)  # the variance-25 axis e3 beats the class spread
    assert abs(top[2, 0]) > 0.99


def test_mean_span_is_the_span_of_the_class_mean_differences():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 7))
    y = np.repeat([0, 1, 2, 3], [60, 90, 70, 80])
    X[y == 1, 0] += 3.0
    X[y == 2, 1] -= 2.0
    X[y == 3, :3] += 1.5
    means = np.stack([X[y == c].mean(axis=0) for c in range(4)])
    reference, _ = np.linalg.qr((means[1:] - means[0]).T)  # span{m_c - m_0}: the same span
    basis = analysis.mean_span_subspace(X, y)
    assert basis.shape == (7, 3)
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(basis @ basis.T, reference @ reference.T, atol=1e-10)
    # dim 1: the direction of largest (count-weighted) spread of the centred means
    centred = (means - X.mean(axis=0)) * np.sqrt([60, 90, 70, 80])[:, None]
    top = np.linalg.eigh(centred.T @ centred)[1][:, -1]
    one = analysis.mean_span_subspace(X, y, dim=1)[:, 0]
    assert abs(one @ top) == pytest.approx(1.0, abs=1e-10)
    with pytest.raises(InputError, match="dim"):
        analysis.mean_span_subspace(X, y, dim=4)
    with pytest.raises(InputError, match="2 classes"):
        analysis.mean_span_subspace(X, np.zeros(300))


def test_bad_input_is_reported():
    with pytest.raises(InputError, match="different spaces"):
        analysis.captured_fraction(np.eye(3), np.eye(4))
    with pytest.raises(InputError, match="rank 0"):
        analysis.orthonormal_basis(np.zeros((3, 2)))
    with pytest.raises(InputError, match="non-finite"):
        analysis.principal_angles(np.array([[np.nan], [1.0]]), np.eye(2))
    with pytest.raises(InputError, match="covariance"):
        analysis.fisher_subspace(np.eye(2), np.eye(3))
    with pytest.raises(InputError, match="dim"):
        analysis.pca_subspace(np.ones((5, 3)), 4)
