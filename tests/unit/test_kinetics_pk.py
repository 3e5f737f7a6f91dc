"""Known answers of multi-day PK (pipeline.kinetics.pk): the AUC rules against analytic integrals.

A mono-exponential ``A(t) = A0 exp(-lambda t)`` sampled sparsely (days 2, 4 and 7, ``T_eff`` = 2.5 d):

* linear-up/log-down (the default): exact, |error| < 1e-9 relative, between scans and to infinity;
* linear trapezoid: overestimates each falling segment by ``x coth(x) - 1`` (``x = lambda dt / 2``):
  +3.912 % from the first to the last scan, +2.934 % with the (exact) tail to infinity.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from pipeline.errors import InvalidInputError
from pipeline.kinetics.options import PkOptions
from pipeline.kinetics.pk import SECONDS_PER_DAY, auc_with_tail, pk_curve, pk_table

A0 = 120.0  # kBq/mL at injection
T_EFF = 2.5  # days
LAM = math.log(2.0) / T_EFF
DAYS = np.array([2.0, 4.0, 7.0])
HALF_LIFE_S = 282276.0  # 89Zr


def activity(t: np.ndarray | float) -> np.ndarray | float:
    return A0 * np.exp(-LAM * np.asarray(t, float))


def analytic(t0: float, t1: float = math.inf) -> float:
    """Closed-form integral of the exponential, checked against quadrature."""
    value = (activity(t0) - (0.0 if math.isinf(t1) else activity(t1))) / LAM
    assert quad(activity, t0, t1, epsabs=0, epsrel=1e-12)[0] == pytest.approx(value, rel=1e-10)
    return float(value)


def test_log_down_is_exact_on_an_exponential() -> None:
    first_last, tail = auc_with_tail(DAYS, activity(DAYS), T_EFF)  # the default rule
    assert first_last == pytest.approx(analytic(DAYS[0], DAYS[-1]), rel=1e-9, abs=0)
    assert tail == pytest.approx(analytic(DAYS[-1]), rel=1e-9, abs=0)
    assert first_last + tail == pytest.approx(analytic(DAYS[0]), rel=1e-9, abs=0)


def test_linear_trapezoid_overestimates_by_the_stated_amount() -> None:
    first_last, tail = auc_with_tail(DAYS, activity(DAYS), T_EFF, method="linear")
    exact = analytic(DAYS[0], DAYS[-1])
    # per segment: trapezoid / exact = x coth(x), x = lambda dt / 2
    x = LAM * np.diff(DAYS) / 2.0
    segments = (activity(DAYS[:-1]) - activity(DAYS[1:])) / LAM * x / np.tanh(x)
    assert first_last == pytest.approx(float(segments.sum()), rel=1e-12)
    assert 100 * (first_last / exact - 1) == pytest.approx(3.912, abs=1e-3)
    total = analytic(DAYS[0])
    assert 100 * ((first_last + tail) / total - 1) == pytest.approx(2.934, abs=1e-3)


def test_rising_and_flat_segments_use_the_trapezoid() -> None:
    t = np.array([1.0, 2.0, 4.0, 6.0])
    a = np.array([10.0, 14.0, 14.0, 7.0])  # up, flat, down
    log_rule, _ = auc_with_tail(t, a, 2.0)
    linear, _ = auc_with_tail(t, a, 2.0, method="linear")
    down_log = 2.0 * (14.0 - 7.0) / math.log(2.0)
    assert log_rule == pytest.approx(12.0 + 28.0 + down_log, rel=1e-12)
    assert linear == pytest.approx(12.0 + 28.0 + 21.0, rel=1e-12)


def test_nearly_flat_decline_keeps_its_digits() -> None:
    t = np.array([0.0, 1.0])
    a = np.array([1.0 + 1e-12, 1.0])
    log_rule, _ = auc_with_tail(t, a, 1.0)
    assert log_rule == pytest.approx(1.0 + 0.5e-12, rel=1e-15)


def test_pk_curve_of_decay_corrected_input_is_exact_and_records_the_rule() -> None:
    t_bio = 4.0
    t_phys = HALF_LIFE_S / SECONDS_PER_DAY
    corrected = 50.0 * np.exp(-math.log(2) * DAYS / t_bio)  # decay-corrected to injection
    res = pk_curve(DAYS, corrected, decay_corrected=True, half_life_s=HALF_LIFE_S)
    lam_eff = math.log(2) / t_bio + math.log(2) / t_phys
    assert res.auc_method == "log"
    assert res.t_eff_days == pytest.approx(math.log(2) / lam_eff, rel=1e-12)
    assert res.t_bio_days == pytest.approx(t_bio, rel=1e-9)
    at_first = 50.0 * math.exp(-lam_eff * DAYS[0])
    assert res.auc_first_inf == pytest.approx(at_first / lam_eff, rel=1e-9)
    assert res.auc_first_last + res.auc_tail == pytest.approx(res.auc_first_inf, rel=1e-15)
    linear = pk_curve(DAYS, corrected, decay_corrected=True, half_life_s=HALF_LIFE_S, method="linear")
    assert linear.auc_method == "linear" and linear.auc_first_inf > res.auc_first_inf


def test_accumulating_tissue_is_still_exact_while_the_activity_falls() -> None:
    """Decay-corrected uptake rising (an accumulating tumour) but slower than physical decay."""
    t_phys = HALF_LIFE_S / SECONDS_PER_DAY
    k = math.log(2) / 15.0  # decay-corrected doubling in 15 days
    corrected = 8.0 * np.exp(k * DAYS)
    res = pk_curve(DAYS, corrected, decay_corrected=True, half_life_s=HALF_LIFE_S)
    lam_eff = math.log(2) / t_phys - k
    assert res.t_eff_days == pytest.approx(math.log(2) / lam_eff, rel=1e-12)
    assert math.isinf(res.t_bio_days)  # no biological clearance
    assert res.auc_first_inf == pytest.approx(8.0 * math.exp(-lam_eff * DAYS[0]) / lam_eff, rel=1e-9)


def test_pk_table_default_is_log_down() -> None:
    import pandas as pd

    table = pd.DataFrame({"subject_id": "S", "voi": "liver", "time_days": DAYS, "activity_kbq_ml": activity(DAYS)})
    out = pk_table(table, decay_corrected=False, half_life_s=HALF_LIFE_S)
    assert list(out["auc_method"]) == ["log"]
    assert float(out["auc_first_inf"].iloc[0]) == pytest.approx(analytic(DAYS[0]), rel=1e-9)


def test_unknown_rule_and_bad_options_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown AUC method"):
        auc_with_tail(DAYS, activity(DAYS), T_EFF, method="spline")
    with pytest.raises(InvalidInputError, match="--auc-method"):
        PkOptions(auc_method="spline")
    with pytest.raises(InvalidInputError, match="--n-terminal must be >= 2"):
        PkOptions(n_terminal=1)
    assert PkOptions().auc_method == "log"


def test_configuration_section_sets_the_rule() -> None:
    from pipeline.config import ConfigError, validate_config

    assert PkOptions.from_config(validate_config({})).auc_method == "log"
    options = PkOptions.from_config(validate_config({"pk": {"auc_method": "linear", "n_terminal": 2}}))
    assert (options.auc_method, options.n_terminal) == ("linear", 2)
    with pytest.raises(ConfigError, match="pk.auc_method"):
        validate_config({"pk": {"auc_method": "spline"}})
    with pytest.raises(InvalidInputError, match="pk.n_terminal must be >= 2"):
        PkOptions.from_config({"pk": {"n_terminal": 1}})
