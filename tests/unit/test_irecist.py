"""iRECIST: iUPD, confirmation (iCPD), accumulation, reset, new-lesion targets and dates."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from pipeline.errors import InvalidInputError
from pipeline.response import best_overall_response, evaluate_recist, validate_response_table

START = dt.date(2025, 1, 6)


def lesion(lid: str, diameter: float | None, kind: str = "target", organ: str = "liver", node: int = 0,
           status: str = "") -> dict:
    return {"lesion_id": lid, "lesion_type": kind, "organ": organ, "is_lymph_node": node,
            "diameter_mm": diameter, "non_target_status": status}


def table(visits: list[list[dict]], days: list[int] | None = None) -> pd.DataFrame:
    days = days or [42 * k for k in range(len(visits))]
    rows = []
    for k, (visit, d) in enumerate(zip(visits, days, strict=True)):
        date = (START + dt.timedelta(days=d)).isoformat()
        rows += [{"subject_id": "S1", "timepoint": f"v{k}", "assessment_date": date, **les} for les in visit]
    return pd.DataFrame(rows)


def one_target(*values: float) -> list[list[dict]]:
    return [[lesion("t1", v)] for v in values]


def date(days: int) -> str:
    return (START + dt.timedelta(days=days)).isoformat()


def test_iupd_then_5_mm_more_is_icpd() -> None:
    out = evaluate_recist(table(one_target(100.0, 80.0, 100.0, 105.0)))
    assert list(out["irecist_response"])[1:] == ["iSD", "iUPD", "iCPD"]
    assert out["iupd_reason"].iloc[2] == "target"
    assert out["icpd_date"].iloc[3] == date(84)


def test_iupd_then_4_9_mm_stays_iupd() -> None:
    out = evaluate_recist(table(one_target(100.0, 80.0, 100.0, 104.9)))
    assert out["irecist_response"].iloc[3] == "iUPD"
    assert out["icpd_date"].iloc[3] == ""


def test_increases_accumulate() -> None:
    out = evaluate_recist(table(one_target(100.0, 80.0, 100.0, 104.0, 106.0)))
    assert list(out["irecist_response"])[1:] == ["iSD", "iUPD", "iUPD", "iCPD"]
    assert out["icpd_date"].iloc[4] == date(84)


def test_reset_after_ipr_and_new_iupd_against_nadir() -> None:
    out = evaluate_recist(table(one_target(100.0, 60.0, 75.0, 60.0, 70.0, 72.0, 80.0)))
    assert list(out["irecist_response"])[1:] == ["iPR", "iUPD", "iPR", "iPR", "iUPD", "iCPD"]
    assert list(out["nadir_mm"])[5:] == [60.0, 60.0]  # the nadir is not reset
    assert "iUPD reset" in out["notes"].iloc[3]
    assert out["icpd_date"].iloc[6] == date(5 * 42)  # the second iUPD, not the first
    assert out["overall_response"].iloc[2] == "PD"  # RECIST 1.1 PD stays PD at that time point


def test_new_lesion_iupd_then_additional_new_lesion_is_icpd() -> None:
    visits = [[lesion("t1", 50.0)],
              [lesion("t1", 40.0), lesion("n1", 12.0, kind="new", organ="lung")],
              [lesion("t1", 40.0), lesion("n1", 12.0, kind="new", organ="lung"),
               lesion("n2", 6.0, kind="new", organ="bone")]]
    out = evaluate_recist(table(visits))
    assert (out["irecist_response"].iloc[1], out["iupd_reason"].iloc[1]) == ("iUPD", "new_lesion")
    assert out["nlt_sum_mm"].iloc[1] == 12.0
    assert out["sum_diameters_mm"].iloc[1] == 40.0  # NLT sum not added to the target sum
    assert out["irecist_response"].iloc[2] == "iCPD"
    assert "additional new lesion(s) n2" in out["iupd_reason"].iloc[2]


def test_nlt_sum_increase_of_5_mm_is_icpd_and_nlnt() -> None:
    visits = [[lesion("t1", 50.0)],
              [lesion("t1", 50.0), lesion("n1", 12.0, kind="new", organ="lung"),
               lesion("n2", 9.0, kind="new", organ="lung")],
              [lesion("t1", 50.0), lesion("n1", 16.9, kind="new", organ="lung"),
               lesion("n2", 9.0, kind="new", organ="lung")],
              [lesion("t1", 50.0), lesion("n1", 17.0, kind="new", organ="lung"),
               lesion("n2", 9.0, kind="new", organ="lung")]]
    out = evaluate_recist(table(visits))
    assert "n2: new-lesion non-target (NLNT)" in out["notes"].iloc[1]
    assert list(out["nlt_sum_mm"])[1:] == [12.0, 16.9, 17.0]
    assert list(out["irecist_response"])[1:] == ["iUPD", "iUPD", "iCPD"]


def test_persisting_new_lesion_with_shrinking_targets_stays_iupd() -> None:
    # Seymour Table 2 (not EORTC FAQ scenario B): new lesions unchanged, targets at PR level -> iUPD
    visits = [[lesion("t1", 50.0)],
              [lesion("t1", 50.0), lesion("n1", 12.0, kind="new", organ="lung")],
              [lesion("t1", 30.0), lesion("n1", 12.0, kind="new", organ="lung")],
              [lesion("t1", 30.0), lesion("n1", 0.0, kind="new", organ="lung", status="absent")]]
    out = evaluate_recist(table(visits))
    assert list(out["irecist_response"])[1:] == ["iUPD", "iUPD", "iPR"]


def test_confirmation_scan_before_4_weeks_is_disregarded() -> None:
    days = [0, 42, 84, 84 + 20, 84 + 28]
    out = evaluate_recist(table(one_target(100.0, 80.0, 100.0, 110.0, 110.0), days=days))
    assert out["irecist_response"].iloc[3] == "iUPD"
    assert "20 days after the iUPD" in out["notes"].iloc[3]
    assert out["irecist_response"].iloc[4] == "iCPD"
    assert out["icpd_date"].iloc[4] == date(84)


def test_early_scan_with_additional_new_lesion_confirms() -> None:
    visits = [[lesion("t1", 100.0)], [lesion("t1", 80.0)], [lesion("t1", 100.0)],
              [lesion("t1", 100.0), lesion("n1", 11.0, kind="new", organ="lung")]]
    out = evaluate_recist(table(visits, days=[0, 42, 84, 98]))
    assert out["irecist_response"].iloc[3] == "iCPD"
    assert out["icpd_date"].iloc[3] == date(84)


def test_non_target_iupd_then_any_increase_is_icpd() -> None:
    nt = lambda status: lesion("b1", None, kind="non_target", organ="bone", status=status)  # noqa: E731
    visits = [[lesion("t1", 50.0), nt("present")], [lesion("t1", 50.0), nt("unequivocal_progression")],
              [lesion("t1", 50.0), nt("unequivocal_progression")], [lesion("t1", 50.0), nt("increase")]]
    out = evaluate_recist(table(visits))
    assert list(out["irecist_response"])[1:] == ["iUPD", "iUPD", "iCPD"]
    assert out["iupd_reason"].iloc[3] == "further non-target increase"


def test_pd_newly_met_in_another_category_is_icpd() -> None:
    nt = lambda status: lesion("b1", None, kind="non_target", organ="bone", status=status)  # noqa: E731
    visits = [[lesion("t1", 50.0), nt("present")], [lesion("t1", 50.0), nt("unequivocal_progression")],
              [lesion("t1", 60.0), nt("unequivocal_progression")]]
    out = evaluate_recist(table(visits))
    assert out["irecist_response"].iloc[2] == "iCPD"
    assert "RECIST PD newly met in target" in out["iupd_reason"].iloc[2]


def test_admiralonco_icpd_date_is_first_iupd_of_confirmed_block() -> None:
    irecist = ["iSD", "iSD", "iUPD", "iPR", "iPR", "iUPD", "iCPD"]
    overall = ["SD", "SD", "PD", "PR", "PR", "PD", "PD"]
    rows = [{"subject_id": "S1", "timepoint": "v0", "assessment_date": date(0), "overall_response": "",
             "irecist_response": ""}]
    rows += [{"subject_id": "S1", "timepoint": f"v{k + 1}", "assessment_date": date(42 * (k + 1)),
              "overall_response": o, "irecist_response": i} for k, (o, i) in enumerate(zip(overall, irecist,
                                                                                             strict=True))]
    bor = validate_response_table(pd.DataFrame(rows))
    assert bor.loc[0, "icpd_date"] == date(6 * 42)
    assert bor.loc[0, "first_iupd_date"] == date(3 * 42)
    assert bor.loc[0, "ibor"] == "iPR"
    assert bor.loc[0, "bor"] == "SD"  # RECIST stops at the first PD
    confirmed = validate_response_table(pd.DataFrame(rows), confirm=True)
    assert confirmed.loc[0, "ibor"] == "iPR"  # iPR on days 168 and 210: 42 days apart


def test_icpd_without_iupd_is_an_error() -> None:
    rows = [{"subject_id": "S1", "timepoint": "v0", "assessment_date": date(0), "overall_response": "",
             "irecist_response": ""},
            {"subject_id": "S1", "timepoint": "v1", "assessment_date": date(42), "overall_response": "PD",
             "irecist_response": "iCPD"}]
    with pytest.raises(InvalidInputError, match="subject S1: iCPD on .* without a preceding iUPD"):
        validate_response_table(pd.DataFrame(rows))


def test_ibor_from_evaluated_timepoints() -> None:
    out = evaluate_recist(table(one_target(100.0, 80.0, 100.0, 106.0)))
    bor = best_overall_response(out, confirm=False)
    assert (bor.loc[0, "bor"], bor.loc[0, "ibor"], bor.loc[0, "icpd_date"]) == ("SD", "iSD", date(84))

