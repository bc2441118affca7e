"""A 2-D map of a dataset by contrastive learning with the Cauchy kernel, beside t-SNE."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default="digits", metavar="SRC", help="data source (default digits)"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--epochs",
        type=int,
        help="epochs of the two full phases, 128-d and 2-d (default 100)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a map setting (stage1_epochs, head_epochs, neighbours, kernel.s, lr, knn_k, tsne, "
        "tsne_perplexity, threads, ...); repeatable",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from contrastlab.experiments.embed2d import make_map, summary_lines

    log = (lambda _: None) if args.quiet else (lambda t: print(t, file=sys.stderr, flush=True))
    metrics = make_map(args.data, args.out, args.overrides, epochs=args.epochs, log=log)
    print("\n".join(summary_lines(metrics, args.out)))
    return 0
