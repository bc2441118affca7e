"""Backbone features of a dataset from a trained run, saved as features.npz (features, labels)."""

from __future__ import annotations

import argparse
from pathlib import Path

from contrastlab.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run folder written by contrastlab train")
    parser.add_argument("--data", help="data source (default: the run's own data)")
    parser.add_argument(
        "--split",
        choices=("train", "test", "all"),
        default="all",
        help="which part of the data to embed (default all: train then test)",
    )
    parser.add_argument("--out", required=True, help="output .npz file")


def check_output_file(path: str | Path) -> Path:
    """``path`` as the ``.npz`` file to write, checked before any work is done.

    Raises:
        InputError: not ending in ``.npz``, an existing folder, or a file where a folder
            above it should be.
    """
    from contrastlab.report import check_output_folder

    out = Path(path)
    if out.suffix != ".npz":
        raise InputError(f"--out must name an .npz file, got {out}")
    if out.is_dir():
        raise InputError(f"--out {out} is an existing folder, not an .npz file")
    check_output_folder(out.parent)
    return out


def run(args: argparse.Namespace) -> int:
    from contrastlab.train.runs import save_features

    out = check_output_file(args.out)
    features, labels = save_features(args.run, out, data=args.data, split=args.split)
    print(f"{out}: features {features.shape}, labels {labels.shape}")
    return 0
