"""How the loss engine runs: path, block size, backward strategy and compilation.

None of these options changes the value the engine computes, only its memory and speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contrastlab._compile import compile_requested

Path = Literal["auto", "dense", "blockwise"]
Strategy = Literal["fused", "recompute"]

#: Bytes of one block of float32 logits that the automatic block size aims for.
BLOCK_BYTES = 16 * 2**20
#: Logits per call (n x m) from which ``EngineOptions(compile=None)`` compiles elementwise work.
COMPILE_MIN = 2**24


@dataclass(frozen=True)
class EngineOptions:
    """How the engine runs; none of this changes the value it computes.

    Args:
        path: ``"dense"`` (plain autograd on the full logit matrix), ``"blockwise"``, or
            ``"auto"`` (blockwise; a single block when the matrix is small).
        block_size: anchor rows per block; ``None`` picks ``BLOCK_BYTES / (4 m)`` rows.
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

    def rows_per_block(self, n: int, m: int) -> int:
        """Anchor rows per block for ``n`` anchors and ``m`` candidates."""
        if self.block_size is not None:
            return min(self.block_size, n)
        return max(1, min(n, BLOCK_BYTES // (4 * max(m, 1))))
