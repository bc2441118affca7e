"""Independent jobs on the machine's cores: one spawned process per job slot, each on one thread.

Small CPU jobs (the demo's three runs of a tiny network on digits) gain nothing from a second
thread, which mostly waits on the first, but gain nearly a core each from running side by side.
:func:`run_in_processes` runs ``function(*args, log=...)`` for each ``args`` in ``workers``
spawned processes, each with torch, OpenMP and BLAS on one thread, forwards the jobs' log lines
to the caller's ``log`` as they come and returns the results in the order of the calls. With
``workers == 1`` everything runs here, in order, with the same results (each job seeds itself).

Example, with ``def square(x, log): log(f"squaring {x}"); return x * x`` in an importable
module ``mymodule``:
    >>> from contrastlab.workers import run_in_processes
    >>> from mymodule import square  # doctest: +SKIP
    >>> run_in_processes(square, [(2,), (3,)], workers=2, log=print)  # doctest: +SKIP
    squaring 2
    squaring 3
    [4, 9]
"""

from __future__ import annotations

import multiprocessing
import queue as queues
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from typing import Any

from contrastlab.errors import check_count

__all__ = ["run_in_processes"]

#: In a worker: the queue its log lines go to (set by :func:`_start_worker`).
_LOG_QUEUE: Any = None
#: In a worker: the native thread limits, kept alive for the process's lifetime.
_LIMITS: Any = None
#: How often (seconds) the caller forwards log lines while it waits.
POLL_SECONDS = 0.2


def run_in_processes(
    function: Callable[..., Any],
    calls: Sequence[tuple[Any, ...]],
    workers: int,
    log: Callable[[str], Any],
) -> list[Any]:
    """``[function(*args, log=...) for args in calls]``, in up to ``workers`` processes.

    ``function`` must be importable by name (a module-level function) and its arguments and
    result picklable. Its ``log`` argument sends a line to the caller's ``log``. The first
    exception a job raises is raised here once the running jobs have ended; jobs not yet
    started are cancelled.

    Raises:
        InputError: ``workers`` is not an integer >= 1 (a ``ValueError``).
    """
    workers = check_count("workers", workers)
    if workers == 1 or len(calls) <= 1:
        return [function(*args, log=log) for args in calls]
    context = multiprocessing.get_context("spawn")
    # A manager's queue: a put returns once the line is with the manager, so a job's lines are
    # all there when its result is, and no worker waits at exit to flush a pipe (a plain
    # multiprocessing queue can deadlock a pool's shutdown that way after many lines).
    with context.Manager() as manager:
        lines = manager.Queue()
        pool = ProcessPoolExecutor(
            min(workers, len(calls)),
            mp_context=context,
            initializer=_start_worker,
            initargs=(lines,),
        )
        try:
            futures = [pool.submit(_call, function, args) for args in calls]
            _wait_forwarding(futures, lines, log)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            _forward(lines, log)
    # Jobs start in call order, so any cancelled job comes after the one that raised.
    return [future.result() for future in futures]


def _wait_forwarding(futures: list[Future[Any]], lines: Any, log: Callable[[str], Any]) -> None:
    """Forward log lines until every job has ended or one has raised."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_EXCEPTION)
        _forward(lines, log)
        if any(future.exception() is not None for future in done):
            return


def _forward(lines: Any, log: Callable[[str], Any]) -> None:
    """Pass the lines queued so far to ``log``."""
    while True:
        try:
            line = lines.get_nowait()
        except queues.Empty:
            return
        log(line)


def _start_worker(lines: Any) -> None:
    """A worker's start: its log queue, and torch, OpenMP and BLAS on one thread."""
    global _LOG_QUEUE, _LIMITS
    _LOG_QUEUE = lines
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    _LIMITS = threadpool_limits(1)


def _call(function: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """In a worker: ``function(*args)`` with its log lines sent to the caller."""
    return function(*args, log=_LOG_QUEUE.put)
