"""Purity and the weighted kNN classifier against scikit-learn's NearestNeighbors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neighbors import NearestNeighbors

from contrastlab.analysis import (
    euclidean_knn_accuracy,
    knn_accuracy,
    knn_classify,
    nearest_neighbours,
    neighbour_purity,
)
from contrastlab.errors import InputError


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 150)
    return rng.normal(size=(150, 5)) + np.eye(3, 5)[y], y


def reference_neighbours(queries, base, k, exclude_self=False):
    nn = NearestNeighbors(n_neighbors=k + int(exclude_self), metric="cosine", algorithm="brute")
    distances, index = nn.fit(base).kneighbors(queries)
    if exclude_self:
        distances, index = distances[:, 1:], index[:, 1:]
    return 1.0 - distances, index


def test_purity_matches_sklearn(data):
    X, y = data
    _, index = reference_neighbours(X, X, 149, exclude_self=True)
    purity = neighbour_purity(X, y, ks=(1, 10, 100, 149, 500))
    for k in (1, 10, 100, 149):
        assert purity[k] == pytest.approx(np.mean(y[index[:, :k]] == y[:, None]), abs=1e-12)
    assert purity[500] == purity[149]  # capped at N - 1


def test_purity_perfect_and_duplicates():
    X = np.repeat(np.eye(3), 5, axis=0)  # exact duplicates: self may not be listed first
    y = np.repeat([0, 1, 2], 5)
    assert neighbour_purity(X, y, ks=(1, 4)) == {1: 1.0, 4: 1.0}
    sims, index = nearest_neighbours(X, X, 4, exclude_self=True)
    assert all(i not in row for i, row in enumerate(index))
    assert np.allclose(sims, 1.0)


def reference_knn(train, train_y, test, k, T):
    sims, index = reference_neighbours(test, train, min(k, len(train)))
    classes = np.unique(train_y)
    votes = np.zeros((len(test), len(classes)))
    for c_i, c in enumerate(classes):
        votes[:, c_i] = (np.exp(sims / T) * (train_y[index] == c)).sum(axis=1)
    return classes[votes.argmax(axis=1)]


@pytest.mark.parametrize("T", [0.07, 0.1, 1.0])
def test_knn_matches_reference(data, T):
    X, y = data
    train, test = slice(0, 100), slice(100, None)
    acc = knn_accuracy(X[train], y[train], X[test], y[test], ks=(1, 5, 20, 200), temperature=T)
    for k in (1, 5, 20, 200):
        expected = reference_knn(X[train], y[train], X[test], k, T)
        assert np.array_equal(knn_classify(X[train], y[train], X[test], k, T), expected)
        assert acc[k] == pytest.approx(np.mean(expected == y[test]))


def test_knn_keeps_label_values_and_tensors(data):
    X, y = data
    names = np.array(["cat", "dog", "eel"])[y]
    predicted = knn_classify(torch.from_numpy(X[:100]), names[:100], X[100:], k=10)
    assert set(predicted) <= {"cat", "dog", "eel"}
    acc = knn_accuracy(X[:100], torch.from_numpy(y[:100]), X[100:], torch.from_numpy(y[100:]))
    assert set(acc) == {20, 200} and 0.5 < acc[20] <= 1.0


def test_bad_inputs(data):
    X, y = data
    with pytest.raises(InputError, match="columns"):
        knn_accuracy(X, y, X[:, :3], y)
    with pytest.raises(InputError, match="labels"):
        knn_accuracy(X, y[:10], X, y)
    with pytest.raises(InputError, match="test_labels"):
        knn_accuracy(X, y, X, y[:10])
    with pytest.raises(InputError, match="integers >= 1"):
        neighbour_purity(X, y, ks=(0,))
    with pytest.raises(InputError, match="temperature"):
        knn_accuracy(X, y, X, y, temperature=-1)


def test_euclidean_knn_accuracy_matches_hand_count():
    train = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [5.0, 5.2]])
    labels = np.array([0, 0, 1, 1, 1])
    test = np.array([[0.05, 0.1], [4.9, 5.0], [0.2, 0.0]])
    assert euclidean_knn_accuracy(train, labels, test, np.array([0, 1, 1]), k=1) == 2 / 3
    # k = 5 is every training point: the majority class 1 everywhere.
    assert euclidean_knn_accuracy(train, labels, test, np.array([1, 1, 1]), k=50) == 1.0


def test_euclidean_knn_accuracy_matches_a_float64_brute_force_vote():
    rng = np.random.default_rng(4)
    train, test = rng.normal(size=(80, 2)), rng.normal(size=(40, 2))
    # noisy labels along the first axis: the vote's k changes the score
    train_y = (train[:, 0] + rng.normal(size=80) > 0).astype(int)
    test_y = (test[:, 0] + rng.normal(size=40) > 0).astype(int)
    scores = []
    for k in (1, 5, 15):  # odd k and two classes: no tied votes
        distances = ((test[:, None, :] - train[None, :, :]) ** 2).sum(axis=2)
        nearest = np.argsort(distances, axis=1)[:, :k]
        predicted = (train_y[nearest].mean(axis=1) > 0.5).astype(int)
        expected = float(np.mean(predicted == test_y))
        got = euclidean_knn_accuracy(torch.from_numpy(train), train_y, test, test_y, k=k)
        assert got == pytest.approx(expected, abs=1e-12)
        scores.append(got)
    assert len(set(scores)) == 3  # each k gives its own score, so a wrong k shows


@pytest.mark.parametrize(
    "change, message",
    [
        ({"test_points": np.zeros((3, 3))}, "test_points have 3 columns"),
        ({"train_labels": np.zeros(4)}, "train_labels has 4 labels"),
        ({"test_labels": np.zeros(2)}, "test_labels has 2 labels"),
        ({"k": 0}, "k must hold integers >= 1"),
        ({"train_points": np.full((5, 2), np.nan)}, "non-finite"),
    ],
)
def test_euclidean_knn_accuracy_bad_inputs(change, message):
    args = {
        "train_points": np.zeros((5, 2)),
        "train_labels": np.arange(5) % 2,
        "test_points": np.zeros((3, 2)),
        "test_labels": np.zeros(3),
        "k": 3,
    }
    with pytest.raises(InputError, match=message):
        euclidean_knn_accuracy(**{**args, **change})
