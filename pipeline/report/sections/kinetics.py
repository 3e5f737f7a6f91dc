"""Patient report, kinetics: key parameters per VOI and the TACs of each dynamic study of the subject.

Reads a dynamic study's ``kinetics.csv`` (one row per VOI, model and parameter), ``kinetics.json``
(input function, fitted delay) and ``tacs.csv``, all written by :mod:`pipeline.kinetics.stage`.
Values are returned as numbers; the report formats them.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ...outputs import KineticsSidecar, StudyPaths
from ..inputs import PatientInputs
from ..render import Section, cell, data_uri

__all__ = ["SECTION", "SUMMARY_COLUMNS", "kinetics_summary", "tac_figure"]

#: (model, parameter, column header) of the summary table, in order; absent models are left out.
SUMMARY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("2tcm", "VT", "VT 2TCM"), ("2tcm", "BPND", "BPND 2TCM"), ("1tcm", "VT", "VT 1TCM"),
    ("2tcm_irr", "Ki", "Ki irr. 2TCM"), ("logan", "VT", "VT Logan"), ("patlak", "Ki", "Ki Patlak"),
    ("srtm", "BPND", "BPND SRTM"), ("logan_ref", "BPND", "BPND ref. Logan"), ("mrtm", "BPND", "BPND MRTM"),
)


def _notes(sidecar: KineticsSidecar, table: pd.DataFrame) -> list[str]:
    notes = []
    source = sidecar.input_function
    if source:
        kind = str(source.get("kind", "")).replace("_", " ")
        text = f"Input: {kind}" + (" (image-derived, scaled to the samples)" if source.get("image_derived") else "")
        if source.get("decay_corrected_input") is False:
            text += "; samples decay-corrected by petvoi"
        notes.append(text + ".")
    delay = sidecar.delay_fit
    if delay:
        notes.append(f"Input delay fitted on {delay['voi']} ({delay['model'].upper()}, first "
                     f"{delay['window_min']:g} min): {delay['delay_s']:+.1f} s.")
    if sidecar.get("reference"):
        notes.append(f"Reference region for BPND models: {sidecar['reference']}.")
    graphical = table[table["t_star_min"].notna()].drop_duplicates(["name", "model"])
    if len(graphical):
        t_stars = sorted({f"{m} {t:g}" for m, t in zip(graphical["model"], graphical["t_star_min"], strict=True)})
        notes.append("t* (min): " + ", ".join(t_stars) + ".")
    return notes


def kinetics_summary(study_dir: Path) -> dict[str, Any] | None:
    """Summary of one dynamic study, or None when it has no ``kinetics.csv``.

    Returns
    -------
    dict or None
        ``columns`` (headers after "VOI" and before "chosen"), ``rows`` (``name``, ``values``: value or
        None per column, ``flags``: True where the fit did not converge, ``chosen``: the model with
        the lowest AICc), ``notes`` and ``figure`` (PNG bytes of the TACs, or None).
    """
    study = StudyPaths(Path(study_dir))
    path = study.kinetics
    if not path.is_file():
        return None
    table = pd.read_csv(path)
    sidecar = KineticsSidecar.read_optional(path) or KineticsSidecar({})
    present = [c for c in SUMMARY_COLUMNS if ((table["model"] == c[0]) & (table["parameter"] == c[1])).any()]
    rows = []
    for name, group in table.groupby("name", sort=True):
        values, flags = [], []
        for model, parameter, _ in present:
            hit = group[(group["model"] == model) & (group["parameter"] == parameter)]
            values.append(float(hit["value"].iloc[0]) if len(hit) else None)
            flags.append(bool(len(hit)) and not bool(hit["converged"].iloc[0]))
        chosen = group.loc[group["chosen"].astype(bool), "model"].unique() if "chosen" in group else []
        rows.append({"name": str(name), "values": values, "flags": flags,
                     "chosen": str(chosen[0]).upper() if len(chosen) else ""})
    tacs_path = study.tacs
    figure = tac_figure(pd.read_csv(tacs_path)) if tacs_path.is_file() else None
    return {"columns": [header for _, _, header in present], "rows": rows, "notes": _notes(sidecar, table),
            "figure": figure}


def tac_figure(tacs: pd.DataFrame) -> bytes:
    """Time-activity curves (kBq/mL against min from injection), one line per VOI, as PNG bytes."""
    fig = Figure(figsize=(6.4, 3.2), dpi=110)
    ax = fig.add_subplot()
    for name, group in tacs.groupby("name", sort=True):
        group = group.sort_values("frame")
        ax.plot(group["mid_s"].to_numpy(float) / 60.0, group["activity_kbq_ml"].to_numpy(float), marker="o",
                markersize=2.5, linewidth=1.0, label=str(name))
    ax.set_xlabel("time from injection (min)")
    ax.set_ylabel("activity (kBq/mL)")
    ax.set_xlim(left=0.0)
    ax.grid(True, linewidth=0.3, alpha=0.6)
    ax.legend(fontsize=7, frameon=False, ncol=2)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _study(timepoint: str, study_dir: Path) -> dict[str, Any]:
    """One dynamic study's summary with formatted cells (``missing`` when not run)."""
    summary = kinetics_summary(study_dir)
    if summary is None:
        return {"timepoint": timepoint, "missing": True}
    rows = []
    for row in summary["rows"]:
        cells = []
        for value, flagged in zip(row["values"], row["flags"], strict=True):
            shown = cell(value, 4) if value is not None else {"text": "", "value": None}
            if flagged:
                shown = {**shown, "text": f"{shown['text']} \u2020"}
            cells.append(shown)
        rows.append({"name": row["name"], "cells": cells, "chosen": row["chosen"]})
    figure = data_uri(summary["figure"]) if summary["figure"] else None
    return {"timepoint": timepoint, "missing": False, "columns": summary["columns"], "rows": rows,
            "notes": summary["notes"], "figure": figure, "flagged": any(any(r["flags"]) for r in summary["rows"])}


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``kinetics``: one entry per dynamic study of the subject."""
    subject = inputs.layout.subject(inputs.subject_id)
    return {"kinetics": [_study(tp, subject.study(tp).folder) for tp in inputs.dynamic]}


SECTION = Section("kinetics", build)
