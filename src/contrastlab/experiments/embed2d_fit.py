"""The network of ``embed2d`` and its three training phases (t-SimCNE's recipe, with neighbours).

Network: ``backbone -> Linear(feature, hidden) -> BatchNorm -> ReLU -> Linear(hidden, out)``
(:class:`MapNetwork`); the output layer is a plain ``Linear``, with no BatchNorm and no
normalisation after it, so the map is free in the plane (t-SimCNE; the t-SimCLR projector's
``BatchNorm1d(affine=False)`` would pin each coordinate's spread to 1).

Phases (Boehm, Berens and Kobak 2023, "Unsupervised visualization of image datasets using
contrastive learning"), each with AdamW and a linear warm-up over its first tenth then cosine
decay of the learning rate:

1. ``stage1_128d``: the whole network with a 128-d output.
2. ``head_2d``: the output layer is replaced by a fresh ``Linear(hidden, 2)``, trained alone;
   everything before it is frozen (no gradient, and in evaluation mode, so even BatchNorm's
   running statistics stay as stage 1 left them).
3. ``all_2d``: every layer, 2-d output.

Loss: InfoNCE with the map's kernel (Cauchy by default) over the batch, both views of every
pair as each other's positive and the other ``2B - 2`` views as negatives
(:class:`contrastlab.losses.KernelInfoNCE`).

Positive pairs: with ``neighbours = 0``, two augmentations of one sample (SimCLR, t-SimCNE).
With ``neighbours = k > 0``, the second view is an augmentation of a training sample drawn
uniformly from the anchor's ``k`` nearest neighbours in input space (Euclidean distance on the
raw inputs, pixels in [0, 1]), the first an augmentation of the anchor: the kNN graph that
t-SNE's input similarities are built on, as the positive pairs of a contrastive loss (the
"augmentation by nearest neighbours" of NNCLR-style methods and Damrich et al. 2023's
contrastive reading of t-SNE). A new partner is drawn every epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

PHASES = ("stage1_128d", "head_2d", "all_2d")
STAGE1_DIM = 128
MAP_DIM = 2


class MapNetwork(nn.Module):
    """``x -> out(hidden(backbone(x)))``: a backbone, one hidden projector layer, a free output.

    Args:
        backbone: a module mapping a batch to ``(B, feature_dim)``, with ``feature_dim`` set.
        hidden_dim: width of the hidden layer (``Linear`` without bias, ``BatchNorm1d``, ReLU).
        out_dim: output width (128 in stage 1, 2 for the map).
    """

    def __init__(self, backbone: nn.Module, hidden_dim: int = 512, out_dim: int = STAGE1_DIM):
        super().__init__()
        feature_dim = int(backbone.feature_dim)  # type: ignore[arg-type]  # set by every backbone
        self.backbone = backbone
        self.hidden = nn.Sequential(
            nn.Linear(feature_dim, hidden_dim, bias=False),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Linear(hidden_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.hidden(self.backbone(x)))

    def body(self) -> nn.Module:
        """Everything before the output layer, as one module (the part frozen in ``head_2d``)."""
        return nn.ModuleList([self.backbone, self.hidden])

    def shrink(self, out_dim: int = MAP_DIM) -> None:
        """Replace the output layer by a fresh ``Linear(hidden, out_dim)`` (PyTorch's default
        initialisation, from the global generator)."""
        self.out = nn.Linear(self.out.in_features, out_dim)


def set_frozen(body: nn.Module, frozen: bool) -> None:
    """Freeze (``requires_grad = False``, evaluation mode) or unfreeze (trainable, train mode)."""
    body.train(not frozen)
    for parameter in body.parameters():
        parameter.requires_grad_(not frozen)


def neighbour_graph(inputs: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` nearest neighbours of each row of ``inputs`` (N, D), itself excluded.

    Returns:
        ``(N, k)`` integer indices into ``inputs``, nearest first (Euclidean distance;
        scikit-learn ``NearestNeighbors``, which leaves each query point out of its own list).
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(inputs) - 1)
    return NearestNeighbors(n_neighbors=k).fit(inputs).kneighbors(return_distance=False)


def pair_batches(
    n: int, batch_size: int, graph: np.ndarray | None, generator: torch.Generator
) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch of positive pairs ``(anchors, partners)`` as index tensors.

    Anchors: a random permutation of ``range(n)`` in batches of ``batch_size`` (the last, short
    batch dropped; one batch of all ``n`` when ``n <= batch_size``). Partners: the anchors
    themselves (``graph is None``), or for each anchor one of its ``graph`` row's neighbours,
    drawn uniformly.
    """
    order = torch.randperm(n, generator=generator)
    size = min(batch_size, n)
    for start in range(0, n - size + 1, size):
        anchors = order[start : start + size]
        if graph is None:
            yield anchors, anchors
            continue
        pick = torch.randint(graph.shape[1], (size,), generator=generator)
        yield anchors, torch.from_numpy(graph[anchors.numpy(), pick.numpy()])


@dataclass(frozen=True)
class Phase:
    """One training phase: its name, epochs, learning rate, and whether the body is frozen."""

    name: str
    epochs: int
    lr: float
    frozen_body: bool = False


@dataclass
class Trainer:
    """What every phase shares: the data, the two transforms, the loss, the pairs' graph.

    Attributes:
        inputs: training samples as stored (``uint8`` images or float vectors).
        augment: one random view of a batch per call.
        loss_fn: ``(z1, z2) -> scalar``.
        graph: neighbour indices ``(N, k)``, or ``None`` for augmentation pairs only.
        batch_size: pairs per step.
        weight_decay: AdamW's.
        generator: draws the anchors' order and partners.
        log: one-line progress messages.
    """

    inputs: Tensor
    augment: nn.Module
    loss_fn: nn.Module
    graph: np.ndarray | None
    batch_size: int
    weight_decay: float
    generator: torch.Generator
    log: Callable[[str], None] = lambda _: None

    def run(self, model: MapNetwork, phase: Phase) -> dict[str, Any]:
        """Train ``model`` for ``phase``; returns its ``epochs``, ``seconds``, ``final_loss``.

        The learning rate at step ``t`` is ``phase.lr * lr_factor(t, T)``, ``T`` the phase's steps.
        """
        started = time.perf_counter()
        body = model.body()
        set_frozen(body, phase.frozen_body)
        model.out.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=phase.lr, weight_decay=self.weight_decay)
        steps = phase.epochs * _batches_per_epoch(len(self.inputs), self.batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda t: lr_factor(t, steps))
        loss = torch.tensor(float("nan"))
        for epoch in range(phase.epochs):
            for anchors, partners in pair_batches(
                len(self.inputs), self.batch_size, self.graph, self.generator
            ):
                z1 = model(self.augment(self.inputs[anchors]))
                z2 = model(self.augment(self.inputs[partners]))
                loss = self.loss_fn(z1, z2)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                schedule.step()
            if (epoch + 1) % max(1, phase.epochs // 5) == 0 or epoch + 1 == phase.epochs:
                self.log(
                    f"[{phase.name}] epoch {epoch + 1}/{phase.epochs} loss {loss.item():.4f} "
                    f"({time.perf_counter() - started:.0f} s)"
                )
        set_frozen(body, False)
        return {
            "epochs": phase.epochs,
            "seconds": time.perf_counter() - started,
            "final_loss": float(loss.item()),
        }


def lr_factor(step: int, steps: int) -> float:
    """``min(1, (t + 1) / w) * (1 + cos(pi min(t, T) / T)) / 2`` with ``w = max(1, T // 10)``:
    a linear warm-up over the first tenth of the ``T = steps`` steps, then cosine decay."""
    warm = max(1, steps // 10)
    return min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))


def _batches_per_epoch(n: int, batch_size: int) -> int:
    return max(1, n // min(batch_size, n))


@torch.no_grad()
def outputs(model: nn.Module, transform: nn.Module, inputs: Tensor, batch_size: int = 512) -> Any:
    """``model(transform(x))`` for every row of ``inputs`` in evaluation mode, as a NumPy array
    (the model's mode is restored after)."""
    was_training = model.training
    model.eval()
    starts = range(0, len(inputs), batch_size)
    parts = [model(transform(inputs[i : i + batch_size])) for i in starts]
    model.train(was_training)
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)
