"""Rendering shared by the patient and cohort reports: the Jinja environment, the stylesheet, number
formatting, table cells, embedded images, and the HTML -> PDF step.

A report is a list of sections (:mod:`pipeline.report.sections`); each section builds its part of the
template context and has its own template fragment (``templates/sections/<name>.html.j2``); the page
templates (``patient.html.j2``, ``cohort.html.j2``) include the fragments in the order of the list.
"""

from __future__ import annotations

import base64
import math
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..io import atomic_path, output_set

__all__ = ["Section", "render_page", "stylesheet", "fmt", "fmt_number", "fmt_p", "cell", "column_cell", "text",
           "is_missing", "data_uri", "drawn_png", "embedded_figure", "write_report"]


@dataclass(frozen=True)
class Section:
    """One section of a report.

    Attributes
    ----------
    name : str
        The fragment ``templates/sections/<name>.html.j2``.
    build : callable
        ``build(inputs)`` -> the section's part of the template context (a dict of its own keys).
    """

    name: str
    build: Callable[[Any], dict[str, Any]]


# ---------------------------------------------------------------------------------------------- numbers
def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' missing values."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def text(value: Any) -> str:
    """A value as text; empty for missing values (None, NaN, pandas' NA)."""
    return "" if is_missing(value) else str(value)


def fmt(value: Any, sig: int = 3) -> str:
    """Format a number with ``sig`` significant digits (no exponent for ordinary magnitudes); '' when missing."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= 7 or magnitude < -4:
        return f"{x:.{sig - 1}e}"
    decimals = max(0, sig - 1 - magnitude)
    return f"{x:.{decimals}f}"


def fmt_number(value: Any, digits: int = 4) -> str:
    """Format a number with ``digits`` significant digits, typographic minus; missing values as an em dash."""
    if is_missing(value):
        return "—"
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.{digits}g}".replace("-", "−")


def fmt_p(value: Any) -> str:
    """A p-value: ``<0.001``, three decimals, or two above 0.995; an em dash when missing."""
    if is_missing(value):
        return "—"
    p = float(value)
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.995 else f"{p:.2f}"


def cell(value: Any, sig: int = 3) -> dict[str, str | None]:
    """A numeric cell of the patient report: display text and the exact value (``repr``) for ``data-value``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return {"text": "" if value is None else str(value), "value": None}
    if math.isnan(x):
        return {"text": "", "value": None}
    return {"text": fmt(x, sig), "value": repr(x)}


def column_cell(value: Any, column: str, shown: str | None = None) -> dict[str, str]:
    """A numeric cell of the cohort report: text, the exact value (``repr``, ``nan`` when missing), the column."""
    exact = "nan" if is_missing(value) else repr(float(value))
    return {"text": fmt_number(value) if shown is None else shown, "value": exact, "column": column}


# ---------------------------------------------------------------------------------------------- page
def data_uri(png: bytes | Path) -> str:
    """A PNG (bytes or file) as a ``data:`` URI, so that the HTML is self-contained."""
    data = png.read_bytes() if isinstance(png, Path) else png
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def drawn_png(draw: Callable[[Path], Any]) -> bytes:
    """The PNG of a figure of :mod:`pipeline.stats.figures` drawn for a report.

    ``draw(stem)`` writes ``<stem>.png`` and returns its :class:`~pipeline.stats.figures.FigurePaths`; it draws in
    a temporary folder (so a report never writes beside its inputs) and without the SVG (``png_only``).
    """
    from ..stats.figures import png_only

    with tempfile.TemporaryDirectory(prefix="petvoi-figure-") as folder, png_only():
        paths = draw(Path(folder) / "figure")
        return Path(paths.png).read_bytes()


def embedded_figure(stem: str, caption: str, png: bytes | Path, *, element_id: str | None = None) -> dict[str, str]:
    """A figure of a report page: ``name`` (``<stem>.png``), ``stem``, ``caption``, ``src`` (data URI) and ``id``
    (the HTML id of its ``<figure>``, default ``figure-<stem>``)."""
    return {"name": f"{stem}.png", "stem": stem, "caption": caption, "src": data_uri(png),
            "id": element_id or f"figure-{stem}"}


def stylesheet() -> str:
    """The shared stylesheet (``templates/report.css``), inlined in both reports."""
    return resources.files(__package__).joinpath("templates/report.css").read_text("utf-8")


def render_page(template: str, sections: Sequence[Section], inputs: Any, common: Mapping[str, Any]
                ) -> tuple[str, dict[str, Any]]:
    """Build every section's context from ``inputs`` and render the page ``template`` with them.

    Returns
    -------
    (str, dict)
        The HTML and the whole template context (``common``, each section's keys, ``sections``).
    """
    import jinja2

    context: dict[str, Any] = dict(common)
    for section in sections:
        context.update(section.build(inputs))
    context["sections"] = [section.name for section in sections]
    env = jinja2.Environment(loader=jinja2.PackageLoader("pipeline.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    return env.get_template(template).render(**context), context


def write_report(html: str, html_path: Path, pdf_path: Path | None) -> tuple[Path, Path | None]:
    """Write the HTML and, unless ``pdf_path`` is None, its A4 PDF (WeasyPrint), both atomically."""
    html_path = Path(html_path)
    if pdf_path is None:
        with atomic_path(html_path) as tmp:
            tmp.write_text(html, encoding="utf-8")
        return html_path, None
    import weasyprint

    with output_set(html_path, pdf_path):  # never an HTML without its PDF (or an old PDF beside a new HTML)
        with atomic_path(html_path) as tmp:
            tmp.write_text(html, encoding="utf-8")
        document = weasyprint.HTML(string=html, base_url=str(html_path.parent)).render()
        with atomic_path(pdf_path) as tmp:
            document.write_pdf(str(tmp))
    return html_path, Path(pdf_path)
