"""MoCo training (``loss.method: moco``): the EMA step against a hand computation, the momentum
schedules, the order of loss and enqueue, a run on digits, and a killed run that resumes to the
same weights, key encoder and queue."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from contrastlab import kernels, losses
from contrastlab.cli import main
from contrastlab.errors import InputError
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import build_config
from contrastlab.train.moco import MoCo, ema_update, momentum_at
from contrastlab.train.sections import MocoSection
from contrastlab.train.trainer import train

from .conftest import TINY
from .faults import env
from .test_ddp import SETTINGS as DDP_BASE
from .test_ddp import _free_port, _vectors

MOCO = [*TINY, "loss.method=moco", "moco.queue_size=300", "eval.raw_baseline=false"]
STEPS = 1437 // 128  # digits' training split in global batches of 128


def test_ema_update_against_a_hand_computation() -> None:
    key, online = nn.Linear(2, 1), nn.Linear(2, 1)
    with torch.no_grad():
        key.weight.copy_(torch.tensor([[1.0, -2.0]]))
        key.bias.fill_(0.5)
        online.weight.copy_(torch.tensor([[3.0, 4.0]]))
        online.bias.fill_(-1.5)
    ema_update(key, online, 0.9)
    # 0.9 * key + 0.1 * online, entry by entry
    assert key.weight[0].tolist() == pytest.approx([0.9 * 1 + 0.1 * 3, 0.9 * -2 + 0.1 * 4])
    assert key.bias.tolist() == pytest.approx([0.9 * 0.5 + 0.1 * -1.5])
    assert online.weight.tolist() == [[3.0, 4.0]], "the trained encoder is left alone"


def test_ema_leaves_batchnorm_statistics_to_the_key_encoder() -> None:
    key, online = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    online.running_mean.fill_(7.0)
    ema_update(key, online, 0.5)
    assert key.running_mean.tolist() == [0.0, 0.0]


def test_momentum_schedules() -> None:
    constant = MocoSection(momentum=0.999)
    assert [momentum_at(s, 100, constant) for s in (0, 50, 100)] == [0.999] * 3
    cosine = MocoSection(momentum=0.99, momentum_end=1.0, momentum_schedule="cosine")
    assert momentum_at(0, 100, cosine) == pytest.approx(0.99)
    assert momentum_at(50, 100, cosine) == pytest.approx(0.995)
    assert momentum_at(100, 100, cosine) == pytest.approx(1.0)
    quarter = 1.0 - 0.01 * (1 + math.cos(math.pi / 4)) / 2
    assert momentum_at(25, 100, cosine) == pytest.approx(quarter)


class _Model(nn.Module):
    """A linear ``ContrastiveModel`` stand-in: ``forward(x) -> (h, z)``."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, self.layer(x)


class _Step(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, views: torch.Tensor, first: int) -> tuple[torch.Tensor, None]:
        return self.model(views)[1], None


def test_a_batch_is_enqueued_after_its_loss_never_as_its_own_negatives() -> None:
    torch.manual_seed(0)
    model = _Model()
    kernel = kernels.Cosine(0.2)
    moco = MoCo(model, losses.QueueInfoNCE(kernel), MocoSection(queue_size=10), dim=3)
    first, second = torch.randn(4, 4), torch.randn(4, 4)
    with torch.no_grad():
        model.layer.weight.add_(1.0)  # the trained encoder has moved away from its copy
    before = moco.key_model.layer.weight.detach().clone()
    loss, _ = moco.step_loss(_Step(model), model, (first, second), m=0.9)
    # the EMA step comes first, with the step's momentum
    after = 0.9 * before + 0.1 * model.layer.weight.detach()
    assert torch.allclose(moco.key_model.layer.weight, after)
    # the queue was empty: only the positive is a candidate, so the loss is exactly zero
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    assert int(moco.queue.filled) == 0
    moco.enqueue()
    with torch.no_grad():
        expected_keys = moco.key_model(second)[1]
    assert torch.allclose(moco.queue.negatives(), expected_keys)  # view 2 through the key encoder
    loss, _ = moco.step_loss(_Step(model), model, (second, first), m=0.9)
    with torch.no_grad():
        q, k = model(second)[1], moco.key_model(first)[1]
    assert loss.item() == pytest.approx(losses.QueueInfoNCE(kernel)(q, k, expected_keys).item())


def test_moco_trains_on_digits(tmp_path: Path) -> None:
    config = build_config(
        None, MOCO, **{"data.source": "digits", "train.epochs": 3, "optim.batch_size": 128}
    )
    metrics = train(config, tmp_path, log=lambda _: None)
    assert set(metrics["final"]) >= {"knn_top1_k20", "knn_top1_k200", "linear_top1"}
    assert metrics["final"]["knn_top1_k20"] > 0.3  # ten classes: far above chance
    assert metrics["kernel"].startswith("MoCo(K=300)")
    assert all(math.isfinite(r["loss"]) and r["loss"] > 0 for r in metrics["history"])
    saved = load_checkpoint(tmp_path / "checkpoint.pt")
    queue = saved["moco"]
    assert int(queue["queue.filled"]) == 300
    assert int(queue["queue.pointer"]) == (3 * STEPS * 128) % 300
    trained = saved["model"]["projector.net.0.weight"]
    key = queue["key_model.projector.net.0.weight"]
    assert not torch.equal(trained, key), "the key encoder lags behind the trained one"


def test_bad_moco_settings_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="loss.method"):
        build_config(None, ["loss.method=byol"])
    with pytest.raises(InputError, match="moco.momentum"):
        build_config(None, ["moco.momentum=1.5"])
    sets = [*MOCO, "moco.momentum_schedule=cosine", "moco.momentum=0.99", "moco.momentum_end=0.9"]
    config = build_config(None, sets, **{"data.source": "digits", "train.epochs": 1})
    with pytest.raises(InputError, match="momentum_end 0.9 is below"):
        train(config, tmp_path, log=lambda _: None)


KILL_EPOCHS = 6
KILL_SETS = [*MOCO, "monitor.knn=false", "eval.linear_probe=false", "moco.symmetric=true"]


def _args(out: Path) -> list[str]:
    sets = [arg for s in KILL_SETS for arg in ("--set", s)]
    return ["train", "--data", "digits", "--out", str(out), "--epochs", str(KILL_EPOCHS)] + [
        "--batch-size", "128", "--quiet", *sets,
    ]  # fmt: skip


def test_killed_moco_run_resumes_to_the_same_weights_and_queue(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "contrastlab", *_args(killed)]
    process = subprocess.Popen(
        command, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    checkpoint = killed / "checkpoint.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists():
        assert process.poll() is None, process.stderr.read().decode()  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "no checkpoint within two minutes"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    interrupted_at = load_checkpoint(checkpoint)["epoch"]
    assert 1 <= interrupted_at < KILL_EPOCHS, "the run ended before it could be killed"
    assert main([*_args(killed), "--resume"]) == 0
    straight = tmp_path / "straight"
    assert main(_args(straight)) == 0
    a, b = load_checkpoint(checkpoint), load_checkpoint(straight / "checkpoint.pt")
    assert a["step"] == b["step"] == KILL_EPOCHS * STEPS
    for part in ("model", "moco"):  # trained weights, key encoder, queue keys and pointer
        for key, value in b[part].items():
            assert torch.equal(a[part][key], value), (part, key)


# Two gloo ranks against one process: a linear model without BatchNorm and unaugmented views
# (test_ddp's setting), so the two runs see the same numbers. The keys of both ranks enter the
# queue (a rank that enqueued only its own would hold half of them and train differently).
DDP_SETTINGS = [
    *DDP_BASE,
    "train.epochs=3",
    "loss.method=moco",
    "loss.kernel=laplacian",  # no BatchNorm at the projector's end (Student-t has one)
    "moco.queue_size=40",
    "moco.momentum=0.9",
]


def _ddp_worker(rank: int, port: int, data: str, out: str) -> None:
    os.environ.update(
        {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank)}
        | {"LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    )
    torch.set_num_threads(1)
    config = build_config(None, DDP_SETTINGS, **{"data.source": data, "train.device": "cpu"})
    train(config, Path(out), log=lambda _: None)


def test_two_gloo_ranks_train_moco_as_one_process(tmp_path: Path) -> None:
    source = _vectors(tmp_path)
    mp.spawn(_ddp_worker, args=(_free_port(), source, str(tmp_path / "ddp")), nprocs=2, join=True)
    single = build_config(None, DDP_SETTINGS, **{"data.source": source, "train.device": "cpu"})
    train(single, tmp_path / "one", log=lambda _: None)
    two, one = (load_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("ddp", "one"))
    assert two["step"] == one["step"] == 6  # 32 samples, global batch 16, 3 epochs
    assert int(two["moco"]["queue.filled"]) == int(one["moco"]["queue.filled"]) == 40
    assert int(two["moco"]["queue.pointer"]) == int(one["moco"]["queue.pointer"]) == 96 % 40
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key], value, atol=1e-6, rtol=1e-5)
    for key, value in one["moco"].items():
        if key != "queue.keys":
            torch.testing.assert_close(two["moco"][key], value, atol=1e-6, rtol=1e-5)
    # the same keys; their slots follow the ranks' shards, so compare them as sorted rows
    rows = [sorted(map(tuple, s["moco"]["queue.keys"].tolist())) for s in (two, one)]
    np.testing.assert_allclose(np.array(rows[0]), np.array(rows[1]), atol=1e-6, rtol=1e-5)
