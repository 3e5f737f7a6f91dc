"""SUV factors of a PET series: the entry point of the SUV engine.

:func:`compute_suv` turns the instance headers and per-frame records of one series into one
multiplier per frame, from the rescaled pixel value (stored * slope + intercept) to the
requested SUV, implementing rules R1-R39 of ``reference/suv.md``: each case is computed or
refused with a one-line error naming the series, the attribute and the remedy.

Paths (the ``rule`` of the result):

* activity paths, pixels -> Bq/mL -> SUV with one decay kernel: ``BQML``, ``CNTS/Philips-ACSF``,
  ``CPS/DCAL``, each with DecayCorrection ``START`` (reference time chosen among candidates),
  ``ADMIN`` (no decay) or ``NONE`` (per frame);
* ``CNTS/Philips-SSF``: the vendor's SUVbw factor, rescaled to other kinds and overrides;
* pass-through ``GML`` / ``CM2ML``: already SUV, converted between SUVTypes by body-size ratios.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray

from ..dicom.datetimes import isoformat
from ..dicom.frames import FrameInfo
from ..errors import DicomError, InvalidInputError, MissingAttributeError, PipelineError
from .body import KIND_SUV_TYPE, NORMALISER_NEEDS, Normaliser, james_past_peak, normaliser
from .decay import average_count_time, decay_fraction, seconds_between
from .dose import resolve_dose, resolve_injection
from .halflife import HalfLife, resolve_half_life
from .header import (
    GE_SCAN_DATETIME,
    PHILIPS_ACSF,
    PHILIPS_SSF,
    SeriesHeader,
    label,
    read_series_header,
    warn_positional,
)
from .modality import spect_evidence
from .nuclides import get_nuclide, nuclide_from_code
from .options import Notes, SuvOptions
from .reftime import (
    SERIES,
    Candidate,
    Clock,
    FrameTime,
    check_decay_factors,
    frame_reference_convention,
    frame_times,
    make_clock,
    reference_candidates,
    select_reference,
    warn_disagreements,
)
from .result import SuvResult

__all__ = ["compute_suv", "activity_balance", "activity_balance_warning", "SuvOptions", "SuvResult",
           "ACTIVITY_BALANCE_LIMIT", "ACTIVITY_BALANCE_MIN", "SSF_TOLERANCE"]

#: Above this activity balance R = sum(A_c V) / D_ref the image holds more activity than injected (R39).
ACTIVITY_BALANCE_LIMIT = 1.05
#: Below this activity balance the image holds (next to) nothing of the injected activity: a slope, unit or dose off
#: by orders of magnitude (a one-bed head scan holds a few per cent; RescaleSlope 1e-30 gives 1e-28).
ACTIVITY_BALANCE_MIN = 0.001
#: Relative disagreement of the Philips SUV Scale Factor with ACSF * W / D_ref that is warned about (R6).
SSF_TOLERANCE = 0.005

_ACTIVITY_UNITS = ("BQML", "CNTS", "CPS")
_SUV_UNITS = ("GML", "CM2ML")
_SUV_TYPES = ("BW", "LBM", "LBMJAMES128", "LBMJANMA", "IBW", "BSA")

UNITS = label("Units")
DC = label("DecayCorrection")
CORRECTED = label("CorrectedImage")
SUV_TYPE = label("SUVType")
WEIGHT = label("PatientWeight")
SIZE = label("PatientSize")
SEX = label("PatientSex")


# ----------------------------------------------------------------------------------------------- checks
def _check_frames(frames: Sequence[FrameInfo], notes: Notes, source: str) -> None:
    """R1 (a valid slope per frame; the caller applies it per frame) and R2 (nonzero intercept)."""
    if not frames:
        raise DicomError("no image frames", source=source, remedy="give a folder holding one PET series")
    for f in frames:
        if not (math.isfinite(f.rescale_slope) and f.rescale_slope > 0):
            raise DicomError(f"{f.rescale_slope!r} in {f.source} is not a positive number (R1)", source=source,
                             attribute=label("RescaleSlope"), remedy="correct the header value")
        if not math.isfinite(f.rescale_intercept):
            raise DicomError(f"{f.rescale_intercept!r} in {f.source} is not a number", source=source,
                             attribute=label("RescaleIntercept"), remedy="correct the header value")
    nonzero = [f.rescale_intercept for f in frames if f.rescale_intercept != 0.0]
    if nonzero:
        notes.fallback(f"{label('RescaleIntercept')} nonzero in {len(nonzero)} of {len(frames)} frames "
                       f"(max |b| {max(abs(b) for b in nonzero):g}); applied although PET requires 0 (R2)",
                       attribute=label("RescaleIntercept"), remedy="check the reconstruction export")


def _check_corrections(header: SeriesHeader, dc: str | None) -> None:
    """R3: attenuation-corrected, and decay-corrected unless DecayCorrection is NONE."""
    ci, src = header.corrected_image, header.source
    remedy = "use an attenuation- and decay-corrected quantitative reconstruction"
    if ci is None:
        raise MissingAttributeError("missing: cannot tell whether the images are attenuation- and decay-corrected "
                                    "(R3)", source=src, attribute=CORRECTED, remedy=remedy)
    if "ATTN" not in ci:
        raise DicomError(f"{'/'.join(ci)} lacks ATTN: not attenuation-corrected, not quantitative (R3)", source=src,
                         attribute=CORRECTED, remedy=remedy)
    decayed = "DECY" in ci or "DECAY" in ci
    if dc == "NONE" and decayed:
        raise DicomError(f"{'/'.join(ci)} says decay-corrected (DECY) but {DC} is NONE (R3)", source=src,
                         attribute=f"{CORRECTED} / {DC}", remedy="correct one of the two attributes")
    if dc in ("START", "ADMIN") and not decayed:
        raise DicomError(f"{'/'.join(ci)} lacks DECY although {DC} is {dc} (R3)", source=src, attribute=CORRECTED,
                         remedy=remedy)


# ----------------------------------------------------------------------------------------------- body size
@dataclass(frozen=True)
class _Body:
    weight_kg: float | None
    height_cm: float | None
    sex: str | None  # M, F or None (unknown)


def _record(overrides: dict[str, dict[str, Any]], name: str, value: Any, where: str, dicom: Any) -> None:
    overrides[name] = {"value": value, "source": where, "dicom": dicom}


def _override(options: SuvOptions, field: str) -> tuple[Any, str | None]:
    """(value, where) from the options (named by its flag or key), else the dosing table, else (None, None)."""
    if getattr(options, field) is not None:
        return getattr(options, field), options.name(field)
    record = options.dosing
    if record is not None and getattr(record, field) is not None:
        return getattr(record, field), record.source
    return None, None


def _weight(header: SeriesHeader, options: SuvOptions, notes: Notes, overrides: dict[str, dict[str, Any]]) -> float:
    """Body weight (kg): override, else PatientWeight with the grams heuristic (R28)."""
    value, where = _override(options, "weight_kg")
    if where is not None:
        _record(overrides, "weight_kg", float(value), where, header.weight_kg)
        if not 1.0 <= value <= 400.0:
            notes.fallback(f"weight {value:g} kg from {where} is outside 1-400 kg (R28)", attribute=WEIGHT,
                           remedy="give the weight in kg", check="header.implausible_value")
        return float(value)
    remedy = f"give {options.name('weight_kg')} or a weight in the dosing table"
    w = header.weight_kg
    if w is None or not w > 0:
        raise MissingAttributeError("missing or zero (R28)", source=header.source, attribute=WEIGHT, remedy=remedy)
    if w > 1000.0:
        notes.fallback(f"{WEIGHT} {w:g} looks like grams: read as {w / 1000:g} kg (R28)", attribute=WEIGHT,
                       remedy=remedy)
        w /= 1000.0
    if not 1.0 <= w <= 400.0:
        raise DicomError(f"{w:g} kg is implausible (R28)", source=header.source, attribute=WEIGHT, remedy=remedy)
    return w


def _height(header: SeriesHeader, options: SuvOptions, notes: Notes, overrides: dict[str, dict[str, Any]]) -> float:
    """Height (cm): override, else PatientSize (m) with the centimetres heuristic (R29)."""
    value, where = _override(options, "height_cm")
    if where is not None:
        _record(overrides, "height_cm", float(value), where, header.size_m)
        if not 50.0 <= value <= 250.0:
            notes.fallback(f"height {value:g} cm from {where} is outside 50-250 cm (R29)", attribute=SIZE,
                           remedy="give the height in cm", check="header.implausible_value")
        return float(value)
    remedy = f"give {options.name('height_cm')} (cm) or a height in the dosing table"
    size = header.size_m
    if size is None or not size > 0:
        raise MissingAttributeError("missing or zero", source=header.source, attribute=SIZE, remedy=remedy)
    if size > 3.0:
        notes.fallback(f"{SIZE} {size:g} looks like centimetres, not metres: read as {size / 100:g} m (R29)",
                       attribute=SIZE, remedy=remedy)
        height = size
    else:
        height = size * 100.0
    if not 50.0 <= height <= 250.0:
        raise DicomError(f"{height:g} cm is implausible (R29)", source=header.source, attribute=SIZE, remedy=remedy)
    return height


def _sex(header: SeriesHeader, options: SuvOptions, overrides: dict[str, dict[str, Any]], what: str, *,
         refuse_unknown: bool = True) -> str | None:
    """M or F (override, else PatientSex), or None for O/other/missing unless the policy refuses it (R30)."""
    value, where = _override(options, "sex")
    if where is not None:
        _record(overrides, "sex", value, where, header.sex)
        return str(value)
    if header.sex in ("M", "F"):
        return header.sex
    if refuse_unknown and options.policy.refuses("header.unknown_sex"):
        sex = options.name("sex")
        raise MissingAttributeError(f"{header.sex or 'missing'}: {what} needs M or F (R30)", source=header.source,
                                    attribute=SEX, remedy=f"give {sex} M or {sex} F, or a sex in the dosing table")
    return None


def _body(header: SeriesHeader, options: SuvOptions, needs: frozenset[str], notes: Notes,
          overrides: dict[str, dict[str, Any]], what: str) -> _Body:
    """Body size needed by the SUV kind; height and sex are also kept when available but not needed.

    Values not needed by the kind are read leniently (no error, no warning) so that the sidecar can
    carry them for later SUL computation; an unusable value is recorded as missing.
    """
    def optional(read: Any) -> Any:
        try:
            return read(Notes(notes.source), {})
        except PipelineError:
            return None

    return _Body(_weight(header, options, notes, overrides) if "W" in needs else None,
                 _height(header, options, notes, overrides) if "H" in needs
                 else optional(lambda n, o: _height(header, options, n, o)),
                 _sex(header, options, overrides, what) if "S" in needs
                 else optional(lambda n, o: _sex(header, options, o, what, refuse_unknown=False)))


def _normaliser(suv_type: str, body: _Body, notes: Notes, source: str) -> Normaliser:
    """Normaliser of an SUVType with the R30 warning for unknown sex and James-formula warnings."""
    try:
        norm = normaliser(suv_type, body.weight_kg, body.height_cm, body.sex)
    except ValueError as exc:
        raise InvalidInputError(f"{exc}", source=source, attribute=f"{suv_type} normaliser",
                                remedy=f"use {notes.name('lbm_formula')} janmahasatian or check weight and height") \
            from None
    if "S" in NORMALISER_NEEDS[suv_type] and body.sex is None:
        notes.fallback(f"{SEX} not M/F: mean of the male and female {norm.name.split(' (')[0]} used (R30)",
                       attribute=SEX, remedy=f"give {notes.name('sex')} M or {notes.name('sex')} F",
                       check="header.unknown_sex")
    if suv_type in ("LBM", "LBMJAMES128") and body.weight_kg and body.height_cm and \
            james_past_peak(body.weight_kg, body.height_cm, body.sex):
        notes.warn(f"James LBM is past its maximum at {body.weight_kg:g} kg / {body.height_cm:g} cm and "
                   f"underestimates lean mass in obesity; Janmahasatian is recommended")
    return norm


def _target_type(options: SuvOptions) -> str:
    return KIND_SUV_TYPE[options.lbm_formula if options.kind == "lbm" else options.kind]


# ----------------------------------------------------------------------------------------------- decay
@dataclass
class _Decay:
    half_life: HalfLife
    injection: datetime | None
    dose_bq: float
    reference: datetime | None  # None for DecayCorrection NONE (per frame)
    d_ref: NDArray[np.float64]  # Bq, per frame
    candidates: list[Candidate]
    rule: str  # e.g. START/series-time
    uptake_s: float | None


def _header_only(options: SuvOptions) -> SuvOptions:
    return dataclasses.replace(options, weight_kg=None, height_cm=None, sex=None, dose_bq=None,
                               injection_datetime=None, scan_datetime=None, nuclide=None, dosing=None)


def _override_datetimes(options: SuvOptions) -> list[datetime | None]:
    record = options.dosing
    return [options.injection_datetime, options.scan_datetime] + (
        [record.injection_datetime, record.injected_activity_datetime, record.residual_activity_datetime,
         record.scan_datetime] if record else [])


def _scan_override(options: SuvOptions, clock: Clock) -> tuple[datetime, str] | None:
    """The reference (scan) datetime given by ``--scan-time`` or the dosing table, aligned, and where from."""
    for value, where in ((options.scan_datetime, options.name("scan_datetime")),
                         (options.dosing.scan_datetime if options.dosing else None,
                          options.dosing.source if options.dosing else "")):
        if value is not None:
            aligned = clock.align(value)
            assert aligned is not None
            return aligned, where
    return None


def _decay(header: SeriesHeader, frames: Sequence[FrameInfo], dc: str, options: SuvOptions, notes: Notes,
           overrides: dict[str, dict[str, Any]]) -> _Decay:
    """Half-life, injection, dose and D_ref per frame for DecayCorrection START, ADMIN or NONE (R13-R27, R35-R38)."""
    src, tol = header.source, options.reference_tolerance_s
    half_life = resolve_half_life(header, options, notes, overrides)
    hl = half_life.seconds
    clock = make_clock(header, frames, _override_datetimes(options), notes)
    times = frame_times(frames, clock)
    starts = [t.start for t in times if t.start is not None]
    reference: datetime | None = None
    for written_label, written in header.date_only:
        if written_label != label("RadiopharmaceuticalStartDateTime"):
            notes.warn(f"{written_label} {written!r} has a date but no time of day: not used as a time")
    scan = _scan_override(options, clock)
    if scan is not None:
        header_reference = _header_reference(header, times, clock, hl, tol, src)
        overrides["reference_datetime"] = {"value": scan[0], "source": scan[1], "dicom": header_reference}
    if dc == "START":
        candidates = reference_candidates(header, times, clock, hl, tol)
        if scan is not None:
            chosen = Candidate("override", scan[0], f"given by {scan[1]}", used=True)
            candidates.append(chosen)
            warn_disagreements(candidates, chosen, tol, notes)
            ref_rule = "override"
        else:
            chosen, ref_rule = select_reference(candidates, tol, notes, src)
        if chosen.name == "ge_scan_datetime":
            warn_positional(header, GE_SCAN_DATETIME, notes)
        reference = anchor = chosen.datetime
        rule = f"START/{ref_rule}"
    elif scan is not None:
        anchor = scan[0]
        if dc == "NONE":
            _require_frame_timing(times, src)
        rule = "ADMIN" if dc == "ADMIN" else "NONE/per-frame"
    else:
        anchor = min(starts) if starts else clock.align(header.series_datetime)
        if dc == "NONE":
            _require_frame_timing(times, src)
        rule = "ADMIN" if dc == "ADMIN" else "NONE/per-frame"
    injection = resolve_injection(header, options, clock, anchor, hl, dc != "ADMIN", notes, overrides)
    t_inj = injection.datetime if injection else None
    dose, _ = resolve_dose(header, options, t_inj, hl, clock, notes, overrides)
    uptake = None if (t_inj is None or anchor is None) else seconds_between(t_inj, anchor)
    if injection is not None and uptake is not None:
        _check_uptake(injection.source, injection.date_inferred, uptake, hl, tol, src,
                      injection_option=options.name("injection_datetime"))
    n = len(frames)
    if dc == "START":
        assert t_inj is not None and reference is not None
        d_ref = np.full(n, dose * decay_fraction(seconds_between(t_inj, reference), hl))
        check_decay_factors(times, hl, reference, frame_reference_convention(header.manufacturer, times), notes)
    elif dc == "ADMIN":
        d_ref = np.full(n, dose)
        candidates = [Candidate("administration", t_inj, f"{DC} ADMIN: images decay-corrected to the injection "
                                "time; no decay of the dose (R13)", used=True)]
    else:
        assert t_inj is not None
        elapsed_s = []
        for t in times:
            assert t.start is not None and t.duration_s is not None  # _require_frame_timing checked every frame
            elapsed_s.append(seconds_between(t_inj, t.start) + average_count_time(t.duration_s, hl))
        elapsed = np.array(elapsed_s)
        d_ref = dose * decay_fraction(elapsed, hl)
        candidates = [Candidate("frame_mid_count", None, f"{DC} NONE: each frame referred to its own "
                                "AcquisitionDateTime + T_ave(ActualFrameDuration) (R21)", used=True)]
    return _Decay(half_life, t_inj, dose, reference, d_ref, candidates, rule, uptake)


def _header_reference(header: SeriesHeader, times: Sequence[FrameTime], clock: Clock, half_life_s: float,
                      tolerance_s: float, source: str) -> str | None:
    """The reference datetime the header alone gives (ISO), or None when it gives none: for provenance."""
    try:
        chosen, _ = select_reference(reference_candidates(header, times, clock, half_life_s, tolerance_s),
                                     tolerance_s, Notes(source), source)
    except MissingAttributeError:
        return None
    return isoformat(chosen.datetime)


def _require_frame_timing(times: Sequence[FrameTime], source: str) -> None:
    for t in times:
        if t.start is None:
            raise MissingAttributeError(f"missing in frame {t.index + 1}: needed per frame with {DC} NONE (R21)",
                                        source=source, attribute=f"{label('AcquisitionDate')}/"
                                        f"{label('AcquisitionTime')}", remedy="restore the acquisition times")
        if t.duration_s is None or t.duration_s < 0:
            raise MissingAttributeError(f"missing in frame {t.index + 1}: needed per frame with {DC} NONE (R21)",
                                        source=source, attribute=label("ActualFrameDuration"),
                                        remedy="restore the frame durations")


def _check_uptake(where: str, date_inferred: bool, uptake_s: float, half_life_s: float, tolerance_s: float,
                  source: str, *, injection_option: str) -> None:
    """R38 (negative uptake refused, implausibly long warned by the caller) and R25 (inconsistent dates)."""
    remedy = f"check the injection time or give {injection_option} with the correct datetime"
    if uptake_s < -tolerance_s:
        raise DicomError(f"injection is {-uptake_s:.0f} s after the scan reference time: negative uptake time (R38)",
                         source=source, attribute=where, remedy=remedy)
    if not date_inferred and uptake_s > 3.0 * half_life_s + 86400.0:
        raise DicomError(f"uptake time {uptake_s / 3600:.1f} h exceeds 3 half-lives + 1 day: injection and scan "
                         f"dates are inconsistent (de-identification date shift?) (R25)", source=source,
                         attribute=f"{where} / {SERIES}", remedy=remedy)


def _uptake_warning(uptake_s: float | None, half_life_s: float, notes: Notes) -> None:
    if uptake_s is not None and uptake_s > 10.0 * half_life_s:
        notes.warn(f"uptake time {uptake_s / 3600:.1f} h is longer than 10 half-lives (R38)")


# ----------------------------------------------------------------------------------------------- units
@dataclass(frozen=True)
class _Activity:
    """How rescaled values become activity: a scale to Bq/mL, or the Philips SUV scale factor."""

    path: str  # BQML, CNTS/Philips-ACSF, CPS/DCAL, CNTS/Philips-SSF
    scale: float | None  # to Bq/mL
    ssf: float | None
    symbol: str  # activity term of the formula


def _activity(header: SeriesHeader, units: str, notes: Notes) -> _Activity:
    """Units BQML (R4, R8), CNTS with Philips factors (R5-R7) or CPS with DCAL (R11)."""
    src = header.source
    ssf, acsf = header.philips_ssf, header.philips_acsf
    if units == "BQML":
        if acsf is not None and acsf != 1.0:
            notes.warn(f"Units BQML with Philips {PHILIPS_ACSF.label} {acsf:g} and {PHILIPS_SSF.label} {ssf}: the "
                       f"private factors apply to CNTS only and are ignored (R8); a high activity balance would "
                       f"mean the pixels are counts")
        return _Activity("BQML", 1.0, None, "A_c")
    if units == "CNTS":
        if acsf is not None and acsf > 0:
            warn_positional(header, PHILIPS_ACSF, notes)
            return _Activity("CNTS/Philips-ACSF", acsf, ssf if ssf and ssf > 0 else None, "(CNTS * ACSF)")
        if ssf is not None and ssf > 0:
            warn_positional(header, PHILIPS_SSF, notes)
            return _Activity("CNTS/Philips-SSF", None, ssf, "CNTS")
        zero = " are 0.0, i.e. not convertible" if 0.0 in (ssf, acsf) else " are missing"
        raise DicomError(f"Units CNTS but the Philips private factors{zero}: counts cannot be converted to activity "
                         f"(R7)", source=src, attribute=f"{PHILIPS_SSF.label} / {PHILIPS_ACSF.label}",
                         remedy="export the series in BQML, or keep the Philips private group when de-identifying")
    # CPS
    if "DCAL" not in (header.corrected_image or ()):
        raise DicomError("Units CPS without DCAL in CorrectedImage: not calibrated to activity (R11)", source=src,
                         attribute=f"{UNITS} / {CORRECTED}", remedy="export the series in BQML")
    if not header.voxel_volume_ml:
        raise MissingAttributeError("needed to convert CPS per voxel to Bq/mL (R11)", source=src,
                                    attribute=f"{label('PixelSpacing')} / {label('SliceThickness')}",
                                    remedy="restore the geometry attributes")
    notes.fallback(f"Units CPS with DCAL: Bq/mL = CPS / voxel volume {header.voxel_volume_ml:g} mL (R11; "
                   f"IBSI rule, rarely exercised)", attribute=UNITS, remedy="export the series in BQML")
    return _Activity("CPS/DCAL", 1.0 / header.voxel_volume_ml, None, "(CPS / V_voxel[mL])")


# ----------------------------------------------------------------------------------------------- paths
def _passthrough(header: SeriesHeader, units: str, options: SuvOptions, notes: Notes, n: int) -> SuvResult:
    """Units GML / CM2ML: already SUV of ``SUVType``; convert to the requested kind (R9, R10)."""
    src = header.source
    if units == "GML":
        suv_type = header.suv_type or "BW"
        if suv_type == "BSA":
            raise DicomError("SUVType BSA with Units GML is inconsistent (BSA SUVs are in CM2ML) (R9)", source=src,
                             attribute=f"{SUV_TYPE} / {UNITS}", remedy="correct SUVType or Units")
    else:
        suv_type = header.suv_type or "BSA"
        if suv_type != "BSA":
            raise DicomError(f"SUVType {suv_type} with Units CM2ML is inconsistent (R10)", source=src,
                             attribute=f"{SUV_TYPE} / {UNITS}", remedy="correct SUVType or Units")
    if suv_type not in _SUV_TYPES:
        raise DicomError(f"unknown SUVType {suv_type!r} (R9)", source=src, attribute=SUV_TYPE,
                         remedy=f"expected one of {', '.join(_SUV_TYPES)}")
    target = _target_type(options)
    overrides: dict[str, dict[str, Any]] = {}
    if _decay_overridden(options):
        notes.warn(f"Units {units} pixels are already SUV (the scanner applied its own dose and decay): "
                   f"{_decay_options(options)} and dosing-table activities are ignored")
    if target == suv_type:
        factor, norm, rule = 1.0, None, f"{units}/SUVType={suv_type}"
        formula = f"SUV{options.kind} = rescaled value ({units}, SUVType {suv_type})"
        try:  # only for the sidecar and the activity balance: never changes the factor
            lenient = Notes(src)
            body = _body(header, options, NORMALISER_NEEDS[target], lenient, overrides, target)
            norm = _normaliser(target, body, lenient, src)
        except PipelineError:
            body = _Body(header.weight_kg, None, None)
    else:
        body = _body(header, options, NORMALISER_NEEDS[suv_type] | NORMALISER_NEEDS[target], notes, overrides,
                     f"converting SUVType {suv_type} to {target}")
        source_norm = _normaliser(suv_type, body, notes, src)
        norm = _normaliser(target, body, notes, src)
        factor = norm.value / source_norm.value
        rule = f"{units}/SUVType={suv_type}→{target}"
        formula = f"SUV{options.kind} = SUV_{units}({suv_type}) * {norm.symbol} / {source_norm.symbol}"
        if header.suv_type is None:
            notes.warn(f"{SUV_TYPE} missing with Units {units}: read as {suv_type} (R9, R10)")
    coded = nuclide_from_code(header.code_value, header.code_meaning)
    return SuvResult(
        suv_kind=options.kind, formula=formula, factors=np.full(n, factor), rule=rule, units=units,
        decay_correction=header.decay_correction, half_life_s=header.half_life_s,
        half_life_source=label("RadionuclideHalfLife") if header.half_life_s else None,
        nuclide=coded.key if coded else None, weight_kg=body.weight_kg, height_cm=body.height_cm, sex=body.sex,
        normaliser_value=norm.value if norm else None, normaliser_name=norm.name if norm else None,
        overrides=overrides, warnings=notes.warnings)


def _decay_options(options: SuvOptions) -> str:
    """The options that override dose and decay, as the user names them."""
    return "/".join(options.name(f) for f in ("dose_bq", "injection_datetime", "nuclide"))


def _decay_overridden(options: SuvOptions) -> bool:
    record = options.dosing
    return any(v is not None for v in (options.dose_bq, options.injection_datetime, options.scan_datetime,
                                       options.nuclide)) or (
        record is not None and (record.injected_activity_bq is not None or record.injection_datetime is not None
                                or record.scan_datetime is not None))


def _ssf_factor(header: SeriesHeader, frames: Sequence[FrameInfo], ssf: float, dc: str, decay: _Decay | None,
                norm: Normaliser | None, options: SuvOptions) -> tuple[float, str]:
    """Philips SUV Scale Factor alone (R5): SSF * N / W_header, times D_ref(header) / D_ref when decay is overridden.

    ``norm`` is None for SUVbw with the header weight (the SSF is used as given).
    """
    src = header.source
    factor, formula = ssf, "SUVbw = CNTS * SSF"
    if norm is not None:
        header_weight = _weight(header, _header_only(options), Notes(src), {})
        factor *= norm.value / (header_weight * 1000.0)
        formula = f"SUV{options.kind} = CNTS * SSF * {norm.symbol} / W_header[g]"
    if _decay_overridden(options):
        assert decay is not None
        try:
            scanner = _decay(header, frames, dc, _header_only(options), Notes(src), {})
        except PipelineError as exc:
            raise InvalidInputError(f"the Philips SUV Scale Factor embeds the header dose and times, which cannot be "
                                    f"recomputed ({exc.one_line()}), so dose/time overrides cannot be applied",
                                    source=src, attribute=PHILIPS_SSF.label,
                                    remedy=f"drop {_decay_options(options)} or export the series in BQML") from None
        factor *= float(scanner.d_ref[0] / decay.d_ref[0])
        formula += " * D_ref_header / D_ref"
    return factor, formula


def _ssf_check(header: SeriesHeader, frames: Sequence[FrameInfo], activity: _Activity, dc: str,
               options: SuvOptions, notes: Notes) -> dict[str, Any]:
    """Cross-check the Philips SSF with ACSF * W / D_ref from header values only (R6)."""
    assert activity.scale is not None and activity.ssf is not None
    try:
        header_options = _header_only(options)
        scanner = _decay(header, frames, dc, header_options, Notes(header.source), {})
        weight = _weight(header, header_options, Notes(header.source), {})
    except PipelineError as exc:
        notes.warn(f"{PHILIPS_SSF.label} not cross-checked: {exc.message}")
        return {}
    computed = activity.scale * weight * 1000.0 / float(scanner.d_ref[0])
    rel = computed / activity.ssf - 1.0
    if abs(rel) > SSF_TOLERANCE:
        notes.warn(f"{PHILIPS_SSF.label} {activity.ssf:g} differs {100 * rel:+.2f} % from ACSF * W / D_ref = "
                   f"{computed:.6g}; the ACSF path is used (R6)")
    return {"philips_ssf": {"header": activity.ssf, "acsf_w_over_d_ref": computed, "relative_difference": rel}}


def _activity_path(header: SeriesHeader, frames: Sequence[FrameInfo], units: str, dc: str, options: SuvOptions,
                   notes: Notes) -> SuvResult:
    """BQML, CNTS and CPS: rescaled -> Bq/mL -> SUV with the decayed dose, or the Philips SSF."""
    src = header.source
    activity = _activity(header, units, notes)
    overrides: dict[str, dict[str, Any]] = {}
    target = _target_type(options)
    decay: _Decay | None
    if activity.ssf is not None and activity.scale is None:
        if dc != "START":
            raise DicomError(f"the Philips SUV Scale Factor with {DC} {dc} is not supported (R5)", source=src,
                             attribute=f"{PHILIPS_SSF.label} / {DC}", remedy="export the series in BQML")
        try:
            decay = _decay(header, frames, dc, options, notes, overrides)
        except MissingAttributeError as exc:
            if _decay_overridden(options):
                raise
            notes.warn(f"decay quantities not reported ({exc.message}); the SUV Scale Factor is used as given")
            decay = None
        weight_overridden = options.weight_kg is not None or (options.dosing is not None and
                                                              options.dosing.weight_kg is not None)
        norm: Normaliser | None
        if target != "BW" or weight_overridden:
            body = _body(header, options, NORMALISER_NEEDS[target] | {"W"}, notes, overrides, target)
            norm = _normaliser(target, body, notes, src)
            reported = norm
        else:  # SUVbw as given; the header weight is only reported
            norm = None
            try:
                body = _body(header, options, frozenset("W"), Notes(src), overrides, target)
                reported = _normaliser("BW", body, Notes(src), src)
            except PipelineError:
                body, reported = _Body(None, None, None), None
        assert activity.ssf is not None
        factor, formula = _ssf_factor(header, frames, activity.ssf, dc, decay, norm, options)
        factors = np.full(len(frames), factor)
        rule = activity.path + ("" if target == "BW" else f"→{target}")
        checks: dict[str, Any] = {}
    else:
        if activity.ssf is not None:
            checks = _ssf_check(header, frames, activity, dc, options, notes)
        else:
            checks = {}
        decay = _decay(header, frames, dc, options, notes, overrides)
        body = _body(header, options, NORMALISER_NEEDS[target] | {"W"}, notes, overrides, target)
        norm = reported = _normaliser(target, body, notes, src)
        assert activity.scale is not None
        factors = activity.scale * norm.value / decay.d_ref
        rule = f"{activity.path}/{decay.rule}"
        d_ref = {"START": "D_ref = D_adm * exp(-ln2 * (t_ref - t_adm) / T_half)", "ADMIN": "D_ref = D_adm",
                 "NONE": "D_ref(frame) = D_adm * exp(-ln2 * (t_acq + T_ave - t_adm) / T_half)"}[dc]
        formula = f"SUV{options.kind} = {activity.symbol} * {norm.symbol} / D_ref; {d_ref}"
    if decay is not None:
        _uptake_warning(decay.uptake_s, decay.half_life.seconds, notes)
        ratio = decay.dose_bq / decay.d_ref
        decay_factor: float | list[float] | None = float(ratio[0]) if np.all(ratio == ratio[0]) else \
            [float(r) for r in ratio]
    else:
        decay_factor = None
    return SuvResult(
        suv_kind=options.kind, formula=formula, factors=np.asarray(factors, dtype=np.float64), rule=rule,
        units=units, decay_correction=dc, decay_factor=decay_factor,
        half_life_s=decay.half_life.seconds if decay else header.half_life_s,
        half_life_source=decay.half_life.source if decay else None,
        nuclide=decay.half_life.nuclide.key if decay and decay.half_life.nuclide else None,
        injected_dose_bq=decay.dose_bq if decay else None, injection_datetime=decay.injection if decay else None,
        reference_datetime=decay.reference if decay else None,
        reference_candidates=[c.as_dict() for c in decay.candidates] if decay else [],
        weight_kg=body.weight_kg, height_cm=body.height_cm, sex=body.sex,
        normaliser_value=reported.value if reported else None, normaliser_name=reported.name if reported else None,
        activity_scale=activity.scale, overrides=overrides, warnings=notes.warnings,
        uptake_time_s=decay.uptake_s if decay else None, checks=checks)


# ----------------------------------------------------------------------------------------------- entry point
def compute_suv(headers: Sequence[pydicom.Dataset], frames: Sequence[FrameInfo], options: SuvOptions | None = None,
                *, source: str) -> SuvResult:
    """One SUV factor per frame of a PET series.

    Parameters
    ----------
    headers : sequence of pydicom.Dataset
        The series' instance headers (pixels not needed), one per instance.
    frames : sequence of FrameInfo
        One record per 2D frame, in the decoder's volume order.
    options : SuvOptions, optional
        SUV kind and overrides; defaults to SUVbw from the headers alone.
    source : str
        Series folder or name, used in every message.

    Returns
    -------
    SuvResult
        ``factors[i]`` multiplies the rescaled value (stored * slope + intercept) of frame ``i``
        to give SUV (g/mL; cm²/mL for bsa).

    Raises
    ------
    PipelineError
        :class:`~pipeline.errors.MissingAttributeError`, :class:`~pipeline.errors.DicomError` or
        :class:`~pipeline.errors.InvalidInputError` with a one-line message naming the series,
        the attribute and the remedy, whenever the SUV cannot be computed reliably.
    """
    options = options or SuvOptions()
    options.validate()
    notes = Notes(source, options)
    header = read_series_header(headers, source)
    spect = _spect_guard(header, options, notes)
    result = _compute(header, frames, options, notes)
    if spect:
        return dataclasses.replace(result, modality="SPECT", rule=f"SPECT/{result.rule}")
    return result


def _spect_guard(header: SeriesHeader, options: SuvOptions, notes: Notes) -> bool:
    """Refuse a SPECT stored as PT unless the policy ``suv.spect_as_pt`` says warn; True when it is one."""
    chosen = get_nuclide(options.nuclide) if options.nuclide else None
    reasons = spect_evidence(header, chosen)
    if not reasons:
        return False
    text = f"a SPECT stored as PET (PT): {'; '.join(reasons)}"
    error = DicomError(f"{text}: its Bq/mL are not a PET SUV", source=header.source, attribute=label("Modality"),
                       remedy="use a PET series, or --allow-spect (policy suv.spect_as_pt: warn) to convert it "
                              "labelled as SPECT")
    options.policy.apply("suv.spect_as_pt", f"{text}: converted and labelled SPECT (policy suv.spect_as_pt: warn)",
                         error, notes.warnings)
    return True


def _compute(header: SeriesHeader, frames: Sequence[FrameInfo], options: SuvOptions, notes: Notes) -> SuvResult:
    """:func:`compute_suv` after the header is read and the modality checked."""
    source = header.source
    _check_frames(frames, notes, source)
    units = header.units
    if units is None:
        raise MissingAttributeError("missing: pixel units unknown (R37)", source=source, attribute=UNITS,
                                    remedy="restore Units from the original data (BQML, CNTS, GML...)")
    if units not in _ACTIVITY_UNITS + _SUV_UNITS:
        raise DicomError(f"{units} cannot be converted to SUV (R12)", source=source, attribute=UNITS,
                         remedy="export the series in BQML")
    dc = header.decay_correction
    if units in _SUV_UNITS:
        if dc is not None and dc not in ("START", "ADMIN", "NONE"):
            dc = None
        _check_corrections(header, dc)
        return _passthrough(header, units, options, notes, len(frames))
    if dc is None:
        raise MissingAttributeError("missing: the decay reference of the pixel values is unknown", source=source,
                                    attribute=DC, remedy="restore DecayCorrection (START, ADMIN or NONE)")
    if dc not in ("START", "ADMIN", "NONE"):
        raise DicomError(f"unknown value {dc!r}", source=source, attribute=DC, remedy="expected START, ADMIN or NONE")
    _check_corrections(header, dc)
    return _activity_path(header, frames, units, dc, options, notes)


def activity_balance(suv_times_volume_ml: float, normaliser_value: float) -> float:
    """Activity balance R = sum(A_c * V) / D_ref of a whole-body image (rule R39).

    Since SUV = A_c * N / D_ref, ``R = sum(SUV * V[mL]) / N`` for any SUV kind.

    Parameters
    ----------
    suv_times_volume_ml : float
        Sum over voxels of SUV times voxel volume (mL).
    normaliser_value : float
        :attr:`SuvResult.normaliser_value`: W (g) for SUVbw, LBM/IBW (g), BSA (cm²).

    Returns
    -------
    float
        Fraction of the decayed injected activity found in the image (typically 0.4-0.95
        for whole-body FDG; > 1.05 is implausible, see :func:`activity_balance_warning`).
    """
    if not normaliser_value > 0:
        raise ValueError(f"normaliser must be > 0, got {normaliser_value!r}")
    return float(suv_times_volume_ml) / float(normaliser_value)


def activity_balance_warning(ratio: float, limit: float = ACTIVITY_BALANCE_LIMIT,
                             minimum: float = ACTIVITY_BALANCE_MIN) -> str | None:
    """The R39 problem when ``ratio`` is outside [``minimum``, ``limit``] (or not finite), else None."""
    if minimum <= ratio <= limit:
        return None
    if ratio > limit:
        return (f"activity balance {ratio:.3f} > {limit:g}: more activity in the image than injected (dose in MBq, "
                f"counts read as BQML, wrong day or nuclide?) (R39)")
    return (f"activity balance {ratio:.3g} < {minimum:g}: (next to) none of the injected activity in the image "
            f"(RescaleSlope, Units, dose or BitsAllocated wrong?) (R39)")

