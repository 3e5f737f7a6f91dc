"""Longitudinal deltas: matching, flags, mapping override, patient rows, PERCIST on the synthetic cohort."""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.errors import InvalidInputError
from pipeline.io import write_csv
from pipeline.response.deltas import COLUMNS, compute_deltas
from pipeline.response.options import DeltaOptions
from pipeline.response.percist import percist_response


def uptake(lesions: dict[str, float], *, liver: float = 1.0, liver_sd: float = 0.1, sul: bool = True,
           lesion_ids: dict[str, str] | None = None) -> pd.DataFrame:
    """An uptake table: tumour VOIs by name -> SULpeak (SUV = 1.5 x SUL), liver, aorta and spleen."""
    rows = []
    for name, peak in lesions.items():
        rows.append({"label": len(rows) + 1, "name": name, "kind": "tumour",
                     "lesion_id": (lesion_ids or {}).get(name, name), "organ": "", "volume_ml": peak,
                     "suv_max": 1.65 * peak, "suv_mean": 1.2 * peak, "suv_sd": 0.2, "suv_peak": 1.5 * peak,
                     "tlg": 1.2 * peak * peak, "sul_peak": peak, "sul_mean": 0.8 * peak, "sul_sd": 0.1,
                     "suv_max_to_liver": 1.65 * peak / (1.5 * liver), "suv_peak_to_liver": peak / liver,
                     "suv_max_to_blood": 1.65 * peak / 1.2, "suv_peak_to_blood": 1.5 * peak / 1.2})
    for name, kind, organ, mean, sd in (("liver", "reference", "liver", liver, liver_sd),
                                        ("aorta", "reference", "aorta", 0.8, 0.05),
                                        ("spleen", "organ", "spleen", 1.2, 0.1)):
        rows.append({"label": len(rows) + 1, "name": name, "kind": kind, "lesion_id": "", "organ": organ,
                     "volume_ml": 100.0, "suv_max": 2.0 * mean, "suv_mean": 1.5 * mean, "suv_sd": 1.5 * sd,
                     "suv_peak": 1.6 * mean, "tlg": 150.0 * mean, "sul_peak": 1.1 * mean, "sul_mean": mean,
                     "sul_sd": sd})
    table = pd.DataFrame(rows)
    if not sul:
        table[["sul_peak", "sul_mean", "sul_sd"]] = math.nan
    return table


def value(table: pd.DataFrame, name: str, metric: str, column: str = "pct_change", timepoint: str | None = None):
    rows = table[(table["name"] == name) & (table["metric"] == metric)]
    if timepoint is not None:
        rows = rows[rows["timepoint"] == timepoint]
    assert len(rows) == 1, rows
    return rows.iloc[0][column]


SIDECARS = {"t0": {"uptake_time_s": 3600.0}, "t1": {"uptake_time_s": 3900.0}}


def test_matching_new_and_disappeared_flags() -> None:
    studies = {"t0": uptake({"l1": 4.0, "l2": 3.0}), "t1": uptake({"l1": 2.0, "l3": 2.5})}
    out = compute_deltas(studies, SIDECARS, subject_id="S1")
    assert list(out.columns) == list(COLUMNS)
    assert value(out, "l1", "sul_peak", "status") == "matched"
    assert value(out, "l1", "sul_peak") == pytest.approx(-50.0)
    assert value(out, "l1", "mtv", "abs_change") == pytest.approx(-2.0)
    assert value(out, "l2", "suv_max", "status") == "disappeared"
    assert math.isnan(value(out, "l2", "suv_max", "followup"))
    assert value(out, "l3", "suv_max", "status") == "new"
    assert math.isnan(value(out, "l3", "suv_max", "baseline"))
    assert value(out, "spleen", "suv_mean", "level") == "organ"
    assert value(out, "liver", "suv_mean", "level") == "reference"
    assert set(out["subject_id"]) == {"S1"} and set(out["baseline_timepoint"]) == {"t0"}
    # reference VOIs carry no ratios: those (VOI, metric) rows are left out
    assert out[(out["name"] == "liver") & (out["metric"] == "suv_max_to_liver")].empty
    # new lesion l3 (2.5 >= threshold 1.7) -> PMD on every patient row
    patient = out[out["level"] == "patient"]
    assert list(patient["metric"]) == ["hottest_lesion_sul_peak", "sum_hottest_sul_peak", "liver_sul_mean",
                                       "uptake_time_min"]
    assert set(patient["percist"]) == {"PMD"} and "l3" in patient.iloc[0]["percist_notes"]
    assert set(out.loc[out["level"] != "patient", "percist"]) == {""}


def test_mapping_table_overrides_automatic_matching() -> None:
    # follow-up 'l9' is baseline 'l2' renamed; 'l1' at follow-up is declared new (another lesion)
    studies = {"t0": uptake({"l1": 4.0, "l2": 3.0}), "t1": uptake({"l1": 2.0, "l9": 2.4})}
    mapping = pd.DataFrame({"subject_id": ["S1", "S1", "S2"], "timepoint": ["t1", "t1", "t1"],
                            "name": ["l9", "l1", "zz"], "matches_baseline_name": ["l2", "", "l1"]})
    out = compute_deltas(studies, SIDECARS, subject_id="S1", mapping=mapping)
    assert value(out, "l9", "sul_peak", "status") == "matched"
    assert value(out, "l9", "sul_peak", "baseline_name") == "l2"
    assert value(out, "l9", "sul_peak") == pytest.approx(-20.0)
    assert "mapping table" in value(out, "l9", "sul_peak", "notes")
    l1 = out[(out["name"] == "l1") & (out["metric"] == "sul_peak")]
    assert sorted(l1["status"]) == ["disappeared", "new"]
    # without the mapping: l1 matched, l2 disappeared, l9 new
    plain = compute_deltas(studies, SIDECARS, subject_id="S1")
    assert value(plain, "l1", "sul_peak", "status") == "matched"
    assert value(plain, "l9", "sul_peak", "status") == "new"


def test_mapping_errors() -> None:
    studies = {"t0": uptake({"l1": 4.0, "l2": 3.0}), "t1": uptake({"l1": 2.0, "l9": 2.4})}
    bad = pd.DataFrame({"subject_id": ["S1"], "timepoint": ["t1"], "name": ["l9"], "matches_baseline_name": ["l7"]})
    with pytest.raises(InvalidInputError, match="no baseline VOI named 'l7'"):
        compute_deltas(studies, SIDECARS, subject_id="S1", mapping=bad)
    twice = bad.assign(matches_baseline_name="l1")  # l1 at follow-up already matches baseline l1
    with pytest.raises(InvalidInputError, match="both match the same baseline VOI"):
        compute_deltas(studies, SIDECARS, subject_id="S1", mapping=twice)
    with pytest.raises(InvalidInputError, match="lacks columns"):
        compute_deltas(studies, SIDECARS, subject_id="S1", mapping=bad.drop(columns=["timepoint"]))


def test_input_errors() -> None:
    with pytest.raises(InvalidInputError, match="at least two timepoints"):
        compute_deltas({"t0": uptake({"l1": 4.0})}, None, subject_id="S1")
    with pytest.raises(InvalidInputError, match="baseline timepoint 'tx'"):
        compute_deltas({"t0": uptake({"l1": 4.0}), "t1": uptake({})}, None, subject_id="S1",
                       options=DeltaOptions(baseline="tx"))
    dup = uptake({"a": 4.0, "b": 3.0}, lesion_ids={"a": "L1", "b": "L1"})
    with pytest.raises(InvalidInputError, match="share the match key"):
        compute_deltas({"t0": dup, "t1": uptake({})}, None, subject_id="S1")
    with pytest.raises(InvalidInputError, match="lacks columns"):
        compute_deltas({"t0": uptake({}).drop(columns=["tlg"]), "t1": uptake({})}, None, subject_id="S1")


def test_hottest_lesion_switch_and_sum_of_five_hottest() -> None:
    base = {f"l{i}": float(i) for i in range(1, 8)}           # 1..7 SUL; five hottest l7..l3 sum 25
    follow = {**base, "l7": 2.0, "l2": 9.0}                    # hottest becomes l2; five hottest 9+6+5+4+3 = 27
    out = compute_deltas({"t0": uptake(base), "t1": uptake(follow)}, SIDECARS, subject_id="S1")
    assert value(out, "patient", "hottest_lesion_sul_peak", "baseline") == pytest.approx(7.0)
    assert value(out, "patient", "hottest_lesion_sul_peak", "followup") == pytest.approx(9.0)
    notes = value(out, "patient", "hottest_lesion_sul_peak", "notes")
    assert "t0: l7" in notes and "t1: l2" in notes and "differs" in notes
    assert value(out, "patient", "sum_hottest_sul_peak", "baseline") == pytest.approx(25.0)
    assert value(out, "patient", "sum_hottest_sul_peak", "followup") == pytest.approx(27.0)
    assert value(out, "patient", "uptake_time_min", "abs_change") == pytest.approx(5.0)
    assert value(out, "patient", "liver_sul_mean", "baseline") == pytest.approx(1.0)
    # 7 -> 9: +28.6 % -> SMD (PMD needs +30 %)
    assert value(out, "patient", "hottest_lesion_sul_peak", "percist") == "SMD"
    out3 = compute_deltas({"t0": uptake(base), "t1": uptake(follow)}, SIDECARS, subject_id="S1",
                          options=DeltaOptions(sum_hottest_n=3))
    assert value(out3, "patient", "sum_hottest_sul_peak", "baseline") == pytest.approx(18.0)


def test_comparability_columns() -> None:
    studies = {"t0": uptake({"l1": 4.0}, liver=1.5), "t1": uptake({"l1": 2.0}, liver=1.8)}
    ok = compute_deltas(studies, {"t0": {"uptake_time_s": 3600}, "t1": {"uptake_time_s": 3600 + 15 * 60}},
                        subject_id="S1")
    assert value(ok, "patient", "liver_sul_mean", "comparable") is True
    late = compute_deltas(studies, {"t0": {"uptake_time_s": 3600}, "t1": {"uptake_time_s": 3600 + 16 * 60}},
                          subject_id="S1")
    assert value(late, "patient", "liver_sul_mean", "comparable") is False
    assert "uptake time" in value(late, "patient", "liver_sul_mean", "comparability_notes")
    unknown = compute_deltas(studies, None, subject_id="S1")
    assert value(unknown, "patient", "liver_sul_mean", "comparable") is False
    assert "cannot be checked" in value(unknown, "patient", "liver_sul_mean", "comparability_notes")
    drift = compute_deltas({"t0": uptake({"l1": 4.0}, liver=1.5), "t1": uptake({"l1": 2.0}, liver=1.81)},
                           SIDECARS, subject_id="S1")
    assert value(drift, "patient", "liver_sul_mean", "comparable") is False
    assert set(ok.loc[ok["level"] != "patient", "comparable"]) == {""}


def test_sul_fallback_to_suv_is_noted() -> None:
    studies = {"t0": uptake({"l1": 4.0}, sul=False), "t1": uptake({"l1": 2.0})}
    out = compute_deltas(studies, SIDECARS, subject_id="S1")
    assert value(out, "patient", "hottest_lesion_sul_peak", "unit") == "SUV"
    assert value(out, "patient", "hottest_lesion_sul_peak", "baseline") == pytest.approx(6.0)  # SUVpeak
    assert "SUV used instead" in value(out, "patient", "hottest_lesion_sul_peak", "notes")
    assert "SUV used instead" in value(out, "patient", "hottest_lesion_sul_peak", "percist_notes")
    assert "SUL not available at t0" in value(out, "l1", "sul_peak", "notes")
    assert value(out, "patient", "hottest_lesion_sul_peak", "percist") == "PMR"


def test_several_followups_order_and_byte_stability(tmp_path: Path) -> None:
    studies = {"t1": uptake({"l1": 3.0}), "t0": uptake({"l1": 4.0, "l2": 2.0}), "t2": uptake({"l1": 1.0})}
    sidecars = {"t0": {"uptake_time_s": 3600}, "t1": {"uptake_time_s": 3600}, "t2": {"uptake_time_s": 3600}}
    out = compute_deltas(studies, sidecars, subject_id="S1", options=DeltaOptions(baseline="t0"))
    assert list(dict.fromkeys(out["timepoint"])) == ["t1", "t2"]
    levels = list(dict.fromkeys(out.loc[out["timepoint"] == "t1", "level"]))
    assert levels == ["lesion", "organ", "reference", "patient"]
    assert value(out, "patient", "hottest_lesion_sul_peak", "percist", timepoint="t2") == "PMR"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_csv(a, out)
    write_csv(b, compute_deltas(dict(reversed(list(studies.items()))), sidecars, subject_id="S1",
                                options=DeltaOptions(baseline="t0")).pipe(
        lambda t: t.sort_values("timepoint", kind="mergesort").reset_index(drop=True)))
    assert a.read_bytes() == b.read_bytes()


def test_liver_reference_is_the_sphere_uptake_chose_in_ratios_and_percist() -> None:
    """uptake_table marks the 3 cm sphere as the liver reference when the whole liver is there too; the ratios,
    PERCIST's liver and the liver_sul_mean row all use it; with only the whole liver the fallback is noted."""
    import numpy as np

    from pipeline.dicom.geometry import Geometry
    from pipeline.metrics.uptake import uptake_table
    from pipeline.voi.catalogue import Voi, VoiSet

    geometry = Geometry((24, 24, 24), (4.0, 4.0, 4.0), (0.0, 0.0, 0.0), np.eye(3))
    z, y, x = np.indices(geometry.shape)
    liver = (z - 12) ** 2 + (y - 12) ** 2 + (x - 12) ** 2 <= 100
    sphere = (z - 8) ** 2 + (y - 12) ** 2 + (x - 12) ** 2 <= 9
    lesion = (z - 16) ** 2 + (y - 12) ** 2 + (x - 12) ** 2 <= 4
    aorta = (z < 20) & (y == 2) & (x == 2)

    def study(lesion_suv: float, with_sphere: bool) -> pd.DataFrame:
        suv = np.full(geometry.shape, 0.5)
        suv[liver] = 2.0
        suv[sphere] = 2.4  # the normal-liver sphere reads higher than the whole liver here
        suv[aorta] = 1.6
        suv[lesion] = lesion_suv
        items = [(liver, Voi(0, "liver", "reference", organ="liver")),
                 (aorta, Voi(0, "aorta", "reference", organ="aorta")),
                 (lesion, Voi(0, "lesion_01", "tumour", lesion_id="lesion_01"))]
        if with_sphere:
            items.append((sphere, Voi(0, "liver_ref", "reference", organ="liver",
                                      source="sphere:centre=(48, 48, 32) mm LPS:d=24 mm")))
        table = uptake_table(suv, geometry, VoiSet.from_masks(geometry, items))
        return pd.read_csv(io.StringIO(table.to_csv(index=False)))  # as read back from uptake.csv

    both = {"t0": study(10.0, True), "t1": study(5.0, True)}
    assert both["t0"].set_index("name").loc["lesion_01", "suv_max_to_liver"] == pytest.approx(10.0 / 2.4)
    out = compute_deltas(both, SIDECARS, subject_id="S1")
    assert value(out, "patient", "liver_sul_mean", "baseline") == pytest.approx(2.4)  # SUV: no sidecar for SUL
    assert "t0: liver reference liver_ref (3 cm sphere)" in value(out, "patient", "liver_sul_mean", "notes")
    percist_notes = value(out, "patient", "liver_sul_mean", "percist_notes")
    assert "baseline: liver reference 'liver_ref': the 3 cm liver sphere" in percist_notes
    assert "1.5 x liver SUVmean 2.4" in percist_notes
    whole = {"t0": study(10.0, False), "t1": study(5.0, False)}
    assert whole["t0"].set_index("name").loc["liver", "reference_role"] == "whole_liver"
    out = compute_deltas(whole, SIDECARS, subject_id="S1")
    whole_mean = whole["t0"].set_index("name").loc["liver", "suv_mean"]
    assert 2.0 < whole_mean < 2.4
    assert value(out, "patient", "liver_sul_mean", "baseline") == pytest.approx(whole_mean, rel=1e-12)
    assert "t0: liver reference liver (whole liver)" in value(out, "patient", "liver_sul_mean", "notes")
    assert "the whole liver, not the PERCIST 1.0 3 cm sphere" in value(out, "patient", "liver_sul_mean",
                                                                       "percist_notes")


# ------------------------------------------------------------------------------------------------ synthetic cohort
# cohort_3 (seed 11) has respond lesions but no progress lesion; this one-subject cohort (seed 21, F18) has a
# responding lesion (SUV x 0.636), a progressing one (x 1.54), a benign stable focus and a new lesion.
@pytest.fixture(scope="module")
def synthetic_subject(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from pipeline.synthetic import generate_cohort

    root = tmp_path_factory.mktemp("deltas_cohort")
    generate_cohort(root / "cohort", n_subjects=1, seed=21)
    script = Path(sys.executable).with_name("petvoi")  # the installed console script of the venv
    petvoi = [str(script)] if script.is_file() else [sys.executable, "-m", "pipeline.cli"]
    studies, sidecars, truth = {}, {}, {}
    for timepoint in ("baseline", "on_treatment"):
        dicom = root / "cohort" / "dicom" / "P01" / timepoint
        out = root / "results" / "P01" / timepoint
        out.mkdir(parents=True)
        for args in (["suv", str(dicom / "PT"), "-o", "suv.nii.gz"],
                     ["vois", "--pet", "suv.nii.gz", "--rtstruct", str(dicom / "RTSTRUCT"), "-o", "vois.nii.gz"],
                     ["uptake", "--suv", "suv.nii.gz", "--vois", "vois.nii.gz", "-o", "uptake.csv"]):
            done = subprocess.run([*petvoi, *args], cwd=out, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
        studies[timepoint] = pd.read_csv(out / "uptake.csv")
        sidecars[timepoint] = json.loads((out / "suv.json").read_text())
        truth[timepoint] = json.loads((dicom / "truth.json").read_text())
    return {"deltas": compute_deltas(studies, sidecars, subject_id="P01"), "truth": truth, "studies": studies}


def test_synthetic_cohort_lesion_changes_follow_truth(synthetic_subject: dict) -> None:
    out, truth = synthetic_subject["deltas"], synthetic_subject["truth"]["on_treatment"]
    classes = {v["lesion_id"]: v["response_class"] for v in truth["vois"] if v["kind"] == "tumour"}
    assert sorted(set(classes.values())) == ["new", "progress", "respond", "stable"]
    lesions = out[(out["level"] == "lesion") & (out["metric"] == "suv_max")].set_index("lesion_id")
    for lesion_id, response_class in classes.items():
        row = lesions.loc[lesion_id]
        if response_class == "respond":
            assert row["status"] == "matched" and row["pct_change"] < -30.0
        elif response_class == "progress":
            assert row["status"] == "matched" and row["pct_change"] > 20.0
        elif response_class == "new":
            assert row["status"] == "new" and math.isnan(row["baseline"])
        else:
            assert row["status"] == "matched" and abs(row["pct_change"]) < 15.0


def test_synthetic_cohort_percist_consistent_with_hottest_lesion(synthetic_subject: dict) -> None:
    out = synthetic_subject["deltas"]
    patient = out[out["level"] == "patient"].set_index("metric")
    hottest = patient.loc["hottest_lesion_sul_peak"]
    assert hottest["unit"] == "SUL"
    assert hottest["comparable"] in (True, False) and hottest["comparability_notes"]
    assert patient.loc["uptake_time_min", "baseline"] > 0
    new_lesions = set(out.loc[(out["level"] == "lesion") & (out["status"] == "new"), "name"])
    assert new_lesions
    category = hottest["percist"]
    # the new lesion is avid (its SULpeak is far above 1.5 x liver + 2 SD): PMD regardless of the target change
    assert category == "PMD"
    assert any(name in hottest["percist_notes"] for name in new_lesions)
    assert hottest["eortc"] == "PMD"
    # without the new lesion the category follows the hottest-lesion SULpeak change alone
    pct, delta = hottest["pct_change"], hottest["abs_change"]
    expected = ("PMD" if pct >= 30.0 and delta >= 0.8 else "PMR" if pct <= -30.0 and delta <= -0.8 else "SMD")
    studies = synthetic_subject["studies"]
    alone = percist_response(studies["baseline"], studies["on_treatment"], new_lesions=[])
    assert alone.category == expected == "PMD"  # the hottest lesion (progressing) rose by > 50 %
    assert alone.pct_change == pytest.approx(pct) and alone.abs_change == pytest.approx(delta)


def test_scans_of_the_baseline_injection_are_pk_time_points_not_follow_ups(caplog: pytest.LogCaptureFixture) -> None:
    studies = {"day2": uptake({"l1": 4.0}), "day4": uptake({"l1": 5.0}), "day7": uptake({"l1": 6.0}),
               "cycle2": uptake({"l1": 2.0})}
    one = "2025-01-01T10:00:00"
    sidecars = {"day2": {"injection_datetime": one, "uptake_time_s": 2 * 86400},
                "day4": {"injection_datetime": one, "uptake_time_s": 4 * 86400},
                "day7": {"injection_datetime": one, "uptake_time_s": 7 * 86400},
                "cycle2": {"injection_datetime": "2025-02-01T10:00:00", "uptake_time_s": 2 * 86400}}
    with caplog.at_level("WARNING"):
        out = compute_deltas(studies, sidecars, subject_id="S1")
    assert set(out["timepoint"]) == {"cycle2"}
    assert "day4, day7 share the injection of day2" in caplog.text
    only_pk = compute_deltas({k: studies[k] for k in ("day2", "day4", "day7")}, sidecars, subject_id="S1")
    assert only_pk.empty and list(only_pk.columns)[:3] == ["subject_id", "timepoint", "baseline_timepoint"]
