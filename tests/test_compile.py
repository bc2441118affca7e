"""``contrastlab._compile``: one environment variable, ``CONTRASTLAB_COMPILE``, for the loss engine
and exact RLD, and the fall back to eager code when compiling fails.

``torch.compile`` itself is replaced here by fakes (compiling for real takes minutes on a small
CPU; the compiled numbers are checked against eager ones in tests/losses and tests/analysis).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from contrastlab import _compile, kernels, losses
from contrastlab.analysis import density, rld_profile
from contrastlab.losses import gram


class FakeCompile:
    """Stands in for ``torch.compile``: records the calls, returns ``fn`` (or a broken ``fn``)."""

    def __init__(self, broken: bool = False) -> None:
        self.compiled: list[Callable[..., Any]] = []
        self.runs = 0
        self.broken = broken

    def __call__(self, fn: Callable[..., Any], **options: Any) -> Callable[..., Any]:
        self.compiled.append(fn)

        def run(*args: Any) -> Any:
            self.runs += 1
            if self.broken:
                for arg in args:  # a failed compiled call may leave its inputs overwritten
                    for t in arg if isinstance(arg, list) else [arg]:
                        if isinstance(t, torch.Tensor) and t.is_floating_point():
                            t.fill_(float("nan"))
                raise RuntimeError("no C++ compiler here\nand a long log")
            return fn(*args)

        return run


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCompile:
    fake = FakeCompile()
    monkeypatch.setattr(torch, "compile", fake)
    # fresh compiled-function caches, so earlier tests' compiled (or failed) state is not reused
    monkeypatch.setattr(
        gram,
        "_COMPILED_SLOPE",
        _compile.CompiledOrEager(gram._softmax_slope, "the loss engine's elementwise work"),
    )
    monkeypatch.setattr(density._TileOps, "_COMPILED", {})
    return fake


@pytest.mark.parametrize(
    "env, requested, default, expected",
    [
        (None, None, True, True),
        (None, None, False, False),
        ("", None, True, True),
        ("0", None, True, False),
        ("1", None, False, True),
        ("0", True, False, True),  # the caller's explicit argument wins over the variable
        ("1", False, True, False),
    ],
)
def test_variable_overrides_only_the_default(monkeypatch, env, requested, default, expected):
    if env is None:
        monkeypatch.delenv("CONTRASTLAB_COMPILE", raising=False)
    else:
        monkeypatch.setenv("CONTRASTLAB_COMPILE", env)
    assert _compile.compile_requested(requested, default) is expected


@pytest.mark.parametrize("value", ["yes", "true", "2", " 1"])
def test_other_values_are_refused(monkeypatch, value):
    monkeypatch.setenv("CONTRASTLAB_COMPILE", value)
    with pytest.raises(ValueError, match="CONTRASTLAB_COMPILE must be '0' .* or '1'"):
        _compile.compile_requested(None, True)
    assert _compile.compile_requested(False, True) is False  # not consulted when not needed


def _infonce(kernel: kernels.Kernel) -> tuple[float, np.ndarray]:
    gen = torch.Generator().manual_seed(1)
    z1 = torch.randn(6, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    value = losses.KernelInfoNCE(kernel, block_size=4)(z1, z2)
    value.backward()
    assert z1.grad is not None
    return value.item(), z1.grad.numpy()


def test_variable_switches_the_loss_engine(monkeypatch, fake):
    monkeypatch.setenv("CONTRASTLAB_COMPILE", "0")
    eager = _infonce(kernels.Laplacian(0.5))
    assert fake.compiled == [] and fake.runs == 0
    monkeypatch.delenv("CONTRASTLAB_COMPILE")
    _infonce(kernels.Laplacian(0.5))  # tiny: under the default size threshold
    assert fake.runs == 0
    monkeypatch.setenv("CONTRASTLAB_COMPILE", "1")
    compiled = _infonce(kernels.Laplacian(0.5))
    assert fake.compiled == [gram._softmax_slope]
    assert fake.runs == 3  # 12 anchors (two views of 6) in blocks of 4, fused backward
    assert compiled[0] == eager[0]
    np.testing.assert_array_equal(compiled[1], eager[1])


def test_engine_falls_back_to_eager_with_one_warning(monkeypatch, fake):
    monkeypatch.setenv("CONTRASTLAB_COMPILE", "1")
    fake.broken = True
    with pytest.warns(RuntimeWarning, match="the loss engine's elementwise work runs eagerly"):
        expected = _infonce(kernels.Laplacian(0.5))  # recomputed from fresh products
    assert fake.runs == 1  # the first block failed; the others ran eagerly
    monkeypatch.setenv("CONTRASTLAB_COMPILE", "0")
    eager = _infonce(kernels.Laplacian(0.5))
    assert expected[0] == eager[0]
    np.testing.assert_array_equal(expected[1], eager[1])


def test_compile_failure_warns_once_and_recomputes_fresh_arguments(fake):
    fake.broken = True
    double = _compile.CompiledOrEager(lambda t: t.mul_(2.0), "the test")
    x = torch.ones(3)
    with pytest.warns(RuntimeWarning, match=r"no C\+\+ compiler here\); the test runs eagerly"):
        out = double(x, fresh_args=lambda: (torch.ones(3),))
    assert double.failed
    assert torch.equal(out, torch.full((3,), 2.0))  # not from the NaN-filled argument
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning, and no second compilation
        assert torch.equal(double(torch.ones(3)), torch.full((3,), 2.0))
    assert len(fake.compiled) == 1


def _blobs(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    return rng.normal(size=(n, 4)) + 3.0 * np.eye(4)[y], y


def test_variable_switches_rld(monkeypatch, fake):
    X, y = _blobs()
    monkeypatch.setenv("CONTRASTLAB_COMPILE", "1")
    compiled = rld_profile(X, y, (0.5, 0.1))
    assert compiled.info["compiled"] is True and fake.runs > 0
    monkeypatch.setattr(density, "COMPILE_MIN_ROWS", 10)  # so that the default would compile
    monkeypatch.setenv("CONTRASTLAB_COMPILE", "0")
    runs = fake.runs
    eager = rld_profile(X, y, (0.5, 0.1))
    assert eager.info["compiled"] is False and fake.runs == runs
    monkeypatch.delenv("CONTRASTLAB_COMPILE")
    assert rld_profile(X, y, (0.5, 0.1)).info["compiled"] is True
    assert compiled.values == pytest.approx(eager.values, abs=1e-12)
    assert rld_profile(X, y, (0.5, 0.1), compile=False).info["compiled"] is False
