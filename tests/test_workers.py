"""``contrastlab.workers.run_in_processes`` with real spawned processes: results in the order of
the calls, every log line forwarded (the last ones included), one thread per worker, the first
error raised in the caller, and the same results when everything runs here."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest

from contrastlab.errors import InputError
from contrastlab.workers import run_in_processes


def _slow_square(x: int, pause: float, log: Callable[[str], Any]) -> tuple[int, int, int, int]:
    """x squared after ``pause`` seconds (so later calls can end first), logging before and
    after, with the worker's pid, torch's thread count and the most threads any native pool
    (OpenMP, BLAS) may use."""
    import torch
    from threadpoolctl import threadpool_info

    log(f"start {x}")
    time.sleep(pause)
    log(f"end {x}")
    native = max(pool["num_threads"] for pool in threadpool_info())
    return x * x, os.getpid(), torch.get_num_threads(), native


def _chatty(x: int, log: Callable[[str], Any]) -> int:
    """Many lines just before returning: some are still in the queue when the result is in."""
    for line in range(2000):
        log(f"{x}:{line}")
    return x


def _fails_on_two(x: int, log: Callable[[str], Any]) -> int:
    """Job 2 fails at once; job 1 logs a line after that, while the caller waits for it."""
    if x == 1:
        time.sleep(1.0)
        log("late line")
    if x == 2:
        raise InputError(f"bad job {x}")
    return x


def test_results_come_in_call_order_with_every_line_from_separate_single_threaded_workers():
    lines: list[str] = []
    # The first call sleeps longest, so the jobs end in the reverse of their order.
    calls = [(1, 1.5), (2, 0.5), (3, 0.0)]
    results = run_in_processes(_slow_square, calls, workers=3, log=lines.append)
    assert [r[0] for r in results] == [1, 4, 9]
    pids = {r[1] for r in results}
    assert len(pids) == 3 and os.getpid() not in pids
    assert {r[2] for r in results} == {1} and {r[3] for r in results} == {1}
    assert sorted(lines) == sorted(f"{w} {x}" for x in (1, 2, 3) for w in ("start", "end"))


def test_lines_logged_just_before_a_job_returns_are_not_lost():
    lines: list[str] = []
    assert run_in_processes(_chatty, [(1,), (2,)], workers=2, log=lines.append) == [1, 2]
    assert sorted(lines) == sorted(f"{x}:{line}" for x in (1, 2) for line in range(2000))


def test_one_worker_runs_here_in_order_with_the_same_results():
    lines: list[str] = []
    results = run_in_processes(_slow_square, [(2, 0.0), (3, 0.0)], workers=1, log=lines.append)
    assert [(r[0], r[1]) for r in results] == [(4, os.getpid()), (9, os.getpid())]
    assert lines == ["start 2", "end 2", "start 3", "end 3"]


def test_a_jobs_error_is_raised_in_the_caller_after_the_running_jobs_lines():
    lines: list[str] = []
    with pytest.raises(InputError, match="bad job 2"):
        run_in_processes(_fails_on_two, [(1,), (2,), (3,)], workers=2, log=lines.append)
    assert lines == ["late line"]


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_bad_workers_is_a_value_error(workers: Any):
    with pytest.raises(ValueError, match="workers: must be an integer >= 1"):
        run_in_processes(_slow_square, [(1, 0.0)], workers=workers, log=print)
