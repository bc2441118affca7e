"""The report: one self-contained HTML page and strictly valid metrics.json."""

from __future__ import annotations

import base64
import json
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from contrastlab.report import Claim, Report, claims_table, write_json  # noqa: E402


def test_report_embeds_figure_as_png_and_escapes_text(tmp_path):
    rep = Report("A <title>")
    rep.heading("Section & more").text("first\n\nsecond <b>")
    rep.table(["name", "value", "ok"], [["x", 0.123456, True], ["y", float("nan"), False]])
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    rep.figure(fig, caption="a line")
    html_path = rep.save(tmp_path, metrics={"value": 1.5})
    page = html_path.read_text()
    assert "A &lt;title&gt;" in page and "second &lt;b&gt;" in page
    assert "<p>first</p>" in page and "n/a" in page and "0.1235" in page
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 1
    assert base64.b64decode(images[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'src="(?!data:)', page)  # nothing loaded from outside the file
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"value": 1.5}


def test_metrics_json_is_strict_and_converts_numpy_and_torch(tmp_path):
    data = {
        "a": np.float32(0.5),
        "b": np.arange(3),
        "c": torch.tensor([1.0, 2.0]),
        "nan": float("nan"),
        "inf": np.float64(math.inf),
        "nested": {"k": (np.int64(4), None, True)},
    }
    path = write_json(tmp_path / "m.json", data)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    loaded = json.loads(text)
    assert loaded == {
        "a": 0.5,
        "b": [0, 1, 2],
        "c": [1.0, 2.0],
        "nan": None,
        "inf": None,
        "nested": {"k": [4, None, True]},
    }
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed away


def test_failed_write_keeps_previous_file(tmp_path):
    path = write_json(tmp_path / "metrics.json", {"old": 1})

    class Unconvertible:
        def __float__(self):
            raise RuntimeError("boom")

        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_json(path, {"new": Unconvertible()})
    assert json.loads(path.read_text()) == {"old": 1}


def test_claims_table_lists_verdict_rule_and_evidence():
    claim = Claim("x_holds", "x holds", True, {"residual": 1e-12}, rule="residual < 1e-9")
    columns, rows = claims_table([claim])
    assert columns == ["claim", "verdict", "rule", "evidence"]
    assert rows == [["x_holds", "supported", "residual < 1e-9", "residual=1e-12"]]
    assert claim.to_json()["evidence"] == {"residual": 1e-12}
    assert claim.to_json()["conclusive"] is True


def test_three_verdict_states_and_inconclusive_needs_reason_and_is_never_supported():
    no = Claim("x", "x holds", False, {"gap": 0.0}, rule="gap > 0")
    ceiling = Claim("y", "y", False, {"acc": 1.0}, conclusive=False, reason="ceiling: acc = 1")
    assert (no.verdict, ceiling.verdict) == ("not supported", "inconclusive")
    columns, rows = claims_table([ceiling])
    assert rows[0][1] == "inconclusive: ceiling: acc = 1"
    assert ceiling.to_json()["conclusive"] is False
    assert ceiling.to_json()["reason"] == "ceiling: acc = 1"
    with pytest.raises(ValueError, match="cannot be supported"):
        Claim("z", "z", True, conclusive=False, reason="floor")
    with pytest.raises(ValueError, match="reason"):
        Claim("z", "z", False, conclusive=False)
    checked = Claim("w", "w", True, source="implementation check")
    assert claims_table([checked])[1][0][0] == "w (implementation check)"


def test_link_cells_are_anchors_with_escaped_text_and_target(tmp_path):
    from contrastlab.report import Link

    rep = Report("links")
    rep.table(["where"], [[Link("a<b", 'x/"y".html')], ["<plain>"]])
    page = rep.save(tmp_path).read_text()
    assert '<a href="x/&quot;y&quot;.html">a&lt;b</a>' in page
    assert "&lt;plain&gt;" in page
