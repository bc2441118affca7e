"""The compiled RLD passes (``rld_profile(..., compile=True)``) give the eager numbers.

``torch.compile`` fuses the elementwise work of each tile; at small sizes the result must equal
the eager one and the dense float64 reference of ``rld_gcn.md``. Compiling costs seconds per
pass on a small CPU, hence ``slow``; where ``torch.compile`` cannot work at all (no C++ compiler)
the tests are skipped with the reason, never passed on the eager fallback.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from contrastlab.analysis import rld_profile

from .test_density import reference_rld

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", autouse=True)
def _compiler_works() -> None:
    """Skip (with the reason) where ``torch.compile`` cannot compile even a trivial function."""
    try:
        probe = torch.compile(lambda x: torch.sin(x) + 1.0, dynamic=True)
        probe(torch.ones(3))
    except Exception as err:  # noqa: BLE001 - whatever stops the compiler, say what it was
        pytest.skip(f"torch.compile does not work here: {type(err).__name__}: {err}")


def _blobs(n: int = 50, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    return rng.normal(size=(n, 5)) + 1.2 * np.eye(3, 5)[y], y


@pytest.mark.parametrize(
    ("ts", "shifted"),
    [
        ((1.0, 0.5, 0.2, 0.1), False),  # integer ratios: one exponential shared by all four
        ((0.3, 0.7), False),  # no shared exponential
        ((1e-4,), True),  # tiny t: row-shifted kernel sums
    ],
    ids=["shared_powers", "separate", "shifted"],
)
def test_compiled_rld_matches_eager_and_reference(ts, shifted) -> None:
    X, y = _blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the eager fallback warns: here that is an error
        compiled = rld_profile(X, y, ts, block_size=16, compile=True)  # tiles of 16, 16, 16, 2
    eager = rld_profile(X, y, ts, block_size=16, compile=False)
    assert compiled.info["compiled"] is True
    assert eager.info["compiled"] is False
    assert compiled.info["shifted"] is shifted
    np.testing.assert_allclose(compiled.values, eager.values, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compiled.per_class, eager.per_class, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(compiled.upper_bound, eager.upper_bound, rtol=1e-12, atol=1e-12)
    assert compiled.mean_distance == pytest.approx(eager.mean_distance, rel=1e-12)
    if not shifted:  # at t = 1e-4 the dense reference's exp underflows
        expected = [reference_rld(X, y, t) for t in ts]
        np.testing.assert_allclose(compiled.values, expected, rtol=1e-9, atol=1e-10)


def test_compiled_rld_float32() -> None:
    X, y = _blobs(seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled = rld_profile(X, y, (0.5, 0.1), block_size=16, precision="float32", compile=True)
    assert compiled.info["compiled"] is True and compiled.info["dtype"] == "float32"
    expected = [reference_rld(X, y, t) for t in (0.5, 0.1)]
    np.testing.assert_allclose(compiled.values, expected, atol=1e-4)
