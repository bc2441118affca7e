"""Evaluation on frozen features: extraction, kNN (k = 20, 200), linear probe, raw-pixel baseline.

The numbers come from ``contrastlab.analysis`` (``knn_accuracy``: cosine-similarity kNN with
similarity-weighted votes, ``linear_probe``: multinomial logistic regression); this module only
extracts features and names the results the way ``metrics.json`` does (``knn_top1_k20``,
``knn_top1_k200``, ``linear_top1``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

from contrastlab.data.augment import to_unit_float
from contrastlab.data.sources import DataSplit
from contrastlab.errors import InputError


@torch.no_grad()
def extract_features(
    backbone: nn.Module,
    inputs: Tensor,
    transform: nn.Module,
    device: torch.device,
    batch_size: int = 512,
) -> np.ndarray:
    """Backbone features of ``inputs`` (images or vectors) in evaluation mode, as float32 NumPy.

    The backbone's train/eval mode is restored afterwards.
    """
    was_training = backbone.training
    backbone.eval()
    parts = []
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start : start + batch_size].to(device, non_blocking=True)
        parts.append(backbone(transform(batch)).float().cpu())
    backbone.train(was_training)
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)


def evaluate_features(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    test_features: np.ndarray,
    test_labels: np.ndarray,
    *,
    ks: Sequence[int] = (20, 200),
    temperature: float = 0.1,
    linear: bool = True,
    seed: int = 0,
) -> dict[str, float]:
    """kNN top-1 for each ``k`` (``knn_top1_k{k}``) and, when ``linear``, ``linear_top1``."""
    from contrastlab import analysis

    knn = analysis.knn_accuracy(  # a k above the bank's size is capped there, its name kept
        train_features,
        train_labels,
        test_features,
        test_labels,
        ks=tuple(ks),
        temperature=temperature,
    )
    result = {f"knn_top1_k{k}": float(acc) for k, acc in knn.items()}
    if linear:
        probe = analysis.linear_probe(
            train_features, train_labels, test_features, test_labels, seed=seed
        )
        result["linear_top1"] = float(probe.accuracy)
    return result


def evaluate_backbone(
    backbone: nn.Module,
    data: DataSplit,
    transform: nn.Module,
    device: torch.device,
    *,
    ks: Sequence[int] = (20, 200),
    temperature: float = 0.1,
    linear: bool = True,
    seed: int = 0,
    max_train: int | None = None,
    probe: nn.Module | None = None,
) -> dict[str, float]:
    """Evaluate a backbone on a labelled split: kNN (and the linear probe) on frozen features.

    Args:
        backbone: the model's backbone (put in eval mode for the extraction, then restored).
        data: a labelled :class:`DataSplit`; the test split is what is scored.
        transform: the deterministic evaluation transform.
        device: where to run the backbone.
        ks, temperature, linear, seed: as in :func:`evaluate_features`.
        max_train: use every n-th training sample so that at most this many form the kNN bank
            (the cheap monitor during training); ``None`` uses them all (the final numbers).
        probe: an online linear probe on backbone features; adds ``online_linear_top1``.
    """
    step = 1 if max_train is None else max(1, len(data.train_x) // max_train)
    train_f = extract_features(backbone, data.train_x[::step], transform, device)
    test_f = extract_features(backbone, data.test_x, transform, device)
    train_y, test_y = data.train_y, data.test_y
    if train_y is None or test_y is None:
        raise InputError(f"{data.name}: evaluation needs labels")
    result = evaluate_features(
        train_f,
        train_y[::step].numpy(),
        test_f,
        test_y.numpy(),
        ks=ks,
        temperature=temperature,
        linear=linear,
        seed=seed,
    )
    if probe is not None:
        with torch.no_grad():
            predicted = probe(torch.from_numpy(test_f).to(device)).argmax(dim=1).cpu()
        result["online_linear_top1"] = float((predicted == test_y).float().mean())
    return result


def raw_inputs(samples: Tensor) -> np.ndarray:
    """Flattened raw inputs as a baseline: pixels scaled to 0-1, or the vectors themselves."""
    x = to_unit_float(samples) if samples.dtype == torch.uint8 else samples.float()
    return x.reshape(len(x), -1).numpy()
