"""Cohort tables: per-study tables stacked into one tidy table with the sample sheet's study columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .errors import InvalidInputError

__all__ = ["STUDY_COLUMNS", "collect_study_tables"]

#: Sample-sheet columns put in front of every cohort table (those present in the sheet).
STUDY_COLUMNS = ("subject_id", "timepoint", "tracer", "nuclide", "arm", "route")


def collect_study_tables(sheet: pd.DataFrame, template: str, *, allow_missing: bool = False) -> pd.DataFrame:
    """Stack one CSV per (subject, timepoint) into a cohort table.

    Parameters
    ----------
    sheet : pandas.DataFrame
        Validated sample sheet.
    template : str
        Path of each study's table with ``{subject}`` and ``{timepoint}`` placeholders,
        e.g. ``results/{subject}/{timepoint}/uptake.csv``; with ``{subject}`` alone, one table per
        subject (e.g. ``results/{subject}/deltas.csv``) and only ``subject_id`` plus the sheet's
        subject-level columns (arm) are put in front.
    allow_missing : bool
        Skip studies whose table does not exist instead of raising.

    Returns
    -------
    pandas.DataFrame
        The study columns of the sheet, then the table's own columns; rows in sheet order.

    Raises
    ------
    InvalidInputError
        When a study's table is missing (and not allowed) or the template lacks a placeholder.
    """
    if "{subject}" not in template:
        raise InvalidInputError("template needs {subject} (and {timepoint} for per-study tables)",
                                attribute="--template", remedy="e.g. results/{subject}/{timepoint}/uptake.csv")
    per_subject = "{timepoint}" not in template
    if per_subject:
        sheet = sheet.drop_duplicates("subject_id")
        study_columns = [c for c in ("subject_id", "arm") if c in sheet.columns]
    else:
        study_columns = [c for c in STUDY_COLUMNS if c in sheet.columns]
    frames = []
    for row in sheet.itertuples(index=False):
        path = Path(template.format(subject=row.subject_id, timepoint=getattr(row, "timepoint", "")))
        if not path.is_file():
            if allow_missing:
                continue
            raise InvalidInputError("study table missing", source=str(path),
                                    remedy="run the stage for this study first, or pass --allow-missing")
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])  # "NA" is a category (PERCIST), not missing
        clash = [c for c in study_columns if c in table.columns]
        table = table.drop(columns=clash)
        for i, column in enumerate(study_columns):
            table.insert(i, column, getattr(row, column))
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=study_columns)
    return pd.concat(frames, ignore_index=True)
