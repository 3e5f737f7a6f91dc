"""Figures of categories and groups: SUV vs IHC (scatter, box), the response waterfall, biodistribution."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .style import (
    _CYCLE,
    _EDGE,
    _MISSING_LABEL,
    MIN_N,
    FigurePaths,
    _annotate,
    _categories,
    _category_label,
    _check_frame,
    _group_colours,
    _label,
    _new_figure,
    _not_enough,
    _numeric,
    _response_key,
    _response_order,
    _save,
    _style,
    response_colour,
)

__all__ = ["scatter_suv_vs_percent", "box_by_category", "waterfall", "biodistribution"]


def scatter_suv_vs_percent(
    df: pd.DataFrame,
    stem: str | Path,
    *,
    x: str = "percent_positive",
    y: str = "suv_max",
    hue: str | None = None,
    title: str | None = None,
    annotation: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> FigurePaths:
    """Scatter of an SUV against the percentage of positive cells (continuous IHC score).

    No regression line is drawn; a trend statistic computed by the caller (e.g.
    ``"ρ = 0.99 [0.96, 1.00], p < 0.001"``) is shown as ``annotation``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per biopsy/lesion; rows with a missing ``x`` or ``y`` are left out.
    stem : path-like
        Output stem; ``<stem>.png`` and ``<stem>.svg`` are written.
    x, y : str
        Columns of % positive cells (0–100, %) and of the SUV (unitless).
    hue : str, optional
        Categorical column colouring the points (response categories get their fixed colours).
    title, annotation, xlabel, ylabel : str, optional
        Figure title, annotation text (upper left), and axis-label overrides.

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG.
    """
    name = "scatter_suv_vs_percent"
    df = _check_frame(df, (x, y, hue), name)
    xs, ys = _numeric(df[x], x, name), _numeric(df[y], y, name)
    keep = np.isfinite(xs) & np.isfinite(ys)
    n = int(keep.sum())
    with _style():
        if n < MIN_N:
            return _not_enough("scatter", stem, n, title)
        fig = _new_figure("scatter")
        ax = fig.add_subplot()
        if hue is None:
            ax.scatter(xs[keep], ys[keep], s=36, color=_CYCLE[0], edgecolor="white", linewidth=0.5, zorder=3,
                       gid="points")
        else:
            cats = _categories(df[hue].to_numpy())[keep]
            labels = _response_order(cats) if all(_response_key(c) is not None for c in cats) \
                else sorted(set(cats) - {_MISSING_LABEL}) + ([_MISSING_LABEL] if _MISSING_LABEL in cats else [])
            colours = _group_colours(labels)
            for i, lab in enumerate(labels):
                sel = cats == lab
                ax.scatter(xs[keep][sel], ys[keep][sel], s=36, color=colours[lab], edgecolor=_EDGE, linewidth=0.4,
                           zorder=3, label=f"{lab} (n = {int(sel.sum())})", gid=f"points_{i}")
            ax.legend(title=_label(hue), loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set_xlabel(_label(x, xlabel))
        ax.set_ylabel(_label(y, ylabel))
        ax.set_title(title or "")
        _annotate(ax, f"{annotation}\nn = {n}" if annotation else f"n = {n}")
        return _save(fig, stem)


# --------------------------------------------------------------------------------------------- box


def box_by_category(
    df: pd.DataFrame,
    stem: str | Path,
    *,
    category: str = "intensity",
    value: str = "suv_max",
    order: Sequence[object] | None = ("0", "1+", "2+", "3+"),
    title: str | None = None,
    annotation: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    seed: int = 0,
) -> FigurePaths:
    """Box plots of a value per category with the individual points jittered on top.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per observation; rows with a missing ``value`` are left out.
    stem : path-like
        Output stem.
    category : str
        Column of the categories (e.g. IHC intensity 0/1+/2+/3+, or a response category). Integer-valued
        numbers match their text (``1.0`` matches ``"1"``).
    value : str
        Column of the value (e.g. SUVmax, unitless).
    order : sequence, optional
        Category order on the x axis. Categories in ``order`` with no data are shown with ``n = 0``;
        categories found in the data but not in ``order`` are appended in sorted order (never dropped).
        ``None``: sorted order.
    title, annotation, xlabel, ylabel : str, optional
        Figure title, annotation text (e.g. the Jonckheere–Terpstra trend p), axis-label overrides.
    seed : int
        Seed of the horizontal jitter of the points.

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG. The x tick labels read ``<category>`` and ``(n = k)``.
    """
    name = "box_by_category"
    df = _check_frame(df, (category, value), name)
    vals = _numeric(df[value], value, name)
    cats = _categories(df[category].to_numpy())
    keep = np.isfinite(vals)
    vals, cats = vals[keep], cats[keep]
    n = int(vals.size)
    levels = list(_categories(order)) if order is not None else []
    levels = list(dict.fromkeys(levels))
    levels += sorted(set(cats) - set(levels) - {_MISSING_LABEL})
    if _MISSING_LABEL in cats and _MISSING_LABEL not in levels:
        levels.append(_MISSING_LABEL)
    with _style():
        if n < MIN_N:
            return _not_enough("box", stem, n, title)
        fig = _new_figure("box")
        ax = fig.add_subplot()
        rng = np.random.default_rng(seed)
        response_like = all(_response_key(lev) is not None for lev in levels)
        colours = _group_colours(levels) if response_like else dict.fromkeys(levels, _CYCLE[0])
        ticklabels = []
        for pos, lev in enumerate(levels, start=1):
            group = vals[cats == lev]
            ticklabels.append(f"{lev}\n(n = {group.size})")
            if group.size == 0:
                continue
            ax.boxplot(group, positions=[pos], widths=0.55, showfliers=False, patch_artist=True,
                       boxprops={"facecolor": "#F2F2F2", "edgecolor": _EDGE, "linewidth": 0.9},
                       medianprops={"color": _EDGE, "linewidth": 1.6},
                       whiskerprops={"color": _EDGE, "linewidth": 0.9}, capprops={"color": _EDGE, "linewidth": 0.9})
            jitter = rng.uniform(-0.13, 0.13, size=group.size)
            ax.scatter(pos + jitter, group, s=22, color=colours[lev], edgecolor=_EDGE, linewidth=0.4, alpha=0.9,
                       zorder=3, gid=f"points_{pos}")
        ax.set_xticks(range(1, len(levels) + 1), ticklabels)
        ax.set_xlim(0.4, len(levels) + 0.6)
        ax.set_xlabel(_label(category, xlabel))
        ax.set_ylabel(_label(value, ylabel))
        ax.set_title(title or "")
        _annotate(ax, annotation)
        return _save(fig, stem)


# --------------------------------------------------------------------------------------------- waterfall


def waterfall(
    df: pd.DataFrame,
    stem: str | Path,
    *,
    value: str = "pct_change",
    colour: str | None = "response",
    label: str | None = None,
    reference_lines: Sequence[float] = (-30.0, 20.0),
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> FigurePaths:
    """Waterfall plot: one bar per subject/lesion, sorted from the largest increase to the largest decrease.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per subject (or lesion); rows with a missing ``value`` are left out.
    stem : path-like
        Output stem.
    value : str
        Column of the % change (e.g. % change of SOD or of SUVpeak from baseline).
    colour : str, optional
        Column of the response category colouring the bars (fixed colours, see :data:`RESPONSE_COLOURS`;
        other categories take the Okabe–Ito cycle in sorted order; an empty cell is "missing").
        ``None``: one colour.
    label : str, optional
        Column of bar labels (subject or lesion ids) written under the bars (up to 60 bars).
    reference_lines : sequence of float
        Horizontal dashed lines in % (default the RECIST −30 % / +20 % thresholds); empty for none.
    title, xlabel, ylabel : str, optional
        Title and axis-label overrides.

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG. In the SVG, bar ``i`` (0 = leftmost) is the group with id
        ``waterfall_bar_<i:03d>``. Ties keep the input order.
    """
    name = "waterfall"
    df = _check_frame(df, (value, colour, label), name)
    vals = _numeric(df[value], value, name)
    keep = np.isfinite(vals)
    n = int(keep.sum())
    with _style():
        if n < 1:
            return _not_enough("waterfall", stem, n, title)
        order = np.argsort(-vals[keep], kind="stable")
        sorted_vals = vals[keep][order]
        if colour is not None:
            cats = _categories(df[colour].to_numpy())[keep][order]
            levels = _response_order(cats)
            other = [lev for lev in levels if _response_key(lev) is None]
            colours = {lev: response_colour(lev) for lev in levels if _response_key(lev) is not None}
            colours.update({lev: _CYCLE[i % len(_CYCLE)] for i, lev in enumerate(other)})
            bar_colours = [colours[c] for c in cats]
        else:
            levels, bar_colours = [], [_CYCLE[0]] * n
        fig = _new_figure("waterfall")
        ax = fig.add_subplot()
        positions = np.arange(n)
        bars = ax.bar(positions, sorted_vals, width=0.8, color=bar_colours, edgecolor=_EDGE, linewidth=0.4,
                      zorder=2)
        for i, bar in enumerate(bars):
            bar.set_gid(f"waterfall_bar_{i:03d}")
        ax.axhline(0.0, color="black", linewidth=0.8, zorder=3)
        for j, ref in enumerate(reference_lines):
            ax.axhline(float(ref), color="0.35", linestyle="--", linewidth=0.9, zorder=1, gid=f"reference_line_{j}")
        if label is not None and n <= 60:
            ids = df[label].to_numpy()[keep][order]
            ax.set_xticks(positions, [str(v) for v in ids], rotation=90, fontsize=7)
        else:
            ax.set_xticks([])
        ax.set_xlim(-0.7, n - 0.3)
        ax.set_xlabel(xlabel if xlabel is not None else f"Subjects / lesions, sorted (n = {n})")
        ax.set_ylabel(_label(value, ylabel))
        ax.set_title(title or "")
        handles: list[Any] = []
        if levels:
            counts = {lev: int(np.sum(cats == lev)) for lev in levels}
            handles = [Patch(facecolor=colours[lev], edgecolor=_EDGE, linewidth=0.4, label=f"{lev} (n = {counts[lev]})")
                       for lev in levels]
        if len(reference_lines):
            refs = ", ".join(f"{float(r):+g} %" for r in reference_lines).replace("-", "\u2212")
            handles.append(Line2D([], [], color="0.35", linestyle="--", linewidth=0.9, label=f"Reference ({refs})"))
        if handles:
            ax.legend(handles=handles, title=_label(colour) if levels else None, loc="upper left",
                      bbox_to_anchor=(1.01, 1.0))
        return _save(fig, stem)


# --------------------------------------------------------------------------------------------- ROC


def biodistribution(
    df: pd.DataFrame,
    stem: str | Path,
    *,
    organ: str = "organ",
    value: str = "suv_mean",
    group: str | None = "timepoint",
    organ_order: Sequence[str] | None = None,
    group_order: Sequence[str] | None = None,
    title: str | None = None,
    ylabel: str | None = None,
    seed: int = 0,
) -> FigurePaths:
    """Grouped bar chart of mean ± SD of an organ value per organ and time point, with the individual points.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per (subject, time point, organ VOI); rows with a missing ``value`` are left out.
    stem : path-like
        Output stem.
    organ, value, group : str
        Columns of the organ name, the value (e.g. SUVmean, unitless) and the grouping (time point);
        ``group=None`` for one group.
    organ_order, group_order : sequence of str, optional
        Order of organs on the x axis and of the groups within an organ; default the order of first
        appearance in ``df``. Organs or groups absent from an order given are appended after it.
    title, ylabel : str, optional
        Title and y-axis label override.
    seed : int
        Seed of the horizontal jitter of the points.

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG. The bar height is the mean, the error bar the sample SD (ddof = 1;
        none for a single value).
    """
    name = "biodistribution"
    df = _check_frame(df, (organ, value, group), name)
    vals = _numeric(df[value], value, name)
    keep = np.isfinite(vals)
    n = int(keep.sum())
    organs = np.array([_category_label(v) for v in df[organ].to_numpy()], dtype=object)[keep]
    groups = (np.array([_category_label(v) for v in df[group].to_numpy()], dtype=object)[keep] if group is not None
              else np.full(n, "all", dtype=object))
    vals = vals[keep]

    def _ordered(found: np.ndarray, given: Sequence[str] | None) -> list[str]:
        first = list(dict.fromkeys(found))
        head = [str(g) for g in given] if given is not None else []
        return list(dict.fromkeys(head + first))

    with _style():
        if n < 1:
            return _not_enough("biodistribution", stem, n, title)
        organ_levels, group_levels = _ordered(organs, organ_order), _ordered(groups, group_order)
        colours = {g: _CYCLE[i % len(_CYCLE)] for i, g in enumerate(group_levels)}
        fig = _new_figure("biodistribution")
        ax = fig.add_subplot()
        rng = np.random.default_rng(seed)
        width = 0.8 / len(group_levels)
        for j, g in enumerate(group_levels):
            offsets = np.arange(len(organ_levels)) - 0.4 + width * (j + 0.5)
            means, sds = np.full(len(organ_levels), np.nan), np.full(len(organ_levels), np.nan)
            for i, o in enumerate(organ_levels):
                sel = vals[(organs == o) & (groups == g)]
                if sel.size:
                    means[i] = sel.mean()
                    sds[i] = sel.std(ddof=1) if sel.size > 1 else np.nan
                    jitter = rng.uniform(-0.25 * width, 0.25 * width, size=sel.size)
                    ax.scatter(offsets[i] + jitter, sel, s=12, color="black", alpha=0.75, linewidth=0, zorder=4)
            has = np.isfinite(means)
            label = f"{g} (n = {int(np.sum(groups == g))})" if group is not None else None
            ax.bar(offsets[has], means[has], width=width * 0.92, color=colours[g], edgecolor=_EDGE, linewidth=0.4,
                   alpha=0.85, zorder=2, label=label, gid=f"bars_{j}")
            err = has & np.isfinite(sds)
            if err.any():
                ax.errorbar(offsets[err], means[err], yerr=sds[err], fmt="none", ecolor=_EDGE, elinewidth=0.9,
                            capsize=2.5, zorder=3)
        ax.set_xticks(range(len(organ_levels)), organ_levels, rotation=30 if len(organ_levels) > 6 else 0,
                      ha="right" if len(organ_levels) > 6 else "center")
        ax.set_xlim(-0.6, len(organ_levels) - 0.4)
        ax.set_ylim(bottom=0.0 if np.nanmin(vals) >= 0 else None)
        ax.set_xlabel(_label(organ))
        ax.set_ylabel(f"{_label(value, ylabel)} (mean ± SD)" if ylabel is None else ylabel)
        ax.set_title(title or "")
        if group is not None:
            ax.legend(title=_label(group), loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _save(fig, stem)
