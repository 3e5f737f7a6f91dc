"""Patient report, multi-day pharmacokinetics: static scans after one injection (e.g. 89Zr immuno-PET).

Reads the cohort's ``pk.csv`` (one row per subject, injection and VOI: AUC, effective and biological
half-lives, the AUC rule) and ``pk_points.csv`` (the time-activity points), both written by
:func:`pipeline.kinetics.stage.run_pk`. Only the subject's injections with a curve (two or more scans)
are shown; values are returned as numbers and formatted by the report.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..inputs import PatientInputs, read_csv, subject_rows
from ..render import Section, cell, data_uri, fmt

__all__ = ["SECTION", "METHODS", "RESULT_COLUMNS", "pk_summary", "pk_figure"]

#: How each AUC rule (``auc_method`` of pk.csv) is described.
METHODS = {"log": "linear-up/log-down trapezoid (log-trapezoid where the activity falls, exact for an exponential "
                  "decline; linear where it rises)",
           "linear": "linear trapezoid (overestimates a falling exponential)"}
#: (pk.csv column, header, significant digits) of the results table, in order.
RESULT_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("t_eff_days", "T<sub>eff</sub> (d)", 3), ("t_bio_days", "T<sub>bio</sub> (d)", 3),
    ("terminal_r2", "terminal R²", 4), ("auc_first_last", "AUC first–last", 4), ("auc_tail", "AUC tail", 4),
    ("auc_first_inf", "AUC first–∞", 4), ("tail_fraction", "tail %", 3), ("suv_auc_first_inf", "SUV AUC first–∞", 4),
)


def _curves(table: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of ``pk.csv`` that are curves (not notes)."""
    if table is None or not len(table):
        return pd.DataFrame()
    return table[table["note"].isna()] if "note" in table.columns else table


def pk_summary(pk: pd.DataFrame, points: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per injection of the subject with a curve.

    Parameters
    ----------
    pk, points : DataFrame
        The subject's rows of ``pk.csv`` and ``pk_points.csv``.

    Returns
    -------
    list of dict
        ``injection``, ``timepoints`` (label and days from injection), ``points`` (per VOI: name, kind,
        activity at scan time per timepoint, kBq/mL), ``results`` (per VOI: the values of
        :data:`RESULT_COLUMNS`, ``tail %`` in percent), ``method`` (the AUC rule), ``half_life_days``
        and ``figure`` (PNG bytes).
    """
    out = []
    curves = _curves(pk)
    for injection, group in curves.groupby("injection", sort=True):
        scans = points[points["injection"] == injection]
        times = scans.drop_duplicates("timepoint").sort_values("time_days")
        order = list(times["timepoint"])
        rows = []
        for voi, vg in scans.groupby("voi", sort=True):
            by_tp = vg.set_index("timepoint")["activity_at_scan_kbq_ml"]
            rows.append({"name": str(voi), "kind": str(vg["kind"].iloc[0]),
                         "values": [float(by_tp[tp]) if tp in by_tp else None for tp in order]})
        results = []
        for row in group.sort_values("voi").itertuples(index=False):
            values = []
            for column, _, _ in RESULT_COLUMNS:
                value = getattr(row, column, None)
                value = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
                if column == "tail_fraction" and value is not None:
                    value *= 100.0
                values.append(value)
            results.append({"name": str(row.voi), "kind": str(row.kind), "values": values})
        methods = sorted({str(m) for m in group["auc_method"].dropna()}) if "auc_method" in group else []
        out.append({"injection": str(injection),
                    "timepoints": [{"label": str(t), "days": float(d)}
                                   for t, d in zip(times["timepoint"], times["time_days"], strict=True)],
                    "points": rows, "results": results, "method": methods[0] if len(methods) == 1 else
                    ", ".join(methods), "half_life_days": float(group["t_phys_days"].iloc[0]),
                    "figure": pk_figure(scans, group)})
    return out


def pk_figure(points: pd.DataFrame, results: pd.DataFrame) -> bytes:
    """Activity at scan time (kBq/mL, log scale) against days from injection, one line per VOI, with the
    terminal exponential (the tail of the AUC) extended to twice the last scan time, as PNG bytes."""
    fig = Figure(figsize=(6.4, 3.4), dpi=110)
    ax = fig.add_subplot()
    t_eff = results.set_index("voi")["t_eff_days"]
    for voi, group in points.groupby("voi", sort=True):
        group = group.sort_values("time_days")
        t, a = group["time_days"].to_numpy(float), group["activity_at_scan_kbq_ml"].to_numpy(float)
        (line,) = ax.plot(t, a, marker="o", markersize=3, linewidth=1.0, label=str(voi))
        te = float(t_eff.get(voi, math.nan))
        if math.isfinite(te) and te > 0:
            tail = np.linspace(t[-1], 2 * t[-1], 20)
            ax.plot(tail, a[-1] * np.exp(-math.log(2) / te * (tail - t[-1])), linestyle=":", linewidth=0.8,
                    color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("days from injection")
    ax.set_ylabel("activity at scan time (kBq/mL)")
    ax.set_xlim(left=0.0)
    ax.grid(True, which="both", linewidth=0.3, alpha=0.6)
    ax.legend(fontsize=6, frameon=False, ncol=3)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _cell(value: float | None, sig: int) -> dict[str, str | None]:
    """A number cell; an infinite half-life (no biological clearance seen) shows as ∞."""
    if value is not None and math.isinf(value):
        return {"text": "\u221e" if value > 0 else "-\u221e", "value": repr(value)}
    return cell(value, sig)


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``pk``: the subject's multi-day PK curves (empty when the subject has none)."""
    cohort = inputs.layout.cohort
    pk = subject_rows(read_csv(cohort.pk), inputs.subject_id)
    points = subject_rows(read_csv(cohort.pk_points), inputs.subject_id)
    if pk is None or points is None or _curves(pk).empty:
        return {"pk": []}
    entries = []
    for entry in pk_summary(pk, points):
        entries.append({
            "injection": entry["injection"],
            "columns": [f"{t['label']} ({fmt(t['days'], 3)} d)" for t in entry["timepoints"]],
            "points": [{"name": r["name"], "kind": r["kind"], "cells": [cell(v, 4) for v in r["values"]]}
                       for r in entry["points"]],
            "result_columns": [header for _, header, _ in RESULT_COLUMNS],
            "results": [{"name": r["name"], "kind": r["kind"],
                         "cells": [_cell(v, sig) for v, (_, _, sig) in zip(r["values"], RESULT_COLUMNS, strict=True)]}
                        for r in entry["results"]],
            "method": entry["method"], "method_text": METHODS.get(entry["method"], entry["method"]),
            "half_life_days": fmt(entry["half_life_days"], 4),
            "figure": data_uri(entry["figure"]),
        })
    return {"pk": entries}


SECTION = Section("pk", build)
