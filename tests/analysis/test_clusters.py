"""Cluster-preservation metrics on constructed cases whose values are known."""

from __future__ import annotations

import numpy as np
import pytest

from contrastlab.analysis import cluster_preservation
from contrastlab.errors import InputError


def unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_perfect_clusters():
    X = np.repeat(np.eye(4, 6), 5, axis=0)  # every cluster collapsed to one point
    cluster = np.repeat(np.arange(4), 5)
    m = cluster_preservation(X, cluster)
    assert m["within_between"] == 0.0
    assert m["margin"] == pytest.approx(np.sqrt(2.0))
    assert m["kmeans_nmi"] == 1.0 and m["kmeans_ari"] == 1.0 and m["centroid_accuracy"] == 1.0
    assert "intertwining_gap" not in m


def test_memorised_sources_versus_intertwined():
    rng = np.random.default_rng(0)
    source = np.repeat(np.arange(12), 6)
    cluster = source // 6
    # memorised: each source a tight point of its own, sources of one cluster far apart
    memorised = rng.normal(size=(12, 16))[source] + 0.01 * rng.normal(size=(72, 16))
    m = cluster_preservation(memorised, cluster, source)
    assert m["intertwining_gap"] > 20 and m["kmeans_nmi"] < 0.5
    # intertwined: all rows of a cluster drawn around one centre, whatever their source
    mixed = 3 * np.eye(2, 16)[cluster] + 0.3 * rng.normal(size=(72, 16))
    m = cluster_preservation(mixed, cluster, source)
    assert m["intertwining_gap"] == pytest.approx(1.0, abs=0.15)
    assert m["margin"] > 0 and m["kmeans_nmi"] == 1.0


@pytest.mark.parametrize("block", [None, 16, 7])
def test_against_brute_force(block, monkeypatch):
    from contrastlab.analysis import clusters

    if block is not None:  # several row blocks: the pair statistics add up across them
        monkeypatch.setattr(clusters, "_BLOCK", block)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 5))
    cluster = rng.integers(0, 3, 40)
    source = rng.integers(0, 10, 40)
    m = cluster_preservation(X, cluster, source)
    Z = unit(X)
    D = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))
    off = ~np.eye(40, dtype=bool)
    same_c = (cluster[:, None] == cluster[None]) & off
    between = cluster[:, None] != cluster[None]
    same_s = (source[:, None] == source[None]) & off
    assert m["within_between"] == pytest.approx((D[same_c] ** 2).mean() / (D[between] ** 2).mean())
    assert m["margin"] == pytest.approx(D[between].min() - D[same_c].max())
    cross = same_c & ~same_s
    assert m["intertwining_gap"] == pytest.approx(D[cross].mean() / D[same_s].mean())
    assert m["same_source_distance"] == pytest.approx(D[same_s].mean())
    assert m["cross_source_distance"] == pytest.approx(D[cross].mean())


def test_collapsed_sources_give_an_infinite_gap():
    source = np.repeat(np.arange(6), 3)
    cluster = source // 3
    X = np.random.default_rng(3).normal(size=(6, 4))[source]  # each source one point
    m = cluster_preservation(X, cluster, source)
    assert m["same_source_distance"] == 0.0 and m["intertwining_gap"] == np.inf


def test_bad_inputs():
    X = np.random.default_rng(2).normal(size=(10, 3))
    with pytest.raises(InputError, match="clusters"):
        cluster_preservation(X, np.zeros(10))
    with pytest.raises(InputError, match="^cluster has 9 labels"):
        cluster_preservation(X, np.arange(9) % 2)
    with pytest.raises(InputError, match="^source has 9 labels"):
        cluster_preservation(X, np.arange(10) % 2, np.arange(9))
    with pytest.raises(InputError, match="got 10 for 10 rows"):
        cluster_preservation(X, np.arange(10))  # as many clusters as rows
    with pytest.raises(InputError, match="^X needs at least 3 rows"):
        cluster_preservation(X[:2], [0, 1])
    # the smallest valid inputs; as many clusters as columns is fine
    assert 0 <= cluster_preservation(X[:3], [0, 0, 1])["centroid_accuracy"] <= 1
    assert np.isfinite(cluster_preservation(X, np.arange(10) % 3)["within_between"])
    with pytest.raises(InputError, match="source"):
        cluster_preservation(X, np.arange(10) % 2, np.arange(10))  # no source has 2 rows


def test_centroid_accuracy_on_spread_overlapping_clusters():
    """Nearest cluster mean of the unit rows, against numpy and scikit-learn's NearestCentroid.

    Clusters of different sizes and spreads overlap, and the rows' lengths vary: here the
    centroid rule's details (unit rows, plain means, squared distance, argmin) each show.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
    from sklearn.neighbors import NearestCentroid

    rng = np.random.default_rng(2)
    cluster = np.repeat(np.arange(3), [40, 25, 15])
    spread = np.array([0.5, 1.0, 1.5])[cluster, None]
    X = rng.normal(size=(3, 5))[cluster] + spread * rng.normal(size=(80, 5))
    X *= rng.uniform(0.2, 5.0, size=(80, 1))  # only directions count
    Z = unit(X)
    centroids = np.stack([Z[cluster == c].mean(axis=0) for c in range(3)])
    distances = ((Z[:, None, :] - centroids[None]) ** 2).sum(axis=-1)
    expected = np.mean(distances.argmin(axis=1) == cluster)
    assert expected == np.mean(NearestCentroid().fit(Z, cluster).predict(Z) == cluster)
    assert 0.6 < expected < 0.95  # neither collapsed nor random
    m = cluster_preservation(X, cluster)
    assert m["centroid_accuracy"] == pytest.approx(expected)
    # k-means as documented: K clusters, 10 restarts, seed 0, on the unit rows
    labels = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(Z)
    assert m["kmeans_nmi"] == pytest.approx(normalized_mutual_info_score(cluster, labels))
    assert m["kmeans_ari"] == pytest.approx(adjusted_rand_score(cluster, labels))
    assert m["kmeans_ari"] < 0.9  # overlapping: k-means does not find the clusters exactly
    # the fixture tells the rule apart from near misses: cosine to the mean direction, the plain
    # dot product, means of the raw rows
    raw_means = np.stack([X[cluster == c].mean(axis=0) for c in range(3)])
    raw = ((X[:, None, :] - raw_means[None]) ** 2).sum(axis=-1).argmin(axis=1)
    for wrong in ((Z @ unit(centroids).T).argmax(axis=1), (Z @ centroids.T).argmax(axis=1), raw):
        assert np.mean(wrong == cluster) != expected
