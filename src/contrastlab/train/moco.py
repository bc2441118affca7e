"""MoCo: a momentum copy of backbone and projector gives keys, a FIFO queue keeps them as negatives.

Per step (``loss.method: moco``, settings in the ``moco`` section):

1. the key encoder (a copy of backbone + projector made at the start, never trained by
   gradient) follows the trained encoder by an exponential moving average of the parameters,

       theta_key <- m * theta_key + (1 - m) * theta,

   with ``m`` constant (``momentum_schedule: constant``, MoCo v2, e.g. 0.99 or 0.999) or
   ``m(s) = m_end - (m_end - m_0) * (1 + cos(pi * s / S)) / 2`` over the run's S steps
   (``cosine``, MoCo v3: 0.99 -> 1). Buffers (BatchNorm's running statistics) are not averaged:
   the key encoder runs in training mode and keeps its own, as MoCo's code does;
2. queries ``q`` (trained encoder, with gradient) and keys ``k`` (key encoder, no gradient):
   view 1 against view 2 (MoCo v2), or both views as queries (``symmetric``: ``q = [q1; q2]``
   paired with ``k2, k1``);
3. the loss ``losses.QueueInfoNCE`` of ``q``, ``k`` and the queue's keys (any kernel; a
   ``loss_sum`` gives the weighted sum of one queue loss per kernel), then backward;
4. the keys of all ranks (``losses.gather_keys``) enter the queue after the backward pass, so a
   batch's keys are never their own negatives and every rank holds the same queue.

The queue starts empty and its negatives are the keys enqueued so far (no random vectors stand
in); its keys, pointer and fill count, and the key encoder, are in the checkpoint (``moco``),
so a killed and resumed run reaches the weights of an unbroken one.

BatchNorm under DDP (the choice, documented): the key encoder is copied from the trained model
after its optional conversion, so with ``model.sync_batchnorm`` on GPUs both encoders use
SyncBatchNorm over the global batch (MoCo v3's answer to BN leaking the positive through batch
statistics); otherwise each rank normalises over its own batch. MoCo v1/v2's shuffled BN is not
implemented.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from contrastlab import losses
from contrastlab.errors import InputError
from contrastlab.kernels import Kernel
from contrastlab.specs import is_loss_sum
from contrastlab.train.sections import MocoSection


def momentum_at(step: int, total_steps: int, settings: MocoSection) -> float:
    """The EMA momentum ``m`` of step ``step`` (0-based) of ``total_steps`` (module docstring)."""
    if settings.momentum_schedule == "constant":
        return settings.momentum
    progress = min(1.0, step / max(1, total_steps))
    start, end = settings.momentum, settings.momentum_end
    return end - (end - start) * (1 + math.cos(math.pi * progress)) / 2


@torch.no_grad()
def ema_update(key_model: nn.Module, model: nn.Module, momentum: float) -> None:
    """``theta_key <- m * theta_key + (1 - m) * theta`` for every parameter (not the buffers)."""
    for key, online in zip(key_model.parameters(), model.parameters(), strict=True):
        key.mul_(momentum).add_(online.detach(), alpha=1.0 - momentum)


class QueueLossSum(nn.Module):
    """``sum_m w_m QueueInfoNCE(k_m)(q, k, queue)``: one softmax per kernel (a ``loss_sum``)."""

    def __init__(self, terms: Sequence[tuple[Kernel, float]], symmetric: bool) -> None:
        super().__init__()
        self.terms = list(terms)
        self.parts = [losses.QueueInfoNCE(k, symmetric=symmetric) for k, _ in self.terms]

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
        total = q.new_zeros((), dtype=torch.float32)
        for part, (_, weight) in zip(self.parts, self.terms):
            total = total + weight * part(q, k, queue)
        return total


def build_queue_loss(
    spec: dict[str, Any], kernels: Sequence[tuple[Kernel, float]], symmetric: bool
) -> nn.Module:
    """The queue loss of a canonical ``loss.kernel`` spec whose kernels are ``kernels``."""
    if is_loss_sum(spec):
        return QueueLossSum(kernels, symmetric)
    ((kernel, _),) = kernels
    return losses.QueueInfoNCE(kernel, symmetric=symmetric)


class MoCo(nn.Module):
    """Key encoder, queue and loss of a MoCo run; ``state_dict`` holds encoder and queue.

    Args:
        model: the trained ``ContrastiveModel`` (copied once for the key encoder).
        loss: the queue loss (``losses.QueueInfoNCE`` or ``QueueLossSum``).
        settings: the ``moco`` section.
        dim: the embedding width (the projector's output).
    """

    def __init__(self, model: nn.Module, loss: nn.Module, settings: MocoSection, dim: int) -> None:
        super().__init__()
        self.key_model = copy.deepcopy(model)
        self.key_model.requires_grad_(False)
        self.queue = losses.KeyQueue(settings.queue_size, dim)
        self.loss = loss
        self.settings = settings
        self._pending: Tensor | None = None

    def embed(
        self, step_module: nn.Module, model: nn.Module, views: tuple[Tensor, Tensor], m: float
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """EMA step with momentum ``m``, then this batch's queries (with gradient), keys (none)
        and the probe's logits (the probe sees view 1), from its two augmented ``views``."""
        ema_update(self.key_model, model, m)
        first, second = views
        if self.settings.symmetric:
            both = torch.cat([first, second])
            z, logits = step_module(both, len(first))
            with torch.no_grad():
                keys = self.key_model(both)[1]
        else:
            z, logits = step_module(first, len(first))
            with torch.no_grad():
                keys = self.key_model(second)[1]
        return z.float(), keys.float(), logits

    def queue_loss(self, queries: Tensor, keys: Tensor) -> Tensor:
        """The loss of ``queries`` and ``keys`` against the queue; the keys of all ranks are kept
        for :meth:`enqueue`, to be called after the backward pass."""
        loss = self.loss(queries, keys, self.queue.negatives())
        self._pending = losses.gather_keys(keys)
        return loss

    def step_loss(
        self, step_module: nn.Module, model: nn.Module, views: tuple[Tensor, Tensor], m: float
    ) -> tuple[Tensor, Tensor | None]:
        """:meth:`embed` then :meth:`queue_loss`: ``(loss, probe logits)``."""
        queries, keys, logits = self.embed(step_module, model, views, m)
        return self.queue_loss(queries, keys), logits

    def enqueue(self) -> None:
        """Put the last step's gathered keys into the queue (after its backward pass)."""
        if self._pending is not None:
            self.queue.enqueue(self._pending)
            self._pending = None


def build_moco(
    settings: MocoSection,
    spec: dict[str, Any],
    kernels: Sequence[tuple[Kernel, float]],
    model: nn.Module,
    dim: int,
) -> MoCo:
    """The run's :class:`MoCo` on the model's device (after any SyncBatchNorm conversion)."""
    if settings.momentum_schedule == "cosine" and settings.momentum_end < settings.momentum:
        raise InputError(
            f"moco.momentum_end {settings.momentum_end} is below moco.momentum "
            f"{settings.momentum}: the cosine schedule rises from momentum to momentum_end"
        )
    loss = build_queue_loss(spec, kernels, settings.symmetric)
    device = next(model.parameters()).device
    return MoCo(model, loss, settings, dim).to(device)
