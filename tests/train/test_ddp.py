"""DDP on the CPU: two gloo processes (started by ``mp.spawn``, and by a real ``torchrun``) train
and match one process on the same global batch.

The model has no BatchNorm (a linear backbone and a one-layer projector: SyncBatchNorm needs a
GPU) and the views are not augmented, so the two runs see the same numbers; what differs is the
per-rank batch shard, the loss's gather across ranks and DDP's gradient averaging.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from contrastlab.cli import main
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import build_config
from contrastlab.train.trainer import train

SETTINGS = [
    "model.backbone=linear",
    "model.widths=[12]",
    "model.projector_layers=1",
    "model.projector_dim=8",
    "augment.preset=none",
    "optim.name=sgd",
    "optim.lr=0.5",
    "optim.warmup_epochs=0",
    "optim.batch_size=16",
    "train.epochs=1",
    "train.progress=false",
    "train.threads=1",
    "monitor.online_probe=false",
    "monitor.knn=false",
    "eval.linear_probe=false",
    "eval.raw_baseline=false",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker(rank: int, world_size: int, port: int, data: str, out: str) -> None:
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "OMP_NUM_THREADS": "1",
        }
    )
    torch.set_num_threads(1)
    config = build_config(None, SETTINGS, **{"data.source": data, "train.device": "cpu"})
    train(config, Path(out), log=lambda _: None)


def _vectors(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    data = tmp_path / "vectors.npz"
    np.savez(
        data,
        features=rng.normal(size=(32, 6)),
        labels=np.arange(32) % 4,
        test_features=rng.normal(size=(8, 6)),
        test_labels=np.arange(8) % 4,
    )
    return f"npz:{data}"


def test_two_processes_equal_one(tmp_path: Path) -> None:
    source = _vectors(tmp_path)
    mp.spawn(_worker, args=(2, _free_port(), source, str(tmp_path / "ddp")), nprocs=2, join=True)

    single = build_config(None, SETTINGS, **{"data.source": source, "train.device": "cpu"})
    train(single, tmp_path / "one", log=lambda _: None)

    two, one = (load_checkpoint(tmp_path / name / "checkpoint.pt") for name in ("ddp", "one"))
    assert two["step"] == one["step"] == 2  # 32 samples, global batch 16
    assert len(two["rng"]) == 2  # each rank's random state is kept for --resume
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key], value, atol=1e-6, rtol=1e-5)
    start = build_config(None, SETTINGS, **{"data.source": source, "optim.lr": 1e-12})
    train(start, tmp_path / "untrained", log=lambda _: None)
    untrained = load_checkpoint(tmp_path / "untrained" / "checkpoint.pt")["model"]
    moved = sum(float((one["model"][k] - untrained[k]).abs().max()) for k in one["model"])
    assert moved > 1e-3  # the steps changed the weights, so the equality above means something
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "checkpoint.pt",
        "config.yaml",
        "metrics.jsonl",
    ]


@pytest.mark.slow
def test_a_real_torchrun_launch_equals_one_process(tmp_path: Path) -> None:
    # The documented launcher, end to end: torchrun starts two gloo ranks of the console module.
    source = _vectors(tmp_path)
    args = ["train", "--data", source, "--epochs", "2", "--quiet"]
    args += [a for s in SETTINGS if not s.startswith("train.epochs") for a in ("--set", s)]
    torchrun = Path(sys.executable).with_name("torchrun")
    launch = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "contrastlab"]
    result = subprocess.run(
        [*launch, *args, "--out", str(tmp_path / "ddp")],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(summary) == 1 and summary[0].startswith(f"{tmp_path / 'ddp'}: knn_top1_k20")
    assert main([*args, "--out", str(tmp_path / "one")]) == 0

    ddp, one = tmp_path / "ddp", tmp_path / "one"
    written = {p.name for p in ddp.iterdir()}
    assert written == {p.name for p in one.iterdir()}  # rank 0 writes what one process writes
    assert written >= {
        "checkpoint.pt",
        "config.yaml",
        "metrics.jsonl",
        "metrics.json",
        "report.html",
    }
    two_state, one_state = (load_checkpoint(d / "checkpoint.pt") for d in (ddp, one))
    assert two_state["epoch"] == one_state["epoch"] == 2 and two_state["step"] == 4
    assert len(two_state["rng"]) == 2 and len(one_state["rng"]) == 1
    for key, value in one_state["model"].items():
        torch.testing.assert_close(two_state["model"][key], value, atol=1e-6, rtol=1e-5)
    two_metrics, one_metrics = (json.loads((d / "metrics.json").read_text()) for d in (ddp, one))
    assert two_metrics["world_size"] == 2 and one_metrics["world_size"] == 1
    two_losses = [r["loss"] for r in two_metrics["history"]]
    assert two_losses == pytest.approx([r["loss"] for r in one_metrics["history"]], rel=1e-5)
