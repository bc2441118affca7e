"""Stopping a run on purpose: preemption by SIGTERM / SIGINT, and divergence.

Schedulers send SIGTERM before they preempt a job (and Ctrl-C sends SIGINT). While a run trains,
:func:`stop_signals` replaces the handlers of both with one that only records the signal; the
trainer finishes the step in progress, saves a checkpoint at that step (model, optimisers,
scaler, RNG states of every rank and the position in the epoch's batch order) and raises
:class:`~contrastlab.errors.Preempted` (exit code 75, ``EX_TEMPFAIL``). ``--resume`` continues
from that step and, on the CPU, reaches the weights of an uninterrupted run. The first signal
restores the previous handlers, so a second one acts at once (SIGINT: ``KeyboardInterrupt``,
exit 130; SIGTERM: the process ends, 143). Under ``torchrun`` every rank checks the flag with
one all-reduce per step (:func:`contrastlab.train.distributed.agree`), so all stop at the
same step even when the signal reaches them at different times.

A non-finite embedding or loss raises :class:`~contrastlab.errors.Diverged` (exit code 3)
before the optimiser step, naming the epoch, step and learning rate; the checkpoint on disk is
the last good one, since nothing is written after a bad step.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class StopRequest:
    """The signal received while training (``None``: none yet)."""

    signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else "none"


@contextmanager
def stop_signals() -> Iterator[StopRequest]:
    """Record SIGTERM and SIGINT in the yielded :class:`StopRequest` during the block (main
    thread only; elsewhere signals keep their handlers and the request stays empty)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}

    def record(signum: int, frame: object) -> None:
        request.signum = signum
        for s, handler in previous.items():  # a second signal acts at once
            signal.signal(s, handler)

    for s in STOP_SIGNALS:
        signal.signal(s, record)
    try:
        yield request
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def preempted_message(signal_name: str, epoch: int, position: int, steps: int, where: str) -> str:
    """The line printed when a signal stopped the run after ``position`` of ``steps`` steps of
    epoch ``epoch`` (1-based) and saved the checkpoint ``where``."""
    return (
        f"stopped by {signal_name} at epoch {epoch}, step {position} of {steps}; checkpoint "
        f"saved to {where}; continue with --resume"
    )


def diverged_message(what: str, epoch: int, step: int, lr: float, kept: str) -> str:
    """The line printed when ``what`` (the loss, the embeddings) became non-finite."""
    return (
        f"{what} at epoch {epoch}, step {step}, lr {lr:.3g}: training stopped; {kept}; "
        "lower optim.lr (or check the kernel's parameters) and start again or --resume"
    )
