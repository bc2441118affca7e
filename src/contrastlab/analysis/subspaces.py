"""Comparing linear subspaces: principal angles, captured fraction, containment; Fisher, LDA, PCA.

A subspace is given by any matrix whose **columns** span it (``(D, r)``); :func:`orthonormal_basis`
turns it into an orthonormal basis. For an encoder ``A`` of shape ``(r, D)`` the learned subspace
is its row space, i.e. pass ``A.T``.

Measures, for ``U`` of dimension ``r_U`` and ``V`` of dimension ``r_V`` with orthonormal bases
``Q_U, Q_V`` and principal angles ``theta_1 <= ... <= theta_m`` (``m = min(r_U, r_V)``, the
singular values of ``Q_U^T Q_V`` are ``cos theta_i``):

- ``captured_fraction(U, V) = trace(P_U P_V) / r_V = ||Q_U^T Q_V||_F^2 / r_V``: the share of
  ``V`` that lies in ``U`` (1: ``V`` inside ``U``; a random ``r_U``-dim subspace of R^D scores
  ``r_U / D`` on average).
- ``containment(U, V) = (1 / r_U) sum_i cos theta_i``: the mean of ``||P_V u||`` over the
  principal-vector basis ``u`` of ``U`` (1: ``U`` inside ``V``). It is computed in that basis
  because a mean of norms (not of squared norms) depends on which orthonormal basis is used.
- mean squared cosine ``(1 / m) sum_i cos^2 theta_i``: 1 for the same subspace (equal dimensions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contrastlab.errors import InputError

__all__ = [
    "SubspaceAlignment",
    "captured_fraction",
    "containment",
    "fisher_subspace",
    "lda_subspace",
    "mean_span_subspace",
    "orthonormal_basis",
    "pca_subspace",
    "principal_angles",
    "subspace_alignment",
]

Array = NDArray[np.float64]


def _as_matrix(x: Any, name: str) -> Array:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"{name}: expected a 2-D matrix (D, r), got shape {arr.shape}")
    if arr.size and not np.all(np.isfinite(arr)):
        raise InputError(f"{name}: contains {int(np.sum(~np.isfinite(arr)))} non-finite values")
    return arr


def orthonormal_basis(M: Any, rtol: float | None = None) -> Array:
    """Orthonormal basis ``(D, rank)`` of the column space of ``M`` (SVD, rank-revealing).

    Args:
        M: ``(D, r)`` matrix (numpy or torch) whose columns span the subspace; a vector is one
            column.
        rtol: singular values below ``rtol * max(singular value)`` count as zero; default
            ``max(D, r) * machine epsilon`` as in ``numpy.linalg.matrix_rank``.

    Raises:
        InputError: not a matrix, non-finite values, or rank 0.
    """
    arr = _as_matrix(M, "M")
    u, s, _ = np.linalg.svd(arr, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        raise InputError(f"M: the columns span no subspace (shape {arr.shape}, rank 0)")
    tol = (max(arr.shape) * np.finfo(np.float64).eps if rtol is None else rtol) * s[0]
    return u[:, s > tol]


def _bases(U: Any, V: Any) -> tuple[Array, Array]:
    qu, qv = orthonormal_basis(U), orthonormal_basis(V)
    if qu.shape[0] != qv.shape[0]:
        raise InputError(f"U and V live in different spaces: {qu.shape[0]} vs {qv.shape[0]} rows")
    return qu, qv


def _cosines(qu: Array, qv: Array) -> Array:
    """Cosines of the principal angles, descending, clipped into [0, 1]."""
    return np.clip(np.linalg.svd(qu.T @ qv, compute_uv=False), 0.0, 1.0)


def principal_angles(U: Any, V: Any) -> Array:
    """Principal angles (radians, ascending) between the column spaces of ``U`` and ``V``.

    Uses ``scipy.linalg.subspace_angles`` (accurate for small angles too). There are
    ``min(dim U, dim V)`` angles; 0 for a shared direction, ``pi / 2`` for orthogonal ones.
    """
    from scipy.linalg import subspace_angles

    qu, qv = _bases(U, V)
    return np.sort(subspace_angles(qu, qv))


def captured_fraction(U: Any, V: Any) -> float:
    """``trace(P_U P_V) / dim V``: how much of ``V`` lies in ``U`` (1 = ``V`` inside ``U``)."""
    qu, qv = _bases(U, V)
    return float(np.sum((qu.T @ qv) ** 2) / qv.shape[1])


def containment(U: Any, V: Any) -> float:
    """``(1 / dim U) sum_i cos theta_i``: mean ``||P_V u||`` over ``U``'s principal vectors.

    1 when ``U`` lies inside ``V``; directions of ``U`` beyond ``dim V`` count as 0.
    """
    qu, qv = _bases(U, V)
    return float(np.sum(_cosines(qu, qv)) / qu.shape[1])


@dataclass(frozen=True)
class SubspaceAlignment:
    """How two subspaces ``U`` and ``V`` relate (see the module docstring for the formulas).

    Attributes:
        angles: principal angles in radians, ascending (``min(dim U, dim V)`` of them).
        captured_fraction: ``trace(P_U P_V) / dim V``.
        containment: mean ``||P_V u||`` over the principal basis of ``U``.
        mean_squared_cosine: mean of ``cos^2`` of the angles.
        largest_angle: the largest principal angle (radians).
        dim_u: dimension of ``U``.
        dim_v: dimension of ``V``.
    """

    angles: Array
    captured_fraction: float
    containment: float
    mean_squared_cosine: float
    largest_angle: float
    dim_u: int
    dim_v: int

    def to_json(self) -> dict[str, Any]:
        return {
            "angles": [float(a) for a in self.angles],
            "captured_fraction": self.captured_fraction,
            "containment": self.containment,
            "mean_squared_cosine": self.mean_squared_cosine,
            "largest_angle": self.largest_angle,
            "dim_u": self.dim_u,
            "dim_v": self.dim_v,
        }


def subspace_alignment(U: Any, V: Any) -> SubspaceAlignment:
    """Principal angles, captured fraction and containment between ``col(U)`` and ``col(V)``.

    Args:
        U: ``(D, r_U)``, e.g. the transpose of an encoder ``A`` (rows span the learned subspace).
        V: ``(D, r_V)``, e.g. the Fisher subspace.

    Example:
        >>> import numpy as np
        >>> a = subspace_alignment(np.eye(3)[:, :2], np.eye(3)[:, :1])
        >>> a.captured_fraction, a.containment
        (1.0, 0.5)
    """
    qu, qv = _bases(U, V)
    angles = principal_angles(qu, qv)
    cos2 = np.cos(angles) ** 2
    return SubspaceAlignment(
        angles=angles,
        captured_fraction=float(np.sum((qu.T @ qv) ** 2) / qv.shape[1]),
        containment=float(np.sum(_cosines(qu, qv)) / qu.shape[1]),
        mean_squared_cosine=float(np.mean(cos2)),
        largest_angle=float(angles[-1]),
        dim_u=int(qu.shape[1]),
        dim_v=int(qv.shape[1]),
    )


def fisher_subspace(means: Any, covariance: Any, weights: Any | None = None) -> Array:
    """Orthonormal basis of ``F = span{ S^-1 (mu_i - mu_bar) : i = 1..k }``.

    ``mu_bar = sum_i w_i mu_i`` (weights default uniform). ``F`` has dimension ``k - 1`` for
    affinely independent means; it is the subspace that LDA estimates.

    Args:
        means: ``(k, D)`` component means.
        covariance: ``(D, D)`` shared covariance ``S``, symmetric positive definite.
        weights: ``(k,)`` mixture weights (normalised here).

    Returns:
        ``(D, k - 1)`` orthonormal columns (fewer if the means are degenerate).
    """
    mu = _as_matrix(means, "means")
    cov = _as_matrix(covariance, "covariance")
    k, dim = mu.shape
    if k < 2:
        raise InputError(f"means: need at least 2 components, got {k}")
    if cov.shape != (dim, dim):
        raise InputError(f"covariance: expected shape ({dim}, {dim}), got {cov.shape}")
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (k,) or np.any(w <= 0):
        raise InputError(f"weights: expected {k} positive numbers, got {w.tolist()}")
    w = w / w.sum()
    from scipy.linalg import LinAlgError, solve

    try:
        directions = solve(cov, (mu - w @ mu).T, assume_a="pos")
    except LinAlgError as err:
        raise InputError("covariance: not positive definite") from err
    return orthonormal_basis(directions, rtol=1e-9)


def _labelled(X: Any, y: Any) -> tuple[Array, NDArray[Any]]:
    data = _as_matrix(X, "X")
    labels = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y).reshape(-1)
    if labels.shape[0] != data.shape[0]:
        raise InputError(f"X has {data.shape[0]} rows but y has {labels.shape[0]} labels")
    return data, labels


def lda_subspace(X: Any, y: Any, dim: int | None = None) -> Array:
    """Orthonormal basis ``(D, dim)`` of the LDA discriminant subspace fitted on ``(X, y)``.

    ``sklearn.discriminant_analysis.LinearDiscriminantAnalysis`` (SVD solver); the subspace is the
    span of its leading ``dim`` scaling vectors (default ``k - 1``), the sample estimate of
    :func:`fisher_subspace`.
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    data, labels = _labelled(X, y)
    k = len(np.unique(labels))
    if k < 2:
        raise InputError("y: LDA needs at least 2 classes")
    dim = k - 1 if dim is None else int(dim)
    lda = LinearDiscriminantAnalysis(solver="svd").fit(data, labels)
    scalings = np.asarray(lda.scalings_)
    if not 1 <= dim <= scalings.shape[1]:
        raise InputError(f"dim: LDA gives at most {scalings.shape[1]} directions, asked for {dim}")
    return orthonormal_basis(scalings[:, :dim])


def mean_span_subspace(X: Any, y: Any, dim: int | None = None) -> Array:
    """Orthonormal basis ``(D, dim)`` of the span of the centred class means of ``(X, y)``.

    ``span{ m_c - m_bar : c }`` with ``m_c`` the sample mean of class ``c`` and ``m_bar`` the mean
    of all rows (class weights = class frequencies); its leading ``dim`` principal directions
    (default ``k - 1``). This is the Fisher subspace only when ``S^-1`` maps the mean span onto
    itself (e.g. ``S`` isotropic, or its high-variance directions orthogonal to the means).
    """
    data, labels = _labelled(X, y)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise InputError("y: the mean span needs at least 2 classes")
    dim = len(classes) - 1 if dim is None else int(dim)
    if not 1 <= dim <= len(classes) - 1:
        raise InputError(f"dim: the class means span at most {len(classes) - 1}, asked for {dim}")
    centred = np.stack([data[labels == c].mean(axis=0) for c in classes]) - data.mean(axis=0)
    counts = np.array([np.sum(labels == c) for c in classes], dtype=np.float64)
    _, _, vt = np.linalg.svd(centred * np.sqrt(counts)[:, None], full_matrices=False)
    return vt[:dim].T.copy()


def pca_subspace(X: Any, dim: int) -> Array:
    """Orthonormal basis ``(D, dim)`` of the top-``dim`` principal components of ``X``."""
    data = _as_matrix(X, "X")
    if not 1 <= dim <= min(data.shape):
        raise InputError(f"dim: must be in [1, {min(data.shape)}], got {dim}")
    centred = data - data.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[:dim].T.copy()
