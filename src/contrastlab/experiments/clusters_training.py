"""Compact InfoNCE training on intertwined clusters, with exactly m negatives per anchor.

How m is realised (the project's choice): a step draws groups of ``m + 1`` distinct sources
(augmentation sets); each source gives two views (two independent draws from its ball). Inside a
group, anchor view ``a_i`` has as candidates the second views ``b_j`` of all ``m + 1`` sources:
its positive and ``m`` negatives, and symmetrically for ``b_i`` (the CLIP form of
``losses.KernelCLIPLoss``, applied to each group separately):

    L = 1/2 mean_groups mean_i [ -l(a_i, b_i) + logsumexp_j l(a_i, b_j)
                                 -l(b_i, a_i) + logsumexp_j l(b_i, a_j) ],  l = log K.

``m = "all"`` is one group of all ``N`` sources (``N - 1`` negatives). Every step holds about the
same number of pairs whatever m: ``max(1, rows // (m + 1))`` groups. Encoders: ``"linear"``
(an affine map) or ``"mlp-WxL"`` (L hidden Linear-ReLU layers of width W, then a linear output);
outputs are L2-normalised by the cosine kernel. Inputs are divided by the anchors' RMS norm, so
every layout reaches the networks at the same scale (a similarity: ``r / delta`` is unchanged).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from contrastlab.data.intertwined import IntertwinedClusters
from contrastlab.errors import InputError
from contrastlab.kernels import Kernel
from contrastlab.losses.grouped import grouped_clip_loss

__all__ = [
    "TrainedEncoder",
    "build_encoder",
    "capacity_parameters",
    "grouped_clip_loss",
    "input_scale",
    "negatives_per_anchor",
    "real_data_preservation",
    "train_encoder",
]

_MLP = re.compile(r"^mlp-(\d+)x(\d+)$")


def build_encoder(capacity: str, in_dim: int, out_dim: int, seed: int = 0) -> nn.Module:
    """An encoder of the named function class, initialised from ``seed``.

    ``"linear"``: ``x -> W x + b``; ``"mlp-WxL"``: L hidden Linear-ReLU layers of width W and a
    linear output layer.
    """
    torch.manual_seed(seed)
    if capacity == "linear":
        return nn.Linear(in_dim, out_dim)
    match = _MLP.match(str(capacity))
    if match is None or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        raise InputError(
            f"capacity: expected 'linear' or 'mlp-WxL' (e.g. mlp-64x2), got {capacity!r}"
        )
    width, depth = int(match.group(1)), int(match.group(2))
    layers: list[nn.Module] = []
    size = in_dim
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.ReLU()]
        size = width
    layers.append(nn.Linear(size, out_dim))
    return nn.Sequential(*layers)


def capacity_parameters(capacity: str, in_dim: int, out_dim: int) -> int:
    """Number of trainable parameters of the named encoder."""
    return sum(p.numel() for p in build_encoder(capacity, in_dim, out_dim).parameters())


def negatives_per_anchor(negatives: int | str, n_sources: int) -> int:
    """m as an integer: ``"all"`` is ``n_sources - 1``; checks ``1 <= m <= n_sources - 1``."""
    if negatives == "all":
        return n_sources - 1
    if isinstance(negatives, bool) or not isinstance(negatives, int) or negatives < 1:
        raise InputError(f"negatives: each must be an integer >= 1 or 'all', got {negatives!r}")
    if negatives > n_sources - 1:
        raise InputError(
            f"negatives: m = {negatives} needs at least {negatives + 1} sources, the data have "
            f"{n_sources}"
        )
    return negatives


@dataclass
class TrainedEncoder:
    """A trained encoder and how it got there.

    Attributes:
        model: the encoder (evaluation mode).
        scale: the input scale (anchors' RMS norm); embed ``x`` as ``model(x / scale)``.
        losses: the loss of every step (before that step's update).
        negatives: m as an integer.
    """

    model: nn.Module
    scale: float
    negatives: int
    losses: list[float] = field(default_factory=list)

    @torch.no_grad()
    def embed(self, x: NDArray[np.float64]) -> NDArray[np.float64]:
        """Embeddings (before the kernel's normalisation) of inputs ``x`` (n, D)."""
        inputs = torch.as_tensor(x / self.scale, dtype=torch.float32)
        return self.model(inputs).double().numpy()


def input_scale(data: IntertwinedClusters) -> float:
    """RMS norm of the anchors in ``R^D`` (they are centred at 0)."""
    return float(math.sqrt(np.mean(np.sum(data.anchors**2, axis=1))))


def train_encoder(
    data: IntertwinedClusters,
    capacity: str,
    negatives: int | str,
    kernel: Kernel,
    *,
    out_dim: int = 16,
    steps: int = 500,
    rows: int = 256,
    lr: float = 3e-3,
    seed: int = 0,
) -> TrainedEncoder:
    """Adam on :func:`grouped_clip_loss` with fresh groups and fresh views at every step.

    Args:
        data: the generated layout.
        capacity: ``"linear"`` or ``"mlp-WxL"``.
        negatives: m, or ``"all"``.
        kernel: e.g. ``kernels.Cosine(t=0.5)``.
        out_dim: embedding dimension.
        steps: optimiser steps.
        rows: pairs per step (rounded down to whole groups, at least one group).
        lr: Adam learning rate.
        seed: seeds the initialisation, the groups and the views.
    """
    m = negatives_per_anchor(negatives, data.n_sources)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps: must be an integer >= 1, got {steps!r}")
    if not lr > 0:
        raise InputError(f"lr: must be > 0, got {lr!r}")
    group = m + 1
    groups = max(1, int(rows) // group)
    scale = input_scale(data)
    model = build_encoder(capacity, data.dim, out_dim, seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng([seed, 4])
    history: list[float] = []
    for _ in range(steps):
        # distinct sources inside each group: the first `group` of a random permutation per row
        sources = np.argsort(rng.random((groups, data.n_sources)), axis=1)[:, :group].ravel()
        xa, xb = data.positive_pairs(sources, rng)
        a = model(torch.as_tensor(xa / scale, dtype=torch.float32))
        b = model(torch.as_tensor(xb / scale, dtype=torch.float32))
        loss = grouped_clip_loss(a, b, kernel, group)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
    model.eval()
    return TrainedEncoder(model=model, scale=scale, negatives=m, losses=history)


def real_data_preservation(
    source: str, *, epochs: int, samples: int, views: int, seed: int, run_dir: str
) -> dict[str, Any]:
    """Cluster preservation on a real data source: class = cluster, test sample = source.

    Trains a contrastive model on ``source`` with the project's trainer (one thread, no raw
    baseline), then embeds ``views`` training-augmented views of ``samples`` test samples (a
    seeded random subset) with the trained backbone and with an untrained one of the same
    architecture (the trainer's seed, no training), and measures both with
    ``analysis.cluster_preservation``.

    Returns:
        ``{"trained": {...}, "untrained": {...}, "train_final": {...}, "samples", "views",
        "classes", "epochs", "seconds"}``.
    """
    from contrastlab.analysis import cluster_preservation
    from contrastlab.train.checkpoint import load_checkpoint
    from contrastlab.train.components import build_kernel, build_model, build_transforms
    from contrastlab.train.config import (
        CONFIG_FILE_NAME,
        build_config,
        default_config,
        load_config_file,
        merge,
    )
    from contrastlab.train.trainer import CHECKPOINT, load_data, train

    overrides = [
        f"data.source={source}",
        "train.threads=1",
        "train.progress=false",
        "eval.raw_baseline=false",
        f"train.seed={seed}",
    ]
    config = build_config(None, overrides, **{"train.epochs": int(epochs)})
    trained = train(config, run_dir, log=lambda _: None)
    resolved = merge(default_config(), load_config_file(f"{run_dir}/{CONFIG_FILE_NAME}"))
    data = load_data(resolved)
    if data.test_y is None or len(data.test_x) < 3:
        raise InputError(f"data {source}: the test split needs labels and at least 3 samples")
    kernel = build_kernel(resolved["loss"]["kernel"], int(resolved["model"]["projector_dim"]))
    is_image = data.kind == "image"
    feature_std = None if is_image else data.train_x.float().std(dim=0).clamp_min(1e-8)
    augment, _ = build_transforms(resolved, is_image, feature_std)
    pick = np.random.default_rng([seed, 5]).permutation(len(data.test_x))[: int(samples)]
    x = data.test_x[torch.as_tensor(pick)]
    labels = data.test_y[torch.as_tensor(pick)].numpy()
    torch.manual_seed(seed)
    untrained_model = build_model(resolved, data.sample_shape, kernel)
    trained_model = build_model(resolved, data.sample_shape, kernel)
    trained_model.load_state_dict(load_checkpoint(f"{run_dir}/{CHECKPOINT}")["model"])
    torch.manual_seed(seed + 1)
    view_batches = [augment(x) for _ in range(int(views))]  # the same views for both models
    out: dict[str, Any] = {}
    for name, model in (("trained", trained_model), ("untrained", untrained_model)):
        model.eval()
        with torch.no_grad():
            features = np.concatenate([model.backbone(v).double().numpy() for v in view_batches])
        cluster = np.tile(labels, int(views))
        sample_id = np.tile(np.arange(len(pick)), int(views))
        out[name] = cluster_preservation(features, cluster, sample_id, seed=seed)
    out.update(
        {
            "train_final": dict(trained["final"]),
            "samples": len(pick),
            "views": int(views),
            "classes": len(np.unique(labels)),
            "epochs": int(resolved["train"]["epochs"]),
            "seconds": float(trained["seconds"]),
        }
    )
    return out
