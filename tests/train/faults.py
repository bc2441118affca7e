"""Helpers of the fault tests: a tiny digits run as a real ``contrastlab train`` process."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .conftest import TINY

QUICK = [*TINY, "monitor.knn=false", "eval.linear_probe=false", "eval.raw_baseline=false"]
STEPS = 1437 // 128  # digits' training split in global batches of 128


def train_args(out: Path, epochs: int, *extra: str, sets: list[str] = QUICK) -> list[str]:
    """``contrastlab train`` arguments (without the program) of a tiny digits run."""
    return [
        "train",
        "--data",
        "digits",
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--batch-size",
        "128",
        "--quiet",
        *[arg for s in sets for arg in ("--set", s)],
        *extra,
    ]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "contrastlab", *args]


def run_cli(
    args: list[str], preexec: Callable[[], None] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run ``contrastlab ARGS`` as a real process; its exit code, stdout and stderr."""
    return subprocess.run(
        command(args),
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=preexec,
        check=False,
    )


def without_root_override() -> None:
    """In the child before exec: drop ``CAP_DAC_OVERRIDE`` from the capability bounding set, so
    a process run as root obeys file permissions (a read-only folder is read-only to it)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override = 24, 1
    if libc.prctl(pr_capbset_drop, cap_dac_override, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def file_size_limit(limit: int) -> Callable[[], None]:
    """In the child before exec: no file may grow beyond ``limit`` bytes (writes past it fail
    with EFBIG, as on a full disk; Python ignores the SIGXFSZ that comes with it)."""

    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply
