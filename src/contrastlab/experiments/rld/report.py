"""The report of ``reproduce rld``: one function per section, the prose as module-level text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from contrastlab.experiments._common import figure, fmt
from contrastlab.experiments._kernel_settings import spec_text
from contrastlab.experiments.rld import comparison
from contrastlab.experiments.rld.claims import (
    MARGIN_SE,
    PURITY_RULE_NOTE,
    density_parts,
    locality,
    paired,
)
from contrastlab.experiments.rld.comparison import pm
from contrastlab.experiments.rld.compute import MODELS
from contrastlab.experiments.rld.settings import Settings
from contrastlab.report import Claim, Report
from contrastlab.report import figures as report_figures

TITLE = "Reproduction: how contrastive learning organises images (RLD, purity, GCN)"
CLAIM_TEXT = (
    "Claim (Zhang, Lu, Xuan 2023): contrastive learning packs same-class images into many "
    "small, locally dense groups, supervised learning into a few globally dense clusters; "
    "the global Calinski-Harabasz score (CH) misses this, RLD (relative local density: the "
    "modularity, with the classes as communities, of a graph whose edge i-j is strong when i "
    "and j are among each other's nearest points at temperature t; small t is local) "
    "captures it; and a label-propagation GCN on that graph can beat a linear probe with "
    "fewer parameters."
)
DONE_TEXT = (
    "What was done: RLD and CH of the authors' six 2-D toy sets ({draws} draws) and of the "
    "project's own six; then, at each of {seeds} seed(s) ({seed_list}), two models trained on "
    "'{data}' for {epochs} epochs each with the same backbone, augmentation, optimiser, "
    "schedule and seed: a contrastive one (SimCLR, kernel {kernel}, batch {batch_size}) and a "
    "supervised one (a linear head on the same backbone, cross-entropy, one augmented view per "
    "step). Every diagnostic uses the backbone features of the test split ({test_size} images, "
    "{dim} dimensions), L2-normalised. The probes are fitted on the training split's features "
    "and scored on the test split; each chooses its settings on a validation part of the "
    "training split (the GCN too: the authors reported the best test accuracy over training, "
    "which is optimistic)."
)
GCN_CHOICE_NOTE = (
    "Probe change after the first runs: the GCN probe first kept the first training step that "
    "reached the best validation accuracy; with 144 validation images that was step 3 on the "
    "contrastive features, and gcn_versus_linear was not supported (digits, seed 0: quick "
    "GCN 0.9667 vs linear 0.9917; full 200 epochs 0.9722 vs 0.9944). The probe now breaks "
    "validation-accuracy ties by the lower validation loss (still never looking at test "
    "labels); the rule itself is unchanged. After the change: quick 0.9917 vs 0.9917 (a tie, "
    "which the >= rule counts as supported), full 0.9722 vs 0.9944 (not supported): on digits "
    "the GCN matches the linear probe at best, with half its parameters. That one-seed >= rule "
    "was then replaced (issue 14) by the several-seed rule of gcn_versus_linear, under which a "
    "tie is not support."
)
GCN_TEXT = (
    "The GCN uses RLD's graph at t = {gcn_t} over train and test nodes, label embeddings of "
    "width 16 as inputs, two propagation layers, and at most {gcn_epochs} full-batch AdamW "
    "steps with early stopping on validation."
)
CLOSING_TEXT = (
    "The decision rules and their thresholds were fixed in the code before any result was "
    "seen (the several-seed forms and authors_toy_values_match before the several-seed runs). "
    "The authors' own saved runs did not show the GCN beating the linear probe on CIFAR-10 "
    "(0.8574 against 0.8643, both chosen on test accuracy), so gcn_versus_linear is tested, "
    "not assumed, and a tie is not support. One dataset: the verdicts are about this setting, "
    "not a general law."
)
PURITY_CAPTION = (
    "Share of each test point's k nearest test neighbours (cosine) with its label; k is "
    "capped at N - 1. The third line is the most any embedding can reach with these class "
    "sizes: beyond the class size purity must fall for every model."
)
# which validation choice each probe reports in its ``info``
_CHOICE_KEYS = {"linear": "C", "knn": "chosen", "gcn": "best_epoch"}


def build_report(
    settings: Settings,
    toys: dict[str, Any],
    runs: Sequence[dict[str, Any]],
    claims: list[Claim],
    trained: dict[str, Any],
) -> Report:
    """The whole report: claim, toys, density, purity, probes, across training, verdicts."""
    con = runs[0]["contrastive"]
    report = Report(TITLE)
    draws = settings.toy_seeds
    done = DONE_TEXT.format(
        draws=draws,
        seeds=len(runs),
        seed_list=", ".join(str(run["seed"]) for run in runs),
        data=settings.data,
        epochs=trained["epochs"],
        kernel=spec_text(settings.kernel),
        batch_size=settings.batch_size,
        test_size=con["test_size"],
        dim=con["dim"],
    )
    report.text(f"{CLAIM_TEXT}\n\n{done}")
    comparison.toys_section(report, settings, toys, draws)
    ts = sorted(con["rld"], reverse=True)
    _density_section(report, runs, ts)
    _purity_section(report, runs)
    _probes_section(report, settings, runs)
    _training_section(report, runs[0], ts, trained["saves"])
    _verdicts_section(report, runs, claims)
    return report


def _density_section(report: Report, runs: Sequence[dict[str, Any]], ts: list[float]) -> None:
    con = runs[0]["contrastive"]
    report.heading("Density of the learned features")
    mean_rld = {
        n: (ts, [float(np.mean([run[n]["rld"][t] for run in runs])) for t in ts]) for n in MODELS
    }
    report.figure(
        report_figures.rld_curve(mean_rld),
        f"RLD of the test features against temperature (mean over {len(runs)} seed(s)).",
    )
    rows = [
        [
            n,
            pm([run[n]["calinski_harabasz"] for run in runs]),
            *(pm([run[n]["rld"][t] for run in runs]) for t in ts),
            pm([locality(run[n]) for run in runs]),
        ]
        for n in MODELS
    ]
    report.table(
        ["model", "CH", *(f"RLD t={t:g}" for t in ts), "RLD(small t) / RLD(large t)"],
        rows,
        title=f"Mean ± sd over seeds; upper bound of RLD here: "
        f"{fmt(con['rld_upper_bound'][ts[0]])}",
    )
    report.table(
        ["seed", "model", "training seconds", "final training loss"],
        [[run["seed"], n, run[n]["seconds"], run[n]["final_loss"]] for run in runs for n in MODELS],
    )


def _purity_section(report: Report, runs: Sequence[dict[str, Any]]) -> None:
    first = runs[0]
    report.heading("Neighbour label purity")
    curves = {n: first[n]["purity"] for n in MODELS}
    curves["best possible (class sizes)"] = first["contrastive"]["purity_ceiling"]
    report.figure(report_figures.purity_curve(curves), f"{PURITY_CAPTION} Seed {first['seed']}.")
    comparison.purity_table(report, runs)
    report.text(PURITY_RULE_NOTE)


def _probes_section(report: Report, settings: Settings, runs: Sequence[dict[str, Any]]) -> None:
    con = runs[0]["contrastive"]
    report.heading("Probes")
    report.text(GCN_CHOICE_NOTE)
    rows = [
        [
            probe,
            *(pm([run[n]["probes"][probe].accuracy for run in runs]) for n in MODELS),
            con["probes"][probe].params,
            _choice(con["probes"][probe]),
        ]
        for probe in ("linear", "knn", "gcn")
    ]
    for key in ("k=20,T=0.1", "k=200,T=0.1"):
        accuracies = (
            pm([run[n]["probes"]["knn"].info["test_accuracy"][key] for run in runs]) for n in MODELS
        )
        rows.append([f"kNN {key}", *accuracies, 0, "fixed"])
    report.table(
        ["probe", *(f"{n} test accuracy" for n in MODELS), "parameters", "choice (first seed)"],
        rows,
        title="Test accuracy of the probes, mean ± sd over seeds (kNN: cosine, votes exp(sim / T))",
    )
    comparison.probes_table(report, runs)
    report.text(GCN_TEXT.format(gcn_t=settings.gcn_t, gcn_epochs=settings.gcn_epochs))


def _training_section(
    report: Report, run: dict[str, Any], ts: list[float], saves: list[int]
) -> None:
    report.heading("Across training")
    fig, axes = figure(ncols=2)
    for n, style in zip(MODELS, ("-", "--")):
        epochs = sorted(run[n]["checkpoints"])
        for i, t in enumerate(ts):
            values = [run[n]["checkpoints"][e]["rld"][i] for e in epochs]
            axes[0, 0].plot(epochs, values, style, marker="o", color=f"C{i}", label=f"{n} t={t:g}")
        ch = [run[n]["checkpoints"][e]["calinski_harabasz"] for e in epochs]
        axes[0, 1].plot(epochs, ch, style, marker="o", color="k", label=n)
    for ax, label in zip(axes[0], ("RLD", "Calinski-Harabasz")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    report.figure(
        fig,
        f"RLD (left, one colour per t) and CH (right) of the test features after epochs {saves}; "
        f"solid: contrastive, dashed: supervised; seed {run['seed']}.",
    )
    report.table(
        ["model", "epoch", *(f"RLD t={t:g}" for t in ts), "CH"],
        [
            [n, e, *run[n]["checkpoints"][e]["rld"], run[n]["checkpoints"][e]["calinski_harabasz"]]
            for n in MODELS
            for e in sorted(run[n]["checkpoints"])
        ],
    )


PART_NAMES = {
    "global": "log CH(supervised) - log CH(contrastive)",
    "purity": "relative purity fall, contrastive - supervised",
    "locality": "RLD(small t) / RLD(large t), contrastive - supervised",
}


def _verdicts_section(report: Report, runs: Sequence[dict[str, Any]], claims: list[Claim]) -> None:
    report.heading("What the numbers say")
    for claim in claims:
        evidence = ", ".join(f"{k} = {fmt(float(v))}" for k, v in claim.evidence.items())
        reason = f" ({claim.reason})" if claim.reason else ""
        report.text(
            f'{claim.id}: {claim.verdict}{reason}: "{claim.statement}" ({evidence}). '
            f"Rule: {claim.rule}."
        )
    rows = []
    for name, values in density_parts(runs).items():
        mean, se = paired(values)
        rows.append([PART_NAMES[name], ", ".join(fmt(v) for v in values), mean, se,
                     mean - MARGIN_SE * se])  # fmt: skip
    report.table(
        ["part (> 0 favours the claim)", "per seed", "mean", "standard error", "margin"],
        rows,
        title="The three parts of contrastive_locally_dense (each met when its margin "
        "mean - 2 SE > 0; all must be met)",
    )
    report.text(CLOSING_TEXT)


def _choice(result: Any) -> str:
    key = _CHOICE_KEYS[result.name]
    return f"{key}: {result.info[key]}"
