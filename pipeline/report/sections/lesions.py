"""Patient report, lesions: per timepoint, each tumour VOI's SUVmax, SUVmean, SUVpeak, MTV, TLG and ratios."""

from __future__ import annotations

from typing import Any

from ..inputs import PatientInputs
from ..render import Section, cell, text

__all__ = ["SECTION", "LESION_COLUMNS"]

#: (uptake.csv column, header) of the lesion tables.
LESION_COLUMNS = [("suv_max", "SUVmax"), ("suv_mean", "SUVmean"), ("suv_peak", "SUVpeak"), ("volume_ml", "MTV (mL)"),
                  ("tlg", "TLG (g)"), ("suv_max_to_liver", "SUVmax / liver"), ("suv_peak_to_liver", "SUVpeak / liver"),
                  ("suv_max_to_blood", "SUVmax / blood"), ("suv_peak_to_blood", "SUVpeak / blood")]


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``lesion_columns`` and ``lesions``: one table per timepoint, exact values in the cells."""
    tables = []
    for tp in inputs.timepoints:
        tumours = inputs.uptake[tp][inputs.uptake[tp]["kind"] == "tumour"]
        rows = [{"id": text(row.get("lesion_id")) or str(row["name"]), "organ": text(row.get("organ")),
                 "cells": [cell(row.get(col)) for col, _ in LESION_COLUMNS]} for _, row in tumours.iterrows()]
        tables.append({"timepoint": tp, "rows": rows})
    return {"lesion_columns": [label for _, label in LESION_COLUMNS], "lesions": tables}


SECTION = Section("lesions", build)
