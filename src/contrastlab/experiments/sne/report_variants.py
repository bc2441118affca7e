"""The report's parts beside the claims of ``reproduce sne``: the nu sweep, noise against mixup
on vectors, the 2-D Gaussian toy (``sne.variants``, ``sne.toy``)."""

from __future__ import annotations

from typing import Any

from contrastlab.experiments._common import mean_sd
from contrastlab.experiments._kernel_settings import spec_text
from contrastlab.experiments.sne.claims import TESTS
from contrastlab.experiments.sne.settings import Settings
from contrastlab.report import Report

NU_TEXT = (
    "Student-t tails at feature dimension {dim}: {spec} with nu in {nus} (nu = 1 is the "
    "Cauchy kernel, large nu approaches the Gaussian), the dimension sweep's recipe and seeds; "
    "output-space kNN as in part 2. Each nu's gain over cosine at the same dimension is "
    "seed-paired (mean ± standard error over the seeds both ran). Reported, not decided by a "
    "rule."
)
AUGMENT_TEXT = (
    "Domain-agnostic augmentations on vector data ({data}; the MLP backbone, {cosine}, "
    "{epochs} epochs, seeds 0..{last}): Gaussian noise only (sigma = {noise} x each feature's "
    "spread) against mixup only (a share U(0, {mixup}) of a random partner of the batch). In "
    "the SNE reading both set the input similarity P: noise makes P a Gaussian of Euclidean "
    "distance around each sample, mixup spreads it along segments towards other samples. The "
    "noise and mixup strengths are this project's choices, fixed before the runs. Mixup minus "
    "noise, seed-paired: kNN (k = 20) {knn_gain:+.2f} ± {knn_se:.2f} points (p = {knn_p:.3f} "
    "that mixup is better), linear {lin_gain:+.2f} ± {lin_se:.2f} points (p = {lin_p:.3f})."
)
TOY_TEXT = (
    "The paper's toy: five 2-D Gaussians (sd {spread}) at unequal distances, {points} points "
    "each; SimCLR ({kernel}) with a 2-d output lives on the unit circle; augmentation: Gaussian "
    "noise (sigma = {noise} x each coordinate's spread), {epochs} epochs. Alignment "
    "E||z' - z''||^2 over two augmentations: {alignment:.4f}; uniformity log E exp(-2||z_i - "
    "z_j||^2): {uniformity:.4f}, against {circle:.4f} for the uniform law on the circle "
    "(-4 + log I0(4)). Share of the circle closest to each cluster's mean direction: "
    "{shares} (1/5 each if spread evenly), whatever the clusters' distances in the input."
)


def nu_section(
    report: Report, settings: Settings, rows: list[dict[str, Any]], sweep: list[dict[str, Any]]
) -> None:
    report.heading("3. Student-t tails: nu at low dimension")
    spec = next(s for s in settings.sweep_kernels if s["name"] == "student_t")
    report.text(
        NU_TEXT.format(dim=settings.nu_dim, spec=spec_text(spec), nus=list(settings.nu_values))
    )
    cosine = [r for r in sweep if r["kernel"] == "cosine" and r["dim"] == settings.nu_dim]
    table = []
    for nu in sorted({r["nu"] for r in rows}):
        picked = [r for r in rows if r["nu"] == nu]
        cells: list[Any] = [f"{nu:g}"]
        for part in TESTS:
            key = f"output_knn_{part}"
            mean, sd = mean_sd([r[key] for r in picked])
            cells.append(f"{mean:.3f}" + (f" ({sd:.3f})" if len(picked) > 1 else ""))
            cells.append(_paired_text(picked, cosine, key))
        table.append(cells)
    report.table(
        ["nu", "kNN id", "gain over cosine (points)", "kNN shift", "gain over cosine (points)"],
        table,
        title=f"Output-space kNN at dimension {settings.nu_dim}, mean (sd) over seeds",
    )


def _paired_text(rows: list[dict[str, Any]], base: list[dict[str, Any]], key: str) -> str:
    """``gain ± se`` in points of ``rows`` over ``base`` paired by seed ('' without cosine)."""
    from contrastlab.experiments._paired import paired_gain

    theirs = {r["seed"]: r[key] for r in base}
    mine = {r["seed"]: r[key] for r in rows if r["seed"] in theirs}
    if not mine:
        return "(cosine not run at this dimension)"
    test = paired_gain(list(mine.values()), [theirs[s] for s in mine])
    spread = f" ± {100 * test.standard_error:.2f}" if test.n > 1 else ""
    return f"{100 * test.gain:+.2f}{spread}"


def augment_section(report: Report, settings: Settings, comparison: dict[str, float]) -> None:
    report.heading("4. Domain-agnostic augmentations on vectors: Gaussian noise against mixup")
    cosine = next(s for s in settings.sweep_kernels if s["name"] == "cosine")
    c = comparison
    report.text(
        AUGMENT_TEXT.format(
            data=settings.augment_data, cosine=spec_text(cosine), epochs=settings.epochs,
            last=settings.seeds - 1, noise=settings.augment_noise, mixup=settings.augment_mixup,
            knn_gain=100 * c["knn_top1_k20.gain"], knn_se=100 * c["knn_top1_k20.standard_error"],
            knn_p=c["knn_top1_k20.p_mixup_better"], lin_gain=100 * c["linear_top1.gain"],
            lin_se=100 * c["linear_top1.standard_error"], lin_p=c["linear_top1.p_mixup_better"],
        )
    )  # fmt: skip
    report.table(
        ["augmentation", "kNN k=20", "linear"],
        [[a, c[f"knn_top1_k20.{a}"], c[f"linear_top1.{a}"]] for a in ("noise", "mixup")],
        title="Test accuracy on vectors, mean over seeds",
    )


def toy_section(report: Report, settings: Settings, toy: dict[str, Any]) -> None:
    from contrastlab.experiments.sne.toy import TOY_KERNEL, TOY_SPREAD, toy_figure

    report.heading("5. The 2-D Gaussian toy: SimCLR spreads five clusters over the circle")
    report.text(
        TOY_TEXT.format(
            spread=TOY_SPREAD, points=settings.toy_points, kernel=spec_text(TOY_KERNEL),
            noise=settings.toy_noise, epochs=settings.toy_epochs, alignment=toy["alignment"],
            uniformity=toy["uniformity"], circle=toy["uniformity_circle"],
            shares=", ".join(f"{v:.3f}" for v in toy["shares"]),
        )
    )  # fmt: skip
    report.figure(
        toy_figure(toy),
        "Five Gaussians (left) and SimCLR's features on the circle (right; one ring per "
        "cluster so that overlaps show)",
    )
