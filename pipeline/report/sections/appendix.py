"""Cohort report, appendix: the full table of ``stats.csv`` grouped by endpoint (analysis, variable, level,
estimand, subjects, lesions, estimate [95 % CI], statistic, p, Benjamini-Hochberg adjusted p, method, notes),
every number with its exact value in ``data-value``."""

from __future__ import annotations

from typing import Any

from ..inputs import CohortInputs
from ..render import Section, column_cell, fmt_p, is_missing, text

__all__ = ["SECTION"]


def build(inputs: CohortInputs) -> dict[str, Any]:
    """``appendix``: one group per endpoint in table order (None when ``stats.csv`` is missing)."""
    stats = inputs.stats
    if stats is None:
        return {"appendix": None}
    groups = []
    for endpoint in dict.fromkeys(stats["endpoint"].astype(str)) if "endpoint" in stats else []:
        rows = []
        for _, r in stats[stats["endpoint"].astype(str) == endpoint].iterrows():
            rows.append({"analysis": text(r.get("analysis")), "variable": text(r.get("variable")),
                         "level": text(r.get("level")), "estimand": text(r.get("estimand")),
                         "n_subjects": column_cell(r.get("n_subjects"), "n_subjects"),
                         "n_lesions": column_cell(r.get("n_lesions"), "n_lesions"),
                         "estimate": column_cell(r.get("estimate"), "estimate"),
                         "ci_low": column_cell(r.get("ci_low"), "ci_low"),
                         "ci_high": column_cell(r.get("ci_high"), "ci_high"),
                         "has_ci": not (is_missing(r.get("ci_low")) and is_missing(r.get("ci_high"))),
                         "statistic": column_cell(r.get("statistic"), "statistic"),
                         "p_value": column_cell(r.get("p_value"), "p_value", fmt_p(r.get("p_value"))),
                         "p_adjusted": column_cell(r.get("p_adjusted"), "p_adjusted", fmt_p(r.get("p_adjusted"))),
                         "method": text(r.get("method")), "notes": text(r.get("notes"))})
        groups.append({"endpoint": endpoint, "rows": rows})
    return {"appendix": groups}


SECTION = Section("appendix", build)
