"""Render any result into one self-contained ``report.html`` plus ``metrics.json``.

Example:
    >>> from contrastlab.report import Report
    >>> rep = Report("Loss benchmark")
    >>> rep.text("Forward + backward, float32, d = 128.")
    >>> rep.table(["kernel", "seconds"], [["cosine", 0.12]], title="Timings")
    >>> rep.save("out", metrics={"rows": []})  # doctest: +SKIP
"""

from __future__ import annotations

from contrastlab.report.claims import Claim, claims_table, verdict_of
from contrastlab.report.html import Link, Report, check_output_folder, write_json

__all__ = [
    "Claim",
    "Link",
    "Report",
    "check_output_folder",
    "claims_table",
    "verdict_of",
    "write_json",
]
