"""The six 2-D toy sets of Zhang, Lu and Xuan (2023), as seeded numpy generators.

Each returns ``(X, y)``: ``X`` float64 of shape (n_classes * n_per_class, 2), ``y`` int64
labels. Defaults follow the paper: 5 classes x 300 points. All sets are centred on the origin
and fit in about ``[-1, 1]^2``. The paper shows them with RLD at ``t = 0.05`` and the
Calinski-Harabasz score: they separate local density (RLD) from global density (CH).

| name | what each class is | local density | global density |
|---|---|---|---|
| ``uniform_square`` | random labels on a uniform square | none (RLD ~ 0) | none |
| ``rings`` | a thin ring (concentric rings, one per class) | high | low |
| ``lines`` | a thin line through the origin (a star of lines) | high | low |
| ``tiny_blobs`` | many tiny blobs scattered over the square | high | low |
| ``random_segments`` | short random segments scattered over the square | high | low |
| ``gaussian_blobs`` | one Gaussian blob (blobs on a circle) | high | high |

The exact shapes in the paper's figure could not be confirmed; these are the project's
documented versions of the six named sets. They describe raw 2-D geometry: compute RLD with
``normalize=False`` to measure them as drawn (L2-normalisation would fold the plane onto the
unit circle).

Example:
    >>> X, y = make_toy("gaussian_blobs", seed=0)
    >>> X.shape, y.shape
    ((1500, 2), (1500,))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["TOY_SETS", "make_toy"]

Generator = Callable[[int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]


def _labels(n_classes: int, n_per_class: int) -> np.ndarray:
    return np.repeat(np.arange(n_classes), n_per_class)


def uniform_square(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on ``[-1, 1]^2``; labels carry no geometry."""
    X = rng.uniform(-1.0, 1.0, (n_classes * n_per_class, 2))
    return X, _labels(n_classes, n_per_class)


def rings(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Concentric rings of radius ``(c + 1) / n_classes`` with a little radial noise."""
    y = _labels(n_classes, n_per_class)
    angle = rng.uniform(0.0, 2.0 * np.pi, y.size)
    radius = (y + 1) / n_classes + rng.normal(0.0, 0.01, y.size)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1), y


def lines(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Lines through the origin at angles ``pi c / n_classes``, points spread along each."""
    y = _labels(n_classes, n_per_class)
    angle = np.pi * y / n_classes
    along = rng.uniform(-1.0, 1.0, y.size)
    across = rng.normal(0.0, 0.01, y.size)
    X = np.stack(
        [
            along * np.cos(angle) - across * np.sin(angle),
            along * np.sin(angle) + across * np.cos(angle),
        ],
        axis=1,
    )
    return X, y


def tiny_blobs(
    n_classes: int, n_per_class: int, rng: np.random.Generator, points_per_blob: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Each class is many tiny blobs (10 points each) at random places in the square."""
    y = _labels(n_classes, n_per_class)
    blob = np.arange(y.size) // points_per_blob  # blobs never straddle classes
    centres = rng.uniform(-1.0, 1.0, (int(blob.max()) + 1, 2))
    return centres[blob] + rng.normal(0.0, 0.01, (y.size, 2)), y


def random_segments(
    n_classes: int, n_per_class: int, rng: np.random.Generator, points_per_segment: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """Each class is short segments (length 0.3, 20 points each) at random places and angles."""
    y = _labels(n_classes, n_per_class)
    segment = np.arange(y.size) // points_per_segment
    count = int(segment.max()) + 1
    centres = rng.uniform(-1.0, 1.0, (count, 2))
    angle = rng.uniform(0.0, np.pi, count)
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    along = rng.uniform(-0.15, 0.15, y.size)
    return centres[segment] + along[:, None] * direction[segment], y


def gaussian_blobs(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One isotropic Gaussian blob (sd 0.1) per class, centres evenly on a circle of radius 0.7."""
    y = _labels(n_classes, n_per_class)
    angle = 2.0 * np.pi * np.arange(n_classes) / n_classes
    centres = 0.7 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres[y] + rng.normal(0.0, 0.1, (y.size, 2)), y


TOY_SETS: dict[str, Generator] = {
    "uniform_square": uniform_square,
    "rings": rings,
    "lines": lines,
    "tiny_blobs": tiny_blobs,
    "random_segments": random_segments,
    "gaussian_blobs": gaussian_blobs,
}


def make_toy(
    name: str, n_per_class: int = 300, n_classes: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """One of the six toy sets by name (see ``TOY_SETS``), seeded.

    Raises:
        ValueError: for an unknown name or a count below 1.
    """
    if name not in TOY_SETS:
        raise ValueError(f"unknown toy set {name!r}; choose from {', '.join(TOY_SETS)}")
    if n_per_class < 1 or n_classes < 1:
        raise ValueError(f"n_per_class and n_classes must be >= 1, got {n_per_class}, {n_classes}")
    return TOY_SETS[name](n_classes, n_per_class, np.random.default_rng(seed))
