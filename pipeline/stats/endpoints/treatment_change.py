"""Baseline vs on-treatment uptake: per organ and for the hottest tumour, Wilcoxon signed-rank at patient
level; for all tumour lesions, a mixed model of log SUV with a patient random intercept (ratio on/off)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    endpoint, organ_var, tumour_var = "treatment_change", cfg["organ_variable"], cfg["tumour_variable"]
    b, f = cfg["baseline"], cfg["followup"]
    u = data.uptake
    rows = []
    organs = u[u["kind"].isin(["organ", "reference"])]
    for organ, group in organs.groupby("organ"):
        wide = group.pivot_table(index="subject_id", columns="timepoint", values=organ_var, aggfunc="mean")
        if b not in wide or f not in wide:
            continue
        pair = wide[[b, f]].dropna()
        rows.append(row(endpoint, "wilcoxon_paired", organ_var, f"organ={organ}",
                        st.wilcoxon_paired(pair[b].to_numpy(float), pair[f].to_numpy(float)),
                        n_subjects=len(pair)))
    hottest_b = data.hottest(tumour_var, b).set_index("subject_id")[tumour_var]
    hottest_f = data.hottest(tumour_var, f).set_index("subject_id")[tumour_var]
    pair = pd.concat([hottest_b.rename("b"), hottest_f.rename("f")], axis=1, join="inner").dropna()
    rows.append(row(endpoint, "wilcoxon_paired", tumour_var, "tumour:hottest_lesion",
                    st.wilcoxon_paired(pair["b"].to_numpy(float), pair["f"].to_numpy(float)),
                    n_subjects=len(pair)))
    lesions = data.tumours()
    lesions = lesions[lesions["timepoint"].isin([b, f]) & (lesions[tumour_var] > 0)].copy()
    lesions["log_y"] = np.log(lesions[tumour_var].astype(float))
    lesions["on_treatment"] = (lesions["timepoint"] == f).astype(int)
    res = st.mixed_model(lesions, "log_y ~ on_treatment", "subject_id", "on_treatment")
    if res is not None and math.isfinite(res.estimate):
        res = st.StatResult(math.exp(res.estimate), math.exp(res.ci_low), math.exp(res.ci_high), res.p_value, res.n,
                            res.method, res.statistic, (res.notes + "; " if res.notes else "") +
                            "estimate = ratio on-treatment/baseline (exp of the log-SUV effect)")
    rows.append(row(endpoint, "mixed_model_log_ratio", tumour_var, "tumour:lesions", res,
                    n_subjects=lesions["subject_id"].nunique(), n_lesions=len(lesions)))
    return rows


ENDPOINT = Endpoint(
    name="treatment_change", order=30,
    description="Baseline vs on-treatment per organ and for tumours (Wilcoxon at patient level, mixed model at "
                "lesion level).",
    settings={"organ_variable": {"type": "string", "default": "suv_mean"},
              "tumour_variable": {"type": "string", "default": "suv_max"},
              "baseline": {"type": "string", "default": "baseline"},
              "followup": {"type": "string", "default": "on_treatment"}},
    rows=_rows)
