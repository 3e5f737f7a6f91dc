"""Diagnostic efficacy against histology at a fixed SUV threshold, at lesion and patient level (sensitivity,
specificity, PPV, NPV, accuracy with Wilson and Clopper-Pearson intervals), and the ROC curve with the DeLong AUC
and an exploratory Youden cut-off. Figure: the lesion-level ROC curve."""

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


def _lesions(data: CohortData, cfg: Mapping[str, Any]) -> pd.DataFrame:
    """Histology rows joined to the ``variable`` of their tumour VOI at the endpoint's timepoint."""
    variable = cfg["variable"]
    assert data.histology is not None
    lesions = data.tumours(cfg["timepoint"])[["subject_id", "lesion_id", variable]]
    return data.histology.merge(lesions, on=["subject_id", "lesion_id"], how="inner").dropna(subset=[variable])


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    variable, endpoint, threshold = cfg["variable"], "diagnostic", float(cfg["threshold"])
    data.check_variable(variable, endpoint)
    if data.histology is None:
        return [row(endpoint, "sensitivity", variable, "lesion", None, n_subjects=0, notes="no histology table")]
    merged = _lesions(data, cfg)
    truth = merged["malignant"].astype(int).to_numpy()
    score = merged[variable].to_numpy(float)
    rows = []
    levels: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray | None]] = {
        "lesion": (truth, score, merged["subject_id"].to_numpy())}
    patient = merged.groupby("subject_id").agg(malignant=("malignant", "max"), score=(variable, "max"))
    levels["patient"] = (patient["malignant"].astype(int).to_numpy(), patient["score"].to_numpy(float), None)
    for level, (y, s, clusters) in levels.items():
        n_subj = merged["subject_id"].nunique()
        n_les = len(merged) if level == "lesion" else None
        for method in ("wilson", "clopper-pearson"):
            for measure, res in st.diagnostic_accuracy(y, (s >= threshold).astype(int), method=method).items():
                rows.append(row(endpoint, measure, variable, level, res, n_subjects=n_subj, n_lesions=n_les,
                                notes=f"positive: {variable} >= {threshold:g}"))
        auc = st.roc_auc_delong(y, s)
        note = ""
        if len(set(y)) == 2:
            cut = st.youden(y, s)
            boot = st.bootstrap_cutoff_ci(y, s, clusters=clusters, n_boot=int(cfg["n_boot"]), seed=0)
            note = (f"Youden cut-off >= {cut['cutoff']:.4g} (bootstrap 95 % CI {boot.ci_low:.4g}-{boot.ci_high:.4g}"
                    f"{', patients resampled' if clusters is not None else ''}; exploratory)")
        rows.append(row(endpoint, "roc_auc", variable, level, auc, n_subjects=n_subj, n_lesions=n_les, notes=note))
    return rows


def _figures(data: CohortData, cfg: Mapping[str, Any], folder: Path) -> list[Path]:
    if data.histology is None:
        return []
    variable = cfg["variable"]
    merged = _lesions(data, cfg)
    y, s = merged["malignant"].astype(int).to_numpy(), merged[variable].to_numpy(float)
    if len(set(y)) != 2:
        return []
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, s)
    auc = st.roc_auc_delong(y, s)
    return list(figures.roc_curves([(f"lesions ({variable})", fpr, tpr, auc.estimate, (auc.ci_low, auc.ci_high))],
                                   stem=folder / "roc_histology"))


ENDPOINT = Endpoint(
    name="diagnostic", order=50,
    description="Diagnostic efficacy against histology at a fixed SUV threshold (lesion and patient level), ROC.",
    settings={"variable": {"type": "string", "default": "suv_max"},
              "threshold": {"type": "number", "default": 3.0,
                            "description": "Positive when the variable is at or above it."},
              "timepoint": {"type": "string", "default": "baseline"},
              "n_boot": {"type": "integer", "minimum": 100, "default": 2000}},
    rows=_rows, figures=_figures)
