"""Injected dose and injection time: header heuristics, dosing tables, net dose (rules R22-R27).

Activities in Bq (the dosing table is in MBq), datetimes aligned by a :class:`~.reftime.Clock`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from ..dicom.datetimes import isoformat, parse_da, parse_dt
from ..errors import DicomError, InvalidInputError, MissingAttributeError
from .decay import activity_at, seconds_between
from .dosing import DosingRecord
from .header import GE_ADMIN_DATETIME, SeriesHeader, label, warn_positional
from .options import Notes, SuvOptions
from .reftime import Clock

__all__ = [
    "net_dose_bq",
    "header_dose_bq",
    "Injection",
    "resolve_injection",
    "resolve_dose",
    "LONG_HALF_LIFE_S",
    "PLAUSIBLE_DOSE_BQ",
]

DOSE = label("RadionuclideTotalDose")
START_DT = label("RadiopharmaceuticalStartDateTime")
START_TM = label("RadiopharmaceuticalStartTime")
#: TM-only injection times are refused from this half-life on: the date cannot be inferred (R24).
LONG_HALF_LIFE_S = 41400.0
#: Plausible injected activity of a PET scan (Bq), rule R26.
PLAUSIBLE_DOSE_BQ = (1e6, 5e9)
#: Above this injected activity (Bq) a header dose is refused (policy header.implausible_value): no PET tracer
#: is given at 50 GBq; between PLAUSIBLE_DOSE_BQ[1] and this it is used with a warning.
MAX_DOSE_BQ = 5e10


def net_dose_bq(record: DosingRecord, injection: datetime, half_life_s: float, clock: Clock | None = None) -> float:
    """Net injected activity (Bq) at ``injection``: syringe before minus residual after, both decayed to it.

    ``net = pre * 2^(-(t_inj - t_pre)/T½) - post * 2^(+(t_post - t_inj)/T½)`` (rule R27).

    Parameters
    ----------
    record : DosingRecord
        Needs ``injected_activity_bq`` and its datetime; the residual is optional.
    injection : datetime
        Injection time.
    half_life_s : float
        Half-life (s).
    clock : Clock, optional
        Aligns naive record datetimes with ``injection``.
    """
    align = clock.align if clock is not None else (lambda d: d)
    if record.injected_activity_bq is None or record.injected_activity_datetime is None:
        raise InvalidInputError("no injected activity", source=record.source, attribute="injected_activity_mbq",
                                remedy="fill injected_activity_mbq and injected_activity_datetime")
    net = activity_at(record.injected_activity_bq, align(record.injected_activity_datetime), injection, half_life_s)
    if record.residual_activity_bq is not None and record.residual_activity_datetime is not None:
        net -= activity_at(record.residual_activity_bq, align(record.residual_activity_datetime), injection,
                           half_life_s)
    if not net > 0:
        raise InvalidInputError(f"net injected activity {net / 1e6:.3f} MBq is not positive", source=record.source,
                                attribute="injected_activity_mbq/residual_activity_mbq",
                                remedy="check the activities and their datetimes")
    return net


def header_dose_bq(header: SeriesHeader, notes: Notes) -> float:
    """RadionuclideTotalDose (Bq) with the MBq heuristic of rule R26.

    < 1e5 is read as MBq (fallback, warning); 1e5..1e6 is refused as ambiguous; above 5e9 warns.

    Raises
    ------
    MissingAttributeError
        Missing or not positive.
    DicomError
        Ambiguous magnitude.
    """
    dose = header.dose_bq
    remedy = f"give {notes.name('dose_bq')} (MBq) or a dosing table"
    if dose is not None and not math.isfinite(dose):
        raise DicomError(f"value {dose} is not a finite number (R26)", source=header.source, attribute=DOSE,
                         remedy=remedy)
    if dose is None or not dose > 0:
        raise MissingAttributeError("missing or zero", source=header.source, attribute=DOSE, remedy=remedy)
    if dose < 1e5:
        notes.fallback(f"{DOSE} {dose:g} looks like MBq: read as {dose * 1e6:g} Bq (R26)", attribute=DOSE,
                       remedy=remedy)
        dose *= 1e6
    elif dose < PLAUSIBLE_DOSE_BQ[0]:
        raise DicomError(f"{dose:g} Bq is implausible for PET and ambiguous (kBq? MBq?) (R26)", source=header.source,
                         attribute=DOSE, remedy=remedy)
    if dose > MAX_DOSE_BQ:
        notes.fallback(f"{DOSE} {dose:g} Bq is above {MAX_DOSE_BQ:g} Bq, no PET injection (R26)", attribute=DOSE,
                       remedy=remedy, check="header.implausible_value")
    elif dose > PLAUSIBLE_DOSE_BQ[1]:
        notes.warn(f"{DOSE} {dose:g} Bq is above the plausible PET range (R26)")
    return dose


@dataclass(frozen=True)
class Injection:
    """Injection datetime, where it came from, and whether its date was inferred from the scan."""

    datetime: datetime
    source: str
    date_inferred: bool = False


def _same_time_of_day(a: time, b: time, tolerance_s: float) -> bool:
    d = abs(seconds_between(datetime.combine(date.min, a), datetime.combine(date.min, b)))
    return d <= tolerance_s or abs(d - 86400.0) <= tolerance_s


def _offset_of(dt_text: str) -> Any:
    """The offset suffix of a DT value (``20240101+0100``), or None."""
    parsed = parse_dt(dt_text)
    return None if parsed is None else parsed.tzinfo


def resolve_injection(header: SeriesHeader, options: SuvOptions, clock: Clock, anchor: datetime | None,
                      half_life_s: float, need_date: bool, notes: Notes, overrides: dict[str, dict[str, Any]]
                      ) -> Injection | None:
    """Administration datetime (rules R22-R24).

    Order: ``--injection``, the dosing table, RadiopharmaceuticalStartDateTime (0018,1078),
    GE admin_datetime (0009,103B), RadiopharmaceuticalStartTime (0018,1072) on the date of
    ``anchor`` (the day before when that would be after the scan: midnight rule).

    Parameters
    ----------
    header : SeriesHeader
        Series attributes.
    options : SuvOptions
        Overrides.
    clock : Clock
        Time base.
    anchor : datetime or None
        Scan time the TM-only injection is dated by (reference or first frame).
    half_life_s : float
        Half-life (s): with >= 41400 s a TM-only time is refused when ``need_date``.
    need_date : bool
        Whether the decay depends on the injection time (False for DecayCorrection ADMIN).
    notes : Notes
        Warnings.
    overrides : dict
        Receives ``injection_datetime`` when an override is used.

    Returns
    -------
    Injection or None
        None only when nothing is known and ``need_date`` is False.
    """
    tol = options.reference_tolerance_s
    dicom = header.start_datetime or header.start_time
    dicom_text = isoformat(dicom) if isinstance(dicom, datetime) else (dicom.isoformat() if dicom else None)
    inj = options.name("injection_datetime")
    for value, where in ((options.injection_datetime, inj),
                         (options.dosing.injection_datetime if options.dosing else None,
                          options.dosing.source if options.dosing else "")):
        if value is not None:
            aligned = clock.align(value)
            assert aligned is not None
            overrides["injection_datetime"] = {"value": aligned, "source": where, "dicom": dicom_text}
            return Injection(aligned, where)
    if header.start_datetime is not None:
        if header.start_time is not None and not _same_time_of_day(header.start_datetime.time(), header.start_time,
                                                                   tol):
            notes.warn(f"{START_DT} {header.start_datetime.time()} and {START_TM} {header.start_time} disagree; "
                       f"the datetime is used (R22)")
        aligned = clock.align(header.start_datetime)
        assert aligned is not None
        return Injection(aligned, START_DT)
    day_only = header.date_only_value(START_DT)
    if day_only is not None:
        if header.start_time is None:
            raise MissingAttributeError(
                f"has a date but no time of day ({day_only!r}) and {START_TM} is missing", source=header.source,
                attribute=START_DT, remedy=f"give {inj} or an injection_datetime in the dosing table")
        dated = parse_da(day_only[:8])
        assert dated is not None
        injected = clock.align(datetime.combine(dated, header.start_time, tzinfo=_offset_of(day_only)))
        assert injected is not None
        notes.warn(f"{START_DT} {day_only!r} has a date but no time of day: the injection is {START_TM} "
                   f"{header.start_time} on that date, {isoformat(injected)} (not midnight)")
        return Injection(injected, f"{START_TM} dated by {START_DT}")
    ge = clock.align(header.ge_admin_datetime)
    if ge is not None:
        warn_positional(header, GE_ADMIN_DATETIME, notes)
        if header.start_time is None:
            notes.fallback(f"{START_DT} and {START_TM} missing: injection time from {GE_ADMIN_DATETIME.label}",
                           attribute=START_DT, remedy=f"give {inj}")
            return Injection(ge, GE_ADMIN_DATETIME.label)
        if _same_time_of_day(ge.time(), header.start_time, tol):
            return Injection(ge, f"{START_TM} dated by {GE_ADMIN_DATETIME.label}")
        notes.warn(f"{GE_ADMIN_DATETIME.label} {ge.time()} disagrees with {START_TM} {header.start_time}: not used")
    if header.start_time is not None:
        if need_date and half_life_s >= LONG_HALF_LIFE_S:
            raise MissingAttributeError(
                f"missing: with only {START_TM} the injection date cannot be inferred for a half-life of "
                f"{half_life_s / 3600:.1f} h (R24)", source=header.source, attribute=START_DT,
                remedy=f"give {inj} with the full date, or an injection_datetime in the dosing table")
        if anchor is None:
            raise MissingAttributeError(f"missing, and no scan date to date {START_TM} by", source=header.source,
                                        attribute=START_DT, remedy=f"give {inj} with the full date")
        injected = datetime.combine(anchor.date(), header.start_time, tzinfo=anchor.tzinfo)
        if injected > anchor + timedelta(seconds=tol):
            injected -= timedelta(days=1)
            notes.warn(f"{START_TM} {header.start_time} is after the scan time {anchor.time()}: injection taken on "
                       f"the day before, {isoformat(injected)} (midnight rule, R23)")
        else:
            notes.warn(f"only {START_TM} given: injection date taken from the scan, {isoformat(injected)} (R22)")
        return Injection(injected, START_TM, date_inferred=True)
    if not need_date:
        notes.warn(f"{START_DT} and {START_TM} missing: uptake time unknown")
        return None
    raise MissingAttributeError("missing", source=header.source, attribute=f"{START_DT} / {START_TM}",
                                remedy=f"give {inj} or an injection_datetime in the dosing table")


def resolve_dose(header: SeriesHeader, options: SuvOptions, injection: datetime | None, half_life_s: float,
                 clock: Clock, notes: Notes, overrides: dict[str, dict[str, Any]]) -> tuple[float, str]:
    """Injected activity (Bq) at the injection time, and where it came from.

    Order: ``--dose``, the dosing table's net dose (decayed to ``injection``), RadionuclideTotalDose
    with the R26 heuristic. The header dose is gross (not corrected for the syringe residual, R27).

    Returns
    -------
    (float, str)
    """
    if options.dose_bq is not None:
        dose = float(options.dose_bq)
        where = options.name("dose_bq")
        overrides["injected_dose_bq"] = {"value": dose, "source": where, "dicom": header.dose_bq}
        if not PLAUSIBLE_DOSE_BQ[0] <= dose <= PLAUSIBLE_DOSE_BQ[1]:
            notes.warn(f"{where} {dose / 1e6:g} MBq is outside the plausible PET range (R26)")
        return dose, where
    record = options.dosing
    if record is not None and record.injected_activity_bq is not None:
        if injection is None:
            raise InvalidInputError("the net dose needs the injection time", source=record.source,
                                    attribute="injection_datetime",
                                    remedy=f"fill injection_datetime or give {options.name('injection_datetime')}")
        for moment, column, after in ((record.injected_activity_datetime, "injected activity", False),
                                      (record.residual_activity_datetime, "residual activity", True)):
            aligned = clock.align(moment)
            if aligned is not None and (aligned < injection) == after and aligned != injection:
                notes.warn(f"{record.source}: {column} measured {'before' if after else 'after'} the injection")
        dose = net_dose_bq(record, injection, half_life_s, clock)
        overrides["injected_dose_bq"] = {
            "value": dose, "source": record.source, "dicom": header.dose_bq,
            "injected_activity_bq": record.injected_activity_bq, "residual_activity_bq": record.residual_activity_bq}
        if record.residual_activity_bq is None:
            notes.warn(f"{record.source}: no residual activity; the gross syringe activity is used")
        return dose, f"net dose from {record.source}"
    return header_dose_bq(header, notes), DOSE
