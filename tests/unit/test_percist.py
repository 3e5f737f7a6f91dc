"""PERCIST 1.0 / EORTC 1999 rules at their boundaries, on hand-built uptake tables."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from pipeline.errors import InvalidInputError
from pipeline.response.comparability import comparability, uptake_time_min
from pipeline.response.options import PercistOptions
from pipeline.response.percist import (
    PercistResult,
    choose_unit,
    eortc_response,
    measurability_threshold,
    percist_response,
    summarise_scan,
)

SUV_PER_SUL = 1.5


def uptake(lesions: dict[str, float], *, liver: tuple[float, float] | None = (1.0, 0.1),
           blood: tuple[float, float] | None = (0.8, 0.05), sul: bool = True,
           lesion_max: dict[str, float] | None = None) -> pd.DataFrame:
    """An uptake table: lesions by name -> SULpeak (SUV = 1.5 x SUL), liver and blood (mean, SD) in SUL."""
    rows = []
    for name, peak in lesions.items():
        smax = (lesion_max or {}).get(name, peak * SUV_PER_SUL * 1.1)
        rows.append({"name": name, "kind": "tumour", "lesion_id": name, "organ": "", "volume_ml": 5.0,
                     "suv_max": smax, "suv_mean": peak * SUV_PER_SUL * 0.8, "suv_sd": 0.2,
                     "suv_peak": peak * SUV_PER_SUL, "tlg": 5.0 * peak, "sul_peak": peak, "sul_mean": peak * 0.8,
                     "sul_sd": 0.1})
    for name, organ, ref in (("liver", "liver", liver), ("aorta", "aorta", blood)):
        if ref is None:
            continue
        mean, sd = ref
        rows.append({"name": name, "kind": "reference", "lesion_id": "", "organ": organ, "volume_ml": 100.0,
                     "suv_max": mean * SUV_PER_SUL * 1.3, "suv_mean": mean * SUV_PER_SUL,
                     "suv_sd": sd * SUV_PER_SUL, "suv_peak": mean * SUV_PER_SUL * 1.1, "tlg": 100.0 * mean,
                     "sul_peak": mean * 1.1, "sul_mean": mean, "sul_sd": sd})
    table = pd.DataFrame(rows)
    if not sul:
        for column in ("sul_peak", "sul_mean", "sul_sd"):
            table[column] = math.nan
    return table


# liver 1.0 +- 0.1 -> measurability threshold 1.5 + 0.2 = 1.7 SUL
def test_measurability_threshold_liver_and_blood() -> None:
    scan = summarise_scan(uptake({"l1": 3.0}), "SUL")
    value, role, note = measurability_threshold(scan)
    assert value == pytest.approx(1.7) and role == "liver" and "1.5 x liver" in note
    value, role, _ = measurability_threshold(scan, PercistOptions(reference="blood"))
    assert value == pytest.approx(2.0 * 0.8 + 2 * 0.05) and role == "blood"
    no_liver = summarise_scan(uptake({"l1": 3.0}, liver=None), "SUL")
    value, role, note = measurability_threshold(no_liver)
    assert value == pytest.approx(1.7) and role == "blood" and "liver reference missing" in note
    value, _, _ = measurability_threshold(no_liver, PercistOptions(blood_fallback=False))
    assert math.isnan(value)


def _with_sphere(lesions: dict[str, float], *, sphere: bool = True, marked: bool = True) -> pd.DataFrame:
    """``uptake()`` plus a liver sphere (SUL 1.5 +- 0.1) after the whole liver (1.0 +- 0.1), the reference rows
    marked in ``reference_role`` as ``petvoi uptake`` marks them (the sphere when there is one)."""
    table = uptake(lesions)
    if sphere:
        row = table[table["name"] == "liver"].iloc[0].to_dict()
        row.update({"name": "liver_ref", "volume_ml": 14.1, "sul_mean": 1.5, "suv_mean": 1.5 * SUV_PER_SUL})
        table = pd.concat([table, pd.DataFrame([row])], ignore_index=True)
    if marked:
        roles = {"liver_ref": "liver_sphere", "aorta": "blood"} if sphere else {"liver": "whole_liver",
                                                                                "aorta": "blood"}
        table["reference_role"] = table["name"].map(roles)  # NaN elsewhere, as read from uptake.csv
    return table


def test_percist_takes_the_liver_sphere_uptake_marked() -> None:
    scan = summarise_scan(_with_sphere({"l1": 3.0}), "SUL")
    assert scan.liver_mean == 1.5 and scan.liver_name == "liver_ref" and scan.liver_role == "liver_sphere"
    assert scan.liver_text == "liver reference liver_ref (3 cm sphere)"
    assert "liver reference 'liver_ref': the 3 cm liver sphere" in scan.notes
    value, role, _ = measurability_threshold(scan)
    assert value == pytest.approx(1.5 * 1.5 + 2 * 0.1) and role == "liver"
    result = percist_response(_with_sphere({"l1": 3.0}), _with_sphere({"l1": 1.0}))
    assert "baseline: liver reference 'liver_ref': the 3 cm liver sphere" in result.notes_text
    assert result.baseline_threshold == pytest.approx(2.45)
    # only the whole liver: the fallback is said
    whole = summarise_scan(_with_sphere({"l1": 3.0}, sphere=False), "SUL")
    assert whole.liver_mean == 1.0 and whole.liver_role == "whole_liver"
    assert any("the whole liver, not the PERCIST 1.0 3 cm sphere" in n for n in whole.notes)
    # a table written before reference_role: the first liver reference VOI, with a note
    legacy = summarise_scan(_with_sphere({"l1": 3.0}, marked=False), "SUL")
    assert legacy.liver_name == "liver" and legacy.liver_role == ""
    assert any("no reference_role column" in n for n in legacy.notes)


def _boundary(b: float, delta: float) -> PercistResult:
    return percist_response(uptake({"l1": b}), uptake({"l1": b + delta}))


def test_pmr_at_exact_boundary_30_pct_and_0_8() -> None:
    b = 0.8 / 0.3  # -30 % is exactly -0.8 SUL
    result = _boundary(b, -0.8)
    assert result.pct_change == pytest.approx(-30.0)
    assert result.abs_change == pytest.approx(-0.8)
    assert result.category == "PMR"


def test_30_pct_with_only_0_79_is_smd() -> None:
    b = 0.79 / 0.3  # -30 % is -0.79 SUL: the absolute criterion fails
    result = _boundary(b, -0.79)
    assert result.pct_change == pytest.approx(-30.0)
    assert result.category == "SMD"


def test_0_8_with_only_29_9_pct_is_smd() -> None:
    b = 0.8 / 0.299  # -0.8 SUL is only -29.9 %
    assert _boundary(b, -0.8).category == "SMD"


def test_pmd_at_exact_boundary_and_just_below() -> None:
    b = 0.8 / 0.3
    result = _boundary(b, 0.8)
    assert result.pct_change == pytest.approx(30.0) and result.category == "PMD"
    assert _boundary(b, 0.79).category == "SMD"
    assert _boundary(10.0, 2.99).category == "SMD"  # +29.9 %, +2.99 SUL
    assert _boundary(10.0, 3.0).category == "PMD"


def test_new_avid_lesion_is_pmd_but_faint_new_lesion_is_not() -> None:
    base = uptake({"l1": 4.0})
    # l2 new with SULpeak 1.8 >= follow-up threshold 1.7: PMD although l1 shrank by 50 %
    result = percist_response(base, uptake({"l1": 2.0, "l2": 1.8}))
    assert result.category == "PMD" and result.new_lesions == ("l2",)
    # l2 new with SULpeak 1.6 < 1.7: not FDG-avid; l1 -50 %, -2.0 -> PMR
    result = percist_response(base, uptake({"l1": 2.0, "l2": 1.6}))
    assert result.category == "PMR" and result.new_lesions == ()
    assert "below the follow-up threshold" in result.notes_text
    # new_lesion_rule "any": every new tumour VOI counts
    result = percist_response(base, uptake({"l1": 2.0, "l2": 1.6}), options=PercistOptions(new_lesion_rule="any"))
    assert result.category == "PMD"


def test_cmr_every_lesion_below_liver_and_blood() -> None:
    base = uptake({"l1": 4.0, "l2": 3.0})
    # liver 1.0, blood 0.8 + 2 x 0.05 = 0.9 -> limit 0.9
    result = percist_response(base, uptake({"l1": 0.9, "l2": 0.5}))
    assert result.category == "CMR"
    # 0.95 <= liver but above the blood-pool limit: not CMR, but a -76 % change -> PMR
    result = percist_response(base, uptake({"l1": 0.95, "l2": 0.5}))
    assert result.category == "PMR"
    # no tumour VOI left at follow-up: all resolved -> CMR
    assert percist_response(base, uptake({})).category == "CMR"


def test_not_measurable_is_na_with_reason() -> None:
    result = percist_response(uptake({"l1": 1.69}), uptake({"l1": 0.5}))
    assert result.category is None
    assert "not measurable" in result.notes_text and "1.69" in result.notes_text
    result = percist_response(uptake({}), uptake({"l1": 5.0}))
    assert result.category is None


def test_hottest_lesion_can_switch() -> None:
    result = percist_response(uptake({"a": 5.0, "b": 3.0}), uptake({"a": 2.0, "b": 4.0}))
    assert (result.baseline_target, result.followup_target) == ("a", "b")
    assert result.pct_change == pytest.approx(-20.0) and result.category == "SMD"
    assert "another lesion" in result.notes_text


def test_sul_missing_falls_back_to_suv_with_note() -> None:
    base, follow = uptake({"l1": 4.0}, sul=False), uptake({"l1": 2.0})
    assert choose_unit([base, follow])[0] == "SUV"
    result = percist_response(base, follow)
    assert result.unit == "SUV"
    assert result.baseline_peak == pytest.approx(6.0)  # SUVpeak of both scans
    assert result.followup_peak == pytest.approx(3.0)
    assert "SUL not available" in result.notes_text
    assert result.category == "PMR"


def test_missing_columns_raise() -> None:
    with pytest.raises(InvalidInputError, match="lacks columns"):
        percist_response(uptake({"l1": 4.0}).drop(columns=["suv_peak"]), uptake({"l1": 2.0}))
    with pytest.raises(InvalidInputError, match="not tumour VOIs"):
        percist_response(uptake({"l1": 4.0}), uptake({"l1": 2.0}), new_lesions=["zz"])
    with pytest.raises(InvalidInputError, match="liver_rule"):
        PercistOptions(liver_rule="maybe")  # type: ignore[arg-type]


@pytest.mark.parametrize(("followup", "expected"), [
    (1.8, True),    # +20 %, +0.3: both limits met exactly
    (1.2, True),    # -20 %, -0.3
    (1.81, False),  # +20.7 %, +0.31
    (1.79, True),
])
def test_liver_comparability_at_20_pct_and_0_3(followup: float, expected: bool) -> None:
    result = comparability(1.5, followup, 60.0, 60.0)
    assert result.comparable is expected
    assert result.liver_abs_change == pytest.approx(followup - 1.5)


def test_liver_rule_both_versus_either() -> None:
    # 2.0 -> 2.31: +15.5 % (within 20 %) but +0.31 (outside 0.3)
    assert comparability(2.0, 2.31, 60.0, 60.0).comparable is False
    assert comparability(2.0, 2.31, 60.0, 60.0, PercistOptions(liver_rule="either")).comparable is True
    # 1.0 -> 1.25: +25 % (outside) but +0.25 (within)
    assert comparability(1.0, 1.25, 60.0, 60.0).comparable is False
    assert comparability(1.0, 1.25, 60.0, 60.0, PercistOptions(liver_rule="either")).comparable is True


def test_uptake_time_comparability_15_vs_16_min() -> None:
    ok = comparability(1.0, 1.0, 60.0, 75.0)
    assert ok.comparable is True and ok.uptake_diff_min == pytest.approx(15.0)
    late = comparability(1.0, 1.0, 60.0, 76.0)
    assert late.comparable is False and "FAILED" in late.notes_text
    assert comparability(1.0, 1.0, 76.0, 60.0).comparable is False
    unknown = comparability(1.0, 1.0, math.nan, 60.0)
    assert unknown.comparable is False and "cannot be checked" in unknown.notes_text


def test_uptake_time_from_sidecar() -> None:
    assert uptake_time_min({"uptake_time_s": 3600.0}) == (60.0, None)
    minutes, note = uptake_time_min({"injection_datetime": "2025-03-03T09:00:00+01:00",
                                     "reference_datetime": "2025-03-03T10:15:30+01:00"})
    assert minutes == pytest.approx(75.5) and "reference_datetime" in note
    minutes, note = uptake_time_min(None)
    assert math.isnan(minutes) and note == "no SUV sidecar"


def test_require_comparable_gives_na() -> None:
    comp = comparability(1.0, 1.0, 60.0, 90.0)
    opts = PercistOptions(require_comparable=True)
    result = percist_response(uptake({"l1": 4.0}), uptake({"l1": 2.0}), options=opts, comparable=comp)
    assert result.category is None and "not comparable" in result.notes_text
    result = percist_response(uptake({"l1": 4.0}), uptake({"l1": 2.0}), comparable=comp)
    assert result.category == "PMR" and "interpret with caution" in result.notes_text


def _eortc(b: float, f: float, **kwargs: object) -> str | None:
    base = uptake({"l1": 4.0}, lesion_max={"l1": b})
    follow = uptake({"l1": 4.0}, lesion_max={"l1": f})
    return eortc_response(base, follow, options=PercistOptions(**kwargs)).category


def test_eortc_boundaries() -> None:
    assert _eortc(8.0, 6.0) == "PMR"        # -25 %
    assert _eortc(8.0, 6.01) == "SMD"       # -24.9 %
    assert _eortc(8.0, 6.8) == "SMD"        # -15 % (more than one cycle)
    assert _eortc(8.0, 6.8, after_one_cycle=True) == "PMR"
    assert _eortc(8.0, 6.81, after_one_cycle=True) == "SMD"
    assert _eortc(8.0, 10.0) == "PMD"       # +25 %
    assert _eortc(8.0, 9.99) == "SMD"
    assert _eortc(8.0, 1.5) == "CMR"        # SUVmax <= liver SUVmean 1.5


def test_eortc_sums_five_hottest_and_new_lesion() -> None:
    peaks = {f"l{i}": 4.0 for i in range(1, 7)}
    maxima = {f"l{i}": float(i) for i in range(1, 7)}  # targets l6..l2 (sum 20), l1 left out
    base = uptake(peaks, lesion_max=maxima)
    follow = uptake(peaks, lesion_max={**maxima, "l1": 100.0})
    result = eortc_response(base, follow)
    assert result.targets == ("l6", "l5", "l4", "l3", "l2")
    assert result.baseline_sum == pytest.approx(20.0) and result.category == "SMD"
    follow = uptake({**peaks, "n1": 3.0}, lesion_max=maxima)
    assert eortc_response(base, follow).category == "PMD"
    # a target without a follow-up VOI counts 0 (resolved): 20 -> 14 = -30 %
    follow = uptake({k: v for k, v in peaks.items() if k != "l6"}, lesion_max=maxima)
    result = eortc_response(base, follow)
    assert result.followup_sum == pytest.approx(14.0) and result.category == "PMR"
