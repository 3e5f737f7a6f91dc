"""Cohort-level figures: SUV vs IHC, waterfall, ROC, Kaplan–Meier and biodistribution plots.

Every function takes tidy pandas data (or plain arrays) and an output *stem* and writes ``<stem>.png``
(150 dpi) and ``<stem>.svg`` atomically, returning both paths as a :class:`FigurePaths`.

Design choices
--------------
* Matplotlib's object API only (:class:`matplotlib.figure.Figure` on an Agg canvas), never ``pyplot``:
  no global figure registry, no GUI backend. The rcParams needed for the style are applied with
  :func:`matplotlib.rc_context` under a module lock, so concurrent calls from threads in this module do
  not see each other's settings; separate processes are independent anyway.
* Deterministic output: the same data gives byte-identical PNG and SVG files. PNG metadata carries no
  software or date entry, SVG metadata no date or creator, SVG element ids are derived from a fixed
  ``svg.hashsalt``, text is written as SVG ``<text>`` (``svg.fonttype = "none"``) with the bundled
  DejaVu Sans font, the layout engine is deterministic (constrained layout, fixed figure sizes so
  the pixel dimensions are known in advance), and jitter uses a seeded generator.
* Style: 10 pt DejaVu Sans, no top/right spines, the Okabe–Ito colour-blind-safe palette, and one
  fixed colour per response category (RECIST 1.1, iRECIST and PERCIST share colours by meaning:
  CR = iCR = CMR, PR = iPR = PMR, SD = iSD = SMD, PD = iCPD = PMD). SUV is unitless by convention
  (``g/mL`` is not shown).
* Empty or too-small inputs (fewer than :data:`MIN_N` usable observations) give a figure that says
  ``not enough data (n = …)`` instead of raising; malformed inputs (missing columns, non-numeric
  values, infinite values, probabilities outside [0, 1], negative survival times) raise
  :class:`~pipeline.errors.InvalidInputError`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from ..errors import InvalidInputError
from ..io import atomic_path

__all__ = [
    "FigurePaths",
    "DPI",
    "MIN_N",
    "FIGURE_SIZES",
    "OKABE_ITO",
    "RESPONSE_COLOURS",
    "MISSING_COLOUR",
    "response_colour",
    "km_estimate",
    "number_at_risk",
    "scatter_suv_vs_percent",
    "box_by_category",
    "waterfall",
    "roc_curves",
    "kaplan_meier",
    "biodistribution",
]

DPI = 150
"""Resolution of the PNG files (dots per inch)."""

MIN_N = 2
"""Fewest usable observations for which a figure is drawn; below it the 'not enough data' figure."""

FIGURE_SIZES: dict[str, tuple[float, float]] = {
    "scatter": (6.0, 4.5),
    "box": (6.0, 4.5),
    "waterfall": (8.0, 4.5),
    "roc": (5.5, 5.5),
    "kaplan_meier": (7.0, 5.5),
    "biodistribution": (8.0, 4.5),
}
"""Figure sizes in inches; PNG pixel size = size × :data:`DPI`."""

OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
"""The Okabe–Ito colour-blind-safe palette."""

# Line/point colours for unordered groups (yellow is left out: too pale for lines on white).
_CYCLE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_LINESTYLES = ("-", "--", "-.", ":")

_CR, _PR, _SD, _NN, _PD, _NE, _UPD = (OKABE_ITO["blue"], OKABE_ITO["sky_blue"], OKABE_ITO["yellow"],
                                      OKABE_ITO["bluish_green"], OKABE_ITO["vermillion"], "#999999",
                                      OKABE_ITO["reddish_purple"])
RESPONSE_COLOURS: dict[str, str] = {
    # RECIST 1.1
    "CR": _CR, "PR": _PR, "SD": _SD, "Non-CR/Non-PD": _NN, "PD": _PD, "NE": _NE,
    # iRECIST
    "iCR": _CR, "iPR": _PR, "iSD": _SD, "Non-iCR/Non-iUPD": _NN, "iUPD": _UPD, "iCPD": _PD,
    # PERCIST (and EORTC) metabolic response
    "CMR": _CR, "PMR": _PR, "SMD": _SD, "PMD": _PD,
}
"""Fixed colour per response category (also the legend order)."""

MISSING_COLOUR = "#DDDDDD"
"""Colour of a missing (empty) response category."""

_RESPONSE_LOOKUP = {k.lower(): k for k in RESPONSE_COLOURS}
_MISSING_LABEL = "missing"
_EDGE = "#333333"

_PNG_METADATA = {"Software": None, "Date": None}
_SVG_METADATA = {"Date": None, "Creator": None}
_STYLE: dict[str, Any] = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 10.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "legend.fontsize": 8.5,
    "legend.title_fontsize": 9.0,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "axes.prop_cycle": mpl.cycler(color=list(_CYCLE)),
    "axes.unicode_minus": True,
    "lines.linewidth": 1.6,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.dpi": DPI,
    "svg.fonttype": "none",
    "svg.hashsalt": "petvoi-figures",
    "svg.image_inline": True,
    "path.simplify": False,
}

_LABELS = {
    "suv_max": "SUVmax",
    "suv_mean": "SUVmean",
    "suv_peak": "SUVpeak",
    "suv_median": "SUVmedian",
    "sul_peak": "SULpeak",
    "percent_positive": "Positive cells (%)",
    "pct_change": "Change from baseline (%)",
    "intensity": "IHC intensity",
    "organ": "Organ",
    "timepoint": "Time point",
    "response": "Response",
    "volume_ml": "Volume (mL)",
    "tlg": "TLG (mL)",
}

_LOCK = threading.RLock()


class FigurePaths(NamedTuple):
    """The two files written for one figure."""

    png: Path
    svg: Path


# --------------------------------------------------------------------------------------------- helpers


def response_colour(category: object) -> str:
    """Return the fixed colour of a response category (case-insensitive).

    Parameters
    ----------
    category : str
        RECIST 1.1 (CR, PR, SD, Non-CR/Non-PD, PD, NE), iRECIST (iCR, iPR, iSD, Non-iCR/Non-iUPD,
        iUPD, iCPD) or PERCIST (CMR, PMR, SMD, PMD) category; empty or missing gives
        :data:`MISSING_COLOUR`.

    Raises
    ------
    InvalidInputError
        If the category is not one of the above.
    """
    key = _response_key(category)
    if key is None:
        raise InvalidInputError(f"unknown response category {category!r}", attribute="response",
                                remedy=f"use one of {', '.join(RESPONSE_COLOURS)}")
    return MISSING_COLOUR if key == _MISSING_LABEL else RESPONSE_COLOURS[key]


def _response_key(category: object) -> str | None:
    if (category is None or (isinstance(category, float) and np.isnan(category))
            or str(category).strip() in ("", _MISSING_LABEL)):
        return _MISSING_LABEL
    return _RESPONSE_LOOKUP.get(str(category).strip().lower())


def _label(column: str | None, override: str | None = None) -> str:
    if override is not None:
        return override
    if column is None:
        return ""
    if column in _LABELS:
        return _LABELS[column]
    text = str(column)
    for suffix, unit in (("_ml", "mL"), ("_pct", "%"), ("_percent", "%"), ("_s", "s"), ("_mm", "mm")):
        if text.endswith(suffix):
            return f"{text[: -len(suffix)].replace('_', ' ').capitalize()} ({unit})"
    return text.replace("_", " ").capitalize()


def _category_label(value: object) -> str:
    """Category as text: integer-valued numbers lose their '.0' so 1.0 and '1' match."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return _MISSING_LABEL
    if isinstance(value, str) and not value.strip():
        return _MISSING_LABEL
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _categories(values: Iterable[object]) -> np.ndarray:
    """Category labels; response categories in their canonical spelling (``"pd"`` → ``"PD"``)."""
    out = []
    for v in values:
        label = _category_label(v)
        out.append(_RESPONSE_LOOKUP.get(label.lower(), label) if label != _MISSING_LABEL else label)
    return np.array(out, dtype=object)


def _check_frame(df: pd.DataFrame | None, columns: Iterable[str | None], function: str) -> pd.DataFrame:
    if df is None:
        df = pd.DataFrame()
    if not isinstance(df, pd.DataFrame):
        raise InvalidInputError(f"expected a pandas DataFrame, got {type(df).__name__}", source=function)
    needed = [c for c in columns if c is not None]
    missing = [c for c in needed if c not in df.columns]
    if missing and len(df.columns) > 0:
        raise InvalidInputError(f"column(s) {', '.join(map(repr, missing))} missing", source=function,
                                attribute=", ".join(missing),
                                remedy=f"the table has {', '.join(map(str, df.columns))}; pass the column names")
    if missing:  # an empty frame without columns: treat as no data
        return pd.DataFrame({c: pd.Series(dtype=float) for c in needed})
    return df


def _numeric(values: ArrayLike, name: str, function: str) -> np.ndarray:
    """Float array; NaN stays NaN (dropped by the caller), text or ±inf raises."""
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    converted = pd.to_numeric(series, errors="coerce").astype(float)
    bad = converted.isna() & series.notna()
    if bad.any():
        raise InvalidInputError(f"non-numeric value {series[bad].iloc[0]!r}", source=function, attribute=name,
                                remedy="give numbers (empty cells are allowed and left out)")
    out = converted.to_numpy(dtype=float)
    if np.isinf(out).any():
        raise InvalidInputError("infinite value", source=function, attribute=name,
                                remedy="check the computation of this column (e.g. a % change from zero)")
    return out


def _group_colours(labels: Sequence[str]) -> dict[str, str]:
    """Response colours if every label is a response category, else the Okabe–Ito cycle in the given order."""
    keys = [_response_key(lab) for lab in labels]
    if labels and all(k is not None for k in keys):
        return {lab: (MISSING_COLOUR if k == _MISSING_LABEL else RESPONSE_COLOURS[k])
                for lab, k in zip(labels, keys, strict=True)}
    return {lab: _CYCLE[i % len(_CYCLE)] for i, lab in enumerate(labels)}


def _response_order(labels: Iterable[str]) -> list[str]:
    """Known response categories in the fixed order, then others in sorted order, missing last."""
    labels = list(dict.fromkeys(labels))
    fixed = list(RESPONSE_COLOURS)
    known = sorted((lab for lab in labels if _response_key(lab) in RESPONSE_COLOURS),
                   key=lambda lab: fixed.index(_response_key(lab)))
    other = sorted(lab for lab in labels if _response_key(lab) is None)
    missing = [lab for lab in labels if _response_key(lab) == _MISSING_LABEL]
    return known + other + missing


@contextmanager
def _style():
    with _LOCK, mpl.rc_context(_STYLE):
        yield


def _new_figure(kind: str) -> Figure:
    fig = Figure(figsize=FIGURE_SIZES[kind], dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _paths(stem: str | Path) -> FigurePaths:
    stem = Path(stem)
    return FigurePaths(stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.svg")


def _save(fig: Figure, stem: str | Path) -> FigurePaths:
    paths = _paths(stem)
    with atomic_path(paths.png) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata=_PNG_METADATA)
    with atomic_path(paths.svg) as tmp:
        fig.savefig(tmp, format="svg", metadata=_SVG_METADATA)
    return paths


def _not_enough(kind: str, stem: str | Path, n: int, title: str | None) -> FigurePaths:
    fig = _new_figure(kind)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"not enough data (n = {n})", ha="center", va="center", fontsize=14, color="0.3",
            transform=ax.transAxes, gid="not_enough_data")
    if title:
        ax.set_title(title)
    return _save(fig, stem)


def _annotate(ax: Any, text: str | None, *, loc: str = "upper left") -> None:
    if not text:
        return
    x, ha = (0.02, "left") if "left" in loc else (0.98, "right")
    y, va = (0.98, "top") if "upper" in loc else (0.03, "bottom")
    ax.text(x, y, text, transform=ax.transAxes, ha=ha, va=va, fontsize=9, gid="annotation",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.7", "linewidth": 0.6})


# --------------------------------------------------------------------------------------------- scatter


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


def km_estimate(time: ArrayLike, event: ArrayLike) -> pd.DataFrame:
    """Kaplan–Meier product-limit estimate.

    Parameters
    ----------
    time : array-like
        Follow-up times (≥ 0, any unit).
    event : array-like
        1 (or True) for an event, 0 for a censored observation.

    Returns
    -------
    pandas.DataFrame
        One row per distinct observed time, ascending: ``time``, ``n_at_risk`` (time ≥ t), ``n_events``,
        ``n_censored``, ``survival`` (S just after t). Censoring at an event time counts after the event.
    """
    t, e = _survival_data(time, event, "km_estimate")
    times = np.unique(t)
    at_risk = np.array([(t >= u).sum() for u in times], dtype=int)
    events = np.array([(e & (t == u)).sum() for u in times], dtype=int)
    censored = np.array([(~e & (t == u)).sum() for u in times], dtype=int)
    with np.errstate(divide="ignore", invalid="ignore"):
        factors = np.where(at_risk > 0, 1.0 - events / np.maximum(at_risk, 1), 1.0)
    return pd.DataFrame({"time": times, "n_at_risk": at_risk, "n_events": events, "n_censored": censored,
                         "survival": np.cumprod(factors)})


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
) -> FigurePaths:
    """Kaplan–Meier curves per group with censoring ticks and a number-at-risk table under the plot.

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
            ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(0.0, t_max if t_max > 0 else 1.0)
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
        for i, (label, (t, e)) in enumerate(data.items()):
            colour, style = _CYCLE[i % len(_CYCLE)], _LINESTYLES[i % len(_LINESTYLES)]
            text = f"{label} (n = {t.size}, events = {int(e.sum())})"
            if t.size == 0:
                ax.plot([], [], color=colour, linestyle=style, label=text)
                continue
            table = km_estimate(t, e)
            xs = np.concatenate([[0.0], table["time"].to_numpy()])
            ys = np.concatenate([[1.0], table["survival"].to_numpy()])
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
