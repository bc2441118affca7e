"""Diagnostics given tensors on the device, RLD's passes on the device, ``embed`` on the device,
and faiss's fallback to the CPU: the values equal the CPU's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from contrastlab import analysis
from contrastlab.analysis import neighbours
from contrastlab.errors import InputError


def _clustered(n: int = 240, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    centres = rng.normal(size=(4, dim)) * 2
    return (centres[y] + rng.normal(size=(n, dim))).astype(np.float32), y


def test_rld_on_the_device_equals_the_cpu_float64_value(device) -> None:
    X, y = _clustered()
    expected = analysis.rld_profile(X, y, (1.0, 0.1), precision="float64")
    for precision, tol in (("float64", 1e-12), ("float32", 1e-5)):
        got = analysis.rld_profile(
            torch.from_numpy(X).to(device), y, (1.0, 0.1), precision=precision, device=device
        )
        np.testing.assert_allclose(got.values, expected.values, rtol=0, atol=tol)
        assert got.info["device"] == str(device)


def test_rld_device_blockwise_equals_one_tile(device) -> None:
    X, y = _clustered(n=301)
    one = analysis.rld(X, y, t=0.2, precision="float64", device=device)
    tiles = analysis.rld(X, y, t=0.2, block_size=64, precision="float64", device=device)
    assert abs(one - tiles) < 1e-12


def test_diagnostics_take_tensors_on_the_device(device) -> None:
    X, y = _clustered()
    on_device = torch.from_numpy(X).to(device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the faiss-cpu note on GPU machines
        assert analysis.neighbour_purity(on_device, y, ks=(1, 10)) == analysis.neighbour_purity(
            X, y, ks=(1, 10)
        )
    ch = analysis.calinski_harabasz(on_device, y)
    assert ch == pytest.approx(analysis.calinski_harabasz(X, y), rel=1e-6)


def test_rld_refuses_an_unknown_or_absent_device() -> None:
    X, y = _clustered(n=20)
    with pytest.raises(InputError, match="cpu, cuda or cuda:K"):
        analysis.rld(X, y, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA device"):
            analysis.rld(X, y, device="cuda")


def test_faiss_says_when_it_falls_back_to_the_cpu() -> None:
    import faiss

    has_gpu_faiss = getattr(faiss, "get_num_gpus", lambda: 0)() > 0
    neighbours._WARNED_CPU_FAISS = False
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        on_gpu = neighbours.faiss_on_gpu()
    notes = [w for w in seen if "faiss" in str(w.message)]
    assert on_gpu == has_gpu_faiss
    # a note exactly when CUDA is there and the searches still run on the CPU
    assert len(notes) == int(torch.cuda.is_available() and not has_gpu_faiss)
