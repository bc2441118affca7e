"""Settings of ``reproduce rld``: the full run's defaults, the ``--quick`` overrides, the checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contrastlab.experiments._kernel_settings import spec_normaliser
from contrastlab.settings import from_mapping, setting


@dataclass(frozen=True)
class Settings:
    """What ``reproduce rld`` runs (defaults: the full run)."""

    data: str = setting("digits", doc="trainer data source, labelled train and test")
    epochs: int = setting(200, low=1, doc="both models (the trainer's CPU default for digits)")
    kernel: dict[str, Any] = setting(
        {"name": "cosine", "t": 0.2}, normalise=spec_normaliser("kernel"), doc="SimCLR"
    )
    batch_size: int = setting(256, low=1)
    seed: int = setting(0, low=0, doc="first seed of the trained pairs and of the toy draws")
    seeds: int = setting(
        3, low=1, doc="trained pairs (contrastive, supervised) at seeds seed, seed + 1, ..."
    )
    checkpoints: tuple[int, ...] = setting(
        [1, 5, 10, 25, 50, 100, 200], low=1, doc="epochs measured across training"
    )
    ts: tuple[float, ...] = setting(
        [1.0, 0.5, 0.2, 0.1], above=0, doc="RLD temperatures (the authors' CIFAR-10 ones)"
    )
    purity_ks: tuple[int, ...] = setting(
        [1, 10, 100, 500, 1000], low=1, doc="neighbour counts, capped at N - 1 of the test split"
    )
    toy_t: float = setting(0.05, above=0)
    toy_points: int = setting(300, low=1, doc="per class, 5 classes (the authors' 300)")
    toy_seeds: int = setting(20, low=2, doc="draws of each toy set (seeds seed, seed + 1, ...)")
    gcn_t: float = setting(0.1, above=0)
    gcn_epochs: int = setting(300, low=1)
    train_overrides: tuple[str, ...] = setting(
        [], doc="trainer settings for both models, e.g. 'model.widths=[8, 16]'; they win"
    )


QUICK: Mapping[str, Any] = {
    "epochs": 40,
    "checkpoints": [1, 5, 10, 20, 40],
    "seeds": 1,
    "toy_seeds": 10,
}


def as_settings(settings: Settings | Mapping[str, Any]) -> Settings:
    """``settings`` itself, or the :class:`Settings` of a plain mapping (the runner's old form)."""
    return settings if isinstance(settings, Settings) else from_mapping(Settings, settings)
