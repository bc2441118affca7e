"""Kernel InfoNCE and CLIP losses on a blockwise, distributed-aware engine.

- ``KernelInfoNCE(kernel)``: SimCLR-style two-view InfoNCE with any kernel.
- ``LossSum([(kernel, weight), ...])``: weighted sum of separate InfoNCE losses.
- ``KernelCLIPLoss(kernel)``: CLIP's symmetric two-modality loss.
- ``soft_target_infonce(z, P, kernel)``: full-batch InfoNCE with soft positives.
- ``grouped_clip_loss(a, b, kernel, group)``: CLIP's loss inside groups (m negatives per anchor).
- ``QueueInfoNCE(kernel)``: MoCo's InfoNCE against a queue of earlier keys (gradient to queries).
- ``KeyQueue(capacity, dim)``: the FIFO queue of keys; ``gather_keys`` collects keys across ranks.
- ``softmax_contrastive_loss``: the kernel-agnostic engine under all of them.
"""

from __future__ import annotations

from contrastlab.losses.clip import KernelCLIPLoss
from contrastlab.losses.distributed import gather_keys, gather_with_grad
from contrastlab.losses.engine import softmax_contrastive_loss
from contrastlab.losses.grouped import grouped_clip_loss
from contrastlab.losses.infonce import KernelInfoNCE, LossSum, soft_target_infonce
from contrastlab.losses.key_queue import KeyQueue
from contrastlab.losses.options import EngineOptions, block_bytes
from contrastlab.losses.queue import QueueInfoNCE

__all__ = [
    "EngineOptions",
    "KernelCLIPLoss",
    "KernelInfoNCE",
    "KeyQueue",
    "LossSum",
    "QueueInfoNCE",
    "block_bytes",
    "gather_keys",
    "gather_with_grad",
    "grouped_clip_loss",
    "soft_target_infonce",
    "softmax_contrastive_loss",
]
