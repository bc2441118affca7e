"""A reproduction's verdicts beside those of its last recorded full run.

Quick mode runs smaller settings than full mode and has given opposite verdicts before, so a
quick report says, claim by claim, whether its verdict is the one the recorded full run gave.
A recorded run is a mapping written into the experiment's ``claims.py`` from the metrics of a
full run with the defaults: ``{"verdicts": {claim id: "supported" | "not supported" |
"inconclusive"}, "seconds": float, "when": str}``, optionally ``"note"``: what the full run
showed that a quick run cannot (printed under the table).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contrastlab.report import Claim, Report

__all__ = ["compare_with_recorded", "recorded_run_section"]


def compare_with_recorded(
    found: Sequence[Claim], recorded: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``{"recorded": recorded, "differs": [ids whose verdict differs from the recorded one]}``
    (``differs`` empty when nothing was recorded; a claim the record lacks does not differ)."""
    if recorded is None:
        return {"recorded": None, "differs": []}
    verdicts = recorded["verdicts"]
    differs = [c.id for c in found if c.id in verdicts and verdicts[c.id] != c.verdict]
    return {"recorded": dict(recorded), "differs": differs}


def recorded_run_section(rep: Report, found: Sequence[Claim], against: Mapping[str, Any]) -> None:
    """A report section: each claim's verdict here and in the recorded full run."""
    rep.heading("This run against the recorded full run")
    recorded = against["recorded"]
    if recorded is None:
        rep.text("No full run with the defaults has been recorded yet.")
        return
    rep.text(
        f"Recorded full run (the defaults, {recorded['seconds']:.0f} s, {recorded['when']}): "
        "its verdicts beside this run's. Quick mode runs smaller settings; where the two "
        "differ, the full run decides."
    )
    differs = set(against["differs"])
    rep.table(
        ["claim", "this run", "recorded full run", "same"],
        [
            [c.id, c.verdict, recorded["verdicts"].get(c.id, "-"), c.id not in differs]
            for c in found
        ],
    )
    if recorded.get("note"):
        rep.text(f"About the recorded full run: {recorded['note']}")
