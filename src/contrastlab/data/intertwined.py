"""Intertwined clusters: K clusters, each the union of M augmentation sets (balls of radius r).

The setting of ``clusters.md`` (Parulekar et al., "InfoNCE Loss Provably Learns
Cluster-Preserving Representations", COLT 2023). The paper's exact construction could not be
confirmed; this is the project's operational version.

Layout ("interleaved simplices"), in an intrinsic space ``R^p`` with ``p = M + K``:

- the anchor of set ``j`` of cluster ``c`` is ``a_{c,j} = (delta / sqrt 2) e_j + (h / sqrt 2) f_c``
  (``e_j``: unit vectors of the first M coordinates, ``f_c`` of the last K), centred at 0;
- so two sets of the same cluster are exactly ``delta`` apart (every pair: a regular simplex),
  set j of two different clusters is ``h = separation`` apart, and other pairs
  ``sqrt(delta^2 + h^2)``: the clusters are copies of one simplex, offset from one another, and
  when ``delta > h`` a set's nearest neighbours belong to other clusters (interleaved);
- augmentation set ``(c, j)`` = the ball of radius ``r`` around ``a_{c,j}`` in ``R^p``; a sample
  is a uniform draw from the ball and a positive pair is two independent draws from the same
  ball;
- ``R^p`` is mapped into ``R^D`` (``D >= p``) by a fixed random map with orthonormal columns.

Sets of one cluster intersect exactly when ``2 r > delta``, so the overlap ratio ``r / delta``
runs from far apart (small) to overlapping (large): the *overlap point* is ``r / delta = 1/2``
(``OVERLAP_POINT``; below it the sets are disjoint). ``separation > 2 r`` keeps sets of
different clusters disjoint, so clusters stay well defined at every ratio. The *interleave
point* is ``r / delta = r / h``: below it ``delta > h``, so a set's nearest other set belongs to
another cluster (the clusters are interleaved). Why simplices rather
than a chain along a line: a cluster of M sets in a chain is ``(M - 1) delta`` long, so even when
neighbouring sets overlap, the two ends of a chain stay distinguishable; in a simplex every two
sets are ``delta`` apart, and ``r / delta`` alone says how close a cluster's sets are.

Example:
    >>> g = make_intertwined_clusters(3, 4, radius=1.0, spacing=0.5, separation=3.0, dim=10)
    >>> X, cluster, source = g.views(2, np.random.default_rng(0))
    >>> X.shape, g.sets_overlap, g.overlap_point, g.interleave_point
    ((24, 10), True, 0.5, 0.3333333333333333)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from contrastlab.errors import InputError, check_count

__all__ = ["OVERLAP_POINT", "IntertwinedClusters", "make_intertwined_clusters", "uniform_ball"]

OVERLAP_POINT = 0.5  # r / delta at which two sets of a cluster touch (2 r = delta)

Array = NDArray[np.float64]
Labels = NDArray[np.int64]


def uniform_ball(n: int, dim: int, radius: float, rng: np.random.Generator) -> Array:
    """``n`` points drawn uniformly from the ball of ``radius`` around 0 in ``R^dim``.

    Direction: a normalised Gaussian; distance from the centre: ``radius * U^(1 / dim)``.
    """
    direction = rng.standard_normal((n, dim))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return direction * (radius * rng.random(n) ** (1.0 / dim))[:, None]


@dataclass(frozen=True)
class IntertwinedClusters:
    """A generated layout (see the module docstring); build it with
    :func:`make_intertwined_clusters`.

    Attributes:
        intrinsic_anchors: ``(K M, p)`` ball centres in the intrinsic space, row ``c M + j``.
        embedding: ``(D, p)`` map with orthonormal columns into ``R^D``.
        cluster: ``(K M,)`` cluster id of each set (source).
        radius: ``r``; spacing: ``delta``; separation: ``h``.
    """

    intrinsic_anchors: Array
    embedding: Array
    cluster: Labels
    radius: float
    spacing: float
    separation: float

    @property
    def n_sources(self) -> int:
        """Number of augmentation sets ``K M``."""
        return int(self.intrinsic_anchors.shape[0])

    @property
    def dim(self) -> int:
        """Ambient dimension ``D``."""
        return int(self.embedding.shape[0])

    @property
    def anchors(self) -> Array:
        """Ball centres in ``R^D``, ``(K M, D)``."""
        return self.intrinsic_anchors @ self.embedding.T

    @property
    def overlap_ratio(self) -> float:
        """``r / delta``: above 1/2 the sets of a cluster intersect."""
        return self.radius / self.spacing

    @property
    def overlap_point(self) -> float:
        """The overlap ratio at which two sets of a cluster touch, 1/2: above it they intersect."""
        return OVERLAP_POINT

    @property
    def interleave_point(self) -> float:
        """``r / h``: below this overlap ratio ``delta > h``, so the nearest other set of every
        set belongs to another cluster (interleaved clusters)."""
        return self.radius / self.separation

    @property
    def interleaved(self) -> bool:
        """Whether a set's nearest other set belongs to another cluster (``delta > h``)."""
        return self.spacing > self.separation

    @property
    def sets_overlap(self) -> bool:
        """Whether two sets of the same cluster intersect (``2 r > delta``)."""
        return 2.0 * self.radius > self.spacing

    def sample(self, sources: Labels, rng: np.random.Generator) -> Array:
        """One uniform draw from the ball of each listed source, in ``R^D``: ``(len, D)``."""
        idx = np.asarray(sources, dtype=np.int64)
        if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= self.n_sources)):
            raise InputError(f"sources: expected ids in [0, {self.n_sources}), got {idx!r}")
        p = self.intrinsic_anchors.shape[1]
        points = self.intrinsic_anchors[idx] + uniform_ball(idx.size, p, self.radius, rng)
        return points @ self.embedding.T

    def positive_pairs(self, sources: Labels, rng: np.random.Generator) -> tuple[Array, Array]:
        """Two independent draws from each listed source's ball: the positive pairs."""
        return self.sample(sources, rng), self.sample(sources, rng)

    def views(self, per_source: int, rng: np.random.Generator) -> tuple[Array, Labels, Labels]:
        """``per_source`` draws from every set: points ``(K M per_source, D)``, cluster, source."""
        check_count("per_source", per_source)
        source = np.repeat(np.arange(self.n_sources), per_source)
        return self.sample(source, rng), self.cluster[source], source


def _positive_float(name: str, value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{name}: must be a number > 0, got {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise InputError(f"{name}: must be a finite number > 0, got {value!r}")
    return number


def make_intertwined_clusters(
    clusters: int,
    sets_per_cluster: int,
    radius: float,
    spacing: float,
    separation: float,
    dim: int,
    seed: int = 0,
) -> IntertwinedClusters:
    """Build the layout of the module docstring.

    Args:
        clusters: K >= 2.
        sets_per_cluster: M >= 2 augmentation sets (sources) per cluster.
        radius: ball radius r > 0.
        spacing: delta > 0, distance between two sets of the same cluster.
        separation: h > 2 r, distance between set j of two different clusters.
        dim: ambient dimension D >= M + K.
        seed: seeds the orthonormal map.

    Raises:
        InputError: a parameter out of its range.
    """
    k = check_count("clusters", clusters, 2)
    m = check_count("sets_per_cluster", sets_per_cluster, 2)
    r = _positive_float("radius", radius)
    delta = _positive_float("spacing", spacing)
    h = _positive_float("separation", separation)
    if not h > 2.0 * r:
        raise InputError(
            f"separation: must exceed 2 * radius = {2 * r:g} so that sets of different clusters "
            f"are disjoint, got {h:g}"
        )
    p = m + k
    d = check_count("dim", dim, 1)
    if d < p:
        raise InputError(f"dim: must be >= sets_per_cluster + clusters = {p}, got {d}")
    set_part = np.tile(np.eye(m), (k, 1)) * (delta / math.sqrt(2.0))
    cluster_part = np.repeat(np.eye(k), m, axis=0) * (h / math.sqrt(2.0))
    anchors = np.hstack([set_part, cluster_part])
    anchors -= anchors.mean(axis=0)
    rng = np.random.default_rng([seed, 3])
    q, upper = np.linalg.qr(rng.standard_normal((d, p)))
    q *= np.sign(np.diag(upper))  # a unique, seed-determined orthonormal map
    return IntertwinedClusters(
        intrinsic_anchors=anchors,
        embedding=q,
        cluster=np.repeat(np.arange(k, dtype=np.int64), m),
        radius=r,
        spacing=delta,
        separation=h,
    )
