"""The numbers of ``reproduce sne``: identity checks, the dimension sweep, the 2-D map."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from contrastlab import kernels
from contrastlab.errors import InputError
from contrastlab.experiments._common import progress
from contrastlab.experiments.embed2d import MapSettings, euclidean_knn_accuracy, load_maps
from contrastlab.experiments.sne.identity import IdentityCheck, check_identity
from contrastlab.experiments.sne.settings import Settings

IDENTITY_KERNELS = (
    kernels.Cosine(t=0.2),
    kernels.Cosine(t=0.5),
    kernels.StudentT(nu=5.0, s=1.0),
)


def identity_checks(settings: Settings) -> list[tuple[kernels.Kernel, IdentityCheck]]:
    """KL(P || Q) beside InfoNCE for each identity kernel and batch seed."""
    return [
        (kernel, check_identity(kernel, settings.identity_batch_pairs, settings.identity_dim, seed))
        for kernel in IDENTITY_KERNELS
        for seed in range(settings.identity_batches)
    ]


def sweep_config(settings: Settings, spec: dict[str, Any], dim: int, seed: int) -> dict[str, Any]:
    """The trainer configuration of one sweep run: the experiment's choices as the base."""
    from contrastlab.train.config import build_config

    base = {
        "data": {"source": settings.data},
        "loss": {"kernel": dict(spec)},
        "model": {"projector_dim": dim},
        "optim": {"batch_size": settings.batch_size},
        "train": {
            "epochs": settings.epochs,
            "seed": seed,
            "threads": 1,
            "progress": False,
            "time_budget": None,
        },  # the length is fixed: no timed plan per run
        "eval": {"raw_baseline": False, "linear_probe": False},
        "monitor": {"online_probe": False},
    }
    return build_config(None, base=base)


def sweep(settings: Settings, dims: list[int], work: Path) -> list[dict[str, Any]]:
    """Train both kernels at every dimension and seed; one row of scores per run."""
    from contrastlab.train.trainer import train

    named = {str(spec["name"]): spec for spec in settings.sweep_kernels}
    jobs = [(n, d, s) for d in dims for n in named for s in range(settings.seeds)]
    results = []
    with progress(len(jobs), "sne sweep") as advance:
        for name, dim, seed in jobs:
            run_dir = work / f"{name}_d{dim}_seed{seed}"
            config = sweep_config(settings, named[name], dim, seed)
            trained = train(config, run_dir, log=lambda _: None)
            if not trained["final"]:
                raise InputError(f"data {settings.data}: the sweep's accuracies need labels")
            scores = evaluate_run(run_dir, settings, seed)
            results.append(
                {"kernel": name, "dim": dim, "seed": seed, "seconds": trained["seconds"], **scores}
            )
            advance()
    return results


def _open_run(run_dir: Path) -> tuple[nn.Module, nn.Module, Any, Any]:
    """Model, eval transform, kernel and data of a trained run folder."""
    from contrastlab.experiments.embed2d import load_run

    return load_run(run_dir)


def _outputs(
    model: nn.Module, transform: nn.Module, kernel: Any, inputs: torch.Tensor
) -> tuple[np.ndarray, np.ndarray]:
    """Backbone features and the projector output as the kernel sees it."""
    from contrastlab.experiments.embed2d import features_and_outputs

    return features_and_outputs(model, transform, kernel, inputs)


def evaluate_run(run_dir: Path, settings: Settings, seed: int) -> dict[str, float]:
    """kNN and linear accuracy of the output space and the backbone, on the test split and on
    its shifted copy: keys ``{space}_{knn|linear}_{id|shift}``."""
    from contrastlab import analysis
    from contrastlab.analysis._threads import single_thread

    model, transform, kernel, data = _open_run(run_dir)
    shifted = corrupt(
        data.test_x, settings.shift_blur, settings.shift_noise, seed, reference=data.train_x
    )
    y_train, y_test = data.train_y.numpy(), data.test_y.numpy()
    y_both = np.concatenate([y_test, y_test])
    k = settings.knn_k
    with single_thread():
        h_train, z_train = _outputs(model, transform, kernel, data.train_x)
        h_test, z_test = _outputs(model, transform, kernel, data.test_x)
        h_shift, z_shift = _outputs(model, transform, kernel, shifted)
    scores: dict[str, float] = {}
    n = len(y_test)
    for space, train_x, test_x, shift_x in (
        ("output", z_train, z_test, z_shift),
        ("backbone", h_train, h_test, h_shift),
    ):
        both = np.concatenate([test_x, shift_x])
        if space == "output":
            for part, rows in (("id", test_x), ("shift", shift_x)):
                scores[f"output_knn_{part}"] = euclidean_knn_accuracy(
                    train_x, y_train, rows, y_test, k
                )
        else:
            predicted = analysis.knn_classify(train_x, y_train, both, k=k)
            scores["backbone_knn_id"] = float(np.mean(predicted[:n] == y_test))
            scores["backbone_knn_shift"] = float(np.mean(predicted[n:] == y_test))
        probe = analysis.linear_probe(train_x, y_train, both, y_both, seed=seed)
        scores[f"{space}_linear_id"] = float(np.mean(probe.predictions[:n] == y_test))
        scores[f"{space}_linear_shift"] = float(np.mean(probe.predictions[n:] == y_test))
    return scores


def corrupt(
    samples: torch.Tensor, blur: float, noise: float, seed: int, reference: torch.Tensor
) -> torch.Tensor:
    """The shifted test set: images as [0, 1] floats, Gaussian-blurred (sigma ``blur`` pixels,
    kernel ``2 ceil(2 sigma) + 1``), plus N(0, ``noise``^2), clipped to [0, 1]. Vectors: plus
    N(0, (``noise`` * std_j)^2) per feature j, std from ``reference`` (the training split)."""
    generator = torch.Generator().manual_seed(10_000 + seed)
    if samples.dtype != torch.uint8:
        std = reference.float().std(dim=0)
        return samples.float() + noise * std * torch.randn(samples.shape, generator=generator)
    from torchvision.transforms.functional import gaussian_blur

    from contrastlab.data.augment import to_unit_float

    x = to_unit_float(samples)
    if blur > 0:
        size = 2 * math.ceil(2 * blur) + 1
        x = gaussian_blur(x, kernel_size=[size, size], sigma=[blur, blur])
    return (x + noise * torch.randn(x.shape, generator=generator)).clamp_(0.0, 1.0)


def shift_examples(settings: Settings, work: Path) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Ten test images and their shifted copies (image data only, else ``None``)."""
    first = next(iter(sorted(work.glob("cosine_d*"))), None)
    if first is None:
        return None
    data = _open_run(first)[3]
    if data.kind != "image":
        return None
    clean = data.test_x[:10]
    return clean, corrupt(clean, settings.shift_blur, settings.shift_noise, 0, data.train_x)


def map_settings(settings: Settings) -> MapSettings:
    """The 2-D map's settings: ``map_epochs`` for each of the two full phases and a tenth of it
    (at least one) for the head-only one, ``map_kernel``; the rest, batch size and learning rate
    included, the map's defaults (tuned together for the map, not for the sweep)."""
    from contrastlab.experiments.embed2d import map_settings as checked

    return checked(
        MapSettings(
            stage1_epochs=settings.map_epochs,
            head_epochs=max(1, settings.map_epochs // 10),
            stage2_epochs=settings.map_epochs,
            kernel=dict(settings.map_kernel),
            tsne=settings.tsne,
            tsne_iterations=settings.tsne_iterations,
        )
    )


def map_2d(settings: Settings, work: Path) -> tuple[dict[str, Any], dict[str, np.ndarray], float]:
    """The two-stage map beside t-SNE: its metrics, its saved points, the seconds it took."""
    from contrastlab.experiments.embed2d import embed_2d

    started = time.perf_counter()
    metrics = embed_2d(settings.data, work / "embed2d", map_settings(settings))
    return metrics, load_maps(work / "embed2d"), time.perf_counter() - started
