"""Patient report, MRI (issue 19, item 5): per MR study of the subject, the tumour VOIs' volume, DCE and diffusion
parameters, the DCE curves with their fits, and the Ktrans map over the T1 map with the tumour outlines.

Reads ``{subject}/mri_{timepoint}/`` of the results folder (``mr_vois``, ``t1``, ``dce/dce.csv``,
``dce/curves.csv``, ``dce/ktrans_per_min.nii.gz``, ``dwi/dwi.csv``: :data:`pipeline.outputs.TEMPLATES`); a subject
without MR studies has no section.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...dicom.geometry import read_nifti
from ...mri.cohort import mri_study_table
from ...outputs import TEMPLATES
from ...voi.catalogue import read_voiset
from ..inputs import PatientInputs
from ..render import Section, cell, data_uri

__all__ = ["SECTION", "COLUMNS", "mri_timepoints"]

#: (column of the cohort MRI table, header, significant digits) of the lesion table.
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("volume_ml", "volume (mL)", 3), ("t1_median_s", "T1 (s)", 3), ("ktrans_per_min", "Ktrans (/min)", 3),
    ("ve", "ve", 3), ("vp", "vp", 3), ("iaugc60_mm_s", "IAUGC60 (mM s)", 3), ("ivim_f", "f", 3),
    ("ivim_d_mm2_per_s", "D (mm²/s)", 3), ("ivim_dstar_mm2_per_s", "D* (mm²/s)", 3), ("dki_k_app", "K", 3),
    ("ivim_adc_mm2_per_s", "ADC (mm²/s)", 3))


def mri_timepoints(results: Path, subject: str) -> list[str]:
    """The subject's MR timepoints with a DCE table, in name order of their folders."""
    folder = results / subject
    if not folder.is_dir():
        return []
    found = []
    for child in sorted(folder.glob("mri_*")):
        timepoint = child.name.removeprefix("mri_")
        if (results / TEMPLATES["mri_dce"].format(subject=subject, timepoint=timepoint)).is_file():
            found.append(timepoint)
    return found


def _png(fig: Figure) -> str:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return data_uri(buffer.getvalue())


def _curves_figure(curves: pd.DataFrame, tumours: list[str]) -> str | None:
    """Tumour VOIs' concentration (points) and fits (lines), and the plasma AIF on its own axis."""
    shown = curves[curves["voi"].isin(tumours)]
    if shown.empty:
        return None
    fig = Figure(figsize=(6.4, 3.0), dpi=110)
    ax = fig.add_subplot()
    for name, group in shown.groupby("voi", sort=True):
        t = group["time_s"].to_numpy(float) / 60.0
        (line,) = ax.plot(t, group["concentration_mm"].to_numpy(float), "o", markersize=2.5, label=str(name))
        ax.plot(t, group["fit_mm"].to_numpy(float), "-", linewidth=1.0, color=line.get_color())
    aif = curves[curves["voi"] == "aif_plasma"]
    if len(aif):
        ax2 = ax.twinx()
        ax2.plot(aif["time_s"].to_numpy(float) / 60.0, aif["concentration_mm"].to_numpy(float), "k--", linewidth=0.8)
        ax2.set_ylabel("plasma AIF (mM, dashed)")
    ax.set_xlabel("time (min)")
    ax.set_ylabel("tissue concentration (mM)")
    ax.grid(True, linewidth=0.3, alpha=0.6)
    ax.legend(fontsize=7, frameon=False)
    return _png(fig)


def _map_figure(study: Path, vois_path: Path) -> str | None:
    """The Ktrans map over the T1 map at the slice of the largest tumour, tumour VOIs outlined."""
    ktrans_path = study / "dce" / "ktrans_per_min.nii.gz"
    if not ktrans_path.is_file() or not (study / "t1.nii.gz").is_file():
        return None
    ktrans, _ = read_nifti(ktrans_path)
    t1, _ = read_nifti(study / "t1.nii.gz")
    vois = read_voiset(vois_path)
    tumours = [m for m, v in zip(vois.masks, vois.vois, strict=True) if v.kind == "tumour" and m.any()]
    if not tumours:
        return None
    union = np.any(np.stack(tumours), axis=0)
    z = int(np.argmax(union.sum(axis=(1, 2))))
    fig = Figure(figsize=(6.4, 3.4), dpi=110)
    ax = fig.add_subplot()
    background = np.where(np.isfinite(t1[z]), t1[z], 0.0)
    ax.imshow(background, cmap="gray", vmin=0.0, vmax=float(np.nanpercentile(background, 99)) or 1.0)
    shown = np.ma.masked_invalid(ktrans[z])
    image = ax.imshow(shown, cmap="inferno", vmin=0.0, vmax=float(np.nanmax(ktrans)) if np.isfinite(ktrans).any()
                      else 1.0)
    ax.contour(union[z].astype(float), levels=[0.5], colors="cyan", linewidths=0.6)
    fig.colorbar(image, ax=ax, label="Ktrans (/min)", shrink=0.8)
    ax.set_axis_off()
    ax.set_title(f"slice {z + 1}: Ktrans over the T1 map, tumour VOIs outlined", fontsize=8)
    return _png(fig)


def _study(results: Path, subject: str, timepoint: str) -> dict[str, Any]:
    table = mri_study_table(results, subject, timepoint)
    tumours = table[table["kind"] == "tumour"]
    rows = [{"name": r["voi"], "cells": [cell(r.get(c), sig) for c, _, sig in COLUMNS]}
            for r in tumours.to_dict("records")]
    study = results / f"{subject}/mri_{timepoint}"
    curves_path = results / TEMPLATES["mri_dce_curves"].format(subject=subject, timepoint=timepoint)
    curves = _curves_figure(pd.read_csv(curves_path), list(tumours["voi"])) if curves_path.is_file() else None
    vois_path = results / TEMPLATES["mri_vois"].format(subject=subject, timepoint=timepoint)
    return {"timepoint": timepoint, "rows": rows, "curves": curves, "map": _map_figure(study, vois_path),
            "not_converged": [str(r["voi"]) for r in tumours.to_dict("records")
                              if r.get("dce_converged") is False or r.get("ivim_converged") is False]}


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``mri``: one entry per MR study of the subject (none: no section)."""
    results = inputs.layout.root
    return {"mri": [_study(results, inputs.subject_id, tp) for tp in mri_timepoints(results, inputs.subject_id)],
            "mri_columns": [header for _, header, _ in COLUMNS]}


SECTION = Section("mri", build)
