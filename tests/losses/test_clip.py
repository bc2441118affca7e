"""KernelCLIPLoss and soft_target_infonce against the float64 NumPy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from contrastlab import kernels, losses

from . import reference as ref
from .cases import assert_close, run, views

F64_RTOL = 1e-10
F32_RTOL = 1e-5

CLIP_CASES = {
    "cosine": (lambda: kernels.Cosine(0.2), lambda: ref.RefCosine(0.2)),
    "inner_product": (lambda: kernels.InnerProduct(2.0), lambda: ref.RefInnerProduct(2.0)),
    "gaussian": (lambda: kernels.Gaussian(0.4), lambda: ref.RefGaussian(0.4)),
    "laplacian": (lambda: kernels.Laplacian(0.5), lambda: ref.RefLaplacian(0.5)),
    "exponential": (
        lambda: kernels.Exponential(gamma=0.5, t=0.5),
        lambda: ref.RefExponential(0.5, 0.5),
    ),
    "student_t": (lambda: kernels.StudentT(nu=5.0, s=0.2), lambda: ref.RefStudentT(5.0, 0.2)),
    "cauchy": (lambda: kernels.Cauchy(1.0), lambda: ref.RefCauchy(1.0)),
    "kernel_sum": (
        lambda: kernels.KernelSum([kernels.Gaussian(0.4), kernels.Laplacian(0.5)], [0.5, 2.0]),
        lambda: ref.RefKernelSum([ref.RefGaussian(0.4), ref.RefLaplacian(0.5)], [0.5, 2.0]),
    ),
    "concat_kernel_parts": (
        lambda: kernels.Concat(
            [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], [3, 5], normalize="parts"
        ),
        lambda: ref.RefConcat(
            [ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [3, 5], "kernel", "parts"
        ),
    ),
}
PATHS = {
    "dense": dict(path="dense"),
    "blockwise_fused": dict(path="blockwise", block_size=3, backward="fused"),
    "blockwise_recompute": dict(path="blockwise", block_size=4, backward="recompute"),
}


def _pairs(batch: int = 7, dim: int = 8, seed: int = 40) -> tuple[np.ndarray, np.ndarray]:
    # two "modalities": b is a noisy linear image of a
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(batch, dim))
    b = a @ (np.eye(dim) + 0.3 * rng.normal(size=(dim, dim))) + 0.3 * rng.normal(size=(batch, dim))
    return a, b


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("name", list(CLIP_CASES))
def test_clip_float64_matches_reference(name, path) -> None:
    make, make_ref = CLIP_CASES[name]
    a, b = _pairs()
    expected, ea, eb = ref.clip(a, b, make_ref())
    value, (ga, gb) = run(losses.KernelCLIPLoss(make(), **PATHS[path]), a, b)
    assert_close(value, expected, F64_RTOL, "loss")
    assert_close(ga, ea, F64_RTOL, "dL/da")
    assert_close(gb, eb, F64_RTOL, "dL/db")


@pytest.mark.parametrize("name", ["cosine", "laplacian", "cauchy"])
def test_clip_float32_matches_reference(name) -> None:
    make, make_ref = CLIP_CASES[name]
    a, b = (x.astype(np.float32) for x in _pairs(batch=12, seed=41))
    expected, ea, eb = ref.clip(a.astype(np.float64), b.astype(np.float64), make_ref())
    for path in PATHS.values():
        value, (ga, gb) = run(losses.KernelCLIPLoss(make(), **path), a, b, dtype=torch.float32)
        assert_close(value, expected, F32_RTOL, f"{path} loss")
        assert_close(ga, ea, F32_RTOL, f"{path} dL/da")
        assert_close(gb, eb, F32_RTOL, f"{path} dL/db")


def test_clip_concat_loss_mode_sums_per_slice_losses() -> None:
    # Concat(mode="loss") means sum_m w_m L(k_m on slice m), here with CLIP's L.
    a, b = _pairs(seed=42)
    kernel = kernels.Concat(
        [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], [3, 5], mode="loss", weights=[0.3, 0.7]
    )
    expected, ea, eb = ref.clip(
        a,
        b,
        ref.RefConcat(
            [ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [3, 5], "loss", "whole", [0.3, 0.7]
        ),
    )
    value, (ga, gb) = run(losses.KernelCLIPLoss(kernel), a, b)
    assert_close(value, expected, F64_RTOL, "loss")
    assert_close(ga, ea, F64_RTOL, "dL/da")
    assert_close(gb, eb, F64_RTOL, "dL/db")


def test_clip_differs_from_two_view_infonce() -> None:
    # CLIP's candidates include the positive and never the same modality: a different loss.
    a, b = _pairs(seed=43)
    clip_value, _ = run(losses.KernelCLIPLoss(kernels.Cosine(0.2)), a, b)
    infonce_value, _ = run(losses.KernelInfoNCE(kernels.Cosine(0.2)), a, b)
    assert abs(clip_value - infonce_value) > 1e-2


def test_clip_learnable_temperature() -> None:
    # logits are multiplied by exp(logit_scale) (initialised at 0; total scale capped at 100)
    a, b = _pairs(seed=44)
    t = 0.5
    # float64 throughout, as a user checking float64 numbers would do (module.double())
    module = losses.KernelCLIPLoss(kernels.Cosine(t), learnable_temperature=True).double()
    params = [p for p in module.parameters() if p.requires_grad]
    assert len(params) == 1 and params[0].numel() == 1
    scale = params[0]

    value, (ga, gb) = run(module, a, b)
    expected, ea, eb = ref.clip(a, b, ref.RefCosine(t))
    assert_close(gb, eb, F64_RTOL, "dL/db at init")
    assert_close(value, expected, F64_RTOL, "loss at init")
    assert_close(ga, ea, F64_RTOL, "dL/da at init")
    # d L / d logit_scale at 0: central differences of the reference in the log-scale
    step = 1e-5
    slope = (
        ref.clip(a, b, ref.RefCosine(t), scale=math.exp(step))[0]
        - ref.clip(a, b, ref.RefCosine(t), scale=math.exp(-step))[0]
    ) / (2 * step)
    assert scale.grad is not None
    assert scale.grad.item() == pytest.approx(slope, rel=1e-6, abs=1e-9)

    with torch.no_grad():
        scale.fill_(1.2)
        scale.grad = None
    value, _ = run(module, a, b)
    assert_close(value, ref.clip(a, b, ref.RefCosine(t), scale=math.exp(1.2))[0], F64_RTOL)
    with torch.no_grad():
        scale.fill_(10.0)  # beyond the cap: the total scale exp(10) / t is capped at 100
    value, _ = run(module, a, b)
    assert_close(value, ref.clip(a, b, ref.RefCosine(t), scale=100.0 * t)[0], F64_RTOL)


CAP_CASES = {
    # (kernel, reference, the kernel's own logit scale 1/t; 1 for kernels without a temperature)
    "cosine_t0.07": (lambda: kernels.Cosine(0.07), lambda: ref.RefCosine(0.07), 1 / 0.07),
    "gaussian_t0.4": (lambda: kernels.Gaussian(0.4), lambda: ref.RefGaussian(0.4), 1 / 0.4),
    "inner_product_t2": (
        lambda: kernels.InnerProduct(2.0),
        lambda: ref.RefInnerProduct(2.0),
        1 / 2.0,
    ),
    "cauchy": (lambda: kernels.Cauchy(1.0), lambda: ref.RefCauchy(1.0), 1.0),
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("name", list(CAP_CASES))
def test_clip_total_logit_scale_is_capped_at_100(name, path) -> None:
    # CLIP caps the scale that multiplies the cosine at 100. Here the logits are
    # exp(logit_scale) * l with l = cos / t, so the total scale exp(logit_scale) / t is capped
    # (with Cosine(0.07) a cap on exp(logit_scale) alone would allow 1,430).
    make, make_ref, own = CAP_CASES[name]
    # unrelated modalities: even at a scale of 100 the softmax is far from saturated
    rng = np.random.default_rng(52)
    a, b = rng.normal(size=(7, 8)), rng.normal(size=(7, 8))
    module = losses.KernelCLIPLoss(make(), learnable_temperature=True, **PATHS[path]).double()
    cap = math.log(100.0 / own)  # the largest logit_scale that is used as it is
    for log_scale, used in [(cap - 0.1, cap - 0.1), (cap + 0.5, cap), (cap + 5.0, cap)]:
        with torch.no_grad():
            module.logit_scale.fill_(log_scale)
            module.logit_scale.grad = None
        value, _ = run(module, a, b)
        multiplier = math.exp(used)
        expected = ref.clip(a, b, make_ref(), scale=multiplier)[0]
        assert_close(value, expected, F64_RTOL, f"loss at logit_scale {log_scale:.3f}")
        if log_scale < cap:  # below the cap the scale learns
            slope = ref.clip_log_scale_slope(a, b, make_ref(), scale=multiplier)
            assert module.logit_scale.grad.item() == pytest.approx(slope, rel=1e-9)
            assert abs(slope) > 1e-2
        else:  # above it, as a clamp does, no gradient
            assert module.logit_scale.grad.item() == 0.0


LEARNABLE_CASES = {
    "cosine": (lambda: kernels.Cosine(0.5), lambda: ref.RefCosine(0.5)),
    "inner_product": (lambda: kernels.InnerProduct(2.0), lambda: ref.RefInnerProduct(2.0)),
    "laplacian": (lambda: kernels.Laplacian(0.5), lambda: ref.RefLaplacian(0.5)),
    "cauchy": (lambda: kernels.Cauchy(1.0), lambda: ref.RefCauchy(1.0)),
    "concat_loss": (
        lambda: kernels.Concat(
            [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], [3, 5], mode="loss"
        ),
        lambda: ref.RefConcat([ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [3, 5], "loss"),
    ),
}


@pytest.mark.parametrize("log_scale", [0.0, 0.7, -0.5])
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("name", list(LEARNABLE_CASES))
def test_clip_learnable_temperature_on_every_path(name, path, log_scale) -> None:
    # the learnable scale routes the blockwise paths through the autograd engine (a parameter
    # of the logit function): loss, both inputs' gradients and d L / d logit_scale, below the cap
    make, make_ref = LEARNABLE_CASES[name]
    a, b = _pairs(seed=49)
    module = losses.KernelCLIPLoss(make(), learnable_temperature=True, **PATHS[path]).double()
    with torch.no_grad():
        module.logit_scale.fill_(log_scale)
    value, (ga, gb) = run(module, a, b)
    scale = math.exp(log_scale)
    expected, ea, eb = ref.clip(a, b, make_ref(), scale=scale)
    assert_close(value, expected, F64_RTOL, "loss")
    assert_close(ga, ea, F64_RTOL, "dL/da")
    assert_close(gb, eb, F64_RTOL, "dL/db")
    slope = ref.clip_log_scale_slope(a, b, make_ref(), scale=scale)
    assert module.logit_scale.grad.item() == pytest.approx(slope, rel=F64_RTOL, abs=1e-13)


@pytest.mark.parametrize("path", list(PATHS))
def test_clip_learnable_temperature_float32(path) -> None:
    a, b = (x.astype(np.float32) for x in _pairs(batch=12, seed=50))
    module = losses.KernelCLIPLoss(
        kernels.Laplacian(0.5), learnable_temperature=True, **PATHS[path]
    )
    with torch.no_grad():
        module.logit_scale.fill_(0.4)
    value, (ga, gb) = run(module, a, b, dtype=torch.float32)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    expected, ea, eb = ref.clip(a64, b64, ref.RefLaplacian(0.5), scale=math.exp(0.4))
    assert_close(value, expected, F32_RTOL, "loss")
    assert_close(ga, ea, F32_RTOL, "dL/da")
    assert_close(gb, eb, F32_RTOL, "dL/db")
    slope = ref.clip_log_scale_slope(a64, b64, ref.RefLaplacian(0.5), scale=math.exp(0.4))
    assert module.logit_scale.grad.item() == pytest.approx(slope, rel=F32_RTOL, abs=1e-6)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("name", ["inner_product", "laplacian", "concat_loss"])
def test_clip_learnable_temperature_gradcheck(name, path) -> None:
    # float64 gradcheck in the embeddings and in logit_scale together
    gen = torch.Generator().manual_seed(51)
    a = torch.randn(4, 8, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(4, 8, dtype=torch.float64, generator=gen, requires_grad=True)
    log_scale = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    module = losses.KernelCLIPLoss(
        LEARNABLE_CASES[name][0](), learnable_temperature=True, **PATHS[path]
    ).double()

    def loss(a: torch.Tensor, b: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(module, {"logit_scale": s}, (a, b))

    assert torch.autograd.gradcheck(loss, (a, b, log_scale), eps=1e-6, atol=1e-7, rtol=1e-5)


def test_clip_gradcheck() -> None:
    gen = torch.Generator().manual_seed(45)
    a = torch.randn(4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(4, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    for kernel in (kernels.Cosine(0.5), kernels.Laplacian(0.5), kernels.Cauchy(1.0)):
        for path in PATHS.values():
            module = losses.KernelCLIPLoss(kernel, **path)
            assert torch.autograd.gradcheck(module, (a, b), eps=1e-6, atol=1e-7, rtol=1e-5)


# ----------------------------------------------------------------------------- soft targets


def _soft_targets(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.random((n, n)) ** 3
    np.fill_diagonal(p, 0.0)
    return p / p.sum(axis=1, keepdims=True)


SOFT_CASES = {
    "cosine_on_unit_rows": (kernels.Cosine(0.3), ref.RefCosine(0.3), True),
    "gaussian_raw": (kernels.Gaussian(2.0), ref.RefGaussian(2.0), False),
    "laplacian_raw": (kernels.Laplacian(0.7), ref.RefLaplacian(0.7), False),
    "cauchy_raw": (kernels.Cauchy(1.0), ref.RefCauchy(1.0), False),
    "student_t_raw": (kernels.StudentT(nu=3.0, s=0.5), ref.RefStudentT(3.0, 0.5), False),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(SOFT_CASES))
def test_soft_target_infonce_matches_reference(name, dtype) -> None:
    kernel, reference_kernel, unit = SOFT_CASES[name]
    rng = np.random.default_rng(46)
    z = rng.normal(size=(9, 4))
    if unit:  # the cosine logits z z^T / t are cosines only for unit rows; z is used as given
        z /= np.linalg.norm(z, axis=1, keepdims=True)
    p = _soft_targets(9, seed=47)
    if dtype == torch.float32:
        z, p = z.astype(np.float32), p.astype(np.float32)
    expected, eg = ref.soft_target(z.astype(np.float64), p.astype(np.float64), reference_kernel)
    zt = torch.tensor(z, dtype=dtype, requires_grad=True)
    value = losses.soft_target_infonce(zt, torch.tensor(p, dtype=dtype), kernel)
    assert value.dim() == 0 and value.dtype == dtype
    value.backward()
    rtol = F64_RTOL if dtype == torch.float64 else F32_RTOL
    assert_close(value.item(), expected, rtol, "H(Z)")
    assert_close(zt.grad.double().numpy(), eg, rtol, "dH/dz")


def test_soft_target_with_one_hot_targets_is_infonce_sum() -> None:
    # P = the two-view positive pairing turns H into 2B times the InfoNCE loss on the same rows.
    z1, z2 = views(seed=48)
    batch = len(z1)
    z = np.concatenate([z1, z2])
    p = np.zeros((2 * batch, 2 * batch))
    for i in range(2 * batch):
        p[i, (i + batch) % (2 * batch)] = 1.0
    kernel = kernels.Cauchy(1.0)
    h = losses.soft_target_infonce(torch.tensor(z), torch.tensor(p), kernel).item()
    expected = ref.infonce(z1, z2, ref.RefCauchy(1.0))[0] * 2 * batch
    assert_close(h, expected, F64_RTOL)
