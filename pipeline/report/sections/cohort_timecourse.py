"""Cohort report, response over time: the swimmer plot (RECIST 1.1 and iRECIST time-point responses per patient
over time, an arrow where there is no progression) and the spider plot (per-lesion % change of the uptake
variable ``report.time_course_variable``, default SUVmax, from the baseline scan).

Time: the spider plot is in days from the subject's baseline scan (the scans' ``reference_datetime`` in their
``suv.json``), else from the baseline RECIST assessment (``assessment_date`` of ``response.csv``); the swimmer plot
in days from the first RECIST assessment. When a point has no time the axis is the visit order of the sample sheet
instead (said in the caption). The baseline of a lesion is its value at the subject's first static timepoint of
the sample sheet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...stats.figures import axis_label, spider, swimmer
from ..inputs import CohortInputs
from ..render import Section, drawn_png, embedded_figure, is_missing

__all__ = ["SECTION", "SPIDER_COLOURS", "progressed", "spider_table", "swimmer_table"]

#: ``report.spider_colour``: colour the spider lines by patient (``subject_id``), by ``arm``, or ``auto``: by
#: patient up to seven patients (one colour each), else by arm when the sample sheet names two or more arms.
SPIDER_COLOURS = ("auto", "subject_id", "arm")
_DISTINCT = 7
_PROGRESSION = {"overall_response": {"PD"}, "irecist_response": {"iCPD"}}
_RESPONSES = {"overall_response": "RECIST 1.1", "irecist_response": "iRECIST"}
_SPIDER_AXES = {"Days from baseline scan": "days from the baseline scan",
                "Days from baseline": "days from the baseline RECIST assessment"}


def progressed(rows: pd.DataFrame) -> bool:
    """True when a patient's time-point responses show progression: RECIST 1.1 PD, iRECIST iCPD, or a
    progression date."""
    for column, categories in _PROGRESSION.items():
        if column in rows and rows[column].astype(str).str.strip().isin(categories).any():
            return True
    return "progression_date" in rows and bool(rows["progression_date"].map(lambda v: not is_missing(v)
                                                                           and str(v).strip() != "").any())


def _visit_order(sheet: pd.DataFrame) -> dict[str, int]:
    return {str(tp): i for i, tp in enumerate(dict.fromkeys(sheet["timepoint"].astype(str)))}


def _dates(response: pd.DataFrame | None) -> dict[tuple[str, str], Any]:
    """(subject, timepoint) -> assessment date, from ``response.csv``."""
    if response is None or not {"subject_id", "timepoint", "assessment_date"} <= set(response.columns):
        return {}
    dates = pd.to_datetime(response["assessment_date"], errors="coerce")
    return {(str(s), str(t)): d for s, t, d in zip(response["subject_id"], response["timepoint"], dates, strict=True)
            if not pd.isna(d)}


def _time(table: pd.DataFrame, sources: Sequence[tuple[Mapping[tuple[str, str], Any], str]],
          baselines: Mapping[str, str], visits: Mapping[str, int]) -> tuple[pd.DataFrame, dict[float, str] | None, str]:
    """Add ``time``: days from the subject's baseline in the first of ``sources`` ((subject, timepoint) -> date or
    datetime, axis label) that dates every row and its baseline, else the visit order."""
    keys = list(zip(table["subject_id"].astype(str), table["timepoint"].astype(str), strict=True))
    for dates, label in sources:
        if keys and all(k in dates and (k[0], baselines.get(k[0], "")) in dates for k in keys):
            days = [(dates[k] - dates[(k[0], baselines[k[0]])]).total_seconds() / 86400.0 for k in keys]
            return table.assign(time=days), None, label
    order = [float(visits.get(t, np.nan)) for _, t in keys]
    ticks = {float(i): tp for tp, i in visits.items() if float(i) in set(order)}
    return table.assign(time=order), ticks, "Visit"


def _baselines(sheet: pd.DataFrame) -> dict[str, str]:
    """Subject -> its baseline timepoint: the first static timepoint of the sample sheet."""
    return {str(s): str(g["timepoint"].iloc[0]) for s, g in sheet.groupby("subject_id", sort=False)}


def spider_table(inputs: CohortInputs) -> tuple[pd.DataFrame | None, str]:
    """Per tumour lesion and scan: ``subject_id``, ``arm``, ``lesion_id``, ``timepoint``, the value and
    ``pct_change`` from the lesion's baseline value (lesions without a positive baseline value left out; later
    scans of the baseline's injection, a multi-day PK series, left out), or None with the reason."""
    uptake, variable = inputs.uptake, inputs.variable
    if uptake is None:
        return None, "no cohort uptake table"
    needed = {"subject_id", "timepoint", "kind", "lesion_id", variable}
    if not needed <= set(uptake.columns):
        return None, f"the cohort uptake table has no {', '.join(sorted(needed - set(uptake.columns)))} column"
    named = uptake["lesion_id"].map(lambda v: not is_missing(v) and bool(str(v).strip())).astype(bool)
    tumours = uptake[(uptake["kind"] == "tumour") & named]
    tumours = tumours.assign(subject_id=tumours["subject_id"].astype(str), lesion_id=tumours["lesion_id"].astype(str),
                             timepoint=tumours["timepoint"].astype(str))
    tumours = tumours.groupby(["subject_id", "lesion_id", "timepoint"], as_index=False)[variable].mean()
    baselines = _baselines(inputs.sheet)
    injection = [inputs.injections.get((s, t)) for s, t in zip(tumours["subject_id"], tumours["timepoint"],
                                                                  strict=True)]
    base_injection = [inputs.injections.get((s, baselines.get(s, ""))) for s in tumours["subject_id"]]
    pk_series = [bool(i) and i == b and t != baselines.get(s) for i, b, s, t in
                 zip(injection, base_injection, tumours["subject_id"], tumours["timepoint"], strict=True)]
    tumours = tumours[~np.asarray(pk_series, dtype=bool)]  # later scans of the baseline's injection: PK, not response
    first = tumours[tumours["timepoint"] == tumours["subject_id"].map(baselines)]
    base = first.set_index(["subject_id", "lesion_id"])[variable]
    base = base[base > 0]
    keys = pd.MultiIndex.from_frame(tumours[["subject_id", "lesion_id"]])
    reference = base.reindex(keys).to_numpy(dtype=float)
    table = tumours.assign(pct_change=100.0 * (tumours[variable].to_numpy(dtype=float) / reference - 1.0))
    table = table[np.isfinite(table["pct_change"].to_numpy(dtype=float))]
    if table.empty:
        return None, f"no lesion with a baseline {variable} > 0 and a follow-up scan"
    arms = inputs.sheet.drop_duplicates("subject_id").set_index("subject_id").get("arm")
    table = table.assign(arm=table["subject_id"].map(arms) if arms is not None else "")
    return table.reset_index(drop=True), ""


def _spider_colour(inputs: CohortInputs, table: pd.DataFrame) -> str:
    configured = str((inputs.config.get("report") or {}).get("spider_colour") or "auto")
    arms = {str(a) for a in table["arm"] if not is_missing(a) and str(a).strip()}
    if configured == "arm" or (configured == "auto" and table["subject_id"].nunique() > _DISTINCT and len(arms) > 1):
        return "arm"
    return "subject_id"


def swimmer_table(inputs: CohortInputs) -> tuple[pd.DataFrame | None, str]:
    """Per patient and assessment of ``response.csv``: the responses, ``arm`` and ``ongoing`` (no
    progression), or None with the reason."""
    response = inputs.response
    if response is None:
        return None, "no response.csv (RECIST time-point responses)"
    if not {"subject_id", "timepoint"} <= set(response.columns) or response.empty:
        return None, "response.csv has no assessments"
    table = response.assign(subject_id=response["subject_id"].astype(str), timepoint=response["timepoint"].astype(str))
    ongoing = {str(s): not progressed(rows) for s, rows in table.groupby("subject_id")}
    arms = inputs.sheet.drop_duplicates("subject_id").set_index("subject_id").get("arm")
    table = table.assign(ongoing=table["subject_id"].map(ongoing),
                         arm=table["subject_id"].map(arms) if arms is not None else "")
    return table.reset_index(drop=True), ""


def _swimmer(inputs: CohortInputs) -> tuple[dict[str, str] | None, str]:
    table, reason = swimmer_table(inputs)
    if table is None:
        return None, reason
    dates = _dates(inputs.response)
    first: dict[str, str] = {}  # each patient's first assessment (the earliest date; the first of ties)
    for (s, t), when in dates.items():
        if s not in first or when < dates[(s, first[s])]:
            first[s] = t
    visits = _visit_order(inputs.sheet)
    for tp in dict.fromkeys(table["timepoint"]):  # RECIST-only visits (no PET scan) after the sheet's
        visits.setdefault(str(tp), len(visits))
    table, ticks, label = _time(table, [(dates, "Days from baseline")], first, visits)
    responses = {c: text for c, text in _RESPONSES.items() if c in table.columns}
    has_arms = "arm" in table and table["arm"].map(lambda a: not is_missing(a) and str(a).strip() != "").any()
    png = drawn_png(lambda stem: swimmer(table, stem, time="time", responses=responses,
                                         bar_colour="arm" if has_arms else None, ongoing="ongoing",
                                         time_ticks=ticks, time_label=label))
    n_ongoing = int(table.drop_duplicates("subject_id")["ongoing"].sum())
    caption = (f"Swimmer plot: one bar per patient ({table['subject_id'].nunique()}) from baseline to the last "
               f"RECIST assessment ({'days from the baseline assessment' if ticks is None else 'by visit'}), the "
               f"time-point responses as markers ({' and '.join(responses.values())}); an arrow marks the "
               f"{n_ongoing} patient(s) without progression (no PD, iCPD or progression date).")
    return embedded_figure("swimmer", caption, png, element_id="swimmer"), ""


def _spider(inputs: CohortInputs) -> tuple[dict[str, str] | None, str]:
    table, reason = spider_table(inputs)
    if table is None:
        return None, reason
    sources = [(inputs.scan_times, "Days from baseline scan"), (_dates(inputs.response), "Days from baseline")]
    table, ticks, label = _time(table, sources, _baselines(inputs.sheet), _visit_order(inputs.sheet))
    colour = _spider_colour(inputs, table)
    variable = inputs.variable
    png = drawn_png(lambda stem: spider(table, stem, time="time", value="pct_change", line="lesion_id",
                                        colour=colour, time_ticks=ticks, time_label=label,
                                        ylabel=f"{axis_label(variable)}: change from baseline (%)"))
    n_lesions = len(table.drop_duplicates(["subject_id", "lesion_id"]))
    caption = (f"Spider plot: % change of {axis_label(variable)} ({variable}) from the baseline scan per lesion "
               f"({n_lesions} lesions, {table['subject_id'].nunique()} patients; lesions matched by lesion_id), "
               f"{_SPIDER_AXES.get(label, 'by visit')}, coloured by "
               f"{'arm' if colour == 'arm' else 'patient'}; dashed lines at ±30 %.")
    return embedded_figure("spider", caption, png, element_id="spider"), ""


def build(inputs: CohortInputs) -> dict[str, Any]:
    """``timecourse``: the ``swimmer`` and ``spider`` figures (None with the reason when their input is missing)."""
    swim, swim_reason = _swimmer(inputs)
    spid, spid_reason = _spider(inputs)
    return {"timecourse": {"swimmer": swim, "swimmer_reason": swim_reason, "spider": spid,
                           "spider_reason": spid_reason}}


SECTION = Section("cohort_timecourse", build)
