"""``losses.KeyQueue``: first in, first out, with its whole state in ``state_dict``."""

from __future__ import annotations

import pytest
import torch

from contrastlab import losses


def _batch(first: int, rows: int) -> torch.Tensor:
    """Keys numbered ``first, first + 1, ...`` in every column, so each row names its batch slot."""
    return torch.arange(first, first + rows, dtype=torch.float32).unsqueeze(1).repeat(1, 3)


def _ids(queue: losses.KeyQueue) -> list[int]:
    return [int(v) for v in queue.negatives()[:, 0]]


def test_fills_in_order_then_overwrites_the_oldest_keys() -> None:
    queue = losses.KeyQueue(capacity=5, dim=3)
    assert queue.negatives().shape == (0, 3), "an empty queue has no negatives (no random keys)"
    queue.enqueue(_batch(0, 2))
    assert _ids(queue) == [0, 1]
    queue.enqueue(_batch(2, 2))
    assert _ids(queue) == [0, 1, 2, 3]
    queue.enqueue(_batch(4, 2))  # 4 fills the last slot, 5 wraps over the oldest key (0)
    assert _ids(queue) == [5, 1, 2, 3, 4]
    queue.enqueue(_batch(6, 3))
    assert _ids(queue) == [5, 6, 7, 8, 4]
    assert int(queue.pointer) == 4 and int(queue.filled) == 5
    # at any time the queue holds exactly the newest ``capacity`` keys
    queue.enqueue(_batch(9, 1))
    assert sorted(_ids(queue)) == [5, 6, 7, 8, 9]


def test_a_batch_larger_than_the_queue_keeps_its_newest_keys() -> None:
    queue = losses.KeyQueue(capacity=3, dim=3)
    queue.enqueue(_batch(0, 1))
    queue.enqueue(_batch(1, 7))
    assert sorted(_ids(queue)) == [5, 6, 7]


def test_state_dict_restores_keys_pointer_and_fill() -> None:
    queue = losses.KeyQueue(capacity=4, dim=3)
    queue.enqueue(_batch(0, 3))
    queue.enqueue(_batch(3, 3))
    restored = losses.KeyQueue(capacity=4, dim=3)
    restored.load_state_dict(queue.state_dict())
    for q in (queue, restored):
        q.enqueue(_batch(6, 1))
    assert _ids(restored) == _ids(queue) == [4, 5, 6, 3]


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        losses.KeyQueue(capacity=0, dim=3)
    with pytest.raises(ValueError, match=r"keys must be \(n, 3\), got \(2, 4\)"):
        losses.KeyQueue(capacity=4, dim=3).enqueue(torch.zeros(2, 4))
