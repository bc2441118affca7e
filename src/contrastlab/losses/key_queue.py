"""A first-in first-out queue of keys: MoCo's negatives, with its state in ``state_dict``.

The queue has ``capacity`` K rows. ``enqueue(keys)`` writes the batch at the pointer (wrapping
around) and overwrites the oldest keys once the queue is full. Until then only the rows filled
so far are negatives (``negatives()``); no random vectors stand in for missing keys. The keys,
the pointer and the fill count are buffers, so a checkpoint of a module holding the queue
restores it exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class KeyQueue(nn.Module):
    """FIFO queue of ``capacity`` keys of width ``dim``.

    Args:
        capacity: K >= 1 rows.
        dim: width d >= 1 of each key.

    Example:
        >>> queue = KeyQueue(4096, 128)
        >>> loss = loss_fn(q, k, queue.negatives())
        >>> queue.enqueue(losses.gather_keys(k))  # after the loss: this batch's keys are not
        ...                                       # their own negatives
    """

    keys: Tensor
    pointer: Tensor
    filled: Tensor

    def __init__(self, capacity: int, dim: int) -> None:
        super().__init__()
        for name, value in (("capacity", capacity), ("dim", dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"KeyQueue: {name} must be a positive integer, got {value!r}")
        self.capacity = capacity
        self.register_buffer("keys", torch.zeros(capacity, dim))
        self.register_buffer("pointer", torch.zeros((), dtype=torch.long))
        self.register_buffer("filled", torch.zeros((), dtype=torch.long))

    def negatives(self) -> Tensor:
        """The keys enqueued so far, at most ``capacity`` rows (storage order, not age order)."""
        return self.keys[: int(self.filled)]

    @torch.no_grad()
    def enqueue(self, keys: Tensor) -> None:
        """Write ``keys`` (n x d) over the oldest rows; with n > capacity only the last K stay."""
        if not isinstance(keys, Tensor) or keys.dim() != 2 or keys.shape[1] != self.keys.shape[1]:
            shape = tuple(keys.shape) if isinstance(keys, Tensor) else type(keys).__name__
            raise ValueError(f"KeyQueue: keys must be (n, {self.keys.shape[1]}), got {shape}")
        keys = keys.detach()[-self.capacity :].to(self.keys.dtype)
        n, start = keys.shape[0], int(self.pointer)
        first = min(n, self.capacity - start)
        self.keys[start : start + first] = keys[:first]
        self.keys[: n - first] = keys[first:]
        self.pointer.fill_((start + n) % self.capacity)
        self.filled.fill_(min(self.capacity, int(self.filled) + n))
