"""Cohort report, overview: subjects (sample-sheet IDs only) with arm, route, tracer and lesion counts per
timepoint, and the subjects per tracer and arm."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..inputs import CohortInputs
from ..render import Section, column_cell

__all__ = ["SECTION"]


def build(inputs: CohortInputs) -> dict[str, Any]:
    """``overview``: rows per subject, counts per tracer and arm, totals."""
    sheet, uptake = inputs.sheet, inputs.uptake
    timepoints = list(dict.fromkeys(sheet["timepoint"]))
    lesions: dict[tuple[str, str], int] = {}
    if uptake is not None and {"subject_id", "timepoint", "kind"} <= set(uptake.columns):
        tumours = uptake[uptake["kind"] == "tumour"]
        key = "lesion_id" if "lesion_id" in tumours.columns else "name"
        counts = tumours.groupby(["subject_id", "timepoint"])[key].nunique() if key in tumours else pd.Series()
        lesions = {(str(s), str(t)): int(n) for (s, t), n in counts.items()}
    rows = []
    for subject, group in sheet.groupby("subject_id", sort=True):
        first = group.iloc[0]
        by_tp = {str(r["timepoint"]): r for _, r in group.iterrows()}
        cells = []
        for tp in timepoints:
            if tp not in by_tp:
                cells.append({"text": "—", "value": "nan", "column": f"lesions:{tp}"})
            elif uptake is None:
                cells.append({"text": "n/a", "value": "nan", "column": f"lesions:{tp}"})
            else:
                cells.append(column_cell(lesions.get((str(subject), tp), 0), f"lesions:{tp}"))
        row = {"subject_id": str(subject), "arm": first.get("arm", ""), "route": first.get("route", ""),
               "tracer": first["tracer"], "nuclide": first.get("nuclide", ""), "lesions": cells}
        if not inputs.deidentify:
            row["studies"] = "; ".join(f"{tp}: {r.get('study_uid', '') or r.get('dicom', '')}"
                                       for tp, r in by_tp.items())
        rows.append(row)
    per_subject = sheet.drop_duplicates("subject_id").copy()
    per_subject["arm"] = per_subject.get("arm", pd.Series("", index=per_subject.index)).replace("", "—")
    table = pd.crosstab(per_subject["tracer"], per_subject["arm"], margins=True, margins_name="total")
    counts = {"arms": [str(c) for c in table.columns],
              "rows": [{"tracer": str(t), "n": [int(v) for v in table.loc[t]]} for t in table.index]}
    return {"overview": {"timepoints": timepoints, "rows": rows, "counts": counts, "n_subjects": len(per_subject),
                         "n_scans": len(sheet), "lesions_available": uptake is not None}}


SECTION = Section("overview", build)
