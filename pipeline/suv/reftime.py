"""Decay-correction reference time for DecayCorrection START (rules R14-R20, R35, R36).

Every candidate the headers offer is computed and reported; one is chosen in the QIBA
order, with a tolerance (R16):

1. SeriesDate/Time when it is not after the earliest acquisition start (R14).
2. Otherwise (series re-created or missing, R15): GE scan_datetime (0009,100D), then the
   standard Decay Correction DateTime (0018,9701), then the earliest AcquisitionDateTime —
   unless the per-frame back-computation from FrameReferenceTime is self-consistent and
   places the reference earlier (the first bed is not in the series, IBSI DRO_3_2).

Back-computation follows the vendor's FrameReferenceTime convention: ``t_acq + T_ave - FRT``
(Siemens, DICOM example), ``t_acq + T/2 - FRT`` (Philips) or ``t_acq - FRT`` (GE, FRT = 0 on
the first bed, R18).
It never overrides a vendor-consistent series time (R19, Philips FRT trap). Candidates that
disagree with the chosen one by more than the tolerance are listed in a warning. Siemens
(0071,1022) and DecayFactor (0054,1321) are confirmatory only (R20, R36).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, overload

from ..dicom.datetimes import format_duration, isoformat
from ..dicom.frames import FrameInfo
from ..errors import MissingAttributeError
from .decay import average_count_time, decay_constant, seconds_between
from .header import GE_SCAN_DATETIME, SIEMENS_DECAY_DATETIME, SeriesHeader, label
from .options import Notes

__all__ = ["Clock", "make_clock", "Candidate", "FrameTime", "frame_times", "frame_reference_convention",
           "reference_candidates", "select_reference", "warn_disagreements", "check_decay_factors",
           "CONVENTIONS"]

SERIES = f"{label('SeriesDate')}/{label('SeriesTime')}"


@dataclass(frozen=True)
class Clock:
    """Puts every datetime of one computation on the same footing.

    With a known offset (TimezoneOffsetFromUTC, a DT suffix or an aware override) naive
    values are read in that offset; without any, everything stays naive (local clock).
    """

    tz: tzinfo | None

    @overload
    def align(self, value: datetime) -> datetime: ...

    @overload
    def align(self, value: None) -> None: ...

    @overload
    def align(self, value: datetime | None) -> datetime | None: ...

    def align(self, value: datetime | None) -> datetime | None:
        """``value`` comparable with every other aligned datetime (None stays None)."""
        if value is None or self.tz is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=self.tz)


def make_clock(header: SeriesHeader, frames: Sequence[FrameInfo], others: Sequence[datetime | None],
               notes: Notes) -> Clock:
    """Choose the time base of a computation.

    Parameters
    ----------
    header : SeriesHeader
        Its TimezoneOffsetFromUTC wins.
    frames : sequence of FrameInfo
        Acquisition datetimes.
    others : sequence of datetime or None
        Override datetimes (injection, dosing table), possibly aware.
    notes : Notes
        Receives the warning when DICOM local times are read in an offset found elsewhere.
    """
    if header.tz is not None:
        return Clock(header.tz)
    dicom = [header.series_datetime, header.start_datetime, header.ge_scan_datetime, header.ge_admin_datetime,
             header.siemens_decay_datetime, header.decay_correction_datetime,
             *(f.acquisition_datetime for f in frames)]
    aware = [d for d in dicom if d is not None and d.tzinfo is not None]
    where = "a DICOM datetime suffix"
    if not aware:
        aware = [d for d in others if d is not None and d.tzinfo is not None]
        where = "the injection/dosing datetimes"
    if not aware:
        return Clock(None)
    tz = aware[0].tzinfo
    if any(d is not None and d.tzinfo is None for d in dicom):
        offset = aware[0].strftime("%z")
        notes.fallback(f"DICOM times carry no {label('TimezoneOffsetFromUTC')}: read as UTC{offset[:3]}:{offset[3:]} "
                       f"like {where}", attribute=label("TimezoneOffsetFromUTC"),
                       remedy=f"give {notes.name('injection_datetime')} as a local time without offset")
    return Clock(tz)


@dataclass(frozen=True)
class FrameTime:
    """Timing of one frame: index in the decoder's order, start (aligned), duration and FRT (s), DecayFactor."""

    index: int
    start: datetime | None
    duration_s: float | None
    frame_reference_s: float | None
    decay_factor: float | None


def frame_times(frames: Sequence[FrameInfo], clock: Clock) -> list[FrameTime]:
    """Per-frame timing in seconds with aligned datetimes."""
    return [FrameTime(i, clock.align(f.acquisition_datetime),
                      None if f.actual_frame_duration_ms is None else f.actual_frame_duration_ms / 1000.0,
                      None if f.frame_reference_time_ms is None else f.frame_reference_time_ms / 1000.0,
                      f.decay_factor) for i, f in enumerate(frames)]


#: FrameReferenceTime conventions: offset added to the frame start before subtracting FRT.
CONVENTIONS = {
    "t_ave": "t_acq + T_ave - FRT",  # DICOM example, Siemens (R17)
    "midpoint": "t_acq + T/2 - FRT",  # Philips (FRT = series offset + half the frame), IBSI DRO baseline
    "frame-start": "t_acq - FRT",  # GE: FRT = 0 on the first bed (R18)
}


def frame_reference_convention(manufacturer: str | None, times: Sequence[FrameTime]) -> str:
    """Which FrameReferenceTime convention the vendor uses: ``t_ave``, ``midpoint`` or ``frame-start``.

    GE and any series whose earliest frame has FRT = 0 with a nonzero duration: frame start (R18);
    Philips: frame midpoint (its FRT reproduces SeriesTime to the second with T/2, not T_ave);
    otherwise the DICOM example, T_ave (Siemens writes FRT = T_ave exactly, R17).
    """
    vendor = (manufacturer or "").strip().upper()
    if vendor.startswith("GE"):
        return "frame-start"
    timed = [t for t in times if t.start is not None and t.frame_reference_s is not None and t.duration_s]
    if timed and min(timed, key=lambda t: t.start).frame_reference_s == 0.0:  # type: ignore[arg-type,return-value]
        return "frame-start"
    return "midpoint" if vendor.startswith("PHILIPS") else "t_ave"


@dataclass
class Candidate:
    """One possible reference time.

    Attributes
    ----------
    name : str
        E.g. ``series``, ``back_computed_t_ave``.
    datetime : datetime or None
        None when the headers do not provide it.
    note : str
        Where it comes from and how it was judged.
    used : bool
        The chosen one.
    compared : bool
        Whether a disagreement with the chosen one is warned about.
    """

    name: str
    datetime: datetime | None
    note: str
    used: bool = False
    compared: bool = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict: name, datetime (ISO), used, note."""
        return {"name": self.name, "datetime": isoformat(self.datetime), "used": self.used, "note": self.note}


def _into_frame(convention: str, duration_s: float, half_life_s: float) -> float:
    """Seconds from the frame start to the time its pixel values refer to, per convention."""
    if convention == "t_ave":
        return average_count_time(duration_s, half_life_s)
    return duration_s / 2.0 if convention == "midpoint" else 0.0


def _back_computed(times: Sequence[FrameTime], half_life_s: float, convention: str
                   ) -> tuple[datetime | None, float, int]:
    """Back-computed reference of the earliest frame, spread (s) over frames, number of frames used."""
    values = []
    for t in times:
        if t.start is None or t.frame_reference_s is None or t.duration_s is None:
            continue
        offset = _into_frame(convention, t.duration_s, half_life_s) - t.frame_reference_s
        values.append((t.start, t.start + timedelta(seconds=offset)))
    if not values:
        return None, 0.0, 0
    refs = [v for _, v in values]
    spread = seconds_between(min(refs), max(refs))
    return min(values, key=lambda v: v[0])[1], spread, len(values)


def _implied_by_decay_factor(t: FrameTime, half_life_s: float, convention: str) -> datetime | None:
    """``t_acq + (T_ave | T/2 | 0) - ln(DecayFactor)/λ`` (R36, the FRT convention's offset into the frame).

    DecayFactor 1.0 is a placeholder (Philips, IBSI DROs) and gives None.
    """
    if t.start is None or t.duration_s is None or not t.decay_factor or t.decay_factor <= 0 or t.decay_factor == 1.0:
        return None
    offset = _into_frame(convention, t.duration_s, half_life_s) - math.log(t.decay_factor) / decay_constant(half_life_s)
    return t.start + timedelta(seconds=offset)


def reference_candidates(header: SeriesHeader, times: Sequence[FrameTime], clock: Clock, half_life_s: float,
                         tolerance_s: float) -> list[Candidate]:
    """Every reference-time candidate of a DecayCorrection START series (R14-R20, R36).

    Parameters
    ----------
    header : SeriesHeader
        Series attributes.
    times : sequence of FrameTime
        Per-frame timing.
    clock : Clock
        Time base.
    half_life_s : float
        Half-life (s) for T_ave.
    tolerance_s : float
        Frames whose back-computations spread more than this are not self-consistent.
    """
    convention = frame_reference_convention(header.manufacturer, times)
    starts = [t.start for t in times if t.start is not None]
    cands = [
        Candidate("series", clock.align(header.series_datetime), SERIES),
        Candidate("ge_scan_datetime", clock.align(header.ge_scan_datetime), GE_SCAN_DATETIME.label),
        Candidate("decay_correction_datetime", clock.align(header.decay_correction_datetime),
                  label("DecayCorrectionDateTime")),
        Candidate("siemens_decay_correction_datetime", clock.align(header.siemens_decay_datetime),
                  f"{SIEMENS_DECAY_DATETIME.label}; confirmatory only (R20)"),
        Candidate("earliest_acquisition", min(starts) if starts else None,
                  f"earliest {label('AcquisitionDateTime')} (or AcquisitionDate/Time) over {len(starts)} frames"),
    ]
    attributes = {"ge_scan_datetime": GE_SCAN_DATETIME.label,  # the DT candidates a date-only value can blank
                  "decay_correction_datetime": label("DecayCorrectionDateTime"),
                  "siemens_decay_correction_datetime": SIEMENS_DECAY_DATETIME.label}
    for cand in cands:
        written = header.date_only_value(attributes.get(cand.name, ""))
        if cand.datetime is None and written is not None:
            cand.note += f"; {written!r} has a date but no time of day: not used"
    for name, formula in CONVENTIONS.items():
        value, spread, n = _back_computed(times, half_life_s, name)
        applies = name == convention
        note = f"{formula} ({label('FrameReferenceTime')}, {label('ActualFrameDuration')}) of the earliest frame"
        if n:
            note += f"; {n} frames agree within {spread:.3f} s"
        if not applies:
            note += f"; not this vendor's FRT convention ({convention})"
        elif spread > tolerance_s:
            note += f"; frames disagree by {spread:.1f} s: not self-consistent"
        cands.append(Candidate(f"back_computed_{name.replace('-', '_')}", value, note,
                               compared=applies and spread <= tolerance_s))
    implied = [(t.start, v) for t in times if (v := _implied_by_decay_factor(t, half_life_s, convention)) is not None]
    cands.append(Candidate("decay_factor", min(implied)[1] if implied else None,
                           f"{CONVENTIONS[convention].replace('FRT', 'ln(DecayFactor)/lambda')} "
                           f"({label('DecayFactor')}) of the earliest frame; confirmatory only (R36)", compared=False))
    return cands


def select_reference(cands: list[Candidate], tolerance_s: float, notes: Notes, source: str) -> tuple[Candidate, str]:
    """Choose the reference time among ``cands`` (QIBA order with tolerance) and warn about disagreements.

    Returns
    -------
    (Candidate, str)
        The chosen candidate (marked ``used``) and the rule label, e.g. ``series-time``.

    Raises
    ------
    MissingAttributeError
        When neither series, private, acquisition nor back-computed times exist.
    """
    by = {c.name: c for c in cands}
    series, earliest = by["series"], by["earliest_acquisition"]
    tol = timedelta(seconds=tolerance_s)
    if series.datetime is not None and (earliest.datetime is None or series.datetime <= earliest.datetime + tol):
        chosen, rule = series, "series-time"
        if earliest.datetime is not None:  # later frames start later: consistent with START, not a disagreement
            earliest.compared = False
    else:
        back = next((c for c in cands if c.name.startswith("back_computed") and c.compared and c.datetime), None)
        if series.datetime is None:
            why = f"{SERIES} missing"
        else:
            late = seconds_between(earliest.datetime, series.datetime)  # type: ignore[arg-type]
            why = f"{SERIES} is {format_duration(late)[1:]} after the earliest acquisition start (series re-created?)"
        series.compared = False
        series.note += "; after the acquisition start: not the reference (R15)" if series.datetime else "; missing"
        if by["ge_scan_datetime"].datetime is not None:
            chosen, rule = by["ge_scan_datetime"], "GE-scan-datetime"
        elif by["decay_correction_datetime"].datetime is not None:
            chosen, rule = by["decay_correction_datetime"], "decay-correction-datetime"
        elif earliest.datetime is not None and not (
                back is not None and back.datetime is not None and back.datetime < earliest.datetime - tol):
            chosen, rule = earliest, "earliest-acquisition"
        elif back is not None:
            chosen, rule = back, "back-computed"
        else:
            raise MissingAttributeError(
                "no decay-correction reference time: series time missing and no acquisition or frame reference times",
                source=source, attribute=SERIES,
                remedy="restore SeriesDate/SeriesTime or the acquisition times from the original data")
        notes.warn(f"{why}: reference time {isoformat(chosen.datetime)} from {chosen.name} (R15)")
    voters = _voters(cands)
    majority = _majority(voters, chosen, tolerance_s)
    if majority is not None:
        agree = [c.name for c in voters if c is not chosen and _near(c, majority, tolerance_s)]
        gap = seconds_between(majority.datetime, chosen.datetime)  # type: ignore[arg-type]
        chosen.note += f"; a single outlier, {format_duration(gap)} from {len(agree)} agreeing candidates: not used"
        notes.warn(f"{chosen.name} {isoformat(chosen.datetime)} is {format_duration(gap)} from "
                   f"{len(agree)} candidates that agree with each other ({', '.join(agree)}): reference time "
                   f"{isoformat(majority.datetime)} from {majority.name} (majority of consistent candidates)")
        chosen, rule = majority, f"majority-{majority.name.replace('_', '-')}"
    chosen.used = True
    warn_disagreements(cands, chosen, tolerance_s, notes)
    return chosen, rule


#: Candidates that may be chosen by the majority rule, in QIBA order; the others only vote.
_ELECTABLE = ("series", "ge_scan_datetime", "decay_correction_datetime", "earliest_acquisition", "back_computed_t_ave",
              "back_computed_midpoint", "back_computed_frame_start")


def _voters(cands: Sequence[Candidate]) -> list[Candidate]:
    """Independent statements of the reference time: compared candidates, the earliest acquisition start
    and an informative DecayFactor; a back-computation from the frame start (GE) only repeats the earliest
    acquisition and does not vote."""
    out = []
    for c in cands:
        if c.datetime is None:
            continue
        if c.name == "back_computed_frame_start":
            continue
        if c.compared or c.name in ("earliest_acquisition", "decay_factor"):
            out.append(c)
    return out


def _near(a: Candidate, b: Candidate, tolerance_s: float) -> bool:
    assert a.datetime is not None and b.datetime is not None
    return abs(seconds_between(a.datetime, b.datetime)) <= tolerance_s


def _majority(voters: Sequence[Candidate], chosen: Candidate, tolerance_s: float) -> Candidate | None:
    """The candidate that replaces ``chosen`` when ``chosen`` stands alone against >= 2 that agree.

    ``chosen`` (the QIBA choice) is kept unless no other voter agrees with it within the tolerance
    while at least two others agree with each other; ties and split votes keep it. The replacement
    is the first electable member of the largest agreeing group, in QIBA order.
    """
    if chosen not in voters:
        return None
    others = [v for v in voters if v is not chosen]
    if any(_near(chosen, v, tolerance_s) for v in others):
        return None
    groups = [[w for w in others if _near(v, w, tolerance_s)] for v in others]
    best = max((len(g) for g in groups), default=0)
    largest = {tuple(c.name for c in g) for g in groups if len(g) == best}
    if best < 2 or len(largest) > 1:
        return None
    group = next(g for g in groups if len(g) == best)
    electable = sorted((c for c in group if c.name in _ELECTABLE), key=lambda c: _ELECTABLE.index(c.name))
    return electable[0] if electable else None


def warn_disagreements(cands: Sequence[Candidate], chosen: Candidate, tolerance_s: float, notes: Notes) -> None:
    """Warn about compared candidates farther than the tolerance from the chosen reference (R19)."""
    assert chosen.datetime is not None
    off = [(c, seconds_between(chosen.datetime, c.datetime)) for c in cands
           if c is not chosen and c.compared and c.datetime is not None]
    off = [(c, s) for c, s in off if abs(s) > tolerance_s]
    if off:
        listed = "; ".join(f"{c.name} {isoformat(c.datetime)} ({format_duration(s)})" for c, s in off)
        notes.warn(f"reference-time candidates disagree by more than {tolerance_s:g} s with the chosen "
                   f"{chosen.name} {isoformat(chosen.datetime)}: {listed} (R19)")


def check_decay_factors(times: Sequence[FrameTime], half_life_s: float, reference: datetime, convention: str,
                        notes: Notes, limit: float = 1e-3) -> None:
    """Warn when a DecayFactor (0054,1321) implies a decay > ``limit`` away from the chosen reference (R36)."""
    lam = decay_constant(half_life_s)
    worst: tuple[float, FrameTime, datetime] | None = None
    for t in times:
        implied = _implied_by_decay_factor(t, half_life_s, convention)
        if implied is None:
            continue
        rel = abs(math.expm1(lam * seconds_between(reference, implied)))
        if worst is None or rel > worst[0]:
            worst = (rel, t, implied)
    if worst is not None and worst[0] > limit:
        rel, t, implied = worst
        change = f"a {100 * rel:.2f} % different decay" if rel < 1.0 else "a decay differing by more than 100 %"
        notes.warn(f"{label('DecayFactor')} {t.decay_factor:g} of frame {t.index + 1} implies reference time "
                   f"{isoformat(implied)}, {format_duration(seconds_between(reference, implied))} from the chosen "
                   f"{isoformat(reference)}: {change} (R36; informational)")
