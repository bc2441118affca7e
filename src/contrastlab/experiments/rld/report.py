"""The report of ``reproduce rld``: one function per section, the prose as module-level text."""

from __future__ import annotations

from typing import Any

from contrastlab.experiments._common import figure, fmt
from contrastlab.experiments._kernel_settings import spec_text
from contrastlab.experiments.rld.claims import PURITY_RULE_NOTE, locality, purity_fall
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
    "What was done: RLD and CH of six 2-D toy sets; then two models trained on "
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
    "the GCN matches the linear probe at best, with half its parameters."
)
GCN_TEXT = (
    "The GCN uses RLD's graph at t = {gcn_t} over train and test nodes, label embeddings of "
    "width 16 as inputs, two propagation layers, and at most {gcn_epochs} full-batch AdamW "
    "steps with early stopping on validation."
)
CLOSING_TEXT = (
    "The decision rules and their thresholds were fixed in the code before any result was "
    "seen. The authors' own saved runs did not show the GCN beating the linear probe on "
    "CIFAR-10, so gcn_versus_linear is tested, not assumed. One seed and one dataset: the "
    "verdicts are about this run, not a general law."
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
    toys: dict[str, dict[str, Any]],
    res: dict[str, dict[str, Any]],
    claims: list[Claim],
    trained: dict[str, Any],
) -> Report:
    """The whole report: claim, toys, density, purity, probes, across training, verdicts."""
    con = res["contrastive"]
    report = Report(TITLE)
    done = DONE_TEXT.format(
        data=settings.data,
        epochs=trained["epochs"],
        kernel=spec_text(settings.kernel),
        batch_size=settings.batch_size,
        test_size=con["test_size"],
        dim=con["dim"],
    )
    report.text(f"{CLAIM_TEXT}\n\n{done}")
    _toys_section(report, settings, toys)
    ts = sorted(con["rld"], reverse=True)
    _density_section(report, res, ts)
    _purity_section(report, res)
    _probes_section(report, settings, res)
    _training_section(report, res, ts, trained["saves"])
    _verdicts_section(report, res, claims)
    return report


def _toys_section(report: Report, settings: Settings, toys: dict[str, dict[str, Any]]) -> None:
    report.heading("Toy sets: local versus global density")
    report.figure(
        report_figures.toy_grid(
            [
                (n, v["X"], v["y"], f"RLD={fmt(v['rld'])}, CH={fmt(v['calinski_harabasz'])}")
                for n, v in toys.items()
            ]
        ),
        f"The six 2-D toy sets (5 classes x {settings.toy_points} points), RLD at "
        f"t = {settings.toy_t} and CH, both on the raw coordinates. The shapes are the "
        "project's documented versions (data.toys); the paper's exact shapes were not confirmed.",
    )
    report.table(
        ["toy set", f"RLD (t={settings.toy_t})", "CH"],
        [[n, v["rld"], v["calinski_harabasz"]] for n, v in toys.items()],
    )


def _density_section(report: Report, res: dict[str, dict[str, Any]], ts: list[float]) -> None:
    con = res["contrastive"]
    report.heading("Density of the learned features")
    report.figure(
        report_figures.rld_curve({n: (ts, [res[n]["rld"][t] for t in ts]) for n in MODELS}),
        "RLD of the test features against temperature.",
    )
    rows = [
        [n, res[n]["calinski_harabasz"], *(res[n]["rld"][t] for t in ts), locality(res[n])]
        for n in MODELS
    ]
    report.table(
        ["model", "CH", *(f"RLD t={t:g}" for t in ts), "RLD(small t) / RLD(large t)"],
        rows,
        title=f"Upper bound of RLD here: {fmt(con['rld_upper_bound'][ts[0]])}",
    )
    report.table(
        ["model", "training seconds", "final training loss"],
        [[n, res[n]["seconds"], res[n]["final_loss"]] for n in MODELS],
    )


def _purity_section(report: Report, res: dict[str, dict[str, Any]]) -> None:
    con = res["contrastive"]
    report.heading("Neighbour label purity")
    curves = {n: res[n]["purity"] for n in MODELS}
    curves["best possible (class sizes)"] = con["purity_ceiling"]
    report.figure(report_figures.purity_curve(curves), PURITY_CAPTION)
    report.table(
        ["k", *(f"{n} purity" for n in MODELS), *(f"{n} relative" for n in MODELS)],
        [
            [
                k,
                *(res[n]["purity"][k] for n in MODELS),
                *(res[n]["relative_purity"][k] for n in MODELS),
            ]
            for k in sorted(con["purity"])
        ],
        title="Purity, and relative purity = purity / best possible",
    )
    report.text(PURITY_RULE_NOTE)


def _probes_section(report: Report, settings: Settings, res: dict[str, dict[str, Any]]) -> None:
    con = res["contrastive"]
    report.heading("Probes")
    report.text(GCN_CHOICE_NOTE)
    rows = [
        [
            probe,
            *(res[n]["probes"][probe].accuracy for n in MODELS),
            con["probes"][probe].params,
            _choice(con["probes"][probe]),
        ]
        for probe in ("linear", "knn", "gcn")
    ]
    for key in ("k=20,T=0.1", "k=200,T=0.1"):
        accuracies = (res[n]["probes"]["knn"].info["test_accuracy"][key] for n in MODELS)
        rows.append([f"kNN {key}", *accuracies, 0, "fixed"])
    report.table(
        ["probe", *(f"{n} test accuracy" for n in MODELS), "parameters", "choice (contrastive)"],
        rows,
        title="Test accuracy of the probes (kNN: cosine, votes exp(sim / T))",
    )
    report.text(GCN_TEXT.format(gcn_t=settings.gcn_t, gcn_epochs=settings.gcn_epochs))


def _training_section(
    report: Report, res: dict[str, dict[str, Any]], ts: list[float], saves: list[int]
) -> None:
    report.heading("Across training")
    fig, axes = figure(ncols=2)
    for n, style in zip(MODELS, ("-", "--")):
        epochs = sorted(res[n]["checkpoints"])
        for i, t in enumerate(ts):
            values = [res[n]["checkpoints"][e]["rld"][i] for e in epochs]
            axes[0, 0].plot(epochs, values, style, marker="o", color=f"C{i}", label=f"{n} t={t:g}")
        ch = [res[n]["checkpoints"][e]["calinski_harabasz"] for e in epochs]
        axes[0, 1].plot(epochs, ch, style, marker="o", color="k", label=n)
    for ax, label in zip(axes[0], ("RLD", "Calinski-Harabasz")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    report.figure(
        fig,
        f"RLD (left, one colour per t) and CH (right) of the test features after epochs {saves}; "
        "solid: contrastive, dashed: supervised.",
    )
    report.table(
        ["model", "epoch", *(f"RLD t={t:g}" for t in ts), "CH"],
        [
            [n, e, *res[n]["checkpoints"][e]["rld"], res[n]["checkpoints"][e]["calinski_harabasz"]]
            for n in MODELS
            for e in sorted(res[n]["checkpoints"])
        ],
    )


def _verdicts_section(report: Report, res: dict[str, dict[str, Any]], claims: list[Claim]) -> None:
    report.heading("What the numbers say")
    for claim in claims:
        verdict = "supports" if claim.supported else "does NOT support"
        evidence = ", ".join(f"{k} = {fmt(float(v))}" for k, v in claim.evidence.items())
        report.text(
            f'{claim.id}: the run {verdict} "{claim.statement}" ({evidence}). Rule: {claim.rule}.'
        )
    con, sup = res["contrastive"], res["supervised"]
    ch_con, ch_sup = con["calinski_harabasz"], sup["calinski_harabasz"]
    parts = (
        ("global density (CH) higher for supervised", ch_con, ch_sup, ch_sup > ch_con),
        (
            "relative purity falls more with k for contrastive",
            purity_fall(con),
            purity_fall(sup),
            purity_fall(con) > purity_fall(sup),
        ),
        (
            "RLD(small t) / RLD(large t) larger for contrastive",
            locality(con),
            locality(sup),
            locality(con) > locality(sup),
        ),
    )
    report.table(
        ["part", "contrastive", "supervised", "met"],
        [list(part) for part in parts],
        title="The three parts of contrastive_locally_dense (all must be met)",
    )
    report.text(CLOSING_TEXT)


def _choice(result: Any) -> str:
    key = _CHOICE_KEYS[result.name]
    return f"{key}: {result.info[key]}"
