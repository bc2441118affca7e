"""The intertwined-clusters generator: geometry, ids, sampling and parameter checks."""

from __future__ import annotations

import numpy as np
import pytest

from contrastlab.data.intertwined import make_intertwined_clusters, uniform_ball
from contrastlab.errors import InputError


def _pairwise(a: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - a[None, :, :]) ** 2).sum(-1))


def test_anchor_distances_follow_the_layout():
    g = make_intertwined_clusters(3, 5, radius=1.0, spacing=2.5, separation=4.0, dim=12, seed=1)
    d = _pairwise(g.anchors)
    c = g.cluster
    j = np.tile(np.arange(5), 3)
    off = ~np.eye(15, dtype=bool)
    same_cluster = (c[:, None] == c[None, :]) & off
    same_set_index = (j[:, None] == j[None, :]) & ~same_cluster & off
    np.testing.assert_allclose(d[same_cluster], 2.5)
    np.testing.assert_allclose(d[same_set_index], 4.0)
    np.testing.assert_allclose(d[~same_cluster & ~same_set_index & off], np.hypot(2.5, 4.0))
    np.testing.assert_allclose(g.embedding.T @ g.embedding, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(g.anchors.mean(axis=0), 0.0, atol=1e-12)


@pytest.mark.parametrize("ratio, overlap", [(0.1, False), (0.45, False), (0.55, True), (2.0, True)])
def test_sets_disjoint_for_small_ratio_and_overlapping_for_large(ratio, overlap):
    r = 1.0
    g = make_intertwined_clusters(2, 4, radius=r, spacing=r / ratio, separation=2.5, dim=6)
    assert g.overlap_ratio == pytest.approx(ratio)
    assert g.sets_overlap is overlap
    # empirical check from samples: draws of one set can fall in a neighbour's ball only if
    # the balls intersect
    rng = np.random.default_rng(0)
    X, cluster, source = g.views(400, rng)
    dist_to_anchor = np.linalg.norm(X[:, None, :] - g.anchors[None, :, :], axis=2)
    inside = dist_to_anchor <= r + 1e-9
    in_other_set = inside & (np.arange(g.n_sources)[None, :] != source[:, None])
    assert inside[np.arange(len(X)), source].all()
    assert bool(in_other_set.any()) is overlap
    # sets of different clusters never meet (separation > 2r)
    other_cluster = g.cluster[None, :] != cluster[:, None]
    assert not (inside & other_cluster).any()


def test_cluster_and_source_ids_are_consistent():
    g = make_intertwined_clusters(3, 4, radius=0.5, spacing=1.0, separation=2.0, dim=9, seed=3)
    X, cluster, source = g.views(5, np.random.default_rng(1))
    assert X.shape == (60, 9)
    assert np.array_equal(np.bincount(source), np.full(12, 5))
    assert np.array_equal(cluster, g.cluster[source])
    for s in range(12):  # one cluster per source, M sources per cluster
        assert len(np.unique(cluster[source == s])) == 1
    assert np.array_equal(np.bincount(g.cluster), [4, 4, 4])
    nearest = np.linalg.norm(X[:, None, :] - g.anchors[None, :, :], axis=2).argmin(axis=1)
    assert np.array_equal(nearest, source)  # every draw lies in its own set's ball


def test_positive_pairs_are_independent_draws_of_one_ball():
    g = make_intertwined_clusters(2, 3, radius=1.0, spacing=5.0, separation=3.0, dim=5, seed=0)
    sources = np.array([0, 4, 4, 2])
    a, b = g.positive_pairs(sources, np.random.default_rng(2))
    assert not np.allclose(a, b)
    for x in (a, b):
        assert (np.linalg.norm(x - g.anchors[sources], axis=1) <= 1.0 + 1e-9).all()
    # the points stay in the layout's plane of R^D: the orthonormal map's range
    P = g.embedding @ g.embedding.T
    np.testing.assert_allclose(a @ P, a, atol=1e-12)


def test_uniform_ball_radial_law():
    rng = np.random.default_rng(0)
    pts = uniform_ball(20000, 3, 2.0, rng)
    norms = np.linalg.norm(pts, axis=1)
    assert norms.max() <= 2.0
    # uniform in a 3-ball: P(|x| <= s) = (s / R)^3
    for s in (0.5, 1.0, 1.5):
        assert np.mean(norms <= s) == pytest.approx((s / 2.0) ** 3, abs=0.01)


def test_same_seed_same_layout_and_draws():
    a = make_intertwined_clusters(2, 3, 1.0, 1.0, 3.0, 8, seed=4)
    b = make_intertwined_clusters(2, 3, 1.0, 1.0, 3.0, 8, seed=4)
    np.testing.assert_array_equal(a.anchors, b.anchors)
    np.testing.assert_array_equal(
        a.views(2, np.random.default_rng(9))[0], b.views(2, np.random.default_rng(9))[0]
    )


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"clusters": 1}, "clusters"),
        ({"sets_per_cluster": 1}, "sets_per_cluster"),
        ({"radius": 0.0}, "radius"),
        ({"spacing": -1.0}, "spacing"),
        ({"separation": 1.5}, "separation"),
        ({"dim": 4}, "dim"),
        ({"radius": float("nan")}, "radius"),
    ],
)
def test_bad_parameters_raise_input_error(kwargs, words):
    args = {
        "clusters": 2,
        "sets_per_cluster": 3,
        "radius": 1.0,
        "spacing": 1.0,
        "separation": 3.0,
        "dim": 8,
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=words):
        make_intertwined_clusters(**args)


def test_bad_sources_and_views_raise():
    g = make_intertwined_clusters(2, 3, 1.0, 1.0, 3.0, 8)
    with pytest.raises(InputError, match="sources"):
        g.sample(np.array([6]), np.random.default_rng(0))
    with pytest.raises(InputError, match="per_source"):
        g.views(0, np.random.default_rng(0))


@pytest.mark.parametrize("ratio", [0.2, 0.3, 0.34, 0.49, 0.51, 1.0])
def test_overlap_and_interleave_points_match_the_anchor_geometry(ratio):
    """Overlap point 1/2: balls of one cluster meet iff 2 r > delta, told from the anchors' own
    distances; interleave point r / h: a set's nearest other set is in another cluster iff
    r / delta < r / h."""
    r, h = 1.0, 3.0
    g = make_intertwined_clusters(3, 4, radius=r, spacing=r / ratio, separation=h, dim=8)
    assert g.overlap_point == 0.5 and g.interleave_point == pytest.approx(1.0 / 3.0)
    d = _pairwise(g.anchors)
    np.fill_diagonal(d, np.inf)
    same = g.cluster[:, None] == g.cluster[None, :]
    assert bool(np.where(same, d, np.inf).min() < 2 * r) is (ratio > g.overlap_point)
    nearest_other_cluster = ~same[np.arange(len(d)), d.argmin(axis=1)]
    assert bool(nearest_other_cluster.all()) is (ratio < g.interleave_point)
    assert bool(nearest_other_cluster.any()) is (ratio < g.interleave_point)
    assert g.interleaved is (ratio < g.interleave_point)
