"""Cohort report: one self-contained HTML page and its PDF (WeasyPrint) from the cohort tables.

The report is the list :data:`SECTIONS` (:mod:`pipeline.report.sections`): overview, biodistribution,
response (waterfall and counts), response over time (swimmer and spider plots), estimates with 95 % CI (forest
plots per endpoint and a compact table), the figures of the stats stage, and the appendix with the full
statistics table. Inputs are the files the ``stats`` stage and the cohort rules write (``results/cohort/``) and
the sample sheet (:class:`~pipeline.report.inputs.CohortInputs`); the forest, swimmer and spider plots are drawn
from those tables when the report is built. The report
never reads DICOM: every subject is named by its sample-sheet ID. Each input except the sample sheet
is optional; a missing one makes its section say "not available".

Design choices
--------------
* Only the columns a section shows are read from each table, so a stray identifying column in an
  input (e.g. ``patient_name``) can never reach the report.
* The HTML is self-contained: figures are embedded as base64 PNG data URIs and the stylesheet is
  inlined (``templates/report.css``, plus the cohort rules in the page template).
* Every numeric cell carries its exact value in ``data-value`` (``repr`` of the float, ``nan`` for
  missing) and its column name in ``data-column``; the visible text is rounded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .inputs import CohortInputs
from .render import Section, fmt_number, render_page, write_report
from .sections import appendix, biodistribution, cohort_response, cohort_timecourse, figures, overview, statistics
from .sections.figures import FIGURE_CAPTIONS

__all__ = ["SECTIONS", "build_cohort_report", "write_cohort_report", "FIGURE_CAPTIONS", "fmt_number"]

#: The sections of the cohort report, in page order (biodistribution and response embed their figures from the
#: figures section's ``section_figures``).
SECTIONS: tuple[Section, ...] = (overview.SECTION, biodistribution.SECTION, cohort_response.SECTION,
                                 cohort_timecourse.SECTION, statistics.SECTION, figures.SECTION, appendix.SECTION)


def build_cohort_report(*, results_dir: Path, samples: Path, config: Mapping[str, Any], deidentify: bool = True,
                        run_date: dt.date | None = None) -> tuple[str, dict[str, Any]]:
    """Render the cohort report as a self-contained HTML string.

    Parameters
    ----------
    results_dir : Path
        The results folder (holding ``cohort/``) or the cohort folder itself (holding ``stats.csv`` …).
    samples : Path
        The sample sheet (TSV); the only source of subject IDs shown.
    config : Mapping
        The resolved configuration; its hash goes in the footer.
    deidentify : bool, default True
        Show only sample-sheet subject IDs: rows of cohort tables whose subject is not in the sample
        sheet are left out (with a warning in the report) and study UIDs / DICOM folders are not shown.
    run_date : datetime.date, optional
        The date in the footer (default: today, UTC).

    Returns
    -------
    html : str
        The document (figures as base64 PNG data URIs, CSS inlined).
    context : dict
        The template context (section data, ``available`` flags per input, warnings).
    """
    inputs = CohortInputs.load(results_dir=results_dir, samples=samples, config=config, deidentify=deidentify,
                               run_date=run_date)
    return render_page("cohort.html.j2", SECTIONS, inputs, inputs.common())


def write_cohort_report(*, results_dir: Path, samples: Path, config: Mapping[str, Any], output_html: Path,
                        output_pdf: Path | None = None, deidentify: bool = True,
                        run_date: dt.date | None = None) -> tuple[Path, Path | None]:
    """Write ``cohort.html`` and ``cohort.pdf`` (A4, paginated) atomically.

    Parameters are those of :func:`build_cohort_report`, plus ``output_html`` and ``output_pdf``
    (default: ``output_html`` with the suffix ``.pdf``). Returns ``(html_path, pdf_path)``.
    """
    html, _ = build_cohort_report(results_dir=results_dir, samples=samples, config=config, deidentify=deidentify,
                                  run_date=run_date)
    html_path = Path(output_html)
    return write_report(html, html_path, Path(output_pdf) if output_pdf is not None else html_path.with_suffix(".pdf"))
