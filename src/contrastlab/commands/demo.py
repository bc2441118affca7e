"""The main job: train on digits with the cosine, Student-t and Simple Sum kernels, compare, report.

The experiment is :func:`contrastlab.demo.run_demo`; this command parses its arguments, calls
it and prints one line of test accuracies per run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from contrastlab.demo import DEMO_SETTINGS, run_demo
from contrastlab.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--epochs", type=int, help=f"epochs per run (default {DEMO_SETTINGS['train.epochs']})"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a training setting for every run (repeatable)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="runs trained side by side, one process each on one thread "
        "(default: one per kernel; 1: one after another, same results)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def _accuracies(name: str, scores: dict[str, Any]) -> str:
    return (
        f"{name:>10}: kNN k=20 {scores['knn_top1_k20']:.4f}  "
        f"k=200 {scores['knn_top1_k200']:.4f}  "
        f"linear {scores['linear_top1']:.4f}"
    )


def run(args: argparse.Namespace) -> int:
    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {args.epochs}")
    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be >= 1, got {args.workers}")
    log = (
        (lambda _: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    )
    metrics = run_demo(args.out, args.epochs, args.overrides, log, args.workers)
    for name, result in metrics["runs"].items():
        print(_accuracies(name, result["final"]))
    print(_accuracies("raw pixels", metrics["raw_pixels"]))
    print(f"report: {Path(args.out) / 'report.html'} ({metrics['seconds']:.0f} s)")
    return 0
