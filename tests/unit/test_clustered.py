"""Clustered inference: known answers of ../shared/reference/clustered_statistics.md (sections 1, 3, 4, 5)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.stats.methods import roc_auc_delong
from pipeline.stats.methods.clustered import (
    cluster_permutation_jt,
    clustered_auc,
    clustered_proportion,
    mixed_trend,
    nested_visit_ratio,
    paired_log_ratio,
)

# section 1: 14 lesions in 6 patients, IA and IV SUVmax
PATIENTS = ["P1", "P1", "P1", "P2", "P2", "P3", "P3", "P3", "P4", "P5", "P5", "P5", "P6", "P6"]
IA = [12.1, 8.4, 15.0, 6.2, 7.9, 20.3, 18.8, 11.2, 9.5, 14.2, 10.1, 16.7, 5.1, 6.6]
IV = [6.0, 4.9, 7.1, 4.0, 4.4, 8.2, 7.9, 5.3, 6.1, 9.0, 6.2, 9.8, 3.9, 4.4]


def test_paired_log_ratio_mixed_model_with_t_interval() -> None:
    res = paired_log_ratio(np.log(np.divide(IA, IV)), PATIENTS)
    assert math.log(res.estimate) == pytest.approx(0.55201, abs=5e-5)
    assert res.estimate == pytest.approx(1.7367, abs=5e-4)
    assert (res.ci_low, res.ci_high) == pytest.approx((1.4361, 2.1004), abs=5e-4)  # MixedLM, t(5)
    assert "mixed model" in res.method and "t(I-1)" in res.method and "ICC 0.794" in res.notes


def test_paired_log_ratio_gee_fallback_matches_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.stats.methods import clustered

    monkeypatch.setattr(clustered, "_fit", lambda *a, **k: (None, "mixed model did not converge"))
    res = paired_log_ratio(np.log(np.divide(IA, IV)), PATIENTS)
    assert math.log(res.estimate) == pytest.approx(0.55014, abs=5e-5)  # GEE exchangeable
    assert "GEE exchangeable" in res.method and "bias-reduced" in res.method and "did not converge" in res.notes
    se = (math.log(res.ci_high) - math.log(res.estimate)) / 2.5706  # t(5) quantile
    assert se == pytest.approx(0.08053, abs=2e-4)  # Mancl-DeRouen bias-reduced SE


def test_too_few_patients_gives_the_unadjusted_result_marked() -> None:
    res = paired_log_ratio(np.log(np.divide(IA[:5], IV[:5])), PATIENTS[:5])
    assert "UNADJUSTED" in res.method and "fewer than 5 patients" in res.notes and math.isfinite(res.ci_low)


def test_nested_visits_recover_the_simulated_effect() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for p in range(8):
        u = rng.normal(0, 0.3)
        for les in range(1 + p % 3):
            v = rng.normal(0, 0.2)
            for visit in (0, 1):
                rows.append({"subject_id": f"P{p}", "lesion": f"L{les}", "visit": ["base", "on"][visit],
                             "suv": math.exp(math.log(4) + u + v + 0.25 * visit + rng.normal(0, 0.1))})
    res = nested_visit_ratio(pd.DataFrame(rows), value="suv", visit="visit", reference="base", target="on")
    assert res.ci_low < math.exp(0.25) < res.ci_high and "lesion variance" in res.notes


# section 3: Obuchowski worked example
AUC_DATA = {"P1": ([9.1, 7.4], [3.1]), "P2": ([6.5], [2.9, 4.0]), "P3": ([5.9, 4.4, 8.0], []),
            "P4": ([], [1.2, 2.0, 1.5]), "P5": ([3.0], [3.5, 1.8]), "P6": ([2.2, 6.1], [2.5]),
            "P7": ([7.7], [4.6, 2.1]), "P8": ([], [3.3, 1.1])}


def _auc_arrays() -> tuple[list[int], list[float], list[str]]:
    y, s, c = [], [], []
    for patient, (pos, neg) in AUC_DATA.items():
        for v in pos:
            y.append(1), s.append(v), c.append(patient)
        for v in neg:
            y.append(0), s.append(v), c.append(patient)
    return y, s, c


def test_obuchowski_clustered_auc() -> None:
    y, s, c = _auc_arrays()
    res = clustered_auc(y, s, c)
    assert res.estimate == pytest.approx(0.9, abs=1e-12)
    assert "SE=0.0615" in res.notes  # Var 0.003789
    assert (res.ci_low, res.ci_high) == pytest.approx((0.7020, 0.9717), abs=5e-4)
    assert "I=8 patients (I10=6, I01=7), M=10 positive, N=13 negative" in res.notes


def test_obuchowski_equals_delong_with_one_lesion_per_patient() -> None:
    y, s, _ = _auc_arrays()
    res = clustered_auc(y, s, [f"p{i}" for i in range(len(y))])
    ref = roc_auc_delong(y, s)
    assert (res.ci_low, res.ci_high) == pytest.approx((ref.ci_low, ref.ci_high), rel=1e-12)


def test_rao_scott_clustered_proportion() -> None:
    detected, totals = [3, 1, 2, 0, 4, 2, 1, 0, 3, 2], [3, 2, 2, 2, 4, 3, 1, 1, 3, 2]
    y, c = [], []
    for i, (k, m) in enumerate(zip(detected, totals, strict=True)):
        y += [1] * k + [0] * (m - k)
        c += [f"P{i}"] * m
    res = clustered_proportion(y, c)
    assert res.estimate == pytest.approx(18 / 23)
    assert (res.ci_low, res.ci_high) == pytest.approx((0.5268, 0.9209), abs=5e-4)
    assert "design effect 1.572" in res.notes


# section 5: 10 patients with a patient-level IHC score, 18 lesions
TREND = {"A": (0, [1.8, 2.2]), "B": (0, [1.5]), "C": (1, [2.9, 2.4, 3.3]), "D": (1, [2.0]), "E": (1, [3.6, 2.8]),
         "F": (2, [4.1, 5.0]), "G": (2, [3.2]), "H": (3, [6.3, 7.1, 5.5]), "I": (3, [4.8]), "J": (3, [8.0, 6.6])}


def _trend_arrays() -> tuple[list[float], list[int], list[str]]:
    v, s, c = [], [], []
    for patient, (score, values) in TREND.items():
        v += values
        s += [score] * len(values)
        c += [patient] * len(values)
    return v, s, c


def test_mixed_trend_ratio_per_ihc_step() -> None:
    v, s, c = _trend_arrays()
    res = mixed_trend(np.log(v), s, c)
    assert math.log(res.estimate) == pytest.approx(0.41305, abs=5e-5)
    se = (math.log(res.estimate) - math.log(res.ci_low)) / 2.3060  # t(8) quantile
    assert se == pytest.approx(0.04919, abs=5e-5)


def test_cluster_permutation_jonckheere_terpstra_exact() -> None:
    v, s, c = _trend_arrays()
    res = cluster_permutation_jt(v, s, c, order=[0, 1, 2, 3])
    assert res.statistic == 113.0
    assert res.p_value == pytest.approx(2 / 25200) and "exact over 25200 assignments" in res.method
    within = cluster_permutation_jt(v, [1] + s[1:], c, order=[0, 1, 2, 3])  # A's two lesions disagree
    assert math.isnan(within.p_value) and "varies within a patient" in within.notes
