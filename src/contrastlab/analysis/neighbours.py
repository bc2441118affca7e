"""Cosine nearest neighbours through faiss: label purity and the weighted kNN classifier.

All searches run on L2-normalised float32 rows in an exact inner-product index
(``faiss.IndexFlatIP``, moved to the GPUs when a faiss-gpu build sees any), so neighbours are
ranked by cosine similarity. Queries go through the
index in chunks, so memory stays O(chunk * k) however large N and k are.

- ``neighbour_purity``: for each point, the fraction of its k nearest neighbours (self
  excluded) that share its label, averaged over points; a curve over k. It falls with k for
  contrastive features (locally dense groups) and stays flat for supervised ones.
- ``knn_classify`` / ``knn_accuracy``: the weighted kNN classifier of InstDisc / DINO: each of
  the k nearest training points votes for its label with weight ``exp(sim / T)``; the class
  with the largest total wins.
- ``euclidean_knn_accuracy``: the plain majority-vote kNN accuracy under Euclidean distance
  (scikit-learn's ``KNeighborsClassifier``), the usual score of a 2-D map (t-SNE, t-SimCNE).

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(c, 0.3, (40, 4)) for c in np.eye(4)[:2] * 3])
    >>> y = np.repeat([0, 1], 40)
    >>> neighbour_purity(X, y, ks=(1, 10))
    {1: 1.0, 10: 1.0}
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from contrastlab.analysis._inputs import (
    check_features,
    check_ks,
    check_labels,
    check_positive,
    l2_normalise,
    to_numpy,
)
from contrastlab.errors import InputError

__all__ = [
    "euclidean_knn_accuracy",
    "faiss_on_gpu",
    "knn_accuracy",
    "knn_classify",
    "nearest_neighbours",
    "neighbour_purity",
]

PURITY_KS: tuple[int, ...] = (1, 10, 100, 500, 1000)
_QUERY_CHUNK_ELEMENTS = 8_000_000  # rows * k per search call: ~100 MB of results


_WARNED_CPU_FAISS = False


def faiss_on_gpu() -> bool:
    """Whether the neighbour searches run on GPUs (a faiss-gpu build that sees one).

    Where CUDA is there but this faiss build has no GPU support (``faiss-cpu``), the searches
    fall back to the CPU with the same exact results, and a ``RuntimeWarning`` says so (once
    per process).
    """
    global _WARNED_CPU_FAISS
    import faiss

    if getattr(faiss, "get_num_gpus", lambda: 0)() > 0:
        return True
    import torch

    if torch.cuda.is_available() and not _WARNED_CPU_FAISS:
        _WARNED_CPU_FAISS = True
        warnings.warn(
            "neighbour search runs on the CPU: CUDA is available but this faiss build has no "
            "GPU support (install faiss-gpu for GPU searches; results are the same)",
            RuntimeWarning,
            stacklevel=3,
        )
    return False


def _index(base: np.ndarray) -> Any:
    import faiss

    index: Any = faiss.IndexFlatIP(base.shape[1])
    if faiss_on_gpu():  # faiss-gpu builds: same exact search
        index = faiss.index_cpu_to_all_gpus(index)
    index.add(np.ascontiguousarray(base, dtype=np.float32))
    return index


def _search_chunks(
    base: np.ndarray, queries: np.ndarray, k: int, exclude_self: bool
) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """Yield ``(rows, sims, index)`` for chunks of query rows, best neighbour first."""
    index = _index(base)
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    k_search = k + 1 if exclude_self else k
    chunk = max(1, _QUERY_CHUNK_ELEMENTS // k_search)
    for start in range(0, queries.shape[0], chunk):
        rows = slice(start, min(start + chunk, queries.shape[0]))
        sims, idx = index.search(queries[rows], k_search)
        if exclude_self:
            # drop the row itself; where ties pushed it out of the list, drop the last entry
            own = idx == np.arange(rows.start, rows.stop)[:, None]
            own[~own.any(axis=1), -1] = True
            own &= np.cumsum(own, axis=1) == 1  # at most one dropped per row
            keep = ~own
            sims = sims[keep].reshape(-1, k)
            idx = idx[keep].reshape(-1, k)
        yield rows, sims, idx


def nearest_neighbours(
    queries: Any, base: Any, k: int, *, exclude_self: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarities and indices of the ``k`` nearest rows of ``base`` for each query.

    Args:
        queries: (M, D) embeddings.
        base: (N, D) embeddings searched; with ``exclude_self`` it must be ``queries`` itself
            and row ``i`` is not its own neighbour.
        k: neighbours per query, 1 <= k <= N (N - 1 with ``exclude_self``).

    Returns:
        ``(sims, index)``, both (M, k), sorted by decreasing similarity.
    """
    q = l2_normalise(check_features(queries, "queries", min_rows=1))
    b = l2_normalise(check_features(base, "base", min_rows=1))
    available = b.shape[0] - (1 if exclude_self else 0)
    if not 1 <= k <= available:
        raise InputError(f"k must be between 1 and {available}, got {k}")
    parts = list(_search_chunks(b, q, int(k), exclude_self))
    return np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts])


def neighbour_purity(X: Any, y: Any, ks: int | Sequence[int] = (1, 10, 100)) -> dict[int, float]:
    """Mean fraction of each point's k nearest neighbours (cosine, self excluded) sharing its label.

    Args:
        X: embeddings (N, D), N >= 2.
        y: labels, length N.
        ks: neighbourhood sizes; each is capped at N - 1 (the key stays the k asked for).

    Returns:
        ``{k: purity}``, purity in [0, 1].
    """
    features = check_features(X, "X")
    codes, _ = check_labels(y, features.shape[0], "y")
    wanted = check_ks(ks)
    n = features.shape[0]
    capped = {k: min(k, n - 1) for k in wanted}
    k_max = max(capped.values())
    same_counts = {k: 0 for k in wanted}
    for rows, _, idx in _search_chunks(l2_normalise(features), l2_normalise(features), k_max, True):
        same = np.cumsum(codes[idx] == codes[rows, None], axis=1)
        for k, kc in capped.items():
            same_counts[k] += int(same[:, kc - 1].sum())
    return {k: same_counts[k] / (n * capped[k]) for k in wanted}


def _weighted_votes(
    sims: np.ndarray, neighbour_codes: np.ndarray, n_classes: int, temperature: float
) -> np.ndarray:
    """Class scores ``sum exp(sim / T)`` over neighbours, computed as ``exp((sim - 1) / T)``."""
    weights = np.exp((sims.astype(np.float64) - 1.0) / temperature)
    rows = np.repeat(np.arange(sims.shape[0]), sims.shape[1])
    flat = rows * n_classes + neighbour_codes.ravel()
    scores = np.bincount(flat, weights=weights.ravel(), minlength=sims.shape[0] * n_classes)
    return scores.reshape(sims.shape[0], n_classes)


def _prepare(
    train_features: Any, train_labels: Any, test_features: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    train = check_features(train_features, "train_features", min_rows=1)
    test = check_features(test_features, "test_features", min_rows=1)
    if train.shape[1] != test.shape[1]:
        raise InputError(
            f"train_features have {train.shape[1]} columns but test_features {test.shape[1]}"
        )
    codes, classes = check_labels(train_labels, train.shape[0], "train_labels")
    return (
        l2_normalise(train, "train_features"),
        codes,
        classes,
        l2_normalise(test, "test_features"),
    )


def _predict_codes(
    train: np.ndarray,
    codes: np.ndarray,
    n_classes: int,
    test: np.ndarray,
    ks: tuple[int, ...],
    temperature: float,
) -> dict[int, np.ndarray]:
    capped = {k: min(k, train.shape[0]) for k in ks}
    k_max = max(capped.values())
    out = {k: np.empty(test.shape[0], dtype=np.int64) for k in ks}
    for rows, sims, idx in _search_chunks(train, test, k_max, False):
        for k, kc in capped.items():
            votes = _weighted_votes(sims[:, :kc], codes[idx[:, :kc]], n_classes, temperature)
            out[k][rows] = votes.argmax(axis=1)
    return out


def knn_classify(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    k: int = 20,
    temperature: float = 0.1,
) -> np.ndarray:
    """Predicted labels of ``test_features`` by the weighted kNN vote (cosine, ``exp(sim / T)``).

    ``k`` is capped at the number of training rows. Ties go to the smaller class label.
    """
    train, codes, classes, test = _prepare(train_features, train_labels, test_features)
    (kk,) = check_ks((k,), "k")
    temp = check_positive(temperature, "temperature")
    return classes[_predict_codes(train, codes, len(classes), test, (kk,), temp)[kk]]


def knn_accuracy(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    ks: int | Sequence[int] = (20, 200),
    temperature: float = 0.1,
) -> dict[int, float]:
    """Top-1 accuracy of the weighted kNN classifier for each ``k`` (one search for all ks).

    Args:
        train_features, train_labels: the labelled bank (N, D) and its N labels.
        test_features, test_labels: queries (M, D) and their M labels.
        ks: numbers of neighbours; each is capped at N.
        temperature: ``T`` in the vote weight ``exp(sim / T)`` (0.07 and 0.1 are usual).

    Returns:
        ``{k: accuracy}`` with accuracy in [0, 1].
    """
    train, codes, classes, test = _prepare(train_features, train_labels, test_features)
    truth = _check_test_labels(test_labels, test.shape[0])
    wanted = check_ks(ks)
    temp = check_positive(temperature, "temperature")
    predictions = _predict_codes(train, codes, len(classes), test, wanted, temp)
    return {k: float(np.mean(classes[predictions[k]] == truth)) for k in wanted}


def _check_test_labels(labels: Any, n_rows: int) -> np.ndarray:
    check_labels(labels, n_rows, "test_labels")
    return to_numpy(labels)


def euclidean_knn_accuracy(
    train_points: Any,
    train_labels: Any,
    test_points: Any,
    test_labels: Any,
    k: int = 15,
) -> float:
    """Majority-vote kNN accuracy under Euclidean distance, the score of a 2-D map.

    ``mean_j [ mode{ y_i : i among the k training points nearest to x_j } == y_j ]``, with
    ``||x - x_i||_2`` as the distance, every neighbour one vote, ties between classes going to
    the smallest label (scikit-learn's ``KNeighborsClassifier``) and ``k`` capped at the
    training size.

    Args:
        train_points, train_labels: the labelled points (N, D) and their N labels.
        test_points, test_labels: the scored points (M, D), same D, and their M labels.
        k: neighbours per vote, an integer >= 1.

    Returns:
        The share of test points whose vote matches their label, in [0, 1].

    Example:
        >>> train = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
        >>> euclidean_knn_accuracy(train, [0, 0, 1], [[0.0, 0.1], [4.0, 4.0]], [0, 0], k=1)
        0.5
    """
    from sklearn.neighbors import KNeighborsClassifier

    train = check_features(train_points, "train_points", min_rows=1)
    test = check_features(test_points, "test_points", min_rows=1)
    if test.shape[1] != train.shape[1]:
        raise InputError(
            f"test_points have {test.shape[1]} columns but train_points have {train.shape[1]}"
        )
    check_labels(train_labels, train.shape[0], "train_labels")
    truth = _check_test_labels(test_labels, test.shape[0])
    (kk,) = check_ks((k,), "k")
    classifier = KNeighborsClassifier(n_neighbors=min(kk, train.shape[0]))
    classifier.fit(train, to_numpy(train_labels))
    return float(classifier.score(test, truth))
