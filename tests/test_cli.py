"""The command line as a user meets it: help, version, bad input -> exit 2 and one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from contrastlab.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "contrastlab", *args], capture_output=True, text=True, timeout=300
    )


def test_version_and_help(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == "0.1.0"
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "bench" in capsys.readouterr().out


def test_unknown_command_exits_2_with_one_line():
    done = run_cli("frobnicate")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "invalid choice" in done.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench", "loss", "--kernels", "sinc"], "unknown kernel 'sinc'"),
        (["bench", "loss", "--batches", "1"], "--batches must be >= 2"),
        (["reproduce", "nothing", "--out", "x"], "unknown experiment 'nothing'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(args, message):
    done = run_cli(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in done.stderr


def test_bench_loss_tiny_run_writes_rows_and_report(tmp_path):
    done = run_cli(
        "bench", "loss", "--kernels", "cosine,laplacian", "--batches", "16", "--repeats", "1",
        "--queue-sizes", "64,96", "--queue-batch", "8", "--queue-kernels", "student_t",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "metrics.json").read_text())["rows"]
    paths = {(r["kernel"], r["path"]) for r in rows}
    assert {("cosine", "blockwise"), ("cosine", "dense"), ("laplacian", "blockwise")} <= paths
    for row in rows:
        assert set(row) == {
            "kernel",
            "batch",
            "device",
            "path",
            "seconds",
            "floor_seconds",
            "ratio_to_floor",
            "peak_mb",
        }
        assert row["batch"] == 16 and row["seconds"] > 0 and row["floor_seconds"] > 0
        assert row["ratio_to_floor"] == pytest.approx(row["seconds"] / row["floor_seconds"])
    queue_rows = json.loads((tmp_path / "metrics.json").read_text())["queue_rows"]
    cells = {(r["queue"], r["path"]) for r in queue_rows}
    assert cells == {(k, p) for k in (64, 96) for p in ("blockwise", "recompute", "dense")}
    for row in queue_rows:
        assert row["kernel"] == "student_t" and row["batch"] == 8 and row["floor_seconds"] > 0
        assert row["device"] == "cpu"
        assert row["ratio_to_floor"] == pytest.approx(row["seconds"] / row["floor_seconds"])
    assert "Queue rows" in (tmp_path / "report.html").read_text()
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()


def test_an_output_folder_that_is_a_file_exits_2(tmp_path, capsys):
    # a file where the run folder should go: one line naming it, no traceback
    clash = tmp_path / "run"
    clash.write_text("not a folder")
    args = ["train", "--data", "digits", "--out", str(clash), "--epochs", "1", "--quiet"]
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(clash) in lines[0]
