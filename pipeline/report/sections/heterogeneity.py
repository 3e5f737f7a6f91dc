"""Patient report, heterogeneity: per timepoint the intra-lesion CoV, AUC-CSH and entropy of each tumour, and
the inter-lesion spread of SUVmax."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs import PatientInputs
from ..render import Section, cell, fmt, text

__all__ = ["SECTION"]

HETEROGENEITY_COLUMNS = [("cov", "CoV"), ("auc_csh", "AUC-CSH"), ("entropy", "Entropy")]


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``heterogeneity_columns`` and ``heterogeneity`` (one entry per timepoint)."""
    out = []
    for tp in inputs.timepoints:
        table = inputs.heterogeneity.get(tp)
        rows = []
        if table is not None:
            rows = [{"id": text(row.get("lesion_id")) or str(row["name"]),
                     "cells": [cell(row.get(c)) for c, _ in HETEROGENEITY_COLUMNS]}
                    for _, row in table[table["kind"] == "tumour"].iterrows()]
        uptake = inputs.uptake[tp]
        tumours = uptake[uptake["kind"] == "tumour"]["suv_max"].astype(float).to_numpy()
        spread = None
        if tumours.size:
            cov = float(np.std(tumours, ddof=1) / np.mean(tumours)) if tumours.size > 1 else float("nan")
            spread = {"n": int(tumours.size), "min": cell(tumours.min()), "max": cell(tumours.max()), "cov": cell(cov)}
        out.append({"timepoint": tp, "rows": rows, "spread": spread,
                    "bin_width": fmt(table["entropy_bin_width"].iloc[0]) if table is not None and len(table)
                    and "entropy_bin_width" in table.columns else ""})
    return {"heterogeneity_columns": [label for _, label in HETEROGENEITY_COLUMNS], "heterogeneity": out}


SECTION = Section("heterogeneity", build)
