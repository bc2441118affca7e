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


def test_against_brute_force():
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


def test_bad_inputs():
    X = np.random.default_rng(2).normal(size=(10, 3))
    with pytest.raises(InputError, match="clusters"):
        cluster_preservation(X, np.zeros(10))
    with pytest.raises(InputError, match="labels"):
        cluster_preservation(X, np.arange(9) % 2)
    with pytest.raises(InputError, match="source"):
        cluster_preservation(X, np.arange(10) % 2, np.arange(10))  # no source has 2 rows
