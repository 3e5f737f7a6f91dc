"""Patient report, organs and reference VOIs: SUVmean and SUVmax of each at every timepoint."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..inputs import PatientInputs
from ..render import Section, cell

__all__ = ["SECTION"]


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``organs``: one row per organ or reference VOI (first-seen order), two cells per timepoint."""
    names: list[str] = []
    kinds: dict[str, str] = {}
    values: dict[tuple[str, str], pd.Series] = {}
    for tp in inputs.timepoints:
        table = inputs.uptake[tp]
        for _, row in table[table["kind"].isin(["organ", "reference"])].iterrows():
            name = str(row["name"])
            if name not in names:
                names.append(name)
                kinds[name] = str(row["kind"])
            values[(tp, name)] = row
    rows = []
    for name in names:
        cells = []
        for tp in inputs.timepoints:
            row = values.get((tp, name))
            cells.append(cell(None if row is None else row["suv_mean"]))
            cells.append(cell(None if row is None else row["suv_max"]))
        rows.append({"name": name, "kind": kinds[name], "cells": cells})
    return {"organs": {"timepoints": inputs.timepoints, "rows": rows}}


SECTION = Section("organs", build)
