"""Train a contrastive model with any kernel (SimCLR-style), on one process or under torchrun.

``--resume`` continues the run in ``--out`` from its checkpoint with the run's own
``config.yaml`` (other settings given with it are not used). ``--epochs N`` then extends a run to
``N`` epochs: each step's learning rate is that of the warm-up + cosine schedule over ``N``
epochs, so the new epochs get the rates an uninterrupted ``N``-epoch run has at those steps and the
epochs already trained keep theirs (see :func:`contrastlab.train.trainer.train`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from contrastlab.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", help="digits, npz:PATH, folder:PATH, cifar10, ... (default digits)"
    )
    parser.add_argument("--out", required=True, help="run folder")
    parser.add_argument("--config", help="YAML config file (see configs/)")
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
        help="override a setting, e.g. --set optim.lr=0.5 (repeatable)",
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
    from contrastlab.train.config import build_config
    from contrastlab.train.trainer import train

    if args.epochs is not None and args.epochs < 1:
        raise InputError(f"--epochs must be >= 1, got {args.epochs}")
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    config = build_config(
        args.config,
        args.overrides,
        **{
            "data.source": args.data,
            "loss.kernel": args.kernel,
            "train.epochs": args.epochs,
            "optim.batch_size": args.batch_size,
        },
    )
    from contrastlab.train.components import build_loss

    build_loss(config["loss"]["kernel"])  # a bad kernel fails before any data is loaded
    if args.quiet:
        config["train"]["progress"] = False
    out = Path(args.out)
    log = (
        (lambda _: None) if args.quiet else (lambda text: print(text, file=sys.stderr, flush=True))
    )
    metrics = train(config, out, resume=args.resume, log=log)
    if "history" not in metrics:  # not rank 0
        return 0
    write_run_report(out, metrics)
    final = ", ".join(f"{k} {v:.4f}" for k, v in metrics["final"].items())
    print(
        f"{out}: {final or metrics.get('note', '')} ({metrics['seconds']:.0f} s, "
        f"{metrics['images_per_second']:.0f} img/s)"
    )
    return 0


def write_run_report(out: Path, metrics: dict[str, Any]) -> None:
    """``report.html`` and ``metrics.json`` of one training run."""
    from contrastlab.report import Report
    from contrastlab.train.config import CONFIG_FILE_NAME
    from contrastlab.train.curves import training_curves

    report = Report(f"Training run: {metrics['kernel']} on {metrics['data']}")
    report.text(
        f"{metrics['epochs']} epochs on {metrics['train_size']} training images, "
        f"{metrics['seconds']:.0f} s, {metrics['images_per_second']:.0f} images per second "
        f"({metrics['augment_share'] * 100:.0f}% of step time in augmentation). The numbers are "
        "those of the final epoch, on frozen backbone features."
    )
    rows = [["this run", *(_cell(metrics["final"], k) for k in _COLUMNS)]]
    for key in ("raw_pixels", "raw_features"):
        if key in metrics:
            rows.append([key.replace("_", " "), *(_cell(metrics[key], k) for k in _COLUMNS)])
    if metrics["final"]:
        report.table(["features", *_COLUMNS], rows, title="Test accuracy")
    report.figure(training_curves({metrics["kernel"]: metrics["history"]}), "Training curves")
    report.heading("Configuration")
    report.code((out / CONFIG_FILE_NAME).read_text())
    report.save(out, metrics)


_COLUMNS = ("knn_top1_k20", "knn_top1_k200", "linear_top1")


def _cell(values: dict[str, float], key: str) -> float:
    return float(values.get(key, float("nan")))
