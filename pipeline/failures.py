"""Failed studies: one study's bad input must not cost the cohort (issue 17).

When a stage of a study fails in the workflow (``petvoi chain --failures DIR``), a *failure record*
``DIR/<subject>_<timepoint>.json`` names the study, the stage and the one-line reason. The next run of the
workflow leaves the recorded studies out of everything built from the sample sheet, so the cohort tables,
statistics and reports come from the studies that succeeded; ``failed_studies.csv`` lists the ones left out
and the cohort report shows it on its first page. Deleting a record (after fixing the data) runs the study
again.

This module owns the record's format (:func:`write_failure`, :func:`read_failures`) and the cohort's sample
sheet without the failed studies (:func:`run_failures`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .deid import active
from .errors import InvalidInputError

__all__ = ["FAILED_COLUMNS", "failure_record_path", "write_failure", "clear_failure", "read_failures",
           "failed_table", "run_failures"]

#: Columns of ``failed_studies.csv``.
FAILED_COLUMNS = ["subject_id", "timepoint", "rule", "reason", "log"]


def failure_record_path(folder: str | Path, subject: str, timepoint: str) -> Path:
    """Where the failure record of one study is: ``<folder>/<subject>_<timepoint>.json``."""
    return Path(folder) / f"{subject}_{timepoint}.json"


def write_failure(folder: str | Path, subject: str, timepoint: str, *, rule: str, reason: str,
                  log: str | Path | None = None) -> Path:
    """Write (atomically) the failure record of a study.

    Parameters
    ----------
    folder : path-like
        The records folder (the workflow's ``results/failed``).
    subject, timepoint : str
        The study, as in the sample sheet.
    rule : str
        The stage that failed (``suv``, ``vois``...).
    reason : str
        Its one-line error (only the first line is kept).
    log : path-like, optional
        The stage's log file.
    """
    from .io import write_json

    lines = [line.strip() for line in str(reason).splitlines() if line.strip()]
    record = {"subject_id": subject, "timepoint": timepoint, "rule": rule, "reason": lines[0] if lines else "",
              "log": "" if log is None else str(log)}
    return write_json(failure_record_path(folder, subject, timepoint), record)


def clear_failure(folder: str | Path, subject: str, timepoint: str) -> None:
    """Remove the failure record of a study that has now succeeded (no error when there is none)."""
    failure_record_path(folder, subject, timepoint).unlink(missing_ok=True)


def read_failures(paths: Iterable[str | Path]) -> list[dict[str, str]]:
    """The failure records in ``paths``, sorted by subject and timepoint.

    Raises
    ------
    InvalidInputError
        For a record that is not JSON or lacks a column of :data:`FAILED_COLUMNS`.
    """
    records = []
    for p in paths:
        try:
            data: Any = json.loads(Path(p).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot be read as a failure record ({type(exc).__name__})", source=str(p),
                                    remedy="delete it; the study then runs again") from None
        if not isinstance(data, dict) or any(c not in data for c in FAILED_COLUMNS):
            raise InvalidInputError("not a failure record", source=str(p), attribute="subject_id",
                                    remedy="delete it; the study then runs again")
        records.append({c: str(data[c]) for c in FAILED_COLUMNS})
    return sorted(records, key=lambda r: (r["subject_id"], r["timepoint"]))


def failed_table(records: Sequence[dict[str, str]]) -> pd.DataFrame:
    """The records as the ``failed_studies.csv`` table (:data:`FAILED_COLUMNS`)."""
    return pd.DataFrame(list(records), columns=FAILED_COLUMNS)


def run_failures(samples: Path, records: Sequence[Path], samples_out: Path, failed_out: Path) -> pd.DataFrame:
    """The workflow's cohort sheet: ``samples`` without the recorded studies, and ``failed_studies.csv``.

    Parameters
    ----------
    samples : Path
        The sample sheet (TSV).
    records : sequence of Path
        Failure records.
    samples_out : Path
        The sheet without the failed studies (TSV), rows and columns otherwise as in ``samples``.
    failed_out : Path
        ``failed_studies.csv`` (header only when nothing failed).

    Returns
    -------
    pandas.DataFrame
        The failed studies.
    """
    from .io import output_set, write_csv

    failed = failed_table(read_failures(records))
    try:
        sheet = pd.read_csv(samples, sep="\t", dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read ({type(exc).__name__})", source=str(samples),
                                remedy="give the sample sheet (TSV)") from None
    deid = active()
    if deid is not None:  # the sheet's StudyInstanceUIDs, pseudonymised like the index's (pipeline.deid)
        sheet = sheet.apply(lambda column: column.map(deid.uids_in))
    gone = set(zip(failed["subject_id"], failed["timepoint"], strict=True))
    keep = [(s, t) not in gone for s, t in zip(sheet["subject_id"], sheet["timepoint"], strict=True)]
    with output_set(samples_out, failed_out):
        write_csv(samples_out, sheet[keep], sep="\t")
        write_csv(failed_out, failed)
    return failed
