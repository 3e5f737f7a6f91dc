"""PERCIST scan comparability: is the follow-up scan comparable to the baseline (liver reference, uptake time)?"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .options import PercistOptions
from .values import as_number, changes, fmt, meets

__all__ = ["Comparability", "comparability", "uptake_time_min"]


@dataclass(frozen=True)
class Comparability:
    """Scan comparability (PERCIST): liver reference and uptake time.

    Attributes
    ----------
    comparable : bool
        All checks made and passed.
    liver_baseline, liver_followup, liver_abs_change, liver_pct_change : float
        Liver mean (unit) and its change.
    uptake_baseline_min, uptake_followup_min, uptake_diff_min : float
        Uptake times (min) and follow-up minus baseline.
    notes : tuple of str
        One line per check, passed or failed.
    """

    comparable: bool
    liver_baseline: float
    liver_followup: float
    liver_abs_change: float
    liver_pct_change: float
    uptake_baseline_min: float
    uptake_followup_min: float
    uptake_diff_min: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def notes_text(self) -> str:
        """Notes joined with "; "."""
        return "; ".join(self.notes)


def uptake_time_min(sidecar: Mapping[str, Any] | None) -> tuple[float, str | None]:
    """Uptake time (min) from an ``suv.json`` sidecar.

    ``uptake_time_s`` / 60, else ``reference_datetime - injection_datetime``.

    Returns
    -------
    minutes : float
        NaN when neither is available.
    note : str or None
        Where it came from when not ``uptake_time_s``, or why it is missing.
    """
    if not sidecar:
        return math.nan, "no SUV sidecar"
    seconds = as_number(sidecar.get("uptake_time_s"))
    if math.isfinite(seconds):
        return seconds / 60.0, None
    injection, reference = sidecar.get("injection_datetime"), sidecar.get("reference_datetime")
    if injection and reference:
        try:
            delta = pd.Timestamp(reference) - pd.Timestamp(injection)
        except (TypeError, ValueError) as exc:
            return math.nan, f"uptake time unreadable ({exc})"
        return delta.total_seconds() / 60.0, "uptake time from reference_datetime - injection_datetime"
    return math.nan, "uptake time unknown (no uptake_time_s or injection/reference datetimes in suv.json)"


def comparability(liver_baseline: float, liver_followup: float, uptake_baseline_min: float,
                  uptake_followup_min: float, options: PercistOptions | None = None, *,
                  unit: str = "SUL") -> Comparability:
    """PERCIST scan comparability: liver reference mean and uptake time.

    Liver: ``|f - b| <= liver_pct_limit % of b`` and ``|f - b| <= liver_abs_limit`` units (both
    with ``liver_rule="both"``, at least one with "either"). Uptake time:
    ``|f - b| <= uptake_time_limit_min``. Limits are inclusive (within ``tolerance``). A missing
    value fails its check with the reason.

    Parameters
    ----------
    liver_baseline, liver_followup : float
        Liver mean (SUL, or SUV when SUL is unavailable).
    uptake_baseline_min, uptake_followup_min : float
        Uptake times (min).
    options : PercistOptions, optional
    unit : str
        Unit label for the notes.

    Returns
    -------
    Comparability
    """
    options = options or PercistOptions()
    tol = options.tolerance
    notes: list[str] = []
    ok = True
    liver_abs, liver_pct = changes(liver_baseline, liver_followup)
    if not (math.isfinite(liver_baseline) and math.isfinite(liver_followup)):
        ok = False
        notes.append("liver reference missing: liver stability cannot be checked")
    else:
        pct_ok = meets(abs(liver_pct), options.liver_pct_limit, tol, below=True)
        abs_ok = meets(abs(liver_abs), options.liver_abs_limit, tol, below=True)
        liver_ok = (pct_ok and abs_ok) if options.liver_rule == "both" else (pct_ok or abs_ok)
        ok &= liver_ok
        joiner = "and" if options.liver_rule == "both" else "or"
        notes.append(f"liver {unit}mean {fmt(liver_baseline)} -> {fmt(liver_followup)} ({liver_abs:+.3g} {unit}, "
                     f"{liver_pct:+.3g} %): {'passed' if liver_ok else 'FAILED'} (limit: change within "
                     f"{options.liver_pct_limit:g} % {joiner} within {options.liver_abs_limit:g} {unit})")
    diff = uptake_followup_min - uptake_baseline_min
    if not math.isfinite(diff):
        ok = False
        notes.append("uptake time unknown: uptake-time comparability cannot be checked")
    else:
        time_ok = meets(abs(diff), options.uptake_time_limit_min, tol, below=True)
        ok &= time_ok
        notes.append(f"uptake time {uptake_baseline_min:.4g} -> {uptake_followup_min:.4g} min ({diff:+.3g} min): "
                     f"{'passed' if time_ok else 'FAILED'} (limit: within {options.uptake_time_limit_min:g} min)")
    return Comparability(bool(ok), liver_baseline, liver_followup, liver_abs, liver_pct, uptake_baseline_min,
                         uptake_followup_min, diff, tuple(notes))
