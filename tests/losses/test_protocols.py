"""The losses take any kernel-like object, not only ``Kernel`` subclasses: ``logits`` and
``prepare`` suffice, and one that also provides ``gram_parts`` runs the engine's Gram path."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from contrastlab import kernels, losses

from . import reference as ref
from .cases import assert_close, run, views

F64_RTOL = 1e-10
PATHS = {
    "dense": dict(path="dense"),
    "fused": dict(path="blockwise", block_size=5, backward="fused"),
    "recompute": dict(path="blockwise", block_size=5, backward="recompute"),
}


class CountingLaplacian:
    """Not a ``Kernel``: Laplacian(t) written out, counting which of its methods the loss uses."""

    def __init__(self, t: float) -> None:
        self.t = t
        self.logit_calls = 0

    def prepare(self, z: Tensor) -> Tensor:
        return torch.nn.functional.normalize(z, dim=-1)

    def logits(self, a: Tensor, b: Tensor) -> Tensor:
        self.logit_calls += 1
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return -torch.sqrt(d2 + kernels.EPS) / self.t


class GramLaplacian(CountingLaplacian):
    """The same, and its elementwise form: the engine's Gram path needs no ``logits``."""

    def __init__(self, t: float) -> None:
        super().__init__(t)
        self.part_calls = 0

    def gram_parts(self, dim: int) -> tuple[kernels.GramPart, ...]:
        self.part_calls += 1
        return (kernels.GramPart(kernels.Laplacian(self.t), 1.0, slice(0, dim)),)


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("cls", [CountingLaplacian, GramLaplacian])
def test_kernel_like_object_matches_reference(cls, path):
    z1, z2 = views(batch=7, seed=3)
    expected, e1, e2, _ = ref.infonce(z1, z2, ref.RefLaplacian(0.5))
    kernel = cls(0.5)
    value, (g1, g2) = run(losses.KernelInfoNCE(kernel, **PATHS[path]), z1, z2)
    assert_close(value, expected, F64_RTOL, "loss")
    assert_close(g1, e1, F64_RTOL, "dL/dz1")
    assert_close(g2, e2, F64_RTOL, "dL/dz2")
    gram = isinstance(kernel, GramLaplacian) and path != "dense"
    # the blockwise engine dispatches on gram_parts: then logits are never evaluated
    assert (kernel.logit_calls == 0) == gram
    if isinstance(kernel, GramLaplacian):
        assert (kernel.part_calls > 0) == gram


@pytest.mark.parametrize("path", ["fused", "recompute"])
def test_kernel_like_object_in_clip_and_loss_sum(path):
    z1, z2 = views(batch=6, seed=4)
    kernel = GramLaplacian(0.5)
    expected, e1, e2 = ref.clip(z1, z2, ref.RefLaplacian(0.5))
    value, (g1, g2) = run(losses.KernelCLIPLoss(kernel, **PATHS[path]), z1, z2)
    assert_close(value, expected, F64_RTOL, "CLIP loss")
    assert_close(g1, e1, F64_RTOL, "CLIP dL/da")
    assert_close(g2, e2, F64_RTOL, "CLIP dL/db")
    terms = [(kernel, 0.25), (kernels.Gaussian(0.4), 0.75)]
    ref_terms = [(ref.RefLaplacian(0.5), 0.25), (ref.RefGaussian(0.4), 0.75)]
    expected, e1, e2 = ref.loss_sum(z1, z2, ref_terms)
    value, (g1, g2) = run(losses.LossSum(terms, **PATHS[path]), z1, z2)
    assert_close(value, expected, F64_RTOL, "LossSum loss")
    assert_close(g1, e1, F64_RTOL, "LossSum dL/dz1")
    assert kernel.logit_calls == 0


@pytest.mark.parametrize("bad", [42, torch.nn.Linear(3, 3), object()])
def test_objects_without_logits_and_prepare_are_refused(bad):
    with pytest.raises(TypeError, match="logits\\(a, b\\) and prepare\\(z\\)"):
        losses.KernelInfoNCE(bad)
    with pytest.raises(TypeError, match="logits\\(a, b\\) and prepare\\(z\\)"):
        losses.KernelCLIPLoss(bad)


class TwoSliceLoss:
    """Not a ``Concat``: a sum of two losses on column slices, given by ``loss_terms``."""

    def prepare(self, z: Tensor) -> Tensor:
        return torch.nn.functional.normalize(z, dim=-1)

    def logits(self, a: Tensor, b: Tensor) -> Tensor:
        raise AssertionError("a kernel with loss terms is never evaluated as one kernel")

    def loss_terms(self, dim: int) -> tuple[kernels.LossTerm, ...]:
        return (
            kernels.LossTerm(kernels.Laplacian(0.5), 0.3, slice(0, 3)),
            kernels.LossTerm(kernels.Gaussian(0.4), 0.7, slice(3, dim)),
        )


TWO_SLICE_REF = ref.RefConcat(
    [ref.RefLaplacian(0.5), ref.RefGaussian(0.4)], [3, 5], "loss", "whole", [0.3, 0.7]
)
# A loss-mode Concat inside a loss-mode Concat is the sum over the flattened terms (weights
# multiplied), all on the slices of the outer Concat's normalised embedding.
NESTED_REF = ref.RefConcat(
    [ref.RefLaplacian(0.5), ref.RefGaussian(0.4), ref.RefCauchy(1.0)],
    [2, 2, 4],
    "loss",
    "whole",
    [0.6 * 0.25, 0.6 * 0.75, 0.4],
)


def _nested() -> kernels.Concat:
    inner = kernels.Concat(
        [kernels.Laplacian(0.5), kernels.Gaussian(0.4)], [2, 2], mode="loss", weights=[0.25, 0.75]
    )
    return kernels.Concat([inner, kernels.Cauchy(1.0)], [4, 4], mode="loss", weights=[0.6, 0.4])


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("make, reference", [(TwoSliceLoss, TWO_SLICE_REF), (_nested, NESTED_REF)])
def test_loss_terms_give_a_sum_of_losses_over_slices(make, reference, path):
    z1, z2 = views(batch=6, seed=5)
    expected, e1, e2, _ = ref.infonce(z1, z2, reference)
    value, (g1, g2) = run(losses.KernelInfoNCE(make(), **PATHS[path]), z1, z2)
    assert_close(value, expected, F64_RTOL, "InfoNCE loss")
    assert_close(g1, e1, F64_RTOL, "InfoNCE dL/dz1")
    assert_close(g2, e2, F64_RTOL, "InfoNCE dL/dz2")
    expected, ea, eb = ref.clip(z1, z2, reference)
    value, (ga, gb) = run(losses.KernelCLIPLoss(make(), **PATHS[path]), z1, z2)
    assert_close(value, expected, F64_RTOL, "CLIP loss")
    assert_close(ga, ea, F64_RTOL, "CLIP dL/da")
    assert_close(gb, eb, F64_RTOL, "CLIP dL/db")


def test_concat_states_its_terms_only_in_loss_mode():
    parts = [kernels.Laplacian(0.5), kernels.Gaussian(0.4)]
    as_loss = kernels.Concat(parts, [3, 5], mode="loss", weights=[0.3, 0.7])
    assert as_loss.loss_terms(8) == (
        kernels.LossTerm(parts[0], 0.3, slice(0, 3)),
        kernels.LossTerm(parts[1], 0.7, slice(3, 8)),
    )
    assert as_loss.gram_parts(8) is None
    as_kernel = kernels.Concat(parts, [3, 5], mode="kernel")
    assert as_kernel.loss_terms(8) is None
    assert as_kernel.gram_parts(8) is not None
    with pytest.raises(ValueError, match="split"):
        as_loss.loss_terms(7)
