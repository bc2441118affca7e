"""The softmax-contrastive engine: dense and blockwise, for any logit function.

The engine computes, for anchors ``a_i`` (n rows) and candidates ``c_j`` (m rows),

    loss = (1 / n) * sum_i [ -l(a_i, c_{pos(i)}) + logsumexp_{j != excl(i)} l(a_i, c_j) ]

where ``l`` is any logit function (a kernel's logarithm) and ``excl(i)`` is an optional column
removed from row i's softmax in log space (the self pair of InfoNCE; CLIP removes nothing). It
does not know which kernel it runs.

Blockwise path: the anchors are processed in blocks of rows; each block's logits
``(block, m)`` are the only large tensor alive, so extra memory is ``O(block * m + (n + m) d)``
instead of the dense path's several ``n x m`` matrices. Because the loss is a scalar, its gradient
is ``grad_output`` times a fixed tensor; two strategies compute it:

- ``"fused"`` (default): while a block's logits are in hand in the forward pass, the gradient
  ``dl/dlogits = (softmax - onehot(pos)) / n`` is pushed through the logit function at once
  (its own autograd), and the gradients w.r.t. anchors, candidates and kernel parameters are
  accumulated; backward only scales them by ``grad_output``. This does the three matrix products
  the loss cannot avoid (logits; two in backward) and no more. Gradients are computed in forward
  only when some input requires them.
- ``"recompute"``: forward keeps only the per-row log-normaliser; backward recomputes each block
  of logits and pushes the same gradient through it (one more matrix product per block; no
  gradient is computed for a loss that is never differentiated).

Both are first-order only (no double backward).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from contrastlab.kernels import Kernel
from contrastlab.losses.gram import _GramBlockwise
from contrastlab.losses.options import (
    BLOCK_BYTES,
    COMPILE_MIN,
    EngineOptions,
    Path,
    Strategy,
)

# EngineOptions and its types live in ``options``; they are re-exported here for old imports.
__all__ = [
    "BLOCK_BYTES",
    "COMPILE_MIN",
    "EngineOptions",
    "LogitFn",
    "Path",
    "Strategy",
    "softmax_contrastive_loss",
]

LogitFn = Callable[..., Tensor]


def softmax_contrastive_loss(
    anchors: Tensor,
    candidates: Tensor,
    positive: Tensor,
    exclude: Tensor | None,
    logit_fn: LogitFn,
    params: Sequence[Tensor] = (),
    options: EngineOptions | None = None,
    gram_kernel: Kernel | None = None,
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
        gram_kernel: the kernel behind ``logit_fn``; when it has an elementwise form
            (``kernel.gram_parts`` is not ``None``) and ``params`` is empty, the blockwise path uses
            ``contrastlab.losses.gram`` (matrix products plus the kernel's elementwise map and
            derivative, no autograd graph over the logits). Same value and gradient.

    Returns:
        A scalar tensor.
    """
    opts = options or EngineOptions()
    if opts.path == "dense":
        return _dense(anchors, candidates, positive, exclude, logit_fn, params)
    parts = None if gram_kernel is None or params else gram_kernel.gram_parts(anchors.shape[1])
    if parts is not None:
        return _GramBlockwise.apply(anchors, candidates, positive, exclude, parts, opts)
    return _Blockwise.apply(anchors, candidates, positive, exclude, logit_fn, opts, *params)


def _exclusion_mask(exclude: Tensor, start: int, stop: int, m: int, device: torch.device) -> Tensor:
    columns = torch.arange(m, device=device)
    return columns.unsqueeze(0) == exclude[start:stop].unsqueeze(1)


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
        mask = _exclusion_mask(exclude, 0, anchors.shape[0], candidates.shape[0], anchors.device)
        logits = logits.masked_fill(mask, float("-inf"))
    positive_logit = logits.gather(1, positive.unsqueeze(1)).squeeze(1)
    return (torch.logsumexp(logits, dim=1) - positive_logit).mean()


def _block_terms(
    logits: Tensor, positive: Tensor, mask: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    """Masked logits (a new tensor), their row log-normaliser and the positive logits."""
    masked = logits.masked_fill(mask, float("-inf")) if mask is not None else logits.clone()
    lse = torch.logsumexp(masked, dim=1)
    positive_logit = masked.gather(1, positive.unsqueeze(1)).squeeze(1)
    return masked, lse, positive_logit


def _logit_gradient(masked: Tensor, lse: Tensor, positive: Tensor, scale: float) -> Tensor:
    """``(softmax(masked) - onehot(positive)) * scale``, computed in place on ``masked``."""
    grad = masked.sub_(lse.unsqueeze(1)).exp_()
    grad.scatter_add_(1, positive.unsqueeze(1), torch.full_like(lse, -1.0).unsqueeze(1))
    return grad.mul_(scale)


class _Blockwise(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        anchors: Tensor,
        candidates: Tensor,
        positive: Tensor,
        exclude: Tensor | None,
        logit_fn: LogitFn,
        opts: EngineOptions,
        *params: Tensor,
    ) -> Tensor:
        n, m = anchors.shape[0], candidates.shape[0]
        rows = opts.rows_per_block(n, m)
        needs = ctx.needs_input_grad
        want_grad = needs[0] or needs[1] or any(needs[6:])
        fused = want_grad and opts.backward == "fused"
        total = anchors.new_zeros((), dtype=torch.float64)
        lse_all = anchors.new_empty(n)
        if fused:
            grad_a = torch.zeros_like(anchors)
            grad_c = torch.zeros_like(candidates)
            grad_p = [torch.zeros_like(p) for p in params]
            c_leaf = candidates.detach().requires_grad_(True)
            p_leaves = [p.detach().requires_grad_(True) for p in params]
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            mask = (
                None
                if exclude is None
                else _exclusion_mask(exclude, start, stop, m, anchors.device)
            )
            pos = positive[start:stop]
            if fused:
                with torch.enable_grad():
                    a_leaf = anchors[start:stop].detach().requires_grad_(True)
                    logits = logit_fn(a_leaf, c_leaf, *p_leaves)
                masked, lse, pos_logit = _block_terms(logits.detach(), pos, mask)
                grad_logits = _logit_gradient(masked, lse, pos, 1.0 / n)
                grads = torch.autograd.grad(logits, [a_leaf, c_leaf, *p_leaves], grad_logits)
                grad_a[start:stop] = grads[0]
                grad_c += grads[1]
                for acc, g in zip(grad_p, grads[2:]):
                    acc += g
            else:
                logits = logit_fn(anchors[start:stop], candidates, *params)
                _, lse, pos_logit = _block_terms(logits, pos, mask)
            lse_all[start:stop] = lse
            total += (lse - pos_logit).sum(dtype=torch.float64)
        if fused:
            ctx.save_for_backward(grad_a, grad_c, *grad_p)
        else:
            ctx.save_for_backward(anchors, candidates, positive, lse_all, *params)
            ctx.exclude = exclude
        ctx.fused = fused
        ctx.logit_fn = logit_fn
        ctx.opts = opts
        return (total / n).to(anchors.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        if ctx.fused:
            grad_a, grad_c, *grad_p = ctx.saved_tensors
            scaled = [g * grad_output for g in (grad_a, grad_c, *grad_p)]
            return (scaled[0], scaled[1], None, None, None, None, *scaled[2:])
        anchors, candidates, positive, lse_all, *params = ctx.saved_tensors
        n, m = anchors.shape[0], candidates.shape[0]
        rows = ctx.opts.rows_per_block(n, m)
        grad_a = torch.zeros_like(anchors)
        grad_c = torch.zeros_like(candidates)
        grad_p = [torch.zeros_like(p) for p in params]
        c_leaf = candidates.detach().requires_grad_(True)
        p_leaves = [p.detach().requires_grad_(True) for p in params]
        scale = 1.0 / n
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            pos = positive[start:stop]
            with torch.enable_grad():
                a_leaf = anchors[start:stop].detach().requires_grad_(True)
                logits = ctx.logit_fn(a_leaf, c_leaf, *p_leaves)
            masked = logits.detach()
            if ctx.exclude is not None:
                mask = _exclusion_mask(ctx.exclude, start, stop, m, anchors.device)
                masked = masked.masked_fill(mask, float("-inf"))
            else:
                masked = masked.clone()
            grad_logits = _logit_gradient(masked, lse_all[start:stop], pos, scale)
            grads = torch.autograd.grad(logits, [a_leaf, c_leaf, *p_leaves], grad_logits)
            grad_a[start:stop] = grads[0]
            grad_c += grads[1]
            for acc, g in zip(grad_p, grads[2:]):
                acc += g
        scaled = [g * grad_output for g in (grad_a, grad_c, *grad_p)]
        return (scaled[0], scaled[1], None, None, None, None, *scaled[2:])
