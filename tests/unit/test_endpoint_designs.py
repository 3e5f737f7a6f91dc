"""Endpoint assembly for paired, nested and clustered designs: which rows, which method, which estimand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.stats.endpoints import STATS_COLUMNS, CohortData, run_analyses, validate_analyses
from pipeline.stats.simulate import TrialDesign, simulate_trial

ONLY = ("suv_vs_ihc", "suv_vs_response", "treatment_change", "route", "diagnostic", "survival", "heterogeneity",
        "biodistribution", "agreement")


def _run(data: CohortData, endpoint: str, **settings: object) -> pd.DataFrame:
    analyses = {name: {"enabled": False} for name in ONLY}
    analyses[endpoint] = {"enabled": True, **settings}
    table = run_analyses(data, validate_analyses(analyses))
    assert list(table.columns) == STATS_COLUMNS
    assert (table["estimand"].str.len() > 20).all()  # every row says what it estimates
    return table.set_index("analysis")


@pytest.fixture(scope="module")
def trial() -> CohortData:
    return simulate_trial(TrialDesign(n_patients=24), 7)


def test_ihc_with_two_biopsies_per_patient_uses_cluster_methods(trial: CohortData) -> None:
    rows = _run(trial, "suv_vs_ihc")
    assert "kruskal_wallis_intensity" not in rows.index and "jonckheere_terpstra_intensity" not in rows.index
    trend = rows.loc["mixed_trend_intensity"]
    assert trend["ci_low"] < 1.25 < trend["ci_high"] and "(1|patient)" in trend["method"]
    jt = rows.loc["cluster_permutation_jt_intensity"]
    # intensity is a lesion attribute here (two biopsies of different intensity): no patient-level permutation
    assert np.isnan(jt["p_value"]) and "varies within a patient" in jt["notes"]
    rho = rows.loc["spearman_percent_positive"]
    assert "bootstrap" in rho["method"].lower() and "nested in patient" in rho["estimand"]


def test_ihc_with_her2_categories_and_h_score() -> None:
    rng = np.random.default_rng(2)
    uptake, ihc = [], []
    for i in range(12):
        ihc_score = ("0", "1+", "2+", "3+")[i % 4]
        ratio, copies = (2.5, 6.0) if ihc_score == "3+" else (1.2, 2.0)
        suv = 3.0 * 1.4 ** (i % 4) * float(np.exp(rng.normal(0, 0.1)))
        uptake.append({"subject_id": f"S{i}", "timepoint": "baseline", "kind": "tumour", "lesion_id": "l1",
                       "suv_max": suv})
        ihc.append({"subject_id": f"S{i}", "timepoint": "baseline", "lesion_id": "l1", "marker": "HER2",
                    "percent_positive": 10.0 * (i % 4), "intensity": ihc_score, "her2_ihc": ihc_score,
                    "ish_ratio": ratio, "ish_copies": copies, "pct_weak": 10.0, "pct_moderate": 10.0 * (i % 4),
                    "pct_strong": 5.0 * (i % 4)})
    from pipeline.stats.ihc import score_ihc, validate_ihc

    data = CohortData(uptake=pd.DataFrame(uptake), ihc=score_ihc(validate_ihc(pd.DataFrame(ihc))))
    rows = _run(data, "suv_vs_ihc")
    assert rows.loc["spearman_h_score", "estimate"] > 0.9
    her2 = rows.loc["jonckheere_terpstra_her2_category"]
    assert "HER2-0 < HER2-low < HER2-positive" in her2["notes"] and her2["p_value"] < 0.01
    assert "one per patient" in rows.loc["kruskal_wallis_intensity", "estimand"]


def test_agreement_of_test_and_retest(trial: CohortData) -> None:
    rows = _run(trial, "agreement", variables=["suv_max"], first={"timepoint": "baseline"},
                second={"timepoint": "retest"})
    assert set(rows.index) == {"icc_2_1", "bland_altman_bias", "repeatability_wcv_pct"}
    assert 0.9 < rows.loc["icc_2_1", "estimate"] < 1.0
    bias = rows.loc["bland_altman_bias"]
    assert bias["ci_low"] < 1.0 < bias["ci_high"] and "limits of agreement" in bias["notes"]
    # retest noise SD 0.10 on the log scale: wCV = 100 sqrt(exp(0.01 / 2) - 1) = 7.08 %
    assert rows.loc["repeatability_wcv_pct", "estimate"] == pytest.approx(7.08, abs=1.0)
    patient = _run(trial, "agreement", variables=["suv_max"], first={"timepoint": "baseline"},
                   second={"timepoint": "retest"}, unit="patient")
    assert patient.loc["icc_2_1", "n_subjects"] == 24 and pd.isna(patient.loc["icc_2_1", "n_lesions"])


def test_agreement_is_off_unless_configured(trial: CohortData) -> None:
    assert validate_analyses({})["agreement"]["enabled"] is False


def test_survival_rows_km_medians_ph_adjusted_and_landmark(trial: CohortData) -> None:
    assert trial.outcomes is not None
    rng = np.random.default_rng(1)
    outcomes = trial.outcomes.copy()
    outcomes["age"] = rng.normal(60, 8, len(outcomes))
    outcomes["response_months"] = np.where(rng.random(len(outcomes)) < 0.4, 2.0, np.nan)
    data = CohortData(uptake=trial.uptake, outcomes=outcomes)
    rows = _run(data, "survival", outcomes=["os"], covariates=["age", "ecog"], landmark_months=3.0)
    km = rows.loc["km_median"]
    assert list(km["level"]) == ["outcome=os:group=all", "outcome=os:group=high", "outcome=os:group=low"]
    assert (km["ci_low"] <= km["estimate"]).all()
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(outcomes["os_months"], outcomes["os_event"])
    assert km.iloc[0]["estimate"] == pytest.approx(kmf.median_survival_time_)
    assert 0 <= rows.loc["ph_test", "p_value"] <= 1 and "Schoenfeld" in rows.loc["ph_test", "method"]
    adjusted = rows.loc["cox_hr_adjusted"]
    assert "adjusted for age" in adjusted["estimand"] and "ecog" in adjusted["notes"]
    assert "multivariable" in adjusted["method"]
    landmark = rows.loc["landmark_hr"]
    assert "landmark 3 months" in landmark["notes"] and landmark["n_subjects"] <= len(outcomes)


def test_landmark_without_response_times_says_what_it_needs(trial: CohortData) -> None:
    rows = _run(trial, "survival", outcomes=["os"], landmark_months=3.0)
    assert "response_months" in rows.loc["landmark_hr", "notes"]


def test_diagnostic_compares_variables_and_thresholds_on_the_same_lesions(trial: CohortData) -> None:
    rows = _run(trial, "diagnostic", compare_variable="suv_mean", compare_threshold=4.0, n_boot=100)
    diff = rows.loc["roc_auc_difference"]
    assert diff["estimate"] == pytest.approx(0.0, abs=1e-12)  # suv_mean is 0.6 x suv_max: same ranks
    mc = rows.loc["mcnemar_thresholds"]
    assert "Durkalski" in mc["method"] and mc["estimate"] > 0 and mc["p_value"] < 0.05
    lesion = rows[rows["level"] == "lesion"]
    assert lesion.loc["sensitivity", "method"].startswith("proportion, Rao-Scott")
    assert "Obuchowski" in lesion.loc["roc_auc", "method"]


def test_unpaired_lesions_are_listed_and_left_out(trial: CohortData) -> None:
    u = trial.uptake
    drop = (u["subject_id"] == "S001") & (u["lesion_id"] == "lesion_01") & (u["timepoint"] == "on_treatment")
    data = CohortData(uptake=u[~drop])
    rows = _run(data, "treatment_change")
    paired = rows.loc["paired_log_ratio"]
    assert "unpaired lesions (not analysed): S001/lesion_01" in paired["notes"]


def test_few_patients_give_the_unadjusted_result_marked() -> None:
    data = simulate_trial(TrialDesign(n_patients=4), 3)
    rows = _run(data, "diagnostic", n_boot=100)
    sens = rows[rows["level"] == "lesion"].loc["sensitivity"]
    assert "UNADJUSTED" in sens["method"] and "fewer than 5" in sens["notes"]
    assert np.isfinite(sens["ci_low"])


def test_a_multi_day_pk_subject_is_not_a_treatment_visit(trial: CohortData) -> None:
    u = trial.uptake
    pk = pd.DataFrame([{"subject_id": "PK1", "timepoint": day, "route": "iv", "kind": "tumour", "name": "lesion_01",
                        "lesion_id": "lesion_01", "organ": "liver", "suv_max": 3.0 + i, "suv_mean": 2.0}
                       for i, day in enumerate(("day2", "day4", "day7"))])
    rows = _run(CohortData(uptake=pd.concat([u, pk], ignore_index=True)), "treatment_change")
    nested = rows.loc["nested_visit_ratio"]
    assert nested["n_subjects"] == 24 and "4 visits" in nested["notes"]
    assert "PK1" not in rows.loc["paired_log_ratio", "notes"]
