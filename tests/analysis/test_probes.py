"""Linear, kNN and GCN probes: they learn, choose on validation, and never read test labels.

The model choices are checked against independent references on the probes' documented
validation split (``split_indices``): scikit-learn's ``LogisticRegression`` for ``C``,
``knn_accuracy`` for ``(k, T)``, a recomputation of the validation accuracy for the GCN's epoch,
and a dense float64 graph for the GCN's ``D^-1/2 W D^-1/2``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from contrastlab.analysis import (
    ProbeResult,
    gcn_probe,
    knn_accuracy,
    knn_classify,
    knn_probe,
    linear_probe,
)
from contrastlab.analysis.probes import (
    C_GRID,
    KNN_KS,
    KNN_TEMPERATURES,
    _normalised_adjacency,
    _PropagationLayer,
    split_indices,
)
from contrastlab.errors import InputError

from .test_density import reference_graph


def clustered(
    n_per_class: int = 60, seed: int = 0, noise: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, each a few groups (tight at the default noise), in 8 dimensions."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), n_per_class)
    centres = rng.normal(size=(12, 8))
    group = rng.integers(0, 4, y.size) + 4 * y
    X = centres[group] + noise * rng.normal(size=(y.size, 8))
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
    assert result.info["C"] in (0.001, 0.01, 0.1, 1.0) and result.name == "linear"
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.accuracy = 0.0  # type: ignore[misc]
    # easy blobs: several C's tie on validation, and the tie goes to the strongest regularisation
    fit, val = split_indices(y[:100], 0.1, seed=0)
    scaler = StandardScaler().fit(X[fit])
    scores = {
        C: np.mean(
            reference_logistic(scaler.transform(X[fit]), y[fit], C).predict(
                scaler.transform(X[val])
            )
            == y[val]
        )
        for C in C_GRID
    }
    tied = [C for C in C_GRID if scores[C] == max(scores.values())]
    assert len(tied) > 1 and result.info["C"] == min(tied)


def test_knn_probe(split):
    result = knn_probe(*split)
    assert result.accuracy > 0.9 and result.params == 0 and result.name == "knn"
    assert set(result.info["test_accuracy"]) == {
        "k=20,T=0.07",
        "k=200,T=0.07",
        "k=20,T=0.1",
        "k=200,T=0.1",
    }


def test_gcn_probe_learns(split):
    result = gcn_probe(*split, epochs=50, patience=20)
    assert result.accuracy > 0.9 and result.name == "gcn"
    assert result.info["graph"] == "dense" and result.info["nodes"] == 180
    # (K+1) x 16 label table, two propagation layers with self weight and bias, BatchNorm
    assert result.params == 4 * 16 + (16 * 16 + 1 + 16) + 2 * 16 + (16 * 3 + 1 + 3)


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
    with pytest.raises(InputError, match="^train_features has non-finite"):
        knn_probe(bad, train_y, test_X, test_y)
    # each message names the argument at fault
    with pytest.raises(InputError, match="^test_features has non-finite"):
        knn_probe(train_X, train_y, np.where(test_X > 1, np.inf, test_X), test_y)
    with pytest.raises(InputError, match="^train_features needs at least 2 rows"):
        linear_probe(train_X[:1], train_y[:1], test_X, test_y)
    with pytest.raises(InputError, match="^train_labels has 119 labels"):
        linear_probe(train_X, train_y[1:], test_X, test_y)
    with pytest.raises(InputError, match="^test_labels has 59 labels"):
        knn_probe(train_X, train_y, test_X, test_y[1:])
    for fraction in (0.0, 1.0):
        with pytest.raises(InputError, match="val_fraction"):
            knn_probe(train_X, train_y, test_X, test_y, val_fraction=fraction)
    for name, value in (("width", 0), ("epochs", 1.5), ("patience", True)):
        with pytest.raises(InputError, match=f"^{name} must be an integer >= 1"):
            gcn_probe(train_X, train_y, test_X, test_y, **{name: value})
    # the smallest valid inputs: two classes, one test row, one epoch
    two = train_y < 2
    assert knn_probe(train_X[two], train_y[two], test_X[:1], test_y[:1]).predictions.shape == (1,)
    one = gcn_probe(train_X, train_y, test_X, test_y, epochs=1)
    assert one.info["best_epoch"] == one.info["epochs_run"] == 1 and 0 <= one.val_accuracy <= 1


def test_split_indices_hold_out_a_stratified_fraction():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    kept, held = split_indices(y, 0.2, seed=0)
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(100))
    assert np.all(np.diff(kept) > 0) and np.all(np.diff(held) > 0)  # sorted, disjoint
    assert np.array_equal(np.bincount(y[held]), [12, 6, 2])  # each class in proportion
    assert not np.array_equal(split_indices(y, 0.2, seed=1)[1], held)  # the seed picks it
    assert np.array_equal(split_indices(y, 0.2, seed=0)[1], held)
    assert np.array_equal(split_indices(y, 0.2)[1], held)  # seed 0 by default
    # a class of one row cannot be stratified: a plain split of the same size
    lone = np.append(y, 3)
    kept, held = split_indices(lone, 0.2, seed=0)
    assert len(held) == 20 and len(kept) == 81
    # too few held-out rows for every class (3 classes, 2 held out): plain split too
    assert len(split_indices(y, 0.02, seed=0)[1]) == 2
    assert len(split_indices(y, 0.001, seed=0)[1]) == 1  # at least one row held out
    assert split_indices([0, 1], 0.5)[1].size == 1  # one kept, one held out
    assert len(split_indices(y, 0.98)[0]) == 2  # fewer kept rows than classes: plain split
    # a class of exactly two rows is still stratified: one of them held out, whatever the seed
    pair = np.repeat([0, 1], [8, 2])
    assert all(pair[split_indices(pair, 0.5, seed)[1]].sum() == 1 for seed in range(5))
    with pytest.raises(InputError, match="too few rows"):
        split_indices([0, 1], 0.9)


def test_probe_results_as_json(split):
    import json

    for result in (linear_probe(*split), knn_probe(*split)):
        data = json.loads(json.dumps(result.to_json()))
        assert data["name"] == result.name and data["params"] == result.params
        assert data["accuracy"] == result.accuracy
        assert data["val_accuracy"] == result.val_accuracy
        assert set(data["info"]) == set(result.info)


# --- model choice on validation, against independent references --------------------------------

C_VAL_FRACTION = 0.3
BEST_C = 0.1  # the fixture below makes this C, neither end of the grid, the validation choice


def reference_logistic(X: np.ndarray, codes: np.ndarray, C: float) -> Any:
    """scikit-learn's multinomial logistic regression at ``C``, solved tightly."""
    return LogisticRegression(C=C, max_iter=1000, tol=1e-8).fit(X, codes)


def clear_votes(model: Any, X: np.ndarray) -> np.ndarray:
    """Rows whose two best decision values are well apart (no near-ties between classes)."""
    scores = np.sort(model.decision_function(X), axis=1)
    gap = scores[:, -1] - scores[:, -2]
    return gap > 0.1 * np.median(gap)


@pytest.fixture(scope="module")
def c_case() -> tuple[np.ndarray, ...]:
    """Three Gaussian classes in 12 dimensions whose validation split rewards ``C = 0.1`` only.

    The rows the probe fits on are plain draws. Each validation row is then moved to a fresh
    draw that logistic regression at ``C = 0.1`` (fitted on those rows) puts in the row's class
    and another ``C`` of the grid, in turn, does not, both with a clear margin; so ``C = 0.1``
    scores 1 on validation and every other ``C`` clearly less. Test rows are further draws.
    """
    rng = np.random.default_rng(0)
    means = 1.5 * np.eye(3, 12)
    train_y = np.repeat(np.arange(3), [50, 30, 20])
    fit, val = split_indices(train_y, C_VAL_FRACTION, seed=0)
    train_X = means[train_y] + rng.normal(size=(len(train_y), 12))
    scaler = StandardScaler().fit(train_X[fit])
    models = {
        C: reference_logistic(scaler.transform(train_X[fit]), train_y[fit], C) for C in C_GRID
    }
    pool_y = rng.integers(0, 3, 4000)
    pool = scaler.transform(means[pool_y] + rng.normal(size=(4000, 12)))
    predicted = {C: m.predict(pool) for C, m in models.items()}
    clear = {C: clear_votes(m, pool) for C, m in models.items()}
    others = [C for C in C_GRID if C != BEST_C]
    free = np.ones(len(pool), dtype=bool)
    for j, row in enumerate(val):
        label = train_y[row]
        for step in range(len(others)):  # the next C in turn that can be wrong on this class
            other = others[(j + step) % len(others)]
            right_here = (predicted[BEST_C] == label) & (predicted[other] != label)
            candidates = np.flatnonzero(free & clear[BEST_C] & clear[other] & right_here)
            if candidates.size:
                break
        train_X[row] = scaler.inverse_transform(pool[candidates[:1]])[0]
        free[candidates[0]] = False
    test = np.flatnonzero(free)[:150]
    return train_X, train_y, scaler.inverse_transform(pool[test]), pool_y[test]


def test_linear_probe_chooses_C_on_validation_as_sklearn(c_case):
    train_X, train_y, test_X, test_y = c_case
    result = linear_probe(*c_case, val_fraction=C_VAL_FRACTION)
    # an independent grid search over the probe's validation split
    fit, val = split_indices(train_y, C_VAL_FRACTION, seed=0)
    scaler = StandardScaler().fit(train_X[fit])
    val_scores = {}
    for C in C_GRID:
        model = reference_logistic(scaler.transform(train_X[fit]), train_y[fit], C)
        val_scores[C] = np.mean(model.predict(scaler.transform(train_X[val])) == train_y[val])
    best = max(val_scores, key=lambda C: val_scores[C])
    assert best == BEST_C and best not in (C_GRID[0], C_GRID[-1], 1.0)  # 1.0: sklearn's default
    assert val_scores[best] - max(v for C, v in val_scores.items() if C != best) > 0.1
    assert result.info["C"] == best
    assert result.val_accuracy == pytest.approx(val_scores[best])
    # refit on train + validation at the chosen C, standardised on both, as the docstring says
    scaler = StandardScaler().fit(train_X)
    expected = {
        C: reference_logistic(scaler.transform(train_X), train_y, C).predict(
            scaler.transform(test_X)
        )
        for C in C_GRID
    }
    assert np.array_equal(result.predictions, expected[best])
    assert result.accuracy == pytest.approx(np.mean(expected[best] == test_y))
    # the choice shows: every other C predicts some test rows differently
    assert all(np.mean(expected[C] != expected[best]) > 0.02 for C in C_GRID if C != best)


KNN_VAL_FRACTION = 0.2
KNN_BEST = (200, 0.07)  # the fixture below makes this pair, not the grid's first, the choice


@pytest.fixture(scope="module")
def knn_case() -> tuple[np.ndarray, ...]:
    """Three overlapping classes of 250, 100 and 50 rows whose validation split rewards one pair.

    The bank the probe chooses with (the rows outside validation) is plain draws. Each
    validation row is moved to a fresh draw that the weighted kNN vote at ``(200, 0.07)``
    classifies as the row's class and another pair of the grid, in turn, does not, while such
    draws last (otherwise to one that every pair classifies right). A sixth of the test rows
    are draws on which the pairs disagree.
    """
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 6))
    train_y = np.repeat(np.arange(3), [250, 100, 50])
    fit, val = split_indices(train_y, KNN_VAL_FRACTION, seed=0)
    train_X = centres[train_y] + 0.8 * rng.normal(size=(len(train_y), 6))
    pool_y = rng.integers(0, 3, 5000)
    pool = centres[pool_y] + 0.8 * rng.normal(size=(len(pool_y), 6))
    votes = {
        (k, T): knn_classify(train_X[fit], train_y[fit], pool, k, T)
        for T in KNN_TEMPERATURES
        for k in KNN_KS
    }
    others = [pair for pair in votes if pair != KNN_BEST]
    every_pair = np.stack(list(votes.values()))
    free = np.ones(len(pool), dtype=bool)
    for j, row in enumerate(val):
        other, label = others[j % len(others)], train_y[row]
        candidates = np.flatnonzero(free & (votes[KNN_BEST] == label) & (votes[other] != label))
        if not candidates.size:
            candidates = np.flatnonzero(free & (every_pair == label).all(axis=0))
        train_X[row] = pool[candidates[0]]
        free[candidates[0]] = False
    # test rows: draws where the pairs of the grid disagree, then plain draws
    disputed = free & (every_pair != every_pair[0]).any(axis=0)
    test = np.concatenate([np.flatnonzero(disputed)[:50], np.flatnonzero(free & ~disputed)[:250]])
    return train_X, train_y, pool[test], pool_y[test]


def test_knn_probe_chooses_k_and_T_on_validation(knn_case):
    train_X, train_y, test_X, test_y = knn_case
    result = knn_probe(*knn_case, val_fraction=KNN_VAL_FRACTION)
    fit, val = split_indices(train_y, KNN_VAL_FRACTION, seed=0)
    val_scores = {
        (k, T): knn_accuracy(train_X[fit], train_y[fit], train_X[val], train_y[val], k, T)[k]
        for T in KNN_TEMPERATURES
        for k in KNN_KS
    }
    ranked = sorted(val_scores.values())
    best = max(val_scores, key=lambda pair: val_scores[pair])
    assert best == KNN_BEST and ranked[-1] > ranked[-2]  # one clear validation choice
    k, T = best
    assert result.info["chosen"] == f"k={k},T={T}"
    assert result.val_accuracy == val_scores[best]
    # the train + validation bank classifies the test set at the chosen pair
    assert result.accuracy == knn_accuracy(train_X, train_y, test_X, test_y, k, T)[k]
    assert np.array_equal(result.predictions, knn_classify(train_X, train_y, test_X, k, T))
    # and the usually quoted test figures are those of every pair on the same bank
    for (k, T), _ in val_scores.items():
        expected = knn_accuracy(train_X, train_y, test_X, test_y, k, T)[k]
        assert result.info["test_accuracy"][f"k={k},T={T}"] == expected


@pytest.mark.parametrize("seed", [0, 1])
def test_probe_seed_picks_the_validation_split(knn_case, seed):
    train_X, train_y, test_X, test_y = knn_case
    result = knn_probe(*knn_case, val_fraction=KNN_VAL_FRACTION, seed=seed)
    fit, val = split_indices(train_y, KNN_VAL_FRACTION, seed=seed)
    k, T = (float(v.split("=")[1]) for v in result.info["chosen"].split(","))
    expected = knn_accuracy(train_X[fit], train_y[fit], train_X[val], train_y[val], int(k), T)
    assert result.val_accuracy == expected[int(k)]
    assert result.info["val_accuracy"] == {
        f"k={kk},T={TT}": knn_accuracy(
            train_X[fit], train_y[fit], train_X[val], train_y[val], kk, TT
        )[kk]
        for TT in KNN_TEMPERATURES
        for kk in KNN_KS
    }


def _rival_predictions(probe: str, case: tuple[np.ndarray, ...]) -> np.ndarray:
    """Test predictions of a model the probe should not choose (another C, (k, T) or epoch)."""
    train_X, train_y, test_X, _ = case
    if probe == "linear":
        scaler = StandardScaler().fit(train_X)
        model = reference_logistic(scaler.transform(train_X), train_y, C_GRID[-1])
        return model.predict(scaler.transform(test_X))
    if probe == "knn":
        return knn_classify(train_X, train_y, test_X, KNN_KS[-1], KNN_TEMPERATURES[-1])
    early = gcn_probe(*case, epochs=1)
    assert early.predictions is not None
    return early.predictions


@pytest.mark.parametrize("probe", ["linear", "knn", "gcn"])
def test_test_labels_change_only_the_reported_accuracy(probe, request):
    """Scrambled test labels, or labels that make a rival choice perfect on test, change nothing
    but the accuracy: no choice (C, (k, T), epoch, graph) and no prediction reads them."""
    case = request.getfixturevalue({"linear": "c_case", "knn": "knn_case", "gcn": "split"}[probe])
    run: Callable[..., ProbeResult] = {
        "linear": lambda *a: linear_probe(*a, val_fraction=C_VAL_FRACTION),
        "knn": lambda *a: knn_probe(*a, val_fraction=KNN_VAL_FRACTION),
        "gcn": lambda *a: gcn_probe(*a, epochs=15),
    }[probe]
    train_X, train_y, test_X, test_y = case
    rival = _rival_predictions(probe, case)
    honest = run(*case)
    assert honest.predictions is not None
    # the rival is perfect on its own labels and the honest choice is not: a choice that
    # looked at test labels would take the rival and its predictions
    assert (rival != honest.predictions).any()
    for labels in (np.random.default_rng(5).permutation(test_y), rival):
        other = run(train_X, train_y, test_X, labels)
        assert np.array_equal(other.predictions, honest.predictions)
        assert other.val_accuracy == honest.val_accuracy
        choice = {k: v for k, v in honest.info.items() if k not in ("seconds", "test_accuracy")}
        assert {k: other.info[k] for k in choice} == choice
        assert other.accuracy == pytest.approx(np.mean(honest.predictions == labels))
    assert honest.accuracy == pytest.approx(np.mean(honest.predictions == test_y))


def test_gcn_probe_reports_its_best_validation_epoch():
    """The GCN's test nodes here duplicate its validation nodes, so the test accuracy recomputes
    the validation accuracy of the model whose predictions are reported. On these overlapping
    groups at lr 0.5 training is erratic: the last epochs are worse on validation than earlier
    ones (checked by hand: keeping the last epoch fails here), so the choice shows."""
    X, y = clustered(20, noise=0.4)
    _, val = split_indices(y, 0.3, seed=0)

    def run(epochs: int) -> ProbeResult:
        return gcn_probe(X, y, X[val], y[val], val_fraction=0.3, epochs=epochs, patience=12, lr=0.5)

    final = run(12)
    assert final.accuracy == pytest.approx(final.val_accuracy, abs=1e-6)
    assert final.info["epochs_run"] == 12  # patience 12: no early stop
    # the chosen epoch's model, trained alone, is the one reported
    best_epoch = final.info["best_epoch"]
    chosen = run(best_epoch)
    assert np.array_equal(chosen.predictions, final.predictions)
    assert chosen.val_accuracy == final.val_accuracy and chosen.info["best_epoch"] == best_epoch
    # training longer never reports a worse validation accuracy
    for epochs in (4, 8):
        assert run(epochs).val_accuracy <= final.val_accuracy
    # the learning rate is the one asked for: a small one ends elsewhere
    slow = gcn_probe(X, y, X[val], y[val], val_fraction=0.3, epochs=12, patience=12, lr=0.01)
    assert not np.array_equal(slow.predictions, final.predictions)
    # early stopping: `patience` epochs without a better validation accuracy end the run
    early = gcn_probe(X, y, X[val], y[val], val_fraction=0.3, epochs=60, patience=3, lr=0.5)
    assert early.info["epochs_run"] == min(60, early.info["best_epoch"] + 3)
    assert early.info["epochs_run"] < 60


def test_gcn_probe_graph_options(split, monkeypatch):
    """``top_k`` changes the graph the GCN propagates over; above ``GCN_DENSE_MAX_NODES`` nodes
    the probe switches to the top-``GCN_TOP_K`` graph by itself."""
    from contrastlab.analysis import probes

    X, y = clustered(30, noise=0.5)
    case = (X[:60], y[:60], X[60:], y[60:])
    dense = gcn_probe(*case, epochs=10)
    assert dense.predictions is not None
    every_entry = gcn_probe(*case, epochs=10, top_k=89)  # N - 1: the dense graph again
    assert np.mean(every_entry.predictions == dense.predictions) > 0.9
    nearest_only = gcn_probe(*case, epochs=10, top_k=1)
    assert nearest_only.info["graph"] == "top_k" and nearest_only.info["top_k"] == 1
    assert not np.array_equal(nearest_only.predictions, dense.predictions)
    monkeypatch.setattr(probes, "GCN_DENSE_MAX_NODES", 90)  # = the nodes here: still dense
    assert gcn_probe(*case, epochs=1).info["graph"] == "dense"
    monkeypatch.setattr(probes, "GCN_DENSE_MAX_NODES", 89)
    switched = gcn_probe(*case, epochs=1)
    assert switched.info["graph"] == "top_k" and switched.info["top_k"] == probes.GCN_TOP_K


@pytest.mark.parametrize("t", [0.5, 0.05])
@pytest.mark.parametrize("top_k", [None, 5])
def test_gcn_graph_is_symmetrically_normalised(top_k, t):
    """``A = D^-1/2 W D^-1/2`` of RLD's W (top-k per row, symmetrised), against dense float64."""
    X, _ = clustered(10)
    W = reference_graph(X, t)
    if top_k is not None:
        kept = W >= np.sort(W, axis=1)[:, [-top_k]]
        W = np.where(kept | kept.T, W, 0.0)  # W is symmetric: max(W, W^T) over kept entries
    degree = W.sum(axis=1)
    expected = W / np.sqrt(np.outer(degree, degree))
    A = _normalised_adjacency(X, t, top_k)
    dense = (A.to_dense() if A.is_sparse else A).numpy().astype(np.float64)
    # entries below 1e-12 of the largest may be dropped (at t = 0.05 some are)
    assert np.allclose(dense, expected, rtol=1e-5, atol=1e-7 * expected.max())


def test_gcn_layer_propagates_over_the_graph():
    """One layer is ``A (H Theta) + s H Theta + b``, against numpy in float64."""
    rng = np.random.default_rng(4)
    layer = _PropagationLayer(4, 3).double()
    with torch.no_grad():
        layer.self_weight.fill_(0.7)
        layer.bias.copy_(torch.from_numpy(rng.normal(size=3)))
    W = rng.random((6, 6))
    A, H = W + W.T, rng.normal(size=(6, 4))
    theta = layer.linear.weight.detach().numpy().T
    expected = A @ (H @ theta) + 0.7 * H @ theta + layer.bias.detach().numpy()
    out = layer(torch.from_numpy(A), torch.from_numpy(H)).detach().numpy()
    assert np.allclose(out, expected, rtol=1e-12, atol=1e-12)
