"""``report.diagnostics``: the files of a diagnostics result, and the whole ``analyze`` job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from contrastlab import analysis
from contrastlab.errors import InputError
from contrastlab.report.diagnostics import analyze_file, write_diagnostics


@pytest.fixture(scope="module")
def embeddings() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    y = np.repeat([0, 1, 2], 20)
    return rng.normal(size=(60, 5)) + 2.0 * np.eye(3, 5)[y], y


def test_write_diagnostics_writes_the_result(embeddings, tmp_path: Path):
    X, y = embeddings
    result = analysis.diagnose(X, y, ts=(0.5, 0.1), ks=(1, 5), probes=False, cluster=y % 2)
    path = write_diagnostics(result, tmp_path / "out", name="some/dir/emb.npz")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["file"] == "some/dir/emb.npz" and list(metrics)[0] == "file"
    assert metrics["rld"]["rld"] == pytest.approx(list(result.rld.values), abs=0)
    assert metrics["purity"] == {"1": result.purity[1], "5": result.purity[5]}
    assert metrics["calinski_harabasz"] == result.calinski_harabasz
    assert metrics["clusters"] == pytest.approx(result.clusters)
    page = path.read_text()
    assert path == tmp_path / "out" / "report.html"
    assert "Embedding diagnostics: emb.npz" in page and "60 embeddings of dimension 5" in page
    assert page.count("<img") == 3 and "Cluster preservation" in page and "Probes" not in page
    assert "(60 points shown)" in page


def test_analyze_file_reads_diagnoses_and_writes(embeddings, tmp_path: Path):
    X, y = embeddings
    np.savez(tmp_path / "e.npz", features=X, labels=y)
    lines: list[str] = []
    path = analyze_file(tmp_path / "e.npz", tmp_path / "o", ts=0.2, ks=3, seed=1, log=lines.append)
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    direct = analysis.diagnose(X, y, ts=0.2, ks=3, seed=1)
    assert metrics["rld"]["rld"] == pytest.approx(list(direct.rld.values), abs=1e-15)
    assert metrics["probes"]["knn"]["accuracy"] == direct.probes["knn"].accuracy  # type: ignore[index]
    assert "clusters" not in metrics and "Probes" in path.read_text()
    assert lines[0] == "RLD at t = 0.2 (60 rows)" and any("gcn probe" in line for line in lines)


def test_analyze_file_checks_the_output_folder_first(tmp_path: Path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(InputError, match="is an existing file"):
        analyze_file(tmp_path / "absent.npz", blocker)  # the output, before the missing input
    with pytest.raises(FileNotFoundError, match="no such file"):
        analyze_file(tmp_path / "absent.npz", tmp_path / "out")
    assert not (tmp_path / "out").exists()
