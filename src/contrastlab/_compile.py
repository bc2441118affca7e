"""``torch.compile`` with a fallback to eager code, switched by one environment variable.

Both users, the loss engine (``losses.gram``) and exact RLD (``analysis.density``), fuse pure
elementwise functions with ``torch.compile`` where that pays for itself, and must still give a
result where it cannot work (no C++ compiler, an unsupported platform).

``CONTRASTLAB_COMPILE`` decides when the caller's own argument does not (``compile=None``):
``"0"`` runs eagerly, ``"1"`` compiles, unset or empty leaves the caller's default (a size
threshold). An explicit ``compile=True`` or ``False`` of the API always wins.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import torch

ENV = "CONTRASTLAB_COMPILE"

__all__ = ["ENV", "CompiledOrEager", "compile_requested"]


def compile_requested(requested: bool | None, default: bool) -> bool:
    """Whether to compile: ``requested`` when given, else ``CONTRASTLAB_COMPILE``, else ``default``.

    Raises:
        ValueError: ``CONTRASTLAB_COMPILE`` is set to something other than ``"0"`` or ``"1"``.
    """
    if requested is not None:
        return bool(requested)
    value = os.environ.get(ENV, "")
    if value == "":
        return default
    if value not in ("0", "1"):
        raise ValueError(f"{ENV} must be '0' (eager) or '1' (compile), got {value!r}")
    return value == "1"


class CompiledOrEager:
    """``fn`` compiled by ``torch.compile`` on first call, or ``fn`` itself once that failed.

    A failure to compile or to run the compiled code is reported once as a ``RuntimeWarning``
    naming ``what``; from then on (for this object) ``fn`` runs eagerly, so a result always comes
    back. ``failed`` says whether that happened.

    Args:
        fn: a pure function of tensors (it may overwrite its tensor arguments: see ``__call__``).
        what: what runs eagerly after a failure, for the warning ("RLD", "the loss engine").
        context: a context manager entered around every compiled call (e.g. a config patch).
        recompile_limit: raise dynamo's per-function recompile limit to at least this (when
            ``fn`` has many legitimate variants), at the first compilation.
        **options: passed to ``torch.compile`` (``dynamic``, ``fullgraph``, ``options``).
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        what: str,
        *,
        context: Callable[[], AbstractContextManager[Any]] | None = None,
        recompile_limit: int | None = None,
        **options: Any,
    ) -> None:
        self.fn = fn
        self.what = what
        self.context = context
        self.recompile_limit = recompile_limit
        self.options = options
        self.failed = False
        self._compiled: Callable[..., Any] | None = None

    def __call__(self, *args: Any, fresh_args: Callable[[], tuple[Any, ...]] | None = None) -> Any:
        """``fn(*args)``, compiled unless compiling failed before.

        ``fresh_args`` rebuilds the arguments for the eager retry after a failure, for functions
        that overwrite their arguments (the failed compiled call may have done so already).
        """
        if self.failed:
            return self.fn(*args)
        try:
            if self._compiled is None:
                if self.recompile_limit is not None:
                    import torch._dynamo.config as dynamo_config

                    limit = max(dynamo_config.recompile_limit, self.recompile_limit)
                    dynamo_config.recompile_limit = limit
                self._compiled = torch.compile(self.fn, **self.options)
            with self.context() if self.context is not None else contextlib.nullcontext():
                return self._compiled(*args)
        except Exception as err:  # noqa: BLE001 - any compiler failure falls back
            self.failed = True
            first_line = next(iter(str(err).splitlines()), "")
            warnings.warn(
                f"torch.compile failed ({type(err).__name__}: {first_line}); "
                f"{self.what} runs eagerly",
                RuntimeWarning,
                stacklevel=2,
            )
        return self.fn(*(fresh_args() if fresh_args is not None else args))
