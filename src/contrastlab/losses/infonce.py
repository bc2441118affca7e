"""Kernel InfoNCE (SimCLR's NT-Xent for any kernel), sums of such losses, and the soft-target form.

With two views ``z1, z2`` (B x d) stacked as ``Z = [z1; z2]`` (2B rows), row i's positive is
``pos(i) = i + B`` for ``i < B`` and ``i - B`` otherwise, and its candidates are all other rows:

    L = (1 / 2B) * sum_i [ -l_{i,pos(i)} + logsumexp_{j != i} l_ij ],   l_ij = log K(z_i, z_j)

The self pair is removed in log space (``-inf``). With ``l_ij = cos(z_i, z_j) / t`` this is
NT-Xent. Under ``torch.distributed`` each rank uses its 2B rows as anchors and all 2BW gathered
rows as candidates (self and positive indices offset by ``rank * 2B``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from contrastlab.kernels import Cosine, LogKernel, from_name
from contrastlab.losses.checks import check_finite, check_pair, compute_dtype
from contrastlab.losses.distributed import gather_with_grad, world
from contrastlab.losses.engine import softmax_contrastive_loss
from contrastlab.losses.options import EngineOptions, Path, Strategy
from contrastlab.losses.terms import sum_over_terms


def resolve_kernel(kernel: LogKernel | str | None) -> LogKernel:
    """A kernel from an instance, a name (``"laplacian"``) or ``None`` (``Cosine(0.2)``).

    An instance is anything with ``logits(a, b)`` and ``prepare(z)`` (``kernels.LogKernel``);
    with ``gram_parts(dim)`` as well (``kernels.GramKernel``) the engine runs its Gram path.
    """
    if kernel is None:
        return Cosine()
    if isinstance(kernel, str):
        return from_name(kernel)
    if not all(callable(getattr(kernel, name, None)) for name in ("logits", "prepare")):
        raise TypeError(
            "kernel must be a contrastlab Kernel, a name, or an object with logits(a, b) and "
            f"prepare(z); got {type(kernel).__name__}"
        )
    return kernel


def check_normalize(kernel: LogKernel, normalize: bool | None) -> bool | None:
    """Validate a loss's ``normalize`` option against its kernel and return it."""
    if normalize not in (None, True, False):
        raise ValueError(f"normalize must be None, True or False, got {normalize!r}")
    if normalize is False and isinstance(kernel, Cosine):
        raise ValueError("normalize=False is not possible with Cosine: cosine normalises")
    return normalize


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Disable autocast so distances, kernels and logsumexp run in float32 (or float64)."""
    with torch.autocast(device_type=device.type, enabled=False):
        yield


def normalise(kernel: LogKernel, z: Tensor, normalize: bool | None) -> Tensor:
    """Apply ``normalize`` (``None``: the kernel's default; ``True``: L2; ``False``: none)."""
    if normalize is None:
        return kernel.prepare(z)
    return F.normalize(z, dim=-1) if normalize else z


def _two_view_indices(rows: int, offset: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Positive and self columns of the 2B local rows inside the gathered candidate matrix."""
    local = torch.arange(rows, device=device)
    half = rows // 2
    positive = (local + half) % rows + offset
    return positive, local + offset


class KernelInfoNCE(nn.Module):
    """InfoNCE with any kernel of ``contrastlab.kernels``; see the module docstring for the formula.

    Args:
        kernel: a ``Kernel`` (or any ``kernels.LogKernel``) or its name; default ``Cosine(t=0.2)``
            (NT-Xent, temperature 0.2).
            A kernel with loss terms, ``Concat(mode="loss")``, gives
            ``sum_m w_m L(k_m on slice m)`` (``losses.terms``).
        normalize: ``None`` uses the kernel's normalisation (L2 for sphere kernels, none for
            Student-t / Cauchy, per slice for ``Concat(normalize="parts")``); ``True`` forces L2
            on the whole vector; ``False`` uses embeddings as given (not allowed for ``Cosine``).
        block_size: anchor rows per block of the blockwise path (``None``: from a memory budget).
        gather_distributed: gather candidates from all ranks; ``None``: when
            ``torch.distributed`` is initialised with world size > 1.
        path: ``"auto"``, ``"dense"`` or ``"blockwise"`` (same numbers, different memory).
        backward: ``"fused"`` (gradient computed while the logits are in hand) or ``"recompute"``.

    Example:
        >>> from contrastlab import kernels, losses
        >>> loss_fn = losses.KernelInfoNCE(kernels.Laplacian(t=0.5))
        >>> z1, z2 = torch.randn(256, 128), torch.randn(256, 128)
        >>> loss = loss_fn(z1, z2)  # scalar
    """

    def __init__(
        self,
        kernel: LogKernel | str | None = None,
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

    def extra_repr(self) -> str:
        return f"kernel={self.kernel}, normalize={self.normalize}, options={self.options}"

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return _summed_infonce(
            [(self.kernel, 1.0)], z1, z2, self.normalize, self.options, self.gather_distributed
        )


class LossSum(nn.Module):
    """A weighted sum of separate kernel InfoNCE losses: ``sum_m lambda_m * L(kernel_m)``.

    Each term has its own softmax. This is what the official Kernel-InfoNCE code computes as its
    "sum" (``lambda * L(Exponential(gamma, t)) + (1 - lambda) * L(Gaussian(t))``); it is not the
    mixture kernel of the paper, which is ``kernels.KernelSum`` inside one softmax.

    Args:
        terms: ``[(kernel or name, lambda_m > 0), ...]``.
        normalize, block_size, gather_distributed, path, backward: as ``KernelInfoNCE``.
    """

    def __init__(
        self,
        terms: Sequence[tuple[LogKernel | str, float]],
        normalize: bool | None = None,
        block_size: int | None = None,
        gather_distributed: bool | None = None,
        path: Path = "auto",
        backward: Strategy = "fused",
    ) -> None:
        super().__init__()
        if not terms:
            raise ValueError("LossSum needs at least one (kernel, weight) term")
        resolved = []
        for item in terms:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise TypeError(f"LossSum terms are (kernel, weight) pairs, got {item!r}")
            kernel, weight = resolve_kernel(item[0]), item[1]
            if not isinstance(weight, (int, float)) or not weight > 0:
                raise ValueError(f"LossSum: weights must be > 0, got {weight!r}")
            check_normalize(kernel, normalize)
            resolved.append((kernel, float(weight)))
        self.terms = resolved
        self.normalize = normalize
        self.options = EngineOptions(path=path, block_size=block_size, backward=backward)
        self.gather_distributed = gather_distributed

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        return _summed_infonce(
            self.terms, z1, z2, self.normalize, self.options, self.gather_distributed
        )


def _summed_infonce(
    terms: Sequence[tuple[LogKernel, float]],
    z1: Tensor,
    z2: Tensor,
    normalize: bool | None,
    options: EngineOptions,
    gather_distributed: bool | None,
) -> Tensor:
    check_pair(z1, z2, ("z1", "z2"))
    rank, world_size = world()
    gather = world_size > 1 if gather_distributed is None else gather_distributed
    if gather and world_size == 1 and gather_distributed:
        gather = False  # asked for, but nothing to gather from
    with full_precision(z1.device):
        z = torch.cat([z1, z2]).to(compute_dtype(z1))
        # Gather the raw rows once; normalisation is row-wise, so doing it after is the same.
        z_all = gather_with_grad(z) if gather else z
        offset = rank * z.shape[0] if gather else 0
        total = z.new_zeros(())
        for kernel, weight in terms:
            total = total + weight * _kernel_loss(
                kernel, z_all, offset, z.shape[0], normalize, options
            )
        return total


def _kernel_loss(
    kernel: LogKernel,
    z_all: Tensor,
    offset: int,
    rows: int,
    normalize: bool | None,
    options: EngineOptions,
) -> Tensor:
    """Loss of one kernel on gathered rows ``z_all``; anchors are ``z_all[offset:offset+rows]``.

    A kernel with loss terms (``Concat(mode="loss")``) gives their weighted sum over its column
    slices (``losses.terms``).
    """
    prepared = normalise(kernel, z_all, normalize)
    positive, self_index = _two_view_indices(rows, offset, z_all.device)

    def one_kernel(k: LogKernel, tensors: Sequence[Tensor]) -> Tensor:
        (candidates,) = tensors
        anchors = candidates[offset : offset + rows]
        return softmax_contrastive_loss(
            anchors, candidates, positive, self_index, k.logits, (), options, gram_kernel=k
        )

    return sum_over_terms(kernel, [prepared], one_kernel)


def soft_target_infonce(z: Tensor, targets: Tensor, kernel: LogKernel | str) -> Tensor:
    """Full-batch InfoNCE with soft positives (the objective of the spectral-clustering view).

        H(Z) = sum_i [ -sum_j P_ij l_ij + log sum_{j != i} exp(l_ij) ],   l_ij = log K(z_i, z_j)

    ``P`` (``targets``) holds how likely j is drawn as i's positive; rows normally sum to 1 with
    a zero diagonal (a diagonal entry is ignored). ``z`` is used as given (no normalisation), so
    the caller decides whether the embeddings live on the sphere. Dense: ``O(n^2)`` memory.

    Returns:
        The sum over rows (not the mean), a scalar tensor.
    """
    k = resolve_kernel(kernel)
    if not isinstance(z, Tensor) or not isinstance(targets, Tensor):
        raise TypeError("z and targets must be torch tensors")
    if z.dim() != 2 or z.shape[0] < 2:
        raise ValueError(f"z must be (n >= 2, d), got shape {tuple(z.shape)}")
    n = z.shape[0]
    if targets.shape != (n, n):
        raise ValueError(
            f"targets must be ({n}, {n}) for z of {n} rows, got {tuple(targets.shape)}"
        )
    check_finite("z", z)
    check_finite("targets", targets)
    if bool((targets < 0).any()):
        raise ValueError("targets must be non-negative")
    with full_precision(z.device):
        z = z.to(compute_dtype(z))
        logits = k.logits(z, z)
        diagonal = torch.eye(n, dtype=torch.bool, device=z.device)
        attraction = (targets.to(z.dtype) * logits.masked_fill(diagonal, 0.0)).sum()
        repulsion = torch.logsumexp(logits.masked_fill(diagonal, float("-inf")), dim=1).sum()
        return repulsion - attraction
