"""A 2-D map of a dataset by contrastive learning with the Cauchy kernel, beside t-SNE."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default="digits", metavar="SRC", help="data source (default digits)"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--epochs", type=int, help="epochs of each of the two stages (default 40)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a map setting (stage1_epochs, kernel.s, knn_k, tsne, tsne_perplexity, ...) "
        "or a dotted training setting for both stages (optim.lr=0.001); repeatable",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from contrastlab.experiments.embed2d import make_map, summary_lines

    log = (lambda _: None) if args.quiet else (lambda t: print(t, file=sys.stderr, flush=True))
    metrics = make_map(args.data, args.out, args.overrides, epochs=args.epochs, log=log)
    print("\n".join(summary_lines(metrics, args.out)))
    return 0
