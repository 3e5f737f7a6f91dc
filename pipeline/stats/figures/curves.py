"""Figures of curves: ROC curves and Kaplan-Meier survival curves (lifelines) with confidence bands, medians
and numbers at risk."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from ...errors import InvalidInputError
from .style import (
    _CYCLE,
    _LINESTYLES,
    MIN_N,
    FigurePaths,
    _annotate,
    _new_figure,
    _not_enough,
    _numeric,
    _save,
    _style,
)

__all__ = ["roc_curves", "km_estimate", "km_medians", "median_text", "number_at_risk", "kaplan_meier"]


def roc_curves(
    curves: Sequence[tuple[str, ArrayLike, ArrayLike, float | None, tuple[float, float] | None]],
    stem: str | Path,
    *,
    cutoff_points: Sequence[tuple[str, float, float, str]] | None = None,
    title: str | None = None,
    ci_level: str = "95% CI",
) -> FigurePaths:
    """ROC curves with the chance diagonal, AUC [CI] in the legend, and optional marked cut-offs.

    Parameters
    ----------
    curves : sequence of (label, fpr, tpr, auc, ci)
        Per curve: its label, false-positive rates and true-positive rates (fractions in [0, 1], as from
        :func:`sklearn.metrics.roc_curve`), its AUC (or ``None``) and its CI ``(low, high)`` (or ``None``).
        A curve with fewer than two points is listed in the legend as "not enough data".
    stem : path-like
        Output stem.
    cutoff_points : sequence of (curve label, fpr, tpr, text), optional
        Points to mark (e.g. the pre-specified or Youden cut-off) in the colour of the named curve, with
        the text (e.g. ``"SUVmax ≥ 4.4"``) beside them.
    title : str, optional
        Figure title.
    ci_level : str
        How the CI is named in the legend title.

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG.

    Raises
    ------
    InvalidInputError
        If fpr and tpr differ in length or leave [0, 1], or a cut-off names no curve.
    """
    name = "roc_curves"
    parsed = []
    for k, curve in enumerate(curves or ()):
        if len(curve) != 5:
            raise InvalidInputError(f"curve {k} has {len(curve)} fields", source=name,
                                    remedy="give (label, fpr, tpr, auc, ci) per curve")
        label, fpr, tpr, auc, ci = curve
        fpr = _numeric(np.ravel(np.asarray(fpr, dtype=object)), "fpr", name)
        tpr = _numeric(np.ravel(np.asarray(tpr, dtype=object)), "tpr", name)
        if fpr.shape != tpr.shape:
            raise InvalidInputError(f"curve {label!r}: fpr has {fpr.size} values, tpr {tpr.size}", source=name,
                                    attribute="fpr, tpr", remedy="give one tpr per fpr")
        finite = np.isfinite(fpr) & np.isfinite(tpr)
        fpr, tpr = fpr[finite], tpr[finite]
        if np.any((fpr < 0) | (fpr > 1) | (tpr < 0) | (tpr > 1)):
            raise InvalidInputError(f"curve {label!r}: rates outside [0, 1]", source=name, attribute="fpr, tpr",
                                    remedy="give rates as fractions, not %")
        parsed.append((str(label), fpr, tpr, auc, ci))
    usable = sum(1 for p in parsed if p[1].size >= 2)
    labels = [p[0] for p in parsed]
    for point in cutoff_points or ():
        if str(point[0]) not in labels:
            raise InvalidInputError(f"cut-off point names curve {point[0]!r}, which is not given", source=name,
                                    attribute="cutoff_points", remedy=f"use one of {labels}")
    with _style():
        if usable < 1:
            return _not_enough("roc", stem, usable, title)
        fig = _new_figure("roc")
        ax = fig.add_subplot()
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1.0, label="Chance (AUC 0.50)", gid="diagonal")
        colours = {}
        for k, (label, fpr, tpr, auc, ci) in enumerate(parsed):
            colour = _CYCLE[k % len(_CYCLE)]
            colours[label] = colour
            if fpr.size < 2:
                ax.plot([], [], color=colour, label=f"{label}: not enough data (n = {fpr.size})")
                continue
            text = f"{label}: AUC {float(auc):.2f}" if auc is not None else f"{label}"
            if auc is not None and ci is not None:
                text += f" [{float(ci[0]):.2f}–{float(ci[1]):.2f}]"
            ax.plot(fpr, tpr, color=colour, linestyle=_LINESTYLES[k % len(_LINESTYLES)], drawstyle="default",
                    label=text, gid=f"roc_curve_{k}")
        for j, (label, fx, fy, text) in enumerate(cutoff_points or ()):
            colour = colours[str(label)]
            ax.plot([fx], [fy], marker="o", markersize=7, color=colour, markeredgecolor="black", linestyle="none",
                    zorder=4, gid=f"cutoff_{j}")
            ax.annotate(text, (fx, fy), xytext=(8, -12), textcoords="offset points", fontsize=8.5, color="black")
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("1 − specificity (false-positive rate)")
        ax.set_ylabel("Sensitivity (true-positive rate)")
        ax.set_title(title or "")
        ax.legend(loc="lower right", title=f"AUC [{ci_level}]")
        return _save(fig, stem)


# --------------------------------------------------------------------------------------------- Kaplan–Meier


def _survival_data(time: ArrayLike, event: ArrayLike, where: str) -> tuple[np.ndarray, np.ndarray]:
    t = _numeric(np.ravel(np.asarray(time, dtype=object)), "time", where)
    e = _numeric(np.ravel(np.asarray(event, dtype=object)), "event", where)
    if t.shape != e.shape:
        raise InvalidInputError(f"{t.size} times but {e.size} event flags", source=where, attribute="time, event",
                                remedy="give one event flag (1 = event, 0 = censored) per time")
    if np.isnan(t).any() or np.isnan(e).any():
        raise InvalidInputError("missing time or event flag", source=where, attribute="time, event",
                                remedy="drop subjects without follow-up before plotting")
    if (t < 0).any():
        raise InvalidInputError("negative time", source=where, attribute="time", remedy="times are from the origin")
    if not np.isin(e, (0.0, 1.0)).all():
        raise InvalidInputError("event flags other than 0/1", source=where, attribute="event",
                                remedy="1 = event, 0 = censored")
    return t, e.astype(bool)


def km_estimate(time: ArrayLike, event: ArrayLike, *, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan–Meier product-limit estimate with its pointwise confidence band (lifelines).

    Parameters
    ----------
    time : array-like
        Follow-up times (≥ 0, any unit).
    event : array-like
        1 (or True) for an event, 0 for a censored observation.
    alpha : float
        1 − confidence level of the band (default 0.05: 95 %).

    Returns
    -------
    pandas.DataFrame
        One row per distinct observed time, ascending: ``time``, ``n_at_risk`` (time ≥ t), ``n_events``,
        ``n_censored``, ``survival`` (S just after t) and ``ci_low``, ``ci_high`` (lifelines'
        :class:`~lifelines.KaplanMeierFitter` band: Greenwood variance on the log(−log) scale). Censoring at
        an event time counts after the event.
    """
    t, e = _survival_data(time, event, "km_estimate")
    columns = ["time", "n_at_risk", "n_events", "n_censored", "survival", "ci_low", "ci_high"]
    if t.size == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
    kmf = _km_fitter(t, e, alpha)
    table = kmf.event_table
    table = table[table["removed"] > 0]
    band = kmf.confidence_interval_survival_function_
    times = table.index.to_numpy(dtype=float)
    return pd.DataFrame({"time": times, "n_at_risk": table["at_risk"].to_numpy(dtype=int),
                         "n_events": table["observed"].to_numpy(dtype=int),
                         "n_censored": table["censored"].to_numpy(dtype=int),
                         "survival": kmf.survival_function_.iloc[:, 0].reindex(times).to_numpy(dtype=float),
                         "ci_low": band.iloc[:, 0].reindex(times).to_numpy(dtype=float),
                         "ci_high": band.iloc[:, 1].reindex(times).to_numpy(dtype=float)}, columns=columns)


def _km_fitter(t: np.ndarray, e: np.ndarray, alpha: float) -> Any:
    """A fitted :class:`lifelines.KaplanMeierFitter` (imported on first use: lifelines is slow to import)."""
    from lifelines import KaplanMeierFitter

    if not 0.0 < float(alpha) < 1.0:
        raise InvalidInputError(f"alpha = {alpha!r} is not in (0, 1)", attribute="alpha",
                                remedy="give 1 − the confidence level, e.g. 0.05")
    return KaplanMeierFitter(alpha=float(alpha)).fit(t, e.astype(int))


def km_medians(groups: Mapping[str, tuple[ArrayLike, ArrayLike]], *, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan–Meier median survival with its confidence interval per group (lifelines).

    Parameters
    ----------
    groups : mapping of label -> (time, event)
        As for :func:`kaplan_meier`.
    alpha : float
        1 − confidence level (default 0.05: 95 %).

    Returns
    -------
    pandas.DataFrame
        One row per group in the given order: ``group``, ``n``, ``events``, ``median`` (lifelines
        ``median_survival_time_``; inf when not reached, NaN for an empty group), ``ci_low``, ``ci_high`` (the
        times where the band crosses 0.5, lifelines ``median_survival_times``; inf when not reached).
    """
    from lifelines.utils import median_survival_times

    rows = []
    for label, (time, event) in (groups or {}).items():
        t, e = _survival_data(time, event, f"km_medians[{label}]")
        median = low = high = float("nan")
        if t.size:
            kmf = _km_fitter(t, e, alpha)
            median = float(kmf.median_survival_time_)
            low, high = (float(v) for v in np.asarray(median_survival_times(kmf.confidence_interval_),
                                                      dtype=float).ravel()[:2])
        rows.append({"group": str(label), "n": int(t.size), "events": int(e.sum()), "median": median,
                     "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=["group", "n", "events", "median", "ci_low", "ci_high"])


def _time_text(value: float) -> str:
    """A survival time for a legend: 3 significant digits, NR when not reached (inf), n/a when missing."""
    if np.isnan(value):
        return "n/a"
    return "NR" if np.isinf(value) else f"{value:.3g}"


def median_text(median: float, low: float, high: float, *, level: str = "95% CI") -> str:
    """``median 23 [95% CI 13–NR]``: the legend text of a Kaplan–Meier median (NR: not reached)."""
    return f"median {_time_text(median)} [{level} {_time_text(low)}–{_time_text(high)}]"


def number_at_risk(time: ArrayLike, at: ArrayLike) -> np.ndarray:
    """Number of subjects still at risk (follow-up time ≥ t) at each time in ``at``."""
    t = _numeric(np.ravel(np.asarray(time, dtype=object)), "time", "number_at_risk")
    return np.array([int((t >= float(u)).sum()) for u in np.ravel(at)], dtype=int)


def kaplan_meier(
    groups: Mapping[str, tuple[ArrayLike, ArrayLike]],
    stem: str | Path,
    *,
    time_unit: str = "months",
    annotation: str | None = None,
    title: str | None = None,
    ylabel: str = "Survival probability",
    at_risk_times: ArrayLike | None = None,
    alpha: float = 0.05,
) -> FigurePaths:
    """Kaplan–Meier curves per group with their confidence bands, censoring ticks, the median survival with its
    CI in the legend, and a number-at-risk table under the plot.

    The estimates are lifelines' (:class:`~lifelines.KaplanMeierFitter`): the curve, the pointwise band
    (Greenwood variance, log(−log) scale, shaded) and the median with its CI (:func:`km_medians`). A legend
    entry reads ``<label> (n = 21, events = 9); median 23 [95% CI 13–NR]`` (NR: not reached).

    Parameters
    ----------
    groups : mapping of label -> (time, event)
        Follow-up times (≥ 0, in ``time_unit``) and event flags (1 = event, 0 = censored) per group, in
        legend order.
    stem : path-like
        Output stem.
    time_unit : str
        Unit of the times, shown on the x axis.
    annotation : str, optional
        Text such as ``"log-rank p = 0.0001; HR 4.8 [2.1–10.8]"`` (lower left).
    title, ylabel : str
        Figure title and y-axis label.
    at_risk_times : array-like, optional
        Times of the number-at-risk columns (and of the x ticks); default: about six round ticks from 0
        to the longest follow-up.
    alpha : float
        1 − confidence level of the bands and of the median CI (default 0.05: 95 %).

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG.

    Raises
    ------
    InvalidInputError
        For missing, negative or non-numeric times, or event flags other than 0/1.
    """
    data = {str(lab): _survival_data(t, e, f"kaplan_meier[{lab}]") for lab, (t, e) in (groups or {}).items()}
    n = sum(t.size for t, _ in data.values())
    with _style():
        if n < MIN_N:
            return _not_enough("kaplan_meier", stem, n, title)
        t_max = max(float(t.max()) for t, _ in data.values() if t.size)
        if at_risk_times is None:
            locator = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10])
            ticks = np.asarray(locator.tick_values(0.0, t_max if t_max > 0 else 1.0), dtype=float)
            ticks = ticks[(ticks >= 0) & (ticks <= max(t_max, 1e-12) * (1 + 1e-9))]
        else:
            ticks = np.sort(_numeric(np.ravel(np.asarray(at_risk_times, dtype=object)), "at_risk_times",
                                     "kaplan_meier"))
        x_hi = max(t_max, float(ticks.max()) if ticks.size else 0.0) * 1.03 or 1.0
        fig = _new_figure("kaplan_meier")
        k = len(data)
        grid = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.45 + 0.28 * k])
        ax = fig.add_subplot(grid[0])
        ax_risk = fig.add_subplot(grid[1], sharex=ax)
        medians = km_medians({label: (t, e) for label, (t, e) in data.items()}, alpha=alpha)
        level = f"{100 * (1 - alpha):g}% CI"
        for i, (label, (t, e)) in enumerate(data.items()):
            colour, style = _CYCLE[i % len(_CYCLE)], _LINESTYLES[i % len(_LINESTYLES)]
            text = f"{label} (n = {t.size}, events = {int(e.sum())})"
            if t.size == 0:
                ax.plot([], [], color=colour, linestyle=style, label=text)
                continue
            m = medians.iloc[i]
            text += "; " + median_text(float(m["median"]), float(m["ci_low"]), float(m["ci_high"]), level=level)
            table = km_estimate(t, e, alpha=alpha)
            xs = np.concatenate([[0.0], table["time"].to_numpy()])
            ys = np.concatenate([[1.0], table["survival"].to_numpy()])
            low = np.concatenate([[1.0], table["ci_low"].to_numpy()])
            high = np.concatenate([[1.0], table["ci_high"].to_numpy()])
            low, high = np.where(np.isnan(low), ys, low), np.where(np.isnan(high), ys, high)  # no band where undefined
            ax.fill_between(xs, low, high, step="post", color=colour, alpha=0.15, linewidth=0, gid=f"km_band_{i}")
            ax.step(xs, ys, where="post", color=colour, linestyle=style, label=text, gid=f"km_curve_{i}")
            cens = table[table["n_censored"] > 0]
            ax.plot(cens["time"], cens["survival"], linestyle="none", marker="|", markersize=8, markeredgewidth=1.2,
                    color=colour, gid=f"km_censored_{i}")
        ax.set_ylim(-0.02, 1.04)
        ax.set_xlim(0.0, x_hi)
        ax.set_xticks(ticks)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(f"Time ({time_unit})")
        ax.set_title(title or "")
        ax.legend(loc="upper right")
        _annotate(ax, annotation, loc="lower left")
        # number-at-risk table
        for i, (t, _) in enumerate(data.values()):
            row = k - 1 - i
            for tick, count in zip(ticks, number_at_risk(t, ticks), strict=True):
                ax_risk.text(tick, row, str(count), ha="center", va="center", fontsize=8.5,
                             color=_CYCLE[i % len(_CYCLE)])
        ax_risk.set_ylim(-0.6, k - 0.4)
        ax_risk.set_yticks(range(k), list(reversed(list(data))))
        for tick_label, i in zip(ax_risk.get_yticklabels(), reversed(range(k)), strict=True):
            tick_label.set_color(_CYCLE[i % len(_CYCLE)])
        ax_risk.tick_params(axis="x", which="both", bottom=False, labelbottom=False)
        ax_risk.tick_params(axis="y", which="both", left=False, pad=10)
        for side in ("left", "bottom", "top", "right"):
            ax_risk.spines[side].set_visible(False)
        ax_risk.set_title("Number at risk", loc="left", fontsize=9)
        return _save(fig, stem)


# --------------------------------------------------------------------------------------------- biodistribution
