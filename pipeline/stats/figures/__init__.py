"""Cohort-level figures: SUV vs IHC, waterfall, ROC, Kaplan–Meier, biodistribution, forest, spider, swimmer and
uptake-over-time plots.

Every function takes tidy pandas data (or plain arrays) and an output *stem* and writes ``<stem>.png``
(150 dpi) and ``<stem>.svg`` atomically, returning both paths as a :class:`FigurePaths`. The style,
determinism and input rules are in :mod:`.style`; the plots in :mod:`.categorical`, :mod:`.curves`,
:mod:`.forest` (estimates of ``stats.csv`` with their CIs) and :mod:`.timecourse`. Each endpoint
(:mod:`pipeline.stats.endpoints`) draws its own figures with these functions; the reports draw the forest,
spider, swimmer and uptake-over-time plots from the tables they read.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy import lazy_attributes

if TYPE_CHECKING:  # the names for type checkers; at run time each is loaded on first use (__getattr__)
    from .categorical import biodistribution, box_by_category, scatter_suv_vs_percent, waterfall
    from .curves import kaplan_meier, km_estimate, km_medians, median_text, number_at_risk, roc_curves
    from .forest import EffectScale, effect_scale, forest, forest_table
    from .style import (
        DPI,
        FIGURE_SIZES,
        MIN_N,
        MISSING_COLOUR,
        OKABE_ITO,
        RESPONSE_COLOURS,
        FigurePaths,
        axis_label,
        png_only,
        response_colour,
    )
    from .timecourse import spider, swimmer, time_course

_HOME = {
    "biodistribution": "categorical",
    "box_by_category": "categorical",
    "scatter_suv_vs_percent": "categorical",
    "waterfall": "categorical",
    "kaplan_meier": "curves",
    "km_estimate": "curves",
    "km_medians": "curves",
    "median_text": "curves",
    "number_at_risk": "curves",
    "roc_curves": "curves",
    "EffectScale": "forest",
    "effect_scale": "forest",
    "forest": "forest",
    "forest_table": "forest",
    "DPI": "style",
    "FIGURE_SIZES": "style",
    "MIN_N": "style",
    "MISSING_COLOUR": "style",
    "OKABE_ITO": "style",
    "RESPONSE_COLOURS": "style",
    "FigurePaths": "style",
    "axis_label": "style",
    "png_only": "style",
    "response_colour": "style",
    "spider": "timecourse",
    "swimmer": "timecourse",
    "time_course": "timecourse",
}


# loaded on first use: the workflow's config validation and the CLI import this package without paying for
# scipy.stats, statsmodels, lifelines or matplotlib
__getattr__ = lazy_attributes(__name__, _HOME, globals())


__all__ = ["FigurePaths", "DPI", "MIN_N", "FIGURE_SIZES", "OKABE_ITO", "RESPONSE_COLOURS", "MISSING_COLOUR",
           "response_colour", "km_estimate", "km_medians", "median_text", "number_at_risk", "scatter_suv_vs_percent",
           "box_by_category",
           "waterfall", "roc_curves", "kaplan_meier", "biodistribution", "EffectScale", "effect_scale", "forest",
           "forest_table", "spider", "swimmer", "time_course", "axis_label", "png_only"]
