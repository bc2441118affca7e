"""How the loss engine runs: path, block size, backward strategy and compilation.

None of these options changes the value the engine computes, only its memory and speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from contrastlab._compile import compile_requested

Path = Literal["auto", "dense", "blockwise"]
Strategy = Literal["fused", "recompute"]

#: Bytes of one block of float32 logits that the automatic block size aims for on the CPU
#: (about the size of a last-level cache, measured best on two cores).
BLOCK_BYTES = 16 * 2**20
#: On CUDA a block takes ``free / CUDA_FREE_SHARE`` of the device's free memory, clamped to
#: ``[CUDA_MIN_BLOCK_BYTES, CUDA_MAX_BLOCK_BYTES]``: large enough that each block's products keep
#: the GPU busy, small enough that the few live blocks of a step never crowd out activations.
CUDA_FREE_SHARE = 64
CUDA_MIN_BLOCK_BYTES = 64 * 2**20
CUDA_MAX_BLOCK_BYTES = 2**30


def block_bytes(device: torch.device | str | None = None, free: int | None = None) -> int:
    """Bytes of float32 logits one block of the automatic block size aims for on ``device``.

    ``BLOCK_BYTES`` on the CPU (or ``device=None``); on CUDA
    ``clamp(free / CUDA_FREE_SHARE, CUDA_MIN_BLOCK_BYTES, CUDA_MAX_BLOCK_BYTES)`` with ``free``
    the device's free memory (``torch.cuda.mem_get_info``, or the value given, for tests).
    """
    if device is None or torch.device(device).type != "cuda":
        return BLOCK_BYTES
    if free is None:
        free = int(torch.cuda.mem_get_info(torch.device(device))[0])
    if free < 0:
        raise ValueError(f"free memory must be >= 0 bytes, got {free}")
    return int(min(max(free // CUDA_FREE_SHARE, CUDA_MIN_BLOCK_BYTES), CUDA_MAX_BLOCK_BYTES))


#: Logits per call (n x m) from which ``EngineOptions(compile=None)`` compiles elementwise work.
COMPILE_MIN = 2**24


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs; none of this changes the value it computes.

    Args:
        path: ``"dense"`` (plain autograd on the full logit matrix), ``"blockwise"``, or
            ``"auto"`` (blockwise; a single block when the matrix is small).
        block_size: anchor rows per block; ``None`` picks ``block_bytes(device) / (4 m)`` rows
            (16 MiB of logits on the CPU, a share of the free memory on CUDA).
        backward: ``"fused"`` or ``"recompute"`` (see ``losses.engine``).
        compile: fuse the elementwise work of a block with ``torch.compile`` (kernels with an
            elementwise form only). ``None``: when the logit matrix has at least ``COMPILE_MIN``
            entries (B >= 2048 per view), where the one-off compile
            (about 20 s on a 2-core CPU, cached on disk afterwards) pays for itself;
            ``CONTRASTLAB_COMPILE=0`` or ``1`` in the environment overrides ``None``
            (``contrastlab._compile``). Falls back to eager code with a warning when
            compilation fails.
    """

    path: Path = "auto"
    block_size: int | None = None
    backward: Strategy = "fused"
    compile: bool | None = None

    def should_compile(self, logits: int) -> bool:
        """Whether a call with ``logits`` (n x m) entries compiles its elementwise work."""
        return compile_requested(self.compile, default=logits >= COMPILE_MIN)

    def __post_init__(self) -> None:
        if self.path not in ("auto", "dense", "blockwise"):
            raise ValueError(f"path must be 'auto', 'dense' or 'blockwise', got {self.path!r}")
        if self.backward not in ("fused", "recompute"):
            raise ValueError(f"backward must be 'fused' or 'recompute', got {self.backward!r}")
        if self.block_size is not None and (
            not isinstance(self.block_size, int)
            or isinstance(self.block_size, bool)
            or self.block_size < 1
        ):
            raise ValueError(f"block_size must be a positive integer, got {self.block_size!r}")

    def rows_per_block(self, n: int, m: int, device: torch.device | str | None = None) -> int:
        """Anchor rows per block for ``n`` anchors and ``m`` candidates on ``device``:
        ``block_size`` when given, else ``block_bytes(device) // (4 m)``, within ``[1, n]``."""
        if self.block_size is not None:
            return min(self.block_size, n)
        return max(1, min(n, block_bytes(device) // (4 * max(m, 1))))
