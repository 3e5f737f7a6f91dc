"""Heterogeneity against IHC: intra-lesion CoV, AUC-CSH and entropy of the biopsied lesion, and the inter-lesion
spread of each patient, against IHC % positive cells (Spearman)."""

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
            rows.append(row(endpoint, "spearman_percent_positive", metric, "lesion",
                            st.spearman(m[metric].to_numpy(float), m["percent_positive"].to_numpy(float)),
                            n_subjects=m["subject_id"].nunique(), n_lesions=len(m)))
    if data.inter_lesion is not None:
        per_patient = data.ihc.groupby(["subject_id", "timepoint"])["percent_positive"].mean().reset_index()
        merged = per_patient.merge(data.inter_lesion, on=["subject_id", "timepoint"], how="inner")
        for metric in ("suv_max_cov", "suv_max_max_min_ratio"):
            m = merged.dropna(subset=[metric])
            rows.append(row(endpoint, "spearman_percent_positive", metric, "patient",
                            st.spearman(m[metric].to_numpy(float), m["percent_positive"].to_numpy(float)),
                            n_subjects=len(m)))
    return rows


ENDPOINT = Endpoint(
    name="heterogeneity", order=70,
    description="Intra-lesion heterogeneity and inter-lesion spread vs IHC % positive.",
    settings={}, rows=_rows)
