"""Real vendor PET headers (cornerstone calculate-suv test metadata): suv.md test vectors T8-T11.

Each JSON holds three instances' SUV attributes; minimal pydicom datasets and FrameInfo records are
built from them (Philips factors through their private creator) and fed to ``compute_suv``.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import pydicom
import pytest

from pipeline.dicom.datetimes import combine
from pipeline.dicom.frames import FrameInfo
from pipeline.suv.decay import decay_fraction, seconds_between
from pipeline.suv.factors import SuvOptions, SuvResult, compute_suv

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "calculate_suv_vendor_metadata"

_RP = ("RadionuclideTotalDose", "RadionuclideHalfLife", "RadiopharmaceuticalStartTime",
       "RadiopharmaceuticalStartDateTime")
_PRIVATE = {"SUVScaleFactor": 0x00, "ActivityConcentrationScaleFactor": 0x09}


def _load(name: str) -> tuple[list[pydicom.Dataset], list[FrameInfo]]:
    path = DATA / f"{name}-instances.json"
    if not path.is_file():
        pytest.fail(f"{path} missing: the shared reference data must sit beside the repository")
    headers, frames = [], []
    for i, item in enumerate(json.loads(path.read_text())):
        ds = pydicom.Dataset()
        ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
        ds.SOPInstanceUID = f"1.2.826.0.1.{i + 1}"
        rp = pydicom.Dataset()
        for key, value in item.items():
            if key == "PhilipsPETPrivateGroup":
                if value:
                    block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
                    for k, v in value.items():
                        block.add_new(_PRIVATE[k], "DS", v.strip())
            elif key in _RP:
                setattr(rp, key, str(value).strip() if isinstance(value, str) else value)
            elif key in ("FrameReferenceTime", "ActualFrameDuration"):
                continue  # per frame, below
            else:
                setattr(ds, key, value)
        ds.RadiopharmaceuticalInformationSequence = [rp]
        headers.append(ds)
        frames.append(FrameInfo(
            source=f"{name}#{i + 1}", sop_instance_uid=ds.SOPInstanceUID, frame_number=None,
            position_lps=(0.0, 0.0, float(i)), orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
            acquisition_datetime=combine(item["AcquisitionDate"], item["AcquisitionTime"]),
            actual_frame_duration_ms=float(item["ActualFrameDuration"]),
            frame_reference_time_ms=float(item["FrameReferenceTime"])))
    return headers, frames


def _suv(name: str, options: SuvOptions | None = None) -> SuvResult:
    headers, frames = _load(name)
    return compute_suv(headers, frames, options or SuvOptions(), source=name)


def _candidate(result: SuvResult, name: str) -> datetime:
    (c,) = [c for c in result.reference_candidates if c["name"] == name]
    return datetime.fromisoformat(c["datetime"])


def _factor_at(result: SuvResult, reference: datetime) -> float:
    """SUVbw factor had the dose been decayed to ``reference`` instead."""
    assert result.injection_datetime is not None and result.injected_dose_bq and result.half_life_s
    d_ref = result.injected_dose_bq * decay_fraction(seconds_between(result.injection_datetime, reference),
                                                     result.half_life_s)
    return result.weight_kg * 1000.0 / d_ref  # type: ignore[operator]


# T8: the library's known factors, rule "series if not after the earliest acquisition, else earliest acquisition"
T8 = {
    "SIEMENS": (4.2748316187e-4, "BQML/START/series-time"),
    "GE_MEDICAL_AND_BQML": (5.3673876818e-4, "BQML/START/series-time"),
    "PHILIPS_BQML": (7.4637470139e-4, "BQML/START/series-time"),
    "BQML_AC_DT_lessThan_S_DT_SIEMENS": (4.0691568540e-4, "BQML/START/series-time"),
    "CPS_AND_BQML_AC_DT_-_S_DT": (2.6503312764e-4, "BQML/START/earliest-acquisition"),
    "RADIOPHARM_DATETIME_UNDEFINED": (3.7210892028e-4, "BQML/START/series-time"),
}


@pytest.mark.parametrize("name", sorted(T8))
def test_t8_real_vendor_factors(name: str) -> None:
    expected, rule = T8[name]
    result = _suv(name)
    assert result.suv_factor == pytest.approx(expected, rel=1e-9)
    assert result.rule == rule
    assert result.decay_correction == "START" and result.units == "BQML" and result.activity_scale == 1.0


def test_siemens_frame_reference_times_confirm_the_series_time() -> None:
    result = _suv("SIEMENS")  # three frames of different durations, FRT = offset + T_ave
    back = _candidate(result, "back_computed_t_ave")
    assert abs(seconds_between(result.reference_datetime, back)) < 0.1  # type: ignore[arg-type]
    assert not any("R19" in w for w in result.warnings)


def test_r16_microsecond_series_after_acquisition_is_not_reprocessing() -> None:
    result = _suv("BQML_AC_DT_lessThan_S_DT_SIEMENS")  # series 12:35:15.000000, acquisition 12:35:14.999995
    assert result.reference_datetime == datetime(2020, 12, 17, 12, 35, 15)
    assert not any("R15" in w or "R19" in w for w in result.warnings)
    assert "date taken from the scan" in " ".join(result.warnings)  # TM-only injection (R22)


def test_reprocessed_series_uses_earliest_acquisition_and_says_so() -> None:
    result = _suv("CPS_AND_BQML_AC_DT_-_S_DT")  # series 13:49:18 after acquisition 13:03:48.234
    assert result.reference_datetime == datetime(2020, 12, 17, 13, 3, 48, 234000)
    assert any("after the earliest acquisition start" in w and "R15" in w for w in result.warnings)
    used = [c["name"] for c in result.reference_candidates if c["used"]]
    assert used == ["earliest_acquisition"]


def test_t11_ge_frame_reference_time_zero_trap() -> None:
    result = _suv("CPS_AND_BQML_AC_DT_-_S_DT")  # FRT = 0 for 180 s frames: GE convention t_acq - FRT
    t_ave_ref = _candidate(result, "back_computed_t_ave")
    assert _candidate(result, "back_computed_frame_start") == result.reference_datetime
    assert _factor_at(result, t_ave_ref) / result.suv_factor == pytest.approx(1.0095, abs=5e-5)  # type: ignore


def test_t10_philips_bqml_frame_reference_trap_is_not_chosen() -> None:
    result = _suv("PHILIPS_BQML")  # FRT 1328.7 s with acquisition 1 s after the series time; no Manufacturer
    back = _candidate(result, "back_computed_t_ave")
    assert seconds_between(back, result.reference_datetime) == pytest.approx(1267.414, abs=1e-3)  # type: ignore
    assert _factor_at(result, back) == pytest.approx(6.5317e-4, rel=5e-5)
    assert result.suv_factor == pytest.approx(7.4637470139e-4, rel=1e-9)
    assert any("R19" in w and "back_computed_t_ave" in w for w in result.warnings)


def test_r8_philips_bqml_ignores_private_factors() -> None:
    result = _suv("PHILIPS_BQML")  # ACSF 4.709921, SSF 0.003516 present with Units BQML
    assert result.activity_scale == 1.0
    assert result.suv_factor == pytest.approx(7.4637470139e-4, rel=1e-9)
    assert any("R8" in w for w in result.warnings)


def test_t9_philips_cnts_acsf_path_cross_checked_with_ssf() -> None:
    result = _suv("PHILIPS_CNTS_AND_BQML_SUV")  # CNTS, ACSF 1.602563, SSF 0.000551, T1/2 6588
    assert result.rule == "CNTS/Philips-ACSF/START/series-time"
    assert result.activity_scale == 1.602563
    assert result.suv_factor == pytest.approx(5.5131e-4, rel=1e-4)
    check = result.checks["philips_ssf"]
    assert abs(check["relative_difference"]) < 1e-3  # SSF has 3 digits: agrees to 0.06 %
    assert not any("differs" in w for w in result.warnings)
    # the Philips FRT convention (midpoint) reproduces the series time
    back = _candidate(result, "back_computed_midpoint")
    assert abs(seconds_between(result.reference_datetime, back)) < 0.01  # type: ignore[arg-type]


def test_philips_cnts_ssf_alone() -> None:
    result = _suv("PHILIPS_CNTS_AND_SUV")
    assert result.rule == "CNTS/Philips-SSF"
    assert result.suv_factor == pytest.approx(0.000728, rel=1e-12)
    assert result.activity_scale is None
    # decay quantities are still reported from the header (informational on this path)
    assert result.injected_dose_bq == 208230000.0 and result.reference_datetime == datetime(2020, 12, 17, 13, 45, 51)
    assert result.decay_factor == pytest.approx(2 ** (4551 / 6588), rel=1e-12)


def test_philips_ssf_alone_scales_to_lbm() -> None:
    bw = _suv("PHILIPS_CNTS_AND_SUV")
    lbm = _suv("PHILIPS_CNTS_AND_SUV", SuvOptions(kind="lbm", height_cm=160.0))  # F, 47 kg, 160 cm
    bmi = 47.0 / 1.6**2
    janma = 9270.0 * 47.0 / (8780.0 + 244.0 * bmi)
    assert lbm.rule == "CNTS/Philips-SSF→LBMJANMA"
    assert lbm.suv_factor == pytest.approx(bw.suv_factor * janma / 47.0, rel=1e-12)  # type: ignore[operator]
    assert "height_cm" in lbm.overrides


def test_tm_only_injection_dated_by_the_scan() -> None:
    result = _suv("RADIOPHARM_DATETIME_UNDEFINED")
    assert result.injection_datetime == datetime(2020, 12, 17, 12, 50)
    assert result.uptake_time_s == pytest.approx(3871.843, abs=1e-6)
    assert math.isclose(result.decay_factor, 2 ** (3871.843 / 6586.2), rel_tol=1e-12)  # type: ignore[arg-type]
