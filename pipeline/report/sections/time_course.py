"""Patient report, uptake over time (subjects with more than one scan): each lesion's
``report.time_course_variable`` (default SUVmax) and each organ's and reference region's SUVmean at every
timepoint, from the study uptake tables.

Time is in days from the baseline scan: the ``reference_datetime`` of each study's ``suv.json`` (the scan's
decay-correction reference, so that scans days apart after one injection, as in multi-day PK, are apart), else
its ``injection_datetime``; when a study has neither, or two scans would share a time, the axis is the visit
order of the sample sheet.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from ...stats.figures import axis_label, time_course
from ..inputs import PatientInputs, time_course_variable
from ..render import Section, drawn_png, embedded_figure, is_missing, text

__all__ = ["SECTION", "ORGAN_VALUE", "uptake_over_time"]

#: The uptake column of the organ and reference-region panel.
ORGAN_VALUE = "suv_mean"
_PANELS = ("Lesions", "Organs and reference regions")


def _scan_time(inputs: PatientInputs, tp: str) -> dt.datetime | None:
    sidecar = inputs.sidecars[tp]
    for key in ("reference_datetime", "injection_datetime"):
        value = sidecar.get(key)
        if value:
            try:
                return dt.datetime.fromisoformat(str(value))
            except ValueError:
                continue
    return None


def uptake_over_time(inputs: PatientInputs) -> tuple[pd.DataFrame, dict[float, str] | None, str]:
    """The rows of the figure: per VOI and timepoint ``name``, ``panel``, ``time``, the variable and SUVmean.

    Returns
    -------
    (DataFrame, dict or None, str)
        The rows (tumour VOIs by lesion ID, organs and reference regions by name), the tick labels of a
        visit-order axis (None for days) and the axis label.
    """
    variable = time_course_variable(inputs.config)
    times = {tp: _scan_time(inputs, tp) for tp in inputs.timepoints}
    first = times[inputs.timepoints[0]]
    known = [t for t in times.values() if t is not None]
    by_day = first is not None and len(known) == len(times) and len(set(known)) == len(known)
    rows = []
    for i, tp in enumerate(inputs.timepoints):
        scan = times[tp]
        when = (scan - first).total_seconds() / 86400.0 if by_day and scan is not None and first is not None \
            else float(i)
        table = inputs.uptake[tp]
        for _, r in table[table["kind"].isin(["tumour", "organ", "reference"])].iterrows():
            tumour = r["kind"] == "tumour"
            name = (text(r.get("lesion_id")) or str(r["name"])) if tumour else str(r["name"])
            rows.append({"name": name, "panel": _PANELS[0] if tumour else _PANELS[1], "timepoint": tp, "time": when,
                         variable: r.get(variable), ORGAN_VALUE: r.get(ORGAN_VALUE)})
    columns = ["name", "panel", "timepoint", "time", variable, ORGAN_VALUE]
    table = pd.DataFrame(rows, columns=list(dict.fromkeys(columns)))
    if by_day:
        return table, None, "Days from baseline scan"
    return table, {float(i): tp for i, tp in enumerate(inputs.timepoints)}, "Visit"


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``time_course``: the figure (None for a single scan, or when no VOI has the values)."""
    if len(inputs.timepoints) < 2:
        return {"time_course": None}
    variable = time_course_variable(inputs.config)
    if any(variable not in inputs.uptake[tp].columns for tp in inputs.timepoints):
        return {"time_course": {"figure": None, "reason": f"uptake.csv has no {variable} column"}}
    table, ticks, label = uptake_over_time(inputs)
    if table.empty or table[[variable, ORGAN_VALUE]].map(is_missing).all().all():
        return {"time_course": {"figure": None, "reason": "no lesion or organ VOI"}}
    png = drawn_png(lambda stem: time_course(table, stem, time="time", value=variable, line="name", panel="panel",
                                             panel_order=_PANELS, panel_values={_PANELS[1]: ORGAN_VALUE},
                                             time_ticks=ticks, time_label=label))
    n_lesions = table.loc[table["panel"] == _PANELS[0], "name"].nunique()
    caption = (f"{axis_label(variable)} of each lesion ({n_lesions}) and {axis_label(ORGAN_VALUE)} of each organ and "
               f"reference region at the {len(inputs.timepoints)} scans "
               f"({'days from the baseline scan' if ticks is None else 'visit order'}); lesions by lesion_id.")
    return {"time_course": {"figure": embedded_figure(f"{inputs.subject_id}_uptake_over_time", caption, png,
                                                      element_id="suv-time-figure"), "reason": ""}}


SECTION = Section("time_course", build)
