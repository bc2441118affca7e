"""The 2-D toy sets of Zhang, Lu and Xuan (2023), as seeded numpy generators: the authors' six
shapes and the project's own six.

Each returns ``(X, y)``: ``X`` float64 of shape (n_classes * n_per_class, 2), ``y`` int64
labels, class by class. Defaults follow the paper: 5 classes x 300 points, all in about
``[-1, 1]^2``. The paper shows them with RLD at ``t = 0.05`` and the Calinski-Harabasz score
(CH): they separate local density (RLD) from global density (CH). Compute RLD with
``normalize=False`` to measure them as drawn (L2-normalisation would fold the plane onto the
unit circle); the authors' ``relative_local_density_score`` takes the coordinates as given too.

``AUTHORS_TOY_SETS`` (the default family, ``family="authors"``): the shapes and parameters of the
authors' public notebook (xsgxlz/How-does-Contrastive-Learning-Organize-Images,
``cluster example.ipynb``: ``uniform``, ``circle``, ``line``, ``small``, ``randomline``,
``mGauss``), written here in numpy; the values differ from theirs draw by draw (they used
unseeded torch), the distributions are the same.

| name | what each class ``c`` is (authors) |
|---|---|
| ``uniform`` | 300 points uniform on ``[-1, 1]^2``: labels carry no geometry |
| ``rings`` | a ring of radius ``0.2 (c + 1)`` plus N(0, 0.01) radial noise; angle N(0, 2 pi) |
| ``lines`` | ``u (sin 0.4 pi c, cos 0.4 pi c)``, u ~ U(-1, 1), plus N(0, 0.05^2 I) |
| ``tiny_blobs`` | 20 blobs of 15 points, centres U(-1, 1)^2, plus N(0, 0.01^2 I) |
| ``segments`` | ``s e_0 + (1 - s) e_1``, ends U(-1, 1)^2, s ~ N(0.5, 0.1), + N(0, 0.01^2 I) |
| ``gaussian_blobs`` | N(mu_c, 0.1^2 I), the authors' five fixed centres ``GAUSSIAN_CENTRES`` |

``PROJECT_TOY_SETS`` (``family="project"``): the project's own versions, written before the
authors' generators were read; kept as a second set (they are different objects: 15 short
segments per class instead of one, CH about 20 instead of about 10^4, and 10-point blobs).

| name | what each class is (project) |
|---|---|
| ``uniform_square`` | random labels on a uniform square |
| ``rings`` | a thin ring (concentric rings of radius ``(c + 1) / n_classes``, noise 0.01) |
| ``lines`` | a thin line through the origin at angle ``pi c / n_classes`` (noise 0.01) |
| ``tiny_blobs`` | 30 tiny blobs of 10 points scattered over the square |
| ``random_segments`` | 15 short segments (length 0.3, 20 points) at random places and angles |
| ``gaussian_blobs`` | one Gaussian blob (sd 0.1), centres evenly on a circle of radius 0.7 |

Example:
    >>> X, y = make_toy("gaussian_blobs", seed=0)
    >>> X.shape, y.shape
    ((1500, 2), (1500,))
    >>> make_toy("random_segments", family="project")[0].shape
    (1500, 2)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["AUTHORS_TOY_SETS", "PROJECT_TOY_SETS", "TOY_FAMILIES", "TOY_SETS", "make_toy"]

Generator = Callable[[int, int, np.random.Generator], tuple[np.ndarray, np.ndarray]]

# The authors' parameters (``cluster example.ipynb``), named.
RING_NOISE = 0.01  # sd of the radius
LINE_NOISE = 0.05  # sd of the isotropic noise around each line
BLOB_NOISE = 0.01  # sd of the isotropic noise around each tiny blob's centre
POINTS_PER_BLOB = 15  # the authors draw n_per_class // 15 centres and repeat each 15 times
SEGMENT_NOISE = 0.01  # sd of the isotropic noise around the segment
SEGMENT_SPREAD = 0.1  # sd of the position s along the segment, around its middle 0.5
GAUSSIAN_SD = 0.1
#: The authors' fixed centres of their five Gaussian blobs.
GAUSSIAN_CENTRES = np.array(
    [[-0.1089, -0.7626], [-0.7369, 0.8191], [0.7239, 0.6228], [-0.0020, 0.9966], [0.4988, 0.1974]]
)


def _labels(n_classes: int, n_per_class: int) -> np.ndarray:
    return np.repeat(np.arange(n_classes), n_per_class)


def authors_uniform(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Points uniform on ``[-1, 1]^2``; labels carry no geometry (authors' ``uniform``)."""
    X = rng.uniform(-1.0, 1.0, (n_classes * n_per_class, 2))
    return X, _labels(n_classes, n_per_class)


def authors_rings(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Class ``c``: radius ``(c + 1) / n_classes + N(0, RING_NOISE)`` (0.2, 0.4, ..., 1.0 for
    five classes), angle ``theta ~ N(0, 2 pi)``, point ``r (sin theta, cos theta)``
    (authors' ``circle``; a normal angle of sd ``2 pi`` is close to uniform on the circle)."""
    y = _labels(n_classes, n_per_class)
    theta = rng.normal(0.0, 2.0 * np.pi, y.size)
    radius = (y + 1) / n_classes + rng.normal(0.0, RING_NOISE, y.size)
    return radius[:, None] * np.stack([np.sin(theta), np.cos(theta)], axis=1), y


def authors_lines(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Class ``c``: ``u (sin a_c, cos a_c) + N(0, LINE_NOISE^2 I)``, ``u ~ U(-1, 1)``,
    ``a_c = 2 pi c / n_classes`` (``0.4 pi c`` for five: five lines 36 degrees apart)
    (authors' ``line``)."""
    y = _labels(n_classes, n_per_class)
    angle = 2.0 * np.pi * y / n_classes
    along = rng.uniform(-1.0, 1.0, y.size)
    direction = np.stack([np.sin(angle), np.cos(angle)], axis=1)
    return along[:, None] * direction + rng.normal(0.0, LINE_NOISE, (y.size, 2)), y


def authors_tiny_blobs(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Class ``c``: ``B = max(1, round(n_per_class / 15))`` centres U(-1, 1)^2 (20 for 300
    points), point ``j`` of the class at centre ``j mod B`` plus N(0, BLOB_NOISE^2 I)
    (authors' ``small``: 15 points per blob)."""
    n_blobs = max(1, round(n_per_class / POINTS_PER_BLOB))
    parts = []
    for _ in range(n_classes):
        centres = rng.uniform(-1.0, 1.0, (n_blobs, 2))
        parts.append(centres[np.arange(n_per_class) % n_blobs])
    X = np.concatenate(parts)
    return X + rng.normal(0.0, BLOB_NOISE, X.shape), _labels(n_classes, n_per_class)


def authors_segments(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Class ``c``: endpoints ``e_0, e_1 ~ U(-1, 1)^2``; ``s e_0 + (1 - s) e_1`` with
    ``s ~ N(0.5, SEGMENT_SPREAD)``, plus N(0, SEGMENT_NOISE^2 I): one segment per class, points
    crowded at its middle (authors' ``randomline``)."""
    parts = []
    for _ in range(n_classes):
        ends = rng.uniform(-1.0, 1.0, (2, 2))
        s = rng.normal(0.5, SEGMENT_SPREAD, n_per_class)[:, None]
        parts.append(s * ends[0] + (1.0 - s) * ends[1])
    X = np.concatenate(parts)
    return X + rng.normal(0.0, SEGMENT_NOISE, X.shape), _labels(n_classes, n_per_class)


def authors_gaussian_blobs(
    n_classes: int, n_per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Class ``c``: N(GAUSSIAN_CENTRES[c], GAUSSIAN_SD^2 I) (authors' ``mGauss``; at most
    five classes, the authors fixed five centres).

    Raises:
        ValueError: for more than five classes.
    """
    if n_classes > len(GAUSSIAN_CENTRES):
        raise ValueError(
            f"gaussian_blobs: the authors' set has {len(GAUSSIAN_CENTRES)} centres, "
            f"got n_classes={n_classes}"
        )
    y = _labels(n_classes, n_per_class)
    return GAUSSIAN_CENTRES[y] + rng.normal(0.0, GAUSSIAN_SD, (y.size, 2)), y


AUTHORS_TOY_SETS: dict[str, Generator] = {
    "uniform": authors_uniform,
    "rings": authors_rings,
    "lines": authors_lines,
    "tiny_blobs": authors_tiny_blobs,
    "segments": authors_segments,
    "gaussian_blobs": authors_gaussian_blobs,
}


# The project's own six (written before the authors' generators were read).


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


PROJECT_TOY_SETS: dict[str, Generator] = {
    "uniform_square": uniform_square,
    "rings": rings,
    "lines": lines,
    "tiny_blobs": tiny_blobs,
    "random_segments": random_segments,
    "gaussian_blobs": gaussian_blobs,
}
#: The default family: the authors' six shapes.
TOY_SETS = AUTHORS_TOY_SETS
TOY_FAMILIES: dict[str, dict[str, Generator]] = {
    "authors": AUTHORS_TOY_SETS,
    "project": PROJECT_TOY_SETS,
}


def make_toy(
    name: str, n_per_class: int = 300, n_classes: int = 5, seed: int = 0, family: str = "authors"
) -> tuple[np.ndarray, np.ndarray]:
    """One toy set by name from ``family`` (``"authors"``: ``AUTHORS_TOY_SETS``, or
    ``"project"``: ``PROJECT_TOY_SETS``), seeded.

    Raises:
        ValueError: for an unknown family or name, a count below 1, or more than five classes
            of the authors' Gaussian blobs.
    """
    if family not in TOY_FAMILIES:
        raise ValueError(f"unknown toy family {family!r}; choose from {', '.join(TOY_FAMILIES)}")
    sets = TOY_FAMILIES[family]
    if name not in sets:
        raise ValueError(f"unknown {family} toy set {name!r}; choose from {', '.join(sets)}")
    if n_per_class < 1 or n_classes < 1:
        raise ValueError(f"n_per_class and n_classes must be >= 1, got {n_per_class}, {n_classes}")
    return sets[name](n_classes, n_per_class, np.random.default_rng(seed))
