"""The ``tacs`` and ``kinetics`` stages.

``run_tacs``: a dynamic SUV volume (4D ``suv.nii.gz`` with its ``suv.json`` frame table) and a VOI set
in, one row per VOI and frame out (activity in kBq/mL decay-corrected to injection, SUV, times from
injection in seconds).

``run_kinetics``: a TAC table and, for plasma-input models, a processed blood input in; one row per
VOI and model out: parameters with standard errors, macro-parameters (VT, VND, BPND, Ki, K1, R1),
fit quality (AIC, AICc, R², convergence) and, for graphical methods, the t* used. A fit that did not
converge is written with ``converged = False`` and its message, never as a silent number.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..io import write_csv
from ..suv.stage import sidecar_path
from ..voi.catalogue import read_voiset
from .blood import InputFunction
from .fit import fit_compartment, fit_srtm
from .graphical import logan_plasma, logan_reference, mrtm, patlak
from .models import cumulative_integral
from .tacs import extract_tacs, suv_to_kbq_ml_factor

__all__ = ["PLASMA_MODELS", "REFERENCE_MODELS", "run_tacs", "run_kinetics", "KINETICS_COLUMNS"]

PLASMA_MODELS = ("1tcm", "2tcm", "2tcm_irr", "logan", "patlak")
REFERENCE_MODELS = ("srtm", "logan_ref", "mrtm")
KINETICS_COLUMNS = ["label", "name", "model", "parameter", "value", "se", "t_star_min", "aic", "aicc", "r2",
                    "converged", "message"]


def run_tacs(pet4d_path: Path, vois_path: Path, output: Path) -> pd.DataFrame:
    """Extract TACs of every VOI from a dynamic SUV volume and write ``tacs.csv``.

    Raises
    ------
    InvalidInputError
        For a static volume, a missing sidecar or frame table, or VOIs on another grid.
    """
    volume, geometry = read_nifti(pet4d_path)
    sidecar_file = sidecar_path(pet4d_path)
    if volume.ndim != 4 or not sidecar_file.is_file():
        raise InvalidInputError("not a dynamic SUV volume with its suv.json", source=str(pet4d_path),
                                remedy="run `petvoi suv` on a dynamic PET series")
    sidecar = json.loads(sidecar_file.read_text("utf-8"))
    frames = sidecar.get("frames") or []
    if len(frames) != volume.shape[0]:
        raise InvalidInputError(f"{len(frames)} frames in suv.json for {volume.shape[0]} volumes",
                                source=str(sidecar_file), attribute="frames",
                                remedy="rewrite both with `petvoi suv`")
    voiset = read_voiset(vois_path)
    if not voiset.geometry.same_grid(geometry):
        raise InvalidInputError("VOI set is not on the grid of the dynamic volume", source=str(vois_path),
                                remedy="build the VOIs with `petvoi vois --pet` on this volume")
    table = extract_tacs(np.asarray(volume), voiset, frames, suv_to_kbq=suv_to_kbq_ml_factor(sidecar))
    write_csv(output, table)
    return table


def _times(tac: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    first = tac[tac["name"] == tac["name"].iloc[0]].sort_values("frame")
    return first["mid_s"].to_numpy(float) / 60.0, first["duration_s"].to_numpy(float) / 60.0


def _rows(label: int, name: str, model: str, values: dict[str, float], ses: dict[str, float], **extra: Any
          ) -> list[dict[str, Any]]:
    return [{"label": label, "name": name, "model": model, "parameter": key, "value": value,
             "se": ses.get(key, math.nan), **extra} for key, value in values.items()]


def run_kinetics(tacs_path: Path, output: Path, *, models: Sequence[str], blood: InputFunction | None = None,
                 reference: str | None = None, t_star_min: float | None = None,
                 targets: Sequence[str] | None = None) -> pd.DataFrame:
    """Fit kinetic models to every target VOI of a TAC table and write ``kinetics.csv``.

    Parameters
    ----------
    tacs_path : Path
        ``tacs.csv`` from :func:`run_tacs` (times in s from injection, activity in kBq/mL).
    output : Path
        ``kinetics.csv``: one row per VOI, model and parameter (:data:`KINETICS_COLUMNS`).
    models : sequence of str
        From :data:`PLASMA_MODELS` (need ``blood``) and :data:`REFERENCE_MODELS` (need ``reference``).
    blood : InputFunction, optional
        Processed blood input; its model-input curve (``kind``) drives plasma-input models and its
        whole-blood curve the vB term.
    reference : str, optional
        Name of the reference-region VOI for SRTM, reference Logan and MRTM.
    t_star_min : float, optional
        Start of the linear window of graphical methods (min); None: chosen automatically and reported.
    targets : sequence of str, optional
        VOI names to fit (default: every VOI except the reference).
    """
    tac = pd.read_csv(tacs_path)
    unknown = [m for m in models if m not in PLASMA_MODELS + REFERENCE_MODELS]
    if unknown:
        raise InvalidInputError(f"unknown model {unknown[0]!r}", attribute="--model",
                                remedy=f"use {', '.join(PLASMA_MODELS + REFERENCE_MODELS)}")
    if any(m in PLASMA_MODELS for m in models) and blood is None:
        raise InvalidInputError("plasma-input models need a blood input", attribute="--blood",
                                remedy="give the blood table (or use a reference-region model)")
    if any(m in REFERENCE_MODELS for m in models) and reference not in set(tac["name"]):
        raise InvalidInputError(f"reference region {reference!r} is not a VOI of the TAC table", source=str(tacs_path),
                                attribute="--reference", remedy="name a VOI of tacs.csv")
    mid, dur = _times(tac)
    end_s = float((tac["mid_s"] + tac["duration_s"] / 2).max())
    if blood is not None:
        blood.check_covers(end_s)
        plasma = (blood.times_s / 60.0, np.asarray(getattr(blood, blood.kind), float))
        whole = (blood.times_s / 60.0, np.asarray(blood.whole_blood, float))
        if not np.isfinite(whole[1]).all():
            whole = plasma
        # plasma integrals on the samples' piecewise-linear curve (not on frame mid-times, which miss the peak)
        grid = np.union1d(np.linspace(0.0, end_s / 60.0, 4001), plasma[0][plasma[0] <= end_s / 60.0])
        plasma_on_grid = np.interp(grid, plasma[0], plasma[1], left=0.0)
        plasma_integral = cumulative_integral(grid, plasma_on_grid, mid)
        plasma_at_mid = np.interp(mid, plasma[0], plasma[1], left=0.0)
    ref_curve = None
    if reference is not None and reference in set(tac["name"]):
        ref_curve = tac[tac["name"] == reference].sort_values("frame")["activity_kbq_ml"].to_numpy(float)
    rows: list[dict[str, Any]] = []
    for (label, name), group in tac.groupby(["label", "name"], sort=True):
        if name == reference or (targets and name not in targets):
            continue
        y = group.sort_values("frame")["activity_kbq_ml"].to_numpy(float)
        for model in models:
            if model in ("1tcm", "2tcm", "2tcm_irr"):
                fit = fit_compartment(model, mid, dur, y, plasma, whole, weights=dur)
                rows += _rows(label, name, model, {**fit.params, **fit.macro}, {**fit.se, **fit.macro_se},
                              t_star_min=math.nan, aic=fit.aic, aicc=fit.aicc, r2=math.nan,
                              converged=fit.converged, message=fit.message)
            elif model == "srtm":
                fit = fit_srtm(mid, dur, y, ref_curve)
                rows += _rows(label, name, model, {**fit.params, **fit.macro}, {**fit.se, **fit.macro_se},
                              t_star_min=math.nan, aic=fit.aic, aicc=fit.aicc, r2=math.nan,
                              converged=fit.converged, message=fit.message)
            else:
                if model == "logan":
                    res = logan_plasma(mid, y, plasma_at_mid, t_star=t_star_min, plasma_integral=plasma_integral)
                elif model == "patlak":
                    res = patlak(mid, y, plasma_at_mid, t_star=t_star_min, plasma_integral=plasma_integral)
                elif model == "logan_ref":
                    res = logan_reference(mid, y, ref_curve, t_star=t_star_min)
                else:
                    res = mrtm(mid, y, ref_curve, t_star=t_star_min or 0.0)
                rows += _rows(label, name, model, dict(res.params), {}, t_star_min=res.t_star, aic=math.nan,
                              aicc=math.nan, r2=res.r2, converged=True,
                              message=f"t* {res.t_star_mode}, {res.n_points} points")
    table = pd.DataFrame(rows, columns=KINETICS_COLUMNS)
    write_csv(output, table)
    return table


def run_pk(samples: pd.DataFrame, template: str, output: Path, *, half_life_s: float | None = None) -> pd.DataFrame:
    """Multi-day PK from static scans: scans of a subject that share one injection form a curve.

    Parameters
    ----------
    samples : DataFrame
        Validated sample sheet.
    template : str
        Folder of each study's ``uptake.csv`` and ``suv.json``, with ``{subject}`` and ``{timepoint}``.
    output : Path
        ``pk.csv``: one row per subject, injection and VOI (AUC, effective and biological half-lives);
        injections with fewer than two scans are listed with a note instead.
    half_life_s : float, optional
        Physical half-life; default: the one in the sidecars.
    """
    from .pk import pk_table

    rows, notes = [], []
    for row in samples.itertuples(index=False):
        folder = Path(template.format(subject=row.subject_id, timepoint=row.timepoint))
        uptake, sidecar_file = folder / "uptake.csv", folder / "suv.json"
        if not (uptake.is_file() and sidecar_file.is_file()):
            raise InvalidInputError("uptake.csv or suv.json missing", source=str(folder),
                                    remedy="run `petvoi suv` and `petvoi uptake` for this study first")
        sidecar = json.loads(sidecar_file.read_text("utf-8"))
        table = pd.read_csv(uptake)
        factor = float(np.atleast_1d(suv_to_kbq_ml_factor(sidecar))[0])
        for voi in table.itertuples(index=False):
            rows.append({"subject_id": row.subject_id, "injection": sidecar.get("injection_datetime"),
                         "timepoint": row.timepoint, "voi": voi.name, "kind": voi.kind,
                         "time_days": float(sidecar["uptake_time_s"]) / 86400.0,
                         "activity_kbq_ml": float(voi.suv_mean) * factor, "suv_mean": float(voi.suv_mean),
                         "half_life_s": float(half_life_s or sidecar["half_life_s"])})
    scans = pd.DataFrame(rows)
    results = []
    for (subject, injection), group in scans.groupby(["subject_id", "injection"], sort=True):
        n_scans = group["timepoint"].nunique()
        if n_scans < 2:
            notes.append({"subject_id": subject, "injection": injection, "voi": "", "kind": "",
                          "note": f"{n_scans} scan after this injection: no PK curve"})
            continue
        table = pk_table(group, decay_corrected=True, half_life_s=float(group["half_life_s"].iloc[0]))
        table.insert(1, "injection", injection)
        results.append(table)
    out = pd.concat([*results, pd.DataFrame(notes)], ignore_index=True) if results or notes else pd.DataFrame()
    write_csv(output, out)
    return out
