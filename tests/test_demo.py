"""``contrastlab.demo.run_demo`` as a library call, at a tiny size: settings' precedence, the
diagnostics, the runs' comparison and the 2-D maps against independent references, the files
it writes, bad input before any work."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import calinski_harabasz_score

from contrastlab import analysis
from contrastlab.demo import DEMO_KERNELS, PURITY_KS, RLD_TEMPERATURES, run_demo
from contrastlab.errors import InputError

TINY = [
    "model.widths=[8, 16]",
    "model.projector_hidden=32",
    "model.projector_dim=16",
    "optim.batch_size=128",  # the user's settings win over the demo's (256)
    "train.epochs=5",  # --epochs (below) wins over a --set of the same key
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[str]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("demo") / "out"
    lines: list[str] = []
    try:
        metrics = run_demo(out, epochs=1, overrides=TINY, log=lines.append)
    finally:
        torch.set_num_threads(threads)
    return out, metrics, lines


def test_each_kernel_trains_with_the_demo_settings_then_the_overrides(demo):
    out, metrics, lines = demo
    assert list(metrics["runs"]) == list(DEMO_KERNELS) == ["cosine", "student_t", "simple_sum"]
    for name in DEMO_KERNELS:
        config = yaml.safe_load((out / name / "config.yaml").read_text())
        assert config["data"]["source"] == "digits" and config["optim"]["batch_size"] == 128
        assert config["model"]["projector_dim"] == 16 and config["train"]["epochs"] == 1
        assert metrics["runs"][name]["epochs"] == 1
        assert f"[{name}] training with kernel {DEMO_KERNELS[name]}" in lines
    assert metrics["data"] == "digits" and metrics["seconds"] > 0


def _unit(X: np.ndarray) -> np.ndarray:
    Z = X.astype(np.float64)
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def _reference_knn(bank: np.ndarray, bank_y: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Weighted kNN by hand: the 20 most cosine-similar bank rows vote exp(sim / 0.1)."""
    sims = _unit(queries) @ _unit(bank).T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :20]
    votes = np.zeros((len(queries), bank_y.max() + 1))
    for row, (idx, sim) in enumerate(zip(top, np.take_along_axis(sims, top, 1), strict=True)):
        np.add.at(votes[row], bank_y[idx], np.exp(sim / 0.1))
    return votes.argmax(axis=1)


def test_diagnostics_equal_independent_references(demo):
    from contrastlab.train.runs import embed, load_run

    out, metrics, _ = demo
    for name in DEMO_KERNELS:
        features, labels = embed(load_run(out / name), "test")
        sims = _unit(features) @ _unit(features).T
        np.fill_diagonal(sims, -np.inf)
        order = np.argsort(-sims, axis=1)
        diagnostics = metrics["runs"][name]["diagnostics"]
        for k in PURITY_KS:
            purity = np.mean(labels[order[:, :k]] == labels[:, None])
            assert diagnostics["purity"][str(k)] == pytest.approx(purity, abs=1e-9)
        assert diagnostics["neighbour_purity_k10"] == diagnostics["purity"]["10"]
        ch = calinski_harabasz_score(_unit(features), labels)
        assert diagnostics["calinski_harabasz"] == pytest.approx(ch, rel=1e-6)
        for t in RLD_TEMPERATURES:  # the run's own test features, at each temperature
            rld = analysis.rld(features, labels, t=t, compile=False)
            assert diagnostics["rld"][str(t)] == pytest.approx(rld, abs=1e-9)
            assert diagnostics["rld"][str(t)] <= diagnostics["rld_upper_bound"][str(t)] + 1e-9
        assert diagnostics["rld_t0.1"] == diagnostics["rld"]["0.1"]


def test_raw_pixel_diagnostics_are_those_of_the_test_pixels(demo):
    from contrastlab.data.sources import load_source

    _, metrics, _ = demo
    digits = load_source("digits")
    pixels = digits.test_x.reshape(len(digits.test_x), -1).numpy() / 255.0
    labels = digits.test_y.numpy()
    rld = analysis.rld(pixels, labels, t=0.5, compile=False)
    assert metrics["raw_diagnostics"]["rld"]["0.5"] == pytest.approx(rld, abs=1e-7)  # float32 in
    assert metrics["raw_map"]["labels"] == labels.tolist()


def test_the_runs_comparison_counts_real_prediction_differences(demo):
    from contrastlab.train.runs import embed, load_run

    out, metrics, _ = demo
    predicted = {}
    for name in DEMO_KERNELS:
        run = load_run(out / name)
        bank, bank_y = embed(run, "train")
        predicted[name] = _reference_knn(bank, bank_y, embed(run, "test")[0])
    pairs = {(c["a"], c["b"]): c for c in metrics["comparisons"]}
    assert set(pairs) == {("cosine", "student_t"), ("cosine", "simple_sum"),
                          ("student_t", "simple_sum")}  # fmt: skip
    for (a, b), found in pairs.items():
        assert found["knn_predictions_differ"] == int(np.sum(predicted[a] != predicted[b]))
        assert found["max_similarity_difference"] > 0  # three different networks
        equal = [c for c in ("knn_top1_k20", "knn_top1_k200", "linear_top1")
                 if metrics["runs"][a]["final"][c] == metrics["runs"][b]["final"][c]]  # fmt: skip
        assert found["equal_accuracies"] == equal


def test_each_map_is_a_tsne_of_its_features_scored_by_its_own_neighbours(demo):
    _, metrics, _ = demo
    maps = [r["map"] for r in metrics["runs"].values()] + [metrics["raw_map"]]
    for found in maps:
        points, labels = np.asarray(found["points"], dtype=np.float64), np.asarray(found["labels"])
        assert points.shape == (360, 2) and np.isfinite(points).all()
        distances = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        np.fill_diagonal(distances, np.inf)
        nearest = np.argsort(distances, axis=1, kind="stable")[:, :10]
        votes = np.array([np.bincount(labels[row], minlength=10).argmax() for row in nearest])
        assert found["knn_top1_k10"] == pytest.approx(np.mean(votes == labels), abs=3 / 360)
    assert maps[0]["points"] != maps[1]["points"]


def test_metrics_json_and_report_are_written(demo):
    out, metrics, _ = demo
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["runs"]["cosine"]["final"] == metrics["runs"]["cosine"]["final"]
    assert (
        saved["raw_pixels"] == metrics["raw_pixels"] and "raw_pixels" not in saved["runs"]["cosine"]
    )
    page = (out / "report.html").read_text()
    assert "Test accuracy" in page and "raw pixels" in page and page.count("<img") == 3
    assert "Density diagnostics of the test features" in page and str(out / "simple_sum") in page
    assert "Are the runs really different?" in page and "What the numbers say" in page
    for sentence in metrics["reading"]:
        assert html.escape(sentence) in page
    assert any("raw pixels" in sentence for sentence in metrics["reading"])


def test_one_after_another_gives_what_side_by_side_gives(demo, tmp_path: Path):
    """The default trains each kernel in its own process; ``workers=1`` trains them here, in
    turn. Same settings and seeds, so the same weights: the same accuracies, losses and test
    features per kernel (a run's results filed under another kernel would differ)."""
    from contrastlab.train.runs import embed, load_run

    out, metrics, lines = demo
    serial = run_demo(tmp_path / "o", epochs=1, overrides=TINY, log=lambda _: None, workers=1)
    for name in DEMO_KERNELS:
        assert serial["runs"][name]["final"] == metrics["runs"][name]["final"]
        measured = ("loss", "knn_top1_k20", "alignment", "uniformity", "effective_rank")
        for a, b in zip(serial["runs"][name]["history"], metrics["runs"][name]["history"]):
            assert [a[key] for key in measured] == [b[key] for key in measured]
        assert serial["runs"][name]["diagnostics"] == metrics["runs"][name]["diagnostics"]
        here = embed(load_run(tmp_path / "o" / name), "test")[0]
        there = embed(load_run(out / name), "test")[0]
        np.testing.assert_array_equal(here, there)
        # Every run's last line before it returns came through from its process.
        assert f"[{name}] diagnostics: RLD across temperatures, purity over k, 2-D map" in lines
    assert serial["raw_pixels"] == metrics["raw_pixels"]


@pytest.mark.parametrize("workers", [0, 1.5, True])
def test_bad_workers_is_an_input_error(tmp_path: Path, workers: Any):
    with pytest.raises(InputError, match="workers: must be an integer >= 1"):
        run_demo(tmp_path / "o", epochs=1, workers=workers, log=print)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_bad_epochs_is_an_input_error(tmp_path: Path, epochs: Any):
    lines: list[str] = []
    with pytest.raises(InputError, match="epochs: must be an integer >= 1"):
        run_demo(tmp_path / "o", epochs=epochs, log=lines.append)
    assert lines == [] and not (tmp_path / "o").exists()


def test_an_output_folder_that_is_a_file_fails_before_training(tmp_path: Path):
    (tmp_path / "o").write_text("")
    lines: list[str] = []
    with pytest.raises(InputError, match="is an existing file"):
        run_demo(tmp_path / "o", epochs=1, log=lines.append)
    assert lines == []
