"""Vector data: the trainer's noise augmentation is relative to each feature's spread."""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
    "eval.linear_probe=false",
    "eval.raw_baseline=false",
    "monitor.knn=false",
    "monitor.online_probe=false",
]


def test_vector_noise_follows_each_features_spread(tmp_path: Path) -> None:
    # augment.noise is relative to each feature's standard deviation and the MLP starts with
    # Linear + BatchNorm, so scaling the features (here by 1000) changes nothing in the run
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(96, 6)), np.arange(96) % 3
    sets = [*SETTINGS, "augment.noise=0.5"]
    losses = []
    for scale in (1.0, 1000.0):
        data = tmp_path / f"x{scale:g}.npz"
        np.savez(data, features=x * scale, labels=y)
        config = build_config(None, sets, **{"data.source": f"npz:{data}"})
        metrics = train(config, tmp_path / f"run{scale:g}", log=lambda _: None)
        losses.append([r["loss"] for r in metrics["history"]])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-4)
