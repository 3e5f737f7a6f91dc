"""SUV engine rules R1-R39 and test vectors T1-T6 of suv.md on minimal synthetic headers.

Every test asserts a number, or an error of the expected class whose message names the attribute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pydicom
import pytest

from pipeline.dicom.frames import FrameInfo
from pipeline.errors import DicomError, InvalidInputError, MissingAttributeError, PipelineError
from pipeline.policy import Policy
from pipeline.suv.dosing import DosingRecord
from pipeline.suv.factors import SuvOptions, SuvResult, compute_suv

T0 = datetime(2025, 1, 1, 11, 0)
BASE: dict[str, Any] = {
    "SOPClassUID": "1.2.840.10008.5.1.4.1.1.128", "SeriesInstanceUID": "1.2.826.0.1.9", "Manufacturer": "Synthetic",
    "Units": "BQML", "DecayCorrection": "START", "CorrectedImage": ["NORM", "ATTN", "SCAT", "DECY"],
    "PatientWeight": "70", "PatientSize": "1.75", "PatientSex": "M", "SeriesDate": "20250101",
    "SeriesTime": "110000", "PixelSpacing": [4.0, 4.0], "SliceThickness": "4.0",
}
RP: dict[str, Any] = {"RadionuclideTotalDose": "368080000", "RadionuclideHalfLife": "6586.2",
                      "RadiopharmaceuticalStartDateTime": "20250101100000", "RadiopharmaceuticalStartTime": "100000"}
F18_CODE = ("C-111A1", "^18^Fluorine")
T1_FACTOR = 2.7777812e-4  # 70 kg, 368.08 MBq at 10:00, reference 11:00, 18F


STRICT = SuvOptions(policy=Policy(strict=True))  # every fallback refused
KEEP_HEADER_HALF_LIFE = SuvOptions(policy=Policy({"header.half_life_mismatch": "warn"}))
REFUSE_UNKNOWN_SEX = SuvOptions(kind="lbm", policy=Policy({"header.unknown_sex": "raise"}))


def build(frames: Sequence[tuple[datetime | None, float, float | None]] = ((T0, 300.0, 150.0),), *,
          rp: dict[str, Any] | None = None, code: tuple[str, str] | None = F18_CODE, slopes: Sequence[float] = (),
          intercepts: Sequence[float] = (), decay_factors: Sequence[float | None] = (),
          private: Sequence[tuple[int, str, int, str, str]] = (), per_instance: dict[int, dict[str, Any]] | None = None,
          **attrs: Any) -> tuple[list[pydicom.Dataset], list[FrameInfo]]:
    """One classic PET instance per frame: (acquisition start, duration s, FrameReferenceTime s).

    ``attrs``/``rp`` override (None deletes) the header and radiopharmaceutical attributes;
    ``private`` adds (group, creator, offset, VR, value) elements through their creator blocks.
    """
    attrs = {**BASE, **attrs}
    rp = {**RP, **(rp or {})}
    headers, infos = [], []
    for i, (start, duration_s, frt_s) in enumerate(frames):
        ds = pydicom.Dataset()
        for key, value in {**attrs, **(per_instance or {}).get(i, {})}.items():
            if value is not None:
                setattr(ds, key, value)
        item = pydicom.Dataset()
        for key, value in rp.items():
            if value is not None:
                setattr(item, key, value)
        if code is not None:
            c = pydicom.Dataset()
            c.CodeValue, c.CodingSchemeDesignator, c.CodeMeaning = code[0], "SRT", code[1]
            item.RadionuclideCodeSequence = [c]
        ds.RadiopharmaceuticalInformationSequence = [item]
        ds.SOPInstanceUID = f"1.2.826.0.1.9.{i + 1}"
        if start is not None:
            ds.AcquisitionDate, ds.AcquisitionTime = start.strftime("%Y%m%d"), start.strftime("%H%M%S.%f")
        for group, creator, offset, vr, value in private:
            ds.private_block(group, creator, create=True).add_new(offset, vr, value)
        headers.append(ds)
        infos.append(FrameInfo(
            source=f"PT_{i + 1:04d}.dcm", sop_instance_uid=ds.SOPInstanceUID, frame_number=None,
            position_lps=(0.0, 0.0, 4.0 * i), orientation=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
            rescale_slope=slopes[i] if slopes else 1.0, rescale_intercept=intercepts[i] if intercepts else 0.0,
            acquisition_datetime=start, actual_frame_duration_ms=duration_s * 1000.0,
            frame_reference_time_ms=None if frt_s is None else frt_s * 1000.0,
            decay_factor=decay_factors[i] if decay_factors else None))
    return headers, infos


def run(*args: Any, **kw: Any) -> SuvResult:
    """compute_suv on ``build(**kw)``; positional arguments: SuvOptions (or a function building them, which
    validate when built) and/or the frame tuple."""
    options = next((a() if callable(a) else a for a in args if isinstance(a, SuvOptions) or callable(a)),
                   SuvOptions())
    frames = [a for a in args if isinstance(a, tuple)]
    headers, infos = build(*frames, **kw)
    return compute_suv(headers, infos, options, source="PT series 1.2.826.0.1.9")


def refused(error: type[PipelineError], attribute: str, *args: Any, **kw: Any) -> str:
    """Run, expect ``error`` whose one-line message names ``attribute`` and has a remedy; return the message."""
    with pytest.raises(error) as info:
        run(*args, **kw)
    text = str(info.value)
    assert attribute in text, text
    assert "PT series 1.2.826.0.1.9" in text or info.value.attribute is not None
    assert info.value.remedy and "\n" not in text
    return text


def warned(result: SuvResult, *words: str) -> bool:
    return any(all(w in text for w in words) for text in result.warnings)


# ------------------------------------------------------------------------------------------- test vectors
def test_t1_baseline_18f() -> None:
    r = run()
    assert r.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8)
    assert r.injected_dose_bq / r.decay_factor == pytest.approx(2.5199969e8, rel=5e-8)  # type: ignore[operator]
    assert 3600.0 * r.suv_factor == pytest.approx(1.0000, abs=5e-5)  # type: ignore[operator]
    assert r.rule == "BQML/START/series-time" and r.formula.startswith("SUVbw = A_c * W[g] / D_ref")
    assert r.warnings == []


@pytest.mark.parametrize(("half_life", "bq_per_ml"), [(4057.7, 2842.95), (4062.6, 2845.06), (4069.8, 2848.16)])
def test_t2_68ga(half_life: float, bq_per_ml: float) -> None:
    r = run(rp={"RadionuclideHalfLife": str(half_life)}, code=("C-131A3", "^68^Gallium"))
    assert 1.0 / r.suv_factor == pytest.approx(bq_per_ml, abs=0.005)  # type: ignore[operator]
    assert r.nuclide == "Ga68" and r.half_life_s == half_life
    if half_life == 4057.7:
        assert r.injected_dose_bq / r.decay_factor == pytest.approx(1.9900673e8, rel=5e-8)  # type: ignore[operator]


def test_t3_wrong_nuclide_half_life() -> None:
    kw: dict[str, Any] = {"rp": {"RadionuclideHalfLife": "6586.2"}, "code": ("C-131A3", "^68^Gallium")}
    kept = run(KEEP_HEADER_HALF_LIFE, **kw)  # header 18F half-life on 68Ga data
    fixed = run(SuvOptions(nuclide="Ga68"), **kw)
    assert fixed.half_life_s == 4062.6 and "half_life_s" in fixed.overrides
    assert fixed.suv_factor / kept.suv_factor == pytest.approx(1.2653, abs=5e-5)  # type: ignore[operator]


@pytest.mark.parametrize(("hours", "factor", "date_ignored"), [(72, 3.5753386e-3, 1.8898), (144, 6.7567529e-3, 3.5714),
                                                               (168, 8.3536894e-3, 4.4155)])
def test_t4_89zr_multi_day(hours: int, factor: float, date_ignored: float) -> None:
    injection = T0 - timedelta(hours=hours)
    kw: dict[str, Any] = {"rp": {"RadionuclideTotalDose": "37000000", "RadionuclideHalfLife": "282276",
                                 "RadiopharmaceuticalStartDateTime": injection.strftime("%Y%m%d%H%M%S"),
                                 "RadiopharmaceuticalStartTime": injection.strftime("%H%M%S")},
                          "code": ("C-168A4", "^89^Zirconium")}
    r = run(**kw)
    assert r.suv_factor == pytest.approx(factor, rel=5e-8)
    assert r.uptake_time_s == hours * 3600.0
    assert r.decay_factor == pytest.approx(date_ignored, abs=5e-5)  # a same-day reading would miss this factor
    # TM only: the date cannot be inferred for 89Zr (R24) ...
    kw["rp"] = {**kw["rp"], "RadiopharmaceuticalStartDateTime": None}
    text = refused(MissingAttributeError, "RadiopharmaceuticalStartDateTime (0018,1078)", **kw)
    assert "--injection" in text and "R24" in text
    # ... unless the user gives the full datetime
    given = run(SuvOptions(injection_datetime=injection), **kw)
    assert given.suv_factor == pytest.approx(factor, rel=5e-8) and "injection_datetime" in given.overrides


def test_t5_midnight_rule() -> None:
    r = run(((datetime(2025, 1, 2, 0, 30), 300.0, 150.0),), SeriesDate="20250102", SeriesTime="003000",
            rp={"RadiopharmaceuticalStartDateTime": None, "RadiopharmaceuticalStartTime": "233000"})
    assert r.injection_datetime == datetime(2025, 1, 1, 23, 30)
    assert r.uptake_time_s == 3600.0 and r.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8)
    assert warned(r, "midnight", "R23")


def test_t6_decay_correction_none_per_frame() -> None:
    frames = ((T0, 603.0, None), (T0 + timedelta(minutes=5), 603.0, None))
    r = run(frames, DecayCorrection="NONE", CorrectedImage=["NORM", "ATTN", "SCAT"])
    assert r.suv_factor is None and r.rule == "BQML/NONE/per-frame"
    suv = np.array([3488.0, 3379.0]) * r.factors
    assert suv == pytest.approx([0.99996, 0.99978], abs=5e-6)
    assert r.decay_factor[1] / r.decay_factor[0] == pytest.approx(2 ** (300 / 6586.2), rel=1e-12)  # type: ignore
    assert r.sidecar()["suv_factor"] is None and len(r.sidecar()["suv_factors"]) == 2


def test_t7_back_computed_reference_dro_3_2() -> None:
    frames = ((datetime(2025, 1, 1, 11, 2, 30), 603.0, 450.0), (datetime(2025, 1, 1, 11, 5), 603.0, 600.0))
    r = run(frames, SeriesTime="113000")
    assert r.rule == "BQML/START/back-computed"
    assert abs((r.reference_datetime - T0).total_seconds() + 0.0944) < 1e-3  # type: ignore[operator]
    assert r.suv_factor == pytest.approx(T1_FACTOR, rel=2e-5)
    assert warned(r, "R15")


# ------------------------------------------------------------------------------------------- rules
def test_r1_slope_applied_per_frame_factor_shared() -> None:
    r = run(((T0, 300.0, 150.0), (T0, 300.0, 150.0)), slopes=(3.0, 4.0))
    assert r.factors[0] == r.factors[1]
    assert np.array([1200.0 * 3.0, 900.0 * 4.0]) * r.factors == pytest.approx([1.0, 1.0], abs=5e-5)
    refused(DicomError, "RescaleSlope (0028,1053)", slopes=(0.0,))


def test_r2_nonzero_intercept_warns_or_refuses_when_strict() -> None:
    r = run(intercepts=(5.0,))
    assert r.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8) and warned(r, "RescaleIntercept (0028,1052)", "R2")
    refused(DicomError, "RescaleIntercept (0028,1052)", STRICT, intercepts=(5.0,))


def test_r3_corrected_image() -> None:
    refused(DicomError, "CorrectedImage (0028,0051)", CorrectedImage=["NORM", "DECY"])  # no ATTN
    refused(DicomError, "CorrectedImage (0028,0051)", CorrectedImage=["ATTN"])  # START without DECY
    refused(MissingAttributeError, "CorrectedImage (0028,0051)", CorrectedImage=None)
    refused(DicomError, "DecayCorrection (0054,1102)", DecayCorrection="NONE")  # DECY with NONE
    assert run(CorrectedImage=["ATTN", "DECAY"]).suv_factor == pytest.approx(T1_FACTOR, rel=5e-8)


def test_r4_bqml() -> None:
    r = run()
    assert r.units == "BQML" and r.activity_scale == 1.0 and r.normaliser_value == 70000.0


PHILIPS = "Philips PET Private Group"


def test_r5_philips_ssf_alone() -> None:
    kw: dict[str, Any] = {"Units": "CNTS", "Manufacturer": "Philips Medical Systems",
                          "private": [(0x7053, PHILIPS, 0x00, "DS", "0.0005")]}
    r = run(**kw)
    assert r.rule == "CNTS/Philips-SSF" and r.suv_factor == 0.0005
    lbm = run(SuvOptions(kind="lbm", lbm_formula="james128"), **kw)
    assert lbm.suv_factor == pytest.approx(0.0005 * 56.52 / 70.0, rel=1e-12)
    heavier = run(SuvOptions(weight_kg=80.0), **kw)  # weight override rescales the scanner's SSF
    assert heavier.suv_factor == pytest.approx(0.0005 * 80 / 70, rel=1e-12)
    dosed = run(SuvOptions(dose_bq=368.08e6 / 2), **kw)  # half the dose: twice the SUV
    assert dosed.suv_factor == pytest.approx(0.001, rel=1e-12)
    refused(DicomError, "DecayCorrection (0054,1102)", **kw, DecayCorrection="ADMIN")


def test_r6_philips_acsf_preferred_and_cross_checked() -> None:
    acsf = [(0x7053, PHILIPS, 0x09, "DS", "0.5")]
    r = run(Units="CNTS", private=acsf)
    assert r.rule == "CNTS/Philips-ACSF/START/series-time" and r.activity_scale == 0.5
    assert r.suv_factor == pytest.approx(0.5 * T1_FACTOR, rel=5e-8)
    off = run(Units="CNTS", private=[*acsf, (0x7053, PHILIPS, 0x00, "DS", f"{0.5 * T1_FACTOR * 1.01:.8g}")])
    assert off.suv_factor == r.suv_factor and warned(off, "SUV Scale Factor (7053,1000)", "R6")
    assert off.checks["philips_ssf"]["relative_difference"] == pytest.approx(-0.0099, abs=1e-4)
    zero = run(Units="CNTS", private=[(0x7053, PHILIPS, 0x09, "DS", "0.0"), (0x7053, PHILIPS, 0x00, "DS", "0.0005")])
    assert zero.rule == "CNTS/Philips-SSF"


def test_r6_private_tags_without_creator_read_by_position_with_warning() -> None:
    headers, frames = build(Units="CNTS", Manufacturer="Philips Medical Systems")
    for ds in headers:
        ds.add_new(0x70531009, "DS", "0.5")  # IBSI DRO style: no (7053,0010) creator
    r = compute_suv(headers, frames, SuvOptions(), source="DRO")
    assert r.activity_scale == 0.5 and any("no private creator" in w for w in r.warnings)
    headers[0].Manufacturer = "SIEMENS"  # another vendor: the creator-less element is not read
    with pytest.raises(DicomError, match=r"\(7053,1000\)"):
        compute_suv(headers, frames, SuvOptions(), source="DRO")


def test_r7_cnts_without_factors_refused() -> None:
    refused(DicomError, "(7053,1000)", Units="CNTS")
    text = refused(DicomError, "(7053,1009)", Units="CNTS", private=[(0x7053, PHILIPS, 0x00, "DS", "0.0")])
    assert "0.0" in text


def test_r8_bqml_ignores_philips_factors() -> None:
    r = run(private=[(0x7053, PHILIPS, 0x00, "DS", "0.0035"), (0x7053, PHILIPS, 0x09, "DS", "4.7")])
    assert r.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8) and warned(r, "R8")


def test_r9_gml_suv_type_conversion() -> None:
    kw: dict[str, Any] = {"Units": "GML"}
    assert run(**kw).suv_factor == 1.0 and run(**kw).rule == "GML/SUVType=BW"
    james = run(SUVType="LBMJAMES128", **kw)  # DRO_2_1: values are SUVlbm (James-128, M, 70 kg, 1.75 m)
    assert james.rule == "GML/SUVType=LBMJAMES128→BW" and james.suv_factor == pytest.approx(70 / 56.52, rel=1e-12)
    sul = run(SuvOptions(kind="lbm"), **kw)
    assert sul.rule == "GML/SUVType=BW→LBMJANMA" and sul.suv_factor == pytest.approx(55.857 / 70, abs=1e-5)
    ibw = run(SUVType="IBW", PatientSex="O", **kw)  # DRO_2_2: mean IBW, uncapped
    assert ibw.suv_factor == pytest.approx(70 / 69.405, rel=1e-12) and warned(ibw, "R30")
    ignored = run(SuvOptions(dose_bq=100e6), **kw)
    assert ignored.suv_factor == 1.0 and warned(ignored, "already SUV", "ignored")
    refused(DicomError, "SUVType (0054,1006)", SUVType="BSA", **kw)
    refused(DicomError, "SUVType (0054,1006)", SUVType="XYZ", **kw)


def test_r10_cm2ml() -> None:
    r = run(Units="CM2ML")
    assert r.rule == "CM2ML/SUVType=BSA→BW" and r.suv_factor == pytest.approx(70000 / 18481.4, rel=1e-5)
    assert run(SuvOptions(kind="bsa"), Units="CM2ML").suv_factor == 1.0
    refused(DicomError, "SUVType (0054,1006)", Units="CM2ML", SUVType="BW")


def test_r11_cps_needs_dcal() -> None:
    refused(DicomError, "Units (0054,1001)", Units="CPS")
    r = run(Units="CPS", CorrectedImage=["ATTN", "DECY", "DCAL"])  # voxel 4 x 4 x 4 mm = 0.064 mL
    assert r.rule == "CPS/DCAL/START/series-time" and r.suv_factor == pytest.approx(T1_FACTOR / 0.064, rel=5e-8)
    assert warned(r, "R11")
    refused(DicomError, "Units (0054,1001)", STRICT, Units="CPS",
            CorrectedImage=["ATTN", "DECY", "DCAL"])


@pytest.mark.parametrize("units", ["PROPCNTS", "PROPCPS", "NONE", "1CM", "MLMING"])
def test_r12_other_units_refused(units: str) -> None:
    refused(DicomError, "Units (0054,1001)", Units=units)


def test_r13_admin_no_decay() -> None:
    r = run(DecayCorrection="ADMIN")
    assert r.decay_factor == 1.0 and r.suv_factor == pytest.approx(70000 / 368.08e6, rel=1e-12)
    assert r.rule == "BQML/ADMIN" and r.reference_candidates[0]["name"] == "administration"


def test_r14_series_time_when_not_after_acquisition() -> None:
    r = run(((T0 + timedelta(minutes=3), 300.0, 330.0),))
    assert r.reference_datetime == T0 and r.rule.endswith("series-time")


GE = "GEMS_PETD_01"


def test_r15_ge_private_scan_datetime() -> None:
    r = run(((T0, 300.0, 0.0),), SeriesTime="113000", Manufacturer="GE MEDICAL SYSTEMS",
            private=[(0x0009, GE, 0x0D, "DT", "20250101110000")])
    assert r.rule == "BQML/START/GE-scan-datetime" and r.reference_datetime == T0
    assert r.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8) and warned(r, "R15")


def test_r15_earliest_acquisition_when_nothing_better() -> None:
    r = run(((T0, 300.0, None), (T0 + timedelta(minutes=5), 300.0, None)), SeriesTime="113000")
    assert r.rule == "BQML/START/earliest-acquisition" and r.reference_datetime == T0


def test_r15_missing_series_and_acquisition_times_refused() -> None:
    refused(MissingAttributeError, "SeriesTime (0008,0031)", ((None, 300.0, None),), SeriesTime=None)


def test_r16_tolerance() -> None:
    r = run(((T0 - timedelta(microseconds=5), 120.0, 59.936855),))
    assert r.reference_datetime == T0 and not warned(r, "R15") and not warned(r, "R19")
    late = run(((T0 - timedelta(seconds=2), 120.0, 59.936855),))  # 2 s beyond the tolerance: R15
    assert late.reference_datetime == T0 - timedelta(seconds=2) and warned(late, "R15")


def test_r17_siemens_frt_equals_t_ave() -> None:
    r = run(((T0, 120.0, 59.9368547),), Manufacturer="SIEMENS")
    (back,) = [c for c in r.reference_candidates if c["name"] == "back_computed_t_ave"]
    assert abs((datetime.fromisoformat(back["datetime"]) - T0).total_seconds()) < 1e-3


def test_r18_ge_frt_zero_convention() -> None:
    r = run(((T0, 180.0, 0.0), (T0 + timedelta(minutes=3), 180.0, 180.0)), SeriesTime="113000",
            Manufacturer="GE MEDICAL SYSTEMS")
    assert r.rule == "BQML/START/earliest-acquisition" and r.reference_datetime == T0
    (t_ave,) = [c for c in r.reference_candidates if c["name"] == "back_computed_t_ave"]
    assert "not this vendor's FRT convention" in t_ave["note"]
    assert not warned(r, "R19")


def test_r19_back_computation_never_beats_a_consistent_series_time() -> None:
    r = run(((T0 + timedelta(seconds=1), 120.7, 1328.7),))  # Philips BQML trap
    assert r.reference_datetime == T0 and warned(r, "R19", "back_computed_t_ave")


SIEMENS = "SIEMENS MED PT"


def test_r20_siemens_private_is_confirmatory() -> None:
    agree = run(Manufacturer="SIEMENS", private=[(0x0071, SIEMENS, 0x22, "DT", "20250101110000")])
    assert not warned(agree, "R19")
    shifted = run(Manufacturer="SIEMENS", private=[(0x0071, SIEMENS, 0x22, "DT", "20241231110000")])
    assert shifted.reference_datetime == T0 and warned(shifted, "siemens_decay_correction_datetime", "R19")


def test_r21_decay_correction_none_needs_frame_timing() -> None:
    refused(MissingAttributeError, "AcquisitionTime (0008,0032)", ((None, 300.0, None),), DecayCorrection="NONE",
            CorrectedImage=["ATTN"])


def test_r22_injection_sources() -> None:
    only_dt = run(rp={"RadiopharmaceuticalStartTime": None})
    assert only_dt.injection_datetime == datetime(2025, 1, 1, 10) and only_dt.warnings == []
    only_tm = run(rp={"RadiopharmaceuticalStartDateTime": None})
    assert only_tm.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8) and warned(only_tm, "R22")
    both = run(rp={"RadiopharmaceuticalStartTime": "101500"})
    assert both.injection_datetime == datetime(2025, 1, 1, 10) and warned(both, "disagree", "R22")
    refused(MissingAttributeError, "RadiopharmaceuticalStartTime (0018,1072)",
            rp={"RadiopharmaceuticalStartDateTime": None, "RadiopharmaceuticalStartTime": None})


def test_r22_ge_admin_datetime_dates_a_tm_only_injection() -> None:
    r = run(Manufacturer="GE MEDICAL SYSTEMS", rp={"RadiopharmaceuticalStartDateTime": None},
            private=[(0x0009, GE, 0x3B, "DT", "20250101100000")])
    assert r.injection_datetime == datetime(2025, 1, 1, 10) and not warned(r, "R22")


def test_r23_midnight_not_applied_when_injection_precedes_scan() -> None:
    r = run(rp={"RadiopharmaceuticalStartDateTime": None, "RadiopharmaceuticalStartTime": "103000"})
    assert r.injection_datetime == datetime(2025, 1, 1, 10, 30) and not warned(r, "R23")


def test_r24_long_half_life_tm_only_refused_even_for_64cu() -> None:
    refused(MissingAttributeError, "RadiopharmaceuticalStartDateTime (0018,1078)",
            rp={"RadiopharmaceuticalStartDateTime": None, "RadionuclideHalfLife": "45723.6"},
            code=("C-127A2", "^64^Copper"))


def test_r25_inconsistent_dates_refused() -> None:
    text = refused(DicomError, "RadiopharmaceuticalStartDateTime (0018,1078)",
                   rp={"RadiopharmaceuticalStartDateTime": "20241225100000"})  # 7 days for 18F
    assert "R25" in text


def test_r26_dose_units() -> None:
    mbq = run(rp={"RadionuclideTotalDose": "368.08"})
    assert mbq.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8) and warned(mbq, "MBq", "R26")
    refused(DicomError, "RadionuclideTotalDose (0018,1074)", rp={"RadionuclideTotalDose": "368080"})
    refused(DicomError, "RadionuclideTotalDose (0018,1074)", STRICT,
            rp={"RadionuclideTotalDose": "368.08"})
    refused(MissingAttributeError, "RadionuclideTotalDose (0018,1074)", rp={"RadionuclideTotalDose": "0"})
    big = run(rp={"RadionuclideTotalDose": "7.2e9"})
    assert warned(big, "above the plausible PET range")


def test_r27_net_dose_from_dosing_record() -> None:
    tz = timezone(timedelta(hours=1))
    injection = datetime(2025, 1, 1, 10, tzinfo=tz)
    record = DosingRecord(injected_activity_bq=400e6, injected_activity_datetime=injection - timedelta(minutes=10),
                          residual_activity_bq=10e6, residual_activity_datetime=injection + timedelta(minutes=5),
                          injection_datetime=injection, weight_kg=72.0, source="dosing.csv line 2")
    r = run(SuvOptions(dosing=record), TimezoneOffsetFromUTC="+0100")
    half = 6586.2
    net = 400e6 * 2 ** (-600 / half) - 10e6 * 2 ** (300 / half)
    assert r.injected_dose_bq == pytest.approx(net, rel=1e-12)
    assert r.suv_factor == pytest.approx(72000 / (net * 2 ** (-3600 / half)), rel=1e-12)
    assert r.overrides["injected_dose_bq"]["source"] == "dosing.csv line 2"
    assert r.overrides["weight_kg"]["value"] == 72.0 and r.overrides["weight_kg"]["dicom"] == 70.0
    # the command line wins over the dosing table
    assert run(SuvOptions(dosing=record, dose_bq=300e6, weight_kg=70.0),
               TimezoneOffsetFromUTC="+0100").overrides["injected_dose_bq"]["source"] == "--dose"


def test_r27_dosing_times_with_offset_on_headers_without_offset() -> None:
    injection = datetime(2025, 1, 1, 10, tzinfo=timezone(timedelta(hours=1)))
    r = run(SuvOptions(injection_datetime=injection))
    assert r.uptake_time_s == 3600.0 and warned(r, "TimezoneOffsetFromUTC (0008,0201)")
    assert r.sidecar()["reference_datetime"] == "2025-01-01T11:00:00+01:00"


def test_r28_weight() -> None:
    text = refused(MissingAttributeError, "PatientWeight (0010,1030)", PatientWeight=None)
    assert "--weight" in text
    refused(MissingAttributeError, "PatientWeight (0010,1030)", PatientWeight="0")
    grams = run(PatientWeight="70000")
    assert grams.weight_kg == 70.0 and warned(grams, "grams", "R28")
    refused(DicomError, "PatientWeight (0010,1030)", PatientWeight="500")
    given = run(SuvOptions(weight_kg=70.0), PatientWeight="0")
    assert given.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8)
    assert given.overrides["weight_kg"]["source"] == "--weight"
    refused(MissingAttributeError, "PatientWeight (0010,1030)", SuvOptions(kind="ibw"), PatientWeight=None)


def test_r29_height_in_centimetres() -> None:
    metres = run(SuvOptions(kind="lbm"))
    cm = run(SuvOptions(kind="lbm"), PatientSize="175")
    assert cm.suv_factor == pytest.approx(metres.suv_factor, rel=1e-12) and warned(cm, "centimetres", "R29")
    refused(MissingAttributeError, "PatientSize (0010,1020)", SuvOptions(kind="bsa"), PatientSize=None)


def test_r29_height_override_and_kinds() -> None:
    bsa = run(SuvOptions(kind="bsa", height_cm=175.0), PatientSize=None)
    assert bsa.suv_factor == pytest.approx(T1_FACTOR * 18481.4 / 70000, rel=1e-5)
    assert bsa.normaliser_name == "BSA DuBois"
    ibw = run(SuvOptions(kind="ibw", sex="F"))
    assert ibw.suv_factor == pytest.approx(T1_FACTOR * 66.43 / 70, rel=5e-8) and ibw.overrides["sex"]["dicom"] == "M"


def test_r30_unknown_sex() -> None:
    mean = run(SuvOptions(kind="lbm", lbm_formula="james128"), PatientSex="O")
    assert mean.suv_factor == pytest.approx(T1_FACTOR * (56.52 + 51.22) / 2 / 70, rel=5e-8)
    assert mean.sex is None and warned(mean, "PatientSex (0010,0040)", "R30")
    refused(MissingAttributeError, "PatientSex (0010,0040)", REFUSE_UNKNOWN_SEX,
            PatientSex=None)
    assert run(PatientSex="O").warnings == []  # SUVbw does not need the sex


def test_r31_half_life() -> None:
    text = refused(DicomError, "RadionuclideHalfLife (0018,1075)", rp={"RadionuclideHalfLife": "4062.6"})
    assert "--nuclide" in text and "--allow-half-life-mismatch" in text
    kept = run(KEEP_HEADER_HALF_LIFE, rp={"RadionuclideHalfLife": "4062.6"})
    assert kept.half_life_s == 4062.6 and warned(kept, "half-life", "R31")
    from_code = run(rp={"RadionuclideHalfLife": None})
    assert from_code.half_life_s == 6586.2
    assert from_code.half_life_source.startswith("nuclide table F18")  # type: ignore[union-attr]
    assert warned(from_code, "R31")
    refused(MissingAttributeError, "RadionuclideHalfLife (0018,1075)", rp={"RadionuclideHalfLife": None}, code=None)
    assert run(SuvOptions(nuclide="F18"), rp={"RadionuclideHalfLife": None}, code=None).half_life_s == 6586.2
    refused(InvalidInputError, "--nuclide", lambda: SuvOptions(nuclide="F19"))
    refused(InvalidInputError, "--nuclide", lambda: SuvOptions(nuclide="F19"), Units="GML")
    header_within_1pc = run(rp={"RadionuclideHalfLife": "6588"})
    assert header_within_1pc.half_life_s == 6588.0 and header_within_1pc.half_life_source == \
        "RadionuclideHalfLife (0018,1075)"


def test_r32_code_value_and_meaning() -> None:
    r = run(rp={"RadionuclideHalfLife": "4057.7"}, code=("C-131A1", "^68^Gallium"))  # IBSI DRO_5_0
    assert r.nuclide == "Ga68" and r.half_life_s == 4057.7 and warned(r, "C-131A1", "^66^Gallium", "R32")
    unknown = run(DecayCorrection="ADMIN", rp={"RadionuclideHalfLife": "289370"}, code=("C-999", "47 Scandium"))
    assert unknown.nuclide is None and unknown.half_life_s == 289370.0 and warned(unknown, "not in the nuclide table")
    # a gamma emitter (MIRP's 177Lu SPECT stored as PT): refused as a SPECT unless allowed (issue 17)
    refused(DicomError, "Modality (0008,0060): a SPECT stored as PET (PT): radionuclide 177Lu",
            DecayCorrection="ADMIN", rp={"RadionuclideHalfLife": "574300"}, code=("C-101ED", "177 Lutetium"))


def test_r33_series_consistency() -> None:
    frames = ((T0, 300.0, 150.0), (T0, 300.0, 150.0))
    text = refused(DicomError, "PatientWeight (0010,1030)", frames, per_instance={1: {"PatientWeight": "71"}})
    assert "R33" in text and "1.2.826.0.1.9.1" in text and "1.2.826.0.1.9.2" in text
    refused(DicomError, "Units (0054,1001)", frames, per_instance={1: {"Units": "CNTS"}})
    refused(DicomError, "SeriesTime (0008,0031)", frames, per_instance={1: {"SeriesTime": "110001"}})
    ok = run(frames, per_instance={1: {"PatientWeight": "70.0"}})  # same number, other spelling
    assert ok.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8)


def test_r34_enhanced_pet_refused_legacy_converted_read_from_shared_groups() -> None:
    # an Enhanced PET without a Real World Value Mapping (issue 18: with one it is read, tests/unit/test_enhanced_pet)
    refused(DicomError, "RealWorldValueMappingSequence (0040,9096) functional group",
            SOPClassUID="1.2.840.10008.5.1.4.1.1.130")
    headers, frames = build(((T0, 300.0, 150.0), (T0, 300.0, 150.0)), Units=None, DecayCorrection=None,
                            SOPClassUID="1.2.840.10008.5.1.4.1.1.128.1")
    shared = pydicom.Dataset()
    unassigned = pydicom.Dataset()
    unassigned.Units, unassigned.DecayCorrection = "BQML", "START"
    shared.UnassignedSharedConvertedAttributesSequence = [unassigned]
    headers = headers[:1]
    headers[0].SharedFunctionalGroupsSequence = [shared]
    r = compute_suv(headers, frames, SuvOptions(), source="legacy converted")
    assert r.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8) and len(r.factors) == 2


def test_r35_dynamic_frames_share_the_start_reference() -> None:
    frames = tuple((T0 + timedelta(seconds=60 * k), 60.0, 60.0 * k + 29.9) for k in range(4))
    r = run(frames)
    assert r.suv_factor == pytest.approx(T1_FACTOR, rel=5e-8) and len(r.factors) == 4


def test_r36_decay_factor_is_only_checked() -> None:
    consistent = 2 ** (150.0 / 6586.2)  # DecayFactor = 2^(FRT/T1/2) for FRT = T_ave-like 150 s
    ok = run(((T0, 300.0, 149.605344),), decay_factors=(2 ** (149.605344 / 6586.2),))
    assert not warned(ok, "R36")
    off = run(((T0, 300.0, 149.605344),), decay_factors=(consistent * 1.05,))
    assert off.suv_factor == ok.suv_factor and warned(off, "DecayFactor (0054,1321)", "R36")
    placeholder = run(decay_factors=(1.0,))  # IBSI/Philips placeholder: ignored
    assert not warned(placeholder, "R36")


def test_r37_missing_units_refused() -> None:
    refused(MissingAttributeError, "Units (0054,1001)", Units=None)


def test_r37_missing_decay_correction_refused() -> None:
    refused(MissingAttributeError, "DecayCorrection (0054,1102)", DecayCorrection=None)
    refused(DicomError, "DecayCorrection (0054,1102)", DecayCorrection="EARLY")


def test_r38_uptake_time() -> None:
    text = refused(DicomError, "RadiopharmaceuticalStartDateTime (0018,1078)",
                   rp={"RadiopharmaceuticalStartDateTime": "20250101115900"})
    assert "negative uptake" in text
    long = run(rp={"RadiopharmaceuticalStartDateTime": "20241231090000"})  # 26 h > 10 half-lives, < 3 T1/2 + 1 d
    assert warned(long, "10 half-lives", "R38")
    given = DosingRecord(injection_datetime=datetime(2025, 1, 1, 12), source="dosing.csv line 3")
    refused(DicomError, "dosing.csv line 3", SuvOptions(dosing=given))


def test_options_validated() -> None:
    refused(InvalidInputError, "--kind", lambda: SuvOptions(kind="sul"))
    refused(InvalidInputError, "--weight", lambda: SuvOptions(weight_kg=-1.0))
    refused(InvalidInputError, "--sex", lambda: SuvOptions(sex="O"))


def test_sidecar_is_json_ready() -> None:
    import json

    sidecar = run(SuvOptions(weight_kg=70.0)).sidecar()
    text = json.dumps(sidecar)
    for key in ("suv_kind", "suv_factor", "decay_factor", "half_life_s", "nuclide", "injected_dose_bq",
                "injection_datetime", "reference_datetime", "weight_kg", "units", "decay_correction", "rule",
                "warnings", "reference_candidates", "overrides", "formula", "activity_scale"):
        assert key in sidecar
    assert sidecar["injection_datetime"] == "2025-01-01T10:00:00" and math.isclose(sidecar["suv_factor"], T1_FACTOR,
                                                                                   rel_tol=5e-8)
    assert sidecar["overrides"]["weight_kg"]["source"] == "--weight" and "series" in text


def test_r15_ge_scan_datetime_without_creator_is_a_flagged_fallback() -> None:
    headers, frames = build(((T0, 300.0, 0.0),), SeriesTime="113000", Manufacturer="GE MEDICAL SYSTEMS")
    for ds in headers:
        ds.add_new(0x0009100D, "DT", "20250101110000")  # IBSI DRO_3_3 style: no (0009,0010) creator
    r = compute_suv(headers, frames, SuvOptions(), source="DRO_3_3")
    assert r.rule == "BQML/START/GE-scan-datetime" and any("no private creator" in w for w in r.warnings)
    with pytest.raises(DicomError, match=r"\(0009,100D\)"):
        compute_suv(headers, frames, STRICT, source="DRO_3_3")
