"""The README's commands and flags that no other test runs through the command line:
``embed --data`` and ``--split``, ``analyze --no-probes``, ``--seed``, ``--ts`` and ``--ks``,
``bench loss --quick`` and the installed console script. Each checks what a user relies on:
the files written, their fields and values, and that the flag changed what it says it changes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from contrastlab.cli import main

TINY_MODEL = [
    "--set", "model.widths=[8, 16]", "--set", "model.projector_hidden=32",
    "--set", "model.projector_dim=16", "--set", "train.threads=1",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _one_thread():  # type: ignore[no-untyped-def]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("commands") / "run"
    args = ["train", "--data", "digits", "--out", str(out), "--epochs", "2", "--quiet"]
    assert main([*args, "--batch-size", "128", *TINY_MODEL]) == 0
    return out


def _embed(run: Path, out: Path, *extra: str) -> tuple[np.ndarray, np.ndarray]:
    assert main(["embed", "--run", str(run), "--out", str(out), *extra]) == 0
    with np.load(out) as saved:
        return saved["features"], saved["labels"]


def weighted_knn_accuracy(
    bank: np.ndarray, bank_y: np.ndarray, query: np.ndarray, query_y: np.ndarray, k: int, t: float
) -> float:
    """Reference weighted kNN in float64: cosine top-k, class votes sum exp(sim / t)."""
    a = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    b = query / np.linalg.norm(query, axis=1, keepdims=True)
    sims = b.astype(np.float64) @ a.astype(np.float64).T
    top = np.argsort(-sims, axis=1)[:, :k]
    votes = np.zeros((len(query), int(bank_y.max()) + 1))
    for row, (index, sim) in enumerate(zip(top, np.take_along_axis(sims, top, axis=1))):
        np.add.at(votes[row], bank_y[index], np.exp(sim / t))
    return float(np.mean(votes.argmax(axis=1) == query_y))


def test_embed_splits_hold_the_features_the_run_was_scored_on(run_dir: Path, tmp_path: Path):
    train_x, train_y = _embed(run_dir, tmp_path / "train.npz", "--split", "train")
    test_x, test_y = _embed(run_dir, tmp_path / "test.npz", "--split", "test")
    all_x, all_y = _embed(run_dir, tmp_path / "all.npz")  # default: all = train then test
    assert train_x.shape == (1437, 16) and test_x.shape == (360, 16)
    np.testing.assert_array_equal(all_x, np.concatenate([train_x, test_x]))
    np.testing.assert_array_equal(all_y, np.concatenate([train_y, test_y]))
    # The run's own final kNN numbers (config eval: k = 20 and 200, T = 0.1) come back from the
    # embedded features: embed loads the trained weights, the run's split and its transform.
    final = json.loads((run_dir / "metrics.json").read_text())["final"]
    for k in (20, 200):
        expected = weighted_knn_accuracy(train_x, train_y, test_x, test_y, k, 0.1)
        assert final[f"knn_top1_k{k}"] == pytest.approx(expected, abs=1e-9)


def test_embed_data_embeds_another_source_with_the_runs_model(run_dir: Path, tmp_path: Path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    pick = np.random.default_rng(3).permutation(len(digits.target))[:150]
    images = np.round(digits.images[pick] * 255 / 16).astype(np.uint8)  # digits' own encoding
    labels = (digits.target[pick] + 3) % 10  # other labels than the images' own
    np.savez(tmp_path / "other.npz", images=images, labels=labels)
    features, got = _embed(run_dir, tmp_path / "f.npz", "--data", f"npz:{tmp_path / 'other.npz'}")
    assert features.shape == (150, 16) and sorted(got) == sorted(labels)
    # Each image was embedded by the run's backbone: its features are those the run's own data
    # give for the same image (found by the nearest row, to float32 rounding).
    own, own_labels = _embed(run_dir, tmp_path / "own.npz")
    distance = np.abs(features[:, None, :] - own[None, :, :]).max(axis=2)
    nearest = distance.argmin(axis=1)
    assert distance.min(axis=1).max() < 1e-4
    np.testing.assert_array_equal((own_labels[nearest] + 3) % 10, got)


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rows = np.random.default_rng(0).choice(len(X), 240, replace=False)
    path = tmp_path_factory.mktemp("analyze") / "digits.npz"
    np.savez(path, features=X[rows], labels=y[rows])
    return path


def _analyze(file: Path, out: Path, *extra: str) -> tuple[dict[str, Any], str]:
    assert main(["analyze", str(file), "--out", str(out), *extra]) == 0
    return json.loads((out / "metrics.json").read_text()), (out / "report.html").read_text()


def _without_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k != "seconds"}
    return value


def _scatter_png(html: str) -> str:
    return re.findall(r'src="data:image/png;base64,([^"]+)"', html)[-1]  # the 2-D view is last


def test_analyze_seed_no_probes_ts_and_ks(digits_file: Path, tmp_path: Path, monkeypatch):
    # Above this many rows the 2-D view shows a seeded random subsample (5000 by default).
    monkeypatch.setattr("contrastlab.analysis.diagnostics.MAX_SCATTER_POINTS", 100)
    first, first_html = _analyze(digits_file, tmp_path / "a", "--seed", "7")
    again, again_html = _analyze(digits_file, tmp_path / "b", "--seed", "7")
    other, other_html = _analyze(digits_file, tmp_path / "c", "--seed", "8")
    # same seed, same result; another seed draws another probe split and another 2-D subsample
    assert _without_times(first) == _without_times(again)
    assert _scatter_png(first_html) == _scatter_png(again_html)
    assert _without_times(first["probes"]) != _without_times(other["probes"])
    # kNN over the whole training part for every (k, T): a function of the split alone
    knn_tables = [run["probes"]["knn"]["info"]["test_accuracy"] for run in (first, other)]
    assert knn_tables[0] != knn_tables[1]
    assert _scatter_png(first_html) != _scatter_png(other_html)
    for key in ("rld", "purity", "calinski_harabasz"):  # the seed touches nothing else
        assert first[key] == other[key]

    bare, bare_html = _analyze(
        digits_file, tmp_path / "d", "--seed", "7", "--no-probes", "--ts", "0.5", "0.1",
        "--ks", "5", "1",
    )  # fmt: skip
    assert "probes" not in bare and "Probes" not in bare_html and "Probes" in first_html
    assert bare["rld"]["ts"] == [0.5, 0.1] and set(bare["purity"]) == {"1", "5"}
    for t, value in zip(first["rld"]["ts"], first["rld"]["rld"]):  # same RLD at shared t
        if t in (0.5, 0.1):
            assert bare["rld"]["rld"][bare["rld"]["ts"].index(t)] == pytest.approx(value)
    assert bare["purity"]["1"] == first["purity"]["1"]


def test_bench_loss_quick_measures_the_smallest_batch_only(tmp_path: Path):
    from contrastlab.bench.loss import BATCHES, QUEUE_SIZES

    args = ["bench", "loss", "--quick", "--kernels", "cosine", "--repeats", "1"]
    args += ["--queue-kernels", "cosine"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    rows = metrics["rows"]
    assert {r["batch"] for r in rows} == {min(BATCHES)} and min(BATCHES) < max(BATCHES)
    assert {"blockwise", "dense"} <= {r["path"] for r in rows}
    for row in rows:
        assert row["kernel"] == "cosine" and row["seconds"] > 0 and row["floor_seconds"] > 0
        assert row["ratio_to_floor"] == pytest.approx(row["seconds"] / row["floor_seconds"])
        assert row["peak_mb"] >= 0
    # the queue rows at the smallest queue only: B = 256 against K = 4,096
    assert {(r["batch"], r["queue"]) for r in metrics["queue_rows"]} == {(256, min(QUEUE_SIZES))}
    (target,) = metrics["targets"]
    assert target.startswith(f"B={min(BATCHES)} cosine: blockwise")
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()


def test_the_installed_console_script_passes_the_exit_code_on():
    from contrastlab import __version__

    script = Path(sys.executable).with_name("contrastlab")
    if not script.is_file():
        pytest.skip("no console script beside this interpreter (package not pip-installed)")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == __version__
    bad = subprocess.run([str(script), "bench", "rld", "--n", "1"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "--n must be >= 2, got 1" in bad.stderr
