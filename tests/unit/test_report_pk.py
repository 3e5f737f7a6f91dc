"""Patient report, multi-day PK section: the points, the fitted and AUC values and the AUC rule of pk.csv."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from pipeline.kinetics.stage import run_pk
from pipeline.outputs import ResultsLayout
from pipeline.report.inputs import PatientInputs
from pipeline.report.render import render_page
from pipeline.report.sections import pk

HALF_LIFE_S = 282276.0  # 89Zr


def _study(root: Path, subject: str, timepoint: str, injection: str, day: float, suvs: dict[str, float]) -> None:
    folder = root / subject / timepoint
    folder.mkdir(parents=True)
    pd.DataFrame({"name": list(suvs), "kind": ["reference", "tumour"][: len(suvs)],
                  "suv_mean": list(suvs.values())}).to_csv(folder / "uptake.csv", index=False)
    sidecar = {"injection_datetime": injection, "uptake_time_s": day * 86400.0, "half_life_s": HALF_LIFE_S,
               "suv_kind": "bw", "suv_factor": 1e-3, "injected_dose_bq": 37e6, "normaliser_value": 70000.0,
               "decay_correction": "START", "decay_factor": 2 ** (day * 86400.0 / HALF_LIFE_S)}
    (folder / "suv.json").write_text(json.dumps(sidecar))


@pytest.fixture()
def results(tmp_path: Path) -> Path:
    inj = "2025-01-01T10:00:00+01:00"
    for tp, day in (("day2", 2.0), ("day4", 4.0), ("day7", 7.0)):
        # liver clears (T_bio 3 d); the lesion's decay-corrected uptake rises (no biological clearance)
        _study(tmp_path, "P07", tp, inj, day, {"liver": 5.0 * math.exp(-math.log(2) * day / 3.0),
                                                "lesion_01": 4.0 * math.exp(math.log(2) * day / 15.0)})
    for tp, day in (("baseline", 6.0),):
        _study(tmp_path, "P01", tp, "2025-02-01T10:00:00+01:00", day, {"liver": 4.0})
    sheet = pd.DataFrame({"subject_id": ["P07"] * 3 + ["P01"], "timepoint": ["day2", "day4", "day7", "baseline"]})
    layout = ResultsLayout(tmp_path)
    run_pk(sheet, str(tmp_path / "{subject}" / "{timepoint}"), layout.cohort.pk, points_output=layout.cohort.pk_points)
    return tmp_path


def _inputs(results: Path, subject: str) -> PatientInputs:
    return PatientInputs(subject, pd.DataFrame({"subject_id": [subject]}), [], {}, ResultsLayout(results))


def test_section_shows_points_values_and_method(results: Path) -> None:
    html, context = render_page("sections/pk.html.j2", [pk.SECTION], _inputs(results, "P07"), {})
    (entry,) = context["pk"]
    assert entry["injection"] == "2025-01-01T10:00:00+01:00" and entry["method"] == "log"
    assert entry["columns"] == ["day2 (2.00 d)", "day4 (4.00 d)", "day7 (7.00 d)"]
    assert [r["name"] for r in entry["points"]] == ["lesion_01", "liver"]
    table = pd.read_csv(ResultsLayout(results).cohort.pk)
    liver = table[(table["subject_id"] == "P07") & (table["voi"] == "liver")].iloc[0]
    assert f'data-value="{float(liver["auc_first_inf"])!r}"' in html
    assert f'data-value="{float(liver["t_bio_days"])!r}"' in html and liver["t_bio_days"] == pytest.approx(3.0)
    assert "\u221e" in html  # the accumulating lesion: no biological clearance seen
    assert 'data-auc-method="log"' in html and "linear-up/log-down trapezoid" in html
    assert 'id="pk-points"' in html and 'id="pk-results"' in html and "data:image/png;base64," in html
    points = pd.read_csv(ResultsLayout(results).cohort.pk_points)
    first = float(points[(points["voi"] == "liver")].sort_values("time_days")["activity_at_scan_kbq_ml"].iloc[0])
    assert entry["points"][1]["cells"][0]["value"] == repr(first)


def test_section_is_absent_without_a_curve(results: Path, tmp_path: Path) -> None:
    html, context = render_page("sections/pk.html.j2", [pk.SECTION], _inputs(results, "P01"), {})
    assert context["pk"] == [] and 'id="pk"' not in html  # P01: one scan after its injection, a note only
    html, context = render_page("sections/pk.html.j2", [pk.SECTION], _inputs(tmp_path / "none", "P07"), {})
    assert context["pk"] == []  # no pk.csv


def test_linear_rule_is_named(results: Path) -> None:
    layout = ResultsLayout(results)
    sheet = pd.DataFrame({"subject_id": ["P07"] * 3, "timepoint": ["day2", "day4", "day7"]})
    run_pk(sheet, str(results / "{subject}" / "{timepoint}"), layout.cohort.pk, method="linear")
    html, context = render_page("sections/pk.html.j2", [pk.SECTION], _inputs(results, "P07"), {})
    assert context["pk"][0]["method"] == "linear" and "linear trapezoid" in html
