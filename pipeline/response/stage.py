"""The ``deltas`` and ``recist`` stages.

``run_deltas``: one subject's per-study uptake tables and SUV sidecars in (a folder template with
``{subject}`` and ``{timepoint}``), the changes per VOI and metric, new and disappeared lesions and
PERCIST/EORTC out (``deltas.csv``).

``run_recist``: lesion measurements (or time-point categories) in; RECIST 1.1 and iRECIST time-point
responses (``response.csv``) and the best overall response per subject (``response_bor.csv``) out.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..config import load_sample_sheet
from ..deid import active
from ..errors import InvalidInputError
from ..io import output_set, write_csv
from ..outputs import StudyPaths, SuvSidecar
from .options import DeltaOptions, RecistOptions

__all__ = ["run_deltas", "run_recist", "bor_path"]

log = logging.getLogger(__name__)


def run_deltas(samples: Path, subject_id: str, template: str, output: Path, options: DeltaOptions | None = None,
               mapping: Path | None = None) -> pd.DataFrame:
    """Changes from baseline of one subject (:func:`~pipeline.response.deltas.compute_deltas`), written as CSV.

    Parameters
    ----------
    samples : Path
        Sample sheet: the subject's static studies, in sheet order (the first is the baseline by default).
    subject_id : str
        The subject.
    template : str
        Folder of each study's ``uptake.csv`` and ``suv.json``, e.g. ``results/{subject}/{timepoint}``.
    output : Path
        ``deltas.csv``.
    options : DeltaOptions, optional
        Baseline timepoint, PERCIST/EORTC settings.
    mapping : Path, optional
        Explicit VOI matches: subject_id, timepoint, name, matches_baseline_name (empty = new lesion).

    Raises
    ------
    InvalidInputError
        Unknown subject, a study's uptake table missing, or invalid tables (from ``compute_deltas``).
    """
    from .deltas import compute_deltas

    sheet = load_sample_sheet(samples, acquisition="static")
    rows = sheet[sheet["subject_id"] == subject_id]
    if rows.empty:
        raise InvalidInputError(f"subject {subject_id} is not in the sample sheet", source=str(samples),
                                attribute="subject_id", remedy="use a subject_id of the sheet")
    studies, sidecars = {}, {}
    for timepoint in rows["timepoint"]:
        study = StudyPaths.from_template(template, subject_id, timepoint)
        if not study.uptake.is_file():
            raise InvalidInputError("uptake table missing", source=str(study.uptake),
                                    remedy="run `petvoi uptake` for this study first")
        studies[timepoint] = pd.read_csv(study.uptake)
        sidecar = SuvSidecar.read_optional(study.suv_json)
        if sidecar is not None:
            sidecars[timepoint] = sidecar
    if len(studies) < 2:
        # one scan (a subject off study after baseline, or its other studies failed and are left out of the
        # cohort's sheet): no change to compute; an empty table, so that the cohort and the report go on
        from .deltas import COLUMNS

        log.warning("subject %s has one static study (%s): no changes from baseline", subject_id,
                    ", ".join(studies))
        table = pd.DataFrame(columns=list(COLUMNS))
        write_csv(output, table)
        return table
    matches = pd.read_csv(mapping, dtype=str, keep_default_na=False) if mapping else None
    table = compute_deltas(studies, sidecars, subject_id=subject_id, mapping=matches, options=options)
    write_csv(output, table)
    return table


def bor_path(output: Path) -> Path:
    """The best-overall-response table beside a time-point table: ``response.csv`` -> ``response_bor.csv``."""
    return Path(output).with_name(Path(output).stem + "_bor.csv")


def run_recist(measurements: Path, output: Path, options: RecistOptions | None = None,
               bor_output: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """RECIST 1.1 / iRECIST from lesion measurements, or validation of a table of time-point categories.

    A table with ``overall_response`` and no ``lesion_id`` holds categories already: it is validated and
    copied; otherwise the measurements are evaluated (:func:`~pipeline.response.recist.evaluate_recist`).
    Either way the best overall response per subject goes to ``bor_output`` (default :func:`bor_path`).

    Returns
    -------
    (DataFrame, DataFrame)
        Time-point responses and best overall responses.

    Raises
    ------
    InvalidInputError
        A table that cannot be read as CSV, or invalid measurements (naming subject, timepoint and lesion).
    """
    from .bor import best_overall_response, validate_response_table
    from .recist import evaluate_recist

    options = options or RecistOptions()
    source = str(measurements)
    try:
        table = pd.read_csv(measurements, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise InvalidInputError(f"cannot be read as CSV ({exc})", source=source,
                                remedy="give a comma-separated table") from None
    deid = active()
    if deid is not None and "subject_id" in table.columns:  # dates shifted like the subject's scans (pipeline.deid)
        for column in [c for c in table.columns if c.endswith("_date")]:
            table[column] = [deid.dates_in(str(v), str(s)) for v, s in zip(table[column], table["subject_id"],
                                                                              strict=True)]
    if "overall_response" in table.columns and "lesion_id" not in table.columns:
        bor = validate_response_table(table, source=source, **options.bor_kwargs())
        timepoints = table
    else:
        timepoints = evaluate_recist(table, source=source, options=options)
        bor = best_overall_response(timepoints, source=source, **options.bor_kwargs())
    bor_file = bor_output or bor_path(output)
    with output_set(output, bor_file):
        write_csv(output, timepoints)
        write_csv(bor_file, bor)
    return timepoints, bor
