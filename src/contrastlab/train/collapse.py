"""The collapse monitor of a training run: alignment, uniformity and effective rank of the
projector's embeddings (:mod:`contrastlab.analysis.collapse`) after every epoch.

The embeddings are those of two augmented views of a fixed, seeded subset of at most
:data:`MONITOR_SAMPLES` training samples, with the model in evaluation mode. The views are
drawn inside :func:`torch.random.fork_rng` from a generator seeded by ``train.seed``, so the
monitor neither changes the training's random stream (a resumed run still reaches the weights
of an uninterrupted one) nor varies from epoch to epoch except through the model.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from contrastlab.analysis.collapse import (
    COLLAPSE_LOSS_MARGIN,
    COLLAPSE_RANK,
    alignment,
    collapse_warning,
    effective_rank,
    uniform_loss,
    uniformity,
)

MONITOR_SAMPLES = 256  # two views of these: a few per cent of a digits epoch
COLLAPSE_RULE = (
    f"collapsed when the effective rank (RankMe) of the embeddings is below {COLLAPSE_RANK:g}, "
    f"or the loss is within {COLLAPSE_LOSS_MARGIN:.0%} of log(2B - 1), the loss of a uniform "
    "softmax (every embedding the same); thresholds fixed from what the measures mean, "
    "before any run was seen"
)


@torch.no_grad()
def collapse_measures(
    model: nn.Module, augment: nn.Module, samples: Tensor, device: torch.device, seed: int
) -> dict[str, float]:
    """``alignment``, ``uniformity`` and ``effective_rank`` of ``model``'s embeddings of two
    views of (a seeded subset of) ``samples``; empty when the embeddings are not finite."""
    chosen = torch.randperm(len(samples), generator=torch.Generator().manual_seed(seed))
    x = samples[chosen[:MONITOR_SAMPLES]].to(device)
    devices = [device] if device.type == "cuda" else []
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            z1 = model(augment(x))[1].float().cpu()
            z2 = model(augment(x))[1].float().cpu()
    finally:
        model.train(was_training)
    if not (torch.isfinite(z1).all() and torch.isfinite(z2).all()) or len(x) < 2:
        return {}
    if float(z1.abs().sum()) == 0:
        return {"alignment": 0.0, "uniformity": 0.0, "effective_rank": 0.0}
    return {
        "alignment": alignment(z1, z2),
        "uniformity": uniformity(z1),
        "effective_rank": effective_rank(z1),
    }


def uniform_level(loss_fn: nn.Module, batch_size: int) -> float | None:
    """The loss every embedding being the same gives: ``log(2B - 1)`` per softmax, times the
    weights of a ``LossSum``; ``None`` for losses of another form."""
    terms = getattr(loss_fn, "terms", None)
    if terms is not None:
        return float(sum(weight for _, weight in terms)) * uniform_loss(batch_size)
    if type(loss_fn).__name__ == "KernelInfoNCE":
        return uniform_loss(batch_size)
    return None


def collapse_reason(record: dict[str, Any], level: float | None) -> str:
    """Why the epoch's ``record`` counts as collapsed, or ``""``
    (:func:`contrastlab.analysis.collapse.collapse_warning`)."""
    if "effective_rank" not in record:
        return ""
    return collapse_warning(record["effective_rank"], record.get("loss"), level)
