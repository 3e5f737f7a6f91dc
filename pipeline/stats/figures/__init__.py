"""Cohort-level figures: SUV vs IHC, waterfall, ROC, Kaplan–Meier, biodistribution, forest, spider, swimmer and
uptake-over-time plots.

Every function takes tidy pandas data (or plain arrays) and an output *stem* and writes ``<stem>.png``
(150 dpi) and ``<stem>.svg`` atomically, returning both paths as a :class:`FigurePaths`. The style,
determinism and input rules are in :mod:`.style`; the plots in :mod:`.categorical`, :mod:`.curves`,
:mod:`.forest` (estimates of ``stats.csv`` with their CIs) and :mod:`.timecourse`. Each endpoint
(:mod:`pipeline.stats.endpoints`) draws its own figures with these functions; the reports draw the forest,
spider, swimmer and uptake-over-time plots from the tables they read.
"""

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

__all__ = ["FigurePaths", "DPI", "MIN_N", "FIGURE_SIZES", "OKABE_ITO", "RESPONSE_COLOURS", "MISSING_COLOUR",
           "response_colour", "km_estimate", "km_medians", "median_text", "number_at_risk", "scatter_suv_vs_percent",
           "box_by_category",
           "waterfall", "roc_curves", "kaplan_meier", "biodistribution", "EffectScale", "effect_scale", "forest",
           "forest_table", "spider", "swimmer", "time_course", "axis_label", "png_only"]
