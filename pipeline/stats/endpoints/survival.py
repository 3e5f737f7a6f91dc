"""Survival by baseline uptake: Kaplan-Meier by SUV group (cut-off: the median or a number), log-rank, Cox
hazard ratios for the group and per unit of SUV. Figures: Kaplan-Meier curves per outcome."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import figures
from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]


def _outcome(data: CohortData, cfg: Mapping[str, Any], outcome: str) -> pd.DataFrame:
    """Per subject: the outcome's time and event, and the baseline hottest-lesion ``variable``."""
    assert data.outcomes is not None
    variable = cfg["variable"]
    hottest = data.hottest(variable, cfg["baseline"]).set_index("subject_id")[variable]
    return data.outcomes.set_index("subject_id")[[f"{outcome}_months", f"{outcome}_event"]].join(
        hottest, how="inner").dropna()


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    variable, endpoint = cfg["variable"], "survival"
    data.check_variable(variable, endpoint)
    if data.outcomes is None:
        return [row(endpoint, "logrank", variable, "patient", None, n_subjects=0, notes="no outcomes table")]
    rows = []
    for outcome in cfg["outcomes"]:
        t, e = f"{outcome}_months", f"{outcome}_event"
        df = _outcome(data, cfg, outcome)
        cutoff = float(df[variable].median()) if cfg["cutoff"] == "median" else float(cfg["cutoff"])
        high = (df[variable] > cutoff).astype(int).to_numpy()
        level = f"outcome={outcome}"
        note = f"groups: {variable} > {cutoff:.4g} ({'median' if cfg['cutoff'] == 'median' else 'configured'})"
        lr, medians, _ = st.kaplan_meier_logrank(df[t].to_numpy(float), df[e].to_numpy(int), high)
        rows.append(row(endpoint, "logrank", variable, level, lr, n_subjects=len(df),
                        notes=f"{note}; median survival by group {medians}"))
        rows.append(row(endpoint, "cox_hr_group", variable, level,
                        st.cox_hr(df[t].to_numpy(float), df[e].to_numpy(int), high), n_subjects=len(df),
                        notes=f"{note}; HR high vs low"))
        rows.append(row(endpoint, "cox_hr_continuous", variable, level,
                        st.cox_hr(df[t].to_numpy(float), df[e].to_numpy(int), df[variable].to_numpy(float)),
                        n_subjects=len(df), notes=f"HR per unit of {variable}"))
    return rows


def _figures(data: CohortData, cfg: Mapping[str, Any], folder: Path) -> list[Path]:
    if data.outcomes is None:
        return []
    variable = cfg["variable"]
    written: list[Path] = []
    for outcome in cfg["outcomes"]:
        t, e = f"{outcome}_months", f"{outcome}_event"
        df = _outcome(data, cfg, outcome)
        if df.empty:
            continue
        cut = float(df[variable].median())
        high = df[variable] > cut
        lr, _, _ = st.kaplan_meier_logrank(df[t].to_numpy(float), df[e].to_numpy(int), high.to_numpy(int))
        groups = {f"{variable} > {cut:.3g}": (df.loc[high, t].to_numpy(float), df.loc[high, e].to_numpy(int)),
                  f"{variable} <= {cut:.3g}": (df.loc[~high, t].to_numpy(float), df.loc[~high, e].to_numpy(int))}
        written += figures.kaplan_meier(groups, stem=folder / f"kaplan_meier_{outcome}",
                                        annotation=f"log-rank p = {lr.p_value:.3g}")
    return written


ENDPOINT = Endpoint(
    name="survival", order=60,
    description="Kaplan-Meier by SUV group, log-rank, Cox proportional hazards.",
    settings={"variable": {"type": "string", "default": "suv_max"},
              "baseline": {"type": "string", "default": "baseline"},
              "cutoff": {"description": "median, or a fixed value of the variable.", "default": "median",
                         "oneOf": [{"type": "string", "enum": ["median"]}, {"type": "number"}]},
              "outcomes": {"type": "array", "items": {"type": "string", "enum": ["os", "pfs"]},
                           "default": ["os", "pfs"]}},
    rows=_rows, figures=_figures)
