"""Survival: Kaplan-Meier with the log-rank test, Cox proportional-hazards ratios (lifelines)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import InvalidInputError
from .core import (
    NAN,
    StatResult,
    _as_float_array,
    _binary,
    _check_alpha,
    _check_same_length,
    _dropped_note,
    _join,
    _nan_result,
)

__all__ = ["kaplan_meier_logrank", "cox_hr", "km_median", "cox_multivariable"]


def _survival_frame(time: Any, event: Any, group: Any, name: str) -> tuple[pd.DataFrame, str]:
    t = _as_float_array(time, "time")
    e = _binary(event, "event")
    g = pd.Series(np.asarray(group, dtype=object) if not isinstance(group, pd.Series) else group.to_numpy())
    _check_same_length(time=t, event=e, **{name: g})
    df = pd.DataFrame({"time": t, "event": e, name: g.to_numpy()})
    keep = np.isfinite(t) & ~pd.isna(df[name]).to_numpy()
    if np.any(t[np.isfinite(t)] < 0):
        raise InvalidInputError("survival times must be >= 0", attribute="time")
    return df[keep].reset_index(drop=True), _dropped_note(int((~keep).sum()))


def kaplan_meier_logrank(
    time: Any, event: Any, group: Any
) -> tuple[StatResult, dict[Any, float], dict[Any, Any]]:
    """Kaplan-Meier curves per group and the log-rank test (lifelines).

    Parameters
    ----------
    time : array-like
        Follow-up times (>= 0).
    event : array-like of 0/1
        1 = event (progression/death), 0 = censored.
    group : array-like
        Group label of each subject (2 or more groups; k > 2 uses the multivariate log-rank test).

    Returns
    -------
    result : StatResult
        ``statistic`` = log-rank chi-square (k - 1 df), ``p_value``; ``estimate`` NaN.
    medians : dict
        Group -> KM median survival time (inf when not reached, NaN when the group is empty).
    fitters : dict
        Group -> fitted :class:`lifelines.KaplanMeierFitter` (``.plot_survival_function()``).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    df, dropped = _survival_frame(time, event, group, "group")
    levels = sorted(pd.unique(df["group"]), key=str)
    fitters: dict[Any, Any] = {}
    medians: dict[Any, float] = {}
    for level in levels:
        sub = df[df["group"] == level]
        kmf = KaplanMeierFitter(label=str(level))
        kmf.fit(sub["time"], sub["event"])
        fitters[level] = kmf
        medians[level] = float(kmf.median_survival_time_)
    n = int(len(df))
    label = "log-rank test"
    sizes = df.groupby("group", sort=False)["event"].agg(["size", "sum"])
    counts = ", ".join(f"{lv}: n={int(sizes.loc[lv, 'size'])}, events={int(sizes.loc[lv, 'sum'])}" for lv in levels)
    if len(levels) < 2:
        return _nan_result(n, label, _join("need >= 2 groups", counts, dropped)), medians, fitters
    if int(df["event"].sum()) == 0:
        return _nan_result(n, label, _join("no events", counts, dropped)), medians, fitters
    if len(levels) == 2:
        a, b = (df[df["group"] == lv] for lv in levels)
        res = logrank_test(a["time"], b["time"], event_observed_A=a["event"], event_observed_B=b["event"])
    else:
        res = multivariate_logrank_test(df["time"], df["group"], df["event"])
    result = StatResult(NAN, NAN, NAN, float(res.p_value), n, label, float(res.test_statistic),
                        _join(f"df={len(levels) - 1}", counts, dropped))
    return result, medians, fitters


def cox_hr(
    time: Any,
    event: Any,
    covariate: Any,
    *,
    ties: str = "efron",
    reference: Any = None,
    alpha: float = 0.05,
) -> StatResult:
    """Univariable Cox proportional-hazards hazard ratio (lifelines ``CoxPHFitter``, Efron ties).

    Parameters
    ----------
    time, event : array-like
        As for :func:`kaplan_meier_logrank`.
    covariate : array-like
        Numeric: HR per unit (rescale beforehand for per-SD or per-log2 HRs). Categorical (strings,
        booleans, pandas categoricals) with exactly two levels: indicator of the non-reference level.
    ties : {"efron"}
        Tie handling; lifelines implements Efron's method only.
    reference : optional
        Reference level of a categorical covariate (default: the first level in sorted order;
        ``False`` for booleans).
    alpha : float
        1 - confidence level.

    Returns
    -------
    StatResult
        ``estimate`` = HR = exp(coef), Wald CI exp(coef +/- z SE), Wald p, ``statistic`` = Wald z.
        No events, a constant covariate or a convergence failure give NaN with a note.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    alpha = _check_alpha(alpha)
    if ties.lower() != "efron":
        raise InvalidInputError(f"ties={ties!r} is not supported", attribute="ties",
                                remedy="lifelines implements Efron ties only: use ties='efron'")
    cov = covariate.to_numpy() if isinstance(covariate, pd.Series) else np.asarray(covariate)
    df, dropped = _survival_frame(time, event, cov, "x")
    label = "Cox proportional hazards (Efron ties), Wald CI"
    categorical = not (np.issubdtype(cov.dtype, np.number) and cov.dtype != bool)
    note_level = ""
    if categorical:
        levels = sorted(pd.unique(df["x"]), key=lambda v: (str(type(v)), v if isinstance(v, bool) else str(v)))
        if len(levels) > 2:
            raise InvalidInputError(f"categorical covariate has {len(levels)} levels; cox_hr handles 2",
                                    attribute="covariate", remedy="pass a numeric coding or a two-level subset")
        if reference is None:
            reference = levels[0] if levels else None
        elif reference not in levels:
            raise InvalidInputError(f"reference level {reference!r} not in {levels}", attribute="reference")
        other = [lv for lv in levels if lv != reference]
        note_level = f"HR of {other[0]!s} vs {reference!s}" if other else ""
        df["x"] = (df["x"] != reference).astype(float)
        label = f"{label}; {note_level}" if note_level else label
    else:
        df["x"] = df["x"].astype(float)
    n = int(len(df))
    events = int(df["event"].sum())
    counts = f"n={n}, events={events}"
    if events == 0:
        return _nan_result(n, label, _join("no events", counts, dropped))
    if df["x"].nunique() < 2:
        return _nan_result(n, label, _join("covariate is constant", counts, dropped))
    cph = CoxPHFitter(alpha=alpha)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph.fit(df[["time", "event", "x"]], duration_col="time", event_col="event")
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
        return _nan_result(n, label, _join(f"Cox model did not converge: {exc}".splitlines()[0], counts, dropped))
    summary = cph.summary.loc["x"]
    coef, se = float(summary["coef"]), float(summary["se(coef)"])
    zq = stats.norm.ppf(1 - alpha / 2)
    if not (math.isfinite(coef) and math.isfinite(se)) or abs(coef) + zq * se > 700:
        # monotone likelihood (complete separation): the estimate runs to infinity
        return _nan_result(n, label, _join(f"Cox estimate not finite (coef={coef:.3g}, SE={se:.3g}): complete "
                                           "separation of events by the covariate", counts, dropped))
    hr = math.exp(coef)
    notes = _join(counts, f"coef={coef:.6g}, SE={se:.6g}", dropped)
    return StatResult(hr, math.exp(coef - zq * se), math.exp(coef + zq * se), float(summary["p"]), n, label,
                      float(summary["z"]), notes)


def km_median(time: Any, event: Any, *, alpha: float = 0.05) -> StatResult:
    """Kaplan-Meier median survival with its confidence interval (lifelines, log(-log) Greenwood bands).

    Returns
    -------
    StatResult
        ``estimate`` = median (inf when not reached), CI = the times where the band crosses 0.5
        (lifelines ``median_survival_times`` of the confidence interval; inf when not reached).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    alpha = _check_alpha(alpha)
    df, dropped = _survival_frame(time, event, np.zeros(len(np.asarray(time))), "group")
    n = int(len(df))
    label = "Kaplan-Meier median, log(-log) Greenwood CI"
    if n == 0:
        return _nan_result(0, label, "no subjects")
    kmf = KaplanMeierFitter(alpha=alpha).fit(df["time"], df["event"])
    ci = median_survival_times(kmf.confidence_interval_)
    low, high = (float(v) for v in np.asarray(ci, dtype=float).ravel()[:2])
    return StatResult(float(kmf.median_survival_time_), low, high, NAN, n, label,
                      notes=_join(f"n={n}, events={int(df['event'].sum())}", dropped))


def cox_multivariable(df: pd.DataFrame, *, duration: str, event: str, covariates: list[str],
                      alpha: float = 0.05) -> tuple[dict[str, StatResult], dict[str, float]]:
    """Multivariable Cox model (lifelines, Efron ties) with the proportional-hazards test.

    Parameters
    ----------
    df : DataFrame
        One row per patient: ``duration``, ``event`` and the numeric ``covariates`` (rows with NaN dropped).
    covariates : list of str
        Numeric columns (code categorical ones beforehand).

    Returns
    -------
    (dict, dict)
        Per covariate its HR with the Wald CI and p; per covariate the p-value of the Grambsch-Therneau
        test on scaled Schoenfeld residuals (rank time transform; lifelines ``proportional_hazard_test``).
        A fit that fails gives NaN results with the reason in ``notes``.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError
    from lifelines.statistics import proportional_hazard_test

    alpha = _check_alpha(alpha)
    missing = [c for c in (duration, event, *covariates) if c not in df.columns]
    if missing:
        raise InvalidInputError(f"columns {missing} not in the table", attribute=missing[0])
    data = df[[duration, event, *covariates]].dropna().astype(float)
    n, events = int(len(data)), int(data[event].sum())
    label = f"{'multivariable ' if len(covariates) > 1 else ''}Cox proportional hazards (Efron ties), Wald CI"
    counts = f"n={n}, events={events}, {len(covariates)} covariates ({events / max(len(covariates), 1):.1f} events " \
             "per variable)"
    failed = {c: _nan_result(n, label, counts) for c in covariates}
    if events < 2 or n <= len(covariates) + 1:
        return {c: _nan_result(n, label, _join(counts, "too few events or subjects")) for c in covariates}, {}
    cph = CoxPHFitter(alpha=alpha)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph.fit(data, duration_col=duration, event_col=event)
            ph = proportional_hazard_test(cph, data, time_transform="rank")
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
        reason = f"Cox model did not converge: {exc}".splitlines()[0]
        return {c: _nan_result(n, label, _join(counts, reason)) for c in failed}, {}
    ph_p = {str(name): float(p) for name, p in zip(ph.summary.index, ph.summary["p"], strict=True)}
    out = {}
    for c in covariates:
        row = cph.summary.loc[c]
        out[c] = StatResult(float(row["exp(coef)"]), float(row[f"exp(coef) lower {1 - alpha:.0%}"]),
                            float(row[f"exp(coef) upper {1 - alpha:.0%}"]), float(row["p"]), n, label,
                            float(row["z"]), _join(counts, f"PH test p={ph_p.get(c, NAN):.3g}"))
    return out, ph_p
