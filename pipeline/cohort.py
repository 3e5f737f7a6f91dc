"""Cohort tables: per-study tables stacked into one tidy table with the sample sheet's study columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .config import load_sample_sheet
from .errors import InvalidInputError
from .io import write_table
from .policy import Policy

__all__ = ["STUDY_COLUMNS", "collect_study_tables", "run_collect"]

#: Sample-sheet columns put in front of every cohort table (those present in the sheet).
STUDY_COLUMNS = ("subject_id", "timepoint", "tracer", "nuclide", "arm", "route")


def collect_study_tables(sheet: pd.DataFrame, template: str, *, policy: Policy | None = None,
                         warnings: list[str] | None = None) -> pd.DataFrame:
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
    policy : Policy, optional
        ``cohort.missing_tables``: a study's missing table is an error (default) or the study is left out
        with a warning.
    warnings : list of str, optional
        Receives the warnings of studies left out.

    Returns
    -------
    pandas.DataFrame
        The study columns of the sheet, then the table's own columns; rows in sheet order.

    Raises
    ------
    InvalidInputError
        When a study's table is missing (and the policy refuses it) or the template lacks a placeholder.
    """
    if "{subject}" not in template:
        raise InvalidInputError("template needs {subject} (and {timepoint} for per-study tables)",
                                attribute="template", remedy="e.g. results/{subject}/{timepoint}/uptake.csv")
    policy = policy or Policy()
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
            check = "cohort.missing_tables"
            error = InvalidInputError("study table missing", source=str(path),
                                      remedy=f"run the stage for this study first, or leave it out with "
                                             f"{Policy.how_to_allow(check)}")
            policy.apply(check, f"{path}: study table missing, study left out", error, warnings)
            continue
        table = pd.read_csv(path, keep_default_na=False, na_values=[""])  # "NA" is a category (PERCIST), not missing
        clash = [c for c in study_columns if c in table.columns]
        table = table.drop(columns=clash)
        for i, column in enumerate(study_columns):
            table.insert(i, column, getattr(row, column))
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=study_columns)
    return pd.concat(frames, ignore_index=True)


def run_collect(samples: Path, template: str, output: Path, *, acquisition: str = "static",
                policy: Policy | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The ``collect`` stage: the tables of the sheet's studies of one ``acquisition`` stacked into one table
    (CSV, TSV or Parquet by the output's extension); returns it and the warnings of studies left out."""
    warnings: list[str] = []
    table = collect_study_tables(load_sample_sheet(samples, acquisition=acquisition), template, policy=policy,
                                 warnings=warnings)
    write_table(output, table)
    return table, warnings
