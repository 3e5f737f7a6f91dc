"""Per-patient report: self-contained HTML and an A4 PDF (WeasyPrint).

The report is the list :data:`SECTIONS` (:mod:`pipeline.report.sections`): header (SUV provenance),
quality control, MIPs, lesions, organs, changes, uptake over time (subjects with more than one scan), response,
heterogeneity, pathology, kinetics, multi-day pharmacokinetics (scans after one injection) and MRI. It
reads the subject's study outputs once (:class:`~pipeline.report.inputs.PatientInputs`); each section
builds its part of the context and renders its template fragment.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .inputs import PatientInputs
from .render import Section, fmt, render_page, write_report
from .sections import (
    changes,
    dicom_files,
    header,
    heterogeneity,
    kinetics,
    lesions,
    mips,
    mri,
    organs,
    pathology,
    pk,
    quality,
    response,
    time_course,
)
from .sections.quality import LIVER_SUV_MEAN_RANGE, UPTAKE_WINDOW_MIN

__all__ = ["SECTIONS", "build_patient_report", "write_patient_report", "fmt", "LIVER_SUV_MEAN_RANGE",
           "UPTAKE_WINDOW_MIN"]

#: The sections of the patient report, in page order.
SECTIONS: tuple[Section, ...] = (header.SECTION, quality.SECTION, mips.SECTION, lesions.SECTION, organs.SECTION,
                                 changes.SECTION, time_course.SECTION, response.SECTION, heterogeneity.SECTION,
                                 pathology.SECTION, kinetics.SECTION, pk.SECTION, mri.SECTION, dicom_files.SECTION)


def build_patient_report(subject_id: str, *, results_dir: str | Path, samples: pd.DataFrame | str | Path,
                         config: Mapping[str, Any] | str | Path, ihc: pd.DataFrame | str | Path | None = None,
                         histology: pd.DataFrame | str | Path | None = None, deidentify: bool = True,
                         run_date: dt.date | None = None) -> tuple[str, dict[str, Any]]:
    """Build the self-contained HTML report of one subject.

    Parameters
    ----------
    subject_id : str
        Pseudonymised subject id as in the sample sheet.
    results_dir : path-like
        Workflow results folder (:class:`~pipeline.outputs.ResultsLayout`).
    samples : DataFrame or path-like
        Sample sheet; gives the subject's timepoints (in sheet order, the first is the baseline),
        tracer, nuclide and arm.
    config : mapping or path-like
        The resolved configuration (``results/config.resolved.yaml``); its hash goes in the footer.
        Optional keys read: ``report.mip_suv_max`` (fixed upper SUV of the MIP window),
        ``report.uptake_window_min`` ([lo, hi] minutes), ``report.liver_suv_mean_range`` ([lo, hi]),
        ``clinical.ihc`` / ``clinical.histology`` (defaults of ``ihc`` / ``histology``).
    ihc, histology : DataFrame or path-like, optional
        Clinical tables (filtered to the subject).
    deidentify : bool
        Default True: only the pseudonymised subject id is shown; folder names are stripped from
        provenance sources. The inputs carry no patient name, birth date or DICOM PatientID.
    run_date : datetime.date, optional
        Date in the footer (default: today, UTC).

    Returns
    -------
    (str, dict)
        The HTML text and the template context (includes ``mip`` PNG bytes and ``vmax``).

    Raises
    ------
    InvalidInputError
        Unknown subject or missing per-study outputs.
    """
    inputs = PatientInputs.load(subject_id, results_dir=results_dir, samples=samples, config=config, ihc=ihc,
                                histology=histology, deidentify=deidentify, run_date=run_date)
    return render_page("patient.html.j2", SECTIONS, inputs, inputs.common())


def write_patient_report(subject_id: str, *, results_dir: str | Path, samples: pd.DataFrame | str | Path,
                         config: Mapping[str, Any] | str | Path, output_html: str | Path,
                         ihc: pd.DataFrame | str | Path | None = None,
                         histology: pd.DataFrame | str | Path | None = None, deidentify: bool = True,
                         pdf: bool = True) -> tuple[Path, Path | None]:
    """Write ``SUBJECT.html`` (self-contained) and ``SUBJECT.pdf`` (A4, WeasyPrint) beside it, atomically.

    Parameters are those of :func:`build_patient_report`; ``output_html`` is the HTML path, the PDF
    takes the same name with ``.pdf``.

    Returns
    -------
    (Path, Path or None)
        HTML and PDF paths (PDF None when ``pdf`` is False).
    """
    html, _ = build_patient_report(subject_id, results_dir=results_dir, samples=samples, config=config, ihc=ihc,
                                   histology=histology, deidentify=deidentify)
    html_path = Path(output_html)
    return write_report(html, html_path, html_path.with_suffix(".pdf") if pdf else None)
