"""The blockwise engine for kernels that are elementwise maps of Gram quantities.

A kernel with an elementwise form (``Kernel.gram_parts()``) is a log-sum of parts, part ``p``
acting on columns ``S_p`` of the embeddings with weight ``w_p``:

    l_ij = logsumexp_p( log w_p + f_p(x^p_ij) )      (one part: l_ij = log w + f(x_ij))

where ``x^p_ij`` is the inner product ``s_ij = a_i.c_j`` of the slices (``form = "inner"``) or
their squared distance ``|a_i|^2 + |c_j|^2 - 2 s_ij`` clamped at 0 (``form = "distance"``).
With ``G = dL/dl`` (softmax minus one-hot, over n), the part's share
``r^p = exp(log w_p + f_p - l)`` and ``H^p = G * r^p * f_p'(x^p)``:

    inner:     dL/da_i = sum_j H_ij c_j                    dL/dc_j = sum_i H_ij a_i
    distance:  dL/da_i = 2 (a_i sum_j H_ij - sum_j H_ij c_j)
               dL/dc_j = 2 (c_j sum_i H_ij - sum_i H_ij a_i)

on each part's columns. So a block costs the matrix products of the floor plus elementwise
passes, and no autograd graph over the ``(block, m)`` logits is built. ``GramBlocks`` is the
engine's evaluator of such blocks; the engine's block loop runs it in forward (strategy
``fused``, with the gradient when inputs need it) or again in backward from the saved per-row
log-normaliser (``recompute``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from contrastlab._compile import CompiledOrEager
from contrastlab.losses.options import EngineOptions

if TYPE_CHECKING:
    from contrastlab.kernels import GramPart

Parts = tuple["GramPart", ...]
Squares = list[tuple[Tensor, Tensor] | None]


def _softmax_slope(
    parts: Parts,
    grams: list[Tensor],
    squares: Squares,
    positive: Tensor,
    exclude: Tensor | None,
    scale: float,
    want_grad: bool,
    lse_given: Tensor | None,
) -> tuple[Tensor, Tensor, list[Tensor], list[Tensor | None], list[Tensor | None]]:
    """Everything elementwise of one block, from each part's inner products (overwritten).

    Returns ``(lse, positive logits, H per part, row sums of H, column sums of H)``; the lists
    are empty without ``want_grad``, the sums ``None`` for inner parts (which do not need them).
    With ``lse_given`` the softmax uses the saved log-normaliser instead of the row maximum and
    sum. This is the part ``torch.compile`` fuses into a few loops (``EngineOptions.compile``).
    """
    rows = torch.arange(grams[0].shape[0], device=grams[0].device)
    xs = []
    for part, s, sq in zip(parts, grams, squares):
        if part.kernel.form == "distance":
            assert sq is not None  # distance parts always come with their squared norms
            s = s.mul_(-2.0).add_(sq[0].unsqueeze(1)).add_(sq[1].unsqueeze(0)).clamp_(min=0.0)
        xs.append(s)
    values = [p.kernel.elementwise(x) for p, x in zip(parts, xs)]
    if len(parts) == 1:
        weight = parts[0].weight
        logits = values[0] if weight == 1.0 else values[0] + math.log(weight)
    else:
        shifted = [v + math.log(p.weight) for p, v in zip(parts, values)]
        logits = torch.logsumexp(torch.stack(shifted), dim=0)
    slopes: list[Tensor | float] = []
    if want_grad:
        for p, x, v in zip(parts, xs, values):
            slope = p.kernel.derivative(x, v)
            if len(parts) > 1:  # share of part p in the mixture: exp(log w_p + f_p - l)
                slope = (v + math.log(p.weight)).sub_(logits).exp_().mul_(slope)
            slopes.append(slope)
    if exclude is not None:
        logits[rows, exclude] = float("-inf")
    positive_logit = logits[rows, positive]
    if lse_given is None:
        row_max = logits.amax(dim=1, keepdim=True)
        weights = logits.sub_(row_max).exp_()
        row_sum = weights.sum(dim=1, keepdim=True)
        lse = row_max.squeeze(1) + row_sum.squeeze(1).log()
        if not want_grad:
            return lse, positive_logit, [], [], []
        weights.mul_(scale / row_sum)
    else:
        lse = lse_given
        weights = logits.sub_(lse.unsqueeze(1)).exp_().mul_(scale)
    weights[rows, positive] -= scale
    hs: list[Tensor] = []
    row_sums: list[Tensor | None] = []
    col_sums: list[Tensor | None] = []
    for i, (p, slope) in enumerate(zip(parts, slopes)):
        h = weights.mul_(slope) if i == len(parts) - 1 else weights * slope
        hs.append(h)
        distance = p.kernel.form == "distance"
        row_sums.append(h.sum(dim=1) if distance else None)
        col_sums.append(h.sum(dim=0) if distance else None)
    return lse, positive_logit, hs, row_sums, col_sums


#: The compiled ``_softmax_slope``: one compiled variant per kernel and flag combination (about
#: 3 per kernel), hence the raised recompile limit. After a failure it runs eagerly.
_COMPILED_SLOPE = CompiledOrEager(
    _softmax_slope, "the loss engine's elementwise work", recompile_limit=64, dynamic=True
)


def _use_compiled(opts: EngineOptions, parts: Parts, size: int) -> bool:
    """Whether ``opts.compile``, the kernels and ``size`` ask for the compiled ``_softmax_slope``
    (``compile=None`` compiles only kernels whose elementwise maps are worth fusing)."""
    fusable = opts.compile is True or any(p.kernel.fusable for p in parts)
    return fusable and not _COMPILED_SLOPE.failed and opts.should_compile(size)


def _slices(parts: Parts, t: Tensor) -> list[Tensor]:
    return [t[:, p.columns] for p in parts]


def _squares(parts: Parts, a_cols: list[Tensor], c_cols: list[Tensor]) -> Squares:
    return [
        ((a * a).sum(dim=1), (c * c).sum(dim=1)) if p.kernel.form == "distance" else None
        for p, a, c in zip(parts, a_cols, c_cols)
    ]


def _block(
    parts: Parts,
    opts: EngineOptions,
    a_cols: list[Tensor],
    c_cols: list[Tensor],
    squares: Squares,
    positive: Tensor,
    exclude: Tensor | None,
    scale: float,
    want_grad: bool,
    total_logits: int,
    lse_given: Tensor | None = None,
) -> tuple[Tensor, Tensor, list[Tensor], list[Tensor | None], list[Tensor | None]]:
    """One block of anchor rows: the inner products, then ``_softmax_slope``.

    ``total_logits`` (n x m of the whole call) decides whether the compiled code is used.
    """
    grams = [a @ c.T for a, c in zip(a_cols, c_cols)]
    rest = (squares, positive, exclude, scale, want_grad, lse_given)
    if not _use_compiled(opts, parts, total_logits):
        return _softmax_slope(parts, grams, *rest)
    # the compiled call may have overwritten the products before failing: the retry recomputes
    return _COMPILED_SLOPE(
        parts,
        grams,
        *rest,
        fresh_args=lambda: (parts, [a @ c.T for a, c in zip(a_cols, c_cols)], *rest),
    )


def _accumulate(
    parts: Parts,
    a_cols: list[Tensor],
    c_cols: list[Tensor],
    hs: list[Tensor],
    row_sums: list[Tensor | None],
    col_sums: list[Tensor | None],
    grad_a: Tensor,
    grad_c: Tensor,
) -> None:
    """Add the block's anchor gradient into ``grad_a`` and the candidates' into ``grad_c``."""
    for p, a, c, h, h_rows, h_cols in zip(parts, a_cols, c_cols, hs, row_sums, col_sums):
        out_a, out_c = grad_a[:, p.columns], grad_c[:, p.columns]
        if p.kernel.form == "inner":
            out_c.addmm_(h.T, a)
            out_a.add_(h @ c)
            continue
        assert h_rows is not None and h_cols is not None  # distance parts return both sums
        out_c.addmm_(h.T, a, alpha=-2.0).add_(c * h_cols.unsqueeze(1), alpha=2.0)
        out_a.add_(torch.addmm(a * h_rows.unsqueeze(1), h, c, alpha=-1.0), alpha=2.0)


class GramBlocks:
    """Blocks of a kernel given by its ``gram_parts``: the engine's ``BlockEvaluator`` of the
    matrix products and elementwise passes above (no autograd graph over the logits)."""

    def __init__(
        self,
        parts: Parts,
        anchors: Tensor,
        candidates: Tensor,
        params: Sequence[Tensor],
        opts: EngineOptions,
        with_grad: bool,
    ) -> None:
        assert not params, "the engine sends kernels with logit parameters to autograd blocks"
        self.parts, self.opts = parts, opts
        self.a_all, self.c_cols = _slices(parts, anchors), _slices(parts, candidates)
        self.squares_all = _squares(parts, self.a_all, self.c_cols)
        self.total_logits = anchors.shape[0] * candidates.shape[0]
        self.grads: list[Tensor] = []
        if with_grad:
            self.grads = [torch.zeros_like(anchors), torch.zeros_like(candidates)]

    def block(
        self,
        start: int,
        stop: int,
        positive: Tensor,
        exclude: Tensor | None,
        scale: float,
        lse: Tensor | None,
    ) -> tuple[Tensor, Tensor | None]:
        """See ``engine.BlockEvaluator.block``."""
        parts = self.parts
        a_cols = [a[start:stop] for a in self.a_all]
        squares = [None if sq is None else (sq[0][start:stop], sq[1]) for sq in self.squares_all]
        with_grad = bool(self.grads)
        lse_out, positive_logit, hs, h_rows, h_cols = _block(
            parts, self.opts, a_cols, self.c_cols, squares, positive, exclude, scale,
            with_grad, self.total_logits, lse_given=lse,
        )  # fmt: skip
        if with_grad:
            grad_a, grad_c = self.grads
            _accumulate(parts, a_cols, self.c_cols, hs, h_rows, h_cols, grad_a[start:stop], grad_c)
        return lse_out, positive_logit if lse is None else None
