"""`petvoi pk`: scans after one injection form a curve; single scans are listed with a note."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InvalidInputError
from pipeline.kinetics.stage import run_pk

T_BIO_DAYS = 3.0  # the decay-corrected curve falls with the biological half-life
HALF_LIFE_S = 282276.0  # 89Zr


def _study(root: Path, subject: str, timepoint: str, injection: str, day: float) -> None:
    folder = root / subject / timepoint
    folder.mkdir(parents=True)
    suv = 5.0 * math.exp(-math.log(2) * day / T_BIO_DAYS)
    pd.DataFrame({"name": ["liver"], "kind": ["reference"], "suv_mean": [suv]}).to_csv(folder / "uptake.csv",
                                                                                        index=False)
    sidecar = {"injection_datetime": injection, "uptake_time_s": day * 86400.0, "half_life_s": HALF_LIFE_S,
               "suv_kind": "bw", "suv_factor": 1e-3, "injected_dose_bq": 37e6, "normaliser_value": 70000.0,
               "decay_correction": "START", "decay_factor": 2 ** (day * 86400.0 / HALF_LIFE_S)}
    (folder / "suv.json").write_text(json.dumps(sidecar))


def test_three_scans_after_one_injection(tmp_path: Path) -> None:
    inj = "2025-01-01T10:00:00+01:00"
    for tp, day in (("d1", 1.0), ("d3", 3.0), ("d6", 6.0)):
        _study(tmp_path, "P01", tp, inj, day)
    _study(tmp_path, "P02", "d1", "2025-02-01T10:00:00+01:00", 1.0)
    sheet = pd.DataFrame({"subject_id": ["P01", "P01", "P01", "P02"], "timepoint": ["d1", "d3", "d6", "d1"]})
    table = run_pk(sheet, str(tmp_path / "{subject}" / "{timepoint}"), tmp_path / "pk.csv")
    p01 = table[(table["subject_id"] == "P01") & (table["voi"] == "liver")].iloc[0]
    t_phys_days = HALF_LIFE_S / 86400.0
    t_eff_col = [c for c in table.columns if c.startswith("t_eff")][0]
    t_bio_col = [c for c in table.columns if c.startswith("t_bio")][0]
    assert p01[t_eff_col] == pytest.approx(1.0 / (1.0 / T_BIO_DAYS + 1.0 / t_phys_days), rel=1e-9)
    assert p01[t_bio_col] == pytest.approx(T_BIO_DAYS, rel=1e-9)
    p02 = table[table["subject_id"] == "P02"].iloc[0]
    assert "1 scan after this injection" in p02["note"]
    assert (tmp_path / "pk.csv").is_file()
    # the default AUC rule is linear-up/log-down, exact here: A(t) = A0 exp(-lambda_eff t) in kBq/mL
    assert p01["auc_method"] == "log"
    lam_eff = math.log(2) / T_BIO_DAYS + math.log(2) / t_phys_days
    a0 = 5.0 * 37e6 / 70000.0 / 1000.0  # SUV x dose / weight, kBq/mL at injection
    assert p01["auc_first_inf"] == pytest.approx(a0 * math.exp(-lam_eff * 1.0) / lam_eff, rel=1e-9)
    # the points of the curve and the settings record
    points = pd.read_csv(tmp_path / "pk_points.csv")
    assert list(points["timepoint"]) == ["d1", "d3", "d6"] and set(points["subject_id"]) == {"P01"}
    assert points["activity_at_scan_kbq_ml"].to_numpy() == pytest.approx(
        a0 * np.exp(-lam_eff * np.array([1.0, 3.0, 6.0])), rel=1e-9)  # CSV: 10 significant digits
    assert json.loads((tmp_path / "pk.json").read_text())["auc_method"] == "log"


def test_linear_rule_is_selectable_and_recorded(tmp_path: Path) -> None:
    inj = "2025-01-01T10:00:00+01:00"
    for tp, day in (("d1", 1.0), ("d3", 3.0), ("d6", 6.0)):
        _study(tmp_path, "P01", tp, inj, day)
    sheet = pd.DataFrame({"subject_id": ["P01"] * 3, "timepoint": ["d1", "d3", "d6"]})
    template = str(tmp_path / "{subject}" / "{timepoint}")
    log_rule = run_pk(sheet, template, tmp_path / "log.csv").iloc[0]
    linear = run_pk(sheet, template, tmp_path / "linear.csv", method="linear").iloc[0]
    assert linear["auc_method"] == "linear" and linear["auc_first_inf"] > log_rule["auc_first_inf"]
    assert json.loads((tmp_path / "linear.json").read_text())["auc_method"] == "linear"


def test_a_voi_that_cannot_form_a_curve_gets_a_note(tmp_path: Path) -> None:
    """A lesion seen in one scan only, or with no mean, is listed with a note; the other VOIs are computed."""
    inj = "2025-01-01T10:00:00+01:00"
    for tp, day in (("d1", 1.0), ("d3", 3.0), ("d6", 6.0)):
        _study(tmp_path, "P01", tp, inj, day)
        folder = tmp_path / "P01" / tp
        table = pd.read_csv(folder / "uptake.csv")
        extra = [{"name": "lesion_09", "kind": "tumour", "suv_mean": float("nan")}]
        if tp == "d6":
            extra.append({"name": "lesion_10", "kind": "tumour", "suv_mean": 3.0})  # new at the last scan
        pd.concat([table, pd.DataFrame(extra)]).to_csv(folder / "uptake.csv", index=False)
    sheet = pd.DataFrame({"subject_id": ["P01"] * 3, "timepoint": ["d1", "d3", "d6"]})
    table = run_pk(sheet, str(tmp_path / "{subject}" / "{timepoint}"), tmp_path / "pk.csv").set_index("voi")
    assert "concentrations must be finite and > 0" in table.loc["lesion_09", "note"]
    assert "1 scan(s), at least 2 needed" in table.loc["lesion_10", "note"]
    assert pd.isna(table.loc["liver", "note"]) and table.loc["liver", "auc_method"] == "log"
    with pytest.raises(InvalidInputError, match="1 scan"):  # the library call without notes still refuses
        from pipeline.kinetics.pk import pk_table

        pk_table(pd.DataFrame({"subject_id": "P01", "voi": "x", "time_days": [1.0], "activity_kbq_ml": [1.0]}),
                 decay_corrected=False, half_life_s=HALF_LIFE_S)
