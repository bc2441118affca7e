"""CLIP's symmetric loss for two modalities, with any kernel.

Pair i is ``(a_i, b_i)``; candidates include the positive, as in CLIP:

    L = 1/2 * [ mean_i(-l(a_i, b_i) + logsumexp_j l(a_i, b_j))
              + mean_j(-l(b_j, a_j) + logsumexp_i l(b_j, a_i)) ]

With ``learnable_temperature=True`` the logits are multiplied by ``exp(logit_scale)``, a learned
scalar initialised at 0, so the kernel's own temperature is the starting point. As in CLIP, the
total logit scale is capped at 100: for a kernel with a temperature ``t`` (``Cosine``,
``InnerProduct``, ``Gaussian``, ``Laplacian``, ``Exponential``) the total scale is
``exp(logit_scale) / t``, so ``logit_scale`` is clamped to at most ``log(100 t)``; for kernels
without one (``StudentT``, ``Cauchy``, ``KernelSum``, ``Concat``) the multiplier itself is capped
at 100. With ``Cosine(t=0.07)`` this is exactly CLIP: ``1 / 0.07 = 14.3`` at the start, at most
100. Above the cap the clamp passes no gradient to ``logit_scale``; a kernel with ``t < 0.01``
already exceeds the cap, so its total scale stays at 100 and ``logit_scale`` is not learned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from contrastlab.kernels import LogKernel
from contrastlab.losses.checks import check_pair, compute_dtype
from contrastlab.losses.distributed import gather_with_grad, world
from contrastlab.losses.engine import softmax_contrastive_loss
from contrastlab.losses.infonce import (
    check_normalize,
    full_precision,
    normalise,
    resolve_kernel,
)
from contrastlab.losses.options import EngineOptions, Path, Strategy
from contrastlab.losses.terms import sum_over_terms

#: CLIP's cap on the total logit scale (the multiplier times the kernel's own ``1 / t``).
MAX_LOGIT_SCALE = 100.0


def _max_log_multiplier(kernel: LogKernel) -> float:
    """``log(100 t)`` for a kernel with a temperature ``t``, ``log(100)`` otherwise."""
    t = getattr(kernel, "t", None)
    own_scale = 1.0 / float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else 1.0
    return math.log(MAX_LOGIT_SCALE / own_scale)


class KernelCLIPLoss(nn.Module):
    """Symmetric two-modality InfoNCE (CLIP) with a kernel of ``contrastlab.kernels``.

    Args:
        kernel: a ``Kernel`` (or any ``kernels.LogKernel``) or name; default ``Cosine(t=0.2)``.
        learnable_temperature: learn CLIP's ``logit_scale`` (see module docstring).
        normalize, block_size, gather_distributed, path, backward: as ``KernelInfoNCE``.
    """

    def __init__(
        self,
        kernel: LogKernel | str | None = None,
        learnable_temperature: bool = False,
        normalize: bool | None = None,
        block_size: int | None = None,
        gather_distributed: bool | None = None,
        path: Path = "auto",
        backward: Strategy = "fused",
    ) -> None:
        super().__init__()
        self.kernel = resolve_kernel(kernel)
        self.normalize = check_normalize(self.kernel, normalize)
        self.options = EngineOptions(path=path, block_size=block_size, backward=backward)
        self.gather_distributed = gather_distributed
        self.logit_scale = nn.Parameter(torch.zeros(())) if learnable_temperature else None

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        check_pair(a, b, ("a", "b"))
        rank, world_size = world()
        gather = world_size > 1 if self.gather_distributed is None else self.gather_distributed
        gather = gather and world_size > 1
        with full_precision(a.device):
            dtype = compute_dtype(a)
            a = normalise(self.kernel, a.to(dtype), self.normalize)
            b = normalise(self.kernel, b.to(dtype), self.normalize)
            a_all = gather_with_grad(a) if gather else a
            b_all = gather_with_grad(b) if gather else b
            offset = rank * a.shape[0] if gather else 0
            positive = torch.arange(a.shape[0], device=a.device) + offset
            params: tuple[Tensor, ...] = ()
            if self.logit_scale is not None:
                cap = _max_log_multiplier(self.kernel)
                params = (self.logit_scale.clamp(max=cap).exp().to(dtype),)

            def one_kernel(kernel: LogKernel, tensors: Sequence[Tensor]) -> Tensor:
                a_part, b_part, a_all_part, b_all_part = tensors
                return self._symmetric(
                    kernel, a_part, b_part, a_all_part, b_all_part, positive, params
                )

            # Concat(mode="loss"): sum_m w_m * CLIP(k_m on slice m), after its normalisation
            return sum_over_terms(self.kernel, [a, b, a_all, b_all], one_kernel)

    def _symmetric(
        self,
        kernel: LogKernel,
        a: Tensor,
        b: Tensor,
        a_all: Tensor,
        b_all: Tensor,
        positive: Tensor,
        params: tuple[Tensor, ...],
    ) -> Tensor:
        """``(L(a -> b) + L(b -> a)) / 2`` for one kernel; local anchors, gathered candidates."""

        def logits(x: Tensor, y: Tensor, *scale: Tensor) -> Tensor:
            values = kernel.logits(x, y)
            return values * scale[0] if scale else values

        gram = None if params else kernel
        a_to_b = softmax_contrastive_loss(
            a, b_all, positive, None, logits, params, self.options, gram
        )
        b_to_a = softmax_contrastive_loss(
            b, a_all, positive, None, logits, params, self.options, gram
        )
        return 0.5 * (a_to_b + b_to_a)
