"""Cell values of the uptake tables the response stages compare: numbers, text, limits and changes."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["as_number", "as_text", "fmt", "meets", "changes"]


def as_number(value: Any) -> float:
    """A table cell as a float; NaN when it is empty or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def as_text(value: Any) -> str:
    """A table cell as stripped text; empty for None and NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def fmt(value: float) -> str:
    """A value for notes: four significant digits, ``NA`` when not finite."""
    return "NA" if not math.isfinite(value) else f"{value:.4g}"


def meets(value: float, limit: float, tol: float, *, below: bool) -> bool:
    """``value <= limit`` (below) or ``value >= limit``, within ``tol``; False when either is not finite."""
    if not (math.isfinite(value) and math.isfinite(limit)):
        return False
    return value <= limit + tol if below else value >= limit - tol


def changes(baseline: float, followup: float) -> tuple[float, float]:
    """Absolute change and % change from ``baseline`` (NaN % when the baseline is not positive)."""
    abs_change = followup - baseline
    pct = 100.0 * abs_change / baseline if math.isfinite(baseline) and baseline > 0 else math.nan
    return abs_change, pct
