"""``analysis.diagnose`` as a library call: each number against an independent reference
(float64 formulas, scikit-learn, networkx) or, for the probes and k-means, the one function
that defines it; its options; bad input before any work."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score

from contrastlab import analysis
from contrastlab.analysis import diagnostics
from contrastlab.analysis.probes import split_indices
from contrastlab.errors import InputError

from .test_density import reference_rld


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 90)
    X = rng.normal(size=(90, 6)) + 1.2 * np.eye(3, 6)[y]
    source = np.arange(90) // 3
    cluster = y % 2
    return X, y, cluster, source


@pytest.fixture(scope="module")
def result(data) -> analysis.DiagnosticsResult:
    X, y, cluster, source = data
    return analysis.diagnose(
        X, y, ts=(1.0, 0.1), ks=(10, 1), cluster=cluster, source=source, seed=3
    )


def without_seconds(info: dict) -> dict:
    return {key: value for key, value in info.items() if key != "seconds"}


def unit(X: np.ndarray) -> np.ndarray:
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_density_numbers_equal_their_references(data, result):
    X, y, _, _ = data
    assert result.rld.ts == (1.0, 0.1)
    for t, value in zip(result.rld.ts, result.rld.values):
        assert value == pytest.approx(reference_rld(X, y, t), abs=1e-12)
    expected_ch = calinski_harabasz_score(unit(X), y)
    assert result.calinski_harabasz == pytest.approx(expected_ch, rel=1e-12)
    assert (result.rows, result.dim, result.classes) == (90, 6, 3)


def test_purity_equals_a_float64_cosine_count(data, result):
    X, y, _, _ = data
    sims = unit(X) @ unit(X).T
    np.fill_diagonal(sims, -np.inf)  # a point is not its own neighbour
    order = np.argsort(-sims, axis=1)
    assert list(result.purity) == [1, 10]  # ascending, whatever order they were asked in
    for k in (1, 10):
        expected = np.mean(y[order[:, :k]] == y[:, None])
        assert result.purity[k] == pytest.approx(expected, abs=1e-12)


def test_probes_and_clusters_equal_the_functions_that_define_them(data, result):
    X, y, cluster, source = data
    train, test = split_indices(y, 0.2, seed=3)
    assert test.size == 18 and result.probes is not None
    for name, probe in (
        ("linear", analysis.linear_probe),
        ("knn", analysis.knn_probe),
        ("gcn", analysis.gcn_probe),
    ):
        alone = probe(X[train], y[train], X[test], y[test], seed=3)
        got = result.probes[name]
        assert (got.accuracy, got.val_accuracy, got.params) == (
            alone.accuracy,
            alone.val_accuracy,
            alone.params,
        )
        np.testing.assert_array_equal(got.predictions, alone.predictions)
        assert without_seconds(got.info) == without_seconds(alone.info)
    assert result.clusters == analysis.cluster_preservation(X, cluster, source)
    assert "intertwining_gap" in result.clusters


def test_the_view_is_the_first_two_principal_components(data, result):
    X, y, _, _ = data
    expected = PCA(n_components=2).fit_transform(unit(X))
    assert result.view.shape == (90, 2)
    for column in range(2):  # each component is defined up to its sign
        sign = np.sign(expected[:, column] @ result.view[:, column])
        np.testing.assert_allclose(result.view[:, column], sign * expected[:, column], atol=1e-10)
    np.testing.assert_array_equal(result.view_labels, y)


def test_the_view_subsamples_by_seed(data, monkeypatch):
    X, y, _, _ = data
    monkeypatch.setattr(diagnostics, "MAX_SCATTER_POINTS", 40)
    first, again, other = (
        analysis.diagnose(X, y, ts=0.5, ks=1, probes=False, seed=seed) for seed in (0, 0, 1)
    )
    assert first.view.shape == (40, 2) and first.view_labels.shape == (40,)
    np.testing.assert_array_equal(first.view, again.view)
    assert not np.array_equal(first.view, other.view)


def test_to_json_holds_the_metrics_fields(result):
    metrics = result.to_json()
    assert list(metrics) == [
        "rows", "dim", "classes", "rld", "calinski_harabasz", "purity", "probes", "clusters",
        "collapse", "seconds",
    ]  # fmt: skip
    assert metrics["rld"]["rld"] == list(result.rld.values)
    assert set(metrics["collapse"]) == {"uniformity", "effective_rank"}
    assert metrics["purity"] == {"1": result.purity[1], "10": result.purity[10]}
    assert set(metrics["probes"]) == {"linear", "knn", "gcn"}


def test_options_skip_what_does_not_apply(data):
    X, y, _, _ = data
    messages: list[str] = []
    bare = analysis.diagnose(
        torch.from_numpy(X), y, ts=0.2, ks=5, probes=False, log=messages.append
    )
    assert bare.probes is None and bare.clusters is None and "probes" not in bare.to_json()
    assert messages == [
        "RLD at t = 0.2 (90 rows)",
        "neighbour purity for k = 5",
        "collapse measures: uniformity and effective rank",
    ]
    one_class = analysis.diagnose(X[:8], np.zeros(8, dtype=int), ts=0.2, ks=1)
    assert one_class.calinski_harabasz is None and one_class.probes is None
    assert "need 2+ classes and 10+ rows" in one_class.probes_note


@pytest.mark.parametrize(
    "change, message",
    [
        ({"ts": (0.1, -1.0)}, "ts must be a finite number > 0"),
        ({"ks": (0,)}, "ks must hold integers >= 1"),
        ({"test_fraction": 1.0}, "test_fraction must be in \\(0, 1\\)"),
        ({"test_fraction": 0.0}, "test_fraction must be a finite number > 0"),
        ({"cluster": np.zeros(5)}, "cluster has 5 labels but there are 90 rows"),
        ({"y": np.zeros(89)}, "y has 89 labels but there are 90 rows"),
        ({"X": np.zeros(90)}, "X must be a 2-D array"),
    ],
)
def test_bad_input_is_an_input_error_before_any_work(data, change, message):
    X, y, _, _ = data
    messages: list[str] = []
    arguments = {"X": X, "y": y, "log": messages.append, **change}
    with pytest.raises(InputError, match=message):
        analysis.diagnose(arguments.pop("X"), arguments.pop("y"), **arguments)
    assert messages == []
