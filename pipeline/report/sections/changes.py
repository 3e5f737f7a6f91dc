"""Patient report, changes from baseline: each lesion's SUVmax, SUVpeak, MTV and TLG at baseline and follow-up."""

from __future__ import annotations

from typing import Any

from ..inputs import PatientInputs
from ..render import Section, cell, text

__all__ = ["SECTION"]

CHANGE_METRICS = ["suv_max", "suv_peak", "mtv", "tlg"]


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``changes``: one row per follow-up, lesion and metric (from ``deltas.csv``)."""
    deltas = inputs.deltas
    if deltas is None or not len(deltas):
        return {"changes": []}
    lesions = deltas[(deltas["level"] == "lesion") & deltas["metric"].isin(CHANGE_METRICS)]
    rows: list[dict[str, Any]] = [
        {"timepoint": f"{row['baseline_timepoint']} -> {row['timepoint']}",
         "lesion": text(row.get("lesion_id")) or text(row.get("name")), "status": text(row["status"]),
         "metric": str(row["metric"]), "unit": text(row.get("unit")),
         "cells": [cell(row.get(c)) for c in ("baseline", "followup", "abs_change", "pct_change")]}
        for _, row in lesions.iterrows()]
    order = {m: i for i, m in enumerate(CHANGE_METRICS)}
    rows.sort(key=lambda r: (r["timepoint"], r["lesion"], order[r["metric"]]))
    return {"changes": rows}


SECTION = Section("changes", build)
