"""The claim rules of ``reproduce rld``: each verdict a pure function of the measurements.

``toys``: name -> {"rld", "calinski_harabasz", ...} (``compute.toys``); a model's measurements:
{"calinski_harabasz", "rld": {t: value}, "relative_purity": {k: value}, "test_size", ...}
(``compute.measure``); probes: ``analysis.ProbeResult`` (accuracy, params).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from contrastlab.report import Claim

if TYPE_CHECKING:
    from contrastlab.analysis.probes import ProbeResult

# Decision rules, fixed before any result was seen (one later correction: PURITY_RULE_NOTE).
# toy_rld_values: the paper's figure: Gaussian blobs and tiny blobs both locally dense (high RLD),
# uniform labels without structure (RLD about 0), and CH ranking tiny blobs far below the blobs.
TOY_UNIFORM_ABS_MAX = 0.05
TOY_HIGH_RLD_MIN = 0.5  # of the 0.8 upper bound for 5 balanced classes
TOY_CH_RATIO_MAX = 0.1  # CH(tiny_blobs) / CH(gaussian_blobs)
# contrastive_locally_dense: three parts, all required (see claims).
RLD_FLOOR = 1e-3  # denominator floor of the locality ratio RLD(smallest t) / RLD(largest t)
# Changed after the first run (documented in the report): the purity part first compared the
# fall of relative purity from k = 1 to the largest k, which the cap at N - 1 makes k = N - 1,
# where relative purity is identically 1; the rule could then never favour the contrastive model.
PURITY_RULE_NOTE = (
    "Rule change after the first run: the purity part first used the largest k of the curve, "
    "which the cap makes k = N - 1; there relative purity is 1 for every embedding by "
    "construction, so the part only compared purity at k = 1 (first quick run, digits, seed 0, "
    "40 epochs: falls -0.028 contrastive and -0.003 supervised, part not met). It now uses the "
    "largest k below N - 1 (100 on digits); nothing else was changed."
)


def locality(m: dict[str, Any]) -> float:
    """RLD at the smallest t over RLD at the largest t, the denominator floored at RLD_FLOOR."""
    ts = sorted(m["rld"])
    return m["rld"][ts[0]] / max(m["rld"][ts[-1]], RLD_FLOOR)


def purity_fall(m: dict[str, Any]) -> float:
    """Relative purity at k = 1 minus that at the largest k below N - 1 (0 without k = 1).

    At k = N - 1 every point's neighbours are all other points, so relative purity is 1 for any
    embedding; that k cannot tell embeddings apart and is left out (see PURITY_RULE_NOTE).
    Without k = 1 among the measured ks the fall of the rule is not defined: 0 for both models,
    so the part is not met.
    """
    ks = sorted(k for k in m["relative_purity"] if k < m["test_size"] - 1)
    if 1 not in ks:
        return 0.0
    return m["relative_purity"][1] - m["relative_purity"][ks[-1]]


def toy_claim(toys: dict[str, dict[str, Any]]) -> Claim:
    """``toy_rld_values``: |RLD(uniform)| < ``TOY_UNIFORM_ABS_MAX``, RLD of the Gaussian and the
    tiny blobs > ``TOY_HIGH_RLD_MIN``, CH(tiny) / CH(Gaussian) < ``TOY_CH_RATIO_MAX``."""
    uniform, tiny, blobs = (toys[n] for n in ("uniform_square", "tiny_blobs", "gaussian_blobs"))
    ch_ratio = tiny["calinski_harabasz"] / blobs["calinski_harabasz"]
    toy_ok = (
        abs(uniform["rld"]) < TOY_UNIFORM_ABS_MAX
        and blobs["rld"] > TOY_HIGH_RLD_MIN
        and tiny["rld"] > TOY_HIGH_RLD_MIN
        and ch_ratio < TOY_CH_RATIO_MAX
    )
    return Claim(
        "toy_rld_values",
        "On the 2-D toy sets RLD is about 0 for structureless labels and high for locally "
        "dense classes, including tiny scattered blobs that the global CH score ranks low.",
        toy_ok,
        {
            "rld_uniform_square": uniform["rld"],
            "rld_gaussian_blobs": blobs["rld"],
            "rld_tiny_blobs": tiny["rld"],
            "ch_tiny_over_gaussian_blobs": ch_ratio,
        },
        f"|RLD(uniform)| < {TOY_UNIFORM_ABS_MAX}, RLD(gaussian blobs) > {TOY_HIGH_RLD_MIN}, "
        f"RLD(tiny blobs) > {TOY_HIGH_RLD_MIN}, CH(tiny)/CH(gaussian) < {TOY_CH_RATIO_MAX}",
    )


def locally_dense_claim(con: dict[str, Any], sup: dict[str, Any]) -> Claim:
    """``contrastive_locally_dense``: CH(supervised) > CH(contrastive), and the purity fall
    and the RLD locality both larger for the contrastive model's measurements ``con``."""
    global_ok = sup["calinski_harabasz"] > con["calinski_harabasz"]
    purity_ok = purity_fall(con) > purity_fall(sup)
    locality_ok = locality(con) > locality(sup)
    return Claim(
        "contrastive_locally_dense",
        "Contrastive learning makes locally dense clusters, supervised learning globally "
        "dense ones.",
        global_ok and purity_ok and locality_ok,
        {
            "ch_contrastive": con["calinski_harabasz"],
            "ch_supervised": sup["calinski_harabasz"],
            "relative_purity_fall_contrastive": purity_fall(con),
            "relative_purity_fall_supervised": purity_fall(sup),
            "rld_locality_contrastive": locality(con),
            "rld_locality_supervised": locality(sup),
        },
        "all three: CH(supervised) > CH(contrastive); the fall of relative purity "
        "(purity / best possible) from k=1 to the largest k below N-1 is larger for "
        "contrastive; "
        "RLD(smallest t) / RLD(largest t) (denominator floored at "
        f"{RLD_FLOOR}) is larger for contrastive",
    )


def gcn_claim(linear: ProbeResult, gcn: ProbeResult) -> Claim:
    """``gcn_versus_linear``: on the contrastive features, GCN accuracy >= linear accuracy and
    fewer GCN parameters than linear ones."""
    return Claim(
        "gcn_versus_linear",
        "A GCN on the neighbourhood graph classifies contrastive features as well as or "
        "better than a linear probe, with fewer parameters.",
        gcn.accuracy >= linear.accuracy and gcn.params < linear.params,
        {
            "gcn_accuracy": gcn.accuracy,
            "linear_accuracy": linear.accuracy,
            "gcn_params": gcn.params,
            "linear_params": linear.params,
        },
        "on the contrastive test features: GCN accuracy >= linear accuracy and "
        "GCN parameters < linear parameters",
    )


def claims(toys: dict[str, dict[str, Any]], res: dict[str, dict[str, Any]]) -> list[Claim]:
    """The three claims of the experiment, in their report order."""
    con, sup = res["contrastive"], res["supervised"]
    return [
        toy_claim(toys),
        locally_dense_claim(con, sup),
        gcn_claim(con["probes"]["linear"], con["probes"]["gcn"]),
    ]
