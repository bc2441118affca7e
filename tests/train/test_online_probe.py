"""The online linear probe: trained on the labels, on detached features, so labels never reach
the backbone or the projector (a contrastive run stays self-supervised)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import build_config
from contrastlab.train.trainer import train

SETTINGS = [
    "model.widths=[16]",
    "model.projector_hidden=16",
    "model.projector_dim=8",
    "optim.batch_size=32",
    "train.epochs=2",
    "train.progress=false",
    "train.threads=1",
    "monitor.every=1",
    "eval.linear_probe=false",
    "eval.raw_baseline=false",
]


def _run(tmp_path: Path, name: str, labels: np.ndarray) -> dict:
    rng = np.random.default_rng(0)
    data = tmp_path / f"{name}.npz"
    np.savez(
        data,
        features=rng.normal(size=(96, 6)),
        labels=labels,
        test_features=rng.normal(size=(24, 6)),
        test_labels=np.arange(24) % 3,
    )
    config = build_config(None, SETTINGS, **{"data.source": f"npz:{data}"})
    metrics = train(config, tmp_path / name, log=lambda _: None)
    assert all("online_linear_top1" in record for record in metrics["history"])
    return load_checkpoint(tmp_path / name / "checkpoint.pt")


def test_labels_train_the_probe_and_nothing_else(tmp_path: Path) -> None:
    labels = np.arange(96) % 3
    shuffled = np.random.default_rng(1).permutation(labels)
    a, b = _run(tmp_path, "labels", labels), _run(tmp_path, "shuffled", shuffled)
    # same samples, same seed, other labels: backbone and projector are bit for bit the same
    assert a["model"].keys() == b["model"].keys()
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    # while the probe learnt from the labels it was given
    assert any(not torch.equal(v, b["probe"][k]) for k, v in a["probe"].items())
