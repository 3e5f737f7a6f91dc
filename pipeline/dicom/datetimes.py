"""DICOM date and time values (DA, TM, DT) as Python datetimes.

DICOM DA/TM values carry no offset; TimezoneOffsetFromUTC (0008,0201) applies to
every date and time of the data set. A DT value may carry its own ``&ZZXX``
suffix, which wins. Every function here returns a timezone-aware datetime when
an offset is known and a naive one otherwise; callers must not mix the two
(:func:`combine_offset` makes them comparable by giving naive values the data
set's offset, or UTC+0 when there is none, and says so).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone

__all__ = ["parse_da", "parse_tm", "parse_dt", "has_time_of_day", "parse_offset", "combine", "to_aware", "isoformat",
           "format_duration"]

_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$")
_OFFSET = re.compile(r"^([+-])(\d{2})(\d{2})$")


def parse_offset(value: object) -> timezone | None:
    """Parse ``+HHMM``/``-HHMM`` (TimezoneOffsetFromUTC or a DT suffix); None if empty.

    Raises
    ------
    ValueError
        If the value is not of that form.
    """
    text = str(value or "").strip()
    if not text:
        return None
    m = _OFFSET.match(text)
    if not m:
        raise ValueError(f"not a UTC offset: {text!r}")
    minutes = int(m.group(2)) * 60 + int(m.group(3))
    return timezone(timedelta(minutes=minutes if m.group(1) == "+" else -minutes))


def parse_da(value: object) -> date | None:
    """Parse a DA value ``YYYYMMDD`` (also tolerates ``YYYY.MM.DD``); None if empty."""
    text = str(value or "").strip().replace(".", "").replace("-", "")
    if not text:
        return None
    if not re.fullmatch(r"\d{8}", text):
        raise ValueError(f"not a DICOM date: {value!r}")
    return date(int(text[:4]), int(text[4:6]), int(text[6:8]))


def parse_tm(value: object) -> time | None:
    """Parse a TM value ``HHMMSS.FFFFFF`` (partial and colon forms tolerated); None if empty."""
    text = str(value or "").strip()
    if not text:
        return None
    m = _TM.match(text)
    if not m:
        raise ValueError(f"not a DICOM time: {value!r}")
    hh, mm, ss, frac = m.groups()
    micro = int((frac or "0").ljust(6, "0")) if frac else 0
    return time(int(hh), int(mm or 0), int(ss or 0), micro)


def parse_dt(value: object, default_offset: timezone | None = None) -> datetime | None:
    """Parse a DT value ``YYYYMMDDHHMMSS.FFFFFF&ZZXX``; None if empty.

    Parameters
    ----------
    value : str
        The DT string (trailing spaces tolerated).
    default_offset : datetime.timezone, optional
        TimezoneOffsetFromUTC of the data set, used when the value has no suffix.

    Returns
    -------
    datetime or None
        Aware when an offset is known, naive otherwise.
    """
    text = str(value or "").strip()
    if not text:
        return None
    m = _DT.match(text)
    if not m:
        raise ValueError(f"not a DICOM datetime: {value!r}")
    year, month, day, hh, mm, ss, frac, suffix = m.groups()
    micro = int(frac.ljust(6, "0")) if frac else 0
    tz = parse_offset(suffix) if suffix else default_offset
    return datetime(int(year), int(month or 1), int(day or 1), int(hh or 0), int(mm or 0), int(ss or 0), micro,
                    tzinfo=tz)


def has_time_of_day(value: object) -> bool:
    """Whether a DT value gives at least hours and minutes (``YYYYMMDDHHMM``); a date alone does not."""
    m = _DT.match(str(value or "").strip())
    return bool(m and m.group(5) is not None)


def combine(da: object, tm: object, offset: timezone | None = None) -> datetime | None:
    """Combine a DA and a TM value into a datetime (aware when ``offset`` is given); None if either is empty."""
    d, t = parse_da(da), parse_tm(tm)
    if d is None or t is None:
        return None
    return datetime.combine(d, t, tzinfo=offset)


def to_aware(value: datetime, offset: timezone | None) -> datetime:
    """Return ``value`` aware: its own offset if it has one, else ``offset``, else UTC."""
    if value.tzinfo is not None:
        return value
    return value.replace(tzinfo=offset or UTC)


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 text of a datetime (None stays None)."""
    return None if value is None else value.isoformat()


def format_duration(seconds: float) -> str:
    """A signed duration for messages: ``+0.4 s``, ``-12.0 min``, ``+1.0 h``, ``+20.0 days``."""
    sign = "-" if seconds < 0 else "+"
    size = abs(seconds)
    if size < 60:
        return f"{sign}{size:.1f} s"
    if size < 3600:
        return f"{sign}{size / 60:.1f} min"
    if size < 2 * 86400:
        return f"{sign}{size / 3600:.2f} h"
    return f"{sign}{size / 86400:.1f} days"
