"""DDP on the CPU: two gloo processes train two steps and match one process on the same batch.

The model has no BatchNorm (a linear backbone and a one-layer projector: SyncBatchNorm needs a
GPU) and the views are not augmented, so the two runs see the same numbers; what differs is the
per-rank batch shard, the loss's gather across ranks and DDP's gradient averaging.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing as mp

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


def test_two_processes_equal_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = tmp_path / "vectors.npz"
    np.savez(
        data,
        features=rng.normal(size=(32, 6)),
        labels=np.arange(32) % 4,
        test_features=rng.normal(size=(8, 6)),
        test_labels=np.arange(8) % 4,
    )
    source = f"npz:{data}"
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
