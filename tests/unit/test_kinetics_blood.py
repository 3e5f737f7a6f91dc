"""Blood data handling (pipeline.kinetics.blood): known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InvalidInputError
from pipeline.kinetics.blood import (
    InputFunction,
    build_input_function,
    correct_dispersion,
    decay_correct_samples,
    fit_parent_fraction,
    fit_plasma_blood_ratio,
    hill_parent_fraction,
    image_derived_input,
    normalise_blood_table,
    shift,
)

F18_HALF_LIFE_S = 6586.2


def test_decay_correction_matches_analytic_factor() -> None:
    t = np.array([0.0, 60.0, 600.0, 3600.0, 7200.0])
    v = np.array([10.0, 8.0, 5.0, 2.0, 1.0])
    got = decay_correct_samples(t, v, F18_HALF_LIFE_S)
    expected = v * 2.0 ** (t / F18_HALF_LIFE_S)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_hill_parent_fraction_fit_recovers_parameters() -> None:
    a, b, c = 0.8, 2.2, 600.0 ** 2.2
    t = np.array([60.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 2700.0, 3600.0])
    fit = fit_parent_fraction(t, hill_parent_fraction(t, a, b, c), model="hill")
    assert fit.params["a"] == pytest.approx(a, rel=1e-4)
    assert fit.params["b"] == pytest.approx(b, rel=1e-4)
    assert fit.params["c"] == pytest.approx(c, rel=1e-4)
    assert fit(0.0) == pytest.approx(1.0, abs=1e-15)


def test_biexp_parent_fraction_fit_reproduces_curve() -> None:
    t = np.array([60.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 2700.0, 3600.0])
    f = 0.6 * np.exp(-t / 300.0) + 0.4 * np.exp(-t / 5000.0)
    fit = fit_parent_fraction(t, f, model="biexp")
    np.testing.assert_allclose(fit(t), f, atol=1e-6)


def test_plasma_blood_ratio_constant_and_linear() -> None:
    t = np.array([300.0, 600.0, 1200.0, 2400.0])
    wb = np.array([10.0, 8.0, 6.0, 4.0])
    hct = 0.4
    const = fit_plasma_blood_ratio(t, wb / (1 - hct), wb, model="constant")
    assert const.intercept == pytest.approx(1 / (1 - hct), rel=1e-12)
    assert float(const(5000.0)) == pytest.approx(1 / (1 - hct), rel=1e-12)
    ratio = 1.2 + 1e-4 * t
    lin = fit_plasma_blood_ratio(t, wb * ratio, wb, model="linear")
    assert lin.intercept == pytest.approx(1.2, rel=1e-10)
    assert lin.slope == pytest.approx(1e-4, rel=1e-8)
    with pytest.raises(InvalidInputError, match="1 paired plasma/whole-blood samples, 2 needed"):
        fit_plasma_blood_ratio([1.0, 2.0], [1.0, np.nan], [1.0, 1.0], model="linear")


def _curve(t: np.ndarray, y: np.ndarray, tol: float = 0.0) -> InputFunction:
    return InputFunction(t, y, y, y, "parent_plasma", tol)


def test_delay_shift_is_exact_on_linear_curve() -> None:
    t = np.arange(0.0, 601.0, 10.0)
    c = _curve(t, 2.0 + 0.05 * t)
    shifted = shift(c, 17.5)
    q = np.array([20.0, 33.3, 100.0, 500.0, 617.5])
    np.testing.assert_allclose(shifted.at(q), 2.0 + 0.05 * (q - 17.5), rtol=0, atol=1e-12)
    assert float(shifted.at(10.0)) == 0.0  # before the first (shifted) sample
    assert shifted.provenance["delay_s"] == 17.5


def test_dispersion_correction_recovers_exponential() -> None:
    # true C(t) = exp(-k t); dispersed with (1/tau) exp(-t/tau): (exp(-kt) - exp(-t/tau)) / (1 - k tau)
    k, tau = 1.0 / 120.0, 5.0
    t = np.arange(0.0, 600.0 + 1e-9, 0.25)
    measured = (np.exp(-k * t) - np.exp(-t / tau)) / (1 - k * tau)
    corrected = correct_dispersion(t, measured, tau)
    late = t >= 2.0
    # tolerance: finite-difference error ~ tau h^2/6 |C'''| = 5 * 0.0625 / 6 / 125 (tau^-3) ~ 4e-4 absolute
    np.testing.assert_allclose(corrected[late], np.exp(-k * t[late]), atol=5e-4)
    assert np.max(np.abs(corrected[t >= 60] - np.exp(-k * t[t >= 60]))) < 1e-6
    assert np.max(np.abs(measured[t >= 60] - np.exp(-k * t[t >= 60]))) > 1e-2  # dispersion was real


def test_input_function_refuses_scan_longer_than_samples() -> None:
    c = _curve(np.array([0.0, 60.0, 600.0, 3000.0]), np.array([0.0, 50.0, 10.0, 5.0]), tol=60.0)
    assert float(c.at(3050.0)) == 5.0
    with pytest.raises(InvalidInputError, match=r"blood samples do not cover the scan \(last sample 3000 s, "
                                                r"scan end 3600 s\)"):
        c.at(np.array([0.0, 3600.0]))
    with pytest.raises(InvalidInputError, match="do not cover"):
        c.check_covers(3061.0)


def test_build_input_function_documented_order() -> None:
    t = np.array([30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0])
    true_wb = 100.0 * np.exp(-t / 400.0) + 5.0  # kBq/mL, decay-corrected to injection
    hct = 0.42
    true_plasma = true_wb / (1 - hct)
    a, b, c = 0.7, 1.8, 900.0 ** 1.8
    fp = hill_parent_fraction(t, a, b, c)
    decay = np.exp(-math.log(2) / F18_HALF_LIFE_S * t)
    plasma_meas = true_plasma * decay * 1000.0  # Bq/mL, not decay-corrected
    plasma_meas[[0, 1]] = np.nan  # plasma not measured early: from whole blood via the ratio
    table = pd.DataFrame({"time_s": t, "whole_blood": true_wb * decay * 1000.0, "plasma": plasma_meas,
                          "parent_fraction": np.where(t >= 120.0, fp, np.nan)})
    table.loc[0, "parent_fraction"] = 1.0
    fp_expected = fp.copy()
    fp_expected[0] = hill_parent_fraction(30.0, a, b, c)  # the model, not the sample, is applied
    inp = build_input_function(table, decay_corrected=False, half_life_s=F18_HALF_LIFE_S, units="Bq/mL",
                               kind="parent_plasma", parent_model="hill", tolerance_s=0.0)
    np.testing.assert_allclose(inp.whole_blood, true_wb, rtol=1e-12)
    np.testing.assert_allclose(inp.total_plasma, true_plasma, rtol=1e-10)
    assert inp.provenance["plasma_blood_ratio"]["intercept"] == pytest.approx(1 / (1 - hct), rel=1e-12)
    # parent fraction fitted on 7 points incl. fp(30 s)=1 (not exactly Hill): loose check
    np.testing.assert_allclose(inp.parent_plasma[2:], true_plasma[2:] * fp[2:], rtol=2e-2)
    delayed = build_input_function(table, decay_corrected=False, half_life_s=F18_HALF_LIFE_S, units="Bq/mL",
                                   kind="total_plasma", parent_model=None, delay_s=12.0)
    np.testing.assert_allclose(delayed.times_s, t + 12.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(delayed.values, true_plasma, rtol=1e-10)
    with pytest.raises(InvalidInputError, match="needs a parent fraction model"):
        build_input_function(table, decay_corrected=False, half_life_s=F18_HALF_LIFE_S, units="Bq/mL",
                             parent_model=None)
    with pytest.raises(InvalidInputError, match="no half-life"):
        build_input_function(table, decay_corrected=False, units="Bq/mL", kind="whole_blood", parent_model=None)


def test_blood_table_units_required_and_converted() -> None:
    df = pd.DataFrame({"time_s": [10.0, 20.0], "whole_blood": [1000.0, 500.0]})
    with pytest.raises(InvalidInputError, match="units of column 'whole_blood' not declared"):
        normalise_blood_table(df)
    out = normalise_blood_table(df, units="Bq/mL")
    np.testing.assert_allclose(out["whole_blood_kbq_ml"], [1.0, 0.5], rtol=1e-15)
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        normalise_blood_table(pd.DataFrame({"time_s": [20.0, 10.0], "plasma_kbq_ml": [1.0, 1.0]}))
    with pytest.raises(InvalidInputError, match="sample times must be finite and >= 0 s from injection") as info:
        normalise_blood_table(pd.DataFrame({"time_s": [-5.0, 10.0], "plasma_kbq_ml": [1.0, 1.0]}))
    assert info.value.attribute == "time_s"


def test_image_derived_input_scaled_to_venous_samples() -> None:
    tt = np.array([5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0])
    tac = 50.0 * np.exp(-tt / 300.0) + 2.0
    st = np.array([600.0, 1200.0, 1800.0, 3000.0])  # 3000 s lies after the scan: not used
    truth_scale = 1.37
    samples = truth_scale * np.interp(st, tt, tac)
    samples[-1] = 999.0
    inp, scale = image_derived_input(tt, tac, st, samples, min_time_s=600.0, kind="total_plasma")
    assert scale == pytest.approx(truth_scale, rel=1e-12)
    np.testing.assert_allclose(inp.values, truth_scale * tac, rtol=1e-12)
    assert inp.kind == "total_plasma"
    assert inp.provenance["n_samples_used"] == 3
    with pytest.raises(InvalidInputError, match="no venous sample"):
        image_derived_input(tt, tac, st, samples, min_time_s=2500.0)
