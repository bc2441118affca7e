"""Training on the device: a few steps of every shipped recipe (``configs/``) with autocast (and
``torch.compile`` on CUDA) on random CIFAR-shaped data, a resume, and the pinned host copy of a
training set too large for the device."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import contrastlab
from contrastlab.train.checkpoint import load_checkpoint
from contrastlab.train.config import build_config
from contrastlab.train.trainer import train

from .conftest import NEEDS_CUDA

CONFIGS = sorted(p.stem for p in (Path(contrastlab.__file__).parent / "configs").glob("*.yaml"))
FEW_STEPS = [
    "optim.batch_size=16",
    "train.epochs=1",
    "train.amp=true",
    "train.progress=false",
    "monitor.every=1",
    "monitor.max_train=32",
    "eval.knn_ks=[5]",
    "eval.linear_probe=false",
    "eval.raw_baseline=false",
]


def _random_cifar(folder: Path, train: int, test: int) -> Path:
    """``train`` training and ``test`` test images of 32 x 32 x 3 uint8 noise in 4 classes."""
    rng = np.random.default_rng(0)
    path = folder / f"random-cifar-{train}.npz"
    np.savez(
        path,
        images=rng.integers(0, 256, (train, 32, 32, 3), dtype=np.uint8),
        labels=np.repeat(np.arange(4), train // 4),
        test_images=rng.integers(0, 256, (test, 32, 32, 3), dtype=np.uint8),
        test_labels=np.repeat(np.arange(4), test // 4),
    )
    return path


@pytest.fixture(scope="module")
def cifar_shaped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random CIFAR-shaped sets: 48 + 16 images (three steps of 16), and 16 + 8 (two steps of 8)
    for a ResNet-50 on the CPU, where bfloat16 autocast without native support took 66 s for
    the three steps on two AVX2 cores. Two steps, not one: MoCo's first step has an empty
    queue, so its loss is exactly 0."""
    folder = tmp_path_factory.mktemp("data")
    return {"three_steps": _random_cifar(folder, 48, 16), "two_steps": _random_cifar(folder, 16, 8)}


def test_every_recipe_is_tested() -> None:
    assert len(CONFIGS) >= 6 and "cifar10_cosine" in CONFIGS


@pytest.mark.parametrize("recipe", CONFIGS)
def test_each_recipe_trains_a_few_steps(recipe, device, cifar_shaped, tmp_path) -> None:
    # torch.compile on CUDA for the main recipe (one compile of a ResNet takes about a minute;
    # on the CPU several, so never there); the other recipes differ only in their loss
    compile_flag = "true" if device.type == "cuda" and recipe == "cifar10_cosine" else "false"
    small = device.type == "cpu" and "resnet50" in recipe
    size, batch = ("two_steps", 8) if small else ("three_steps", 16)
    config = build_config(
        recipe,
        [
            f"data.source=npz:{cifar_shaped[size]}",
            f"train.device={device}",
            f"train.compile={compile_flag}",
            *FEW_STEPS,
            f"optim.batch_size={batch}",
        ],
    )
    metrics = train(config, tmp_path / recipe, log=lambda _: None)
    losses = [record["loss"] for record in metrics["history"]]
    assert len(losses) == 1 and math.isfinite(losses[0]) and losses[0] > 0
    assert metrics["history"][0]["step"] == (2 if small else 3)
    assert 0.0 <= metrics["final"]["knn_top1_k5"] <= 1.0
    saved = load_checkpoint(tmp_path / recipe / "checkpoint.pt", map_location="cpu")
    assert all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())


TINY = [
    "data.source=digits",
    "model.widths=[8, 16]",
    "model.projector_hidden=32",
    "model.projector_dim=16",
    "optim.batch_size=128",
    "train.progress=false",
    "monitor.every=2",
    "eval.linear_probe=false",
    "eval.raw_baseline=false",
]


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(folder / "checkpoint.pt", map_location="cpu")["model"]


def test_resume_on_the_device_continues_the_run(device, tmp_path) -> None:
    """Two epochs, or one then a resume to two: the same weights (bitwise on the CPU; on CUDA
    within the nondeterminism of its kernels)."""
    sets = [*TINY, f"train.device={device}"]
    train(build_config(None, [*sets, "train.epochs=2"]), tmp_path / "whole", log=lambda _: None)
    train(build_config(None, [*sets, "train.epochs=1"]), tmp_path / "split", log=lambda _: None)
    resumed = train(
        build_config(None, [*sets, "train.epochs=2"]),
        tmp_path / "split",
        resume=True,
        log=lambda _: None,
    )
    assert resumed["epochs"] == 2
    whole, split = _weights(tmp_path / "whole"), _weights(tmp_path / "split")
    for name, value in whole.items():
        if device.type == "cpu":
            assert torch.equal(value, split[name]), name
        elif value.is_floating_point():
            torch.testing.assert_close(split[name], value, rtol=1e-3, atol=1e-4)


@pytest.mark.gpu
@NEEDS_CUDA
@pytest.mark.parametrize("budget", [0, 2 * 1024**3])
def test_training_data_on_the_device_or_pinned(budget, monkeypatch) -> None:
    from contrastlab.train import trainer

    monkeypatch.setattr(trainer, "DEVICE_DATA_BYTES", budget)
    samples = torch.zeros(64, 3, 32, 32, dtype=torch.uint8)
    placed = trainer._on_device(samples, torch.device("cuda"))
    if budget == 0:  # too large for the device budget: host memory, pinned for async copies
        assert placed.device.type == "cpu" and placed.is_pinned()
    else:
        assert placed.device.type == "cuda"


def test_embed_on_the_device_equals_the_cpu_features(device, tmp_path) -> None:
    from contrastlab.train.runs import embed, load_run

    sets = [*TINY, "train.device=cpu", "train.epochs=1"]
    train(build_config(None, sets), tmp_path / "run", log=lambda _: None)
    run = load_run(tmp_path / "run")
    on_cpu, labels = embed(run, "test", device="cpu")
    on_device, same_labels = embed(run, "test", device=device)
    assert next(run.backbone.parameters()).device.type == "cpu"  # moved back afterwards
    assert (labels == same_labels).all() and len(labels) == len(run.data.test_x)
    np.testing.assert_allclose(on_device, on_cpu, rtol=1e-4, atol=1e-5)
