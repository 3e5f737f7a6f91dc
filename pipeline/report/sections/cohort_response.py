"""Cohort report, response: counts of best overall response (RECIST 1.1, iRECIST) and of PERCIST-style and
EORTC classes, and per patient and follow-up the hottest-lesion SULpeak change with the classes."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..inputs import CohortInputs
from ..render import Section, column_cell, is_missing, text

__all__ = ["SECTION"]

ORDER = ["CR", "iCR", "CMR", "PR", "iPR", "PMR", "SD", "iSD", "SMD", "PD", "iUPD", "iCPD", "PMD", "NE", "NA"]


def _counts(values: pd.Series) -> list[dict[str, Any]]:
    filled = values.map(lambda v: "NE" if is_missing(v) or str(v) == "" else str(v))
    vc = filled.value_counts()
    keys = sorted(vc.index, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))
    return [{"category": k, "n": int(vc[k])} for k in keys]


def build(inputs: CohortInputs) -> dict[str, Any]:
    """``response``: ``bor``, ``ibor``, ``percist``, ``eortc`` counts and ``patients`` rows (None when missing)."""
    bor, deltas = inputs.bor, inputs.deltas
    out: dict[str, Any] = {"bor": None, "ibor": None, "percist": None, "eortc": None, "patients": None}
    if bor is not None and "bor" in bor.columns:
        out["bor"] = _counts(bor["bor"])
        if "ibor" in bor.columns:
            out["ibor"] = _counts(bor["ibor"])
    if deltas is not None and {"level", "subject_id", "timepoint"} <= set(deltas.columns):
        patient = deltas[deltas["level"] == "patient"]
        if not patient.empty:
            per_visit = patient.drop_duplicates(["subject_id", "timepoint"])
            if "percist" in per_visit:
                out["percist"] = _counts(per_visit["percist"])
            if "eortc" in per_visit:
                out["eortc"] = _counts(per_visit["eortc"])
            hottest = patient[patient.get("metric") == "hottest_lesion_sul_peak"] if "metric" in patient else patient
            hottest = hottest.set_index(["subject_id", "timepoint"])
            bor_by = bor.set_index("subject_id") if bor is not None and "subject_id" in bor else None
            rows = []
            for _, r in per_visit.sort_values(["subject_id", "timepoint"]).iterrows():
                key = (r["subject_id"], r["timepoint"])
                pct = hottest.loc[key, "pct_change"] if key in hottest.index and "pct_change" in hottest else None
                if isinstance(pct, pd.Series):
                    pct = pct.iloc[0]
                b = bor_by.loc[r["subject_id"]] if bor_by is not None and r["subject_id"] in bor_by.index else None
                if isinstance(b, pd.DataFrame):
                    b = b.iloc[0]
                rows.append({"subject_id": str(r["subject_id"]), "timepoint": str(r["timepoint"]),
                             "pct": column_cell(pct, "hottest_lesion_sul_peak_pct_change"),
                             "percist": text(r.get("percist")), "eortc": text(r.get("eortc")),
                             "comparable": text(r.get("comparable")),
                             "bor": text(b.get("bor")) if b is not None else "",
                             "ibor": text(b.get("ibor")) if b is not None else ""})
            out["patients"] = rows
    return {"response": out}


SECTION = Section("cohort_response", build)
