"""MRI parameters of tumour lesions (issue 19, item 5; the cohort MRI table ``results/cohort/mri.csv``). Estimands:

* MRI vs IHC: biopsied lesions with IHC, per marker; Spearman's rho of each MRI parameter (at the IHC's timepoint)
  with % positive cells; one lesion per patient - Fisher-z CI, several - patient-cluster bootstrap CI.
* Change under treatment: tumour lesions at both MR timepoints, matched by lesion_id and nested in patients; the
  geometric-mean ratio follow-up/baseline of each parameter (paired log ratios, patient random intercept).
* MRI vs PET: tumour lesions with both an MRI parameter and the PET uptake variable at the baseline timepoint
  (joined on subject, timepoint and lesion_id); Spearman's rho, patient-cluster bootstrap CI when a patient has
  several lesions.

Rows are written only when the MRI table is given; parameters absent from it are skipped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import methods as st
from .base import CohortData, Endpoint, lesion_design, row

__all__ = ["ENDPOINT"]

IHC = "biopsied tumour lesions with IHC and MRI ({design}); {variable} vs % positive cells; Spearman rho"
CHANGE = ("tumour lesions at both MR timepoints, matched by lesion_id (nested in patient); {variable}; "
          "geometric-mean ratio {followup}/{baseline}")
PET = ("tumour lesions with MRI and PET at {timepoint} (nested in patient); {variable} vs PET {pet}; Spearman rho")


def _tumours(mri: pd.DataFrame) -> pd.DataFrame:
    t = mri[(mri["kind"] == "tumour") & mri["lesion_id"].notna() & (mri["lesion_id"].astype(str) != "")]
    return t.assign(lesion_id=t["lesion_id"].astype(str))


def _ihc_rows(data: CohortData, mri: pd.DataFrame, parameters: list[str], cfg: Mapping[str, Any]) -> list[dict]:
    endpoint = "mri"
    if data.ihc is None or "percent_positive" not in data.ihc:
        return [row(endpoint, "spearman_ihc", p, "lesion", None, n_subjects=0, notes="no IHC table given")
                for p in parameters[:1]]
    ihc = data.ihc.dropna(subset=["percent_positive"]).assign(lesion_id=lambda d: d["lesion_id"].astype(str))
    merged = ihc.merge(mri, on=["subject_id", "timepoint", "lesion_id"], how="inner")
    rows = []
    for marker, group in merged.groupby("marker") if "marker" in merged else [("all", merged)]:
        for parameter in parameters:
            g = group.dropna(subset=[parameter])
            design, clustered = lesion_design(g) if len(g) else ("no lesions", False)
            res = st.spearman(g[parameter].to_numpy(float), g["percent_positive"].to_numpy(float),
                              clusters=g["subject_id"].to_numpy() if clustered else None, ci=cfg["spearman_ci"])
            rows.append(row(endpoint, "spearman_ihc_percent_positive", parameter, f"marker={marker}", res,
                            n_subjects=int(g["subject_id"].nunique()), n_lesions=len(g),
                            estimand=IHC.format(design=design, variable=parameter)))
    unmatched = len(ihc) - len(merged)
    if unmatched:
        data.warnings.append(f"mri: {unmatched} IHC rows without an MRI lesion (left out)")
    return rows


def _change_rows(mri: pd.DataFrame, parameters: list[str], cfg: Mapping[str, Any]) -> list[dict]:
    b, f = cfg["baseline"], cfg["followup"]
    rows = []
    for parameter in parameters:
        wide = mri.pivot_table(index=["subject_id", "lesion_id"], columns="timepoint", values=parameter,
                               aggfunc="first")
        if b not in wide or f not in wide:
            continue
        pairs = wide[[b, f]].dropna()
        pairs = pairs[(pairs[b] > 0) & (pairs[f] > 0)].reset_index()
        res = None
        if len(pairs):
            lesions = (pairs["subject_id"].astype(str) + ":" + pairs["lesion_id"]).to_numpy()
            res = st.paired_log_ratio(np.log(pairs[f] / pairs[b]).to_numpy(float), pairs["subject_id"].to_numpy(),
                                      lesions=lesions)
        rows.append(row("mri", "paired_log_ratio", parameter, "tumour:lesions", res,
                        n_subjects=int(pairs["subject_id"].nunique()), n_lesions=len(pairs),
                        estimand=CHANGE.format(variable=parameter, followup=f, baseline=b)))
    return rows


def _pet_rows(data: CohortData, mri: pd.DataFrame, parameters: list[str], cfg: Mapping[str, Any]) -> list[dict]:
    pet_variable, timepoint = cfg["pet_variable"], cfg["baseline"]
    data.check_variable(pet_variable, "mri")
    pet = data.tumours(timepoint)[["subject_id", "timepoint", "lesion_id", pet_variable]].dropna()
    pet = pet.assign(lesion_id=pet["lesion_id"].astype(str))
    merged = mri[mri["timepoint"] == timepoint].merge(pet, on=["subject_id", "timepoint", "lesion_id"], how="inner")
    rows = []
    for parameter in parameters:
        g = merged.dropna(subset=[parameter])
        design, clustered = lesion_design(g) if len(g) else ("no lesions", False)
        res = st.spearman(g[parameter].to_numpy(float), g[pet_variable].to_numpy(float),
                          clusters=g["subject_id"].to_numpy() if clustered else None,
                          ci="bootstrap" if clustered else cfg["spearman_ci"])
        rows.append(row("mri", "spearman_pet", parameter, f"pet={pet_variable}", res,
                        n_subjects=int(g["subject_id"].nunique()), n_lesions=len(g), notes=design,
                        estimand=PET.format(timepoint=timepoint, variable=parameter, pet=pet_variable)))
    return rows


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    if data.mri is None:
        return []
    mri = _tumours(data.mri)
    parameters = [p for p in cfg["parameters"] if p in mri.columns]
    return [*_ihc_rows(data, mri, parameters, cfg), *_change_rows(mri, parameters, cfg),
            *_pet_rows(data, mri, parameters, cfg)]


ENDPOINT = Endpoint(
    name="mri", order=75,
    description="MRI parameters of tumour lesions (the cohort MRI table): vs IHC % positive cells (Spearman), change "
                "under treatment (paired log ratios, lesions nested in patients) and vs the PET uptake per lesion.",
    settings={"parameters": {"type": "array", "items": {"type": "string"},
                             "default": ["ktrans_per_min", "ve", "vp", "ivim_f", "ivim_d_mm2_per_s", "dki_k_app",
                                         "ivim_adc_mm2_per_s", "volume_ml"]},
              "pet_variable": {"type": "string", "default": "suv_max"},
              "baseline": {"type": "string", "default": "baseline"},
              "followup": {"type": "string", "default": "on_treatment"},
              "spearman_ci": {"type": "string", "enum": ["bonett-wright", "fieller", "bootstrap"],
                              "default": "bonett-wright"}},
    rows=_rows,
)
