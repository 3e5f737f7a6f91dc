"""Decay kernel and body-size formulas: suv.md test vectors T7, T12-T14 and the R39 helper."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pytest

from pipeline.suv.body import (
    bsa_dubois,
    ideal_body_weight,
    james_past_peak,
    lbm_james120,
    lbm_james128,
    lbm_janmahasatian,
    normaliser,
)
from pipeline.suv.decay import (
    activity_at,
    average_count_time,
    decay_constant,
    decay_fraction,
    frame_decay_correction,
    seconds_between,
)
from pipeline.suv.factors import activity_balance, activity_balance_warning

F18 = 6586.2


def test_decay_kernel_scalar_and_array() -> None:
    assert decay_constant(F18) == pytest.approx(math.log(2) / F18, rel=1e-15)
    assert decay_fraction(F18, F18) == pytest.approx(0.5, rel=1e-15)
    arr = decay_fraction(np.array([0.0, F18, 2 * F18]), F18)
    assert isinstance(arr, np.ndarray) and arr == pytest.approx([1.0, 0.5, 0.25], rel=1e-15)
    with pytest.raises(ValueError):
        decay_constant(0.0)


def test_seconds_between_keeps_days() -> None:  # R24: timedelta.seconds would drop the days
    assert seconds_between(datetime(2025, 1, 1, 10), datetime(2025, 1, 4, 10)) == 3 * 86400.0


def test_activity_at_decays_forward_and_back() -> None:
    t0, t1 = datetime(2025, 1, 1, 10), datetime(2025, 1, 1, 11, 49, 46, 200000)  # one 18F half-life later
    assert activity_at(100.0, t0, t1, F18) == pytest.approx(50.0, rel=1e-12)
    assert activity_at(50.0, t1, t0, F18) == pytest.approx(100.0, rel=1e-12)


@pytest.mark.parametrize(("duration_s", "t_ave_s"), [(603.0, 299.9056), (120.0, 59.936855), (180.0, 89.857923),
                                                     (300.0, 149.605344), (600.0, 298.421417)])
def test_t7_average_count_time(duration_s: float, t_ave_s: float) -> None:
    assert average_count_time(duration_s, F18) == pytest.approx(t_ave_s, abs=5e-7 if duration_s != 603 else 5e-5)


def test_t_ave_edge_cases_and_frame_correction() -> None:
    assert average_count_time(0.0, F18) == 0.0
    assert average_count_time(1e-6, F18) == pytest.approx(5e-7, rel=1e-6)  # short frames: T/2, no cancellation
    assert average_count_time(np.array([0.0, 120.0]), F18)[1] == pytest.approx(59.936855, abs=5e-7)
    assert frame_decay_correction(603.0, F18) == pytest.approx(1.0320662, abs=5e-8)  # T6
    with pytest.raises(ValueError):
        average_count_time(-1.0, F18)


def test_t12_body_size_70kg_175cm() -> None:
    assert lbm_james128(70, 175, "M") == pytest.approx(56.52, abs=5e-3)
    assert lbm_james128(70, 175, "F") == pytest.approx(51.22, abs=5e-3)
    assert lbm_james120(70, 175, "M") == pytest.approx(57.80, abs=5e-3)
    assert lbm_janmahasatian(70, 175, "M") == pytest.approx(55.857, abs=5e-4)
    assert lbm_janmahasatian(70, 175, "F") == pytest.approx(45.197, abs=5e-4)
    assert ideal_body_weight(175, "M") == pytest.approx(72.38, abs=5e-3)
    assert ideal_body_weight(175, "F") == pytest.approx(66.43, abs=5e-3)
    assert normaliser("IBW", None, 175, None).value == pytest.approx(69405.0, abs=0.5)  # mean, uncapped (DRO_2_2)
    assert bsa_dubois(70, 175) == pytest.approx(1.84814, abs=5e-6)


def test_t13_body_size_75kg_185cm_in_grams() -> None:
    assert normaliser("LBM", 75, 185, "M").value == pytest.approx(62777.575, abs=1e-3)
    assert normaliser("LBM", 75, 185, "F").value == pytest.approx(55925.676, abs=1e-3)
    assert normaliser("LBMJAMES128", 75, 185, "M").value == pytest.approx(61462.747, abs=1e-3)
    assert normaliser("LBMJANMA", 75, 185, "M").value == pytest.approx(60915.336, abs=1e-3)
    assert normaliser("LBMJANMA", 75, 185, "F").value == pytest.approx(49214.380, abs=1e-3)
    assert normaliser("BSA", 75, 185, "M").value == pytest.approx(19813.758, abs=1e-3)
    assert normaliser("BW", 75, None, None).value == 75000.0


def test_t14_obese_female_james_breaks_down() -> None:
    assert lbm_james128(150, 160, "F") == pytest.approx(30.42, abs=5e-3)
    assert lbm_janmahasatian(150, 160, "F") == pytest.approx(60.26, abs=5e-3)
    assert james_past_peak(150, 160, "F") and not james_past_peak(70, 175, "M")
    with pytest.raises(ValueError, match="LBM James-128"):
        normaliser("LBMJAMES128", 250, 150, "F")  # negative lean mass


def test_normaliser_rejects_unknown_type_and_missing_inputs() -> None:
    with pytest.raises(ValueError, match="unknown SUVType"):
        normaliser("XYZ", 70, 175, "M")
    with pytest.raises(ValueError):
        normaliser("BSA", 70, None, "M")


def test_r39_activity_balance() -> None:
    # 70 kg, D_ref 2.52e8 Bq, 1.764e8 Bq in the image: R = 0.7 = sum(SUV*V) / W[g]
    suv_times_ml = 1.764e8 * 70000.0 / 2.52e8
    assert activity_balance(suv_times_ml, 70000.0) == pytest.approx(0.7, rel=1e-12)
    assert activity_balance_warning(0.7) is None
    text = activity_balance_warning(1.31)
    assert text is not None and "1.310" in text and "R39" in text
    with pytest.raises(ValueError):
        activity_balance(1.0, 0.0)
