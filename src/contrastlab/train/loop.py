"""What the contrastive and the supervised trainer share: batch order, schedule, seeding, threads.

* Batch order: one permutation per epoch drawn from ``(train.seed, epoch)`` alone
  (:func:`contrastlab.train.distributed.epoch_batches`), cut into full global batches, so a
  resumed run sees the order an uninterrupted one sees.
* Schedule: :class:`Schedule`, the warm-up + cosine learning rate of
  :func:`contrastlab.train.optim.warmup_cosine` over ``train.epochs`` epochs of
  ``len(train) // optim.batch_size`` steps, ``optim.warmup_epochs`` of them warm-up.
* Seeding: :func:`seed_everything` (torch, NumPy's and Python's global generators).
* Threads: :func:`torch_threads`, ``train.threads`` for the run only.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from contrastlab.train.distributed import Runtime, epoch_batches
from contrastlab.train.optim import warmup_cosine
from contrastlab.train.sections import RunConfig


@dataclass(frozen=True)
class Schedule:
    """The run's length in steps and its learning rate at each step.

    Attributes:
        epochs: ``train.epochs``.
        batch_size: the global batch ``optim.batch_size``.
        steps_per_epoch: ``train_size // batch_size`` (the last partial batch is dropped).
        total_steps: ``epochs * steps_per_epoch``.
        warmup_steps: ``optim.warmup_epochs * steps_per_epoch``.
        lr: the base rate ``optim.lr``; ``min_lr_ratio``: the floor as a share of it.
        seed: ``train.seed``, which fixes the batch order.
    """

    epochs: int
    batch_size: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    lr: float
    min_lr_ratio: float
    seed: int

    @classmethod
    def of(cls, cfg: RunConfig, train_size: int) -> Schedule:
        """The schedule of a resolved configuration on ``train_size`` training samples."""
        steps = train_size // cfg.optim.batch_size
        return cls(
            epochs=cfg.train.epochs,
            batch_size=cfg.optim.batch_size,
            steps_per_epoch=steps,
            total_steps=cfg.train.epochs * steps,
            warmup_steps=cfg.optim.warmup_epochs * steps,
            lr=cfg.optim.lr,
            min_lr_ratio=cfg.optim.min_lr_ratio,
            seed=cfg.train.seed,
        )

    def rate(self, step: int) -> float:
        """:func:`~contrastlab.train.optim.warmup_cosine` at ``step``."""
        return warmup_cosine(step, self.total_steps, self.warmup_steps, self.lr, self.min_lr_ratio)

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        """Set every parameter group's learning rate to :meth:`rate` of ``step``; return it."""
        lr = self.rate(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def batches(
        self, num_samples: int, epoch: int, runtime: Runtime | None = None
    ) -> list[torch.Tensor]:
        """This rank's sample indices for each step of ``epoch`` (the shared batch order)."""
        return epoch_batches(num_samples, self.batch_size, epoch, self.seed, runtime or Runtime())


def seed_everything(seed: int) -> None:
    """Seed torch, NumPy's legacy global generator and Python's ``random`` with ``seed``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (legacy global state, for user code)
    random.seed(seed)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` torch threads (``None``: as they are), then restore them."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
