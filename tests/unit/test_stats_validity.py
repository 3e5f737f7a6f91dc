"""Validation by simulation: virtual trials with known effects through the endpoints as petvoi runs them.

The slow test runs a few trials (make test); bench/bench_stats_validity.py runs 1000 and checks the targets
(|bias| <= 5 %, coverage 0.92-0.98, failed fits <= 1 %)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.stats import methods as st
from pipeline.stats.endpoints import run_analyses
from pipeline.stats.simulate import TrialDesign, analyses_for, simulate_trial, summarise, true_values, validate


def test_a_virtual_trial_has_the_design_structure() -> None:
    design = TrialDesign(n_patients=12)
    data = simulate_trial(design, 3)
    u = data.uptake
    per_patient = u[u["timepoint"] == "baseline"].groupby("subject_id")["lesion_id"].nunique()
    assert len(per_patient) == 12 and per_patient.between(2, 8).all()
    assert set(u["timepoint"]) == {"baseline", "on_treatment", "baseline_ia", "retest"}
    assert set(u.loc[u["timepoint"] == "baseline_ia", "route"]) == {"ia"}
    assert data.ihc is not None and data.ihc.groupby("subject_id").size().max() == 2
    assert simulate_trial(design, 3).uptake.equals(u)  # the seed fixes the trial


def test_truths_are_the_design_effects() -> None:
    design = TrialDesign()
    truth = true_values(design)
    assert truth[("treatment_change", "paired_log_ratio", "suv_max", "tumour:lesions")] == 0.78
    assert truth[("route", "geometric_mean_ratio", "suv_max", "lesion")] == 1.6
    # specificity: P(log SUV of a benign focus < log 3), log SUV ~ N(log 2, 0.4^2)
    spec = truth[("diagnostic", "specificity", "suv_max", "lesion")]
    assert spec == pytest.approx(0.5 * (1 + math.erf(math.log(1.5) / 0.4 / math.sqrt(2))), rel=1e-12)
    assert truth[("agreement", "repeatability_wcv_pct", "suv_max", "lesion")] == pytest.approx(
        100 * math.sqrt(math.exp(0.01 / 2) - 1))


def test_paired_lesions_give_the_narrow_interval_the_stacked_model_misses() -> None:
    # issue 15: 20 patients x 3 lesions, true ratio 0.779; lesions measured twice must be paired
    design = TrialDesign(n_patients=20, lesions=(3, 3), benign=(0, 0), treatment_ratio=0.779, treatment_sd=(0.03, 0.05))
    data = simulate_trial(design, 11)
    rows = run_analyses(data, analyses_for(design)).set_index(["endpoint", "analysis", "level"]).sort_index()
    paired = rows.loc[("treatment_change", "paired_log_ratio", "tumour:lesions")].iloc[0]
    assert paired["n_lesions"] == 60 and paired["ci_low"] < 0.779 < paired["ci_high"]
    u = data.uptake[data.uptake["timepoint"].isin(["baseline", "on_treatment"])].copy()
    u["y"], u["on"] = np.log(u["suv_max"]), (u["timepoint"] == "on_treatment").astype(float)
    stacked = st.mixed_model(u, "y ~ on", "subject_id", "on")
    width_paired = math.log(paired["ci_high"] / paired["ci_low"])
    assert width_paired < 0.4 * (stacked.ci_high - stacked.ci_low)


def test_route_uses_the_baseline_iv_scan_only() -> None:
    # an on-treatment IV scan (ratio 0.5) must not enter the IA/IV ratio
    design = TrialDesign(n_patients=15, treatment_ratio=0.5, route_ratio=1.6)
    rows = run_analyses(simulate_trial(design, 5), analyses_for(design))
    route = rows[(rows["endpoint"] == "route") & (rows["analysis"] == "geometric_mean_ratio")].iloc[0]
    assert route["ci_low"] < 1.6 < route["ci_high"]
    assert "pairing: IA scans vs the IV scan at baseline" in route["notes"]


@pytest.mark.slow
def test_endpoints_are_unbiased_and_cover_on_virtual_trials() -> None:
    design = TrialDesign()
    table = summarise(validate(design, range(20)), design).set_index(["endpoint", "analysis"])
    assert len(table) == len(true_values(design))
    assert (table["failed"] == 0).all(), table["failed"]
    assert (table["relative_bias"].abs() < 0.06).all(), table["relative_bias"]
    covered = table["coverage"].dropna()
    assert (covered >= 0.8).all(), covered
    assert isinstance(table, pd.DataFrame)
