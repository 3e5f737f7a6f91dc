"""Dosing tables: the injected and residual syringe activities, injection time and body size of each study.

A dosing table is a CSV with one row per subject and timepoint (columns :data:`DOSING_COLUMNS`); a
row becomes a :class:`DosingRecord` whose values override the DICOM header's (rule R27 of
``reference/suv.md``: net dose = syringe before minus residual after, both decayed to the injection).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..errors import InvalidInputError

__all__ = ["DOSING_COLUMNS", "OPTIONAL_DOSING_COLUMNS", "DosingRecord", "load_dosing_table"]

#: Columns of a dosing table.
DOSING_COLUMNS = ("subject_id", "timepoint", "injected_activity_mbq", "injected_activity_datetime",
                  "residual_activity_mbq", "residual_activity_datetime", "injection_datetime", "weight_kg",
                  "height_cm", "sex")
#: Optional columns of a dosing table.
OPTIONAL_DOSING_COLUMNS = ("scan_datetime",)


@dataclass(frozen=True)
class DosingRecord:
    """One row of a dosing table (activities in Bq, datetimes as written, naive = scanner local time).

    Attributes
    ----------
    injected_activity_bq : float or None
        Syringe activity before injection (Bq), measured at ``injected_activity_datetime``.
    injected_activity_datetime : datetime or None
    residual_activity_bq : float or None
        Residual syringe activity after injection (Bq), measured at ``residual_activity_datetime``.
    residual_activity_datetime : datetime or None
    injection_datetime : datetime or None
        Injection time.
    weight_kg, height_cm : float or None
        Body weight (kg) and height (cm).
    sex : {"M", "F"} or None
    scan_datetime : datetime or None
        Decay-correction reference (scan start) when the DICOM header has none (optional column).
    source : str
        Table and row, for messages and provenance.
    """

    injected_activity_bq: float | None = None
    injected_activity_datetime: datetime | None = None
    residual_activity_bq: float | None = None
    residual_activity_datetime: datetime | None = None
    injection_datetime: datetime | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    sex: str | None = None
    scan_datetime: datetime | None = None
    source: str = "dosing table"


def load_dosing_table(path: str | Path, subject_id: str, timepoint: str) -> DosingRecord:
    """Read the row of ``subject_id`` at ``timepoint`` from a dosing CSV.

    Columns: subject_id, timepoint, injected_activity_mbq, injected_activity_datetime,
    residual_activity_mbq, residual_activity_datetime, injection_datetime, weight_kg, height_cm,
    sex, and optionally scan_datetime; ISO 8601 datetimes (offsets allowed); empty cells mean "not known".

    Parameters
    ----------
    path : path-like
        The CSV file.
    subject_id, timepoint : str
        Which row.

    Returns
    -------
    DosingRecord

    Raises
    ------
    InvalidInputError
        Missing file or column, no or several matching rows, or an invalid cell (named by line and column).
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError("dosing table not found", source=str(path), remedy="give the path of the dosing CSV")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in DOSING_COLUMNS if c not in columns]
        if missing:
            raise InvalidInputError(f"missing column(s) {', '.join(missing)}", source=str(path), attribute="header",
                                    remedy=f"the dosing table needs the columns {', '.join(DOSING_COLUMNS)}")
        rows = [(n, {(k or "").strip(): (v or "").strip() for k, v in row.items()})
                for n, row in enumerate(reader, start=2)]
    hits = [(n, r) for n, r in rows if r["subject_id"] == subject_id and r["timepoint"] == timepoint]
    if not hits:
        known = sorted({r["timepoint"] for _, r in rows if r["subject_id"] == subject_id})
        raise InvalidInputError(f"no row for subject {subject_id!r} at timepoint {timepoint!r}"
                                + (f" (timepoints of this subject: {', '.join(known)})" if known else ""),
                                source=str(path), attribute="subject_id/timepoint",
                                remedy="check the subject and timepoint, or add the row")
    if len(hits) > 1:
        raise InvalidInputError(f"several rows for subject {subject_id!r} at timepoint {timepoint!r} "
                                f"(lines {', '.join(str(n) for n, _ in hits)})", source=str(path),
                                attribute="subject_id/timepoint", remedy="keep one row per subject and timepoint")
    line, row = hits[0]

    def fail(column: str, message: str, remedy: str) -> InvalidInputError:
        return InvalidInputError(message, source=str(path), attribute=f"line {line}, column {column}", remedy=remedy)

    def number(column: str) -> float | None:
        text = row[column]
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise fail(column, f"not a number: {text!r}", "write a plain number") from None
        if not (math.isfinite(value) and value > 0):
            raise fail(column, f"must be > 0, got {text!r}", "write a positive number or leave the cell empty")
        return value

    def when(column: str) -> datetime | None:
        text = row.get(column, "")
        if not text:
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise fail(column, f"not an ISO 8601 datetime: {text!r}",
                       "write it like 2025-03-03T09:27:19+01:00") from None

    pre, t_pre = number("injected_activity_mbq"), when("injected_activity_datetime")
    post, t_post = number("residual_activity_mbq"), when("residual_activity_datetime")
    for value, moment, column in ((pre, t_pre, "injected_activity_datetime"),
                                  (post, t_post, "residual_activity_datetime")):
        if value is not None and moment is None:
            raise fail(column, "an activity needs the datetime it was measured at",
                       "fill the datetime (the injection time if it was measured then)")
    if post is not None and pre is None:
        raise fail("injected_activity_mbq", "a residual activity without the injected activity",
                   "fill injected_activity_mbq or clear the residual cells")
    sex = row["sex"].upper() or None
    if sex not in (None, "M", "F", "O"):
        raise fail("sex", f"must be M, F or O, got {row['sex']!r}", "write M, F, O or leave the cell empty")
    return DosingRecord(
        injected_activity_bq=None if pre is None else pre * 1e6, injected_activity_datetime=t_pre,
        residual_activity_bq=None if post is None else post * 1e6, residual_activity_datetime=t_post,
        injection_datetime=when("injection_datetime"), weight_kg=number("weight_kg"),
        height_cm=number("height_cm"), sex=None if sex == "O" else sex, scan_datetime=when("scan_datetime"),
        source=f"{path} line {line}")
