"""Heterogeneity against IHC. Estimands: Spearman's rho of IHC % positive cells with the intra-lesion CoV, AUC-CSH
and entropy of biopsied lesions (unit: lesion; a patient-cluster bootstrap CI when a patient has several biopsied
lesions), and with the inter-lesion spread of each patient (unit: patient, mean % positive of the patient's
biopsies)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    endpoint = "heterogeneity"
    if data.ihc is None:
        return [row(endpoint, "spearman", "cov", "lesion", None, n_subjects=0, notes="no IHC table")]
    rows = []
    if data.heterogeneity is not None:
        merged = data.ihc.merge(data.heterogeneity[data.heterogeneity["kind"] == "tumour"],
                                on=["subject_id", "timepoint", "lesion_id"], how="inner")
        for metric in ("cov", "auc_csh", "entropy"):
            m = merged.dropna(subset=[metric])
            clustered = len(m) > m["subject_id"].nunique()
            design = "unit: lesion nested in patient" if clustered else "unit: lesion, one per patient"
            rows.append(row(endpoint, "spearman_percent_positive", metric, "lesion",
                            st.spearman(m[metric].to_numpy(float), m["percent_positive"].to_numpy(float),
                                        clusters=m["subject_id"].to_numpy() if clustered else None),
                            n_subjects=m["subject_id"].nunique(), n_lesions=len(m),
                            estimand=f"biopsied tumour lesions; {design}; {metric} vs % positive; Spearman rho"))
    if data.inter_lesion is not None:
        per_patient = data.ihc.groupby(["subject_id", "timepoint"])["percent_positive"].mean().reset_index()
        merged = per_patient.merge(data.inter_lesion, on=["subject_id", "timepoint"], how="inner")
        for metric in ("suv_max_cov", "suv_max_max_min_ratio"):
            m = merged.dropna(subset=[metric])
            rows.append(row(endpoint, "spearman_percent_positive", metric, "patient",
                            st.spearman(m[metric].to_numpy(float), m["percent_positive"].to_numpy(float)),
                            n_subjects=len(m),
                            estimand=f"patients with IHC; unit: patient; {metric} vs mean % positive; Spearman rho"))
    return rows


ENDPOINT = Endpoint(
    name="heterogeneity", order=70,
    description="Intra-lesion heterogeneity and inter-lesion spread vs IHC % positive.",
    settings={}, rows=_rows)
