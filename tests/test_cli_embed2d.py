"""``contrastlab embed2d`` end to end at a tiny size, and its bad-input exits."""

from __future__ import annotations

import json

import numpy as np

from contrastlab.cli import main


def test_embed2d_cli_writes_metrics_and_report(tmp_path, capsys):
    from sklearn.datasets import load_digits

    digits = load_digits()
    data = tmp_path / "tiny.npz"
    np.savez(data, images=(digits.images[:150] * 255 / 16).astype(np.uint8),
             labels=digits.target[:150])  # fmt: skip
    out = tmp_path / "map"
    code = main(["embed2d", "--data", str(data), "--out", str(out), "--epochs", "1", "--quiet",
                 "--set", "batch_size=64", "--set", "tsne_iterations=30",
                 "--set", "head_epochs=2", "--set", "neighbours=3"])  # fmt: skip
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    settings = metrics["settings"]
    assert settings["stage1_epochs"] == settings["stage2_epochs"] == 1  # --epochs: both stages
    assert settings["head_epochs"] == 2 and settings["neighbours"] == 3  # --set reaches the map
    phases = metrics["contrastive"]["phases"]
    assert [phases[p]["epochs"] for p in ("stage1_128d", "head_2d", "all_2d")] == [1, 2, 1]
    assert 0.0 <= metrics["contrastive"]["knn_2d"] <= 1.0
    assert metrics["tsne"]["ran"] is True
    html = (out / "report.html").read_text()
    assert html.count("<img") == 1 and "t-SNE" in html and "head_2d" in html
    assert "contrastive 2-D kNN" in capsys.readouterr().out


def test_embed2d_cli_bad_input(tmp_path, capsys):
    assert main(["embed2d", "--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "--epochs" in capsys.readouterr().err
    assert main(["embed2d", "--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing.npz" in err
    assert main(["embed2d", "--out", str(tmp_path), "--set", "knn_k=-1"]) == 2
    assert "knn_k" in capsys.readouterr().err


def test_embed2d_cli_refuses_bad_map_keys_before_training(tmp_path, capsys):
    out = tmp_path / "map"
    assert main(["embed2d", "--out", str(out), "--set", "kernel=gaussian"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "kernel: a 2-D map needs a kernel off" in err
    assert main(["embed2d", "--out", str(out), "--set", "kernel.nu=3"]) == 2  # cauchy has no nu
    assert "kernel" in capsys.readouterr().err
    assert main(["embed2d", "--out", str(out), "--set", "optim.batch_size=8"]) == 2
    assert "unknown embed2d setting" in capsys.readouterr().err
    assert not out.exists()
