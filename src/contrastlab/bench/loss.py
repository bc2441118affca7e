"""Loss engine: forward+backward time against the matrix-product floor, and peak memory.

For each kernel and batch size B (per view, d = 128, float32) a fresh process times the
blockwise path, the dense path, lightly's ``NTXentLoss`` (cosine rows, when installed) and the
floor (the three 2B x 2B x d products the loss cannot avoid), all in the same process and on the
same device (``--device cpu``, ``cuda`` or ``cuda:K``), and measures each path's peak extra
memory (resident set on the CPU, the CUDA allocator's peak on a GPU). Ratios to the floor are
the result; absolute seconds drift with the machine's load.

Queue rows (``losses.QueueInfoNCE``, MoCo): B = 256 queries against queues of K = 4,096 and
65,536 keys (d = 128), the blockwise path (fused and recompute backward) and the dense one, each
timed against the floor of the two ``B x K x d`` products that loss cannot avoid (``q @ queue.T``
and the backward product with the queue) and its peak memory divided by the dense path's, all
measured in one process per configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from contrastlab.bench.device import check_device, describe
from contrastlab.errors import InputError
from contrastlab.kernels import KERNEL_NAMES
from contrastlab.report import Report, check_output_folder

# every kernel of losses.md (the un-normalised inner product is the GMM experiment's option)
BENCH_KERNELS = tuple(name for name in KERNEL_NAMES if name != "inner_product")

BATCHES = (512, 2048, 4096)
QUEUE_SIZES = (4096, 65536)
QUEUE_BATCH = 256
QUEUE_KERNELS = ("cosine", "student_t")
TARGETS = {"cosine": 1.5, "gaussian": 1.5}
DEFAULT_TARGET = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="smallest batch size only")
    parser.add_argument("--out", help="write metrics.json and report.html here")
    parser.add_argument(
        "--kernels", default=",".join(BENCH_KERNELS), help="comma-separated kernel names"
    )
    parser.add_argument("--batches", default=None, help="comma-separated B per view")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:K")
    parser.add_argument(
        "--queue-sizes",
        default=None,
        help="comma-separated queue sizes K for the QueueInfoNCE rows, or 'none' "
        f"(default {','.join(map(str, QUEUE_SIZES))}; --quick: the smallest)",
    )
    parser.add_argument(
        "--queue-kernels", default=",".join(QUEUE_KERNELS), help="kernels of the queue rows"
    )
    parser.add_argument(
        "--queue-batch", type=int, default=QUEUE_BATCH, help="queries B of the queue rows"
    )


def _parse_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise InputError(f"--{what} is empty")
    return items


def measure(
    kernel: str, batch: int, repeats: int, device: str = "cpu", queue: int = 0
) -> list[dict[str, Any]]:
    """Run one configuration in a child process on ``device`` and return its rows (``queue``:
    K of a ``QueueInfoNCE`` configuration, 0 for the two-view loss)."""
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    command = [
        sys.executable,
        "-m",
        "contrastlab.bench.loss_worker",
        "--kernel",
        kernel,
        "--batch",
        str(batch),
        "--repeats",
        str(repeats),
        "--device",
        device,
        "--queue",
        str(queue),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"benchmark of {kernel} at B={batch} K={queue} failed: {last}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def _names(text: str, what: str) -> list[str]:
    names = _parse_list(text, what)
    for name in names:
        if name not in KERNEL_NAMES:
            raise InputError(f"unknown kernel {name!r}; choose from {', '.join(KERNEL_NAMES)}")
    return names


def _integers(text: str, what: str, smallest: int) -> list[int]:
    items = _parse_list(text, what)
    try:
        values = [int(b) for b in items]
    except ValueError as err:
        raise InputError(f"--{what} must be integers: {text!r}") from err
    if min(values) < smallest:
        raise InputError(f"--{what} must be >= {smallest}")
    return values


def _queue_sizes(args: argparse.Namespace) -> list[int]:
    if args.queue_sizes is None:
        return list(QUEUE_SIZES[:1] if args.quick else QUEUE_SIZES)
    if args.queue_sizes.strip().lower() == "none":
        return []
    return _integers(args.queue_sizes, "queue-sizes", 1)


def run(args: argparse.Namespace) -> int:
    names = _names(args.kernels, "kernels")
    queue_names = _names(args.queue_kernels, "queue-kernels")
    if args.out:
        check_output_folder(args.out)  # before the minutes of measuring
    if args.batches is not None:
        batches = _integers(args.batches, "batches", 2)
    else:
        batches = list(BATCHES[:1] if args.quick else BATCHES)
    sizes = _queue_sizes(args)
    if args.repeats < 1:
        raise InputError("--repeats must be >= 1")
    if args.queue_batch < 1:
        raise InputError("--queue-batch must be >= 1")
    device = check_device(args.device)
    print(f"device {describe(device)}")
    rows: list[dict[str, Any]] = []
    print(
        f"{'kernel':<12}{'B':>6} {'path':<10}{'seconds':>9}{'floor s':>9}{'ratio':>7}{'peak MB':>9}"
    )
    for name in names:
        for batch in batches:
            for row in measure(name, batch, args.repeats, str(device)):
                rows.append(row)
                print(
                    f"{row['kernel']:<12}{row['batch']:>6} {row['path']:<10}"
                    f"{row['seconds']:>9.3f}{row['floor_seconds']:>9.3f}"
                    f"{row['ratio_to_floor']:>7.2f}{row['peak_mb']:>9.1f}",
                    flush=True,
                )
    queue_rows = measure_queue(queue_names, sizes, args.queue_batch, args.repeats, str(device))
    verdicts = targets(rows)
    for line in verdicts:
        print(line)
    if args.out:
        write(Path(args.out), rows, verdicts, queue_rows)
        print(f"report: {args.out}")
    return 0


def measure_queue(
    names: list[str], sizes: list[int], batch: int, repeats: int, device: str = "cpu"
) -> list[dict[str, Any]]:
    """The ``QueueInfoNCE`` rows, printed as they come, with ``memory_vs_dense`` added."""
    if not sizes:
        return []
    print(
        f"\nqueue (QueueInfoNCE, MoCo): {'kernel':<10}{'B':>5}{'K':>7} {'path':<10}{'seconds':>9}"
        f"{'floor s':>9}{'ratio':>7}{'peak MB':>9}{'mem/dense':>10}"
    )
    out = []
    for name in names:
        for size in sizes:
            rows = measure(name, batch, repeats, device, queue=size)
            dense = next((r["peak_mb"] for r in rows if r["path"] == "dense"), float("nan"))
            for row in rows:
                row["memory_vs_dense"] = row["peak_mb"] / dense if dense > 0 else float("nan")
                out.append(row)
                print(
                    f"{'':<28}{row['kernel']:<10}{row['batch']:>5}{row['queue']:>7} "
                    f"{row['path']:<10}{row['seconds']:>9.3f}{row['floor_seconds']:>9.3f}"
                    f"{row['ratio_to_floor']:>7.2f}{row['peak_mb']:>9.1f}"
                    f"{row['memory_vs_dense']:>10.3f}",
                    flush=True,
                )
    return out


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """The performance targets at the largest batch measured, one line each."""
    if not rows:
        return []
    largest = max(r["batch"] for r in rows)
    by_kernel: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        if r["batch"] == largest:
            by_kernel[r["kernel"]][r["path"]] = r
    lines = []
    for kernel, paths in by_kernel.items():
        block = paths.get("blockwise")
        if block is None:
            continue
        target = TARGETS.get(kernel, DEFAULT_TARGET)
        verdict = "meets" if block["ratio_to_floor"] <= target else "MISSES"
        ratio = block["ratio_to_floor"]
        text = f"B={largest} {kernel}: blockwise {ratio:.2f}x floor ({verdict} <= {target}x)"
        dense = paths.get("dense")
        if dense and dense["peak_mb"] > 0:
            share = block["peak_mb"] / dense["peak_mb"]
            mem = "meets" if share <= 1 / 8 else "MISSES"
            text += f"; memory {share:.3f} of dense ({mem} <= 1/8)"
        lines.append(text)
    return lines


def write(
    out: Path,
    rows: list[dict[str, Any]],
    verdicts: list[str],
    queue_rows: list[dict[str, Any]] | None = None,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = Report("Loss engine benchmark")
    report.text(__doc__ or "")
    fig, (ax_time, ax_mem) = plt.subplots(1, 2, figsize=(11, 4))
    for kernel in dict.fromkeys(r["kernel"] for r in rows):
        for path, style in (("blockwise", "-o"), ("dense", ":x")):
            pts = [r for r in rows if r["kernel"] == kernel and r["path"] == path]
            if pts:
                batches = [r["batch"] for r in pts]
                ax_time.plot(
                    batches, [r["ratio_to_floor"] for r in pts], style, label=f"{kernel} {path}"
                )
                ax_mem.plot(batches, [r["peak_mb"] for r in pts], style, label=f"{kernel} {path}")
    ax_time.set(xlabel="B per view", ylabel="time / matrix-product floor", xscale="log")
    ax_mem.set(xlabel="B per view", ylabel="peak extra memory (MB)", xscale="log", yscale="log")
    ax_time.axhline(1.5, color="grey", lw=0.5)
    ax_time.axhline(2.0, color="grey", lw=0.5)
    ax_mem.legend(fontsize=6, ncol=2)
    report.figure(fig, "Forward+backward time over the floor (left) and peak extra memory (right).")
    columns = ["kernel", "batch", "device", "path", "seconds", "floor_seconds"]
    columns += ["ratio_to_floor", "peak_mb"]
    report.table(columns, [[r[c] for c in columns] for r in rows], title="All measurements")
    report.heading("Targets")
    report.code("\n".join(verdicts) or "no rows")
    queue_rows = queue_rows or []
    if queue_rows:
        report.heading("Queue of negatives (QueueInfoNCE)")
        names = ["kernel", "batch", "queue", "path", "seconds", "floor_seconds"]
        names += ["ratio_to_floor", "peak_mb", "memory_vs_dense"]
        report.table(names, [[r[c] for c in names] for r in queue_rows], title="Queue rows")
    report.save(out, {"rows": rows, "targets": verdicts, "queue_rows": queue_rows})
