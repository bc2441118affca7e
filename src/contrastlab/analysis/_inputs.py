"""Input checks shared by the diagnostics: arrays or tensors in, validated numpy arrays out.

Every public diagnostic validates up front, so a wrong shape, a NaN or a label count that does
not match the rows ends in one ``InputError`` that says what was expected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contrastlab.errors import InputError


def to_numpy(value: Any) -> np.ndarray:
    """A numpy view of an array, a torch tensor (detached, on the CPU) or a sequence."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def check_features(X: Any, name: str = "X", *, min_rows: int = 2) -> np.ndarray:
    """Return ``X`` as a finite 2-D float array (float64 kept, anything else float32).

    Raises:
        InputError: if ``X`` is not 2-D, not numeric, has fewer than ``min_rows`` rows, no
            columns, or a NaN or infinite entry.
    """
    arr = to_numpy(X)
    if arr.ndim != 2:
        raise InputError(f"{name} must be a 2-D array (rows x features), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise InputError(f"{name} must be real, got dtype {arr.dtype}")
    if arr.shape[0] < min_rows or arr.shape[1] < 1:
        raise InputError(
            f"{name} needs at least {min_rows} rows and 1 column, got shape {arr.shape}"
        )
    arr = arr if arr.dtype == np.float64 else arr.astype(np.float32)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise InputError(f"{name} has non-finite values (NaN or inf) in {bad} row(s)")
    return arr


def check_labels(y: Any, n_rows: int, name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """Validate a 1-D label vector of length ``n_rows``.

    Returns:
        ``(codes, classes)``: ``codes`` are int64 in ``0..K-1`` and ``classes[codes] == y``.

    Raises:
        InputError: if ``y`` is not 1-D, has the wrong length, or holds NaN.
    """
    arr = to_numpy(y)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of labels, got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise InputError(f"{name} has {arr.shape[0]} labels but there are {n_rows} rows")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError(f"{name} has NaN or infinite labels")
    if arr.dtype.kind not in "biufUSO":
        raise InputError(f"{name} must hold integer or string labels, got dtype {arr.dtype}")
    classes, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64).reshape(-1), classes


def check_positive(value: float, name: str) -> float:
    """A finite number > 0, or an ``InputError`` naming the parameter."""
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise InputError(f"{name} must be a number, got {value!r}") from err
    if not (np.isfinite(number) and number > 0):
        raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    return number


def check_ks(ks: Any, name: str = "ks") -> tuple[int, ...]:
    """A non-empty tuple of positive integers (duplicates removed, order kept)."""
    values = (ks,) if isinstance(ks, (int, np.integer)) else tuple(ks)
    if not values:
        raise InputError(f"{name} must list at least one k")
    out: list[int] = []
    for k in values:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"{name} must hold integers >= 1, got {k!r}")
        if int(k) not in out:
            out.append(int(k))
    return tuple(out)


def l2_normalise(X: np.ndarray, name: str = "X") -> np.ndarray:
    """Rows scaled to unit length.

    Raises:
        InputError: if a row is all zeros (it has no direction; cosine diagnostics are undefined).
    """
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    zero = int((norms <= 0).sum())
    if zero:
        raise InputError(f"{name} has {zero} all-zero row(s); they cannot be L2-normalised")
    return X / norms
