"""Density of embeddings: exact RLD (relative local density), computed blockwise, and its foils.

RLD (Zhang, Lu, Xuan 2023), exactly as the authors define it, on embeddings ``X`` (N x D) with
labels ``y`` at temperature ``t``:

1. L2-normalise ``X``; ``d_ij = ||x_i - x_j||``; ``dbar`` = mean of ``d_ij`` over pairs ``i < j``.
2. ``E_ij = exp(-d_ij / (dbar t))``, ``E_ii = 0``; ``r_i = sum_j E_ij``.
3. ``W_ij = N^2 E_ij^2 / (r_i r_j)`` (``N^2 P(j|i) P(i|j)`` with SNE-style row softmaxes).
4. RLD is the Newman modularity of the weighted graph ``W`` with the classes as communities:
   ``RLD = sum_c (e_cc - a_c^2)``, ``e_cc = sum_{i,j in c} W_ij / 2m``,
   ``a_c = sum_{i in c} k_i / 2m``, ``k_i = sum_j W_ij``, ``2m = sum_ij W_ij``.
   Its upper bound is ``1 - sum_c a_c^2``; random labels give about 0. Small ``t`` is local.

The authors build dense N x N matrices (about 30 GB at N = 50,000). Here the same value comes
from three passes over tiles of the pair matrix, never holding more than a few tiles:

- pass 1: ``sum d_ij`` (hence ``dbar``) and each row's nearest-neighbour distance ``m_i``;
- pass 2: ``r_i = sum_j exp(-d_ij c)`` with ``c = 1 / (dbar t)``, kept as
  ``r'_i = r_i exp(m_i c) >= 1``;
- pass 3: ``w_ij = exp(-(2 d_ij - m_i - m_j) c) / (r'_i r'_j)``, which is ``W_ij`` up to the
  constant ``N^2`` (it cancels in the modularity), summed per row (``k_i``) and per row over
  the same class.

Every exponent in pass 3 is <= 0. Where some row's largest term ``exp(-m_i c)`` would underflow
(tiny ``t``), pass 2 sums ``exp(-(d_ij - m_i) c)`` directly. Tiles ``(I, J)`` with ``J >= I``
only are multiplied (symmetry); a tile's column sums are the row sums of its transpose. All
temperatures share the products of each pass, and temperatures in integer ratios (1, 0.5, 0.2,
0.1) share one exponential: ``exp(-k x) = exp(-x)^k``. Sums accumulate across tiles in float64.

The elementwise work of each tile is fused by ``torch.compile`` when asked for (by default for
N >= 20,000; ``CONTRASTLAB_COMPILE=0`` or ``1`` overrides the default) and a C++ compiler works;
otherwise, and whenever compilation fails, the same functions run eagerly. Inputs up to 10,000
rows are computed in float64 by default, larger ones in float32 (``contrastlab bench rld``
reports the float32 error against float64).

With ``normalize=False`` the rows are used as they are (plain Euclidean distances), which is
how the 2-D toy sets of ``contrastlab.data.toys`` are measured.

Where this differs from the authors' code: step 1 (L2-normalisation, the default here) is not
in it. Their ``relative_local_density_score`` (xsgxlz/How-does-Contrastive-Learning-Organize-Images,
``imageComponent/analyze.py``) takes the features as given, so on raw features their value is
``rld(X, y, t, normalize=False)`` and the default gives another number (on the project's 2-D
``tiny_blobs`` toy, ``family="project"``, 40 points per class, t = 0.05: 0.7262 normalised,
0.7808 as theirs). The two agree on rows that are already unit length.

Example:
    >>> import numpy as np
    >>> from contrastlab.analysis import rld, rld_profile
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(c, 0.1, (50, 2)) for c in ([3, 0], [0, 3], [-3, 0])])
    >>> y = np.repeat([0, 1, 2], 50)
    >>> round(rld(X, y, t=0.05), 2) > 0.6
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.fx.experimental import _config as fx_config

from contrastlab._compile import CompiledOrEager, compile_requested
from contrastlab.analysis._inputs import (
    check_features,
    check_labels,
    check_positive,
    l2_normalise,
)
from contrastlab.analysis._threads import single_thread
from contrastlab.devices import resolve_device
from contrastlab.errors import InputError

__all__ = ["RLDProfile", "calinski_harabasz", "rld", "rld_knn", "rld_profile", "rld_weights"]

Precision = Literal["auto", "float32", "float64"]

DEFAULT_TS: tuple[float, ...] = (1.0, 0.5, 0.2, 0.1)
FLOAT64_MAX_ROWS = 10_000
COMPILE_MIN_ROWS = 20_000
DEFAULT_BLOCK = 2048
SINGLE_THREAD_MAX_ROWS = 4096  # below this, thread hand-offs cost more than they save


# --- the elementwise work of one tile: pure functions of the product tile s = X_I X_J^T --------


def _distances(s: Tensor, sq_rows: Tensor, sq_cols: Tensor) -> Tensor:
    # ||x - y||^2 = |x|^2 + |y|^2 - 2 x.y (2 - 2 x.y on unit rows); s = -inf gives d = +inf
    return torch.sqrt(torch.clamp(sq_rows.view(-1, 1) + sq_cols.view(1, -1) - 2.0 * s, min=0.0))


def _tile_pass1(s: Tensor, sq_rows: Tensor, sq_cols: Tensor) -> tuple[Tensor, Tensor]:
    """Row sums and row minima of the distances of one tile."""
    d = _distances(s, sq_rows, sq_cols)
    return d.sum(dim=1), d.amin(dim=1)


# Temperatures often stand in integer ratios (1, 0.5, 0.2, 0.1 give c, 2c, 5c, 10c), so most
# kernels are integer powers of one exponential: e^k costs a few multiplications instead of an
# exp. A plan lists, per temperature, (index of its base exponential, integer power).
Plan = tuple[tuple[int, int], ...]
MAX_POWER = 16


def _power_plan(coefs: Sequence[float]) -> tuple[tuple[float, ...], Plan]:
    """Bases (coefficients needing an exp) and, per coefficient, (base index, integer power).

    Coefficients are visited from the smallest, so each base is as small as possible and the
    larger coefficients can be its integer multiples.
    """
    bases: list[float] = []
    plan: dict[int, tuple[int, int]] = {}
    for i in sorted(range(len(coefs)), key=lambda j: coefs[j]):
        c = coefs[i]
        for b, base in enumerate(bases):
            k = round(c / base)
            if 1 <= k <= MAX_POWER and math.isclose(c, k * base, rel_tol=1e-12):
                plan[i] = (b, k)
                break
        else:
            bases.append(c)
            plan[i] = (len(bases) - 1, 1)
    return tuple(bases), tuple(plan[i] for i in range(len(coefs)))


def _int_power(e: Tensor, k: int) -> Tensor:
    result: Tensor | None = None
    while k:
        if k & 1:
            result = e if result is None else result * e
        k >>= 1
        if k:
            e = e * e
    assert result is not None
    return result


# The tile functions reduce over rows only: a fused kernel then keeps its sums in registers and
# writes nothing else. Column sums of a tile (the other half of the symmetric pair matrix) are
# the row sums of the same function applied to the transposed tile ``s.T``.


def _make_pass2(plan: Plan, shifted: bool) -> Callable[..., Tensor]:
    """Kernel row sums of one tile at every temperature of ``plan``, shape (T, rows).

    Unshifted: ``sum_j exp(-d_ij c)``; shifted (when some row's nearest term would underflow):
    ``sum_j exp(-(d_ij - m_i) c)``.
    """
    n_bases = max(b for b, _ in plan) + 1

    def pass2(s: Tensor, sq_rows: Tensor, sq_cols: Tensor, bases: Tensor, m_rows: Tensor) -> Tensor:
        d = _distances(s, sq_rows, sq_cols)
        if shifted:
            d = d - m_rows.view(-1, 1)
        e = [torch.exp(-d * bases[b]) for b in range(n_bases)]
        return torch.stack([_int_power(e[b], k).sum(dim=1) for b, k in plan])

    return pass2


def _make_pass3(plan: Plan) -> Callable[..., tuple[Tensor, Tensor]]:
    """Row sums of ``w_ij = exp(-(2 d_ij - m_i - m_j) c) / (r'_i r'_j)`` over all ``j`` and over
    the same class only, at every temperature of ``plan``; two arrays of shape (T, rows)."""
    n_bases = max(b for b, _ in plan) + 1

    def pass3(
        s: Tensor,
        sq_rows: Tensor,
        sq_cols: Tensor,
        bases: Tensor,
        m_rows: Tensor,
        m_cols: Tensor,
        inv_r_rows: Tensor,
        inv_r_cols: Tensor,
        y_rows: Tensor,
        y_cols: Tensor,
    ) -> tuple[Tensor, Tensor]:
        d = _distances(s, sq_rows, sq_cols)
        exponent = m_rows.view(-1, 1) + m_cols.view(1, -1) - 2.0 * d  # <= 0
        e = [torch.exp(exponent * bases[b]) for b in range(n_bases)]
        same = y_rows.view(-1, 1) == y_cols.view(1, -1)
        total, within = [], []
        for t, (b, k) in enumerate(plan):
            w = _int_power(e[b], k) * inv_r_cols[t].view(1, -1)
            total.append(w.sum(dim=1) * inv_r_rows[t])
            within.append(torch.where(same, w, 0.0).sum(dim=1) * inv_r_rows[t])
        return torch.stack(total), torch.stack(within)

    return pass3


# Recompute cheap pointwise values inside each fused loop rather than storing them to memory:
# the tile kernels are bandwidth-bound otherwise.
_INDUCTOR: dict[str, Any] = {"realize_reads_threshold": 10**6, "realize_opcount_threshold": 10**6}


class _TileOps:
    """Runs the tile functions compiled by ``torch.compile`` or eagerly.

    A compilation failure (no C++ compiler, an unsupported platform) is reported once as a
    warning and the eager functions take over, so a result always comes back
    (``contrastlab._compile``). Compiled functions are cached per process (and on disk by
    inductor), keyed by pass and plan.
    """

    _COMPILED: dict[tuple[Any, ...], CompiledOrEager] = {}

    def __init__(self, use_compile: bool) -> None:
        self.use_compile = use_compile
        self._eager: dict[tuple[Any, ...], Callable[..., Any]] = {}

    def _function(self, key: tuple[Any, ...]) -> Callable[..., Any]:
        if key not in self._eager:
            name = key[0]
            if name == "pass1":
                self._eager[key] = _tile_pass1
            elif name == "pass2":
                self._eager[key] = _make_pass2(key[1], key[2])
            else:
                self._eager[key] = _make_pass3(key[1])
        return self._eager[key]

    def transposed(self, s: Tensor) -> Tensor:
        """``s.T``; copied to row-major layout for compiled kernels (one graph per pass)."""
        return s.T.contiguous() if self.use_compile else s.T

    def __call__(self, key: tuple[Any, ...], *args: Tensor) -> Any:
        if not self.use_compile:
            return self._function(key)(*args)
        fn = self._COMPILED.get(key)
        if fn is None:
            fn = CompiledOrEager(
                self._function(key),
                "RLD",
                # one dynamic graph per pass: no size equalities assumed between arguments
                context=lambda: fx_config.patch(use_duck_shape=False),  # type: ignore[attr-defined]
                dynamic=True,
                fullgraph=True,
                options=_INDUCTOR,
            )
            self._COMPILED[key] = fn
        result = fn(*args)
        self.use_compile = not fn.failed
        return result


def _tiles(n: int, block: int) -> Iterator[tuple[slice, slice, bool]]:
    """Tiles ``(I, J)`` of the upper triangle, ``J >= I``; the flag marks diagonal tiles."""
    for i in range(0, n, block):
        for j in range(i, n, block):
            yield slice(i, min(i + block, n)), slice(j, min(j + block, n)), i == j


def _product(Z: Tensor, rows: slice, cols: slice, diagonal: bool, self_similarity: Any) -> Tensor:
    """The tile ``Z_I Z_J^T``; on diagonal tiles ``s_ii`` is replaced by ``self_similarity``.

    ``-inf`` makes ``d_ii = inf``, hence ``E_ii = 0`` (passes 2 and 3). Pass 1 uses ``-M`` with
    ``M`` the largest squared norm: then ``d_ii = sqrt(2 |x_i|^2 + 2 M)`` is at least every
    distance (so row minima are unchanged) and is subtracted from the distance sum; its kernel
    stays free of masks.
    """
    s = Z[rows] @ Z[cols].T
    if diagonal:
        s.diagonal().copy_(self_similarity)
    return s


def _rows(
    features: np.ndarray, normalize: bool, dtype: torch.dtype, device: torch.device
) -> tuple[Tensor, Tensor]:
    """Rows (unit if ``normalize``) and their squared norms (exactly 1 when unit), on ``device``."""
    X = features.astype(np.float64)
    if normalize:
        unit = torch.from_numpy(l2_normalise(X)).to(device=device, dtype=dtype).contiguous()
        return unit, torch.ones(len(unit), dtype=dtype, device=device)
    rows = torch.from_numpy(X).to(device=device, dtype=dtype).contiguous()
    return rows, (rows * rows).sum(dim=1)


@dataclass(frozen=True)
class _GraphState:
    """What passes 1 and 2 leave: enough to evaluate any tile of ``W``."""

    Z: Tensor  # rows (unit when normalised)
    sq: Tensor  # their squared norms
    ts: tuple[float, ...]
    mean_distance: float
    m: Tensor  # (N,) nearest-neighbour distances
    inv_r: Tensor  # (T, N) 1 / r'_i, r'_i = r_i exp(m_i c) >= 1
    coefs: tuple[float, ...]  # c = 1 / (dbar t) per temperature
    bases: Tensor  # coefficients computed by an exp (see _power_plan)
    plan: Plan
    shifted: bool  # pass 2 needed the per-row shift


# Unshifted kernel sums are used while every row's largest term exp(-m_i c) >= exp(-limit):
# terms that then underflow (below exp(-87) in float32, exp(-708) in float64) are under
# exp(-27) of their row's largest and cannot change the sum.
_EXP_LIMIT = {torch.float32: 60.0, torch.float64: 680.0}


def _resolve(
    n: int, block_size: int | None, precision: str, use_compile: bool | None
) -> tuple[int, torch.dtype, bool]:
    if block_size is None:
        block = min(n, DEFAULT_BLOCK)
    else:
        if (
            isinstance(block_size, bool)
            or not isinstance(block_size, (int, np.integer))
            or block_size < 1
        ):
            raise InputError(f"block_size must be an integer >= 1, got {block_size!r}")
        block = int(block_size)
    if precision not in ("auto", "float32", "float64"):
        raise InputError(f"precision must be 'auto', 'float32' or 'float64', got {precision!r}")
    if precision == "auto":
        dtype = torch.float64 if n <= FLOAT64_MAX_ROWS else torch.float32
    else:
        dtype = torch.float64 if precision == "float64" else torch.float32
    use_compile = compile_requested(use_compile, default=n >= COMPILE_MIN_ROWS)
    if use_compile:
        # A one-row last tile makes dynamo specialise on the size 1 and compile every pass again
        # (measured: 12 graphs instead of 3, doubling the first call); take one row more per tile.
        while block < n and n % block == 1:
            block += 1
    return block, dtype, bool(use_compile)


def _graph_state(
    Z: Tensor, sq: Tensor, ts: tuple[float, ...], block: int, ops: _TileOps
) -> _GraphState:
    """Passes 1 (``dbar``, nearest distances ``m``) and 2 (kernel row sums ``r'``)."""
    n = Z.shape[0]
    total = 0.0
    m = torch.full((n,), math.inf, dtype=Z.dtype, device=Z.device)
    sentinel = -sq.max()
    for rows, cols, diagonal in _tiles(n, block):
        s = _product(Z, rows, cols, diagonal, sentinel)
        row_sum, row_min = ops(("pass1",), s, sq[rows], sq[cols])
        total += float(row_sum.sum(dtype=torch.float64)) * (1.0 if diagonal else 2.0)
        m[rows] = torch.minimum(m[rows], row_min)
        if not diagonal:
            col_min = ops(("pass1",), ops.transposed(s), sq[cols], sq[rows])[1]
            m[cols] = torch.minimum(m[cols], col_min)
    sq64 = sq.to(torch.float64)
    total -= float(torch.sqrt(2.0 * sq64 - 2.0 * float(sentinel)).sum())  # the d_ii stand-ins
    mean_distance = total / (n * (n - 1))
    if not mean_distance > 0:
        raise InputError("all embeddings coincide (after normalisation); RLD is undefined")
    coefs = tuple(1.0 / (mean_distance * t) for t in ts)
    base_values, plan = _power_plan(coefs)
    bases = torch.tensor(base_values, dtype=Z.dtype, device=Z.device)
    m64 = m.to(torch.float64)
    # unshifted sums are exact unless some row's largest term exp(-m_i c) would underflow
    shifted = float(m64.max()) * max(coefs) > _EXP_LIMIT[Z.dtype]
    r = torch.zeros((len(ts), n), dtype=torch.float64, device=Z.device)
    key = ("pass2", plan, shifted)
    for rows, cols, diagonal in _tiles(n, block):
        s = _product(Z, rows, cols, diagonal, -math.inf)
        r[:, rows] += ops(key, s, sq[rows], sq[cols], bases, m[rows])
        if not diagonal:
            r[:, cols] += ops(key, ops.transposed(s), sq[cols], sq[rows], bases, m[cols])
    if not shifted:
        c64 = torch.tensor(coefs, dtype=torch.float64, device=Z.device)
        r *= torch.exp(m64.view(1, -1) * c64.view(-1, 1))
    inv_r = (1.0 / r).to(Z.dtype)
    return _GraphState(Z, sq, ts, mean_distance, m, inv_r, coefs, bases, plan, shifted)


def _degree_sums(
    state: _GraphState, codes: Tensor, block: int, ops: _TileOps
) -> tuple[np.ndarray, np.ndarray]:
    """Pass 3: per row, ``sum_j w_ij`` and ``sum_{j: y_j = y_i} w_ij`` for each temperature."""
    n = state.Z.shape[0]
    k = torch.zeros((len(state.ts), n), dtype=torch.float64, device=state.Z.device)
    within = torch.zeros_like(k)
    m, inv_r, sq = state.m, state.inv_r, state.sq
    key = ("pass3", state.plan)
    for rows, cols, diagonal in _tiles(n, block):
        s = _product(state.Z, rows, cols, diagonal, -math.inf)
        pairs = [(s, rows, cols)]
        if not diagonal:
            pairs.append((ops.transposed(s), cols, rows))
        for tile, a, b in pairs:
            total, same = ops(
                key,
                tile,
                sq[a],
                sq[b],
                state.bases,
                m[a],
                m[b],
                inv_r[:, a],
                inv_r[:, b],
                codes[a],
                codes[b],
            )
            k[:, a] += total
            within[:, a] += same
    return k.cpu().numpy(), within.cpu().numpy()


@dataclass(frozen=True)
class RLDProfile:
    """RLD at several temperatures with its per-class terms.

    Attributes:
        ts: the temperatures.
        values: RLD at each temperature, ``sum_c (e_cc - a_c^2)``.
        classes: the label values, in the column order of the per-class arrays.
        per_class: (T, K) array of ``e_cc - a_c^2``.
        within: (T, K) array of ``e_cc``, the share of ``W``'s weight inside class ``c``.
        degree_share: (T, K) array of ``a_c``, class ``c``'s share of the weighted degree.
        upper_bound: ``1 - sum_c a_c^2`` per temperature (the value for perfect separation).
        mean_distance: ``dbar``, the mean pairwise distance of the normalised embeddings.
        info: how it was computed (rows, block size, dtype, compiled or eager).
    """

    ts: tuple[float, ...]
    values: tuple[float, ...]
    classes: np.ndarray = field(compare=False)
    per_class: np.ndarray = field(compare=False)
    within: np.ndarray = field(compare=False)
    degree_share: np.ndarray = field(compare=False)
    upper_bound: tuple[float, ...]
    mean_distance: float
    info: dict[str, Any] = field(default_factory=dict, compare=False)

    def value(self, t: float) -> float:
        """RLD at temperature ``t`` (one of ``ts``)."""
        for ti, value in zip(self.ts, self.values):
            if math.isclose(ti, t, rel_tol=1e-12):
                return value
        raise KeyError(f"temperature {t} not in profile {self.ts}")

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return {
            "ts": list(self.ts),
            "rld": list(self.values),
            "upper_bound": list(self.upper_bound),
            "mean_distance": self.mean_distance,
            "classes": [c.item() if hasattr(c, "item") else c for c in self.classes],
            "per_class": self.per_class.tolist(),
            "info": dict(self.info),
        }


def _check_ts(ts: float | Sequence[float]) -> tuple[float, ...]:
    values = (ts,) if isinstance(ts, (int, float, np.floating)) else tuple(ts)
    if not values:
        raise InputError("ts must list at least one temperature")
    return tuple(check_positive(t, "temperature t") for t in values)


def rld_profile(
    X: Any,
    y: Any,
    ts: float | Sequence[float] = DEFAULT_TS,
    block_size: int | None = None,
    *,
    precision: Precision = "auto",
    compile: bool | None = None,
    normalize: bool = True,
    device: torch.device | str | None = None,
) -> RLDProfile:
    """Exact RLD at several temperatures, sharing the three blockwise passes.

    Args:
        X: embeddings, (N, D) array or tensor, N >= 2; any scale (RLD is scale-invariant).
        y: labels, length N.
        ts: temperatures > 0 (the authors use 0.05 on 2-D toys, 1, 0.5, 0.2, 0.1 on CIFAR-10).
        block_size: rows per tile (default ``min(N, 2048)``); memory is O(N + block^2 * T).
        precision: ``"float64"``, ``"float32"``, or ``"auto"`` (float64 up to 10,000 rows).
        compile: fuse the elementwise work with ``torch.compile``; ``None``: for N >= 20,000,
            unless ``CONTRASTLAB_COMPILE`` is ``"0"`` (eager) or ``"1"`` (compile); falls back
            to eager on failure.
        normalize: L2-normalise the rows first (default, step 1 above). The authors' code
            does not: it uses the features as given, and ``False`` gives its value (plain
            Euclidean distances, also right for raw 2-D toy data, ``contrastlab.data.toys``).
        device: where the three passes run (``"cpu"`` by default, ``"cuda"``); ``X`` may be a
            tensor on any device. Sums still accumulate in float64, so the value is the CPU's
            to rounding.

    Returns:
        An ``RLDProfile`` with RLD, per-class terms and the upper bound at each temperature.

    Raises:
        InputError: on a bad shape, non-finite or all-zero rows, a label count mismatch, or a
            bad temperature.
    """
    features = check_features(X, "X")
    codes, classes = check_labels(y, features.shape[0], "y")
    temps = _check_ts(ts)
    n = features.shape[0]
    target = resolve_device("cpu" if device is None else device)
    block, dtype, use_compile = _resolve(n, block_size, precision, compile)
    Z, sq = _rows(features, normalize, dtype, target)
    ops = _TileOps(use_compile)
    on_cpu = target.type == "cpu"
    with torch.no_grad(), single_thread(on_cpu and n <= SINGLE_THREAD_MAX_ROWS):
        state = _graph_state(Z, sq, temps, block, ops)
        k, within_rows = _degree_sums(state, torch.from_numpy(codes).to(target), block, ops)
    n_classes = len(classes)
    two_m = k.sum(axis=1, keepdims=True)
    degree_share = np.stack([np.bincount(codes, weights=row, minlength=n_classes) for row in k])
    within = np.stack([np.bincount(codes, weights=row, minlength=n_classes) for row in within_rows])
    degree_share = degree_share / two_m
    within = within / two_m
    per_class = within - degree_share**2
    return RLDProfile(
        ts=temps,
        values=tuple(float(v) for v in per_class.sum(axis=1)),
        classes=classes,
        per_class=per_class,
        within=within,
        degree_share=degree_share,
        upper_bound=tuple(float(v) for v in 1.0 - (degree_share**2).sum(axis=1)),
        mean_distance=state.mean_distance,
        info={
            "rows": n,
            "block_size": block,
            "dtype": str(dtype).replace("torch.", ""),
            "compiled": ops.use_compile,
            "normalized": normalize,
            "shifted": state.shifted,
            "device": str(target),
        },
    )


def rld(
    X: Any,
    y: Any,
    t: float = 0.1,
    block_size: int | None = None,
    *,
    precision: Precision = "auto",
    compile: bool | None = None,
    normalize: bool = True,
    device: torch.device | str | None = None,
) -> float:
    """Exact RLD of embeddings ``X`` with labels ``y`` at temperature ``t`` (see module docs).

    The rows are L2-normalised first unless ``normalize=False``; the authors' code does not
    normalise, so ``normalize=False`` reproduces their value on raw features. ``device`` is
    where the passes run (``rld_profile``).

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> X, y = rng.normal(size=(300, 8)), rng.integers(0, 3, 300)
        >>> abs(rld(X, y, t=0.1)) < 0.05  # random labels
        True
    """
    profile = rld_profile(
        X,
        y,
        (t,),
        block_size,
        precision=precision,
        compile=compile,
        normalize=normalize,
        device=device,
    )
    return profile.values[0]


def rld_weights(
    X: Any,
    t: float = 0.1,
    *,
    top_k: int | None = None,
    block_size: int | None = None,
    precision: Precision = "auto",
    normalize: bool = True,
) -> Any:
    """The RLD graph ``W_ij = N^2 E_ij^2 / (r_i r_j)``, dense or as its top-k entries per row.

    Args:
        X: embeddings (N, D).
        t: temperature.
        top_k: ``None`` for the dense (N, N) numpy array; otherwise the ``top_k`` largest entries
            of each row, symmetrised (``max(W, W^T)`` on the kept entries), as a scipy CSR matrix.
            Either way the entries are exact values of ``W``; memory is O(N * top_k) when sparse.

    Returns:
        ``np.ndarray`` (dense) or ``scipy.sparse.csr_matrix`` (``top_k`` given), zero diagonal.
    """
    features = check_features(X, "X")
    temp = check_positive(t, "t")
    n = features.shape[0]
    block, dtype, _ = _resolve(n, block_size, precision, False)
    Z, sq = _rows(features, normalize, dtype, torch.device("cpu"))
    ops = _TileOps(False)
    scale = float(n) ** 2
    with torch.no_grad(), single_thread(n <= SINGLE_THREAD_MAX_ROWS):
        state = _graph_state(Z, sq, (temp,), block, ops)
        coef = state.coefs[0]

        def row_block(rows: slice) -> Tensor:
            d = _distances(Z[rows] @ Z.T, sq[rows], sq)
            d[torch.arange(rows.stop - rows.start), torch.arange(rows.start, rows.stop)] = math.inf
            # exp(-2 d c) / (r_i r_j) with the shifts of _tile_pass3, so nothing underflows early
            shift = 2.0 * d - state.m[rows].view(-1, 1) - state.m.view(1, -1)
            ri = state.inv_r[0][rows].view(-1, 1) * state.inv_r[0].view(1, -1)
            return torch.exp(-shift * coef) * ri * scale

        if top_k is None:
            W = torch.cat([row_block(rows) for rows, _, _ in _tiles_rows(n, block)])
            return W.double().numpy()
        import scipy.sparse as sp

        if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise InputError(f"top_k must be an integer >= 1, got {top_k!r}")
        k = min(int(top_k), n - 1)
        data, cols_idx = [], []
        for rows, _, _ in _tiles_rows(n, block):
            values, index = torch.topk(row_block(rows), k, dim=1)
            data.append(values.double().numpy())
            cols_idx.append(index.numpy())
        values_np = np.concatenate(data).ravel()
        col_np = np.concatenate(cols_idx).ravel()
        row_np = np.repeat(np.arange(n), k)
        W = sp.csr_matrix((values_np, (row_np, col_np)), shape=(n, n))
        return W.maximum(W.T).tocsr()


def _tiles_rows(n: int, block: int) -> Iterator[tuple[slice, slice, bool]]:
    for i in range(0, n, block):
        yield slice(i, min(i + block, n)), slice(0, n), False


def calinski_harabasz(X: Any, y: Any, *, normalize: bool = True) -> float:
    """Calinski-Harabasz score of the (L2-normalised) embeddings (``sklearn.metrics``).

    The global-density foil to RLD: between-class over within-class dispersion, each divided by
    its degrees of freedom. Needs 2 <= number of classes < N.
    """
    from sklearn.metrics import calinski_harabasz_score

    features = check_features(X, "X")
    codes, classes = check_labels(y, features.shape[0], "y")
    if not 2 <= len(classes) < features.shape[0]:
        raise InputError(
            f"Calinski-Harabasz needs 2 <= classes < rows, got {len(classes)} classes "
            f"for {features.shape[0]} rows"
        )
    Z = features.astype(np.float64)
    return float(calinski_harabasz_score(l2_normalise(Z) if normalize else Z, codes))


def rld_knn(
    X: Any, y: Any, t: float = 0.05, k: int = 100, *, sample_pairs: int = 200_000, seed: int = 0
) -> float:
    """RLD approximated on the k-nearest-neighbour graph (faiss), for very large N.

    ``dbar`` is estimated from ``sample_pairs`` random pairs; ``r_i`` sums ``E_ij`` over the
    ``k`` nearest neighbours only, and ``W`` keeps the kNN edges (symmetrised). Cost is
    O(N k) memory after the neighbour search.

    Error and where it holds: the neglected mass of row ``i`` is at most
    ``(N - 1 - k) exp(-d_ik / (dbar t)) / r_i`` (``d_ik`` its k-th neighbour distance), which
    is tiny when ``t`` is small (local) and ``k`` is a few hundred; at ``t = 1`` almost all of
    ``W``'s weight lies outside any kNN graph and this approximation is wrong. The test suite
    checks ``|rld_knn - rld| < 0.02`` at ``t = 0.05`` on clustered 2-D data with ``k = 100``;
    at ``t >= 0.5`` use the exact ``rld``, which is fast enough for N = 50,000.
    """
    import scipy.sparse as sp

    from contrastlab.analysis.neighbours import nearest_neighbours

    features = check_features(X, "X")
    codes, _ = check_labels(y, features.shape[0], "y")
    temp = check_positive(t, "t")
    n = features.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be an integer >= 1, got {k!r}")
    Z = l2_normalise(features.astype(np.float64))
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n, sample_pairs)
    b = rng.integers(0, n - 1, sample_pairs)
    b = b + (b >= a)  # uniform over pairs i != j
    dbar = float(np.linalg.norm(Z[a] - Z[b], axis=1).mean())
    sims, index = nearest_neighbours(Z, Z, min(int(k), n - 1), exclude_self=True)
    d = np.sqrt(np.clip(2.0 - 2.0 * sims.astype(np.float64), 0.0, None))
    c = 1.0 / (dbar * temp)
    m = d[:, :1]
    E = np.exp(-(d - m) * c)  # shifted like the exact passes
    r = E.sum(axis=1)  # r'_i
    rows = np.repeat(np.arange(n), index.shape[1])
    cols = index.ravel()
    w = np.exp(-(2.0 * d - m - m[cols].reshape(d.shape)) * c).ravel() / (r[rows] * r[cols])
    W = sp.csr_matrix((w, (rows, cols)), shape=(n, n))
    W = W.maximum(W.T).tocoo()
    kdeg = np.asarray(W.sum(axis=1)).ravel()
    two_m = kdeg.sum()
    same = codes[W.row] == codes[W.col]
    n_classes = int(codes.max()) + 1
    within = np.bincount(codes[W.row[same]], weights=W.data[same], minlength=n_classes) / two_m
    share = np.bincount(codes, weights=kdeg, minlength=n_classes) / two_m
    return float((within - share**2).sum())
