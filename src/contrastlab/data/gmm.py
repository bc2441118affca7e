"""Gaussian mixtures with a shared covariance, and positive pairs drawn from them.

The setting of "Understanding Contrastive Learning via Gaussian Mixture Models" (Bansal, Kavis,
Sanghavi 2024): ``k`` components ``N(mu_i, S)`` in ``D`` dimensions; a positive pair is two
independent draws from the same component ("perfect augmentation"). Choices this module fixes
(the paper's exact ones could not be confirmed):

- **Means**: a regular simplex centred at the origin (``mu_bar = 0``) inside a random
  ``(k - 1)``-dimensional subspace ``F0``; ``separation`` is the Mahalanobis distance
  ``||S^-1/2 (mu_i - mu_j)||`` between any two means.
- **Covariance**: ``S = s^2 (I + (anisotropy - 1) P_W)`` with ``W`` spanned by ``n_large``
  orthonormal directions ``w_j``. Uncoupled (``coupling = 0``): ``w_j = g_j``, random directions
  orthogonal to ``F0``; then ``S^-1 (mu_i - mu_bar)`` lies in ``F0``, so the Fisher subspace is
  ``F0`` (the span of the means), and for ``anisotropy > 1 + separation^2 / (2k)`` the top
  principal components are the class-free directions ``W``. ``anisotropy = 1`` is isotropic.
- **Coupling** (an angle ``c`` in degrees): the first ``min(n_large, k - 1)`` directions are tilted
  towards the mean subspace, ``w_j = cos(c) g_j + sin(c) f_j`` (``f_j`` an orthonormal basis of
  ``F0``); they stay orthonormal, each at angle ``90 - c`` degrees to ``F0``. Since
  ``S^-1 = s^-2 (I - (1 - 1/anisotropy) P_W)``, ``S^-1 f_j`` then has the component
  ``-(1 - 1/anisotropy) sin(c) cos(c) g_j`` outside ``F0``: for ``0 < c < 90`` and
  ``anisotropy > 1`` the Fisher subspace ``F = S^-1 F0`` differs from the span of the means
  (each ``S^-1 f_j`` turns by ``atan((1 - 1/a) sin c cos c / (1 - (1 - 1/a) sin^2 c))`` away from
  ``f_j``, about ``c`` for large ``a``), and the high-variance directions carry class
  information. ``c = 0`` is the uncoupled generator; at ``c = 90`` ``W`` lies inside ``F0`` and
  ``F = F0`` again. The means are rescaled so that the smallest pairwise Mahalanobis distance is
  ``separation`` (with coupling the pairwise distances are no longer all equal).
- **Noisy positives**: with probability ``noise`` the positive comes from a component drawn
  uniformly at random (possibly the anchor's own) instead of the anchor's component.
- **Two modalities**: two mixtures with the same number of components and weights; a pair shares
  its component (up to the same noise rule).
- **Regimes**: ``GaussianMixture.positive_pairs`` draws fresh points each call (population);
  :func:`finite_positive_pairs` pairs points of one fixed sample (finite).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from contrastlab.errors import InputError

__all__ = [
    "GaussianMixture",
    "PairedGaussianMixture",
    "finite_positive_pairs",
    "make_gmm",
    "make_paired_gmm",
    "regular_simplex",
]

Array = NDArray[np.float64]
Labels = NDArray[np.int64]


def _check_noise(noise: float) -> float:
    if not (isinstance(noise, (int, float)) and 0.0 <= noise <= 1.0):
        raise InputError(f"noise: must be a probability in [0, 1], got {noise!r}")
    return float(noise)


def _noisy_components(y: Labels, k: int, noise: float, rng: np.random.Generator) -> Labels:
    """The positive's component: ``y`` itself, or with probability ``noise`` a uniform one."""
    swap = rng.random(y.shape[0]) < _check_noise(noise)
    return np.where(swap, rng.integers(0, k, size=y.shape[0]), y)


@dataclass(frozen=True)
class GaussianMixture:
    """Mixture of ``k`` Gaussians ``N(mu_i, S)`` in ``D`` dimensions with one shared covariance.

    Args:
        means: ``(k, D)``.
        covariance: ``(D, D)`` symmetric positive definite.
        weights: ``(k,)`` positive, normalised to sum 1.
    """

    means: Array
    covariance: Array
    weights: Array
    _cholesky: Array = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        means = np.asarray(self.means, dtype=np.float64)
        cov = np.asarray(self.covariance, dtype=np.float64)
        weights = np.asarray(self.weights, dtype=np.float64)
        if means.ndim != 2:
            raise InputError(f"means: expected (k, D), got shape {means.shape}")
        k, dim = means.shape
        if cov.shape != (dim, dim):
            raise InputError(f"covariance: expected ({dim}, {dim}), got {cov.shape}")
        if weights.shape != (k,) or np.any(weights <= 0):
            raise InputError(f"weights: expected {k} positive numbers, got {weights.tolist()}")
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as err:
            raise InputError("covariance: not positive definite") from err
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "covariance", cov)
        object.__setattr__(self, "weights", weights / weights.sum())
        object.__setattr__(self, "_cholesky", chol)

    @property
    def k(self) -> int:
        return int(self.means.shape[0])

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def draw(self, components: Labels, rng: np.random.Generator) -> Array:
        """One point from each given component: ``mu_y + L eps`` with ``S = L L^T``."""
        noise = rng.standard_normal((len(components), self.dim)) @ self._cholesky.T
        return self.means[components] + noise

    def components(self, n: int, rng: np.random.Generator) -> Labels:
        """``n`` component labels drawn from the mixture weights."""
        return rng.choice(self.k, size=n, p=self.weights).astype(np.int64)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[Array, Labels]:
        """``n`` points and their components."""
        y = self.components(n, rng)
        return self.draw(y, rng), y

    def positive_pairs(
        self, n: int, rng: np.random.Generator, noise: float = 0.0
    ) -> tuple[Array, Array, Labels]:
        """``n`` fresh positive pairs ``(x1, x2, y)``: ``x1`` from component ``y``, ``x2`` from
        ``y`` too, or with probability ``noise`` from a uniformly random component."""
        y = self.components(n, rng)
        return self.draw(y, rng), self.draw(_noisy_components(y, self.k, noise, rng), rng), y


@dataclass(frozen=True)
class PairedGaussianMixture:
    """Two modalities that share the component: pair ``(x_a, x_b)`` with ``x_a ~ N(mu^a_y, S_a)``,
    ``x_b ~ N(mu^b_y', S_b)``, ``y' = y`` (or uniform with probability ``noise``)."""

    a: GaussianMixture
    b: GaussianMixture

    def __post_init__(self) -> None:
        if self.a.k != self.b.k or not np.allclose(self.a.weights, self.b.weights):
            raise InputError("the two modalities need the same components and weights")

    def pairs(
        self, n: int, rng: np.random.Generator, noise: float = 0.0
    ) -> tuple[Array, Array, Labels]:
        """``n`` fresh cross-modal pairs ``(x_a, x_b, y)``."""
        y = self.a.components(n, rng)
        return self.a.draw(y, rng), self.b.draw(_noisy_components(y, self.a.k, noise, rng), rng), y


def regular_simplex(k: int) -> Array:
    """``k`` points in ``R^(k-1)``, centred at 0, all pairwise distances 1."""
    centred = np.eye(k) - 1.0 / k  # pairwise distance sqrt(2), lies in the sum-zero subspace
    basis = np.linalg.svd(centred)[2][: k - 1].T  # (k, k-1) orthonormal basis of that subspace
    return centred @ basis / np.sqrt(2.0)


def _random_orthogonal(dim: int, rng: np.random.Generator) -> Array:
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    return q * np.sign(np.diag(r))


def make_gmm(
    k: int = 4,
    dim: int = 20,
    separation: float = 4.0,
    anisotropy: float = 1.0,
    scale: float = 1.0,
    n_large: int | None = None,
    weights: Array | None = None,
    seed: int | None = 0,
    coupling: float = 0.0,
) -> GaussianMixture:
    """A mixture with a known Fisher subspace (see the module docstring for the construction).

    Args:
        k: components, >= 2.
        dim: ambient dimension ``D``, >= ``k - 1 + n_large``.
        separation: Mahalanobis distance between any two means, > 0.
        anisotropy: variance ratio of the ``n_large`` class-free directions to the others, >= 1.
        scale: ``s``, the standard deviation along the other directions.
        n_large: number of high-variance directions (default ``k - 1``; unused when isotropic).
        weights: mixture weights (default balanced).
        seed: seeds the random subspaces.
        coupling: angle ``c`` in degrees, in [0, 90], by which the high-variance directions are
            tilted from orthogonal towards the mean subspace (0: uncoupled, Fisher = mean span).
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise InputError(f"k: must be an integer >= 2, got {k!r}")
    n_large = k - 1 if n_large is None else int(n_large)
    if n_large < 0:
        raise InputError(f"n_large: must be >= 0, got {n_large}")
    if not isinstance(dim, (int, np.integer)) or dim < k - 1 + (n_large if anisotropy != 1 else 0):
        raise InputError(f"dim: must be an integer >= k - 1 + n_large, got {dim!r}")
    if not separation > 0:
        raise InputError(f"separation: must be > 0, got {separation!r}")
    if not anisotropy >= 1:
        raise InputError(f"anisotropy: must be >= 1, got {anisotropy!r}")
    if not scale > 0:
        raise InputError(f"scale: must be > 0, got {scale!r}")
    if isinstance(coupling, bool) or not isinstance(coupling, (int, float)):
        raise InputError(f"coupling: must be an angle in degrees in [0, 90], got {coupling!r}")
    if not 0.0 <= coupling <= 90.0:
        raise InputError(f"coupling: must be an angle in degrees in [0, 90], got {coupling!r}")
    rng = np.random.default_rng(seed)
    rotation = _random_orthogonal(dim, rng)
    means_basis = rotation[:, : k - 1]
    large = rotation[:, k - 1 : k - 1 + n_large] if anisotropy != 1 else rotation[:, :0]
    if coupling != 0 and large.shape[1]:
        large = _tilt(large, means_basis, np.deg2rad(float(coupling)))
    covariance = scale**2 * (np.eye(dim) + (anisotropy - 1.0) * large @ large.T)
    # Uncoupled, S = s^2 I on F0, so Mahalanobis distance = Euclidean distance / s.
    means = separation * scale * regular_simplex(k) @ means_basis.T
    if coupling != 0:
        means *= separation / _min_mahalanobis(means, covariance)
    w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
    return GaussianMixture(means=means, covariance=covariance, weights=w)


def _tilt(large: Array, means_basis: Array, angle: float) -> Array:
    """``w_j = cos(angle) g_j + sin(angle) f_j`` for the first ``min(n_large, k - 1)`` columns
    ``g_j`` of ``large`` (the rest unchanged): still orthonormal, as ``g`` and ``f`` are."""
    tilted = large.copy()
    m = min(large.shape[1], means_basis.shape[1])
    tilted[:, :m] = np.cos(angle) * large[:, :m] + np.sin(angle) * means_basis[:, :m]
    return tilted


def _min_mahalanobis(means: Array, covariance: Array) -> float:
    """``min_{i != j} ||S^-1/2 (mu_i - mu_j)||``."""
    diffs = (means[:, None, :] - means[None, :, :])[~np.eye(len(means), dtype=bool)]
    squared = np.einsum("nd,nd->n", diffs, np.linalg.solve(covariance, diffs.T).T)
    return float(np.sqrt(squared.min()))


def make_paired_gmm(
    k: int = 4,
    dim_a: int = 20,
    dim_b: int = 30,
    separation: float = 4.0,
    anisotropy: float = 1.0,
    n_large: int | None = None,
    seed: int | None = 0,
    coupling: float = 0.0,
) -> PairedGaussianMixture:
    """Two modalities built by :func:`make_gmm` with independent random subspaces."""
    rng = np.random.default_rng(seed)
    seed_a, seed_b = (int(s) for s in rng.integers(0, 2**31, size=2))
    return PairedGaussianMixture(
        a=make_gmm(
            k, dim_a, separation, anisotropy, n_large=n_large, seed=seed_a, coupling=coupling
        ),
        b=make_gmm(
            k, dim_b, separation, anisotropy, n_large=n_large, seed=seed_b, coupling=coupling
        ),
    )


def finite_positive_pairs(
    X: Array, y: Labels, n: int, rng: np.random.Generator, noise: float = 0.0
) -> tuple[Array, Array, Labels]:
    """``n`` positive pairs from one fixed sample ``(X, y)`` (finite regime).

    The anchor is a uniformly random row; its positive is another row of the same component
    (uniformly, itself excluded when the component has other rows), or with probability ``noise``
    a row of a uniformly random component.
    """
    y = np.asarray(y, dtype=np.int64)
    classes = np.unique(y)
    members = [np.flatnonzero(y == c) for c in classes]
    anchors = rng.integers(0, len(y), size=n)
    anchor_class = np.searchsorted(classes, y[anchors])
    target = _noisy_components(anchor_class, len(classes), noise, rng)
    positives = np.empty(n, dtype=np.int64)
    for c, idx in enumerate(members):
        rows = np.flatnonzero(target == c)
        if rows.size == 0:
            continue
        pick = idx[rng.integers(0, len(idx), size=rows.size)]
        # Redraw picks that hit the anchor itself, when the component has other rows.
        clash = pick == anchors[rows]
        while clash.any() and len(idx) > 1:
            pick[clash] = idx[rng.integers(0, len(idx), size=int(clash.sum()))]
            clash = pick == anchors[rows]
        positives[rows] = pick
    return X[anchors], X[positives], y[anchors]
