"""Intra-arterial vs intravenous administration: per-lesion paired ratio IA/IV as a geometric-mean ratio
(lesions nested in patients), and the per-patient mean by Wilcoxon signed-rank."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    endpoint = "route"
    u = data.tumours()
    if "route" not in u or set(u["route"].astype(str)) < {"ia", "iv"}:
        return [row(endpoint, "geometric_mean_ratio", v, "lesion", None, n_subjects=0,
                    notes="no subject scanned after both intra-arterial and intravenous administration (n = 0)")
                for v in cfg["variables"]]
    rows = []
    for variable in cfg["variables"]:
        wide = u.pivot_table(index=["subject_id", "lesion_id"], columns="route", values=variable,
                             aggfunc="mean").dropna(subset=["ia", "iv"])
        wide = wide[(wide["ia"] > 0) & (wide["iv"] > 0)]
        log_ratio = np.log(wide["ia"] / wide["iv"])
        groups = wide.index.get_level_values("subject_id")
        rows.append(row(endpoint, "geometric_mean_ratio", variable, "lesion",
                        st.geometric_mean_ratio(log_ratio.to_numpy(float), np.asarray(groups)),
                        n_subjects=len(set(groups)), n_lesions=len(wide), notes="ratio IA/IV"))
        per_patient = wide.groupby(level="subject_id")[["ia", "iv"]].mean()
        rows.append(row(endpoint, "wilcoxon_paired", variable, "patient",
                        st.wilcoxon_paired(per_patient["iv"].to_numpy(float), per_patient["ia"].to_numpy(float)),
                        n_subjects=len(per_patient), notes="per-patient mean IV -> IA"))
    return rows


ENDPOINT = Endpoint(
    name="route", order=40,
    description="Intra-arterial vs intravenous administration (paired per lesion; geometric-mean ratio IA/IV).",
    settings={"variables": {"type": "array", "items": {"type": "string"},
                            "default": ["suv_max", "suv_max_to_liver"]}},
    rows=_rows)
