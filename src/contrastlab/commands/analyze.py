"""Diagnose embeddings in an .npz file: RLD, purity, probes, cluster preservation, a 2-D view.

The file holds ``features`` (N x D) and ``labels`` (N), optionally ``source`` and ``cluster``
(N each). Writes ``metrics.json`` and ``report.html`` into ``--out``
(:func:`contrastlab.report.diagnostics.analyze_file`).
"""

from __future__ import annotations

import argparse
import sys

from contrastlab.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help=".npz with features, labels (and optional source, cluster)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--ts",
        type=float,
        nargs="+",
        help="RLD temperatures (default 1 0.5 0.2 0.1 0.05)",
    )
    parser.add_argument(
        "--ks",
        type=int,
        nargs="+",
        help="neighbour purity k values (default 1 10 100 500 1000)",
    )
    parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of rows held out as the probes' test set (default 0.2)",
    )
    parser.add_argument("--no-probes", action="store_true", help="skip the three probes")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    from contrastlab.report.diagnostics import analyze_file

    if args.ts is not None and any(t <= 0 for t in args.ts):
        raise InputError(f"--ts must be positive, got {args.ts}")
    if args.ks is not None and any(k < 1 for k in args.ks):
        raise InputError(f"--ks must be >= 1, got {args.ks}")
    if not 0.0 < args.test_fraction < 1.0:
        raise InputError(f"--test-fraction must be in (0, 1), got {args.test_fraction}")
    given = {"ts": args.ts, "ks": args.ks}  # unset: the library's defaults
    path = analyze_file(
        args.file,
        args.out,
        **{key: value for key, value in given.items() if value is not None},
        probes=not args.no_probes,
        test_fraction=args.test_fraction,
        seed=args.seed,
        log=lambda text: print(f"analyze: {text}", file=sys.stderr, flush=True),
    )
    print(f"report: {path}")
    return 0
