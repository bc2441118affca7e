"""Probes of frozen embeddings: linear, weighted kNN, and the GCN label-propagation probe.

Every probe takes a labelled training set and a test set, holds out a validation split of the
training set (stratified, ``val_fraction``, seeded) for its model choice, and reports test top-1
accuracy, validation accuracy and its number of trained parameters. Test labels are used for
nothing but the final accuracy.

- ``linear_probe``: standardised features, multinomial logistic regression (scikit-learn,
  L-BFGS); ``C`` chosen on the validation split from ``C_GRID``, then refit on train + val.
- ``knn_probe``: the weighted kNN vote (cosine, ``exp(sim / T)``) for ``k`` in (20, 200) and
  ``T`` in (0.07, 0.1), chosen on validation, then the train + val bank classifies the test set.
- ``gcn_probe``: the transductive label-propagation GCN of Zhang, Lu, Xuan (2023), below.

GCN probe, as the authors built it, except model choice: nodes are the train, validation and
test embeddings together; the graph is RLD's ``W`` at temperature ``t`` (dense for N up to
``GCN_DENSE_MAX_NODES``, else the top-``k`` entries of each row, symmetrised). Node inputs are
labels, not features: an embedding table of K + 1 entries (index K = unknown), 16 wide.
Validation and test nodes are always unknown; each step hides a random fraction
``p ~ U(0.05, 0.6)`` of the training labels and the loss is cross-entropy on the hidden ones.
Two layers ``A (H Theta) + s H Theta + b`` with ``A = D^-1/2 W D^-1/2`` and ``s`` a learned
self-loop weight, BatchNorm and SELU between, hidden width 16, full-batch AdamW at lr 0.1. The
authors reported the best *test* accuracy over training, which is optimistic; here the epoch
with the best validation accuracy is chosen, ties broken by the lower validation loss (early
stopping with ``patience``), and its test accuracy reported.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(3 * c, 1, (60, 5)) for c in range(3)])
    >>> y = np.repeat([0, 1, 2], 60)
    >>> result = linear_probe(X[::2], y[::2], X[1::2], y[1::2])
    >>> result.accuracy > 0.9, result.params
    (True, 18)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from contrastlab.analysis._inputs import check_features, check_labels, to_numpy
from contrastlab.analysis._threads import single_thread
from contrastlab.errors import InputError

__all__ = ["ProbeResult", "gcn_probe", "knn_probe", "linear_probe", "split_indices"]

C_GRID: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
KNN_KS: tuple[int, ...] = (20, 200)
KNN_TEMPERATURES: tuple[float, ...] = (0.07, 0.1)
GCN_DENSE_MAX_NODES = 5000
GCN_TOP_K = 30


@dataclass(frozen=True)
class ProbeResult:
    """What a probe reports.

    Attributes:
        accuracy: top-1 accuracy on the test set.
        val_accuracy: top-1 accuracy of the chosen model on the validation split.
        params: number of trained parameters (0 for kNN).
        info: the choice made on validation and other details.
        name: the probe's name.
        predictions: predicted test labels.
    """

    accuracy: float
    val_accuracy: float
    params: int
    info: dict[str, Any] = field(default_factory=dict, compare=False)
    name: str = ""
    predictions: np.ndarray | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "accuracy": self.accuracy,
            "val_accuracy": self.val_accuracy,
            "params": self.params,
            "info": dict(self.info),
        }


@dataclass(frozen=True)
class _Data:
    train: np.ndarray
    train_codes: np.ndarray
    val: np.ndarray
    val_codes: np.ndarray
    test: np.ndarray
    classes: np.ndarray
    test_labels: np.ndarray


def split_indices(labels: Any, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sorted indices ``(kept, held_out)`` with ``round(fraction * N)`` rows held out (>= 1).

    Stratified by label when every class has 2+ rows and the held-out part can hold each class
    once; otherwise a plain seeded random split.
    """
    from sklearn.model_selection import train_test_split

    _, codes, counts = np.unique(to_numpy(labels), return_inverse=True, return_counts=True)
    n = codes.size
    n_held = max(1, int(round(fraction * n)))
    if n - n_held < 1:
        raise InputError(f"too few rows ({n}) to hold out a fraction {fraction}")
    stratified = counts.min() >= 2 and len(counts) <= n_held <= n - len(counts)
    kept, held = train_test_split(
        np.arange(n), test_size=n_held, random_state=seed, stratify=codes if stratified else None
    )
    return np.sort(kept), np.sort(held)


def _prepare(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    val_fraction: float,
    seed: int,
) -> _Data:
    train = check_features(train_features, "train_features", min_rows=2)
    test = check_features(test_features, "test_features", min_rows=1)
    if train.shape[1] != test.shape[1]:
        raise InputError(
            f"train_features have {train.shape[1]} columns but test_features {test.shape[1]}"
        )
    codes, classes = check_labels(train_labels, train.shape[0], "train_labels")
    check_labels(test_labels, test.shape[0], "test_labels")
    if len(classes) < 2:
        raise InputError("train_labels need at least 2 classes")
    if not 0.0 < float(val_fraction) < 1.0:
        raise InputError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    fit_idx, val_idx = split_indices(codes, float(val_fraction), seed)
    return _Data(
        train[fit_idx],
        codes[fit_idx],
        train[val_idx],
        codes[val_idx],
        test,
        classes,
        to_numpy(test_labels),
    )


def _accuracy(classes: np.ndarray, predicted_codes: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(classes[predicted_codes] == labels))


def linear_probe(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> ProbeResult:
    """Logistic-regression probe on standardised features; ``C`` chosen on validation.

    Each ``C`` of ``C_GRID`` is fitted on the training rows outside the validation split
    (``split_indices(train_labels, val_fraction, seed)``) and scored on that split; the best
    score wins, ties going to the smaller ``C`` (stronger regularisation). The chosen ``C`` is
    then refitted on train + validation, standardised on both.

    Returns:
        ``ProbeResult`` with ``params = (D + 1) * K`` (``(D + 1)`` for two classes) and
        ``info["C"]``, the chosen inverse regularisation strength.
    """
    start = time.perf_counter()
    data = _prepare(train_features, train_labels, test_features, test_labels, val_fraction, seed)
    with single_thread():
        return _linear_probe(data, start)


def _linear_probe(data: _Data, start: float) -> ProbeResult:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def fit(X: np.ndarray, codes: np.ndarray, C: float, init: Any = None) -> Any:
        model = LogisticRegression(C=C, max_iter=300, tol=1e-4, warm_start=init is not None)
        if init is not None:
            model.coef_, model.intercept_ = init.coef_.copy(), init.intercept_.copy()
        return model.fit(X, codes)

    scaler = StandardScaler().fit(data.train)
    fit_X, val_X = scaler.transform(data.train), scaler.transform(data.val)
    scores: dict[float, float] = {}
    previous = None
    for C in C_GRID:  # increasing C, each fit warm-started from the last
        same_classes = previous is not None and previous.coef_.shape[0] == len(
            np.unique(data.train_codes)
        )
        model = fit(fit_X, data.train_codes, C, previous if same_classes else None)
        scores[C] = float(np.mean(model.predict(val_X) == data.val_codes))
        previous = model
    best_C = max(C_GRID, key=lambda c: (scores[c], -c))  # ties: the stronger regularisation
    all_X = np.concatenate([data.train, data.val])
    all_codes = np.concatenate([data.train_codes, data.val_codes])
    scaler = StandardScaler().fit(all_X)
    final = fit(scaler.transform(all_X), all_codes, best_C)
    predicted = final.predict(scaler.transform(data.test))
    return ProbeResult(
        accuracy=_accuracy(data.classes, predicted, data.test_labels),
        val_accuracy=scores[best_C],
        params=int(final.coef_.size + final.intercept_.size),
        info={"C": best_C, "val_scores": scores, "seconds": time.perf_counter() - start},
        name="linear",
        predictions=data.classes[predicted],
    )


def knn_probe(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> ProbeResult:
    """Weighted kNN probe; ``k`` and ``T`` chosen on validation from ``KNN_KS x KNN_TEMPERATURES``.

    ``info["test_accuracy"]`` also lists the test accuracy of every (k, T) pair, the figures
    usually quoted (k = 20 and 200, T = 0.07 and 0.1).
    """
    from contrastlab.analysis._inputs import l2_normalise
    from contrastlab.analysis.neighbours import _predict_codes

    start = time.perf_counter()
    data = _prepare(train_features, train_labels, test_features, test_labels, val_fraction, seed)
    K = len(data.classes)
    fit, val, test = (l2_normalise(a) for a in (data.train, data.val, data.test))
    bank = np.concatenate([fit, val])
    bank_codes = np.concatenate([data.train_codes, data.val_codes])
    val_scores: dict[str, float] = {}
    test_scores: dict[str, float] = {}
    test_predictions: dict[str, np.ndarray] = {}
    for T in KNN_TEMPERATURES:
        on_val = _predict_codes(fit, data.train_codes, K, val, KNN_KS, T)
        on_test = _predict_codes(bank, bank_codes, K, test, KNN_KS, T)
        for k in KNN_KS:
            key = f"k={k},T={T}"
            val_scores[key] = float(np.mean(on_val[k] == data.val_codes))
            test_scores[key] = _accuracy(data.classes, on_test[k], data.test_labels)
            test_predictions[key] = on_test[k]
    best = max(val_scores, key=lambda key: val_scores[key])  # first best in grid order
    return ProbeResult(
        accuracy=test_scores[best],
        val_accuracy=val_scores[best],
        params=0,
        info={
            "chosen": best,
            "val_accuracy": val_scores,
            "test_accuracy": test_scores,
            "seconds": time.perf_counter() - start,
        },
        name="knn",
        predictions=data.classes[test_predictions[best]],
    )


class _PropagationLayer(nn.Module):
    """``A (H Theta) + s H Theta + b`` with a learned scalar self-loop weight ``s``."""

    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width_in, width_out, bias=False)
        self.self_weight = nn.Parameter(torch.ones(()))
        self.bias = nn.Parameter(torch.zeros(width_out))

    def forward(self, adjacency: Tensor, h: Tensor) -> Tensor:
        projected = self.linear(h)
        return adjacency @ projected + self.self_weight * projected + self.bias


class _LabelGCN(nn.Module):
    def __init__(self, n_classes: int, width: int) -> None:
        super().__init__()
        self.labels = nn.Embedding(n_classes + 1, width)  # index n_classes = unknown
        self.layer1 = _PropagationLayer(width, width)
        self.norm = nn.BatchNorm1d(width)
        self.layer2 = _PropagationLayer(width, n_classes)

    def forward(self, adjacency: Tensor, node_labels: Tensor) -> Tensor:
        h = self.layer1(adjacency, self.labels(node_labels))
        h = nn.functional.selu(self.norm(h))
        return self.layer2(adjacency, h)


# Entries of the normalised graph below this fraction of its largest are dropped: they change
# nothing numerically, and as float32 subnormals they slow every product a hundredfold.
_ADJACENCY_FLOOR = 1e-12


def _normalised_adjacency(features: np.ndarray, t: float, top_k: int | None) -> Tensor:
    """``D^-1/2 W D^-1/2`` of RLD's graph, dense or sparse (float32 tensor)."""
    import scipy.sparse as sp

    from contrastlab.analysis.density import rld_weights

    W = rld_weights(features, t, top_k=top_k)
    if top_k is None:
        degree = W.sum(axis=1)
        scale = 1.0 / np.sqrt(np.maximum(degree, np.finfo(np.float64).tiny))
        A_dense = W * scale[:, None] * scale[None, :]
        A_dense[A_dense < _ADJACENCY_FLOOR * A_dense.max()] = 0.0
        return torch.from_numpy(A_dense.astype(np.float32))
    degree = np.asarray(W.sum(axis=1)).ravel()
    scale = sp.diags(1.0 / np.sqrt(np.maximum(degree, np.finfo(np.float64).tiny)))
    A = (scale @ W @ scale).tocoo()
    keep = A.data >= _ADJACENCY_FLOOR * A.data.max()
    A = sp.coo_matrix((A.data[keep], (A.row[keep], A.col[keep])), shape=A.shape)
    index = torch.from_numpy(np.vstack([A.row, A.col]).astype(np.int64))
    values = torch.from_numpy(A.data.astype(np.float32))
    return torch.sparse_coo_tensor(index, values, A.shape, check_invariants=True).coalesce()


@dataclass(frozen=True)
class _GCNGraph:
    """The probe's transductive graph: nodes are the training rows (labels known to the model),
    then the validation rows, then the test rows (both unknown)."""

    adjacency: Tensor
    known_inputs: Tensor  # node label codes, n_classes (= unknown) outside the training rows
    fit_codes: Tensor
    val_codes: Tensor
    n_classes: int

    @property
    def n_fit(self) -> int:
        return len(self.fit_codes)

    @property
    def n_val(self) -> int:
        return len(self.val_codes)

    @classmethod
    def build(cls, data: _Data, adjacency: Tensor) -> _GCNGraph:
        n_classes = len(data.classes)
        fit_codes = torch.from_numpy(data.train_codes)
        known = torch.full((adjacency.shape[0],), n_classes, dtype=torch.int64)
        known[: len(fit_codes)] = fit_codes  # validation and test nodes stay unknown
        return cls(adjacency, known, fit_codes, torch.from_numpy(data.val_codes), n_classes)


def _gcn_step(
    model: _LabelGCN, optimiser: torch.optim.Optimizer, graph: _GCNGraph, generator: torch.Generator
) -> None:
    """One full-batch step: hide a random share ``U(0.05, 0.6)`` of the training labels (at
    least one) and fit the hidden ones (cross-entropy)."""
    model.train()
    n_fit = graph.n_fit
    hide_fraction = 0.05 + 0.55 * torch.rand((), generator=generator)
    hidden = torch.rand(n_fit, generator=generator) < hide_fraction
    if not hidden.any():
        hidden[torch.randint(n_fit, (1,), generator=generator)] = True
    inputs = graph.known_inputs.clone()
    inputs[:n_fit][hidden] = graph.n_classes
    logits = model(graph.adjacency, inputs)
    loss = nn.functional.cross_entropy(logits[:n_fit][hidden], graph.fit_codes[hidden])
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()


@torch.no_grad()
def _gcn_validate(model: _LabelGCN, graph: _GCNGraph) -> tuple[float, float, Tensor]:
    """Validation accuracy and loss with every training label shown, and the test predictions."""
    model.eval()
    scores = model(graph.adjacency, graph.known_inputs)
    predicted = scores.argmax(dim=1)
    val = slice(graph.n_fit, graph.n_fit + graph.n_val)
    val_loss = float(nn.functional.cross_entropy(scores[val], graph.val_codes))
    val_accuracy = float((predicted[val] == graph.val_codes).float().mean())
    return val_accuracy, val_loss, predicted[val.stop :].clone()


def gcn_probe(
    train_features: Any,
    train_labels: Any,
    test_features: Any,
    test_labels: Any,
    *,
    val_fraction: float = 0.1,
    seed: int = 0,
    t: float = 0.1,
    top_k: int | None = None,
    width: int = 16,
    epochs: int = 300,
    patience: int = 50,
    lr: float = 0.1,
) -> ProbeResult:
    """Transductive label-propagation GCN probe on RLD's graph (see the module docstring).

    Args:
        t: temperature of the graph ``W``.
        top_k: entries kept per row of ``W``; ``None`` chooses dense up to
            ``GCN_DENSE_MAX_NODES`` nodes and ``GCN_TOP_K`` above.
        width: label-embedding and hidden width (16 as the authors).
        epochs, patience: at most ``epochs`` full-batch steps; stop after ``patience`` steps
            without a better validation accuracy.
        lr: AdamW learning rate.

    Returns:
        ``ProbeResult``; ``info`` holds the graph kind, ``top_k``, the chosen epoch and the
        number of epochs run.
    """
    start = time.perf_counter()
    for name, value in (("width", width), ("epochs", epochs), ("patience", patience)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an integer >= 1, got {value!r}")
    data = _prepare(train_features, train_labels, test_features, test_labels, val_fraction, seed)
    nodes = np.concatenate([data.train, data.val, data.test])
    n = nodes.shape[0]
    if top_k is None and n > GCN_DENSE_MAX_NODES:
        top_k = GCN_TOP_K
    graph = _GCNGraph.build(data, _normalised_adjacency(nodes, t, top_k))

    with torch.random.fork_rng(devices=[]), single_thread(n <= GCN_DENSE_MAX_NODES):
        torch.manual_seed(seed)
        model = _LabelGCN(graph.n_classes, width)
        optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
        generator = torch.Generator().manual_seed(seed)
        # model choice on validation only: best accuracy, ties broken by lower validation loss
        # (with a small validation set accuracy saturates within a few steps, and the first
        # step to reach it is rarely the best-trained one)
        best = (-1.0, 0, torch.zeros(n - graph.n_fit - graph.n_val, dtype=torch.int64))
        best_loss = math.inf
        epoch = 0
        for epoch in range(1, epochs + 1):
            _gcn_step(model, optimiser, graph, generator)
            val_accuracy, val_loss, test_predicted = _gcn_validate(model, graph)
            if val_accuracy > best[0] or (val_accuracy == best[0] and val_loss < best_loss):
                best = (val_accuracy, epoch, test_predicted)
                best_loss = val_loss
            elif epoch - best[1] >= patience:
                break
    params = sum(p.numel() for p in model.parameters())
    predicted_codes = best[2].numpy()
    return ProbeResult(
        accuracy=_accuracy(data.classes, predicted_codes, data.test_labels),
        val_accuracy=best[0],
        params=int(params),
        info={
            "graph": "dense" if top_k is None else "top_k",
            "top_k": top_k,
            "t": t,
            "nodes": n,
            "best_epoch": best[1],
            "epochs_run": epoch,
            "seconds": time.perf_counter() - start,
        },
        name="gcn",
        predictions=data.classes[predicted_codes],
    )
