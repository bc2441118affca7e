"""Sums of losses over column slices: what a kernel with ``loss_terms`` (``Concat(mode="loss")``)
stands for.

For such a kernel ``K`` with terms ``(k_m, w_m, S_m)`` a loss ``L`` becomes

    L_K(Z) = sum_m w_m L_{k_m}(Z[:, S_m]),

each term its own softmax, on the embeddings as they are after ``K``'s normalisation (the parts'
own normalisations are not applied). Terms may themselves have terms (applied recursively); a
kernel without ``loss_terms``, or whose ``loss_terms`` is ``None``, is one loss on all columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor

from contrastlab.kernels import LogKernel, LossTerm


def loss_terms(kernel: LogKernel, dim: int) -> tuple[LossTerm, ...] | None:
    """The kernel's terms on embeddings of width ``dim`` (``kernels.LossTerms``), or ``None``."""
    terms = getattr(kernel, "loss_terms", None)
    return None if terms is None else terms(dim)


def sum_over_terms(
    kernel: LogKernel,
    tensors: Sequence[Tensor],
    loss: Callable[[LogKernel, Sequence[Tensor]], Tensor],
) -> Tensor:
    """``sum_m w_m loss(k_m, [t[:, S_m] for t in tensors])`` over ``kernel``'s loss terms.

    Args:
        kernel: the kernel; without terms the result is ``loss(kernel, tensors)``.
        tensors: ``(rows, d)`` tensors sliced alike (e.g. anchors and candidates), normalised.
        loss: the loss of one kernel on (slices of) ``tensors``.
    """
    terms = loss_terms(kernel, tensors[0].shape[-1])
    if terms is None:
        return loss(kernel, tensors)
    total = tensors[0].new_zeros(())
    for term in terms:
        sliced = [t[:, term.columns] for t in tensors]
        total = total + term.weight * sum_over_terms(term.kernel, sliced, loss)
    return total
