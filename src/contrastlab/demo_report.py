"""The demo's report: accuracies against raw pixels, density diagnostics, 2-D maps, training
curves, and a reading of the numbers in words (:func:`reading`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from contrastlab.report import Report

ACCURACY_COLUMNS = ("knn_top1_k20", "knn_top1_k200", "linear_top1")

#: One test image of the 360-image digits test split, as a share (differences of one or two
#: images are within what another seed changes).
ONE_IMAGE = 1 / 360


def report(out: Path, metrics: dict[str, Any]) -> Report:
    """The demo's report (``report.html``)."""
    from contrastlab.train.curves import training_curves

    runs, raw = metrics["runs"], metrics["raw_pixels"]
    first = next(iter(runs.values()))
    page = Report("contrastlab demo: three kernels on handwritten digits")
    page.text(
        f"SimCLR-style training on scikit-learn's 8 x 8 digits ({first['train_size']} training, "
        f"{first['test_size']} test images, stratified split), {first['epochs']} epochs per "
        "kernel, the same seed, backbone, augmentation and optimiser; only the kernel differs: "
        "cosine (SimCLR), Student-t (t-SimCLR's heavy tail; the projector ends in a BatchNorm "
        "instead of the sphere) and Simple Sum (Kernel-InfoNCE: a Gaussian and a Laplacian "
        "kernel in one softmax). Accuracies are those of the final epoch on frozen backbone "
        "features (kNN: cosine, similarity-weighted votes; linear: logistic regression); raw "
        "pixels are evaluated the same way."
    )
    page.heading("What the numbers say")
    for sentence in metrics["reading"]:
        page.text(sentence)
    page.table(["features", *ACCURACY_COLUMNS, "images/s", "seconds"], _accuracy_rows(runs, raw),
               title="Test accuracy")  # fmt: skip
    page.table(
        ["pair", "equal accuracies", "kNN predictions that differ", "max |cos sim difference|"],
        [
            [
                f"{c['a']} / {c['b']}",
                ", ".join(c["equal_accuracies"]) or "none",
                c["knn_predictions_differ"],
                c["max_similarity_difference"],
            ]
            for c in metrics["comparisons"]
        ],  # fmt: skip
        title="Are the runs really different? (test split)",
    )
    _diagnostics_section(page, metrics)
    page.figure(
        training_curves({n: r["history"] for n, r in runs.items()}),
        "Training loss and monitors (kNN k = 20, online linear probe) per epoch",
    )
    page.text(
        f"Total time {metrics['seconds']:.0f} s. Run folders (config.yaml, checkpoint.pt, "
        f"metrics.jsonl): {', '.join(str(out / n) for n in runs)}."
    )
    return page


def _accuracy_rows(runs: dict[str, Any], raw: dict[str, float]) -> list[list[Any]]:
    rows: list[list[Any]] = [
        [
            f"{name} ({result.get('spec', result['kernel'])})",
            *(result["final"][c] for c in ACCURACY_COLUMNS),
            result["images_per_second"],
            result["seconds"],
        ]
        for name, result in runs.items()
    ]
    rows.append(["raw pixels", *(raw[c] for c in ACCURACY_COLUMNS), float("nan"), float("nan")])
    return rows


def _diagnostics_section(page: Report, metrics: dict[str, Any]) -> None:
    """RLD across temperatures, the purity curve, the headline table and the 2-D maps."""
    named = {**{n: r["diagnostics"] for n, r in metrics["runs"].items()},
             "raw pixels": metrics["raw_diagnostics"]}  # fmt: skip
    page.heading("Density diagnostics of the test features")
    keys = ("neighbour_purity_k10", "rld_t0.1", "calinski_harabasz")
    page.table(["features", *keys], [[n, *(d[k] for k in keys)] for n, d in named.items()],
               title="Headline diagnostics (higher: denser, purer classes)")  # fmt: skip
    page.figure(_curves_figure(named), "RLD across temperatures and neighbour purity over k")
    maps = {**{n: r["map"] for n, r in metrics["runs"].items()}, "raw pixels": metrics["raw_map"]}
    page.figure(
        _maps_figure(maps),
        "t-SNE maps of the test features (scikit-learn, PCA start, cosine distances, seed 0); "
        "in brackets the leave-one-out kNN (k = 10) accuracy of the map's points",
    )


def _curves_figure(named: dict[str, dict[str, Any]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rld, ax_purity) = plt.subplots(1, 2, figsize=(10, 3.6))
    for index, (name, found) in enumerate(named.items()):
        style = "--" if name == "raw pixels" else "-o"
        colour = "0.4" if name == "raw pixels" else f"C{index}"
        ts = [float(t) for t in found["rld"]]
        ax_rld.plot(ts, list(found["rld"].values()), style, color=colour, label=name, ms=3)
        ks = [int(k) for k in found["purity"]]
        ax_purity.plot(ks, list(found["purity"].values()), style, color=colour, label=name, ms=3)
    bound = next(iter(named.values()))["rld_upper_bound"]
    ax_rld.plot([float(t) for t in bound], list(bound.values()), ":", color="k", label="perfect")
    ax_rld.set(xscale="log", xlabel="temperature t", ylabel="RLD", title="RLD across temperatures")
    ax_purity.set(xscale="log", xlabel="k", ylabel="neighbour purity", title="Purity curve")
    for ax in (ax_rld, ax_purity):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _maps_figure(maps: dict[str, dict[str, Any]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(maps), figsize=(3.2 * len(maps), 3.3))
    for ax, (name, found) in zip(np.atleast_1d(axes), maps.items(), strict=True):
        points = np.asarray(found["points"])
        ax.scatter(points[:, 0], points[:, 1], c=found["labels"], cmap="tab10", s=5, lw=0)
        ax.set(title=f"{name} ({found['knn_top1_k10']:.3f})", xticks=[], yticks=[])
    fig.tight_layout()
    return fig


def reading(metrics: dict[str, Any]) -> list[str]:
    """The results in words: the margin over raw pixels, the best kernel and whether its lead
    is more than a test image or two, what RLD and purity say, and the runs' distinctness."""
    runs, raw = metrics["runs"], metrics["raw_pixels"]
    knn = {n: r["final"]["knn_top1_k20"] for n, r in runs.items()}
    margins = {n: v - raw["knn_top1_k20"] for n, v in knn.items()}
    worst = min(margins, key=margins.__getitem__)
    verdict = "above" if margins[worst] > 0 else "NOT above"
    sentences = [
        f"Every kernel's kNN (k = 20) is {verdict} raw pixels' {raw['knn_top1_k20']:.4f}: "
        + ", ".join(f"{n} {v:.4f} ({margins[n] * 100:+.1f} points)" for n, v in knn.items())
        + f"; the smallest margin, {worst}'s, is {margins[worst] / ONE_IMAGE:.0f} test images."
        if margins[worst] > 0
        else f"Not every kernel beats raw pixels on kNN (k = 20): {worst} has "
        f"{knn[worst]:.4f} against {raw['knn_top1_k20']:.4f}.",
    ]
    ranked = sorted(knn, key=knn.__getitem__, reverse=True)
    lead = round((knn[ranked[0]] - knn[ranked[1]]) / ONE_IMAGE)
    if lead == 0:
        tied = [n for n in ranked if knn[n] == knn[ranked[0]]]
        sentences.append(f"Best kNN: a tie of {', '.join(tied)} at {knn[ranked[0]]:.4f}.")
    else:
        noise = "within what another seed changes, so no finding" if lead <= 2 else "real"
        sentences.append(
            f"Best kNN: {ranked[0]}, {lead} test image(s) ahead of {ranked[1]}: {noise}."
        )
    sentences += _density_sentences(metrics)
    same = [c for c in metrics["comparisons"] if c["equal_accuracies"]]
    for c in same:
        sentences.append(
            f"{c['a']} and {c['b']} share {', '.join(c['equal_accuracies'])} to the last digit, "
            f"yet their kNN predictions differ on {c['knn_predictions_differ']} test images and "
            f"their similarities by up to {c['max_similarity_difference']:.2f}: different runs "
            "that happen to score alike."
        )
    return sentences


def _density_sentences(metrics: dict[str, Any]) -> list[str]:
    runs, raw_d = metrics["runs"], metrics["raw_diagnostics"]
    rld = {n: r["diagnostics"]["rld_t0.1"] for n, r in runs.items()}
    densest = max(rld, key=rld.__getitem__)
    bound = raw_d["rld_upper_bound"]["0.1"]
    far = {n: r["diagnostics"]["purity"]["100"] for n, r in runs.items()}
    purest = max(far, key=far.__getitem__)
    counts = np.bincount(np.unique(metrics["raw_map"]["labels"], return_inverse=True)[1])
    ceiling = float(np.mean(np.minimum(counts - 1, 100) / 100))  # a class's own test images
    return [
        f"Local density (RLD at t = 0.1; perfectly separated classes would give {bound:.3f}): "
        f"{densest} "
        f"has the densest classes ({rld[densest]:.3f}), against "
        + ", ".join(f"{n} {v:.3f}" for n, v in rld.items() if n != densest)
        + f" and raw pixels {raw_d['rld_t0.1']:.3f}.",
        f"Purity further out: among the 100 nearest test neighbours, {far[purest] * 100:.1f}% "
        f"share the class for {purest}, against {raw_d['purity']['100'] * 100:.1f}% for raw "
        f"pixels (at most about {ceiling * 100:.0f}%: a class has about {np.mean(counts):.0f} "
        "test images); the learned features keep classes together beyond the first few "
        "neighbours, which a kNN accuracy alone does not show.",
    ]
