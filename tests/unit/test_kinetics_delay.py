"""Known-answer tests for pipeline.kinetics.delay (fitted input delay; times in min, delays in s)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import InvalidInputError
from pipeline.kinetics.blood import InputFunction, shift
from pipeline.kinetics.delay import DelayFit, fit_delay
from pipeline.kinetics.fit import fit_compartment
from pipeline.kinetics.models import feng_input, simulate_frames, standard_frames

FS, FE = standard_frames()
MID, DUR = (FS + FE) / 2, FE - FS
ONE_TCM = {"K1": 0.3, "k2": 0.3, "vB": 0.05}
TWO_TCM = {"K1": 0.1, "k2": 0.15, "k3": 0.08, "k4": 0.02, "vB": 0.05}


def feng_blood() -> InputFunction:
    """Undelayed Feng input sampled every 1 s for 10 min, then every 10 s to 95 min (s, kBq/mL)."""
    t = np.r_[np.arange(0.0, 600.0, 1.0), np.arange(600.0, 5700.0 + 1e-9, 10.0)]
    cp = feng_input(t / 60.0)
    return InputFunction(t, cp, cp, cp, "parent_plasma")


def tissue(model: str, params: dict[str, float], delay_s: float) -> np.ndarray:
    """Frame-averaged TAC (kBq/mL) driven by the Feng input arriving ``delay_s`` later than sampled."""
    return simulate_frames(model, params, FS, FE, lambda t: feng_input(t, delay=delay_s / 60.0))


@pytest.fixture(scope="module")
def blood() -> InputFunction:
    return feng_blood()


@pytest.fixture(scope="module")
def two_tcm_fit(blood: InputFunction) -> tuple[np.ndarray, DelayFit]:
    tac = tissue("2tcm", TWO_TCM, 15.0)
    return tac, fit_delay(MID, DUR, tac, blood)


@pytest.mark.parametrize("true_delay_s", [0.0, 12.0, -8.0])
def test_1tcm_delay_recovered_within_1s(blood: InputFunction, true_delay_s: float) -> None:
    fit = fit_delay(MID, DUR, tissue("1tcm", ONE_TCM, true_delay_s), blood)
    assert fit.delay_s == pytest.approx(true_delay_s, abs=1.0)
    assert not fit.at_bound
    assert fit.model == "1tcm" and fit.window_min == 10.0 and fit.n_frames == 15  # frames ending by 9 min
    assert fit.grid_s[0] == -30.0 and fit.grid_s[-1] == 60.0 and fit.grid_s.size == 46
    assert np.all(np.diff(fit.grid_s) == pytest.approx(2.0))
    assert fit.grid_wrss.shape == fit.grid_s.shape and np.all(np.isfinite(fit.grid_wrss))
    assert fit.wrss <= fit.grid_wrss.min()
    assert fit.wrss < 1e-4  # noiseless data, exact model: residual only from the 1-s blood sampling
    assert fit.params["K1"] == pytest.approx(0.3, rel=0.01)
    assert fit.params["k2"] == pytest.approx(0.3, rel=0.01)
    assert fit.params["vB"] == pytest.approx(0.05, abs=0.002)
    assert fit.converged


def test_2tcm_tissue_delay_recovered_within_2s(two_tcm_fit: tuple[np.ndarray, DelayFit]) -> None:
    _, fit = two_tcm_fit
    assert fit.delay_s == pytest.approx(15.0, abs=2.0)
    assert not fit.at_bound
    # the WRSS profile has its grid minimum next to the true delay
    assert abs(fit.grid_s[np.argmin(fit.grid_wrss)] - 15.0) <= 2.0


def test_delay_applied_with_shift_recovers_2tcm_k1(blood: InputFunction,
                                                   two_tcm_fit: tuple[np.ndarray, DelayFit]) -> None:
    tac, fit = two_tcm_fit

    def k1_with(curve: InputFunction) -> float:
        plasma = (curve.times_s / 60.0, np.asarray(getattr(curve, curve.kind), float))
        whole = (curve.times_s / 60.0, np.asarray(curve.whole_blood, float))
        return fit_compartment("2tcm", MID, DUR, tac, plasma, whole).params["K1"]

    shifted = shift(blood, fit.delay_s)
    assert shifted.provenance["delay_s"] == pytest.approx(fit.delay_s)
    k1 = k1_with(shifted)
    assert k1 == pytest.approx(TWO_TCM["K1"], rel=0.02)
    assert abs(k1_with(blood) / TWO_TCM["K1"] - 1) > abs(k1 / TWO_TCM["K1"] - 1)  # ignoring the delay is worse


def test_delay_outside_search_range_is_at_bound(blood: InputFunction) -> None:
    fit = fit_delay(MID, DUR, tissue("1tcm", ONE_TCM, 90.0), blood)
    assert fit.at_bound
    assert fit.delay_s == pytest.approx(60.0, abs=0.1)
    assert np.argmin(fit.grid_wrss) == fit.grid_s.size - 1


def test_three_frame_window_refused(blood: InputFunction) -> None:
    with pytest.raises(InvalidInputError, match="3 frames"):
        fit_delay(MID, DUR, tissue("1tcm", ONE_TCM, 0.0), blood, window_min=0.5)  # 3 x 10 s frames


def test_nan_tac_refused(blood: InputFunction) -> None:
    tac = tissue("1tcm", ONE_TCM, 0.0)
    tac[2] = np.nan
    with pytest.raises(InvalidInputError, match="non-finite"):
        fit_delay(MID, DUR, tac, blood)


def test_inverted_search_range_refused(blood: InputFunction) -> None:
    with pytest.raises(InvalidInputError, match="inverted"):
        fit_delay(MID, DUR, tissue("1tcm", ONE_TCM, 0.0), blood, search_s=(60.0, -30.0))
