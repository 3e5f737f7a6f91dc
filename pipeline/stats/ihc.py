"""IHC as trials report it: the IHC table checked, and the scores derived from its raw columns.

Columns of ``ihc.csv`` (one row per biopsied lesion and marker): ``subject_id``, ``timepoint``,
``lesion_id``, ``marker``, and any of

=====================  =================  ====================================================================
column                 range              meaning
=====================  =================  ====================================================================
``percent_positive``   0-100              % positive tumour cells (CD8, IL-2R, Ki-67...)
``intensity``          0, 1+, 2+, 3+      dominant staining intensity
``pattern``            text               staining pattern (membranous, cytoplasmic, mixed...)
``pct_weak``,          0-100 each,        % of tumour cells stained weakly / moderately / strongly; their sum
``pct_moderate``,      sum <= 100         gives the H-score
``pct_strong``
``h_score``            0-300              given directly (else derived)
``her2_ihc``           0, 1+, 2+, 3+      HER2 IHC score (ASCO/CAP)
``ish_ratio``          >= 0               HER2/CEP17 ratio of dual-probe ISH
``ish_copies``         >= 0               mean HER2 signals per cell
``tps``                0-100              PD-L1 tumour proportion score (%)
``cps``                >= 0               PD-L1 combined positive score (reported capped at 100)
=====================  =================  ====================================================================

Derived (:func:`score_ihc`): ``h_score`` = 1 weak + 2 moderate + 3 strong; ``her2_ish_group`` (1-5) and
``her2_status`` (positive / negative / equivocal) by the ASCO/CAP 2018 algorithm (Wolff et al. 2018,
retained in 2023), ``her2_low`` (IHC 1+, or 2+ with negative ISH: the 2023 clinical-trial category) and
``her2_category`` (``HER2-0``, ``HER2-low``, ``HER2-positive``, ``equivocal``). A value out of range is
refused naming the file, the row and the column.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..errors import InvalidInputError

__all__ = ["IHC_SCORES", "h_score", "her2_ish_group", "her2_status", "validate_ihc", "score_ihc"]

#: The ordinal IHC scores, in order.
IHC_SCORES = ("0", "1+", "2+", "3+")

_PERCENT = ("percent_positive", "pct_weak", "pct_moderate", "pct_strong", "tps")
_NONNEGATIVE = ("ish_ratio", "ish_copies", "cps")


def h_score(weak_pct: float, moderate_pct: float, strong_pct: float) -> float:
    """H-score 0-300 = 1 x % weak + 2 x % moderate + 3 x % strong (percentages of all tumour cells)."""
    return 1.0 * weak_pct + 2.0 * moderate_pct + 3.0 * strong_pct


def her2_ish_group(ratio: float, copies: float) -> int:
    """ASCO/CAP 2018 dual-probe ISH group (1-5); exactly 2.0, 4.0 and 6.0 fall on the ">=" side."""
    if ratio >= 2.0:
        return 1 if copies >= 4.0 else 2
    if copies >= 6.0:
        return 3
    return 4 if copies >= 4.0 else 5


def her2_status(ihc: str | None, ratio: float | None = None, copies: float | None = None) -> tuple[str, int | None]:
    """HER2 status from IHC and, when given, ISH (ASCO/CAP 2018 with the concomitant IHC review).

    Returns
    -------
    (str, int or None)
        ``positive``, ``negative`` or ``equivocal`` (IHC 2+ without ISH), and the ISH group.
    """
    group = her2_ish_group(ratio, copies) if ratio is not None and copies is not None else None
    if group is None:
        if ihc == "3+":
            return "positive", None
        if ihc in ("0", "1+"):
            return "negative", None
        return ("equivocal" if ihc == "2+" else "unknown"), None
    if group == 1:
        return "positive", group
    if group == 5:
        return ("positive" if ihc == "3+" else "negative"), group
    if group == 3:
        return ("positive" if ihc in ("2+", "3+") else "negative"), group
    return ("positive" if ihc == "3+" else "negative"), group  # groups 2 and 4: negative unless IHC 3+


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return math.nan
    return None if math.isnan(x) else x


def validate_ihc(table: pd.DataFrame, *, source: str = "ihc table") -> pd.DataFrame:
    """Check the ranges of the IHC table; return it with the scores as text ("0", "1+", ...).

    Raises
    ------
    InvalidInputError
        A value out of range or not a number, naming the file, the row (1-based, after the header) and the
        column, or a required column missing.
    """
    missing = [c for c in ("subject_id", "lesion_id") if c not in table.columns]
    if missing:
        raise InvalidInputError(f"column {missing[0]} missing", source=source, attribute=missing[0],
                                remedy="the IHC table needs subject_id, timepoint, lesion_id, marker and its scores")
    out = table.copy()

    def refuse(i: int, column: str, value: Any, allowed: str) -> InvalidInputError:
        return InvalidInputError(f"{value!r} is out of range ({allowed})", source=source,
                                 attribute=f"row {i + 1}, column {column}", remedy="correct the IHC table")

    for column in ("intensity", "her2_ihc"):
        if column in out.columns:
            text = out[column].map(lambda v: "" if pd.isna(v) else str(v).strip().replace(".0", ""))
            for i, value in enumerate(text):
                if value and value not in IHC_SCORES:
                    raise refuse(i, column, out[column].iloc[i], "0, 1+, 2+ or 3+")
            out[column] = text
    for column in (*_PERCENT, "h_score", *_NONNEGATIVE):
        if column not in out.columns:
            continue
        high = 100.0 if column in _PERCENT else 300.0 if column == "h_score" else math.inf
        for i, value in enumerate(out[column]):
            x = _number(value)
            if x is not None and not (0.0 <= x <= high):
                raise refuse(i, column, value, f"0 to {high:g}" if math.isfinite(high) else ">= 0")
    parts = [c for c in ("pct_weak", "pct_moderate", "pct_strong") if c in out.columns]
    if parts:
        total = out[parts].apply(pd.to_numeric, errors="coerce").fillna(0.0).sum(axis=1)
        for i, value in enumerate(total):
            if value > 100.0 + 1e-9:
                raise refuse(i, "+".join(parts), round(float(value), 3), "sum of the stained fractions <= 100")
    return out


def score_ihc(table: pd.DataFrame) -> pd.DataFrame:
    """Add the derived scores (H-score, HER2 ISH group, status, HER2-low and category) to a validated table."""
    out = table.copy()
    parts = ("pct_weak", "pct_moderate", "pct_strong")
    if all(c in out.columns for c in parts) and "h_score" not in out.columns:
        values = out[list(parts)].apply(pd.to_numeric, errors="coerce")
        out["h_score"] = [h_score(*row) if row.notna().all() else math.nan for _, row in values.iterrows()]
    if "her2_ihc" in out.columns:
        statuses, groups, low, category = [], [], [], []
        for _, row in out.iterrows():
            ihc = row["her2_ihc"] or None
            ratio, copies = _number(row.get("ish_ratio")), _number(row.get("ish_copies"))
            status, group = her2_status(ihc, ratio, copies)
            statuses.append(status)
            groups.append(group)
            is_low = ihc == "1+" or (ihc == "2+" and status == "negative")
            low.append(is_low)
            category.append("HER2-positive" if status == "positive" else "HER2-low" if is_low
                            else "HER2-0" if ihc == "0" else status)
        out["her2_status"], out["her2_ish_group"], out["her2_low"], out["her2_category"] = (
            statuses, groups, low, category)
    return out
