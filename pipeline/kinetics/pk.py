"""Multi-day pharmacokinetics from static scans (89Zr immuno-PET).

Per subject and VOI (organ or tumour), the mean activity concentration over
several scans days apart forms a TAC in days. From it:

* **Effective half-life** ``T_eff``: log-linear least-squares fit of the last
  ``n_terminal`` (>= 2) points of the *physically decaying* activity
  (``ln A = ln A0 - lambda_eff t``, ``T_eff = ln 2 / lambda_eff``). Inputs
  decay-corrected to injection are first un-corrected:
  ``A = A_corr exp(-lambda_phys t)``.
* **Biological half-life**: ``1/T_bio = 1/T_eff - 1/T_phys`` (infinite when
  ``T_eff >= T_phys``: no biological clearance seen).
* **Area under the curve** of the physically decaying activity (kBq·day/mL),
  from the first scan to infinity: between scans by the linear-up/log-down
  trapezoid (``method="log"``, the default: the log-trapezoid
  ``dt (A0 - A1) / ln(A0 / A1)`` where the curve falls, which is exact for an
  exponential, and the linear trapezoid where it rises or is flat) or by the
  linear trapezoid everywhere (``method="linear"``, which overestimates a
  falling exponential: by ``x coth(x) - 1`` per segment, ``x = lambda dt / 2``,
  e.g. +3.9 % between scans at days 2, 4 and 7 with ``T_eff`` = 2.5 d), plus
  the tail ``A_last / lambda_eff`` extrapolated with the terminal effective
  half-life. The method is recorded with the result (``auc_method``). The
  segment from injection to the first scan is reported separately
  (``auc_0_first``: triangle from 0 at injection, an assumption suited to
  tissues; for blood use a back-extrapolation instead) and not included in
  ``auc_first_inf``. The same is done for SUV (SUV·day) when given.

Units: time in days from injection, activity in kBq/mL, half-lives in days
(``*_days``) with the physical half-life given in seconds (``half_life_s``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..errors import InvalidInputError

__all__ = ["SECONDS_PER_DAY", "AUC_METHODS", "DEFAULT_AUC_METHOD", "PkResult", "effective_half_life",
           "biological_half_life", "auc_with_tail", "pk_curve", "pk_table"]

SECONDS_PER_DAY = 86400.0
#: AUC rules between scans: linear-up/log-down, or the linear trapezoid everywhere.
AUC_METHODS = ("log", "linear")
#: The default AUC rule (exact for an exponential decline).
DEFAULT_AUC_METHOD = "log"


@dataclass(frozen=True)
class PkResult:
    """PK of one TAC (times in days, activity kBq/mL)."""

    n_scans: int
    n_terminal: int
    t_eff_days: float
    t_bio_days: float
    t_phys_days: float
    terminal_r2: float
    auc_first_last: float
    auc_tail: float
    auc_first_inf: float
    auc_0_first: float
    tail_fraction: float
    auc_method: str = DEFAULT_AUC_METHOD


def _check_times(times_days: np.ndarray, values: np.ndarray, what: str) -> None:
    if times_days.ndim != 1 or times_days.shape != values.shape:
        raise InvalidInputError(f"{what}: times and values differ in length", attribute="time_days")
    if times_days.size < 2:
        raise InvalidInputError(f"{what}: {times_days.size} scan(s), at least 2 needed", attribute="time_days")
    if not np.all(np.isfinite(times_days)) or np.any(times_days < 0) or np.any(np.diff(times_days) <= 0):
        raise InvalidInputError(f"{what}: scan times must be >= 0 and strictly increasing", attribute="time_days")
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise InvalidInputError(f"{what}: concentrations must be finite and > 0", attribute="activity_kbq_ml")


def effective_half_life(times_days: ArrayLike, activity: ArrayLike, *, n_terminal: int = 2) -> tuple[float, float]:
    """Effective half-life (days) from a log-linear fit of the last ``n_terminal`` points.

    Parameters
    ----------
    times_days : array_like
        Scan times (days from injection), increasing.
    activity : array_like
        Activity concentration (not decay-corrected), > 0.
    n_terminal : int
        Points fitted (>= 2, at most the number of scans).

    Returns
    -------
    (float, float)
        ``T_eff`` (days; ``inf`` when the terminal slope is >= 0) and the fit's R² (1 for 2 points).
    """
    t = np.asarray(times_days, dtype=np.float64)
    a = np.asarray(activity, dtype=np.float64)
    _check_times(t, a, "effective half-life")
    if not 2 <= n_terminal <= t.size:
        raise InvalidInputError(f"n_terminal={n_terminal} must be between 2 and the number of scans ({t.size})",
                                attribute="n_terminal")
    tt, y = t[-n_terminal:], np.log(a[-n_terminal:])
    slope, intercept = np.polyfit(tt, y, 1)
    resid = y - (intercept + slope * tt)
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(resid ** 2)) / ss_tot if ss_tot > 0 else 1.0
    t_eff = math.log(2.0) / -slope if slope < 0 else math.inf
    return float(t_eff), r2


def biological_half_life(t_eff: float, t_phys: float) -> float:
    """Biological half-life from ``1/T_bio = 1/T_eff - 1/T_phys`` (same units); ``inf`` if ``T_eff >= T_phys``."""
    if not t_eff > 0 or not t_phys > 0:
        raise InvalidInputError(f"half-lives must be > 0 (T_eff={t_eff}, T_phys={t_phys})", attribute="half_life")
    rate = 1.0 / t_eff - 1.0 / t_phys
    return 1.0 / rate if rate > 0 else math.inf


def auc_with_tail(times_days: ArrayLike, activity: ArrayLike, t_eff_days: float, *,
                  method: str = DEFAULT_AUC_METHOD) -> tuple[float, float]:
    """AUC from the first to the last scan and the tail to infinity (activity x days).

    Parameters
    ----------
    times_days, activity : array_like
        TAC of the physically decaying activity.
    t_eff_days : float
        Terminal effective half-life (days); ``inf`` gives an infinite tail.
    method : {"log", "linear"}
        ``log`` (default): log-trapezoid on falling segments, linear on rising or flat ones
        (linear-up/log-down); ``linear``: the trapezoid on every segment.

    Returns
    -------
    (float, float)
        ``auc_first_last`` and ``auc_tail = A_last T_eff / ln 2``.

    Raises
    ------
    InvalidInputError
        For an unknown ``method``, or scan times or activities that cannot form a curve.
    """
    t = np.asarray(times_days, dtype=np.float64)
    a = np.asarray(activity, dtype=np.float64)
    _check_times(t, a, "AUC")
    dt = np.diff(t)
    lin = dt * (a[1:] + a[:-1]) / 2.0
    if method == "linear":
        seg = lin
    elif method == "log":
        falling = a[1:] < a[:-1]
        # dt (A0 - A1) / ln(A0 / A1) written with d = A0/A1 - 1 so that a nearly flat segment keeps its digits
        d = (a[:-1] - a[1:]) / a[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            logseg = dt * a[1:] * d / np.log1p(d)
        seg = np.where(falling, logseg, lin)
    else:
        raise InvalidInputError(f"unknown AUC method {method!r}", attribute="auc_method",
                                remedy=f"use one of {', '.join(AUC_METHODS)}")
    tail = float(a[-1] * t_eff_days / math.log(2.0)) if math.isfinite(t_eff_days) else math.inf
    return float(seg.sum()), tail


def pk_curve(times_days: ArrayLike, activity_kbq_ml: ArrayLike, *, decay_corrected: bool, half_life_s: float,
             n_terminal: int | None = None, method: str = DEFAULT_AUC_METHOD) -> PkResult:
    """PK of one VOI over several static scans.

    Parameters
    ----------
    times_days : array_like
        Scan times (days from injection).
    activity_kbq_ml : array_like
        Mean activity concentration (kBq/mL) per scan.
    decay_corrected : bool
        True if ``activity_kbq_ml`` is decay-corrected to injection (it is then multiplied by
        ``exp(-lambda_phys t)`` first); False if it is the activity present at scan time.
    half_life_s : float
        Physical half-life (s) (89Zr: 282276 s).
    n_terminal : int, optional
        Terminal points fitted; default ``min(3, n_scans)``.
    method : {"log", "linear"}
        AUC rule between scans (see :func:`auc_with_tail`); recorded as ``auc_method``.

    Returns
    -------
    PkResult
    """
    t = np.asarray(times_days, dtype=np.float64)
    a = np.asarray(activity_kbq_ml, dtype=np.float64)
    _check_times(t, a, "PK")
    if not half_life_s > 0:
        raise InvalidInputError(f"half_life_s must be > 0, got {half_life_s}", attribute="half_life_s")
    t_phys = half_life_s / SECONDS_PER_DAY
    if decay_corrected:
        a = a * np.exp(-math.log(2.0) / t_phys * t)
    n = min(3, t.size) if n_terminal is None else int(n_terminal)
    t_eff, r2 = effective_half_life(t, a, n_terminal=n)
    t_bio = biological_half_life(t_eff, t_phys) if math.isfinite(t_eff) else math.inf
    auc_fl, tail = auc_with_tail(t, a, t_eff, method=method)
    total = auc_fl + tail
    return PkResult(int(t.size), n, t_eff, t_bio, t_phys, r2, auc_fl, tail, total, float(a[0] * t[0] / 2.0),
                    tail / total if math.isfinite(total) and total > 0 else math.nan, method)


def pk_table(table: pd.DataFrame, *, decay_corrected: bool, half_life_s: float, n_terminal: int | None = None,
             method: str = DEFAULT_AUC_METHOD, notes: bool = False) -> pd.DataFrame:
    """PK per subject and VOI from a long table of static-scan VOI means.

    Parameters
    ----------
    table : DataFrame
        Columns subject_id, voi (name), time_days (from injection), activity_kbq_ml; optional kind
        (tumour | organ | ...) and suv_mean. One row per scan.
    decay_corrected, half_life_s, n_terminal, method
        As :func:`pk_curve` (applied to SUV too: SUV AUC in SUV·day, decay handled the same way).
    notes : bool
        False (default): a VOI whose values cannot form a curve (in one scan only, a value <= 0 or
        missing) is an error; True: its row carries the reason in ``note`` instead of the results.

    Returns
    -------
    DataFrame
        One row per (subject_id, voi): kind, the :class:`PkResult` fields (AUC in kBq·day/mL, the rule
        in ``auc_method``), and ``suv_auc_first_inf`` (SUV·day) when ``suv_mean`` is present; sorted by
        subject and VOI.

    Raises
    ------
    InvalidInputError
        For missing columns, and (without ``notes``) a VOI that cannot form a curve.
    """
    need = {"subject_id", "voi", "time_days", "activity_kbq_ml"}
    missing = need - set(table.columns)
    if missing:
        raise InvalidInputError(f"PK table lacks columns {sorted(missing)}", attribute="columns")
    rows = []
    for (subject, voi), g in table.sort_values("time_days").groupby(["subject_id", "voi"], sort=True):
        row: dict[str, object] = {"subject_id": subject, "voi": voi,
                                  "kind": g["kind"].iloc[0] if "kind" in g.columns else None}
        try:
            res = pk_curve(g["time_days"], g["activity_kbq_ml"], decay_corrected=decay_corrected,
                           half_life_s=half_life_s, n_terminal=n_terminal, method=method)
            row.update(asdict(res))
            if "suv_mean" in g.columns:
                sres = pk_curve(g["time_days"], g["suv_mean"], decay_corrected=decay_corrected,
                                half_life_s=half_life_s, n_terminal=n_terminal, method=method)
                row["suv_auc_first_inf"] = sres.auc_first_inf
        except InvalidInputError as exc:
            if not notes or exc.attribute in ("auc_method", "half_life_s"):  # settings errors stay errors
                raise
            row["note"] = f"no PK curve for this VOI: {exc.message}"
        rows.append(row)
    return pd.DataFrame(rows)
