"""Linear, kNN and GCN probes: they learn, choose on validation, and never read test labels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from contrastlab.analysis import ProbeResult, gcn_probe, knn_probe, linear_probe
from contrastlab.errors import InputError


def clustered(n_per_class: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, each a few tight groups (locally dense), in 8 dimensions."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per_class)
    centres = rng.normal(size=(12, 8))
    group = rng.integers(0, 4, y.size) + 4 * y
    X = centres[group] + 0.15 * rng.normal(size=(y.size, 8))
    order = rng.permutation(y.size)
    return X[order], y[order]


@pytest.fixture(scope="module")
def split() -> tuple[np.ndarray, ...]:
    X, y = clustered()
    return X[:120], y[:120], X[120:], y[120:]


def test_linear_probe():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 150)
    X = 2.0 * np.eye(3, 8)[y] + 0.5 * rng.normal(size=(150, 8))  # linearly separable blobs
    result = linear_probe(X[:100], y[:100], X[100:], y[100:])
    assert isinstance(result, ProbeResult)
    assert result.accuracy > 0.9 and result.val_accuracy > 0.8
    assert result.params == (8 + 1) * 3
    assert result.info["C"] in (0.001, 0.01, 0.1, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.accuracy = 0.0  # type: ignore[misc]


def test_knn_probe(split):
    result = knn_probe(*split)
    assert result.accuracy > 0.9 and result.params == 0
    assert set(result.info["test_accuracy"]) == {
        "k=20,T=0.07",
        "k=200,T=0.07",
        "k=20,T=0.1",
        "k=200,T=0.1",
    }


def test_gcn_probe_learns(split):
    result = gcn_probe(*split, epochs=50, patience=20)
    assert result.accuracy > 0.9
    assert result.info["graph"] == "dense"
    # (K+1) x 16 label table, two propagation layers with self weight and bias, BatchNorm
    assert result.params == 4 * 16 + (16 * 16 + 1 + 16) + 2 * 16 + (16 * 3 + 1 + 3)


def test_gcn_probe_never_reads_test_labels(split):
    train_X, train_y, test_X, test_y = split
    scrambled = np.random.default_rng(5).permutation(test_y)
    a = gcn_probe(train_X, train_y, test_X, test_y, epochs=15)
    b = gcn_probe(train_X, train_y, test_X, scrambled, epochs=15)
    assert np.array_equal(a.predictions, b.predictions)
    assert a.val_accuracy == b.val_accuracy and a.info["best_epoch"] == b.info["best_epoch"]


def test_gcn_probe_sparse_graph_and_tensors(split):
    train_X, train_y, test_X, test_y = (torch.from_numpy(a) for a in split)
    result = gcn_probe(train_X, train_y, test_X, test_y, top_k=10, epochs=40, patience=20)
    assert result.info["graph"] == "top_k" and result.info["top_k"] == 10
    assert result.accuracy > 0.85


def test_probe_inputs_validated(split):
    train_X, train_y, test_X, test_y = split
    with pytest.raises(InputError, match="columns"):
        linear_probe(train_X, train_y, test_X[:, :3], test_y)
    with pytest.raises(InputError, match="val_fraction"):
        linear_probe(train_X, train_y, test_X, test_y, val_fraction=1.5)
    with pytest.raises(InputError, match="2 classes"):
        gcn_probe(train_X, np.zeros(len(train_y)), test_X, test_y)
    bad = train_X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="non-finite"):
        knn_probe(bad, train_y, test_X, test_y)
