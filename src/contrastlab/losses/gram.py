"""The blockwise engine for kernels that are elementwise maps of one Gram quantity.

For ``form = "inner"`` kernels ``l_ij = f(s_ij)`` with ``s_ij = a_i.c_j``; for
``form = "distance"`` kernels ``l_ij = f(x_ij)`` with ``x_ij = |a_i|^2 + |c_j|^2 - 2 a_i.c_j``
(clamped at 0). With ``G = dL/dl`` (softmax minus one-hot, over n) and ``H = G * f'(x)``:

    inner:     dL/da_i = sum_j H_ij c_j                    dL/dc_j = sum_i H_ij a_i
    distance:  dL/da_i = 2 (a_i sum_j H_ij - sum_j H_ij c_j)
               dL/dc_j = 2 (c_j sum_i H_ij - sum_i H_ij a_i)

so a block costs the three matrix products of the floor plus elementwise passes, and no
autograd graph over the ``(block, m)`` logits is built. Strategies as in ``engine``: ``fused``
computes the gradient in forward when inputs need it, ``recompute`` in backward from the saved
per-row log-normaliser.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

if TYPE_CHECKING:
    from contrastlab.kernels import Kernel
    from contrastlab.losses.engine import EngineOptions


def _softmax_slope(
    kernel: Kernel,
    s: Tensor,
    sq_a: Tensor | None,
    sq_c: Tensor | None,
    positive: Tensor,
    exclude: Tensor | None,
    scale: float,
    want_grad: bool,
    lse_given: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """Everything elementwise of one block, from the inner products ``s`` (overwritten).

    Returns ``(lse, positive logits, H, row sums of H, column sums of H)`` with
    ``H = scale * (softmax - onehot(positive)) * f'(x)``; the last three are ``None`` without
    ``want_grad``, the sums also for inner kernels (which do not need them). With ``lse_given``
    the softmax uses the saved log-normaliser instead of the row maximum and sum. This is the
    part ``torch.compile`` fuses into a few loops (see ``EngineOptions.compile``).
    """
    rows = torch.arange(s.shape[0], device=s.device)
    if kernel.form == "inner":
        x = s
    else:
        assert sq_a is not None and sq_c is not None  # distance kernels always pass squares
        x = s.mul_(-2.0).add_(sq_a.unsqueeze(1)).add_(sq_c.unsqueeze(0)).clamp_(min=0.0)
    logits = kernel.elementwise(x)
    slope = kernel.derivative(x, logits) if want_grad else None
    if exclude is not None:
        logits[rows, exclude] = float("-inf")
    positive_logit = logits[rows, positive]
    if lse_given is None:
        row_max = logits.amax(dim=1, keepdim=True)
        weights = logits.sub_(row_max).exp_()
        row_sum = weights.sum(dim=1, keepdim=True)
        lse = row_max.squeeze(1) + row_sum.squeeze(1).log()
        if not want_grad:
            return lse, positive_logit, None, None, None
        weights.mul_(scale / row_sum)
    else:
        lse = lse_given
        weights = logits.sub_(lse.unsqueeze(1)).exp_().mul_(scale)
    weights[rows, positive] -= scale
    assert slope is not None
    h = weights.mul_(slope)
    if kernel.form == "inner":
        return lse, positive_logit, h, None, None
    return lse, positive_logit, h, h.sum(dim=1), h.sum(dim=0)


_compiled: Any = None
_compile_failed = False


def _elementwise(opts: EngineOptions, size: int) -> Any:
    """The eager or the compiled ``_softmax_slope``, as ``opts.compile`` and ``size`` say."""
    global _compiled
    if _compile_failed or not opts.should_compile(size):
        return _softmax_slope
    if _compiled is None:
        import torch._dynamo.config as dynamo_config

        # One compiled variant per kernel and flag combination (about 3 per kernel): allow many.
        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, 64)
        _compiled = torch.compile(_softmax_slope, dynamic=True)
    return _compiled


def _block(
    kernel: Kernel,
    opts: EngineOptions,
    a: Tensor,
    c: Tensor,
    sq_a: Tensor | None,
    sq_c: Tensor | None,
    positive: Tensor,
    exclude: Tensor | None,
    scale: float,
    want_grad: bool,
    lse_given: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None]:
    """One block of anchor rows: the inner products, then ``_softmax_slope``."""
    global _compile_failed
    s = a @ c.T
    args = (kernel, s, sq_a, sq_c, positive, exclude, scale, want_grad, lse_given)
    function = _elementwise(opts, s.numel())
    if function is _softmax_slope:
        return _softmax_slope(*args)
    try:
        return function(*args)
    except Exception as err:  # no C++ compiler, unsupported platform: fall back, once
        _compile_failed = True
        warnings.warn(f"torch.compile failed, using eager elementwise code: {err}", stacklevel=2)
        return _softmax_slope(kernel, a @ c.T, *args[2:])


def _accumulate(
    kernel: Kernel,
    a: Tensor,
    c: Tensor,
    h: Tensor | None,
    h_rows: Tensor | None,
    h_cols: Tensor | None,
    grad_c: Tensor,
) -> Tensor:
    """Gradient for the block's anchors; adds the candidates' share into ``grad_c``."""
    assert h is not None  # only called when the gradient was asked for
    if kernel.form == "inner":
        grad_c.addmm_(h.T, a)
        return h @ c
    assert h_rows is not None and h_cols is not None  # distance kernels return both sums
    grad_c.addmm_(h.T, a, alpha=-2.0)
    grad_c.add_(c * h_cols.unsqueeze(1), alpha=2.0)
    grad_a = torch.addmm(a * h_rows.unsqueeze(1), h, c, alpha=-1.0)
    return grad_a.mul_(2.0)


def _squares(kernel: Kernel, t: Tensor) -> Tensor | None:
    return (t * t).sum(dim=1) if kernel.form == "distance" else None


class _GramBlockwise(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        anchors: Tensor,
        candidates: Tensor,
        positive: Tensor,
        exclude: Tensor | None,
        kernel: Kernel,
        opts: EngineOptions,
    ) -> Tensor:
        n, m = anchors.shape[0], candidates.shape[0]
        rows = opts.rows_per_block(n, m)
        want_grad = ctx.needs_input_grad[0] or ctx.needs_input_grad[1]
        fused = want_grad and opts.backward == "fused"
        sq_a, sq_c = _squares(kernel, anchors), _squares(kernel, candidates)
        lse_all = anchors.new_empty(n)
        total = anchors.new_zeros((), dtype=torch.float64)
        if fused:
            grad_a = torch.empty_like(anchors)
            grad_c = torch.zeros_like(candidates)
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            a = anchors[start:stop]
            lse, pos_logit, h, h_rows, h_cols = _block(
                kernel,
                opts,
                a,
                candidates,
                None if sq_a is None else sq_a[start:stop],
                sq_c,
                positive[start:stop],
                None if exclude is None else exclude[start:stop],
                1.0 / n,
                fused,
            )
            if fused:
                grad_a[start:stop] = _accumulate(kernel, a, candidates, h, h_rows, h_cols, grad_c)
            lse_all[start:stop] = lse
            total += (lse - pos_logit).sum(dtype=torch.float64)
        ctx.fused = fused
        ctx.kernel = kernel
        ctx.opts = opts
        if fused:
            ctx.save_for_backward(grad_a, grad_c)
        else:
            ctx.save_for_backward(anchors, candidates, positive, lse_all)
            ctx.exclude = exclude
        return (total / n).to(anchors.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        if ctx.fused:
            grad_a, grad_c = ctx.saved_tensors
            return grad_a * grad_output, grad_c * grad_output, None, None, None, None
        anchors, candidates, positive, lse_all = ctx.saved_tensors
        kernel, exclude = ctx.kernel, ctx.exclude
        n, m = anchors.shape[0], candidates.shape[0]
        rows = ctx.opts.rows_per_block(n, m)
        sq_a, sq_c = _squares(kernel, anchors), _squares(kernel, candidates)
        grad_a = torch.empty_like(anchors)
        grad_c = torch.zeros_like(candidates)
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            a = anchors[start:stop]
            _, _, h, h_rows, h_cols = _block(
                kernel,
                ctx.opts,
                a,
                candidates,
                None if sq_a is None else sq_a[start:stop],
                sq_c,
                positive[start:stop],
                None if exclude is None else exclude[start:stop],
                1.0 / n,
                True,
                lse_given=lse_all[start:stop],
            )
            grad_a[start:stop] = _accumulate(kernel, a, candidates, h, h_rows, h_cols, grad_c)
        return grad_a * grad_output, grad_c * grad_output, None, None, None, None
