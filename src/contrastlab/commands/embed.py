"""Backbone features of a dataset from a trained run, saved as features.npz (features, labels)."""

from __future__ import annotations

import argparse


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


def run(args: argparse.Namespace) -> int:
    from contrastlab.train.runs import save_features

    features, labels = save_features(args.run, args.out, data=args.data, split=args.split)
    print(f"{args.out}: features {features.shape}, labels {labels.shape}")
    return 0
