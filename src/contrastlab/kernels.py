"""Log-kernels of the kernel InfoNCE family: the math of each kernel and nothing else.

A kernel ``K(x, y) > 0`` enters a contrastive loss only through its logarithm, the logit
``l(x, y) = log K(x, y)``; ``Kernel.logits(a, b)`` returns the matrix ``l(a_i, b_j)``. Each kernel
also says how embeddings are normalised before it is applied (``Kernel.prepare``): sphere kernels
L2-normalise, the Student-t family does not (t-SimCLR ends its projector in a BatchNorm instead).

``d = ||x - y||`` below, computed as ``d^2 = max(|x|^2 + |y|^2 - 2 x.y, 0)``. Kernels that take a
root or power of ``d^2`` add ``EPS = 1e-6`` under it, so gradients stay finite when a positive
pair collapses to one point; the constant shift this adds to the Gaussian case cancels in the
softmax.

| kernel | log K(x, y) | NT-Xent equivalent on the sphere |
|---|---|---|
| ``Cosine(t)`` | ``cos(x, y) / t`` | temperature ``t`` |
| ``InnerProduct(t)`` | ``x.y / t`` (not normalised) | ``Cosine(t)`` on unit vectors |
| ``Gaussian(t)`` | ``-d^2 / t`` | ``Cosine(t / 2)`` |
| ``Laplacian(t)`` | ``-sqrt(d^2 + eps) / t`` | none |
| ``Exponential(gamma, t)`` | ``-(d^2 + eps)^(gamma / 2) / t`` | gamma 2: ``Cosine(t / 2)`` |
| ``StudentT(nu, s)`` | ``-(nu + 1) / 2 * log1p(d^2 / (nu s))`` | none (nu -> inf: Gaussian(2s)) |
| ``Cauchy(s)`` | ``-log1p(d^2 / s)`` | ``StudentT(1, s)`` |
| ``KernelSum(ks, w)`` | ``logsumexp_m(log w_m + log k_m)`` | the paper's "Simple Sum" |
| ``Concat(ks, split)`` | ``k_m`` on slice ``m`` of the embedding | "Concatenation Sum" |
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-6

Normalization = Literal["l2", "none", "parts"]

__all__ = [
    "EPS",
    "Cauchy",
    "Concat",
    "Cosine",
    "Exponential",
    "Gaussian",
    "GramKernel",
    "GramPart",
    "InnerProduct",
    "Kernel",
    "KernelSum",
    "Laplacian",
    "LogKernel",
    "LossTerm",
    "LossTerms",
    "StudentT",
    "from_name",
    "parse_kernel",
    "squared_distances",
]


def _positive(name: str, value: float, kernel: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{kernel}: {name} must be a number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{kernel}: {name} must be a finite number > 0, got {value}")
    return float(value)


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """Matrix of ``||a_i - b_j||^2 = |a_i|^2 + |b_j|^2 - 2 a_i.b_j``, clamped at 0 (rounding)."""
    sq_a = (a * a).sum(dim=1, keepdim=True)
    sq_b = (b * b).sum(dim=1).unsqueeze(0)
    return torch.addmm(sq_b, a, b.T, alpha=-2.0).add_(sq_a).clamp_(min=0.0)


#: Rows per block of :func:`diagonal_logits`.
PAIR_ROWS = 256


def diagonal_logits(logit_fn: Callable[[Tensor, Tensor], Tensor], a: Tensor, b: Tensor) -> Tensor:
    """``logit_fn(a, b).diagonal()`` without the ``n x n`` matrix: the diagonals of
    ``PAIR_ROWS``-row blocks."""
    parts = []
    for start in range(0, a.shape[0], PAIR_ROWS):
        stop = start + PAIR_ROWS
        parts.append(logit_fn(a[start:stop], b[start:stop]).diagonal())
    return torch.cat(parts) if parts else a.new_zeros(0)


def _weighted_logsumexp(parts: Sequence[Tensor], weights: Sequence[float]) -> Tensor:
    """``log sum_m w_m exp(parts_m)``: the log of a mixture of kernels given by their logs."""
    stacked = torch.stack([part + math.log(w) for part, w in zip(parts, weights)])
    return torch.logsumexp(stacked, dim=0)


def _unit(z: Tensor) -> Tensor:
    return F.normalize(z, dim=-1, eps=1e-12)


@dataclass(frozen=True)
class GramPart:
    """One part of a kernel's elementwise form: ``kernel`` on ``columns`` with ``weight``."""

    kernel: Kernel
    weight: float
    columns: slice


class LogKernel(Protocol):
    """What the losses need of a kernel: its logits and its default normalisation.

    Every ``Kernel`` is one; so is any object with these two methods.
    """

    def logits(self, a: Tensor, b: Tensor) -> Tensor:
        """``log K(a_i, b_j)`` for all pairs: ``(n, d), (m, d) -> (n, m)``."""
        ...

    def prepare(self, z: Tensor) -> Tensor:
        """The kernel's default normalisation of embeddings ``z`` of shape ``(n, d)``."""
        ...


class GramKernel(Protocol):
    """A kernel that may have an elementwise form: the loss engine asks ``gram_parts(dim)`` and,
    when it is not ``None``, runs the parts' matrix products and elementwise maps
    (``losses.gram``) instead of autograd through ``logits``."""

    def gram_parts(self, dim: int) -> tuple[GramPart, ...] | None:
        """The parts on embeddings of width ``dim``, or ``None`` without an elementwise form."""
        ...


class LossTerm(NamedTuple):
    """One term ``weight * L(kernel on columns)`` of a sum of losses (``LossTerms``)."""

    kernel: LogKernel
    weight: float
    columns: slice


class LossTerms(Protocol):
    """A kernel that stands for a sum of losses, one per slice of the embedding: the losses
    compute ``sum_m w_m L(k_m on columns m)``, each term its own softmax, on the embeddings as
    they are after this kernel's ``prepare`` (``Concat(mode="loss")``)."""

    def loss_terms(self, dim: int) -> tuple[LossTerm, ...] | None:
        """The terms on embeddings of width ``dim``, or ``None`` for one loss of the kernel."""
        ...


class Kernel:
    """A positive kernel given by its logarithm.

    Subclasses set ``normalization`` (``"l2"``: embeddings are L2-normalised by ``prepare``;
    ``"none"``: used as they are) and implement ``logits``.

    Most kernels are an elementwise function of one Gram quantity: ``form = "inner"`` kernels of
    the inner product ``s = x.y``, ``form = "distance"`` kernels of the squared distance
    ``d^2``. They implement ``elementwise(x)`` (the log-kernel of that quantity) and
    ``derivative(x, logits)`` (its derivative in ``x``); the loss engine then needs only matrix
    products plus these elementwise maps, and no autograd graph over the logit matrix. Kernels
    with ``form = None`` (``Concat``, mixtures of different forms) implement ``logits`` directly.
    """

    normalization: Normalization = "l2"
    form: Literal["inner", "distance"] | None = None
    #: Whether fusing the elementwise work with ``torch.compile`` pays: not for the linear maps
    #: of ``Cosine``, ``InnerProduct`` and ``Gaussian``, whose eager in-place passes are faster.
    fusable: bool = True

    def logits(self, a: Tensor, b: Tensor) -> Tensor:
        """``log K(a_i, b_j)`` for all pairs: ``(n, d), (m, d) -> (n, m)``."""
        if self.form == "inner":
            return self.elementwise(a @ b.T)
        if self.form == "distance":
            return self.elementwise(squared_distances(a, b))
        raise NotImplementedError(f"{type(self).__name__} must implement logits")

    def pair_logits(self, a: Tensor, b: Tensor) -> Tensor:
        """``log K(a_i, b_i)`` row by row: ``(n, d), (n, d) -> (n,)``.

        The Gram quantity of each pair is taken directly, ``a_i.b_i`` or ``||a_i - b_i||^2``
        from the difference: ``|a|^2 + |b|^2 - 2 a.b`` loses every digit when ``a_i`` is close
        to ``b_i`` (a MoCo query and its own key), and with it the gradient of kernels such as
        the Laplacian, ``(a - b) / ||a - b||``. Kernels without an elementwise form use the
        diagonal of ``logits`` (in blocks of :data:`PAIR_ROWS` rows)."""
        if self.form == "inner":
            return self.elementwise((a * b).sum(dim=1))
        if self.form == "distance":
            return self.elementwise((a - b).pow(2).sum(dim=1))
        return diagonal_logits(self.logits, a, b)

    def elementwise(self, x: Tensor) -> Tensor:
        """The log-kernel as a function of the Gram quantity ``x`` (autograd-safe, out of place)."""
        raise NotImplementedError(f"{type(self).__name__} has no elementwise form")

    def derivative(self, x: Tensor, logits: Tensor) -> Tensor | float:
        """``d elementwise(x) / dx``, given ``x`` and ``logits = elementwise(x)``."""
        raise NotImplementedError(f"{type(self).__name__} has no elementwise form")

    def gram_parts(self, dim: int) -> tuple[GramPart, ...] | None:
        """The kernel as parts with an elementwise form (see ``losses.gram``), or ``None``."""
        if self.form is None:
            return None
        return (GramPart(self, 1.0, slice(0, dim)),)

    def prepare(self, z: Tensor) -> Tensor:
        """Apply the kernel's default normalisation to embeddings ``z`` of shape ``(n, d)``."""
        return _unit(z) if self.normalization == "l2" else z

    def __call__(self, a: Tensor, b: Tensor) -> Tensor:
        return self.logits(a, b)


@dataclass(frozen=True)
class Cosine(Kernel):
    """SimCLR / NT-Xent: ``log K(x, y) = cos(x, y) / t``.

    Args:
        t: temperature > 0; this is exactly NT-Xent's temperature. Inputs are always
            L2-normalised (by ``prepare``), so ``logits`` of prepared rows is ``a @ b.T / t``.
    """

    t: float = 0.2
    normalization: Normalization = field(default="l2", init=False, repr=False)

    def __post_init__(self) -> None:
        _positive("t", self.t, "Cosine")

    form = "inner"
    fusable = False

    def elementwise(self, x: Tensor) -> Tensor:
        return x / self.t

    def derivative(self, x: Tensor, logits: Tensor) -> float:
        return 1.0 / self.t


@dataclass(frozen=True)
class InnerProduct(Kernel):
    """Unnormalised inner product: ``log K(x, y) = x.y / t``, embeddings used as they are.

    The "inner-product similarity" option of the Gaussian-mixture analysis; on unit vectors it
    equals ``Cosine(t)``.

    Args:
        t: temperature > 0.
    """

    t: float = 0.2
    normalization: Normalization = "none"
    form = "inner"
    fusable = False

    def __post_init__(self) -> None:
        _positive("t", self.t, "InnerProduct")

    def elementwise(self, x: Tensor) -> Tensor:
        return x / self.t

    def derivative(self, x: Tensor, logits: Tensor) -> float:
        return 1.0 / self.t


@dataclass(frozen=True)
class Gaussian(Kernel):
    """Gaussian kernel in Kernel-InfoNCE's convention: ``log K(x, y) = -||x - y||^2 / t``.

    Args:
        t: temperature > 0. On the unit sphere ``||x - y||^2 = 2 - 2 cos(x, y)``, so
            ``Gaussian(t)`` gives exactly the loss of ``Cosine(t / 2)`` (NT-Xent temperature t/2).
    """

    t: float = 0.4
    normalization: Normalization = "l2"

    def __post_init__(self) -> None:
        _positive("t", self.t, "Gaussian")

    form = "distance"
    fusable = False

    def elementwise(self, x: Tensor) -> Tensor:
        return x / -self.t

    def derivative(self, x: Tensor, logits: Tensor) -> float:
        return -1.0 / self.t


@dataclass(frozen=True)
class Laplacian(Kernel):
    """Laplacian kernel: ``log K(x, y) = -sqrt(||x - y||^2 + eps) / t`` with ``eps = 1e-6``.

    Args:
        t: temperature > 0 (distance scale; no NT-Xent equivalent).
    """

    t: float = 0.5
    normalization: Normalization = "l2"

    def __post_init__(self) -> None:
        _positive("t", self.t, "Laplacian")

    form = "distance"

    def elementwise(self, x: Tensor) -> Tensor:
        return torch.sqrt(x + EPS).mul(-1.0 / self.t)  # sqrt backward needs its output

    def derivative(self, x: Tensor, logits: Tensor) -> Tensor:
        # d/dx of -sqrt(x + eps) / t = -1 / (2 t sqrt(x + eps)) = 1 / (2 t^2 logits)
        return logits.reciprocal().mul_(0.5 / self.t**2)


@dataclass(frozen=True)
class Exponential(Kernel):
    """Exponential-power kernel: ``log K(x, y) = -(||x - y||^2 + eps)^(gamma / 2) / t``.

    ``gamma = 2`` is the Gaussian kernel, ``gamma = 1`` the Laplacian; Kernel-InfoNCE also
    reports ``gamma = 0.5``.

    Args:
        gamma: exponent, 0 < gamma <= 2 (the kernel is positive definite only in that range).
        t: temperature > 0.
    """

    gamma: float = 0.5
    t: float = 0.5
    normalization: Normalization = "l2"

    def __post_init__(self) -> None:
        if not isinstance(self.gamma, (int, float)) or not 0 < self.gamma <= 2:
            raise ValueError(f"Exponential: gamma must be in (0, 2], got {self.gamma}")
        _positive("t", self.t, "Exponential")

    form = "distance"

    def elementwise(self, x: Tensor) -> Tensor:
        return torch.pow(x + EPS, self.gamma / 2).mul(-1.0 / self.t)

    def derivative(self, x: Tensor, logits: Tensor) -> Tensor:
        # d/dx of -(x + eps)^(g/2) / t = (g / 2) * logits / (x + eps)
        return logits / (x + EPS) * (self.gamma / 2)


@dataclass(frozen=True)
class StudentT(Kernel):
    """Student-t kernel of t-SimCLR: ``log K(x, y) = -(nu + 1) / 2 * log1p(||x - y||^2 / (nu s))``.

    ``nu = 1`` is the Cauchy kernel ``1 / (1 + d^2 / s)``; as ``nu -> inf`` the kernel tends to
    ``exp(-d^2 / (2 s))``, i.e. ``Gaussian(2 s)``. Embeddings are not normalised: t-SimCLR's
    projector ends in ``BatchNorm1d(affine=False)`` instead.

    Args:
        nu: degrees of freedom > 0 (default 5).
        s: squared-distance scale > 0 (default 0.2).
    """

    nu: float = 5.0
    s: float = 0.2
    normalization: Normalization = "none"

    def __post_init__(self) -> None:
        _positive("nu", self.nu, "StudentT")
        _positive("s", self.s, "StudentT")

    form = "distance"

    def elementwise(self, x: Tensor) -> Tensor:
        return torch.log1p(x / (self.nu * self.s)).mul_(-(self.nu + 1) / 2)

    def derivative(self, x: Tensor, logits: Tensor) -> Tensor:
        return (x + self.nu * self.s).reciprocal_().mul_(-(self.nu + 1) / 2)


@dataclass(frozen=True)
class Cauchy(Kernel):
    """Cauchy kernel (t-SNE's): ``log K(x, y) = -log1p(||x - y||^2 / s)``, i.e. ``StudentT(1, s)``.

    Args:
        s: squared-distance scale > 0 (default 1, as t-SimCNE).
    """

    s: float = 1.0
    normalization: Normalization = "none"

    def __post_init__(self) -> None:
        _positive("s", self.s, "Cauchy")

    form = "distance"

    def elementwise(self, x: Tensor) -> Tensor:
        return torch.log1p(x / self.s).neg_()

    def derivative(self, x: Tensor, logits: Tensor) -> Tensor:
        return (x + self.s).reciprocal_().neg_()


def _check_parts(kernels: Sequence[Kernel], owner: str) -> tuple[Kernel, ...]:
    parts = tuple(kernels)
    if not parts:
        raise ValueError(f"{owner}: needs at least one kernel")
    for k in parts:
        if not isinstance(k, Kernel):
            raise TypeError(f"{owner}: parts must be kernels, got {type(k).__name__}")
    return parts


def _check_weights(
    weights: Sequence[float] | None, count: int, default: float, owner: str
) -> tuple[float, ...]:
    if weights is None:
        return (default,) * count
    values = tuple(weights)
    if len(values) != count:
        raise ValueError(f"{owner}: {len(values)} weights for {count} kernels")
    return tuple(_positive("weights", w, owner) for w in values)


@dataclass(frozen=True, init=False)
class KernelSum(Kernel):
    """A mixture of kernels inside ONE softmax: ``log K = logsumexp_m(log w_m + log k_m)``.

    This is Kernel-InfoNCE's "Simple Sum" as the paper writes it, e.g.
    ``KernelSum([Gaussian(t=0.4), Laplacian(t=0.5)])``. It is not ``losses.LossSum``, which adds
    separate losses (what the official code computes); a test shows they differ.

    Args:
        kernels: the parts.
        weights: w_m > 0, default 1 each.
        normalize: ``"l2"`` or ``"none"``; by default taken from the parts, which must agree.
    """

    kernels: tuple[Kernel, ...]
    weights: tuple[float, ...]
    normalization: Normalization

    def __init__(
        self,
        kernels: Sequence[Kernel],
        weights: Sequence[float] | None = None,
        normalize: Normalization | None = None,
    ) -> None:
        parts = _check_parts(kernels, "KernelSum")
        object.__setattr__(self, "kernels", parts)
        object.__setattr__(self, "weights", _check_weights(weights, len(parts), 1.0, "KernelSum"))
        if normalize is None:
            modes = {k.normalization for k in parts}
            if len(modes) != 1:
                raise ValueError(
                    f"KernelSum: parts normalise differently ({sorted(modes)}); pass normalize="
                )
            normalize = modes.pop()
        if normalize not in ("l2", "none"):
            raise ValueError(f"KernelSum: normalize must be 'l2' or 'none', got {normalize!r}")
        object.__setattr__(self, "normalization", normalize)
        forms = {k.form for k in parts}
        object.__setattr__(self, "form", forms.pop() if len(forms) == 1 else None)

    def gram_parts(self, dim: int) -> tuple[GramPart, ...] | None:
        if self.form is not None:
            return (GramPart(self, 1.0, slice(0, dim)),)
        if any(k.form is None for k in self.kernels):
            return None
        # parts of different forms: one Gram quantity each, over the same columns
        return tuple(GramPart(k, w, slice(0, dim)) for k, w in zip(self.kernels, self.weights))

    def _terms(self, x: Tensor) -> list[Tensor]:
        return [k.elementwise(x) + math.log(w) for k, w in zip(self.kernels, self.weights)]

    def elementwise(self, x: Tensor) -> Tensor:
        return torch.logsumexp(torch.stack(self._terms(x)), dim=0)

    def derivative(self, x: Tensor, logits: Tensor) -> Tensor:
        # d/dx logsumexp_m(c_m + f_m(x)) = sum_m exp(c_m + f_m(x) - logits) * f_m'(x)
        total = torch.zeros_like(x)
        for k, w in zip(self.kernels, self.weights):
            part = k.elementwise(x)
            share = (part + (math.log(w))).sub_(logits).exp_()
            total += share * k.derivative(x, part)
        return total

    def logits(self, a: Tensor, b: Tensor) -> Tensor:
        if self.form is not None:
            return super().logits(a, b)
        return _weighted_logsumexp([k.logits(a, b) for k in self.kernels], self.weights)

    def pair_logits(self, a: Tensor, b: Tensor) -> Tensor:
        if self.form is not None:
            return super().pair_logits(a, b)
        return _weighted_logsumexp([k.pair_logits(a, b) for k in self.kernels], self.weights)


@dataclass(frozen=True, init=False)
class Concat(Kernel):
    """Kernel-InfoNCE's "Concatenation Sum": kernel ``k_m`` acts on slice ``m`` of the embedding.

    Args:
        kernels: one kernel per slice.
        split: slice widths, summing to the embedding dimension (checked on use). Each part
            kernel acts on its slice as it is after the Concat's normalisation (the part's own
            normalisation is not applied): with ``normalize="whole"`` a ``Cosine`` part sees
            slices shorter than unit length and computes ``x_m . y_m / t``.
        mode: ``"kernel"``: ``log K = logsumexp_m(log w_m + log k_m(x_m, y_m))`` inside one
            softmax (weights default 1); ``"loss"``: ``sum_m w_m L(k_m on slice m)``, separate
            softmaxes, as the official code computes (weights default 1/M; there
            ``lambda, 1 - lambda``). The losses read the terms from ``loss_terms``.
        normalize: ``"whole"`` (one L2 norm over the full vector, as the official code does) or
            ``"parts"`` (each slice unit-norm).
        weights: w_m > 0.
    """

    kernels: tuple[Kernel, ...]
    split: tuple[int, ...]
    mode: Literal["kernel", "loss"]
    normalize: Literal["whole", "parts"]
    weights: tuple[float, ...]
    normalization: Normalization

    def __init__(
        self,
        kernels: Sequence[Kernel],
        split: Sequence[int],
        mode: Literal["kernel", "loss"] = "kernel",
        normalize: Literal["whole", "parts"] = "whole",
        weights: Sequence[float] | None = None,
    ) -> None:
        parts = _check_parts(kernels, "Concat")
        widths = tuple(split)
        if len(widths) != len(parts):
            raise ValueError(f"Concat: split has {len(widths)} sizes for {len(parts)} kernels")
        if any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
            raise ValueError(f"Concat: split sizes must be positive integers, got {list(widths)}")
        if mode not in ("kernel", "loss"):
            raise ValueError(f"Concat: mode must be 'kernel' or 'loss', got {mode!r}")
        if normalize not in ("whole", "parts"):
            raise ValueError(f"Concat: normalize must be 'whole' or 'parts', got {normalize!r}")
        default = 1.0 if mode == "kernel" else 1.0 / len(parts)
        object.__setattr__(self, "kernels", parts)
        object.__setattr__(self, "split", widths)
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "normalize", normalize)
        object.__setattr__(self, "weights", _check_weights(weights, len(parts), default, "Concat"))
        object.__setattr__(self, "normalization", "l2" if normalize == "whole" else "parts")

    def slices(self, z: Tensor) -> list[Tensor]:
        """Split ``z`` (n, d) into the kernels' slices; ``d`` must equal ``sum(split)``."""
        if z.shape[-1] != sum(self.split):
            raise ValueError(
                f"Concat: split {list(self.split)} sums to {sum(self.split)}, "
                f"but embeddings have dimension {z.shape[-1]}"
            )
        return list(torch.split(z, list(self.split), dim=-1))

    def _columns(self, dim: int) -> list[slice]:
        if dim != sum(self.split):
            raise ValueError(
                f"Concat: split {list(self.split)} sums to {sum(self.split)}, "
                f"but embeddings have dimension {dim}"
            )
        bounds = [0, *itertools.accumulate(self.split)]
        return [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]

    def gram_parts(self, dim: int) -> tuple[GramPart, ...] | None:
        columns = self._columns(dim)
        if self.mode != "kernel" or any(k.form is None for k in self.kernels):
            return None
        return tuple(GramPart(k, w, c) for k, w, c in zip(self.kernels, self.weights, columns))

    def loss_terms(self, dim: int) -> tuple[LossTerm, ...] | None:
        """``mode="loss"``: one term ``(k_m, w_m, columns of slice m)`` per part, else ``None``."""
        columns = self._columns(dim)
        if self.mode != "loss":
            return None
        return tuple(LossTerm(k, w, c) for k, w, c in zip(self.kernels, self.weights, columns))

    def prepare(self, z: Tensor) -> Tensor:
        if self.normalize == "whole":
            return _unit(z)
        return torch.cat([_unit(part) for part in self.slices(z)], dim=-1)

    def logits(self, a: Tensor, b: Tensor) -> Tensor:
        parts = zip(self.kernels, self.slices(a), self.slices(b))
        return _weighted_logsumexp([k.logits(x, y) for k, x, y in parts], self.weights)

    def pair_logits(self, a: Tensor, b: Tensor) -> Tensor:
        parts = zip(self.kernels, self.slices(a), self.slices(b))
        return _weighted_logsumexp([k.pair_logits(x, y) for k, x, y in parts], self.weights)


_SIMPLE: dict[str, type[Kernel]] = {
    "cosine": Cosine,
    "inner_product": InnerProduct,
    "gaussian": Gaussian,
    "laplacian": Laplacian,
    "exponential": Exponential,
    "student_t": StudentT,
    "cauchy": Cauchy,
}

KERNEL_NAMES = (*_SIMPLE, "kernel_sum", "concat")


def kernel_name(kernel: Kernel) -> str:
    """The name ``from_name`` builds ``kernel``'s class by (``KernelSum`` -> ``"kernel_sum"``).

    Raises:
        TypeError: a kernel class ``from_name`` does not know.
    """
    if isinstance(kernel, KernelSum):
        return "kernel_sum"
    if isinstance(kernel, Concat):
        return "concat"
    for name, cls in _SIMPLE.items():
        if type(kernel) is cls:
            return name
    raise TypeError(f"{type(kernel).__name__} is not a kernel from_name can build")


def from_name(name: str, **params: Any) -> Kernel:
    """Build a kernel from its name and parameters.

    ``kernel_sum`` without parts is the paper's Simple Sum ``Gaussian(t=0.4) + Laplacian(t=0.5)``;
    ``concat`` without parts is ``Laplacian(t=0.5)`` on the first half and ``Gaussian(t=0.4)``
    on the second half of a ``dim``-wide embedding (``dim`` default 128), summed inside one softmax.
    Part kernels may be given as ``{"name": ..., **params}`` dicts.

    Raises:
        ValueError: unknown name or bad parameter.
    """
    key = name.strip().lower().replace("-", "_")
    if key in ("studentt", "t"):
        key = "student_t"
    if key in _SIMPLE:
        try:
            return _SIMPLE[key](**params)
        except TypeError as err:
            raise ValueError(f"kernel {key}: {err}") from err
    if key in ("kernel_sum", "concat"):
        params = dict(params)
        raw_parts = params.pop("kernels", None)
        if raw_parts is None:
            raw_parts = [{"name": "gaussian", "t": 0.4}, {"name": "laplacian", "t": 0.5}]
            if key == "concat":
                raw_parts = raw_parts[::-1]
        parts = [
            p if isinstance(p, Kernel) else from_name(**dict(p))
            for p in raw_parts  # type: ignore[arg-type]
        ]
        if key == "kernel_sum":
            return KernelSum(parts, **params)
        dim = int(params.pop("dim", 128))
        split = params.pop("split", None) or _even_split(dim, len(parts))
        return Concat(parts, split=split, **params)
    raise ValueError(f"unknown kernel {name!r}; choose from {', '.join(KERNEL_NAMES)}")


def _even_split(dim: int, count: int) -> list[int]:
    base, extra = divmod(dim, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


def parse_kernel(text: str) -> Kernel:
    """Parse a command-line kernel spec: ``"laplacian"``, ``"student_t:nu=5,s=0.2"`` or
    ``"concat:mode=loss,normalize=parts"``.

    ``mode`` and ``normalize`` take words, ``dim`` a whole number, every other parameter a number.
    """
    name, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, raw = item.partition("=")
        key, value = key.strip(), raw.strip()
        if not sep:
            raise ValueError(f"kernel parameter {item!r} is not key=value")
        if key in _WORD_PARAMETERS:
            params[key] = value
            continue
        try:
            params[key] = int(value) if key == "dim" else float(value)
        except ValueError as err:
            raise ValueError(f"kernel parameter {key}: {value!r} is not a number") from err
    return from_name(name, **params)


_WORD_PARAMETERS = ("mode", "normalize")
