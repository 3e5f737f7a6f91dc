"""Intra-arterial vs intravenous administration (68Ga-DOTA, NET liver metastases): the same lesions imaged after
an IV and an IA injection. Estimand: in patients scanned after both routes, the geometric-mean ratio IA/IV of
lesion uptake, lesions matched by lesion_id and nested in patients (paired per-lesion log ratios with a patient
random intercept); and at patient level the Hodges-Lehmann ratio of the per-patient mean uptake.

Pairing rule (settings, recorded in every row): each IA scan (``ia_timepoint``, or every IA scan) is paired
with the IV scan at ``iv_timepoint`` (default ``baseline``): never an average over IV scans of other visits.
Lesions seen on only one scan are listed in the notes and not analysed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]

LESION = ("patients scanned after both routes; unit: lesion (nested in patient), matched by lesion_id; "
          "{variable}; geometric-mean ratio IA/IV")
PATIENT = "patients scanned after both routes; unit: patient; mean {variable} of matched lesions; median ratio IA/IV"


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    endpoint, iv_tp, ia_tp = "route", cfg["iv_timepoint"], cfg["ia_timepoint"]
    rule = f"pairing: IA scan{f' at {ia_tp}' if ia_tp else 's'} vs the IV scan at {iv_tp}, lesions by lesion_id"
    rows = []
    for variable in cfg["variables"]:
        second = {"route": "ia", **({"timepoint": ia_tp} if ia_tp else {})}
        pairs, unpaired = data.lesion_pairs(variable, {"route": "iv", "timepoint": iv_tp}, second)
        pairs = pairs[(pairs["first"] > 0) & (pairs["second"] > 0)]
        listed = f"unpaired lesions (not analysed): {', '.join(unpaired)}" if unpaired else ""
        if pairs.empty:
            rows.append(row(endpoint, "geometric_mean_ratio", variable, "lesion", None, n_subjects=0,
                            estimand=LESION.format(variable=variable),
                            notes=f"no lesion scanned after both IV ({iv_tp}) and IA administration (n = 0); {rule}"))
            continue
        log_ratio = np.log(pairs["second"] / pairs["first"])
        lesions = pairs["subject_id"].astype(str) + ":" + pairs["lesion_id"].astype(str)
        n_subj = int(pairs["subject_id"].nunique())
        rows.append(row(endpoint, "geometric_mean_ratio", variable, "lesion",
                        st.paired_log_ratio(log_ratio.to_numpy(float), pairs["subject_id"].to_numpy(),
                                            lesions=lesions.to_numpy()),
                        n_subjects=n_subj, n_lesions=len(pairs), estimand=LESION.format(variable=variable),
                        notes="; ".join(n for n in ("ratio IA/IV", rule, listed) if n)))
        per_patient = pairs.groupby("subject_id")[["first", "second"]].mean()
        rows.append(row(endpoint, "wilcoxon_paired", variable, "patient",
                        st.wilcoxon_paired(per_patient["first"].to_numpy(float), per_patient["second"].to_numpy(float)),
                        n_subjects=len(per_patient), estimand=PATIENT.format(variable=variable),
                        notes=f"per-patient mean IV -> IA; {rule}"))
    return rows


ENDPOINT = Endpoint(
    name="route", order=40,
    description="Intra-arterial vs intravenous administration: paired per-lesion log ratios IA/IV with a patient "
                "random intercept (geometric-mean ratio) and the patient-level Hodges-Lehmann ratio.",
    settings={"variables": {"type": "array", "items": {"type": "string"}, "default": ["suv_max", "suv_max_to_liver"]},
              "iv_timepoint": {"type": "string", "default": "baseline",
                               "description": "The IV scan every IA scan is compared with."},
              "ia_timepoint": {"type": ["string", "null"], "default": None,
                               "description": "The IA scan; null: every IA scan of the patient."}},
    rows=_rows)
