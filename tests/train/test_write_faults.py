"""A run folder on a shared machine: files readable by others, failed writes that keep the last
good checkpoint and metrics (a file size limit standing in for a full disk, a read-only folder)."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.train.checkpoint import load_checkpoint

from .faults import file_size_limit, run_cli, train_args, without_root_override

RESULTS = ("checkpoint.pt", "config.yaml", "metrics.json", "metrics.jsonl", "report.html")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-epoch run under umask 022 (in this process, through the real entry point)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    previous = os.umask(0o022)
    try:
        assert main(train_args(out, 2)) == 0
    finally:
        os.umask(previous)
    return out


@pytest.fixture
def shared_copy(finished_run: Path) -> Iterator[Path]:
    """A copy of the finished run in a folder every user may enter (outside pytest's 0700
    temporary tree), removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="contrastlab-faults-"))
    base.chmod(0o755)
    run = base / "run"
    run.mkdir()
    for name in RESULTS:
        (run / name).write_bytes((finished_run / name).read_bytes())
    yield run
    run.chmod(0o755)
    for path in sorted(base.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    base.rmdir()


def _contents(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir())}


def test_result_files_are_readable_by_others(finished_run: Path) -> None:
    for name in RESULTS:
        assert stat.S_IMODE((finished_run / name).stat().st_mode) == 0o644, name


def test_a_checkpoint_that_does_not_fit_keeps_the_last_good_one(shared_copy: Path) -> None:
    before = _contents(shared_copy)
    size = len(before["checkpoint.pt"])
    # Room for config.yaml and the metrics, not for another checkpoint: the write of epoch 3's
    # checkpoint fails part way, as on a disk that fills up.
    done = run_cli(train_args(shared_copy, 3, "--resume"), preexec=file_size_limit(size // 2))
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in done.stderr
    assert f"cannot write {shared_copy / 'checkpoint.pt'}: File too large" in line
    assert "previous checkpoint.pt" in line and "is kept" in line
    after = _contents(shared_copy)
    assert after["checkpoint.pt"] == before["checkpoint.pt"]
    assert load_checkpoint(shared_copy / "checkpoint.pt")["epoch"] == 2
    assert after["metrics.jsonl"] == before["metrics.jsonl"]  # no record of the lost epoch
    assert after["metrics.json"] == before["metrics.json"]
    assert sorted(after) == sorted(before)  # no temporary file left behind
    # with room again, the run goes on from the last good checkpoint
    assert run_cli(train_args(shared_copy, 3, "--resume")).returncode == 0
    records = (shared_copy / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in records] == [1, 2, 3]


def test_a_read_only_run_folder_is_one_line_and_changes_nothing(shared_copy: Path) -> None:
    before = _contents(shared_copy)
    shared_copy.chmod(0o555)
    done = run_cli(train_args(shared_copy, 3, "--resume"), preexec=without_root_override)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "Traceback" not in done.stderr
    assert str(shared_copy) in line and "Permission denied" in line
    assert _contents(shared_copy) == before
