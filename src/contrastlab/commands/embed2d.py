"""A 2-D map of a dataset by contrastive learning with the Cauchy kernel, beside t-SNE."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from contrastlab.errors import InputError


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
        help="a map setting (stage1_epochs, cauchy_s, knn_k, tsne, tsne_perplexity, ...) "
        "or a dotted training setting for both stages (optim.lr=0.001); repeatable",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from contrastlab.experiments.embed2d import (
        EMBED2D_DEFAULTS,
        embed_2d,
        load_maps,
        report_embed2d,
    )
    from contrastlab.report import Report
    from contrastlab.settings import apply_overrides

    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {args.epochs}")
    # Undotted keys are the map's own settings; dotted keys go to the trainer of both stages.
    own = [o for o in args.overrides if "." not in o.partition("=")[0]]
    training = [o for o in args.overrides if "." in o.partition("=")[0]]
    settings = apply_overrides(EMBED2D_DEFAULTS, own)
    if args.epochs is not None:
        settings["stage1_epochs"] = settings["stage2_epochs"] = args.epochs
    log = (lambda _: None) if args.quiet else (lambda t: print(t, file=sys.stderr, flush=True))
    out = Path(args.out)
    metrics = embed_2d(args.data, out, settings, training, log)
    report = Report(f"contrastlab embed2d: a 2-D map of {metrics['data']} beside t-SNE")
    report_embed2d(report, metrics, load_maps(out))
    report.save(out, metrics)
    tsne = metrics["tsne"]
    print(
        f"contrastive 2-D kNN {metrics['contrastive']['knn_2d']:.4f} "
        f"({metrics['contrastive']['seconds']:.0f} s)"
    )
    if tsne["ran"]:
        print(f"t-SNE       2-D kNN {tsne['knn_2d']:.4f} ({tsne['seconds']:.0f} s)")
    else:
        print(f"t-SNE skipped: {tsne['note']}")
    print(f"report: {out / 'report.html'}")
    return 0
