"""What real runs apply: the learning rate read back from ``metrics.jsonl`` and from the optimiser,
the configured momentum, weight decay and gradient clipping, and the logged loss.

The reference is the documented schedule written out here, not the library's function: linear
warm-up from ``base / W`` up to ``base`` over the first ``W`` steps, then
``min + (base - min) * (1 + cos(pi * progress)) / 2`` with ``progress = (s - W) / (T - W)`` and
``min = min_lr_ratio * base``. What the optimiser used is taken from its own ``param_groups`` at
every ``step()`` (a global optimiser pre-step hook), so a rate that is logged but not applied, or
applied one step late, fails too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contrastlab.train.config import build_config
from contrastlab.train.supervised import train_supervised
from contrastlab.train.trainer import load_data, train

from .conftest import TINY, applied_rates, applied_steps, loss_values, reference_lr

BATCH = 128
STEPS_PER_EPOCH = 1437 // BATCH  # digits: 1,437 training images, the last partial batch dropped
QUIET = [
    "monitor.knn=false",
    "monitor.online_probe=false",
    "eval.linear_probe=false",
    "eval.raw_baseline=false",
]


def _settings(base: float, warmup_epochs: int, min_ratio: float, name: str) -> list[str]:
    return [
        *TINY,
        *QUIET,
        f"optim.name={name}",
        f"optim.lr={base}",
        f"optim.warmup_epochs={warmup_epochs}",
        f"optim.min_lr_ratio={min_ratio}",
    ]


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_contrastive_run_applies_and_logs_warmup_then_cosine(tmp_path: Path, name: str) -> None:
    epochs, warmup_epochs, base, min_ratio = 5, 2, 0.004, 0.1
    config = build_config(
        None,
        _settings(base, warmup_epochs, min_ratio, name),
        **{"train.epochs": epochs, "optim.batch_size": BATCH},
    )
    with applied_rates() as seen:
        train(config, tmp_path / "run", log=lambda _: None)
    total, warmup = epochs * STEPS_PER_EPOCH, warmup_epochs * STEPS_PER_EPOCH
    expected = [reference_lr(s, total, warmup, base, min_ratio) for s in range(total)]

    assert len(seen) == total
    for step, (groups, want) in enumerate(zip(seen, expected, strict=True)):
        assert groups == pytest.approx([want] * len(groups), rel=1e-12), step

    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["epoch"] for r in records] == list(range(1, epochs + 1))
    # each record holds the rate of its epoch's last step
    logged = [r["lr"] for r in records]
    assert logged == pytest.approx([expected[e * STEPS_PER_EPOCH - 1] for e in range(1, 6)])
    assert logged[0] == pytest.approx(base * STEPS_PER_EPOCH / warmup)  # halfway up the ramp
    assert logged[1] == pytest.approx(base)  # the warm-up ends at the base rate
    assert min_ratio * base < logged[-1] < 1.05 * min_ratio * base  # near the floor


def test_supervised_run_applies_and_logs_the_same_schedule() -> None:
    epochs, warmup_epochs, base, min_ratio = 4, 1, 0.03, 0.2
    config = build_config(
        None,
        _settings(base, warmup_epochs, min_ratio, "sgd"),
        **{"train.epochs": epochs, "optim.batch_size": BATCH},
    )
    data = load_data(config)
    with applied_rates() as seen:
        run = train_supervised(config, data)
    total, warmup = epochs * STEPS_PER_EPOCH, warmup_epochs * STEPS_PER_EPOCH
    expected = [reference_lr(s, total, warmup, base, min_ratio) for s in range(total)]
    assert [groups[0] for groups in seen] == pytest.approx(expected, rel=1e-12)
    assert all(len(set(groups)) == 1 for groups in seen)
    logged = [r["lr"] for r in run.history]
    assert logged == pytest.approx([expected[e * STEPS_PER_EPOCH - 1] for e in range(1, 5)])


def test_momentum_weight_decay_clipping_and_the_logged_loss(tmp_path: Path) -> None:
    clip = 1e-3  # far below the gradients' norm: every step is clipped
    sets = [
        *_settings(0.05, 0, 1.0, "sgd"),
        "optim.momentum=0.5",
        "optim.weight_decay=0.01",
        f"optim.clip_grad={clip}",
    ]
    config = build_config(None, sets, **{"train.epochs": 2, "optim.batch_size": BATCH})
    with applied_steps() as steps, loss_values() as losses:
        train(config, tmp_path / "run", log=lambda _: None)
    assert len(steps) == len(losses) == 2 * STEPS_PER_EPOCH
    for step in steps:
        assert [g["momentum"] for g in step["groups"]] == [0.5, 0.5]
        # decay on weights only: norms and biases are excluded
        assert [g["weight_decay"] for g in step["groups"]] == [0.01, 0.0]
        assert step["grad_norm"] == pytest.approx(clip, rel=1e-3)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    for epoch, record in enumerate(records):
        own = losses[epoch * STEPS_PER_EPOCH : (epoch + 1) * STEPS_PER_EPOCH]
        assert record["loss"] == pytest.approx(sum(own) / len(own), rel=1e-6)
