"""Exact RLD and neighbour purity at scale: time, peak memory and ratios in one process.

Default: 50,000 x 128 clustered float32 embeddings, exact RLD at t = 1, 0.5, 0.2, 0.1 (one
blockwise run sharing its three passes) and neighbour purity up to k = 1000 through faiss.
Reported alongside the absolute figures (the machines are shared, so they drift):

- ``rld / product floor``: RLD time over the time of the matrix products its three passes
  cannot avoid (one pass of tile products timed here, times three);
- ``eager / fused``: eager over ``torch.compile``-fused tile work on a subsample, same process;
- the float32 result's distance from float64 on a subsample (exactness of the fast path);
- the RLD time is that of the first call in the process, so it includes ``torch.compile`` (or
  loading inductor's on-disk cache), as a user's first call does;
- wall and CPU seconds of the run (CPU time drifts less on a shared machine);
- peak resident memory during the RLD run (``VmHWM`` after resetting it, Linux), and how much
  of it lies above the process before the run: importing this torch build alone holds about
  700 MB, which no algorithm can shed.

Targets (``performance.md``): RLD under 60 s and 1 GB, purity to k = 1000 under 60 s.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=50_000, help="rows (default 50000)")
    parser.add_argument("--dim", type=int, default=128, help="embedding width (default 128)")
    parser.add_argument(
        "--ts", type=float, nargs="+", default=[1.0, 0.5, 0.2, 0.1], help="temperatures"
    )
    parser.add_argument("--block-size", type=int, default=None, help="rows per tile")
    parser.add_argument("--eager", action="store_true", help="do not use torch.compile")
    parser.add_argument("--purity-k", type=int, default=1000, help="largest purity k")
    parser.add_argument(
        "--check-rows",
        type=int,
        default=6000,
        help="subsample for the float64 exactness check and the eager/fused ratio (0: skip)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:K")
    parser.add_argument("--out", default=None, help="folder for metrics.json and report.html")


def clustered_embeddings(
    n: int, dim: int, classes: int = 10, blobs_per_class: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Float32 embeddings made of many small blobs per class (locally dense, like SimCLR's)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes * blobs_per_class, dim))
    class_shift = rng.normal(size=(classes, dim))
    blob = rng.integers(0, classes * blobs_per_class, n)
    labels = blob // blobs_per_class
    # a weak class direction under many blobs: purity falls with k, RLD rises as t shrinks
    X = centres[blob] + 0.5 * class_shift[labels] + 0.8 * rng.normal(size=(n, dim))
    return X.astype(np.float32), labels.astype(np.int64)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_mb(key: str) -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """``fn(*args, **kwargs)`` with its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), _cpu_seconds()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, _cpu_seconds() - cpu


def _product_pass(X: np.ndarray, block: int, device: Any = "cpu") -> None:
    """One pass of the tile products RLD's passes cannot avoid, on ``device``."""
    import torch

    from contrastlab.analysis.density import _product, _tiles
    from contrastlab.bench.device import synchronize

    Z = torch.from_numpy(X / np.linalg.norm(X, axis=1, keepdims=True)).to(device)
    with torch.no_grad():
        for rows, cols, diagonal in _tiles(Z.shape[0], block):
            _product(Z, rows, cols, diagonal, -math.inf)
    synchronize(device)


def check_arguments(args: argparse.Namespace) -> None:
    """Every option checked before the first (possibly minutes-long) measurement.

    Raises:
        InputError: naming the first bad option and its value.
    """
    from contrastlab.errors import InputError
    from contrastlab.report import check_output_folder

    lowest = {"n": 2, "dim": 1, "purity_k": 1, "block_size": 1, "check_rows": 0, "seed": 0}
    for name, low in lowest.items():
        value = getattr(args, name)
        if value is not None and value < low:
            raise InputError(f"--{name.replace('_', '-')} must be >= {low}, got {value}")
    bad = [t for t in args.ts if not (math.isfinite(t) and t > 0)]
    if bad:
        raise InputError(f"--ts must be finite numbers > 0, got {bad[0]:g}")
    if args.out:
        check_output_folder(args.out)


def _setting(
    args: argparse.Namespace, block: int, threads: int, device: Any, name: str, classes: int
) -> dict[str, Any]:
    """Print the data, threads and device measured on; return them as the first metrics."""
    print(
        f"data: {args.n} x {args.dim} float32, {classes} classes; "
        f"torch threads {threads}, cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}; "
        f"device {name}",
        flush=True,
    )
    return {
        "rows": args.n,
        "dim": args.dim,
        "ts": list(args.ts),
        "block_size": block,
        "threads": threads,
        "device": str(device),
        "load_average_start": os.getloadavg()[0],
    }


def run(args: argparse.Namespace) -> int:
    import torch

    from contrastlab.analysis import rld_profile
    from contrastlab.analysis.density import DEFAULT_BLOCK
    from contrastlab.bench.device import check_device, describe

    check_arguments(args)
    device = check_device(args.device)
    threads = torch.get_num_threads()
    X, y = clustered_embeddings(args.n, args.dim, seed=args.seed)
    block = args.block_size if args.block_size is not None else min(args.n, DEFAULT_BLOCK)
    use_compile = not args.eager
    metrics = _setting(args, block, threads, device, describe(device), len(set(y.tolist())))

    _, floor, floor_cpu = _timed(_product_pass, X, block, device)
    floor, floor_cpu = 3 * floor, 3 * floor_cpu
    print(f"product floor (3 passes of tile products): {floor:.1f} s wall, {floor_cpu:.1f} s CPU")

    # No warm-up: the first call pays for torch.compile (or loading inductor's cache), as a
    # user's first call does, and the target counts it.
    peak_reset = _reset_peak()
    rss_before = _status_mb("VmRSS")
    profile, wall, cpu = _timed(
        rld_profile, X, y, args.ts, block, precision="float32", compile=use_compile, device=device
    )
    peak = _status_mb("VmHWM") if peak_reset else float("nan")
    print(
        f"exact RLD at t={args.ts}, first call (compile included): {wall:.1f} s wall, "
        f"{cpu:.1f} s CPU "
        f"({wall / floor:.2f}x the product floor's wall time, {cpu / floor_cpu:.2f}x its CPU "
        f"time), compiled={profile.info['compiled']}; peak RSS {peak:.0f} MB, "
        f"{peak - rss_before:.0f} MB above the {rss_before:.0f} MB before the run",
        flush=True,
    )
    for t, v, ub in zip(profile.ts, profile.values, profile.upper_bound):
        print(f"  t={t:g}: RLD {v:.4f} (upper bound {ub:.4f})")
    metrics.update(
        {
            "rld_seconds": wall,
            "rld_cpu_seconds": cpu,
            "product_floor_seconds": floor,
            "product_floor_cpu_seconds": floor_cpu,
            "rld_over_floor": wall / floor,
            "rld_over_floor_cpu": cpu / floor_cpu,
            "compiled": profile.info["compiled"],
            "rld_peak_rss_mb": peak,
            "rss_before_mb": rss_before,
            "rld_extra_peak_mb": peak - rss_before,
            "rld": dict(zip(map(str, profile.ts), profile.values)),
        }
    )

    if args.check_rows:
        metrics.update(_exactness_check(X, y, args, block, use_compile))

    purity_wall = _purity(X, y, args, metrics)
    verdict = {True: "met", False: "MISSED"}
    print(
        f"targets: RLD incl. compile < 60 s {verdict[wall < 60]}; "
        f"RLD memory < 1 GB above the process {verdict[not peak - rss_before >= 1024]}; "
        f"purity < 60 s {verdict[purity_wall < 60]} "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    if args.out:
        _save(Path(args.out), metrics)
    return 0


def _purity(
    X: np.ndarray, y: np.ndarray, args: argparse.Namespace, metrics: dict[str, Any]
) -> float:
    """Time neighbour purity up to ``args.purity_k`` into ``metrics``; returns its wall time."""
    from contrastlab.analysis import neighbour_purity

    ks = tuple(k for k in (1, 10, 100, 500, 1000) if k < args.purity_k) + (args.purity_k,)
    purity, purity_wall, purity_cpu = _timed(neighbour_purity, X, y, ks)
    print(
        f"neighbour purity k={ks}: {purity_wall:.1f} s wall, {purity_cpu:.1f} s CPU; "
        + ", ".join(f"k={k}: {p:.3f}" for k, p in purity.items()),
        flush=True,
    )
    metrics.update(
        {
            "purity_seconds": purity_wall,
            "purity_cpu_seconds": purity_cpu,
            "purity": purity,
            "process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "load_average_end": os.getloadavg()[0],
        }
    )
    return purity_wall


def _save(out: Path, metrics: dict[str, Any]) -> None:
    """The report and metrics.json of the benchmark."""
    from contrastlab.report import Report

    report = Report("RLD and neighbour purity benchmark")
    report.text(__doc__ or "")
    report.table(
        ["measure", "value"],
        [[k, v] for k, v in metrics.items() if isinstance(v, (int, float, bool))],
    )
    report.save(out, metrics)


def _exactness_check(
    X: np.ndarray, y: np.ndarray, args: argparse.Namespace, block: int, use_compile: bool
) -> dict[str, float]:
    """float32 on the benchmarked device against float64 on the CPU on a subsample, and eager
    against fused."""
    from contrastlab.analysis import rld_profile

    m = min(args.check_rows, args.n)
    Xs, ys = X[:m], y[:m]
    exact = rld_profile(Xs, ys, args.ts, precision="float64", compile=False)
    on = {"precision": "float32", "device": args.device}
    fast, fast_s, _ = _timed(rld_profile, Xs, ys, args.ts, block, compile=use_compile, **on)
    _, eager_s, _ = _timed(rld_profile, Xs, ys, args.ts, block, compile=False, **on)
    err = float(np.max(np.abs(np.array(exact.values) - np.array(fast.values))))
    print(
        f"check on {m} rows: |float32 - float64| max {err:.2e}; "
        f"eager {eager_s:.2f} s vs {'fused' if use_compile else 'eager'} {fast_s:.2f} s "
        f"({eager_s / fast_s:.1f}x)",
        flush=True,
    )
    return {
        "check_rows": m,
        "float32_max_abs_error": err,
        "eager_seconds_check": eager_s,
        "fast_seconds_check": fast_s,
        "eager_over_fast": eager_s / fast_s,
    }
