"""Cohort tables stack per-study CSVs behind the sample sheet's study columns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.cohort import collect_study_tables
from pipeline.errors import InvalidInputError
from pipeline.policy import Policy

SHEET = pd.DataFrame({"subject_id": ["P01", "P01", "P02"], "timepoint": ["b", "f", "b"],
                      "tracer": ["T", "T", "T"], "dicom": ["x", "y", "z"]})


def _write(tmp_path: Path, subject: str, timepoint: str, values: list[float]) -> None:
    folder = tmp_path / subject / timepoint
    folder.mkdir(parents=True)
    pd.DataFrame({"name": [f"v{i}" for i in range(len(values))], "suv_max": values}).to_csv(
        folder / "uptake.csv", index=False)


def test_stacks_in_sheet_order(tmp_path: Path) -> None:
    _write(tmp_path, "P01", "b", [1.0, 2.0])
    _write(tmp_path, "P01", "f", [3.0])
    _write(tmp_path, "P02", "b", [4.0])
    table = collect_study_tables(SHEET, str(tmp_path / "{subject}" / "{timepoint}" / "uptake.csv"))
    assert list(table.columns) == ["subject_id", "timepoint", "tracer", "name", "suv_max"]
    assert table["suv_max"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert table["subject_id"].tolist() == ["P01", "P01", "P01", "P02"]


def test_missing_table_is_an_error_unless_allowed(tmp_path: Path) -> None:
    _write(tmp_path, "P01", "b", [1.0])
    template = str(tmp_path / "{subject}" / "{timepoint}" / "uptake.csv")
    with pytest.raises(InvalidInputError, match="study table missing"):
        collect_study_tables(SHEET, template)
    assert len(collect_study_tables(SHEET, template, policy=Policy({"cohort.missing_tables": "warn"}))) == 1


def test_per_subject_template(tmp_path: Path) -> None:
    for subject, values in (("P01", [1.0]), ("P02", [2.0, 3.0])):
        (tmp_path / subject).mkdir()
        pd.DataFrame({"subject_id": subject, "metric": "x", "value": values}).to_csv(
            tmp_path / subject / "deltas.csv", index=False)
    table = collect_study_tables(SHEET, str(tmp_path / "{subject}" / "deltas.csv"))
    assert list(table.columns) == ["subject_id", "metric", "value"]
    assert table["value"].tolist() == [1.0, 2.0, 3.0]
