"""Baseline vs on-treatment uptake. Estimands: per organ, the patient-level median ratio on/baseline of the organ
SUV (Hodges-Lehmann, signed-rank CI); for the hottest tumour, the same on the patient's hottest lesion; for all
tumour lesions, the geometric-mean ratio on/baseline of lesions matched by lesion_id and nested in patients
(paired per-lesion log ratios with a patient random intercept), and, when lesions have more than two visits, the
ratio from a nested patient/lesion model over every visit of the lesions seen at both visits. Lesions seen at one
visit only are listed, not used."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]

ORGAN = "patients with both scans; unit: patient; {variable} of the organ; median ratio on-treatment/baseline"
HOTTEST = "patients with both scans; unit: patient; {variable} of the hottest lesion; median ratio on/baseline"
LESIONS = ("patients with both scans; unit: lesion (nested in patient), matched by lesion_id; {variable}; "
           "geometric-mean ratio on-treatment/baseline")
NESTED = ("patients with lesions at more than two visits; unit: lesion x visit (nested in lesion and patient); "
          "{variable}; geometric-mean ratio {target}/{reference}")


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    endpoint, organ_var, tumour_var = "treatment_change", cfg["organ_variable"], cfg["tumour_variable"]
    b, f = cfg["baseline"], cfg["followup"]
    u = data.uptake
    rows = []
    organs = u[u["kind"].isin(["organ", "reference"])]
    for organ, group in organs.groupby("organ"):
        wide = group.pivot_table(index="subject_id", columns="timepoint", values=organ_var, aggfunc="mean")
        if b not in wide or f not in wide:
            continue
        pair = wide[[b, f]].dropna()
        rows.append(row(endpoint, "wilcoxon_paired", organ_var, f"organ={organ}",
                        st.wilcoxon_paired(pair[b].to_numpy(float), pair[f].to_numpy(float)),
                        n_subjects=len(pair), estimand=ORGAN.format(variable=organ_var)))
    hottest_b = data.hottest(tumour_var, b).set_index("subject_id")[tumour_var]
    hottest_f = data.hottest(tumour_var, f).set_index("subject_id")[tumour_var]
    pair = pd.concat([hottest_b.rename("b"), hottest_f.rename("f")], axis=1, join="inner").dropna()
    rows.append(row(endpoint, "wilcoxon_paired", tumour_var, "tumour:hottest_lesion",
                    st.wilcoxon_paired(pair["b"].to_numpy(float), pair["f"].to_numpy(float)),
                    n_subjects=len(pair), estimand=HOTTEST.format(variable=tumour_var)))
    pairs, unpaired = data.lesion_pairs(tumour_var, {"timepoint": b}, {"timepoint": f})
    pairs = pairs[(pairs["first"] > 0) & (pairs["second"] > 0)]
    listed = f"unpaired lesions (not analysed): {', '.join(unpaired)}" if unpaired else ""
    lesions = pairs["subject_id"].astype(str) + ":" + pairs["lesion_id"].astype(str)
    res = st.paired_log_ratio(np.log(pairs["second"] / pairs["first"]).to_numpy(float),
                              pairs["subject_id"].to_numpy(), lesions=lesions.to_numpy()) if len(pairs) else None
    rows.append(row(endpoint, "paired_log_ratio", tumour_var, "tumour:lesions", res,
                    n_subjects=int(pairs["subject_id"].nunique()), n_lesions=len(pairs),
                    estimand=LESIONS.format(variable=tumour_var),
                    notes="; ".join(n for n in (f"ratio {f}/{b}, lesions by lesion_id", listed) if n)))
    tumours = data.tumours()
    seen = tumours.groupby(["subject_id", "lesion_id"])["timepoint"].agg(set)
    both = seen[seen.map(lambda v: {b, f} <= v)]  # lesions of other series (a multi-day PK subject) are not visits
    tumours = tumours.set_index(["subject_id", "lesion_id"]).loc[both.index].reset_index()
    visits = both.map(len)
    if (visits > 2).any():
        long = tumours[["subject_id", "lesion_id", "timepoint", tumour_var]].rename(columns={"lesion_id": "lesion"})
        rows.append(row(endpoint, "nested_visit_ratio", tumour_var, "tumour:lesions",
                        st.nested_visit_ratio(long, value=tumour_var, visit="timepoint", reference=b, target=f),
                        n_subjects=int(long["subject_id"].nunique()), n_lesions=int(len(visits)),
                        estimand=NESTED.format(variable=tumour_var, target=f, reference=b)))
    return rows


ENDPOINT = Endpoint(
    name="treatment_change", order=30,
    description="Baseline vs on-treatment: per organ and for the hottest tumour at patient level (Wilcoxon with the "
                "Hodges-Lehmann ratio), for matched lesions nested in patients (paired log ratios, patient random "
                "intercept; nested model when lesions have more than two visits).",
    settings={"organ_variable": {"type": "string", "default": "suv_mean"},
              "tumour_variable": {"type": "string", "default": "suv_max"},
              "baseline": {"type": "string", "default": "baseline"},
              "followup": {"type": "string", "default": "on_treatment"}},
    rows=_rows)
