"""Backbone features of a dataset from a trained run, saved as features.npz (features, labels)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

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


def embed(
    run: Path, data_source: str | None, split: str = "all", checkpoint: Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels (-1 where unlabelled) of ``data_source`` under the run's backbone.

    ``checkpoint`` picks another weights file of the run (e.g. ``snapshots/epoch_0010.pt``)
    instead of its final ``checkpoint.pt``.
    """
    from contrastlab.train.checkpoint import load_checkpoint
    from contrastlab.train.components import build_kernel, build_model, build_transforms
    from contrastlab.train.config import CONFIG_FILE_NAME, default_config, load_config_file, merge
    from contrastlab.train.evaluate import extract_features
    from contrastlab.train.trainer import CHECKPOINT, load_data

    if not run.exists():
        raise InputError(f"run folder {run} not found")
    if not run.is_dir():
        raise InputError(f"run folder {run} is a file, not a folder written by contrastlab train")
    config = merge(default_config(), load_config_file(run / CONFIG_FILE_NAME))
    state = load_checkpoint(checkpoint if checkpoint is not None else run / CHECKPOINT)
    if data_source is not None:
        config["data"]["source"] = data_source
    data = load_data(config)
    kernel = build_kernel(config["loss"]["kernel"], int(config["model"]["projector_dim"]))
    trained_shape = _trained_shape(state["model"])
    model = build_model(config, data.sample_shape, kernel)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise InputError(
            f"data {data.name} (samples {tuple(data.sample_shape)}) do not fit the run's model"
            f"{trained_shape}: {_first_mismatch(err)}"
        ) from err
    _, transform = build_transforms(config, data.kind == "image")
    parts = {"train": [(data.train_x, data.train_y)], "test": [(data.test_x, data.test_y)]}
    chosen = parts["train"] + parts["test"] if split == "all" else parts[split]
    features, labels = [], []
    for x, y in chosen:
        if len(x) == 0:
            continue
        features.append(extract_features(model.backbone, x, transform, torch.device("cpu")))
        labels.append(y.numpy() if y is not None else np.full(len(x), -1, dtype=np.int64))
    return np.concatenate(features), np.concatenate(labels)


def _first_mismatch(err: RuntimeError) -> str:
    """The first specific line of ``load_state_dict``'s error (its first line names no tensor)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return next((line for line in lines[1:] if "mismatch" in line or "key" in line), lines[0])


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


def _trained_shape(model_state: dict) -> str:
    first = next((v for k, v in model_state.items() if k.endswith("weight")), None)
    return f" (first layer {tuple(first.shape)})" if first is not None else ""


def run(args: argparse.Namespace) -> int:
    out = check_output_file(args.out)
    features, labels = embed(Path(args.run), args.data, args.split)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, features=features, labels=labels)
    print(f"{out}: features {features.shape}, labels {labels.shape}")
    return 0
