"""CLIP's symmetric loss on consecutive groups of rows: exactly ``m`` negatives per anchor.

Rows come in groups of ``s = m + 1`` pairs ``(a_i, b_i)``; inside a group, anchor ``a_i`` has as
candidates the ``b_j`` of its group (its positive and ``m`` negatives), and symmetrically:

    L = 1/2 mean_groups mean_i [ -l(a_i, b_i) + logsumexp_j l(a_i, b_j)
                                 -l(b_i, a_i) + logsumexp_j l(b_i, a_j) ],  l = log K,

``j`` running over the group. With one group of all rows this is ``losses.KernelCLIPLoss``; the
compact trainer of ``reproduce clusters`` uses it to control the number of negatives. Dense
``(G, s, s)`` logits: meant for small groups.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from contrastlab.errors import InputError
from contrastlab.kernels import Kernel

__all__ = ["grouped_clip_loss"]


def _log_kernel(kernel: Kernel, a: Tensor, b: Tensor) -> Tensor:
    """``log K(a_gi, b_gj)`` for each group g: ``(G, s, d), (G, s, d) -> (G, s, s)``."""
    if kernel.form == "inner":
        return kernel.elementwise(a @ b.transpose(1, 2))
    if kernel.form == "distance":
        return kernel.elementwise(torch.cdist(a, b) ** 2)
    raise InputError(f"kernel {kernel!r} has no elementwise form; use cosine or a distance kernel")


def grouped_clip_loss(a: Tensor, b: Tensor, kernel: Kernel, group: int) -> Tensor:
    """The symmetric InfoNCE of the module docstring on consecutive groups of ``group`` rows.

    Args:
        a, b: first and second views ``(G * group, d)``; row i of ``b`` is the positive of row i
            of ``a``.
        kernel: a kernel with an elementwise form (``kernel.form`` is ``"inner"`` or
            ``"distance"``); embeddings pass through ``kernel.prepare`` (L2 for cosine).
        group: ``m + 1``, the number of sources in a group.

    Returns:
        A scalar tensor.

    Raises:
        InputError: shapes that differ or do not split into groups, or a kernel without an
            elementwise form.
    """
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] % group:
        raise InputError(f"a, b: expected equal shapes (G * {group}, d), got {a.shape}, {b.shape}")
    a3 = kernel.prepare(a).reshape(-1, group, a.shape[1])
    b3 = kernel.prepare(b).reshape(-1, group, b.shape[1])
    logits = _log_kernel(kernel, a3, b3)  # (G, s, s); positives on the diagonal
    target = torch.arange(group, device=a.device).repeat(logits.shape[0])
    rows = nn.functional.cross_entropy(logits.reshape(-1, group), target)
    cols = nn.functional.cross_entropy(logits.transpose(1, 2).reshape(-1, group), target)
    return 0.5 * (rows + cols)
