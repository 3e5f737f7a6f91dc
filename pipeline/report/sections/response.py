"""Patient report, response: the metabolic response (PERCIST-style and EORTC, with the patient-level metrics),
RECIST 1.1 / iRECIST time-point responses and the best overall response."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..inputs import PatientInputs
from ..render import Section, cell, text

__all__ = ["SECTION", "records"]

RECIST_COLUMNS = {"timepoint": "Timepoint", "assessment_date": "Date", "sum_diameters_mm": "SOD (mm)",
                  "change_from_baseline_pct": "% vs baseline", "change_from_nadir_pct": "% vs nadir",
                  "target_response": "Target", "non_target_response": "Non-target", "new_lesions": "New lesions",
                  "overall_response": "RECIST 1.1", "irecist_response": "iRECIST", "iupd_reason": "iUPD reason",
                  "notes": "Notes"}
BOR_COLUMNS = {"bor": "BOR (RECIST 1.1)", "bor_date": "Date", "ibor": "iBOR (iRECIST)", "ibor_date": "Date",
               "first_iupd_date": "First iUPD", "icpd_date": "iCPD", "confirmed": "Confirmed", "notes": "Notes"}


def records(table: pd.DataFrame | None, drop: tuple[str, ...] = ("subject_id",),
            columns: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """A generic table: all columns but ``drop``, or the ``columns`` present (name -> header) in that order."""
    if table is None or not len(table):
        return None
    if columns is not None:
        names = [c for c in columns if c in table.columns]
        headers = [columns[c] for c in names]
    else:
        names = [c for c in table.columns if c not in drop]
        headers = names
    rows = []
    for _, row in table.iterrows():
        cells = []
        for column in names:
            value = row[column]
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                cells.append(cell(value, 4))
            else:
                cells.append({"text": text(value), "value": None})
        rows.append(cells)
    return {"columns": headers, "rows": rows}


def _metabolic(deltas: pd.DataFrame | None) -> list[dict[str, Any]]:
    if deltas is None or not len(deltas):
        return []
    patient = deltas[deltas["level"] == "patient"]
    out = []
    for timepoint, group in patient.groupby("timepoint", sort=False):
        first = group.iloc[0]
        out.append({
            "timepoint": f"{first['baseline_timepoint']} -> {timepoint}",
            "percist": text(first.get("percist")), "percist_notes": text(first.get("percist_notes")),
            "eortc": text(first.get("eortc")), "eortc_notes": text(first.get("eortc_notes")),
            "metrics": [{"metric": str(r["metric"]), "unit": text(r.get("unit")), "notes": text(r.get("notes")),
                         "cells": [cell(r.get(c)) for c in ("baseline", "followup", "abs_change", "pct_change")]}
                        for _, r in group.iterrows()],
        })
    return out


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``metabolic``, ``recist`` and ``bor``."""
    return {"metabolic": _metabolic(inputs.deltas), "recist": records(inputs.response, columns=RECIST_COLUMNS),
            "bor": records(inputs.bor, columns=BOR_COLUMNS)}


SECTION = Section("response", build)
