"""``contrastlab reproduce NAME|all``: run a paper's reproduction and say whether its claims hold.

The runner is :mod:`contrastlab.experiments.runner` (its docstring gives the rules of ``all``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contrastlab.experiments import EXPERIMENTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help=f"one of {', '.join(EXPERIMENTS)}, or all")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--quick", action="store_true", help="smaller settings, about a minute")
    parser.add_argument(
        "--data",
        metavar="SRC",
        help="data source for experiments trained on data (clusters, rld, sne, kernels): "
        "digits, npz:PATH, folder:PATH or a torchvision name",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting (repeatable; with all: applied to the experiments that have it)",
    )


def run(args: argparse.Namespace) -> int:
    from contrastlab.experiments import runner

    out = Path(args.out)
    if args.name != "all":
        runner.run_one(args.name, out, args.quick, args.overrides, args.data)
        print(f"report: {out}")
        return 0
    result = runner.run_all(out, args.quick, args.overrides, args.data)
    print(f"report: {out / 'report.html'}")
    failed = [name for name, entry in result["experiments"].items() if "error" in entry]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0
