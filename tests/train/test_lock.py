"""One run per folder: a second run is refused naming the first, a dead run's lock is taken over."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contrastlab.cli import main
from contrastlab.errors import InputError
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.lock import LOCK_FILE, run_lock

from .faults import command, env, train_args

HOLD = (
    "import sys; from contrastlab.train.lock import run_lock\n"
    "with run_lock(sys.argv[1]):\n"
    "    print('held', flush=True); sys.stdin.read()\n"
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock of ``tmp_path / "run"`` until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path / "run")],
        env=env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def test_a_second_run_into_a_held_folder_exits_2_naming_the_first(
    tmp_path: Path, holder: subprocess.Popen[str], capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert main(train_args(run, 1)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pid {holder.pid} on " in err and str(run) in err
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE]  # nothing else was written
    assert json.loads((run / LOCK_FILE).read_text())["pid"] == holder.pid  # lock left alone
    holder.stdin.close()  # type: ignore[union-attr]
    assert holder.wait(timeout=30) == 0
    assert not (run / LOCK_FILE).exists()  # removed at a normal end


def test_the_lock_of_a_killed_run_is_taken_over(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    run = tmp_path / "run"
    with pytest.raises(InputError, match=f"in use by pid {holder.pid} "):
        with run_lock(run):
            pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (run / LOCK_FILE).exists()  # a killed run cannot clean up
    said: list[str] = []
    with run_lock(run, log=said.append):
        with run_lock(run, log=said.append):  # the holder may take it again
            pass
        assert json.loads((run / LOCK_FILE).read_text())["pid"] != holder.pid
    assert len(said) == 1 and f"taking over the lock of pid {holder.pid} " in said[0]
    assert not (run / LOCK_FILE).exists()


def test_two_concurrent_trainings_one_is_refused_the_other_unharmed(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = subprocess.Popen(
        command(train_args(run, 6)), env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while not (run / LOCK_FILE).exists() or not (run / LOCK_FILE).read_text():
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    second = subprocess.run(
        command(train_args(run, 1, "--set", "train.seed=7")),
        env=env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert second.returncode == 2
    assert f"in use by pid {first.pid} " in second.stderr and second.stderr.count("\n") == 1
    assert first.wait(timeout=180) == 0, first.stderr.read().decode()  # type: ignore[union-attr]
    assert load_checkpoint(run / "checkpoint.pt")["epoch"] == 6
    records = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert "seed: 0" in (run / "config.yaml").read_text()  # the first run's, not the second's
