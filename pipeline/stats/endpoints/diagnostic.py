"""Diagnostic efficacy against histology. Estimands: at lesion level (histology-verified lesions nested in
patients) sensitivity, specificity, PPV, NPV and accuracy of ``variable >= threshold`` with Rao-Scott
cluster-adjusted Wilson intervals, and the ROC AUC with Obuchowski's clustered variance; at patient level
(a patient is positive when any lesion is, malignant when any lesion is) the same proportions with Wilson and
Clopper-Pearson intervals and the DeLong AUC. Optional comparisons on the same lesions: a second variable
(AUC difference, Obuchowski covariance) and a second threshold (clustered McNemar, Durkalski). The Youden
cut-off is exploratory, with a patient-cluster bootstrap CI. Figure: the lesion-level ROC curve."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import figures
from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]

LESION = "histology-verified lesions at {timepoint}; unit: lesion nested in patient; {variable} >= {threshold:g}"
PATIENT = ("patients with histology at {timepoint}; unit: patient (positive if any lesion is); "
           "{variable} >= {threshold:g}")
#: measure -> (lesions in the denominator, lesions counted as successes), from truth y and call c
MEASURES = {"sensitivity": (lambda y, c: y == 1, lambda y, c: c == 1),
            "specificity": (lambda y, c: y == 0, lambda y, c: c == 0),
            "ppv": (lambda y, c: c == 1, lambda y, c: y == 1),
            "npv": (lambda y, c: c == 0, lambda y, c: y == 0),
            "accuracy": (lambda y, c: np.ones_like(y, dtype=bool), lambda y, c: y == c)}


def _lesions(data: CohortData, cfg: Mapping[str, Any], variables: list[str]) -> pd.DataFrame:
    """Histology rows joined to the ``variables`` of their tumour VOI at the endpoint's timepoint."""
    assert data.histology is not None
    lesions = data.tumours(cfg["timepoint"])[["subject_id", "lesion_id", *variables]]
    return data.histology.merge(lesions, on=["subject_id", "lesion_id"], how="inner").dropna(subset=variables)


def _lesion_rows(merged: pd.DataFrame, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    endpoint, variable, threshold = "diagnostic", cfg["variable"], float(cfg["threshold"])
    y = merged["malignant"].astype(int).to_numpy()
    s = merged[variable].to_numpy(float)
    call = (s >= threshold).astype(int)
    patients = merged["subject_id"].astype(str).to_numpy()
    n_subj = int(len(set(patients)))
    estimand = LESION.format(timepoint=cfg["timepoint"], variable=variable, threshold=threshold)
    rows = []
    for measure, (denominator, success) in MEASURES.items():
        keep = denominator(y, call)
        res = st.clustered_proportion(success(y, call)[keep].astype(float), patients[keep])
        rows.append(row(endpoint, measure, variable, "lesion", res, n_subjects=len(set(patients[keep])),
                        n_lesions=int(keep.sum()), estimand=f"{estimand}; {measure}",
                        notes=f"positive: {variable} >= {threshold:g}"))
    note = ""
    if len(set(y)) == 2:
        cut = st.youden(y, s)
        boot = st.bootstrap_cutoff_ci(y, s, clusters=patients, n_boot=int(cfg["n_boot"]), seed=0)
        note = (f"Youden cut-off >= {cut['cutoff']:.4g} (patient-cluster bootstrap 95 % CI {boot.ci_low:.4g}-"
                f"{boot.ci_high:.4g}; exploratory)")
    rows.append(row(endpoint, "roc_auc", variable, "lesion", st.clustered_auc(y, s, patients), n_subjects=n_subj,
                    n_lesions=len(y), notes=note,
                    estimand=f"histology-verified lesions at {cfg['timepoint']}; unit: lesion nested in patient; "
                             f"{variable}; ROC AUC"))
    other = cfg.get("compare_variable")
    if other:
        res = st.clustered_auc_difference(y, s, merged[other].to_numpy(float), patients)
        rows.append(row(endpoint, "roc_auc_difference", f"{variable} - {other}", "lesion", res, n_subjects=n_subj,
                        n_lesions=len(y), estimand=f"histology-verified lesions at {cfg['timepoint']}; unit: lesion "
                                                   f"nested in patient; AUC({variable}) - AUC({other})"))
    second = cfg.get("compare_threshold")
    if second is not None:
        call_b = (s >= float(second)).astype(int)
        res = st.clustered_mcnemar(call, call_b, patients)
        rows.append(row(endpoint, "mcnemar_thresholds", variable, "lesion", res, n_subjects=n_subj,
                        n_lesions=len(y), notes=f"a: >= {threshold:g}, b: >= {float(second):g}",
                        estimand=f"histology-verified lesions at {cfg['timepoint']}; unit: lesion nested in patient; "
                                 f"positive rate at {threshold:g} minus at {float(second):g}"))
    return rows


def _patient_rows(merged: pd.DataFrame, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    endpoint, variable, threshold = "diagnostic", cfg["variable"], float(cfg["threshold"])
    patient = merged.groupby("subject_id").agg(malignant=("malignant", "max"), score=(variable, "max"))
    y, s = patient["malignant"].astype(int).to_numpy(), patient["score"].to_numpy(float)
    estimand = PATIENT.format(timepoint=cfg["timepoint"], variable=variable, threshold=threshold)
    rows = []
    for method in ("wilson", "clopper-pearson"):
        for measure, res in st.diagnostic_accuracy(y, (s >= threshold).astype(int), method=method).items():
            rows.append(row(endpoint, measure, variable, "patient", res, n_subjects=len(y),
                            estimand=f"{estimand}; {measure}", notes=f"positive: {variable} >= {threshold:g}"))
    rows.append(row(endpoint, "roc_auc", variable, "patient", st.roc_auc_delong(y, s), n_subjects=len(y),
                    estimand=f"patients with histology at {cfg['timepoint']}; unit: patient; highest {variable}; "
                             "ROC AUC"))
    return rows


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    variable, endpoint = cfg["variable"], "diagnostic"
    data.check_variable(variable, endpoint)
    if cfg.get("compare_variable"):
        data.check_variable(cfg["compare_variable"], endpoint)
    if data.histology is None:
        return [row(endpoint, "sensitivity", variable, "lesion", None, n_subjects=0, notes="no histology table")]
    variables = [variable, *([cfg["compare_variable"]] if cfg.get("compare_variable") else [])]
    merged = _lesions(data, cfg, variables)
    return _lesion_rows(merged, cfg) + _patient_rows(merged, cfg)


def _figures(data: CohortData, cfg: Mapping[str, Any], folder: Path) -> list[Path]:
    if data.histology is None:
        return []
    variable = cfg["variable"]
    merged = _lesions(data, cfg, [variable])
    y, s = merged["malignant"].astype(int).to_numpy(), merged[variable].to_numpy(float)
    if len(set(y)) != 2:
        return []
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, s)
    auc = st.clustered_auc(y, s, merged["subject_id"].astype(str).to_numpy())
    return list(figures.roc_curves([(f"lesions ({variable})", fpr, tpr, auc.estimate, (auc.ci_low, auc.ci_high))],
                                   stem=folder / "roc_histology"))


ENDPOINT = Endpoint(
    name="diagnostic", order=50,
    description="Diagnostic efficacy against histology at a fixed SUV threshold: lesion level with cluster-adjusted "
                "intervals (Rao-Scott, Obuchowski AUC), patient level (Wilson, Clopper-Pearson, DeLong); optional "
                "second variable (AUC difference) and second threshold (clustered McNemar).",
    settings={"variable": {"type": "string", "default": "suv_max"},
              "threshold": {"type": "number", "default": 3.0,
                            "description": "Positive when the variable is at or above it."},
              "timepoint": {"type": "string", "default": "baseline"},
              "n_boot": {"type": "integer", "minimum": 100, "default": 2000},
              "compare_variable": {"type": ["string", "null"], "default": None,
                                   "description": "A second uptake variable whose AUC is compared on the same "
                                                  "lesions (e.g. suv_peak)."},
              "compare_threshold": {"type": ["number", "null"], "default": None,
                                    "description": "A second threshold whose calls are compared with McNemar."}},
    rows=_rows, figures=_figures)
