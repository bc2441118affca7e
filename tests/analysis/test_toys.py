"""The six 2-D toy sets: shapes, seeds, and the RLD ordering the paper shows."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from contrastlab.analysis import calinski_harabasz, rld
from contrastlab.data.toys import TOY_SETS, make_toy


@pytest.mark.parametrize("name", sorted(TOY_SETS))
def test_shapes_and_seeds(name):
    X, y = make_toy(name, n_per_class=30, n_classes=4, seed=1)
    assert X.shape == (120, 2) and y.shape == (120,)
    assert np.bincount(y).tolist() == [30] * 4
    assert np.array_equal(X, make_toy(name, n_per_class=30, n_classes=4, seed=1)[0])
    assert not np.array_equal(X, make_toy(name, n_per_class=30, n_classes=4, seed=2)[0])
    assert np.abs(X).max() < 1.5


def test_rld_ordering():
    values = {}
    for name in TOY_SETS:
        X, y = make_toy(name, n_per_class=100, seed=0)
        values[name] = rld(X, y, t=0.05, normalize=False)
    assert abs(values["uniform_square"]) < 0.05
    assert values["gaussian_blobs"] > 0.7
    assert all(values[name] > 0.4 for name in TOY_SETS if name != "uniform_square")
    # CH is the global foil: far higher for one blob per class than for scattered tiny blobs
    blobs = make_toy("gaussian_blobs", n_per_class=100)
    tiny = make_toy("tiny_blobs", n_per_class=100)
    assert calinski_harabasz(*blobs, normalize=False) > 50 * calinski_harabasz(
        *tiny, normalize=False
    )


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown toy set"):
        make_toy("spiral")


def test_does_not_import_torch():
    code = "import sys, contrastlab.data.toys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
