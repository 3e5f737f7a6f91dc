"""Figures over time: the spider plot (per-lesion % change), the swimmer plot (response per patient over time)
and uptake over time (one subject's lesions and organs).

The time axis is numeric (e.g. days from baseline); when the caller has only visit names it passes the visit
order as the time and the names as ``time_ticks``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ...errors import InvalidInputError
from .style import (
    _CYCLE,
    _EDGE,
    _LINESTYLES,
    FigurePaths,
    _categories,
    _category_label,
    _check_frame,
    _label,
    _new_figure,
    _not_enough,
    _numeric,
    _response_key,
    _response_order,
    _row_height,
    _save,
    _style,
    response_colour,
)

__all__ = ["spider", "swimmer", "time_course"]

_MARKERS = ("o", "D", "s", "^")


def _time_axis(ax: Any, time_label: str | None, time_ticks: Mapping[float, str] | None) -> None:
    ax.set_xlabel(time_label if time_label is not None else "Days from baseline")
    if time_ticks:
        ax.set_xticks(list(time_ticks), [str(v) for v in time_ticks.values()])


def _levels(values: Sequence[object]) -> list[str]:
    """Group labels in sorted order (natural for IDs like P01, P02), 'missing' last."""
    labels = sorted({_category_label(v) for v in values} - {"missing"})
    return labels + (["missing"] if any(_category_label(v) == "missing" for v in values) else [])


def _lines(ax: Any, df: pd.DataFrame, *, time: str, value: str, line: str, colour: str | None,
           gid: str) -> list[Any]:
    """One line per (colour, line) group, coloured by ``colour``; legend handles of the colours."""
    levels = _levels(df[colour].tolist()) if colour is not None else []
    colours = {lev: _CYCLE[i % len(_CYCLE)] for i, lev in enumerate(levels)}
    styles: dict[str, Any] = {lev: _LINESTYLES[(i // len(_CYCLE)) % len(_LINESTYLES)] for i, lev in enumerate(levels)}
    keys = [colour, line] if colour is not None else [line]
    counts: dict[str, int] = {}
    for k, (key, group) in enumerate(df.groupby(keys, sort=True, dropna=False)):
        group = group.sort_values(time)
        lev = _category_label(key[0]) if colour is not None else ""
        counts[lev] = counts.get(lev, 0) + 1
        ax.plot(group[time].to_numpy(float), group[value].to_numpy(float), color=colours.get(lev, _CYCLE[0]),
                linestyle=styles.get(lev, "-"), marker="o", markersize=3.5, linewidth=1.3, alpha=0.9,
                gid=f"{gid}_{k:03d}")
    return [Line2D([], [], color=colours[lev], linestyle=styles[lev], marker="o", markersize=3.5,
                   label=f"{lev} ({counts.get(lev, 0)})") for lev in levels]


def spider(
    df: pd.DataFrame,
    stem: str | Path,
    *,
    time: str = "day",
    value: str = "pct_change",
    line: str = "lesion_id",
    colour: str | None = "subject_id",
    reference_lines: Sequence[float] = (-30.0, 30.0),
    time_ticks: Mapping[float, str] | None = None,
    time_label: str | None = None,
    title: str | None = None,
    ylabel: str | None = None,
) -> FigurePaths:
    """Spider plot: the % change from baseline of each lesion over time, one line per lesion.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per lesion and scan (the baseline at time 0 with 0 %); rows with a missing ``time`` or ``value``
        are left out.
    stem : path-like
        Output stem.
    time, value : str
        Columns of the time (e.g. days from baseline, or the visit order) and of the % change.
    line : str
        Column naming the lesion; a line is one (``colour``, ``line``) pair, so lesion IDs may repeat across
        patients when ``colour`` is the patient.
    colour : str, optional
        Column colouring the lines (patient or arm; Okabe–Ito cycle, then dashed styles past seven groups).
    reference_lines : sequence of float
        Dashed horizontal lines in % (default ±30 %, the PERCIST thresholds); the 0 % line is always drawn.
    time_ticks : mapping of time -> text, optional
        Tick labels of the time axis (visit names when ``time`` is the visit order).
    time_label, title, ylabel : str, optional
        Axis labels (default "Days from baseline", "Change from baseline (%)") and title.

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG. Line ``k`` (sorted by colour, then lesion) has the SVG id
        ``spider_line_<k:03d>``; the legend gives the number of lesions per colour.
    """
    name = "spider"
    df = _check_frame(df, (time, value, line, colour), name)
    t, v = _numeric(df[time], time, name), _numeric(df[value], value, name)
    keep = np.isfinite(t) & np.isfinite(v)
    data = df.loc[keep].assign(**{time: t[keep], value: v[keep]})
    with _style():
        if data.empty:
            return _not_enough("spider", stem, 0, title)
        fig = _new_figure("spider")
        ax = fig.add_subplot()
        ax.axhline(0.0, color="black", linewidth=0.8, zorder=1)
        for j, ref in enumerate(reference_lines):
            ax.axhline(float(ref), color="0.45", linestyle="--", linewidth=0.9, zorder=1, gid=f"reference_line_{j}")
        handles = _lines(ax, data, time=time, value=value, line=line, colour=colour, gid="spider_line")
        if len(reference_lines):
            refs = ", ".join(f"{float(r):+g} %" for r in reference_lines).replace("-", "\u2212")
            handles.append(Line2D([], [], color="0.45", linestyle="--", linewidth=0.9, label=f"Reference ({refs})"))
        if handles:
            ax.legend(handles=handles, title=f"{_label(colour)} (lesions)" if colour else None, loc="upper left",
                      bbox_to_anchor=(1.01, 1.0), ncol=2 if len(handles) > 16 else 1)
        _time_axis(ax, time_label, time_ticks)
        ax.set_ylabel(_label(value, ylabel))
        ax.set_title(title or "")
        return _save(fig, stem)


def time_course(
    df: pd.DataFrame,
    stem: str | Path,
    *,
    time: str = "day",
    value: str = "suv_max",
    line: str = "name",
    panel: str | None = None,
    panel_order: Sequence[str] | None = None,
    panel_values: Mapping[str, str] | None = None,
    time_ticks: Mapping[float, str] | None = None,
    time_label: str | None = None,
    title: str | None = None,
) -> FigurePaths:
    """Uptake over time: one line per VOI (lesion or organ), one panel per ``panel`` level (stacked).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per VOI and scan; rows with a missing time or value are left out.
    stem : path-like
        Output stem.
    time : str
        Column of the time (days from baseline, or the visit order with ``time_ticks``).
    value : str
        Column of the value drawn (e.g. ``suv_max``), unless ``panel_values`` names another one for a panel.
    line : str
        Column naming the VOI (one line each, in the legend of its panel).
    panel : str, optional
        Column of the panel (e.g. "Lesions" / "Organs"); None: one panel.
    panel_order : sequence of str, optional
        Panel order (default: first appearance).
    panel_values : mapping of panel -> column, optional
        The column drawn in a panel instead of ``value`` (e.g. ``{"Organs": "suv_mean"}``).
    time_ticks, time_label, title : optional
        As for :func:`spider`.

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG; panel ``i`` (top = 0) has the SVG id ``time_course_panel_<i>``, its lines
        ``time_course_<i>_<k:03d>``. Width 8 in, 3 in of height per panel.
    """
    name = "time_course"
    columns = [time, value, line, panel, *((panel_values or {}).values())]
    df = _check_frame(df, columns, name)
    t = _numeric(df[time], time, name)
    df = df.assign(**{time: t})
    if panel is None:
        df = df.assign(_panel="")
        panel = "_panel"
    found = list(dict.fromkeys(str(p) for p in df[panel]))
    panels = [str(p) for p in (panel_order or []) if str(p) in found] + [p for p in found
                                                                       if p not in set(map(str, panel_order or []))]
    parts = []
    for p in panels:
        column = (panel_values or {}).get(p, value)
        rows = df[df[panel].astype(str) == p]
        v = _numeric(rows[column], column, name)
        keep = np.isfinite(rows[time].to_numpy(float)) & np.isfinite(v)
        parts.append((p, column, rows.loc[keep].assign(_value=v[keep])))
    parts = [part for part in parts if not part[2].empty]
    with _style():
        if not parts:
            return _not_enough("time_course", stem, 0, title)
        fig = _new_figure("time_course", height=round(0.6 + 3.0 * len(parts), 2))
        axes = fig.subplots(len(parts), 1, squeeze=False)[:, 0]
        for i, (ax, (p, column, rows)) in enumerate(zip(axes, parts, strict=True)):
            ax.set_gid(f"time_course_panel_{i}")
            rows = rows.assign(_line=rows[line].map(_category_label))
            handles = _lines(ax, rows, time=time, value="_value", line="_line", colour="_line",
                             gid=f"time_course_{i}")
            for handle in handles:  # one VOI per colour: the legend names the VOI only
                handle.set_label(handle.get_label().rsplit(" (", 1)[0])
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7.5,
                      ncol=2 if len(handles) > 12 else 1)
            _time_axis(ax, time_label, time_ticks)
            ax.set_ylabel(_label(column))
            ax.set_ylim(bottom=0.0 if float(rows["_value"].min()) >= 0 else None)
            ax.set_title(p, loc="left")
        if title:
            fig.suptitle(title)
        return _save(fig, stem)


def swimmer(
    df: pd.DataFrame,
    stem: str | Path,
    *,
    subject: str = "subject_id",
    time: str = "day",
    responses: Mapping[str, str] | Sequence[str] = ("overall_response",),
    bar_colour: str | None = "arm",
    ongoing: str | None = "ongoing",
    time_ticks: Mapping[float, str] | None = None,
    time_label: str | None = None,
    title: str | None = None,
) -> FigurePaths:
    """Swimmer plot: one bar per patient from baseline to the last assessment, the time-point responses as
    markers on it, and an arrow where the patient is ongoing (no progression).

    Parameters
    ----------
    df : pandas.DataFrame
        One row per patient and assessment (the baseline at time 0). Rows with a missing time are left out;
        an empty response cell draws no marker.
    stem : path-like
        Output stem.
    subject, time : str
        Columns of the patient and of the time (days from baseline, or the visit order with ``time_ticks``).
    responses : mapping of column -> legend text, or sequence of columns
        The response columns (e.g. ``{"overall_response": "RECIST 1.1", "irecist_response": "iRECIST"}``): each
        gets its marker shape and its row offset within the bar; a marker's colour is its category's
        (:data:`~pipeline.stats.figures.RESPONSE_COLOURS`, other categories the Okabe–Ito cycle).
    bar_colour : str, optional
        Column colouring the bars (the patient's first value, e.g. the arm); None: grey.
    ongoing : str, optional
        Boolean column: True on any row of a patient draws the arrow past the end of the bar.
    time_ticks, time_label, title : optional
        As for :func:`spider`.

    Returns
    -------
    FigurePaths
        Paths of the PNG and the SVG. Patients are sorted by the bar length (longest on top, ties by ID);
        patient ``i`` (top = 0) has the SVG ids ``swimmer_bar_<i:03d>`` and, when ongoing,
        ``swimmer_ongoing_<i:03d>``. Width 8 in; height grows with the patients.
    """
    name = "swimmer"
    labels = dict(responses) if isinstance(responses, Mapping) else {c: _label(c) for c in responses}
    if len(labels) > len(_MARKERS):
        raise InvalidInputError(f"{len(labels)} response columns", source=name, attribute="responses",
                                remedy=f"give at most {len(_MARKERS)}")
    df = _check_frame(df, (subject, time, bar_colour, ongoing, *labels), name)
    t = _numeric(df[time], time, name)
    data = df.loc[np.isfinite(t)].assign(**{time: t[np.isfinite(t)]})
    with _style():
        if data.empty:
            return _not_enough("swimmer", stem, 0, title)
        ends = data.groupby(subject)[time].max()
        order = sorted(ends.index, key=lambda s: (-float(ends[s]), str(s)))
        n = len(order)
        fig = _new_figure("swimmer", height=_row_height(n, per_row=0.42, fixed=1.6))
        ax = fig.add_subplot()
        x_max = float(ends.max()) if float(ends.max()) > 0 else 1.0
        bar_levels = _levels(data[bar_colour].tolist()) if bar_colour is not None else []
        bar_colours = {lev: _CYCLE[i % len(_CYCLE)] for i, lev in enumerate(bar_levels)}
        categories = [c for column in labels for c in _categories(data[column].to_numpy()) if c != "missing"]
        cat_levels = _response_order(categories)
        other = [c for c in cat_levels if _response_key(c) is None]
        cat_colours = {c: response_colour(c) for c in cat_levels if _response_key(c) is not None}
        cat_colours.update({c: _CYCLE[i % len(_CYCLE)] for i, c in enumerate(other)})
        offsets = np.linspace(0.17, -0.17, len(labels)) if len(labels) > 1 else np.zeros(1)  # first column on top
        # one bar container and one marker line per (response column, category): a few artists for any number
        # of patients, each bar keeping its SVG id (500 patients: 4.2 -> 3.6 s; the rest is rendering the lanes)
        groups = {sid: rows.sort_values(time) for sid, rows in data.groupby(subject, sort=False)}
        ys = [float(n - 1 - i) for i in range(n)]
        firsts = [_category_label(groups[sid][bar_colour].iloc[0]) if bar_colour is not None else ""
                  for sid in order]
        bars = ax.barh(ys, [float(ends[sid]) for sid in order], left=0.0, height=0.6,
                       color=[bar_colours.get(first, "#BBBBBB") for first in firsts], alpha=0.45, edgecolor=_EDGE,
                       linewidth=0.5, zorder=1)
        for i, patch in enumerate(bars.patches):
            patch.set_gid(f"swimmer_bar_{i:03d}")
        points: dict[tuple[int, str], tuple[list[float], list[float]]] = {}
        for sid, y in zip(order, ys, strict=True):
            rows = groups[sid]
            for k, column in enumerate(labels):
                cats = _categories(rows[column].to_numpy())
                for x, c in zip(rows[time].to_numpy(float), cats, strict=True):
                    if c != "missing":
                        xs, ks = points.setdefault((k, c), ([], []))
                        xs.append(float(x))
                        ks.append(y + float(offsets[k]))
        for (k, c), (xs, ks) in points.items():
            ax.plot(xs, ks, marker=_MARKERS[k], markersize=7, linestyle="none", color=cat_colours[c],
                    markeredgecolor=_EDGE, markeredgewidth=0.6, zorder=3)
        arrows = 0
        for i, sid in enumerate(order):
            rows, y = groups[sid], ys[i]
            if ongoing is not None and rows[ongoing].fillna(False).astype(bool).any():
                arrow = ax.annotate("", xy=(float(ends[sid]) + 0.07 * x_max, y), xytext=(float(ends[sid]), y),
                                    arrowprops={"arrowstyle": "-|>", "color": _EDGE, "linewidth": 1.2}, zorder=2)
                if arrow.arrow_patch is not None:
                    arrow.arrow_patch.set_gid(f"swimmer_ongoing_{i:03d}")
                arrows += 1
        ax.set_yticks(np.arange(n)[::-1], [str(s) for s in order])
        ax.set_ylim(-0.7, n - 0.3)
        ax.set_xlim(0.0, x_max * 1.12)
        ax.tick_params(axis="y", length=0)
        _time_axis(ax, time_label, time_ticks)
        ax.set_ylabel(_label(subject))
        ax.set_title(title or "")
        by_colour: dict[str, list[str]] = {}  # categories of one meaning share a colour: one legend entry
        for c in cat_levels:
            by_colour.setdefault(cat_colours[c], []).append(c)
        handles: list[Any] = [Patch(facecolor=colour, edgecolor=_EDGE, linewidth=0.5, label=" / ".join(cats))
                              for colour, cats in by_colour.items()]
        if len(labels) > 1:
            handles += [Line2D([], [], marker=_MARKERS[k], color="0.5", markeredgecolor=_EDGE, linestyle="none",
                               label=text) for k, text in enumerate(labels.values())]
        handles += [Patch(facecolor=bar_colours[lev], alpha=0.45, edgecolor=_EDGE, linewidth=0.5,
                          label=f"{_label(bar_colour)} {lev}") for lev in bar_levels]
        if arrows:
            handles.append(Line2D([], [], color=_EDGE, marker=">", markersize=6, linewidth=1.2,
                                  label="Ongoing (no progression)"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        return _save(fig, stem)
