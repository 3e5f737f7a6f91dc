"""Forest plots of the ``stats.csv`` estimates with their confidence intervals.

Each row of ``stats.csv`` is drawn as a point (the estimate) and a line (its CI) on the scale of its estimand:
ratios and hazard ratios on a log axis with a reference line at 1, differences and correlations on a linear
axis with a line at 0, AUCs at 0.5. The scale is derived from the analysis name (and, where the name does not
fix it, from the method text) with the explicit mapping below (:func:`effect_scale`); rows of one endpoint
that share a scale share a panel. Rows without a finite estimate and CI cannot be drawn and are returned by
:func:`forest_table` with the reason, so that the caller can list them under the figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ...errors import InvalidInputError
from .style import _CYCLE, FigurePaths, _new_figure, _not_enough, _row_height, _save, _style

__all__ = ["EffectScale", "SCALES", "ANALYSIS_SCALES", "PREFIX_SCALES", "METHOD_SCALES", "effect_scale",
           "forest_table", "forest"]


@dataclass(frozen=True)
class EffectScale:
    """How an estimate is drawn.

    Attributes
    ----------
    kind : str
        Key of :data:`SCALES`.
    label : str
        The x-axis label.
    log : bool
        Log axis (ratios): estimate and CI must be > 0.
    reference : float or None
        The no-effect value, drawn as a dashed line (None: no line).
    limits : (float, float) or None
        The range the estimate cannot leave (correlations, AUC, proportions); the axis stays inside it.
    """

    kind: str
    label: str
    log: bool = False
    reference: float | None = 0.0
    limits: tuple[float, float] | None = None


#: The scales, by kind.
SCALES: dict[str, EffectScale] = {
    "ratio": EffectScale("ratio", "Ratio (log scale)", log=True, reference=1.0),
    "hazard_ratio": EffectScale("hazard_ratio", "Hazard ratio (log scale)", log=True, reference=1.0),
    "difference": EffectScale("difference", "Difference (shift)", reference=0.0),
    "correlation": EffectScale("correlation", "Correlation", reference=0.0, limits=(-1.0, 1.0)),
    "auc": EffectScale("auc", "AUC", reference=0.5, limits=(0.0, 1.0)),
    "proportion": EffectScale("proportion", "Proportion", reference=None, limits=(0.0, 1.0)),
    "effect_size": EffectScale("effect_size", "Effect size", reference=0.0),
    "agreement": EffectScale("agreement", "Agreement (ICC)", reference=0.0, limits=(-1.0, 1.0)),
    "time": EffectScale("time", "Time", reference=None),
    "percent": EffectScale("percent", "Percent", reference=None),
    "value": EffectScale("value", "Value", reference=None),
}

#: Analysis name -> scale kind. ``None``: the estimate's scale depends on the method (e.g. the Wilcoxon
#: Hodges-Lehmann estimate is a ratio after/before on log data, a shift otherwise): :data:`METHOD_SCALES` decides.
ANALYSIS_SCALES: dict[str, str | None] = {
    "geometric_mean_ratio": "ratio", "paired_log_ratio": "ratio", "nested_visit_ratio": "ratio",
    "mixed_model_log_ratio": "ratio", "odds_ratio": "ratio",
    "cox_hr_group": "hazard_ratio", "cox_hr_continuous": "hazard_ratio", "cox_hr": "hazard_ratio",
    "roc_auc": "auc", "clustered_auc": "auc",
    "sensitivity": "proportion", "specificity": "proportion", "accuracy": "proportion", "ppv": "proportion",
    "npv": "proportion",
    "mann_whitney": "difference", "roc_auc_difference": "difference", "mcnemar_thresholds": "difference",
    "km_median": "time", "landmark_hr": "hazard_ratio",
    "wilcoxon_paired": None, "bland_altman_bias": None,
}

#: Analysis-name prefixes -> scale kind, for names not in :data:`ANALYSIS_SCALES` (first match wins).
PREFIX_SCALES: tuple[tuple[str, str], ...] = (
    ("cox_hr", "hazard_ratio"), ("spearman", "correlation"), ("pearson", "correlation"), ("kendall", "correlation"),
    ("icc", "agreement"), ("roc_auc", "auc"), ("auc", "auc"), ("kruskal_wallis", "effect_size"),
    ("jonckheere", "effect_size"), ("cluster_permutation_jt", "effect_size"), ("mixed_trend", "ratio"),
    ("km_median", "time"), ("repeatability", "percent"), ("youden", "value"),
)

#: Words of the method text -> scale kind (case-insensitive, first match wins) for the rest; no match: difference.
METHOD_SCALES: tuple[tuple[str, str], ...] = (
    ("hazard", "hazard_ratio"), ("ratio", "ratio"), ("auc", "auc"), ("rho", "correlation"),
    ("correlation", "correlation"), ("wilson", "proportion"), ("clopper", "proportion"),
    ("kaplan-meier median", "time"),
)


def effect_scale(analysis: object, method: object = "") -> EffectScale:
    """The scale of an estimate from its ``analysis`` name and ``method`` text (``stats.csv`` columns).

    The name is looked up in :data:`ANALYSIS_SCALES`, then by prefix in :data:`PREFIX_SCALES`; a name mapped to
    None or not found is decided by the words of the method in :data:`METHOD_SCALES`; otherwise a difference.

    Examples
    --------
    >>> effect_scale("paired_log_ratio").reference
    1.0
    >>> effect_scale("wilcoxon_paired", "Hodges-Lehmann ratio after/before").log
    True
    >>> effect_scale("wilcoxon_paired", "median % change").kind
    'difference'
    """
    name = "" if analysis is None else str(analysis).strip().lower()
    kind = ANALYSIS_SCALES.get(name)
    if kind is None and name not in ANALYSIS_SCALES:
        kind = next((k for prefix, k in PREFIX_SCALES if name.startswith(prefix)), None)
    if kind is None:
        text = "" if method is None or (isinstance(method, float) and math.isnan(method)) else str(method).lower()
        kind = next((k for word, k in METHOD_SCALES if word in text), "difference")
    return SCALES[kind]


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _row_label(row: pd.Series) -> str:
    parts = [_text(row.get("analysis")), _text(row.get("variable")), _text(row.get("level"))]
    return " · ".join(p for p in parts if p)


def _method_detail(method: object) -> str:
    """What tells two rows of one analysis apart: the method after its first comma ("Wilson score CI")."""
    text = _text(method)
    detail = text.split(", ", 1)[1] if ", " in text else text
    return detail if len(detail) <= 40 else detail[:39] + "…"


def forest_table(stats: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``stats.csv`` rows into those a forest plot can draw and those it cannot.

    Parameters
    ----------
    stats : DataFrame
        Rows of ``stats.csv``: ``endpoint``, ``analysis``, ``estimate``, ``ci_low``, ``ci_high``; ``variable``,
        ``level``, ``method``, ``p_value`` are used when present.

    Returns
    -------
    (DataFrame, DataFrame)
        The drawable rows (input order) with ``scale`` (a key of :data:`SCALES`) and ``label`` (analysis ·
        variable · level, and the method's detail where two rows of an endpoint would read the same) added;
        and the rows left out with ``label`` and ``reason``: no estimate, no finite CI, or a value ≤ 0 on a
        ratio scale.

    Raises
    ------
    InvalidInputError
        When a required column is missing or holds text.
    """
    required = ["endpoint", "analysis", "estimate", "ci_low", "ci_high"]
    missing = [c for c in required if c not in stats.columns]
    if missing:
        raise InvalidInputError(f"column(s) {', '.join(map(repr, missing))} missing", source="forest_table",
                                attribute=", ".join(missing), remedy="give rows of stats.csv")
    table = stats.reset_index(drop=True).copy()
    for column in ("estimate", "ci_low", "ci_high"):
        converted = pd.to_numeric(table[column], errors="coerce")
        bad = converted.isna() & table[column].notna() & (table[column].astype(str).str.strip() != "")
        if bad.any():
            raise InvalidInputError(f"non-numeric value {table.loc[bad, column].iloc[0]!r}", source="forest_table",
                                    attribute=column, remedy="give the numbers of stats.csv")
        table[column] = converted.astype(float)
    methods = table["method"] if "method" in table.columns else pd.Series("", index=table.index)
    table["scale"] = [effect_scale(a, m).kind for a, m in zip(table["analysis"], methods, strict=True)]
    table["label"] = [_row_label(r) for _, r in table.iterrows()]
    same = table.duplicated(["endpoint", "label"], keep=False)  # e.g. one proportion with two CI methods
    table.loc[same, "label"] = [f"{label} ({_method_detail(m)})" if _method_detail(m) else label
                                for label, m in zip(table.loc[same, "label"], methods[same], strict=True)]
    values = table[["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float)
    reasons = []
    for (est, low, high), kind in zip(values, table["scale"], strict=True):
        if not math.isfinite(est):
            reasons.append("no estimate")
        elif not (math.isfinite(low) and math.isfinite(high)):
            reasons.append("no finite CI")
        elif SCALES[kind].log and min(est, low, high) <= 0:
            reasons.append("value ≤ 0 on a ratio scale")
        else:
            reasons.append("")
    table["reason"] = reasons
    drawn = table["reason"] == ""
    return (table[drawn].drop(columns="reason").reset_index(drop=True),
            table.loc[~drawn].reset_index(drop=True))


def _number(value: float) -> str:
    return f"{value:.3g}".replace("-", "\u2212")


def _p_text(value: object) -> str:
    try:
        p = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(p):
        return ""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.995 else f"p = {p:.2f}"


def _log_ticks(low: float, high: float) -> list[float]:
    """Round ticks inside [low, high] of a log axis: 1-2-5, then finer series until there are at least three."""
    decades = range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
    for mantissas in ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8),
                      tuple(float(m) for m in np.arange(1.0, 10.0, 0.25))):
        ticks = sorted({round(m * 10.0 ** e, 10) for e in decades for m in mantissas
                        if low <= m * 10.0 ** e <= high})
        if len(ticks) >= 3:
            break
    if len(ticks) > 8:
        step = math.ceil(len(ticks) / 8)
        ticks = ticks[::step]
    return ticks


def _limits(values: np.ndarray, scale: EffectScale) -> tuple[float, float]:
    points = list(values.ravel()) + ([scale.reference] if scale.reference is not None else [])
    low, high = min(points), max(points)
    if scale.log:
        pad = max(math.log(high / low), math.log(1.2)) * 0.08
        return low * math.exp(-pad), high * math.exp(pad)
    pad = max(high - low, 1e-12 + 0.05 * max(abs(low), abs(high), 1e-12)) * 0.08
    low, high = low - pad, high + pad
    if scale.limits is not None:
        room = 0.03 * (scale.limits[1] - scale.limits[0])
        low, high = max(low, scale.limits[0] - room), min(high, scale.limits[1] + room)
    return low, high


def forest(
    stats: pd.DataFrame,
    stem: str | Path,
    *,
    group: str = "endpoint",
    title: str | None = None,
    group_order: Sequence[str] | None = None,
) -> FigurePaths:
    """Forest plot: one row per estimate with its CI, one panel per group (endpoint family) and scale.

    Parameters
    ----------
    stats : DataFrame
        Rows of ``stats.csv`` (see :func:`forest_table`); rows that cannot be drawn are left out (get them
        with :func:`forest_table` to list them).
    stem : path-like
        Output stem.
    group : str
        Column whose levels get their own panels (default ``endpoint``).
    title : str, optional
        Figure title.
    group_order : sequence of str, optional
        Order of the groups (default: first appearance).

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG. Width 8 in; height grows with the rows. Panel ``i`` (top = 0) has the
        SVG id ``forest_panel_<i>``, its reference line ``forest_reference_<i>``, row ``j`` of it
        ``forest_ci_<i>_<j>`` (the CI) and ``forest_point_<i>_<j>`` (the estimate). Right of each row: the
        estimate [CI] and p.
    """
    drawn, _ = forest_table(stats if stats is not None else pd.DataFrame(columns=["endpoint", "analysis",
                                                                                     "estimate", "ci_low", "ci_high"]))
    if group not in drawn.columns and len(drawn):
        raise InvalidInputError(f"column {group!r} missing", source="forest", attribute=group,
                                remedy="give the column that groups the rows, e.g. endpoint")
    with _style():
        if drawn.empty:
            return _not_enough("forest", stem, 0, title)
        found = list(dict.fromkeys(drawn[group].astype(str)))
        groups = list(dict.fromkeys([str(g) for g in (group_order or []) if str(g) in found] + found))
        panels: list[tuple[str, str, pd.DataFrame]] = []
        for name in groups:
            rows = drawn[drawn[group].astype(str) == name]
            for kind in dict.fromkeys(rows["scale"]):
                panels.append((name, kind, rows[rows["scale"] == kind]))
        heights = [len(rows) + 1.6 for _, _, rows in panels]
        fig = _new_figure("forest", height=_row_height(int(sum(heights)), per_row=0.26, fixed=0.6))
        grid = fig.add_gridspec(len(panels), 1, height_ratios=heights)
        for i, (name, kind, rows) in enumerate(panels):
            scale = SCALES[kind]
            ax = fig.add_subplot(grid[i])
            ax.set_gid(f"forest_panel_{i}")
            n = len(rows)
            y = np.arange(n)[::-1].astype(float)
            values = rows[["estimate", "ci_low", "ci_high"]].to_numpy(dtype=float)
            colour = _CYCLE[0]
            if scale.reference is not None:
                ax.axvline(scale.reference, color="0.45", linestyle="--", linewidth=0.9, zorder=1,
                           gid=f"forest_reference_{i}")
            for j, (yy, (est, low, high)) in enumerate(zip(y, values, strict=True)):
                ax.plot([low, high], [yy, yy], color=colour, linewidth=1.4, solid_capstyle="butt", zorder=2,
                        gid=f"forest_ci_{i}_{j}")
                ax.plot([est], [yy], marker="s", markersize=5.5, color=colour, markeredgecolor="black",
                        markeredgewidth=0.5, linestyle="none", zorder=3, gid=f"forest_point_{i}_{j}")
                text = f"{_number(est)} [{_number(low)}, {_number(high)}]"
                p = _p_text(rows["p_value"].iloc[j]) if "p_value" in rows.columns else ""
                ax.text(1.02, yy, f"{text}  {p}".rstrip(), transform=ax.get_yaxis_transform(), ha="left",
                        va="center", fontsize=8)
            low, high = _limits(values, scale)
            if scale.log:
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(FixedLocator(_log_ticks(low, high)))
                ax.xaxis.set_minor_locator(NullLocator())
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.set_xlim(low, high)
            ax.set_ylim(-0.7, n - 0.3)
            ax.set_yticks(y, rows["label"].tolist(), fontsize=8)
            ax.tick_params(axis="y", length=0)
            ax.spines["left"].set_visible(False)
            ax.set_xlabel(scale.label, fontsize=9)
            ax.set_title(f"{name} — {scale.label.split(' (')[0].lower()}", loc="left", fontsize=10)
        if title:
            fig.suptitle(title)
        return _save(fig, stem)
