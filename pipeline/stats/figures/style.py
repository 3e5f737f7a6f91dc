"""The style, colours, checks and file writing shared by the cohort figures.

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
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.rcsetup import cycler
from numpy.typing import ArrayLike

from ...errors import InvalidInputError
from ...io import atomic_path

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

__all__ = ["FigurePaths", "DPI", "MIN_N", "FIGURE_SIZES", "OKABE_ITO", "RESPONSE_COLOURS", "MISSING_COLOUR",
           "response_colour", "axis_label", "png_only"]

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
    "forest": (8.0, 4.5),
    "spider": (8.0, 4.5),
    "swimmer": (8.0, 4.5),
    "time_course": (8.0, 4.0),
}
"""Figure sizes in inches; PNG pixel size = size × :data:`DPI`. The forest and swimmer plots keep the width and
grow in height with their rows (``_row_height``); their 'not enough data' figure has the size given here."""

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
_STYLE: dict[RcKeyType, Any] = {
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
    "axes.prop_cycle": cycler(color=list(_CYCLE)),
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
    "subject_id": "Patient",
    "arm": "Arm",
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


def axis_label(column: str) -> str:
    """How the figures name a column: ``suv_max`` -> ``SUVmax``, ``volume_ml`` -> ``Volume (mL)``."""
    return _label(column)


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
    known = [k for k in keys if k is not None]
    if labels and len(known) == len(keys):
        return {lab: (MISSING_COLOUR if k == _MISSING_LABEL else RESPONSE_COLOURS[k])
                for lab, k in zip(labels, known, strict=True)}
    return {lab: _CYCLE[i % len(_CYCLE)] for i, lab in enumerate(labels)}


def _response_order(labels: Iterable[str]) -> list[str]:
    """Known response categories in the fixed order, then others in sorted order, missing last."""
    labels = list(dict.fromkeys(labels))
    fixed: list[str | None] = list(RESPONSE_COLOURS)
    known = sorted((lab for lab in labels if _response_key(lab) in RESPONSE_COLOURS),
                   key=lambda lab: fixed.index(_response_key(lab)))
    other = sorted(lab for lab in labels if _response_key(lab) is None)
    missing = [lab for lab in labels if _response_key(lab) == _MISSING_LABEL]
    return known + other + missing


@contextmanager
def _style() -> Iterator[None]:
    with _LOCK, mpl.rc_context(_STYLE):
        yield


def _row_height(n_rows: int, *, per_row: float = 0.28, fixed: float = 1.2) -> float:
    """Height in inches of a figure with one line per row (forest, swimmer): ``fixed + per_row × n_rows``."""
    return round(fixed + per_row * max(int(n_rows), 1), 2)


def _new_figure(kind: str, height: float | None = None) -> Figure:
    width, default = FIGURE_SIZES[kind]
    fig = Figure(figsize=(width, default if height is None else height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _paths(stem: str | Path) -> FigurePaths:
    stem = Path(stem)
    return FigurePaths(stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.svg")


_SVG = ContextVar("petvoi_figures_svg", default=True)


@contextmanager
def png_only() -> Iterator[None]:
    """Within this block the figure functions write the PNG only (the reports embed PNGs; the SVG of
    :class:`FigurePaths` is then not written)."""
    token = _SVG.set(False)
    try:
        yield
    finally:
        _SVG.reset(token)


def _save(fig: Figure, stem: str | Path) -> FigurePaths:
    paths = _paths(stem)
    with atomic_path(paths.png) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, metadata=_PNG_METADATA)
    if _SVG.get():
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
