"""``contrastlab.demo.run_demo`` as a library call, at a tiny size: settings' precedence, the
diagnostics against independent references, the files it writes, bad input before any work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml
from sklearn.metrics import calinski_harabasz_score

from contrastlab.demo import DEMO_KERNELS, run_demo
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
    assert list(metrics["runs"]) == list(DEMO_KERNELS) == ["cosine", "student_t"]
    for name in DEMO_KERNELS:
        config = yaml.safe_load((out / name / "config.yaml").read_text())
        assert config["data"]["source"] == "digits" and config["optim"]["batch_size"] == 128
        assert config["model"]["projector_dim"] == 16 and config["train"]["epochs"] == 1
        assert metrics["runs"][name]["epochs"] == 1
        assert f"[{name}] training with kernel {DEMO_KERNELS[name]}" in lines
    assert metrics["data"] == "digits" and metrics["seconds"] > 0


def test_diagnostics_equal_independent_references(demo):
    from contrastlab.train.runs import embed, load_run

    out, metrics, _ = demo
    for name in DEMO_KERNELS:
        features, labels = embed(load_run(out / name), "test")
        Z = features.astype(np.float64)
        Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        sims = Z @ Z.T
        np.fill_diagonal(sims, -np.inf)
        top = np.argsort(-sims, axis=1)[:, :10]
        diagnostics = metrics["runs"][name]["diagnostics"]
        purity = np.mean(labels[top] == labels[:, None])
        assert diagnostics["neighbour_purity_k10"] == pytest.approx(purity, abs=1e-9)
        ch = calinski_harabasz_score(Z, labels)
        assert diagnostics["calinski_harabasz"] == pytest.approx(ch, rel=1e-6)
        assert -1.0 <= diagnostics["rld_t0.1"] <= 1.0


def test_metrics_json_and_report_are_written(demo):
    out, metrics, _ = demo
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["runs"]["cosine"]["final"] == metrics["runs"]["cosine"]["final"]
    assert (
        saved["raw_pixels"] == metrics["raw_pixels"] and "raw_pixels" not in saved["runs"]["cosine"]
    )
    page = (out / "report.html").read_text()
    assert "Test accuracy" in page and "raw pixels" in page and page.count("<img") == 1
    assert "Cluster diagnostics of the test features" in page and str(out / "student_t") in page


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True])
def test_bad_epochs_is_an_input_error(tmp_path: Path, epochs: Any):
    lines: list[str] = []
    with pytest.raises(InputError, match="epochs must be an integer >= 1"):
        run_demo(tmp_path / "o", epochs=epochs, log=lines.append)
    assert lines == [] and not (tmp_path / "o").exists()


def test_an_output_folder_that_is_a_file_fails_before_training(tmp_path: Path):
    (tmp_path / "o").write_text("")
    lines: list[str] = []
    with pytest.raises(InputError, match="is an existing file"):
        run_demo(tmp_path / "o", epochs=1, log=lines.append)
    assert lines == []
