"""Small trainers for the theory experiments: free embeddings and linear encoders.

- :func:`train_free_embedding`: optimise a free matrix ``Z`` (n x d), one row per object, under
  the full-batch InfoNCE with soft targets ``P`` (``losses.soft_target_infonce``), any kernel.
- :func:`train_free_clip`: two free matrices ``Z_a, Z_b`` under the CLIP loss
  (``losses.KernelCLIPLoss``) on pairs sampled from a bipartite graph.
- :func:`train_linear_infonce`: a linear encoder ``z = A x`` (``A``: r x D, no bias) under
  ``losses.KernelInfoNCE`` on mini-batches of positive pairs.
- :func:`train_linear_clip`: two linear encoders under ``losses.KernelCLIPLoss``.

All use :func:`fit_adam` (Adam with a fixed learning rate) and a seeded ``torch.Generator`` for
the initialisation, so a run is reproducible from its settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from numpy.typing import NDArray
from torch import Tensor

from contrastlab import kernels as kernels_module
from contrastlab import losses
from contrastlab.errors import InputError

__all__ = [
    "FreeClipResult",
    "FreeEmbeddingResult",
    "LinearEncoderResult",
    "fit_adam",
    "train_free_clip",
    "train_free_embedding",
    "train_linear_clip",
    "train_linear_infonce",
]

Array = NDArray[np.float64]
PairSampler = Callable[[int, np.random.Generator], tuple[Array, Array]]
StepCallback = Callable[[int, Tensor, float], None]
LossOfStep = Callable[[int], Tensor]


def _kernel(kernel: kernels_module.Kernel | str) -> kernels_module.Kernel:
    return kernels_module.from_name(kernel) if isinstance(kernel, str) else kernel


def _check_steps(steps: int, lr: float) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"steps: must be an integer >= 1, got {steps!r}")
    if not lr > 0:
        raise InputError(f"lr: must be > 0, got {lr!r}")


def fit_adam(
    params: Iterable[Tensor] | Iterable[dict[str, Any]],
    loss_fn: LossOfStep,
    steps: int,
    lr: float,
) -> list[float]:
    """Minimise ``loss_fn`` with ``steps`` Adam steps at the fixed learning rate ``lr``.

    Step ``s`` (0-based) evaluates ``loss = loss_fn(s)`` (which may draw a fresh batch), then
    ``theta <- Adam(theta, grad loss)``.

    Returns:
        The loss of every step, before that step's update.

    Raises:
        InputError: ``steps`` not an integer >= 1, or ``lr`` not > 0.
    """
    _check_steps(steps, lr)
    optimiser = torch.optim.Adam(params, lr=lr)
    history: list[float] = []
    for step in range(steps):
        loss = loss_fn(step)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        history.append(float(loss.detach()))
    return history


@dataclass
class FreeEmbeddingResult:
    """Result of :func:`train_free_embedding`.

    Attributes:
        embedding: final ``Z`` as it enters the loss (after the kernel's normalisation), (n, d).
        losses: full-batch loss ``H`` at every step (before the update of that step).
    """

    embedding: Array
    losses: list[float] = field(default_factory=list)


def train_free_embedding(
    targets: Array | sp.spmatrix,
    kernel: kernels_module.Kernel | str,
    dim: int,
    steps: int = 500,
    lr: float = 0.05,
    seed: int = 0,
    log_every: int = 50,
    on_log: StepCallback | None = None,
    dtype: torch.dtype = torch.float64,
) -> FreeEmbeddingResult:
    """Minimise ``H(Z) = sum_i [ -sum_j P_ij l_ij + log sum_{j != i} exp(l_ij) ]`` over free ``Z``.

    ``Z`` is a free parameter (seeded standard normal start) and enters the loss as
    ``kernel.prepare(Z)``: L2-normalised rows for sphere kernels, as it is for Student-t. The
    loss is ``losses.soft_target_infonce`` (full batch, exact).

    Args:
        targets: ``P`` (n x n), row-stochastic with zero diagonal.
        kernel: a kernel or a name for ``kernels.from_name``.
        dim: embedding dimension ``d``.
        steps: Adam steps.
        lr: Adam learning rate.
        seed: seeds the start.
        log_every: call ``on_log(step, Z, H)`` every this many steps and after the last one.
        on_log: callback receiving the step, the prepared embedding and its loss.
        dtype: float64 by default, so identities can be checked to rounding level.
    """
    _check_steps(steps, lr)
    kern = _kernel(kernel)
    dense = sp.csr_matrix(targets).toarray() if sp.issparse(targets) else np.asarray(targets)
    P = torch.as_tensor(dense, dtype=dtype)
    n = P.shape[0]
    if P.shape != (n, n):
        raise InputError(f"targets: expected a square matrix, got shape {tuple(P.shape)}")
    gen = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, dim, generator=gen, dtype=dtype).requires_grad_(True)

    def loss_at(step: int) -> Tensor:
        prepared = kern.prepare(Z)
        loss = losses.soft_target_infonce(prepared, P, kern)
        if on_log is not None and (step % log_every == 0 or step == steps):
            on_log(step, prepared.detach(), float(loss.detach()))
        return loss

    history = fit_adam([Z], loss_at, steps, lr)
    with torch.no_grad():
        history.append(float(loss_at(steps)))  # the loss after the last update
        final = kern.prepare(Z).cpu().numpy()
    return FreeEmbeddingResult(embedding=final, losses=history)


@dataclass
class FreeClipResult:
    """Result of :func:`train_free_clip`: prepared embeddings of both modalities and the losses."""

    embedding_a: Array
    embedding_b: Array
    losses: list[float] = field(default_factory=list)


def train_free_clip(
    biadjacency: Array | sp.spmatrix,
    kernel: kernels_module.Kernel | str,
    dim: int,
    steps: int = 500,
    batch_size: int = 512,
    lr: float = 0.05,
    seed: int = 0,
) -> FreeClipResult:
    """CLIP on a bipartite graph with free embeddings ``Z_a`` (n_a x d), ``Z_b`` (n_b x d).

    Each step samples ``batch_size`` edges ``(i, j)`` with probability proportional to
    ``B_ij`` and applies ``losses.KernelCLIPLoss(kernel)`` to the pairs ``(Z_a[i], Z_b[j])``.
    """
    _check_steps(steps, lr)
    kern = _kernel(kernel)
    biadj = sp.coo_matrix(biadjacency, dtype=np.float64)
    if biadj.nnz == 0:
        raise InputError("biadjacency: the graph has no edges")
    prob = biadj.data / biadj.data.sum()
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    Za = torch.randn(biadj.shape[0], dim, generator=gen).requires_grad_(True)
    Zb = torch.randn(biadj.shape[1], dim, generator=gen).requires_grad_(True)
    loss_fn = losses.KernelCLIPLoss(kernel=kern)

    def loss_at(step: int) -> Tensor:
        edges = rng.choice(biadj.nnz, size=batch_size, p=prob)
        rows = torch.as_tensor(biadj.row[edges], dtype=torch.long)
        cols = torch.as_tensor(biadj.col[edges], dtype=torch.long)
        return loss_fn(Za[rows], Zb[cols])

    history = fit_adam([Za, Zb], loss_at, steps, lr)
    with torch.no_grad():
        return FreeClipResult(kern.prepare(Za).numpy(), kern.prepare(Zb).numpy(), history)


@dataclass
class LinearEncoderResult:
    """Result of a linear-encoder trainer.

    Attributes:
        weights: the encoder matrices ``A`` (r x D), one per modality.
        losses: mini-batch loss at every step.
    """

    weights: list[Array]
    losses: list[float] = field(default_factory=list)


def _encoder(rows: int, cols: int, gen: torch.Generator) -> Tensor:
    return (torch.randn(rows, cols, generator=gen) / cols**0.5).requires_grad_(True)


def _fit(
    params: list[Tensor],
    loss_of_batch: Callable[[Tensor, Tensor], Tensor],
    sampler: PairSampler,
    steps: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
) -> list[float]:
    """:func:`fit_adam` on a fresh batch of positive pairs from ``sampler`` at every step."""

    def loss_at(step: int) -> Tensor:
        x1, x2 = sampler(batch_size, rng)
        return loss_of_batch(
            torch.as_tensor(x1, dtype=torch.float32), torch.as_tensor(x2, dtype=torch.float32)
        )

    return fit_adam(params, loss_at, steps, lr)


def train_linear_infonce(
    sampler: PairSampler,
    dim_in: int,
    rank: int,
    kernel: kernels_module.Kernel | str = "cosine",
    normalize: bool | None = None,
    steps: int = 400,
    batch_size: int = 256,
    lr: float = 0.01,
    seed: int = 0,
) -> LinearEncoderResult:
    """Train ``z = A x`` (``A``: rank x dim_in, no bias) with ``losses.KernelInfoNCE``.

    Args:
        sampler: ``sampler(batch_size, rng) -> (x1, x2)``, the two views of each positive pair.
        dim_in: input dimension ``D``.
        rank: output dimension ``r``.
        kernel: similarity (default cosine); ``normalize=False`` with ``Cosine`` gives the
            unnormalised inner product ``<A x, A x'> / t``.
        normalize: passed to ``KernelInfoNCE`` (None: the kernel's default).
        steps, batch_size, lr: Adam on fresh mini-batches from ``sampler``.
        seed: seeds the initialisation (``N(0, 1/D)`` entries) and the sampler's generator.
    """
    _check_steps(steps, lr)
    gen = torch.Generator().manual_seed(seed)
    A = _encoder(rank, dim_in, gen)
    loss_fn = losses.KernelInfoNCE(kernel=_kernel(kernel), normalize=normalize)
    history = _fit(
        [A],
        lambda x1, x2: loss_fn(x1 @ A.T, x2 @ A.T),
        sampler,
        steps,
        batch_size,
        lr,
        np.random.default_rng(seed),
    )
    return LinearEncoderResult([A.detach().numpy().astype(np.float64)], history)


def train_linear_clip(
    sampler: PairSampler,
    dim_a: int,
    dim_b: int,
    rank: int,
    kernel: kernels_module.Kernel | str = "cosine",
    steps: int = 400,
    batch_size: int = 256,
    lr: float = 0.01,
    seed: int = 0,
    **loss_options: Any,
) -> LinearEncoderResult:
    """Train linear encoders ``z_a = A_a x_a``, ``z_b = A_b x_b`` with ``losses.KernelCLIPLoss``.

    ``sampler(batch_size, rng) -> (x_a, x_b)`` gives cross-modal pairs; other arguments as
    :func:`train_linear_infonce`.
    """
    _check_steps(steps, lr)
    gen = torch.Generator().manual_seed(seed)
    A_a, A_b = _encoder(rank, dim_a, gen), _encoder(rank, dim_b, gen)
    loss_fn = losses.KernelCLIPLoss(kernel=_kernel(kernel), **loss_options)
    history = _fit(
        [A_a, A_b],
        lambda xa, xb: loss_fn(xa @ A_a.T, xb @ A_b.T),
        sampler,
        steps,
        batch_size,
        lr,
        np.random.default_rng(seed),
    )
    weights = [A.detach().numpy().astype(np.float64) for A in (A_a, A_b)]
    return LinearEncoderResult(weights, history)
