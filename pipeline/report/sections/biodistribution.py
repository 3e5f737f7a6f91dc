"""Cohort report, biodistribution: uptake per organ and timepoint (n, mean, SD, median, range) and its figure."""

from __future__ import annotations

from typing import Any

from ..inputs import CohortInputs
from ..render import Section, column_cell, text

__all__ = ["SECTION"]


def build(inputs: CohortInputs) -> dict[str, Any]:
    """``biodistribution``: one row per organ, timepoint and variable (None when the table is missing)."""
    if inputs.biodistribution is None:
        return {"biodistribution": None}
    rows = [{"organ": text(r.get("organ")), "timepoint": text(r.get("timepoint")), "variable": text(r.get("variable")),
             "cells": [column_cell(r.get(c), c) for c in ("n", "mean", "sd", "median")],
             "range": [column_cell(r.get("min"), "min"), column_cell(r.get("max"), "max")]}
            for _, r in inputs.biodistribution.iterrows()]
    return {"biodistribution": rows}


SECTION = Section("biodistribution", build)
