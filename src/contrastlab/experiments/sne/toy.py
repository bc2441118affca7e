"""The SNE paper's 2-D Gaussian toy: five Gaussians in the plane, SimCLR (cosine kernel) with a
2-d output, so its features live on the unit circle; the paper's figure shows SimCLR spreading
them evenly around the circle whatever their distances in the input.

Data (the project's choice of centres, the paper's are not restated here): five isotropic
Gaussians of standard deviation ``TOY_SPREAD`` at the unequally spaced ``TOY_CENTRES`` (two
close pairs and one far cluster), ``points`` per cluster; augmentation: Gaussian noise only
(``noise`` times each coordinate's spread), the vector preset of the trainer; backbone: the
trainer's MLP; projector output 2; kernel ``cosine:t=0.2``.

Numbers (Wang and Isola, 2020; ``analysis.alignment``, ``analysis.uniformity``), on the outputs z
(unit vectors):

* alignment ``E ||z(x') - z(x'')||^2`` over two augmentations of the same point;
* uniformity ``log E_{i != j} exp(-2 ||z_i - z_j||^2)``, against its value for the uniform law on
  the circle, ``-4 + log I_0(4)`` (``E exp(-4 (1 - cos theta))`` with theta uniform);
* each cluster's share of the circle: the fraction of all points whose nearest cluster mean
  direction is that cluster's, beside 1/5 (a uniform spread gives each cluster its share).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

TOY_CENTRES = ((0.0, 0.0), (1.5, 0.0), (0.0, 4.0), (1.0, 5.0), (7.0, 7.0))
TOY_SPREAD = 0.5
TOY_KERNEL = {"name": "cosine", "t": 0.2}


def toy_points(points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``5 * points`` samples of the mixture (float32) and their cluster labels."""
    rng = np.random.default_rng(seed)
    centres = np.asarray(TOY_CENTRES)
    labels = np.repeat(np.arange(len(centres)), points)
    x = centres[labels] + TOY_SPREAD * rng.standard_normal((len(labels), 2))
    return x.astype(np.float32), labels


def circle_uniformity() -> float:
    """Uniformity (t = 2) of the uniform law on the unit circle: ``-4 + log I_0(4)``."""
    from scipy.special import i0

    return -4.0 + math.log(float(i0(4.0)))


def cluster_shares(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per cluster, the fraction of points (all clusters) whose nearest cluster mean direction,
    by angle, is that cluster's."""
    angles = np.arctan2(z[:, 1], z[:, 0])
    classes = np.unique(labels)
    means = np.array([np.angle(np.mean(np.exp(1j * angles[labels == c]))) for c in classes])
    gap = np.abs(np.angle(np.exp(1j * (angles[:, None] - means[None, :]))))
    return np.bincount(np.argmin(gap, axis=1), minlength=len(classes)) / len(z)


def run_toy(work: Path, points: int, epochs: int, noise: float, seed: int = 0) -> dict[str, Any]:
    """Train SimCLR on the toy and measure its circle: numbers and the arrays for the figure."""
    from contrastlab import analysis
    from contrastlab.data.augment import VectorAugment
    from contrastlab.train import runs
    from contrastlab.train.config import build_config
    from contrastlab.train.trainer import train

    x, labels = toy_points(points, seed)
    path = work / "gaussians.npz"
    work.mkdir(parents=True, exist_ok=True)
    np.savez(path, features=x, labels=labels, test_features=x[:5], test_labels=labels[:5])
    base = {
        "data": {"source": f"npz:{path}"},
        "loss": {"kernel": dict(TOY_KERNEL)},
        "model": {"projector_dim": 2, "widths": [64, 64], "projector_hidden": 64},
        "augment": {"noise": noise, "mixup": 0.0},
        "optim": {"batch_size": 256},
        "train": {
            "epochs": epochs,
            "seed": seed,
            "threads": 1,
            "progress": False,
            "time_budget": None,
        },
        "eval": {"raw_baseline": False, "linear_probe": False},
        "monitor": {"knn": False, "online_probe": False},
    }
    result = train(build_config(None, base=base), work / "toy_run", log=lambda _: None)
    run = runs.load_run(work / "toy_run")
    inputs = torch.from_numpy(x)
    _, z = runs.model_outputs(run.model, run.eval_transform, run.kernel, inputs, 512)
    torch.manual_seed(seed)
    augment = VectorAugment(noise=noise, feature_std=inputs.std(dim=0))
    views = [
        runs.model_outputs(run.model, run.eval_transform, run.kernel, augment(inputs), 512)[1]
        for _ in range(2)
    ]
    shares = cluster_shares(z, labels)
    return {
        "alignment": analysis.alignment(*views),
        "uniformity": analysis.uniformity(z),
        "uniformity_circle": circle_uniformity(),
        "largest_share": float(shares.max()),
        "smallest_share": float(shares.min()),
        "seconds": float(result["seconds"]),
        "inputs": x,
        "outputs": z,
        "labels": labels,
        "shares": shares,
    }


def toy_figure(toy: dict[str, Any]) -> Any:
    """Input points by cluster (left) and their SimCLR features on the unit circle (right)."""
    from contrastlab.experiments._common import figure

    fig, axes = figure(4.2, 4.2, ncols=2)
    left, right = axes[0]
    x, z, labels = toy["inputs"], toy["outputs"], toy["labels"]
    for c in np.unique(labels):
        left.scatter(*x[labels == c].T, s=4, label=f"cluster {c}")
        angles = np.arctan2(z[labels == c, 1], z[labels == c, 0])
        radius = 1.0 + 0.04 * c  # one ring per cluster so overlaps stay visible
        right.scatter(radius * np.cos(angles), radius * np.sin(angles), s=4)
    left.set_title("input: five Gaussians")
    left.legend(markerscale=3, fontsize=7)
    right.set_title("SimCLR features (2-d output, unit circle)")
    for ax in (left, right):
        ax.set_aspect("equal")
    return fig
