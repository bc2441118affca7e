"""Loss engine: forward+backward time against the matrix-product floor, and peak memory.

For each kernel and batch size B (per view, d = 128, float32) a fresh process times the
blockwise path, the dense path, lightly's ``NTXentLoss`` (cosine rows, when installed) and the
floor (the three 2B x 2B x d products the loss cannot avoid), all in the same process and on the
same device (``--device cpu``, ``cuda`` or ``cuda:K``), and measures each path's peak extra
memory (resident set on the CPU, the CUDA allocator's peak on a GPU). Ratios to the floor are
the result; absolute seconds drift with the machine's load.
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


def _parse_list(text: str, what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise InputError(f"--{what} is empty")
    return items


def measure(kernel: str, batch: int, repeats: int, device: str = "cpu") -> list[dict[str, Any]]:
    """Run one configuration in a child process on ``device`` and return its rows."""
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
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"benchmark of {kernel} at B={batch} failed: {last}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def run(args: argparse.Namespace) -> int:
    names = _parse_list(args.kernels, "kernels")
    for name in names:
        if name not in KERNEL_NAMES:
            raise InputError(f"unknown kernel {name!r}; choose from {', '.join(KERNEL_NAMES)}")
    if args.out:
        check_output_folder(args.out)  # before the minutes of measuring
    if args.batches is not None:
        items = _parse_list(args.batches, "batches")
        try:
            batches = [int(b) for b in items]
        except ValueError as err:
            raise InputError(f"--batches must be integers: {args.batches!r}") from err
        if min(batches) < 2:
            raise InputError("--batches must be >= 2")
    else:
        batches = list(BATCHES[:1] if args.quick else BATCHES)
    if args.repeats < 1:
        raise InputError("--repeats must be >= 1")
    device = check_device(args.device)
    print(f"device {describe(device)}")
    rows: list[dict[str, Any]] = []
    header = (
        f"{'kernel':<12}{'B':>6} {'path':<10}{'seconds':>9}{'floor s':>9}{'ratio':>7}{'peak MB':>9}"
    )
    print(header)
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
    verdicts = targets(rows)
    for line in verdicts:
        print(line)
    if args.out:
        write(Path(args.out), rows, verdicts)
        print(f"report: {args.out}")
    return 0


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


def write(out: Path, rows: list[dict[str, Any]], verdicts: list[str]) -> None:
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
    report.save(out, {"rows": rows, "targets": verdicts})
