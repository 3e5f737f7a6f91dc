"""Agreement, paired comparisons and survival summaries: known answers of clustered_statistics.md (6, 7, 8)."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.stats.methods import (
    bland_altman,
    cox_multivariable,
    icc,
    km_median,
    mcnemar,
    paired_delong,
    repeatability,
)

SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]


def test_icc_shrout_fleiss_table_2() -> None:
    one, two, three = (icc(SHROUT_FLEISS, form=f) for f in ("1,1", "2,1", "3,1"))
    assert one.estimate == pytest.approx(0.1657, abs=5e-5)
    assert two.estimate == pytest.approx(0.2898, abs=5e-5)
    assert (two.ci_low, two.ci_high) == pytest.approx((0.0188, 0.7611), abs=5e-4)
    assert "Satterthwaite v=4.785" in two.notes
    assert three.estimate == pytest.approx(0.7148, abs=5e-5)
    assert (three.ci_low, three.ci_high) == pytest.approx((0.3425, 0.9459), abs=5e-4)


T1 = [5.2, 8.1, 3.4, 12.6, 6.8, 4.1, 9.7, 7.3, 2.9, 10.4]
T2 = [5.6, 7.5, 3.6, 13.9, 6.1, 4.4, 10.5, 7.0, 3.3, 9.8]


def test_bland_altman_and_repeatability() -> None:
    ba = bland_altman(T1, T2)
    assert (ba["bias"], ba["sd"]) == pytest.approx((0.1200, 0.6613), abs=5e-5)
    assert (ba["loa_low"], ba["loa_high"]) == pytest.approx((-1.1762, 1.4162), abs=5e-4)
    assert ba["loa_se"] == pytest.approx(0.3702, abs=5e-5)
    assert ba["loa_high_ci"] == pytest.approx((0.5787, 2.2537), abs=5e-4)
    rep = repeatability(T1, T2)
    assert (rep["wsd"], rep["rc"]) == pytest.approx((0.4517, 1.2519), abs=5e-5)
    assert rep["wcv_pct"] == pytest.approx(5.895, abs=5e-3)
    assert (rep["rc_pct_low"], rep["rc_pct_high"]) == pytest.approx((-15.06, 17.73), abs=5e-3)


def test_paired_delong_and_mcnemar() -> None:
    y = [1] * 7 + [0] * 8
    s1 = [9.1, 7.4, 6.5, 5.9, 4.4, 3.0, 2.2, 4.0, 3.5, 2.9, 2.0, 1.8, 1.5, 1.2, 3.1]
    s2 = [6.0, 5.1, 3.3, 3.9, 2.7, 3.8, 2.5, 3.6, 4.2, 1.9, 2.4, 2.6, 1.1, 3.0, 2.0]
    res = paired_delong(y, s1, s2)
    assert res.estimate == pytest.approx(0.07143, abs=5e-5) and "AUC_a=0.875, AUC_b=0.80357" in res.notes
    assert res.p_value == pytest.approx(0.5213, abs=5e-4) and res.statistic == pytest.approx(0.6413, abs=5e-4)
    assert (res.ci_low, res.ci_high) == pytest.approx((-0.1469, 0.2897), abs=5e-4)
    exact = mcnemar(40, 9, 2, 19)
    assert exact.p_value == pytest.approx(0.06543, abs=5e-5) and "exact" in exact.method


T_6MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
E_6MP = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
T_PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]


def test_km_median_and_multivariable_cox_with_ph_test() -> None:
    median = km_median(T_6MP, E_6MP)
    assert median.estimate == 23.0 and "log(-log)" in median.method
    df = pd.DataFrame({"t": T_6MP + T_PLACEBO, "e": E_6MP + [1] * 21, "placebo": [0] * 21 + [1] * 21})
    results, ph = cox_multivariable(df, duration="t", event="e", covariates=["placebo"])
    assert results["placebo"].estimate == pytest.approx(4.8169, abs=5e-4)
    assert (results["placebo"].ci_low, results["placebo"].ci_high) == pytest.approx((2.1465, 10.8093), abs=5e-3)
    assert ph["placebo"] == pytest.approx(0.910, abs=5e-3)  # Grambsch-Therneau, rank transform
