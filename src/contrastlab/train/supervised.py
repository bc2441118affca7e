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
from contrastlab.train.loop import Schedule, seed_everything, torch_threads
from contrastlab.train.optim import build_optimizer, parameter_groups
from contrastlab.train.sections import RunConfig, TrainConfig

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
    config: RunConfig
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
    config: TrainConfig | Mapping[str, Any],
    data: DataSplit,
    *,
    log: Callable[[str], None] = lambda _: None,
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
    with torch_threads(cfg.train.threads), torch.random.fork_rng(devices=[]):
        seed_everything(cfg.train.seed)
        return _train(cfg, data, log, started)


def _train(
    cfg: RunConfig, data: DataSplit, log: Callable[[str], None], started: float
) -> SupervisedRun:
    is_image = data.kind == "image"
    feature_std = None if is_image else data.train_x.float().std(dim=0).clamp_min(1e-8)
    augment, eval_transform = build_transforms(cfg, is_image, feature_std)
    backbone = build_backbone(
        cfg.model.backbone,
        data.sample_shape,
        cifar_stem=cfg.model.cifar_stem,
        widths=cfg.model.widths,
    )
    assert data.train_y is not None
    n_classes = max(len(data.classes), int(data.train_y.max()) + 1)
    feature_dim: int = backbone.feature_dim  # type: ignore[assignment]  # set by every backbone
    head = nn.Linear(feature_dim, n_classes)
    optimizer = build_optimizer(
        cfg.optim.name,
        parameter_groups([backbone, head], cfg.optim.weight_decay),
        lr=cfg.optim.lr,
        momentum=cfg.optim.momentum,
    )
    schedule = Schedule.of(cfg, len(data.train_x))
    run = SupervisedRun(backbone, head, eval_transform, cfg)
    step = 0
    for epoch in range(schedule.epochs):
        backbone.train()
        head.train()
        loss_sum, correct, seen = 0.0, 0, 0
        lr = cfg.optim.lr
        for indices in schedule.batches(len(data.train_x), epoch):
            lr = schedule.apply(optimizer, step)
            labels = data.train_y[indices]
            logits = head(backbone(augment(data.train_x[indices])))
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.optim.clip_grad:
                nn.utils.clip_grad_norm_(
                    [*backbone.parameters(), *head.parameters()], cfg.optim.clip_grad
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
        _end_epoch(run, epoch + 1, loss_sum / max(1, seen), correct / max(1, seen), lr, started)
        log(
            f"supervised epoch {epoch + 1}/{schedule.epochs} loss={run.history[-1]['loss']:.4f} "
            f"train_acc={run.history[-1]['train_accuracy']:.3f}"
        )
    backbone.eval()
    head.eval()
    run.seconds = time.perf_counter() - started
    return run


def _end_epoch(
    run: SupervisedRun, epoch: int, loss: float, accuracy: float, lr: float, started: float
) -> None:
    """The epoch's history record and, in ``train.save_epochs``, a copy of the backbone."""
    record = {
        "epoch": epoch,
        "loss": loss,
        "train_accuracy": accuracy,
        "lr": lr,
        "seconds": time.perf_counter() - started,
    }
    run.history.append(record)
    if epoch in run.config.train.save_epochs:
        run.snapshots[epoch] = {k: v.detach().clone() for k, v in run.backbone.state_dict().items()}
