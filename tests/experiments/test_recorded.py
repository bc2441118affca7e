"""Verdicts beside a recorded full run: which claims differ, and the report section."""

from __future__ import annotations

from contrastlab.experiments.recorded import compare_with_recorded, recorded_run_section
from contrastlab.report import Claim, Report

FOUND = [
    Claim(id="kept", statement="s", supported=True),
    Claim(id="flipped", statement="s", supported=False),
    Claim(id="undecided", statement="s", supported=False, conclusive=False, reason="few seeds"),
    Claim(id="new_claim", statement="s", supported=False),
]
RECORDED = {
    "verdicts": {"kept": "supported", "flipped": "supported", "undecided": "not supported"},
    "seconds": 1234.0,
    "when": "2026-12-02, commit abc",
    "note": "quick mode lacks the largest capacity",
}


def test_differing_verdicts_are_listed_three_states_apart():
    compared = compare_with_recorded(FOUND, RECORDED)
    # inconclusive differs from "not supported"; a claim the record lacks does not differ
    assert compared["differs"] == ["flipped", "undecided"]
    assert compared["recorded"] == RECORDED
    assert compare_with_recorded(FOUND, None) == {"recorded": None, "differs": []}


def test_report_section_shows_both_verdicts(tmp_path):
    rep = Report("t")
    recorded_run_section(rep, FOUND, compare_with_recorded(FOUND, RECORDED))
    rep.save(tmp_path, {})
    html = (tmp_path / "report.html").read_text()
    assert "recorded full run" in html and "1234 s" in html and "commit abc" in html
    assert "quick mode lacks the largest capacity" in html
    empty = Report("t")
    recorded_run_section(empty, FOUND, compare_with_recorded(FOUND, None))
    empty.save(tmp_path / "e", {})
    assert (
        "No full run with the defaults has been recorded yet"
        in (tmp_path / "e" / "report.html").read_text()
    )
