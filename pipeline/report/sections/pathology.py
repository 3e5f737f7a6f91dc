"""Patient report, pathology: the subject's IHC rows (with the SUVmax of the biopsied lesion) and histology."""

from __future__ import annotations

from typing import Any

from ..inputs import PatientInputs
from ..render import Section
from .response import records

__all__ = ["SECTION"]


def _ihc(inputs: PatientInputs) -> dict[str, Any] | None:
    ihc = inputs.ihc
    if ihc is None or not len(ihc):
        return None
    table = ihc.copy()
    suv = []
    for _, row in table.iterrows():
        up = inputs.uptake.get(str(row.get("timepoint", "")))
        value = None
        if up is not None and "lesion_id" in up.columns:
            match = up[up["lesion_id"].astype(str) == str(row.get("lesion_id"))]
            if len(match):
                value = float(match["suv_max"].iloc[0])
        suv.append(value)
    table["suv_max_of_lesion"] = suv
    return records(table)


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``ihc`` and ``histology`` tables (None when the subject has none)."""
    return {"ihc": _ihc(inputs), "histology": records(inputs.histology)}


SECTION = Section("pathology", build)
