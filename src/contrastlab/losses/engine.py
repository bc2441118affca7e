"""The softmax-contrastive engine: dense and blockwise, for any logit function.

The engine computes, for anchors ``a_i`` (n rows) and candidates ``c_j`` (m rows),

    loss = (1 / n) * sum_i [ -l(a_i, c_{pos(i)}) + logsumexp_{j != excl(i)} l(a_i, c_j) ]

where ``l`` is any logit function (a kernel's logarithm) and ``excl(i)`` is an optional column
removed from row i's softmax in log space (the self pair of InfoNCE; CLIP removes nothing). It
does not know which kernel it runs.

Blockwise path: the anchors are processed in blocks of rows; each block's logits
``(block, m)`` are the only large tensor alive, so extra memory is ``O(block * m + (n + m) d)``
instead of the dense path's several ``n x m`` matrices. Because the loss is a scalar, its gradient
is ``grad_output`` times a fixed tensor ``dL/dl = (softmax - onehot(pos)) / n`` pushed through the
logits. One block loop (``_block_loop``) serves two strategies of when that happens:

- ``"fused"`` (default): while a block's logits are in hand in the forward pass, the gradient is
  pushed through them at once and the gradients w.r.t. anchors, candidates and kernel parameters
  are accumulated; backward only scales them by ``grad_output``. This does the three matrix
  products the loss cannot avoid (logits; two in backward) and no more. Gradients are computed in
  forward only when some input requires them.
- ``"recompute"``: forward keeps only the per-row log-normaliser; backward runs the loop again,
  recomputing each block of logits and pushing the same gradient through it (one more matrix
  product per block; no gradient is computed for a loss that is never differentiated).

and two ways of evaluating a block (a ``BlockEvaluator``):

- any logit function, the gradient through it by its own autograd (``_AutogradBlocks``);
- a kernel with an elementwise form (``gram_parts``): matrix products plus the kernel's
  elementwise map and derivative, no autograd graph over the logits (``gram.GramBlocks``).

Both are first-order only (no double backward).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from contrastlab.losses.gram import GramBlocks
from contrastlab.losses.options import (
    BLOCK_BYTES,
    COMPILE_MIN,
    EngineOptions,
    Path,
    Strategy,
    block_bytes,
)

# EngineOptions and its types live in ``options``; they are re-exported here for old imports.
__all__ = [
    "BLOCK_BYTES",
    "COMPILE_MIN",
    "BlockEvaluator",
    "EngineOptions",
    "LogitFn",
    "block_bytes",
    "Path",
    "Strategy",
    "softmax_contrastive_loss",
]

LogitFn = Callable[..., Tensor]


class BlockEvaluator(Protocol):
    """Evaluates blocks of anchor rows for the block loop; built per call by a ``MakeBlocks``.

    ``grads`` holds the accumulated gradients w.r.t. anchors, candidates and each parameter
    when built with gradients, and is empty otherwise.
    """

    grads: list[Tensor]

    def block(
        self,
        start: int,
        stop: int,
        positive: Tensor,
        exclude: Tensor | None,
        scale: float,
        lse: Tensor | None,
    ) -> tuple[Tensor, Tensor | None]:
        """Rows ``start:stop``: ``(log-normaliser, positive logits)``; adds their gradient
        (``scale`` times softmax minus one-hot) into ``grads`` when it has them. ``positive`` and
        ``exclude`` are the block's own; with ``lse`` given the softmax uses it and the positive
        logits are not returned."""
        ...


#: ``make(anchors, candidates, params, options, with_grad)``, a new evaluator for one call.
MakeBlocks = Callable[[Tensor, Tensor, Sequence[Tensor], EngineOptions, bool], BlockEvaluator]


def softmax_contrastive_loss(
    anchors: Tensor,
    candidates: Tensor,
    positive: Tensor,
    exclude: Tensor | None,
    logit_fn: LogitFn,
    params: Sequence[Tensor] = (),
    options: EngineOptions | None = None,
    gram_kernel: object | None = None,
) -> Tensor:
    """Mean over anchors of ``-l(a_i, c_pos(i)) + logsumexp_{j != excl(i)} l(a_i, c_j)``.

    Args:
        anchors: ``(n, d)``.
        candidates: ``(m, d)``.
        positive: ``(n,)`` int64 column of each anchor's positive.
        exclude: ``(n,)`` int64 column removed from each row's softmax, or ``None``.
        logit_fn: ``logit_fn(a, c, *params) -> (rows, m)`` logits; may work in place on its
            own intermediates, must be differentiable in ``a``, ``c`` and ``params``.
        params: extra tensors ``logit_fn`` depends on (e.g. a learnable temperature).
        options: path, block size and backward strategy.
        gram_kernel: the kernel behind ``logit_fn``, any object: when it provides
            ``gram_parts`` (``kernels.GramKernel``) giving parts for ``d`` columns and ``params``
            is empty, the blockwise path uses ``contrastlab.losses.gram`` (matrix products plus
            the parts' elementwise maps and derivatives, no autograd graph over the logits).
            Same value and gradient.

    Returns:
        A scalar tensor.
    """
    opts = options or EngineOptions()
    if opts.path == "dense":
        return _dense(anchors, candidates, positive, exclude, logit_fn, params)
    gram_parts = getattr(gram_kernel, "gram_parts", None)
    parts = None if gram_parts is None or params else gram_parts(anchors.shape[1])
    make: MakeBlocks
    if parts is not None:
        make = functools.partial(GramBlocks, parts)
    else:
        make = functools.partial(_AutogradBlocks, logit_fn)
    return _Blockwise.apply(anchors, candidates, positive, exclude, make, opts, *params)


def _exclusion_mask(exclude: Tensor, m: int) -> Tensor:
    """``(rows, m)`` boolean mask, true at column ``exclude[i]`` of row i."""
    columns = torch.arange(m, device=exclude.device)
    return columns.unsqueeze(0) == exclude.unsqueeze(1)


def _dense(
    anchors: Tensor,
    candidates: Tensor,
    positive: Tensor,
    exclude: Tensor | None,
    logit_fn: LogitFn,
    params: Sequence[Tensor],
) -> Tensor:
    logits = logit_fn(anchors, candidates, *params)
    if exclude is not None:
        logits = logits.masked_fill(_exclusion_mask(exclude, candidates.shape[0]), float("-inf"))
    positive_logit = logits.gather(1, positive.unsqueeze(1)).squeeze(1)
    return (torch.logsumexp(logits, dim=1) - positive_logit).mean()


def _logit_gradient(masked: Tensor, lse: Tensor, positive: Tensor, scale: float) -> Tensor:
    """``(softmax(masked) - onehot(positive)) * scale``, computed in place on ``masked``."""
    grad = masked.sub_(lse.unsqueeze(1)).exp_()
    grad.scatter_add_(1, positive.unsqueeze(1), torch.full_like(lse, -1.0).unsqueeze(1))
    return grad.mul_(scale)


class _AutogradBlocks:
    """Blocks of any logit function; a block's gradient by autograd through its logits."""

    def __init__(
        self,
        logit_fn: LogitFn,
        anchors: Tensor,
        candidates: Tensor,
        params: Sequence[Tensor],
        opts: EngineOptions,
        with_grad: bool,
    ) -> None:
        self.logit_fn = logit_fn
        self.anchors, self.candidates, self.params = anchors, candidates, tuple(params)
        self.grads: list[Tensor] = []
        if with_grad:
            self.grads = [torch.zeros_like(t) for t in (anchors, candidates, *params)]
            self.c_leaf = candidates.detach().requires_grad_(True)
            self.p_leaves = [p.detach().requires_grad_(True) for p in params]

    def block(
        self,
        start: int,
        stop: int,
        positive: Tensor,
        exclude: Tensor | None,
        scale: float,
        lse: Tensor | None,
    ) -> tuple[Tensor, Tensor | None]:
        if self.grads:
            with torch.enable_grad():
                a_leaf = self.anchors[start:stop].detach().requires_grad_(True)
                logits = self.logit_fn(a_leaf, self.c_leaf, *self.p_leaves)
            values = logits.detach()
        else:
            values = self.logit_fn(self.anchors[start:stop], self.candidates, *self.params)
        if exclude is not None:
            masked = values.masked_fill(_exclusion_mask(exclude, values.shape[1]), float("-inf"))
        else:
            masked = values.clone()  # _logit_gradient works in place
        positive_logit = None
        if lse is None:
            lse = torch.logsumexp(masked, dim=1)
            positive_logit = masked.gather(1, positive.unsqueeze(1)).squeeze(1)
        if self.grads:
            grad_logits = _logit_gradient(masked, lse, positive, scale)
            grads = torch.autograd.grad(logits, [a_leaf, self.c_leaf, *self.p_leaves], grad_logits)
            self.grads[0][start:stop] = grads[0]
            for acc, g in zip(self.grads[1:], grads[1:]):
                acc += g
        return lse, positive_logit


def _block_loop(
    blocks: BlockEvaluator,
    anchors: Tensor,
    rows: int,
    positive: Tensor,
    exclude: Tensor | None,
    lse_given: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """The one loop over blocks of ``rows`` anchors, for both strategies.

    Returns ``sum_i (lse_i - l_i,pos(i))`` (float64) and the per-row log-normaliser ``lse``; with
    ``lse_given`` (the recompute backward) only the evaluator's gradients are accumulated.
    """
    n = anchors.shape[0]
    total = anchors.new_zeros((), dtype=torch.float64)
    lse_all = anchors.new_empty(n) if lse_given is None else lse_given
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        lse, positive_logit = blocks.block(
            start,
            stop,
            positive[start:stop],
            None if exclude is None else exclude[start:stop],
            1.0 / n,
            None if lse_given is None else lse_given[start:stop],
        )
        if positive_logit is not None:
            lse_all[start:stop] = lse
            total += (lse - positive_logit).sum(dtype=torch.float64)
    return total, lse_all


class _Blockwise(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        anchors: Tensor,
        candidates: Tensor,
        positive: Tensor,
        exclude: Tensor | None,
        make: MakeBlocks,
        opts: EngineOptions,
        *params: Tensor,
    ) -> Tensor:
        n, m = anchors.shape[0], candidates.shape[0]
        needs = ctx.needs_input_grad
        want_grad = needs[0] or needs[1] or any(needs[6:])
        fused = want_grad and opts.backward == "fused"
        blocks = make(anchors, candidates, params, opts, fused)
        rows = opts.rows_per_block(n, m, anchors.device)
        total, lse_all = _block_loop(blocks, anchors, rows, positive, exclude)
        if fused:
            ctx.save_for_backward(*blocks.grads)
        else:
            ctx.save_for_backward(anchors, candidates, positive, lse_all, *params)
            ctx.exclude = exclude
        ctx.fused = fused
        ctx.make = make
        ctx.opts = opts
        return (total / n).to(anchors.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        if ctx.fused:
            grads = ctx.saved_tensors
        else:
            anchors, candidates, positive, lse_all, *params = ctx.saved_tensors
            blocks = ctx.make(anchors, candidates, params, ctx.opts, True)
            rows = ctx.opts.rows_per_block(anchors.shape[0], candidates.shape[0], anchors.device)
            _block_loop(blocks, anchors, rows, positive, ctx.exclude, lse_given=lse_all)
            grads = blocks.grads
        scaled = [g * grad_output for g in grads]
        return (scaled[0], scaled[1], None, None, None, None, *scaled[2:])
