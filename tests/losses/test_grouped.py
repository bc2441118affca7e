"""grouped_clip_loss: CLIP's symmetric loss inside consecutive groups, against float64 references
written from the formula (value) and from the reference VJPs of ``reference.py`` (gradients)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contrastlab import kernels
from contrastlab.errors import InputError
from contrastlab.losses.grouped import grouped_clip_loss

from . import reference as ref
from .cases import assert_close

F64_RTOL = 1e-10


def _formula(a: np.ndarray, b: np.ndarray, log_kernel, group: int) -> float:
    """``1/2 mean_groups mean_i [-l_ii + lse_j l_ij - l_ii + lse_j l_ji]``, written out in loops."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    total, count = 0.0, 0
    for start in range(0, len(a), group):
        ga, gb = a[start : start + group], b[start : start + group]
        logits = np.array([[log_kernel(x, y) for y in gb] for x in ga])
        for i in range(group):
            for row in (logits[i], logits[:, i]):  # a_i against all b_j, b_i against all a_j
                total += 0.5 * (-row[i] + np.log(np.exp(row).sum()))
            count += 1
    return total / count


KERNELS = {
    "cosine": (
        lambda: kernels.Cosine(0.3),
        lambda x, y: x @ y / 0.3,
        lambda: ref.RefCosine(0.3),
    ),
    "laplacian": (
        lambda: kernels.Laplacian(0.5),
        lambda x, y: -np.sqrt(((x - y) ** 2).sum() + kernels.EPS) / 0.5,
        lambda: ref.RefLaplacian(0.5),
    ),
}


@pytest.mark.parametrize("group", [2, 4, 12])
@pytest.mark.parametrize("name", list(KERNELS))
def test_grouped_loss_matches_formula_and_gradient(name, group):
    make, log_kernel, make_ref = KERNELS[name]
    rng = np.random.default_rng(group)
    a_np, b_np = rng.normal(size=(12, 6)), rng.normal(size=(12, 6))
    a = torch.tensor(a_np, requires_grad=True)
    b = torch.tensor(b_np, requires_grad=True)
    value = grouped_clip_loss(a, b, make(), group)
    value.backward()
    assert_close(value.item(), _formula(a_np, b_np, log_kernel, group), F64_RTOL, "loss")
    # the mean over groups of one CLIP loss per group: gradients are the groups' over G
    groups = len(a_np) // group
    expected_a, expected_b = np.zeros_like(a_np), np.zeros_like(b_np)
    for start in range(0, len(a_np), group):
        rows = slice(start, start + group)
        _, ga, gb = ref.clip(a_np[rows], b_np[rows], make_ref())
        expected_a[rows], expected_b[rows] = ga / groups, gb / groups
    assert a.grad is not None and b.grad is not None
    assert_close(a.grad.numpy(), expected_a, F64_RTOL, "dL/da")
    assert_close(b.grad.numpy(), expected_b, F64_RTOL, "dL/db")


def test_grouped_loss_rejects_ragged_groups_and_kernels_without_a_form():
    with pytest.raises(InputError, match="G \\* 5"):
        grouped_clip_loss(torch.randn(12, 3), torch.randn(12, 3), kernels.Cosine(), 5)
    with pytest.raises(InputError, match="G \\* 2"):
        grouped_clip_loss(torch.randn(12, 3), torch.randn(10, 3), kernels.Cosine(), 2)
    mixed = kernels.KernelSum([kernels.Cosine(0.3), kernels.Laplacian(0.5)])
    with pytest.raises(InputError, match="no elementwise form"):
        grouped_clip_loss(torch.randn(4, 3), torch.randn(4, 3), mixed, 2)
