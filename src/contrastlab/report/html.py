"""A small HTML report builder: headings, paragraphs, tables and matplotlib figures as PNG."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contrastlab.errors import InputError
from contrastlab.files import atomic_write

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{border-bottom:2px solid #444}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}
th,td{border:1px solid #bbb;padding:.25em .6em;text-align:right}th{background:#eee}
td:first-child,th:first-child{text-align:left}
caption{font-weight:600;text-align:left;padding:.3em 0}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}.meta{color:#666;font-size:.85em}
.yes{color:#060;font-weight:600}.no{color:#a00;font-weight:600}
pre{background:#f6f6f6;padding:.6em}
"""


@dataclass(frozen=True)
class Link:
    """A table cell that links to ``href`` (a relative path or URL), shown as ``text``."""

    text: str
    href: str


def _format_cell(value: Any) -> str:
    if isinstance(value, Link):
        return f'<a href="{html.escape(value.href, quote=True)}">{html.escape(value.text)}</a>'
    if isinstance(value, bool):
        return '<span class="yes">yes</span>' if value else '<span class="no">no</span>'
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return html.escape(str(value))


def json_safe(value: Any) -> Any:
    """Numpy / torch scalars and arrays as plain JSON types; non-finite floats become None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return json_safe(value.tolist())
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


def check_output_folder(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder to write results into, checked before any work is done.

    The folder and its parents may not exist yet (they are created on writing); an existing
    file at ``path`` or at any folder above it is an error.

    Raises:
        InputError: naming ``path`` and the file in the way.
    """
    out = Path(path)
    for folder in (out, *out.parents):
        if folder.exists() or folder.is_symlink():
            if folder.is_dir():
                break
            if folder == out:
                raise InputError(f"output folder {out} is an existing file")
            raise InputError(f"output folder {out} cannot be created: {folder} is a file")
    return out


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Atomically write ``data`` as indented, strictly valid JSON."""
    target = Path(path)
    text = json.dumps(json_safe(data), indent=2, allow_nan=False)
    atomic_write(target, (text + "\n").encode())
    return target


@dataclass
class Report:
    """Accumulates blocks in order and writes them as one HTML page.

    Args:
        title: page title and top heading.
    """

    title: str
    blocks: list[str] = field(default_factory=list)

    def heading(self, text: str) -> Report:
        self.blocks.append(f"<h2>{html.escape(text)}</h2>")
        return self

    def text(self, text: str) -> Report:
        """A paragraph; blank lines start new paragraphs."""
        for para in text.strip().split("\n\n"):
            self.blocks.append(f"<p>{html.escape(para)}</p>")
        return self

    def code(self, text: str) -> Report:
        self.blocks.append(f"<pre>{html.escape(text)}</pre>")
        return self

    def table(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None
    ) -> Report:
        """A table; floats are shown with 4 significant digits, booleans as yes/no."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_format_cell(v)}</td>" for v in row) + "</tr>" for row in rows
        )
        caption = f"<caption>{html.escape(title)}</caption>" if title else ""
        self.blocks.append(f"<table>{caption}<thead><tr>{head}</tr></thead>{body}</table>")
        return self

    def figure(self, fig: Any, caption: str | None = None, dpi: int = 110) -> Report:
        """Embed a matplotlib figure as a base64 PNG and close it."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        alt = html.escape(caption or "figure")
        self.blocks.append(f'<img alt="{alt}" src="data:image/png;base64,{data}">')
        if caption:
            self.blocks.append(f'<p class="meta">{html.escape(caption)}</p>')
        return self

    def render(self) -> str:
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        from contrastlab import __version__

        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>"
            f'<p class="meta">contrastlab {__version__}, {stamp}</p>'
            + "\n".join(self.blocks)
            + "</body></html>\n"
        )

    def save(
        self, out_dir: str | os.PathLike[str], metrics: Mapping[str, Any] | None = None
    ) -> Path:
        """Write ``report.html`` (and ``metrics.json`` if given) into ``out_dir``.

        Raises:
            InputError: ``out_dir`` (or a folder above it) is an existing file.
        """
        out = check_output_folder(out_dir)
        if metrics is not None:
            write_json(out / "metrics.json", metrics)
        target = out / "report.html"
        atomic_write(target, self.render().encode("utf-8"))
        return target
