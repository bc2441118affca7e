"""InfoNCE against a queue of earlier keys (MoCo), with any kernel.

Queries ``q`` (B x d) come from the trained encoder, keys ``k`` (B x d) from the momentum
encoder, and the queue ``Q`` (K x d) holds keys of earlier batches. Row i's candidates are its
own key (the positive) and the K queued keys; the other keys of the batch are NOT candidates:

    L = (1 / B) * sum_i [ -l(q_i, k_i) + logsumexp( l(q_i, k_i), l(q_i, Q_1), ..., l(q_i, Q_K) ) ]

with ``l = log K`` the kernel's logit, after the kernel's normalisation of q, k and Q alike
(L2 for sphere kernels, none for Student-t and Cauchy). The gradient flows to ``q`` only: keys
and queue are constants, as in MoCo (their encoder follows by EMA, not by gradient). With
``Cosine(t)`` this is MoCo's loss at temperature t.

Symmetric option (MoCo v2+/v3 style, both views as queries): ``q = [q1; q2]`` and
``k = [k1; k2]`` (2B rows each, views stacked); view 1's queries are paired with view 2's keys
and the other way round, i.e. the loss above on ``q`` and ``[k2; k1]``, which is
``(L(q1, k2, Q) + L(q2, k1, Q)) / 2``.

Blockwise path (the default): the queue is streamed in chunks of ``c`` rows
(``EngineOptions.rows_per_block`` with the roles of rows and columns swapped, so a chunk's
``B x c`` float32 logits take about ``block_bytes(device)``) through a custom
``torch.autograd.Function`` (``StreamedLogsumexp``) that keeps only the per-row
``lse_i = logsumexp_j l(q_i, Q_j)`` and, with ``backward="fused"``, the ``B x d`` gradient of it;
``backward="recompute"`` recomputes each chunk in backward and pushes

    d lse_i / d l(q_i, Q_j) = exp(l(q_i, Q_j) - lse_i)

through it. Extra memory is ``O(B c + B d)`` besides the inputs: ``K = 65,536`` with ``B = 256``
never holds a ``B x K`` matrix. A kernel with one elementwise form (``Kernel.gram_parts``) runs a
chunk as the Gram product plus the kernel's map and derivative, its gradient one more product
(as ``losses.gram``); any other kernel is differentiated by autograd chunk by chunk. The
positive enters through ``logaddexp(l(q_i, k_i), lse_i)``. The dense path builds the
``B x (K + 1)`` logits with plain autograd; both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from contrastlab.kernels import LogKernel, diagonal_logits
from contrastlab.losses.checks import check_finite, compute_dtype
from contrastlab.losses.infonce import check_normalize, full_precision, normalise, resolve_kernel
from contrastlab.losses.options import EngineOptions, Path, Strategy
from contrastlab.losses.terms import loss_terms, sum_over_terms

LogitFn = Callable[[Tensor, Tensor], Tensor]
Prepare = Callable[[Tensor], Tensor]


class QueueInfoNCE(nn.Module):
    """MoCo's InfoNCE with a queue of negatives and any kernel; formula in the module docstring.

    Args:
        kernel: a ``Kernel`` (or any ``kernels.LogKernel``) or its name; default ``Cosine(0.2)``.
            ``Concat(mode="loss")`` gives ``sum_m w_m L(k_m on slice m)``, each its own softmax.
        symmetric: both views as queries: ``q = [q1; q2]``, ``k = [k1; k2]`` (see module
            docstring); the row count must then be even.
        normalize: ``None``: the kernel's normalisation; ``True``: L2; ``False``: none (not
            with ``Cosine``). Applied to queries, keys and queue alike.
        block_size: queue rows per chunk of the blockwise path (``None``: from the memory
            budget of ``losses.options``).
        path: ``"auto"`` or ``"blockwise"`` (streamed queue) or ``"dense"``; same numbers.
        backward: ``"fused"`` (gradient accumulated in the forward pass, two matrix products)
            or ``"recompute"`` (forward keeps only the log-normaliser; backward recomputes).

    Example:
        >>> loss_fn = QueueInfoNCE(kernels.StudentT(nu=5, s=0.2))
        >>> loss = loss_fn(q, k, queue)  # q, k: (B, d); queue: (K, d); gradient to q only
    """

    def __init__(
        self,
        kernel: LogKernel | str | None = None,
        symmetric: bool = False,
        normalize: bool | None = None,
        block_size: int | None = None,
        path: Path = "auto",
        backward: Strategy = "fused",
    ) -> None:
        super().__init__()
        if not isinstance(symmetric, bool):
            raise TypeError(f"symmetric must be True or False, got {symmetric!r}")
        self.kernel = resolve_kernel(kernel)
        self.symmetric = symmetric
        self.normalize = check_normalize(self.kernel, normalize)
        self.options = EngineOptions(path=path, block_size=block_size, backward=backward)

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, symmetric={self.symmetric}, options={self.options}"

    def forward(self, q: Tensor, k: Tensor, queue: Tensor) -> Tensor:
        check_queue_inputs(q, k, queue)
        if self.symmetric:
            if q.shape[0] % 2:
                raise ValueError(
                    f"symmetric=True needs q = [q1; q2] with an even row count, got {q.shape[0]}"
                )
            half = q.shape[0] // 2
            k = torch.cat([k[half:], k[:half]])
        return queue_infonce(q, k, queue, self.kernel, self.normalize, self.options)


def check_queue_inputs(q: Tensor, k: Tensor, queue: Tensor) -> None:
    """``q``, ``k`` of one ``(B >= 1, d)`` shape, ``queue`` ``(K >= 0, d)``, one device, finite."""
    for name, t in (("q", q), ("k", k), ("queue", queue)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() != 2:
            raise ValueError(f"{name} must be 2-D (rows, dim), got shape {tuple(t.shape)}")
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")
    if q.shape != k.shape:
        raise ValueError(
            f"q and k must have the same shape, got {tuple(q.shape)} and {tuple(k.shape)}"
        )
    if q.shape[0] < 1 or q.shape[1] < 1:
        raise ValueError(f"q must have at least one row and one column, got {tuple(q.shape)}")
    if queue.shape[1] != q.shape[1]:
        raise ValueError(
            f"queue has dimension {queue.shape[1]} but q and k have {q.shape[1]}: "
            f"queue {tuple(queue.shape)}, q {tuple(q.shape)}"
        )
    for name, t in (("k", k), ("queue", queue)):
        if t.device != q.device:
            raise ValueError(f"q is on {q.device} but {name} on {t.device}")
    for name, t in (("q", q), ("k", k), ("queue", queue)):
        check_finite(name, t)


def queue_infonce(
    q: Tensor,
    k: Tensor,
    queue: Tensor,
    kernel: LogKernel,
    normalize: bool | None = None,
    options: EngineOptions | None = None,
) -> Tensor:
    """The queue loss of the module docstring on checked inputs; ``k[i]`` is ``q[i]``'s key.

    Keys and queue are detached (no gradient reaches them); half-precision inputs and autocast
    regions are computed in float32. The blockwise path normalises the queue chunk by chunk (no
    normalised copy of the whole queue), except for a kernel with loss terms
    (``Concat(mode="loss")``), whose normalisation spans the whole vector before slicing.
    """
    opts = options or EngineOptions()
    with full_precision(q.device):
        dtype = compute_dtype(q)
        queries = normalise(kernel, q.to(dtype), normalize)
        keys = normalise(kernel, k.detach().to(dtype), normalize)
        negatives = queue.detach().to(dtype)
        if loss_terms(kernel, q.shape[1]) is None:

            def prepare(rows: Tensor) -> Tensor:
                return normalise(kernel, rows, normalize)

            return _one_kernel_loss(kernel, queries, keys, negatives, prepare, opts)
        negatives = normalise(kernel, negatives, normalize)

        def one_kernel(part: LogKernel, tensors: Sequence[Tensor]) -> Tensor:
            queries_part, keys_part, negatives_part = tensors
            return _one_kernel_loss(part, queries_part, keys_part, negatives_part, _same, opts)

        return sum_over_terms(kernel, [queries, keys, negatives], one_kernel)


def _same(rows: Tensor) -> Tensor:
    return rows


def _one_kernel_loss(
    kernel: LogKernel,
    queries: Tensor,
    keys: Tensor,
    negatives: Tensor,
    prepare: Prepare,
    opts: EngineOptions,
) -> Tensor:
    """One kernel's loss; ``prepare`` normalises rows of ``negatives`` (keys come prepared)."""
    positive = positive_logits(kernel, queries, keys)
    if opts.path == "dense":
        all_negatives = kernel.logits(queries, prepare(negatives))
        logits = torch.cat([positive.unsqueeze(1), all_negatives], dim=1)
        return (torch.logsumexp(logits, dim=1) - positive).mean()
    chunk = max(1, opts.rows_per_block(negatives.shape[0], queries.shape[0], queries.device))
    gram = _single_gram_kernel(kernel, queries.shape[1])
    stream = _Stream(kernel.logits, prepare, chunk, opts.backward == "fused", gram)
    lse = StreamedLogsumexp.apply(queries, negatives, stream)
    return (torch.logaddexp(positive, lse) - positive).mean()


def positive_logits(kernel: LogKernel, queries: Tensor, keys: Tensor) -> Tensor:
    """``l(q_i, k_i)`` for each row: the kernel's ``pair_logits`` (each pair's distance from
    its difference, exact for a key close to its query), else the diagonal of ``logits``."""
    pair = getattr(kernel, "pair_logits", None)
    if pair is not None:
        return pair(queries, keys)
    return diagonal_logits(kernel.logits, queries, keys)


#: ``vjp(weights) -> sum_j weights_ij * d l_ij / d a_i``, the anchors' gradient of a chunk.
ChunkVJP = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class _Stream:
    """How candidates are streamed: logits, row preparation, chunk rows, strategy.

    ``gram`` is a kernel with a single elementwise form (``Kernel.gram_parts``): its chunks are
    the Gram quantity's matrix product and the kernel's elementwise map and derivative, and the
    gradient one more product, with no autograd graph over the chunk (as ``losses.gram`` does
    for the two-view engine); otherwise ``logit_fn`` is differentiated by autograd.
    """

    logit_fn: LogitFn
    prepare: Prepare
    chunk: int
    fused: bool
    gram: Any = None

    def chunks(self, candidates: Tensor) -> Iterator[Tensor]:
        for start in range(0, candidates.shape[0], self.chunk):
            yield self.prepare(candidates[start : start + self.chunk])

    def evaluate(self, anchors: Tensor, rows: Tensor, with_grad: bool) -> tuple[Tensor, ChunkVJP]:
        """The chunk's logits ``(n, c)`` and their vector-Jacobian product for the anchors."""
        if self.gram is not None:
            return _gram_chunk(self.gram, anchors, rows, with_grad)
        with torch.enable_grad():
            leaf = anchors.detach().requires_grad_(with_grad)
            block = self.logit_fn(leaf, rows)

        def vjp(weights: Tensor) -> Tensor:
            return torch.autograd.grad(block, leaf, weights)[0]

        return block.detach(), vjp


def _gram_chunk(
    kernel: Any, anchors: Tensor, rows: Tensor, with_grad: bool
) -> tuple[Tensor, ChunkVJP]:
    """Logits ``f(x)`` of ``x = a.c`` (inner) or ``|a|^2 + |c|^2 - 2 a.c`` clamped at 0
    (distance), and ``vjp(W) = (W * f'(x)) @ c`` or ``2 (a * rowsum(H) - H @ c)``, ``H = W f'``."""
    distance = kernel.form == "distance"
    x = anchors @ rows.T
    if distance:
        x = x.mul_(-2.0).add_((anchors * anchors).sum(1, keepdim=True))
        x = x.add_((rows * rows).sum(1).unsqueeze(0)).clamp_(min=0.0)
    values = kernel.elementwise(x)
    slope = kernel.derivative(x, values) if with_grad else 1.0

    def vjp(weights: Tensor) -> Tensor:
        scalar = isinstance(slope, float)
        h = weights if scalar else weights.mul_(slope)  # the weights are not needed after
        grad = h @ rows
        if distance:
            grad = (anchors * h.sum(1, keepdim=True)).sub_(grad).mul_(2.0)
        return grad.mul_(slope) if scalar else grad

    return values, vjp


def _single_gram_kernel(kernel: LogKernel, dim: int) -> Any:
    """``kernel`` when it is one elementwise map of all ``dim`` columns with weight 1, else None."""
    gram_parts = getattr(kernel, "gram_parts", None)
    parts = gram_parts(dim) if gram_parts is not None else None
    if not parts or len(parts) != 1:
        return None
    part = parts[0]
    whole = part.columns == slice(0, dim)
    ok = part.weight == 1.0 and whole and part.kernel.form in ("inner", "distance")
    return part.kernel if ok else None


class StreamedLogsumexp(torch.autograd.Function):
    """``lse_i = logsumexp_j l(a_i, c_j)`` over candidates streamed in chunks of rows.

    ``apply(anchors, candidates, stream) -> (n,)``; gradients reach ``anchors`` only (the
    candidates are constants). ``d lse_i / d a_i = sum_j p_ij d l_ij / d a_i`` with
    ``p_ij = exp(l_ij - lse_i)``, by autograd through each chunk's logits. Two strategies, as
    the engine's (``losses.engine``):

    - fused: one pass. Besides the running maximum ``m_i`` and sum ``S_i = sum_j exp(l_ij - m_i)``
      it accumulates ``A_i = sum_j exp(l_ij - m_i) d l_ij / d a_i``, rescaling both by
      ``exp(m_old - m_new)`` when the maximum grows (as tiled attention does); the gradient is
      ``A_i / S_i``. Two ``n x K x d`` products in all, the floor. Only when ``anchors`` needs
      a gradient.
    - recompute: forward keeps only ``lse``; backward recomputes each chunk and pushes
      ``grad_i * p_ij`` through it (three products).

    With no candidates ``lse`` is ``-inf`` and the gradient zero.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, anchors: Tensor, candidates: Tensor, stream: _Stream
    ) -> Tensor:
        fused = stream.fused and bool(ctx.needs_input_grad[0]) and candidates.shape[0] > 0
        top = anchors.new_full((anchors.shape[0],), float("-inf"))
        total = anchors.new_zeros(anchors.shape[0])
        slope = torch.zeros_like(anchors) if fused else None
        for rows in stream.chunks(candidates):
            values, vjp = stream.evaluate(anchors, rows, fused)
            new_top = torch.maximum(top, values.amax(dim=1))
            rescale = (top - new_top).exp_()
            weights = values.sub(new_top.unsqueeze(1)).exp_()
            total = total.mul_(rescale).add_(weights.sum(dim=1))
            if slope is not None:
                slope.mul_(rescale.unsqueeze(1)).add_(vjp(weights))
            top = new_top
        lse = top + total.log()
        if slope is not None:
            ctx.save_for_backward(slope.div_(total.unsqueeze(1)))
        else:
            ctx.save_for_backward(anchors, candidates, lse)
        ctx.fused, ctx.stream = fused, stream
        return lse

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_lse: Tensor) -> tuple[Tensor | None, ...]:
        if ctx.fused:
            (slope,) = ctx.saved_tensors
            return slope * grad_lse.unsqueeze(1), None, None
        anchors, candidates, lse = ctx.saved_tensors
        grad = torch.zeros_like(anchors)
        with full_precision(anchors.device):
            for rows in ctx.stream.chunks(candidates):
                values, vjp = ctx.stream.evaluate(anchors, rows, True)
                weights = values.sub(lse.unsqueeze(1)).exp_().mul_(grad_lse.unsqueeze(1))
                grad += vjp(weights)
        return grad, None, None
