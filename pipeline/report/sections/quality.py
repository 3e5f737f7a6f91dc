"""Patient report, quality control: uptake time against the protocol window, liver SUVmean plausibility,
activity balance (R39), PERCIST comparability with baseline, and every warning of the study outputs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ...outputs import SuvSidecar, VoiCatalogue
from ..inputs import PatientInputs
from ..render import Section, cell, fmt, text

__all__ = ["SECTION", "LIVER_SUV_MEAN_RANGE", "UPTAKE_WINDOW_MIN"]

#: Tracer-independent plausibility range of the liver SUVmean (finite and within it).
LIVER_SUV_MEAN_RANGE = (0.5, 20.0)
#: Default uptake-time window: the baseline's uptake time +- this many minutes (PERCIST practice).
UPTAKE_WINDOW_MIN = 15.0


def _window(config: Mapping[str, Any], baseline_uptake: Any) -> tuple[float | None, float | None, str]:
    window = (config.get("report") or {}).get("uptake_window_min")
    if window and len(window) == 2:
        lo, hi = float(window[0]), float(window[1])
        return lo, hi, f"protocol window {lo:g}-{hi:g} min (config report.uptake_window_min)"
    if isinstance(baseline_uptake, (int, float)):
        lo, hi = baseline_uptake / 60 - UPTAKE_WINDOW_MIN, baseline_uptake / 60 + UPTAKE_WINDOW_MIN
        return lo, hi, (f"no protocol window configured (report.uptake_window_min): baseline uptake time "
                        f"+- {UPTAKE_WINDOW_MIN:g} min = {fmt(lo)}-{fmt(hi)} min")
    return None, None, "no protocol window configured and no baseline uptake time: not checked"


def _warnings(tp: str, sidecar: SuvSidecar, catalogue: VoiCatalogue, table: pd.DataFrame) -> list[dict[str, str]]:
    out = [{"timepoint": tp, "source": "suv.json", "item": "", "message": str(m)} for m in sidecar.warnings]
    for voi in catalogue.entries:
        for message in voi.get("warnings") or []:
            out.append({"timepoint": tp, "source": "vois.json", "item": str(voi.get("name", "")),
                        "message": str(message)})
    if "warnings" in table.columns:
        for _, row in table.iterrows():
            message = text(row["warnings"]).strip()
            if message:
                out.append({"timepoint": tp, "source": "uptake.csv", "item": str(row["name"]), "message": message})
    return out


def _comparability(deltas: pd.DataFrame | None) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    rows: list[dict[str, Any]] = []
    warnings: list[dict[str, str]] = []
    if deltas is None or not len(deltas):
        return rows, warnings
    patient = deltas[deltas["level"] == "patient"].drop_duplicates("timepoint")
    for _, row in patient.iterrows():
        note = text(row.get("comparability_notes")).strip()
        rows.append({"timepoint": row["timepoint"], "comparable": text(row.get("comparable")), "notes": note})
        if note:
            warnings.append({"timepoint": str(row["timepoint"]), "source": "deltas.csv comparability",
                             "item": f"vs {row['baseline_timepoint']}", "message": note})
    if "notes" in deltas.columns:
        for _, row in deltas[deltas["level"] != "patient"].iterrows():
            message = text(row["notes"]).strip()
            if message:
                warnings.append({"timepoint": str(row["timepoint"]), "source": "deltas.csv", "item": str(row["name"]),
                                 "message": message})
    return rows, warnings


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``qc``: the checks per timepoint, their rules, the comparability and every distinct warning."""
    report_cfg = inputs.config.get("report") or {}
    timepoints = inputs.timepoints
    lo, hi, window_rule = _window(inputs.config, inputs.sidecars[timepoints[0]].get("uptake_time_s"))
    liver_range = tuple(report_cfg.get("liver_suv_mean_range") or LIVER_SUV_MEAN_RANGE)
    liver_rule = (f"tracer-independent plausibility check only: liver SUVmean finite and within "
                  f"{liver_range[0]:g}-{liver_range[1]:g}"
                  + (" (config report.liver_suv_mean_range)" if report_cfg.get("liver_suv_mean_range") else ""))
    rows, warnings = [], []
    for tp in timepoints:
        sidecar, table = inputs.sidecars[tp], inputs.uptake[tp]
        minutes = sidecar.get("uptake_time_s")
        minutes = minutes / 60.0 if isinstance(minutes, (int, float)) else None
        in_window = None if minutes is None or lo is None or hi is None else bool(lo <= minutes <= hi)
        liver = table[(table["name"].astype(str).str.lower() == "liver")]
        liver_mean = float(liver["suv_mean"].iloc[0]) if len(liver) else float("nan")
        liver_ok = bool(math.isfinite(liver_mean) and liver_range[0] <= liver_mean <= liver_range[1])
        balance = sidecar.get("activity_balance")
        rows.append({"timepoint": tp, "uptake_min": cell(minutes), "uptake_ok": in_window,
                     "liver_mean": cell(liver_mean), "liver_ok": liver_ok if len(liver) else None,
                     "balance": cell(balance), "balance_pct": fmt(balance * 100, 3) if balance is not None else ""})
        warnings += _warnings(tp, sidecar, inputs.catalogues[tp], table)
    comparability, deltas_warnings = _comparability(inputs.deltas)
    unique = list({tuple(w.values()): w for w in warnings + deltas_warnings}.values())  # one per distinct message
    return {"qc": {"rows": rows, "window_rule": window_rule, "liver_rule": liver_rule, "warnings": unique,
                   "comparability": comparability,
                   "balance_rule": "activity balance R = sum(SUV x V) / normaliser: fraction of the decay-corrected "
                                   "injected activity found in the image (suv.json activity_balance; > 1.05 is "
                                   "implausible, R39)"}}


SECTION = Section("quality", build)
