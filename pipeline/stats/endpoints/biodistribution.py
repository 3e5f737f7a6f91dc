"""Biodistribution: uptake per organ and reference region at each timepoint (n, mean, SD, median, range), as
the table ``biodistribution.csv`` and a grouped figure; no test, no rows of ``stats.csv``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import figures
from .base import CohortData, Endpoint

__all__ = ["ENDPOINT", "biodistribution_table"]


def biodistribution_table(data: CohortData, variable: str = "suv_mean") -> pd.DataFrame:
    """``variable`` per organ and timepoint: n, mean, SD, median, min, max (organ and reference VOIs)."""
    organs = data.uptake[data.uptake["kind"].isin(["organ", "reference"])]
    grouped = organs.groupby(["organ", "timepoint"])[variable]
    table = grouped.agg(n="count", mean="mean", sd="std", median="median", min="min", max="max").reset_index()
    table.insert(2, "variable", variable)
    return table


def _figures(data: CohortData, cfg: Mapping[str, Any], folder: Path) -> list[Path]:
    return list(figures.biodistribution(data.uptake[data.uptake["kind"].isin(["organ", "reference"])],
                                        organ="organ", value=cfg["variable"], group="timepoint",
                                        stem=folder / "biodistribution"))


ENDPOINT = Endpoint(
    name="biodistribution", order=80,
    description="Organ and reference-region uptake per timepoint (table and figure).",
    settings={"variable": {"type": "string", "default": "suv_mean"}},
    rows=lambda data, cfg: [], figures=_figures,
    tables=lambda data, cfg: {"biodistribution": biodistribution_table(data, cfg["variable"])})
