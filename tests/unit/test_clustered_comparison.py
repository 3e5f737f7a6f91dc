"""Two scores or calls on the same clustered lesions: reference section 3 (Obuchowski, two AUCs) and section 6
(paired DeLong, McNemar) of ../shared/reference/clustered_statistics.md."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.stats.methods import clustered_auc_difference, clustered_mcnemar

# section 3: 8 patients, positives | negatives
CLUSTERS = {"P1": ([9.1, 7.4], [3.1]), "P2": ([6.5], [2.9, 4.0]), "P3": ([5.9, 4.4, 8.0], []),
            "P4": ([], [1.2, 2.0, 1.5]), "P5": ([3.0], [3.5, 1.8]), "P6": ([2.2, 6.1], [2.5]),
            "P7": ([7.7], [4.6, 2.1]), "P8": ([], [3.3, 1.1])}
# section 6: 15 cases, two markers
Y = [1] * 7 + [0] * 8
S1 = [9.1, 7.4, 6.5, 5.9, 4.4, 3.0, 2.2, 4.0, 3.5, 2.9, 2.0, 1.8, 1.5, 1.2, 3.1]
S2 = [6.0, 5.1, 3.3, 3.9, 2.7, 3.8, 2.5, 3.6, 4.2, 1.9, 2.4, 2.6, 1.1, 3.0, 2.0]


def test_one_lesion_per_patient_equals_paired_delong() -> None:
    res = clustered_auc_difference(Y, S1, S2, [f"p{i}" for i in range(15)])
    assert res.estimate == pytest.approx(0.07143, abs=5e-6)
    assert "SE=0.11138" in res.notes
    assert res.statistic == pytest.approx(0.6413, abs=5e-5)
    assert res.p_value == pytest.approx(0.5213, abs=5e-5)
    assert (res.ci_low, res.ci_high) == pytest.approx((-0.1469, 0.2897), abs=5e-5)
    assert "Obuchowski" in res.method


def test_cross_covariance_of_a_reversed_score() -> None:
    # AUC(-s) = 1 - AUC(s) lesion by lesion, so Var(AUC(s) - AUC(-s)) = 4 Var(AUC(s)); SE 2 x 0.06155
    y, s, c = [], [], []
    for patient, (pos, neg) in CLUSTERS.items():
        for value, label in [(v, 1) for v in pos] + [(v, 0) for v in neg]:
            y.append(label), s.append(value), c.append(patient)
    res = clustered_auc_difference(y, s, -np.asarray(s), c)
    assert res.estimate == pytest.approx(0.8, abs=1e-12)
    se = float(res.notes.split("SE=")[1])
    assert se == pytest.approx(2 * math.sqrt(0.003789), abs=2e-4)


def test_clustered_mcnemar_with_one_lesion_per_patient_is_the_uncorrected_chi_square() -> None:
    # table [[40, 9], [2, 19]]: uncorrected chi2 4.4545, p 0.03481
    a = [1] * 40 + [1] * 9 + [0] * 2 + [0] * 19
    b = [1] * 40 + [0] * 9 + [1] * 2 + [0] * 19
    res = clustered_mcnemar(a, b, [f"p{i}" for i in range(70)])
    assert res.statistic == pytest.approx(4.4545, abs=5e-5)
    assert res.p_value == pytest.approx(0.03481, abs=5e-6)
    assert res.estimate == pytest.approx(7 / 70)


def test_clustered_mcnemar_counts_patients_not_lesions() -> None:
    # the same 11 discordant lesions concentrated in 5 patients: d = (3, 3, 2, -1, -1) -> 6^2 / 24 = 1.5
    a = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1]
    b = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1]
    c = ["A", "A", "A", "B", "B", "B", "C", "C", "D", "E", "F", "F"]
    res = clustered_mcnemar(a, b, c)
    assert res.statistic == pytest.approx(36 / 24)
    assert "Durkalski" in res.method
    few = clustered_mcnemar(a[:8], b[:8], c[:8])
    assert "UNADJUSTED" in few.method and "fewer than 5" in few.notes
