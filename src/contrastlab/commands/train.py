"""Train a contrastive model with any kernel (SimCLR-style), on one process or under torchrun.

``--resume`` continues the run in ``--out`` from its checkpoint with the run's own
``config.yaml``; settings given with it may change only what
:data:`contrastlab.train.resume.RESUMABLE` lists (epochs, threads, monitors, ...), any other
that differs is refused naming the keys. ``--epochs N`` then extends a run to
``N`` epochs: each step's learning rate is that of the warm-up + cosine schedule over ``N``
epochs, so the new epochs get the rates an uninterrupted ``N``-epoch run has at those steps and the
epochs already trained keep theirs (see :func:`contrastlab.train.trainer.train`).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", help="digits, npz:PATH, folder:PATH, cifar10, ... (default digits)"
    )
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument(
        "--config", help="YAML config file, or a shipped recipe by name (e.g. cifar10_cosine)"
    )
    parser.add_argument(
        "--kernel",
        help="kernel spec, e.g. cosine, laplacian, student_t:nu=5,s=1; or loss_sum (the "
        "official Kernel-InfoNCE code's 0.5 L(exponential) + 0.5 L(gaussian), two softmaxes)",
    )
    parser.add_argument("--epochs", type=int, help="number of epochs (default: from the data size)")
    parser.add_argument("--batch-size", type=int, help="global batch size over all processes")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set optim.lr=0.5 or --set loss.kernel.t=0.3 "
        "(repeatable; one that contradicts a flag for the same key is an error)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint, with its own config.yaml; "
        "--epochs N extends it to N epochs (the new epochs follow the warm-up + cosine schedule "
        "of an N-epoch run; the epochs already trained keep their rates)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress output")


def run(args: argparse.Namespace) -> int:
    from contrastlab.train.session import summary_line, train_run

    metrics = train_run(
        args.out,
        config_file=args.config,
        overrides=args.overrides,
        data=args.data,
        kernel=args.kernel,
        epochs=args.epochs,
        batch_size=args.batch_size,
        resume=args.resume,
        log=None if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True)),
    )
    if "history" in metrics:  # rank 0
        print(summary_line(args.out, metrics))
    return 0
