"""Dosing tables: reading a row with clear errors, and the net dose decayed to the injection time (R27)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pipeline.errors import InvalidInputError
from pipeline.suv.dose import net_dose_bq
from pipeline.suv.dosing import DOSING_COLUMNS, DosingRecord, load_dosing_table

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "dosing.csv"
CET = timezone(timedelta(hours=1))
HEADER = ",".join(DOSING_COLUMNS)


def _table(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "dosing.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_sample_dosing_row_and_net_dose() -> None:
    record = load_dosing_table(SAMPLE, "P01", "baseline")
    assert record.injected_activity_bq == pytest.approx(261.485e6)
    assert record.injected_activity_datetime == datetime(2025, 3, 3, 9, 17, 51, tzinfo=CET)
    assert record.residual_activity_bq == pytest.approx(4.961e6)
    assert record.injection_datetime == datetime(2025, 3, 3, 9, 27, 19, tzinfo=CET)
    assert (record.weight_kg, record.height_cm, record.sex) == (81.7, 169.0, "F")
    assert record.source.endswith("dosing.csv line 2")
    half = 6586.2  # 18F
    expected = 261.485e6 * 2 ** (-568 / half) - 4.961e6 * 2 ** (454 / half)  # 9:17:51 -> 9:27:19 -> 9:34:53
    assert net_dose_bq(record, record.injection_datetime, half) == pytest.approx(expected, rel=1e-12)


def test_missing_optional_cells(tmp_path: Path) -> None:
    path = _table(tmp_path, "S1,base,,,,,2025-01-01T10:00:00,70,,")
    record = load_dosing_table(path, "S1", "base")
    assert record.injected_activity_bq is None and record.weight_kg == 70.0 and record.sex is None
    assert record.injection_datetime == datetime(2025, 1, 1, 10)


@pytest.mark.parametrize(("row", "column"), [
    ("S1,base,abc,2025-01-01T09:50:00,,,,,,", "column injected_activity_mbq"),
    ("S1,base,300,,,,,,,", "column injected_activity_datetime"),
    ("S1,base,300,2025-01-01 9h50,,,,,,", "column injected_activity_datetime"),
    ("S1,base,300,2025-01-01T09:50:00,5,,,,,", "column residual_activity_datetime"),
    ("S1,base,,,5,2025-01-01T10:05:00,,,,", "column injected_activity_mbq"),
    ("S1,base,,,,,,-70,,", "column weight_kg"),
    ("S1,base,,,,,,,,X", "column sex"),
])
def test_invalid_cells_are_named_by_line_and_column(tmp_path: Path, row: str, column: str) -> None:
    path = _table(tmp_path, row)
    with pytest.raises(InvalidInputError) as info:
        load_dosing_table(path, "S1", "base")
    assert f"line 2, {column}" in str(info.value) and str(path) in str(info.value) and info.value.remedy


def test_table_level_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        load_dosing_table(tmp_path / "none.csv", "S1", "base")
    with pytest.raises(InvalidInputError, match="missing column.*weight_kg"):
        load_dosing_table(_table(tmp_path, "S1,base", header="subject_id,timepoint"), "S1", "base")
    path = _table(tmp_path, "S1,base,,,,,,,,", "S1,base,,,,,,,,", "S1,follow,,,,,,,,")
    with pytest.raises(InvalidInputError, match="lines 2, 3"):
        load_dosing_table(path, "S1", "base")
    with pytest.raises(InvalidInputError, match="timepoints of this subject: base, follow"):
        load_dosing_table(path, "S1", "week2")


def test_net_dose_must_be_positive() -> None:
    t = datetime(2025, 1, 1, 10)
    record = DosingRecord(injected_activity_bq=1e6, injected_activity_datetime=t, residual_activity_bq=2e6,
                          residual_activity_datetime=t, source="row")
    with pytest.raises(InvalidInputError, match="not positive"):
        net_dose_bq(record, t, 6586.2)
    with pytest.raises(InvalidInputError, match="no injected activity"):
        net_dose_bq(DosingRecord(source="row"), t, 6586.2)
