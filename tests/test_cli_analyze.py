"""``contrastlab analyze FILE.npz --out DIR``: a full run, and bad files -> exit 2, one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from contrastlab.cli import main


@pytest.fixture(scope="module")
def digits_file(tmp_path_factory) -> Path:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    path = tmp_path_factory.mktemp("data") / "digits.npz"
    rng = np.random.default_rng(0)
    rows = rng.choice(len(X), 240, replace=False)
    np.savez(
        path, features=X[rows], labels=y[rows], cluster=y[rows] % 2, source=np.arange(240) // 2
    )
    return path


def test_full_run(digits_file, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(["analyze", str(digits_file), "--out", str(out), "--ks", "1", "10", "1000"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["rows"] == 240 and metrics["classes"] == 10
    assert metrics["rld"]["ts"] == [1.0, 0.5, 0.2, 0.1, 0.05]
    assert all(-1 <= v <= 1 for v in metrics["rld"]["rld"])
    assert set(metrics["purity"]) == {"1", "10", "1000"}
    assert set(metrics["probes"]) == {"linear", "knn", "gcn"}
    assert metrics["probes"]["knn"]["accuracy"] > 0.8
    assert {"within_between", "intertwining_gap", "kmeans_nmi"} <= set(metrics["clusters"])
    html = (out / "report.html").read_text()
    assert html.count("<img") == 3 and "Probes" in html and "Cluster preservation" in html
    assert "report:" in capsys.readouterr().out


def bad_files(folder: Path) -> dict[str, tuple[Path, str]]:
    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.arange(30) % 3
    with_nan = X.copy()
    with_nan[2, 1] = np.nan
    cases = {
        "missing key": ({"features": X}, "no 'labels' array"),
        "wrong shape": ({"features": X[0], "labels": y}, "features must be a 2-D array"),
        "NaN features": ({"features": with_nan, "labels": y}, "non-finite"),
        "label count": ({"features": X, "labels": y[:20]}, "20 labels but there are 30 rows"),
        "cluster count": ({"features": X, "labels": y, "cluster": y[:5]}, "cluster has 5 labels"),
    }
    out = {}
    for i, (name, (arrays, message)) in enumerate(cases.items()):
        path = folder / f"bad{i}.npz"
        np.savez(path, **arrays)
        out[name] = (path, message)
    junk = folder / "junk.npz"
    junk.write_text("not a zip")
    out["not an npz"] = (junk, "not a readable .npz file")
    out["missing file"] = (folder / "absent.npz", "no such file")
    return out


def test_bad_files_exit_2_with_one_line(tmp_path):
    for name, (path, message) in bad_files(tmp_path).items():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "contrastlab",
                "analyze",
                str(path),
                "--out",
                str(tmp_path / "o"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2, name
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (name, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_bench_rld_smoke(tmp_path, capsys):
    args = ["bench", "rld", "--n", "300", "--dim", "8", "--eager", "--check-rows", "100"]
    assert main([*args, "--purity-k", "50", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["float32_max_abs_error"] < 1e-4
    assert "exact RLD" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--test-fraction", "2"], "--test-fraction must be in (0, 1)"),
        (["--ts", "0.1", "-1"], "--ts must be positive"),
        (["--ks", "0"], "--ks must be >= 1"),
    ],
)
def test_bad_parameters_exit_2(digits_file, tmp_path, capsys, extra, message):
    assert main(["analyze", str(digits_file), "--out", str(tmp_path / "o"), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
