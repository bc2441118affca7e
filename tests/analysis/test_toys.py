"""The 2-D toy sets: shapes, seeds, the authors' parameters, and the RLD ordering the paper shows.

The parameters below are written out from the authors' notebook (xsgxlz/How-does-Contrastive-
Learning-Organize-Images, ``cluster example.ipynb``), never read from ``data.toys``, and checked
on large draws with tolerances of several standard errors.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from contrastlab.analysis import calinski_harabasz, rld
from contrastlab.data.toys import (
    AUTHORS_TOY_SETS,
    GAUSSIAN_CENTRES,
    PROJECT_TOY_SETS,
    make_toy,
)

ALL = [("authors", n) for n in AUTHORS_TOY_SETS] + [("project", n) for n in PROJECT_TOY_SETS]


def test_the_families_hold_the_six_named_sets():
    assert list(AUTHORS_TOY_SETS) == [
        "uniform", "rings", "lines", "tiny_blobs", "segments", "gaussian_blobs"
    ]  # fmt: skip
    assert list(PROJECT_TOY_SETS) == [
        "uniform_square", "rings", "lines", "tiny_blobs", "random_segments", "gaussian_blobs"
    ]  # fmt: skip


@pytest.mark.parametrize("family, name", ALL)
def test_shapes_and_seeds(family, name):
    X, y = make_toy(name, n_per_class=30, n_classes=4, seed=1, family=family)
    assert X.shape == (120, 2) and y.shape == (120,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert np.array_equal(y, np.repeat(np.arange(4), 30))
    assert np.array_equal(X, make_toy(name, n_per_class=30, n_classes=4, seed=1, family=family)[0])
    assert not np.array_equal(X, make_toy(name, 30, 4, seed=2, family=family)[0])
    assert np.abs(X).max() < 1.5


def test_the_default_is_the_authors_300_points_of_5_classes():
    X, y = make_toy("segments")
    assert X.shape == (1500, 2) and np.bincount(y).tolist() == [300] * 5
    assert np.array_equal(X, make_toy("segments", 300, 5, 0, "authors")[0])


def _class(name: str, c: int, n: int = 3000, seed: int = 0) -> np.ndarray:
    X, y = make_toy(name, n_per_class=n, seed=seed)
    return X[y == c]


def test_uniform_fills_the_square_for_every_class():
    X, y = make_toy("uniform", n_per_class=3000)
    assert X.min() >= -1 and X.max() <= 1
    for c in range(5):
        part = X[y == c]
        assert np.abs(part.mean(axis=0)).max() < 0.05
        assert part.var(axis=0) == pytest.approx([1 / 3, 1 / 3], abs=0.03)


@pytest.mark.parametrize("c", range(5))
def test_rings_radius_0_2_c_plus_1_sd_0_01(c):
    radius = np.linalg.norm(_class("rings", c), axis=1)
    assert radius.mean() == pytest.approx(0.2 * (c + 1), abs=0.001)
    assert radius.std(ddof=1) == pytest.approx(0.01, rel=0.06)


def test_rings_angle_covers_the_circle():
    X = _class("rings", 4)
    angle = np.arctan2(X[:, 0], X[:, 1])
    counts, _ = np.histogram(angle, bins=8, range=(-np.pi, np.pi))
    assert counts.min() > 0.8 * 3000 / 8  # a normal angle of sd 2 pi wraps to about uniform


@pytest.mark.parametrize("c", range(5))
def test_lines_0_4_pi_c_apart_noise_0_05(c):
    X = _class("lines", c)
    direction = np.array([np.sin(0.4 * np.pi * c), np.cos(0.4 * np.pi * c)])
    normal = np.array([-direction[1], direction[0]])
    along, across = X @ direction, X @ normal
    assert across.mean() == pytest.approx(0.0, abs=0.004)
    assert across.std(ddof=1) == pytest.approx(0.05, rel=0.06)
    # U(-1, 1) along the line plus the same noise: variance 1/3 + 0.05^2
    assert along.var(ddof=1) == pytest.approx(1 / 3 + 0.0025, rel=0.06)


def test_tiny_blobs_are_20_blobs_of_15_points_sd_0_01():
    X, y = make_toy("tiny_blobs", n_per_class=300, seed=3)
    for c in range(5):
        part = X[y == c]
        blob = np.arange(300) % 20  # the authors repeat their 20 centres 15 times
        centres = np.stack([part[blob == b].mean(axis=0) for b in range(20)])
        residual = part - centres[blob]
        assert np.bincount(blob).tolist() == [15] * 20
        assert residual.std(ddof=1) == pytest.approx(0.01, rel=0.1)
        assert np.abs(centres).max() < 1.03
        # the centres are far apart: 20 distinct blobs, not fewer
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)[np.triu_indices(20, 1)]
        assert np.median(gaps) > 0.5


@pytest.mark.parametrize("c", range(5))
def test_segments_one_segment_per_class_crowded_at_its_middle(c):
    X = _class("segments", c, n=4000, seed=c)
    centred = X - X.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    along, across = centred @ axes[0], centred @ axes[1]
    length = np.ptp(along)
    assert across.std(ddof=1) == pytest.approx(0.01, rel=0.1)
    assert np.abs(X.mean(axis=0)).max() <= 1  # the middle of two points of the square
    # one segment, its position s ~ N(0.5, 0.1): normal along the line (not uniform, not
    # several segments), and the 8 sd range of 4000 normal draws
    assert stats.kurtosis(along, fisher=False) == pytest.approx(3.0, abs=0.35)
    if length > 0.3:  # where the segment is long enough to see its spread past the noise
        assert along.std(ddof=1) / length == pytest.approx(1 / 7.6, rel=0.15)


def test_gaussian_blobs_at_the_authors_centres_sd_0_1():
    centres = [
        [-0.1089, -0.7626], [-0.7369, 0.8191], [0.7239, 0.6228], [-0.0020, 0.9966],
        [0.4988, 0.1974],
    ]  # fmt: skip
    assert np.array_equal(GAUSSIAN_CENTRES, centres)  # to the four decimals of the notebook
    X, y = make_toy("gaussian_blobs", n_per_class=20000)
    for c, centre in enumerate(centres):
        part = X[y == c]
        assert part.mean(axis=0) == pytest.approx(centre, abs=0.003)  # 4 SE of 0.1 / sqrt(2e4)
        assert part.std(axis=0, ddof=1) == pytest.approx([0.1, 0.1], rel=0.03)
    with pytest.raises(ValueError, match="five|5 centres"):
        make_toy("gaussian_blobs", n_classes=6)


def test_project_rld_ordering():
    values = {}
    for name in PROJECT_TOY_SETS:
        X, y = make_toy(name, n_per_class=100, seed=0, family="project")
        values[name] = rld(X, y, t=0.05, normalize=False)
    assert abs(values["uniform_square"]) < 0.05
    assert values["gaussian_blobs"] > 0.7
    assert all(values[name] > 0.4 for name in PROJECT_TOY_SETS if name != "uniform_square")
    # CH is the global foil: far higher for one blob per class than for scattered tiny blobs
    blobs = make_toy("gaussian_blobs", n_per_class=100, family="project")
    tiny = make_toy("tiny_blobs", n_per_class=100, family="project")
    assert calinski_harabasz(*blobs, normalize=False) > 50 * calinski_harabasz(
        *tiny, normalize=False
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "spiral"}, "unknown authors toy set"),
        ({"name": "uniform_square"}, "unknown authors toy set"),  # the project's name
        ({"name": "uniform", "family": "mine"}, "unknown toy family"),
        ({"name": "rings", "n_per_class": 0}, "must be >= 1"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_toy(**kwargs)


def test_does_not_import_torch():
    code = "import sys, contrastlab.data.toys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
