"""IHC scores as trials report them: H-score, HER2 by ASCO/CAP 2018 (HER2-low included), range checks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.errors import InvalidInputError
from pipeline.stats.ihc import h_score, her2_ish_group, her2_status, score_ihc, validate_ihc


def test_h_score() -> None:
    assert h_score(20, 30, 10) == 110  # 20 + 60 + 30
    assert h_score(0, 0, 100) == 300


@pytest.mark.parametrize(("ratio", "copies", "group"), [
    (2.0, 4.0, 1), (2.0, 3.99, 2), (1.99, 6.0, 3), (1.99, 5.99, 4), (1.99, 4.0, 4), (1.99, 3.99, 5), (5.0, 12.0, 1)])
def test_her2_ish_groups_at_the_boundaries(ratio: float, copies: float, group: int) -> None:
    assert her2_ish_group(ratio, copies) == group


@pytest.mark.parametrize(("ihc", "ratio", "copies", "status"), [
    ("3+", None, None, "positive"), ("2+", None, None, "equivocal"), ("1+", None, None, "negative"),
    ("0", None, None, "negative"), ("2+", 2.5, 5.0, "positive"), ("2+", 2.2, 3.0, "negative"),
    ("3+", 2.2, 3.0, "positive"), ("2+", 1.5, 6.5, "positive"), ("1+", 1.5, 6.5, "negative"),
    ("2+", 1.5, 4.5, "negative"), ("2+", 1.2, 2.0, "negative")])
def test_her2_status_asco_cap_2018(ihc: str, ratio: float | None, copies: float | None, status: str) -> None:
    assert her2_status(ihc, ratio, copies)[0] == status


def test_scores_derived_and_her2_low() -> None:
    table = validate_ihc(pd.DataFrame({"subject_id": ["P1", "P2", "P3", "P4"], "lesion_id": ["l1"] * 4,
                                       "her2_ihc": ["0", "1+", "2+", "3+"], "ish_ratio": [None, None, 1.1, None],
                                       "ish_copies": [None, None, 2.5, None], "pct_weak": [10, 20, 30, 0],
                                       "pct_moderate": [0, 10, 20, 20], "pct_strong": [0, 0, 10, 70]}))
    scored = score_ihc(table)
    assert scored["h_score"].tolist() == [10, 40, 100, 250]
    assert scored["her2_category"].tolist() == ["HER2-0", "HER2-low", "HER2-low", "HER2-positive"]


@pytest.mark.parametrize(("column", "value", "message"), [
    ("percent_positive", 120, "row 2, column percent_positive: 120 is out of range (0 to 100)"),
    ("intensity", "4+", "row 2, column intensity: '4+' is out of range (0, 1+, 2+ or 3+)"),
    ("ish_ratio", -1, "row 2, column ish_ratio: -1 is out of range (>= 0)"),
    ("h_score", 310, "row 2, column h_score: 310 is out of range (0 to 300)")])
def test_out_of_range_values_name_file_row_and_column(column: str, value: object, message: str) -> None:
    table = pd.DataFrame({"subject_id": ["P1", "P2"], "lesion_id": ["l1", "l1"], column: [0, value]})
    with pytest.raises(InvalidInputError) as info:
        validate_ihc(table, source="ihc.csv")
    assert str(info.value).startswith(f"ihc.csv: {message}")


def test_stats_refuses_an_out_of_range_ihc_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"subject_id": ["P1"], "timepoint": ["baseline"], "kind": ["tumour"], "lesion_id": ["l1"],
                  "name": ["l1"], "suv_max": [4.0]}).to_parquet(tmp_path / "uptake.parquet")
    ihc = tmp_path / "ihc.csv"
    pd.DataFrame({"subject_id": ["P1"], "timepoint": ["baseline"], "lesion_id": ["l1"], "marker": ["CD8"],
                  "percent_positive": [140.0], "intensity": ["2+"]}).to_csv(ihc, index=False)
    (tmp_path / "c.yaml").write_text("{}\n")
    code = main(["stats", "--config", str(tmp_path / "c.yaml"), "--uptake", str(tmp_path / "uptake.parquet"),
                 "--ihc", str(ihc), "--histology", "", "--outcomes", "", "-o", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0] == (f"petvoi stats: error: {ihc}: row 1, column percent_positive: 140.0 is out of range (0 to 100); "
                      "correct the IHC table")
    assert not (tmp_path / "s.csv").exists()
