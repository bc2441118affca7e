"""``bench loss --device`` and ``bench rld --device`` on the device, and the prepared GPU check
(``scripts/gpu_check.sh``) end to end: on a machine without CUDA its GPU steps say skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from contrastlab.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_bench_loss_runs_on_the_device(device, tmp_path, capsys) -> None:
    args = ["bench", "loss", "--kernels", "cosine,laplacian", "--batches", "32", "--repeats", "1"]
    args += ["--queue-sizes", "64", "--queue-batch", "8", "--queue-kernels", "student_t"]
    assert main([*args, "--device", str(device), "--out", str(tmp_path / "o")]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    rows = metrics["rows"]
    # the queue rows (QueueInfoNCE) on the same device
    assert {(r["device"], r["queue"]) for r in metrics["queue_rows"]} == {(str(device), 64)}
    assert {r["device"] for r in rows} == {str(device)}
    paths = {(r["kernel"], r["path"]) for r in rows}
    assert {("cosine", "blockwise"), ("cosine", "dense"), ("laplacian", "blockwise")} <= paths
    assert ("cosine", "lightly") in paths  # lightly's NT-Xent beside the cosine rows
    assert all(r["ratio_to_floor"] > 0 and r["floor_seconds"] > 0 for r in rows)
    assert f"device {device}" in capsys.readouterr().out


def test_bench_rld_runs_on_the_device(device, tmp_path) -> None:
    args = ["bench", "rld", "--n", "400", "--dim", "8", "--eager", "--check-rows", "200"]
    out = tmp_path / "o"
    assert main([*args, "--purity-k", "10", "--device", str(device), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["device"] == str(device)
    assert metrics["float32_max_abs_error"] < 1e-4  # float32 on the device against float64


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU the script is the GPU run itself")
def test_gpu_check_script_runs_end_to_end_without_a_gpu(tmp_path) -> None:
    env = dict(os.environ, CONTRASTLAB_VENV=sys.prefix)
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path / "check")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    summary = (tmp_path / "check" / "summary.txt").read_text()
    for name in ("install", "device", "pytest_gpu"):
        assert f"{name}" in summary and "FAILED" not in summary
    for name in ("bench_loss", "bench_rld", "train_cifar10"):
        assert any(
            line.startswith(name) and "skipped (no CUDA device)" in line
            for line in summary.splitlines()
        ), summary
    assert "available False" in (tmp_path / "check" / "device.txt").read_text()
    pytest_log = (tmp_path / "check" / "pytest_gpu.log").read_text()
    assert " skipped" in pytest_log and "passed" not in pytest_log  # CUDA tests: all skipped
