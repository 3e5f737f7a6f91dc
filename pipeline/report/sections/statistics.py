"""Cohort report, estimates with 95 % CI: per endpoint, the forest plot of its estimates
(:func:`pipeline.stats.figures.forest`: ratios and hazard ratios on a log axis at 1, differences and
correlations at 0, AUC at 0.5), the rows it cannot draw (no estimate or no finite CI) listed under it, and a
compact table (analysis, estimand, estimate [CI], p, p adjusted). The full table of ``stats.csv`` is in the
appendix (:mod:`.appendix`)."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import pandas as pd

from ...stats.figures import forest, forest_table
from ..inputs import CohortInputs
from ..render import Section, column_cell, drawn_png, embedded_figure, fmt_p, is_missing, text

__all__ = ["SECTION", "REQUIRED"]

#: Columns of ``stats.csv`` the forest plots need.
REQUIRED = ("endpoint", "analysis", "estimate", "ci_low", "ci_high")
_SLUG = re.compile(r"[^A-Za-z0-9_-]+")


def _compact(r: pd.Series) -> dict[str, Any]:
    has_ci = not (is_missing(r.get("ci_low")) and is_missing(r.get("ci_high")))
    return {"analysis": text(r.get("analysis")), "variable": text(r.get("variable")), "level": text(r.get("level")),
            "estimand": text(r.get("estimand")), "estimate": column_cell(r.get("estimate"), "summary:estimate"),
            "ci_low": column_cell(r.get("ci_low"), "summary:ci_low"),
            "ci_high": column_cell(r.get("ci_high"), "summary:ci_high"), "has_ci": has_ci,
            "p_value": column_cell(r.get("p_value"), "summary:p_value", fmt_p(r.get("p_value"))),
            "p_adjusted": column_cell(r.get("p_adjusted"), "summary:p_adjusted", fmt_p(r.get("p_adjusted")))}


def _caption(endpoint: str, drawn: pd.DataFrame) -> str:
    scales = ", ".join(dict.fromkeys(drawn["scale"].str.replace("_", " ")))
    return (f"Forest plot of {endpoint}: estimates (squares) with their 95% CI (lines), one panel per scale "
            f"({scales}); ratios on a log axis with the reference at 1, differences and correlations at 0, AUC at "
            f"0.5 (dashed). Right: estimate [CI] and the unadjusted p.")


def build(inputs: CohortInputs) -> dict[str, Any]:
    """``stats``: one group per endpoint in table order, each with ``figure`` (None when no row has a finite
    CI), ``skipped`` (label and reason of the rows not drawn) and the compact ``rows`` (None when ``stats.csv``
    is missing); ``stats_missing_columns`` names required columns the table lacks (no forest plots then)."""
    stats = inputs.stats
    if stats is None:
        return {"stats": None, "stats_missing_columns": []}
    missing = [c for c in REQUIRED if c not in stats.columns]
    if "endpoint" not in stats.columns:
        return {"stats": [], "stats_missing_columns": missing}
    drawn, skipped = forest_table(stats) if not missing else (None, None)
    groups = []
    for endpoint in dict.fromkeys(stats["endpoint"].astype(str)):
        rows = stats[stats["endpoint"].astype(str) == endpoint]
        figure, not_drawn = None, []
        if drawn is not None and skipped is not None:
            mine = drawn[drawn["endpoint"].astype(str) == endpoint]
            not_drawn = [{"label": str(r["label"]), "reason": str(r["reason"])}
                         for _, r in skipped[skipped["endpoint"].astype(str) == endpoint].iterrows()]
            if len(mine):
                slug = _SLUG.sub("-", endpoint).strip("-") or "endpoint"
                png = drawn_png(partial(forest, rows))
                figure = embedded_figure(f"forest_{slug}", _caption(endpoint, mine), png,
                                         element_id=f"forest-{slug}")
        groups.append({"endpoint": endpoint, "figure": figure, "skipped": not_drawn,
                       "rows": [_compact(r) for _, r in rows.iterrows()]})
    return {"stats": groups, "stats_missing_columns": missing}


SECTION = Section("statistics", build)
