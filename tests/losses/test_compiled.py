"""The compiled engine (``EngineOptions(compile=True)``) gives the eager engine's numbers.

``torch.compile`` fuses the elementwise work of each block (kernel map, softmax, slopes). At small
sizes the compiled path must agree with the eager path and with the float64 reference of
``losses.md``, for each backward strategy and without gradients. Compiling costs seconds per
kernel variant on a small CPU, hence ``slow``; where ``torch.compile`` cannot work at all (no C++
compiler) the tests are skipped with the reason, never passed on the eager fallback.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from contrastlab import kernels, losses

from . import reference as ref
from .cases import assert_close, views

pytestmark = pytest.mark.slow

F64_RTOL = 1e-10
F32_RTOL = 1e-5


@pytest.fixture(scope="module", autouse=True)
def _compiler_works() -> None:
    """Skip (with the reason) where ``torch.compile`` cannot compile even a trivial function."""
    try:
        probe = torch.compile(lambda x: torch.sin(x) + 1.0, dynamic=True)
        probe(torch.ones(3))
    except Exception as err:  # noqa: BLE001 - whatever stops the compiler, say what it was
        pytest.skip(f"torch.compile does not work here: {type(err).__name__}: {err}")


# Counts the kernel maps evaluated inside compiled code: ``is_compiling()`` is true only while
# dynamo traces, and the in-place add on a tensor becomes part of the compiled graph (no graph
# break, no guard on its value), so eager calls never move it.
_COMPILED_MAPS = torch.zeros((), dtype=torch.int64)


class _Watched:
    def elementwise(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling():
            _COMPILED_MAPS.add_(1)
        return super().elementwise(x)  # type: ignore[misc]


@dataclass(frozen=True)
class _WatchedLaplacian(_Watched, kernels.Laplacian):
    pass


@dataclass(frozen=True)
class _WatchedCosine(_Watched, kernels.Cosine):
    pass


def _two_view_loss(
    kernel: kernels.Kernel,
    z1: np.ndarray,
    z2: np.ndarray,
    options: losses.EngineOptions,
    dtype: torch.dtype = torch.float64,
    grad: bool = True,
) -> tuple[float, np.ndarray | None]:
    """InfoNCE of ``losses.md`` through the public engine; the value and ``dL/dZ`` (raw rows)."""
    z = torch.tensor(np.concatenate([z1, z2]), dtype=dtype, requires_grad=grad)
    rows, batch = z.shape[0], z1.shape[0]
    prepared = kernel.prepare(z)
    positive = (torch.arange(rows) + batch) % rows
    self_index = torch.arange(rows)
    with warnings.catch_warnings():
        # a compile failure falls back to eager code with a warning: here that is an error
        warnings.simplefilter("error")
        loss = losses.softmax_contrastive_loss(
            prepared, prepared, positive, self_index, kernel.logits, (), options, kernel
        )
        if not grad:
            return loss.item(), None
        loss.backward()
    assert z.grad is not None
    return loss.item(), z.grad.double().numpy()


def _options(compile: bool, backward: str = "fused") -> losses.EngineOptions:
    return losses.EngineOptions(path="blockwise", block_size=5, backward=backward, compile=compile)


COMPILED_CASES = {
    "laplacian": (lambda: _WatchedLaplacian(0.5), lambda: ref.RefLaplacian(0.5)),
    # two Gram quantities (inner and distance) mixed inside one softmax
    "kernel_sum_mixed_forms": (
        lambda: kernels.KernelSum([kernels.Cosine(0.3), _WatchedLaplacian(0.5)], [0.5, 2.0]),
        lambda: ref.RefKernelSum([ref.RefCosine(0.3), ref.RefLaplacian(0.5)], [0.5, 2.0]),
    ),
    # a kernel that compile=None leaves eager; compile=True compiles it all the same
    "cosine": (lambda: _WatchedCosine(0.2), lambda: ref.RefCosine(0.2)),
}


@pytest.mark.parametrize(
    ("name", "backward"),
    [
        ("laplacian", "fused"),
        ("laplacian", "recompute"),
        ("kernel_sum_mixed_forms", "fused"),
        ("kernel_sum_mixed_forms", "recompute"),
        ("cosine", "fused"),
    ],
)
def test_compiled_engine_matches_eager_and_reference(name, backward) -> None:
    make, make_ref = COMPILED_CASES[name]
    z1, z2 = views(batch=7, seed=60)  # 14 rows in blocks of 5: the last block is shorter
    before = int(_COMPILED_MAPS)
    compiled, g_compiled = _two_view_loss(make(), z1, z2, _options(True, backward))
    # 3 blocks in forward, and 3 more where backward recomputes them
    assert int(_COMPILED_MAPS) - before == (3 if backward == "fused" else 6)
    before = int(_COMPILED_MAPS)
    eager, g_eager = _two_view_loss(make(), z1, z2, _options(False, backward))
    assert int(_COMPILED_MAPS) == before, "compile=False ran compiled code"
    expected, e1, e2, _ = ref.infonce(z1, z2, make_ref())
    assert_close(compiled, eager, F64_RTOL, "compiled vs eager loss")
    assert_close(g_compiled, g_eager, F64_RTOL, "compiled vs eager gradient")
    assert_close(compiled, expected, F64_RTOL, "compiled vs reference loss")
    assert_close(g_compiled, np.concatenate([e1, e2]), F64_RTOL, "compiled vs reference gradient")


def test_compiled_engine_without_gradients() -> None:
    # evaluation without autograd takes the compiled forward-only code
    z1, z2 = views(batch=7, seed=61)
    before = int(_COMPILED_MAPS)
    value, _ = _two_view_loss(_WatchedLaplacian(0.5), z1, z2, _options(True), grad=False)
    assert int(_COMPILED_MAPS) - before == 3
    assert_close(value, ref.infonce(z1, z2, ref.RefLaplacian(0.5))[0], F64_RTOL, "loss")


def test_compiled_engine_float32() -> None:
    z1, z2 = (v.astype(np.float32) for v in views(batch=9, seed=62))
    before = int(_COMPILED_MAPS)
    value, grad = _two_view_loss(
        _WatchedLaplacian(0.5), z1, z2, _options(True), dtype=torch.float32
    )
    assert int(_COMPILED_MAPS) > before
    expected, e1, e2, _ = ref.infonce(
        z1.astype(np.float64), z2.astype(np.float64), ref.RefLaplacian(0.5)
    )
    assert_close(value, expected, F32_RTOL, "loss")
    assert_close(grad, np.concatenate([e1, e2]), F32_RTOL, "gradient")


def test_environment_decides_only_when_compile_is_not_given(monkeypatch) -> None:
    # CONTRASTLAB_COMPILE=1 compiles a small call left to compile=None; an explicit
    # compile=False wins over it
    z1, z2 = views(batch=7, seed=63)
    monkeypatch.setenv("CONTRASTLAB_COMPILE", "1")
    before = int(_COMPILED_MAPS)
    options = losses.EngineOptions(path="blockwise", block_size=5, compile=None)
    value, _ = _two_view_loss(_WatchedLaplacian(0.5), z1, z2, options)
    assert int(_COMPILED_MAPS) - before == 3
    assert_close(value, ref.infonce(z1, z2, ref.RefLaplacian(0.5))[0], F64_RTOL, "loss")
    before = int(_COMPILED_MAPS)
    _two_view_loss(_WatchedLaplacian(0.5), z1, z2, _options(False))
    assert int(_COMPILED_MAPS) == before


def test_environment_keeps_a_large_call_eager(monkeypatch) -> None:
    # 2B = 4096 rows: 2^24 logits, where compile=None would compile; CONTRASTLAB_COMPILE=0 says no
    monkeypatch.setenv("CONTRASTLAB_COMPILE", "0")
    gen = torch.Generator().manual_seed(64)
    z = torch.randn(4096, 4, generator=gen)
    kernel = _WatchedLaplacian(0.5)
    prepared = kernel.prepare(z)
    positive = (torch.arange(4096) + 2048) % 4096
    before = int(_COMPILED_MAPS)
    with torch.no_grad():
        loss = losses.softmax_contrastive_loss(
            prepared, prepared, positive, torch.arange(4096), kernel.logits, (),
            losses.EngineOptions(compile=None), kernel,
        )  # fmt: skip
    assert math.isfinite(loss.item())
    assert int(_COMPILED_MAPS) == before
