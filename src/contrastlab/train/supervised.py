"""A compact supervised trainer: the contrastive run's backbone, a linear head, cross-entropy.

It is the supervised foil of ``reproduce rld`` (Zhang, Lu, Xuan 2023: supervised learning makes
globally dense clusters, contrastive learning locally dense ones). Everything but the objective is
shared with the contrastive trainer, read from the same configuration (``train.config``):

- backbone: ``build_backbone`` with ``model.backbone / cifar_stem / widths`` after ``resolve``;
- classifier: one ``nn.Linear(feature_dim, n_classes)`` on the backbone features (no projector);
- loss: ``cross_entropy(head(backbone(augment(x))), y)``, one augmented view per step, the
  training augmentation of ``build_transforms``;
- optimiser, weight-decay groups and warm-up + cosine schedule from ``train.optim``, with the
  resolved ``optim.*`` values; ``optim.batch_size`` samples per step, last partial batch dropped;
- seed ``train.seed``; ``train.save_epochs`` keeps copies of the backbone's weights.

Runs on the CPU with the current torch thread setting (``train.threads`` is honoured).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.data.sources import DataSplit
from contrastlab.errors import InputError
from contrastlab.models import build_backbone
from contrastlab.train import config as config_lib
from contrastlab.train.components import build_transforms
from contrastlab.train.evaluate import extract_features
from contrastlab.train.optim import apply_schedule, build_optimizer, parameter_groups

__all__ = ["SupervisedRun", "train_supervised"]


@dataclass
class SupervisedRun:
    """What :func:`train_supervised` returns.

    Attributes:
        backbone: the trained backbone (evaluation mode).
        head: the linear classifier on its features.
        eval_transform: the deterministic transform features are extracted with.
        config: the resolved configuration (no ``auto`` left).
        history: per epoch ``{"epoch", "loss", "train_accuracy", "lr", "seconds"}``.
        snapshots: epoch -> a copy of the backbone's ``state_dict`` after that epoch.
        seconds: wall time of the whole run.
    """

    backbone: nn.Module
    head: nn.Linear
    eval_transform: nn.Module
    config: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    snapshots: dict[int, dict[str, Tensor]] = field(default_factory=dict)
    seconds: float = 0.0

    def features(self, inputs: Tensor, state: Mapping[str, Tensor] | None = None) -> np.ndarray:
        """Backbone features of ``inputs`` (float32, (N, feature_dim)); with ``state`` (e.g. a
        snapshot) those of a copy of the backbone holding those weights."""
        backbone = self.backbone
        if state is not None:
            backbone = copy.deepcopy(self.backbone)
            backbone.load_state_dict(state)
        return extract_features(backbone, inputs, self.eval_transform, torch.device("cpu"))


def train_supervised(
    config: dict[str, Any], data: DataSplit, *, log: Callable[[str], None] = lambda _: None
) -> SupervisedRun:
    """Train backbone + linear head with cross-entropy on ``data``'s training split.

    Args:
        config: a configuration from ``build_config`` (``auto`` values allowed); ``loss.*``,
            ``model.projector_*`` and ``model.init_from`` are not used.
        data: labelled data, e.g. ``trainer.load_data(config)``.
        log: receives one line per epoch.

    Raises:
        InputError: for unlabelled data or a bad setting (as ``config.resolve`` checks them).
    """
    started = time.perf_counter()
    if data.train_y is None or len(data.train_y) == 0:
        raise InputError(
            f"data {data.name} have no training labels: supervised training needs them"
        )
    cfg = config_lib.resolve(config, data, "cpu")
    previous_threads = torch.get_num_threads()
    if cfg["train"]["threads"]:
        torch.set_num_threads(int(cfg["train"]["threads"]))
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(cfg["train"]["seed"]))
            return _train(cfg, data, log, started)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    cfg: dict[str, Any], data: DataSplit, log: Callable[[str], None], started: float
) -> SupervisedRun:
    is_image = data.kind == "image"
    feature_std = None if is_image else data.train_x.float().std(dim=0).clamp_min(1e-8)
    augment, eval_transform = build_transforms(cfg, is_image, feature_std)
    model_cfg = cfg["model"]
    backbone = build_backbone(
        model_cfg["backbone"],
        data.sample_shape,
        cifar_stem=bool(model_cfg["cifar_stem"]),
        widths=model_cfg["widths"],
    )
    assert data.train_y is not None
    n_classes = max(len(data.classes), int(data.train_y.max()) + 1)
    feature_dim: int = backbone.feature_dim  # type: ignore[assignment]  # set by every backbone
    head = nn.Linear(feature_dim, n_classes)
    optim_cfg = cfg["optim"]
    optimizer = build_optimizer(
        optim_cfg["name"],
        parameter_groups([backbone, head], float(optim_cfg["weight_decay"])),
        lr=float(optim_cfg["lr"]),
        momentum=float(optim_cfg["momentum"]),
    )
    epochs, batch = int(cfg["train"]["epochs"]), int(optim_cfg["batch_size"])
    steps_per_epoch = len(data.train_x) // batch
    total_steps = epochs * steps_per_epoch
    warmup_steps = int(optim_cfg["warmup_epochs"]) * steps_per_epoch
    save_epochs = set(cfg["train"]["save_epochs"])
    seed = int(cfg["train"]["seed"])
    run = SupervisedRun(backbone, head, eval_transform, cfg)
    step = 0
    lr = float(optim_cfg["lr"])
    for epoch in range(epochs):
        backbone.train()
        head.train()
        # the same order rule as the contrastive trainer: one permutation per (seed, epoch)
        order = torch.randperm(
            len(data.train_x), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        )
        loss_sum, correct, seen = 0.0, 0, 0
        for s in range(steps_per_epoch):
            indices = order[s * batch : (s + 1) * batch]
            lr = apply_schedule(optimizer, step, total_steps, warmup_steps, optim_cfg)
            labels = data.train_y[indices]
            logits = head(backbone(augment(data.train_x[indices])))
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if optim_cfg["clip_grad"]:
                nn.utils.clip_grad_norm_(
                    [*backbone.parameters(), *head.parameters()], float(optim_cfg["clip_grad"])
                )
            optimizer.step()
            if not math.isfinite(loss.item()):
                raise FloatingPointError(
                    f"supervised loss is {loss.item()} at epoch {epoch + 1}; lower optim.lr"
                )
            loss_sum += loss.item() * len(indices)
            correct += int((logits.argmax(dim=1) == labels).sum())
            seen += len(indices)
            step += 1
        record = {
            "epoch": epoch + 1,
            "loss": loss_sum / max(1, seen),
            "train_accuracy": correct / max(1, seen),
            "lr": lr,
            "seconds": time.perf_counter() - started,
        }
        run.history.append(record)
        if epoch + 1 in save_epochs:
            run.snapshots[epoch + 1] = {
                k: v.detach().clone() for k, v in backbone.state_dict().items()
            }
        log(
            f"supervised epoch {epoch + 1}/{epochs} loss={record['loss']:.4f} "
            f"train_acc={record['train_accuracy']:.3f}"
        )
    backbone.eval()
    head.eval()
    run.seconds = time.perf_counter() - started
    return run
