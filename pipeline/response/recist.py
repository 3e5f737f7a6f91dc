"""RECIST 1.1 time-point responses (and iRECIST, via :mod:`.irecist`) from lesion measurements.

Input table (one row per subject, timepoint and lesion):

``subject_id, timepoint, assessment_date`` (ISO date), ``lesion_id``, ``lesion_type`` (target | non_target |
new), ``organ``, ``is_lymph_node`` (0/1, true/false), ``diameter_mm`` (long axis; short axis for nodes; may be
empty for non-target and new lesions), ``non_target_status`` and the optional columns ``assessed`` (0/1, default 1)
and ``too_small`` (0/1, default 0: 1 means "too small to measure" and the lesion counts as
:attr:`RecistOptions.too_small_mm`, 5 mm, whatever the diameter column says).

``non_target_status`` holds the reader's call for lesions that are not measured:

* non-target lesions: ``present`` (not unequivocally progressed), ``absent`` (disappeared; nodes < 10 mm short
  axis), ``unequivocal_progression`` (unequivocal progression relative to the best state) and ``increase`` (for
  iRECIST: a further increase since the previous assessment of disease that is already unequivocally progressed;
  it counts as unequivocal progression for RECIST). Empty at baseline means ``present``; empty at a follow-up
  means "not assessed".
* new lesions: empty or ``present`` (an unequivocal new lesion), ``equivocal`` (not PD), ``absent`` (resolved) and
  ``increase`` (an iRECIST new-lesion-non-target that increased since the previous assessment).
* target lesions: must be empty.

The subject's earliest assessment is the baseline. A baseline target or non-target with no row at a follow-up is
"not assessed" at that follow-up, as is a row with ``assessed`` 0 or a target with an empty diameter.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import InvalidInputError
from ..policy import Policy
from .irecist import IRecistTracker, NewLesionRegistry, TimepointFacts
from .options import RecistOptions

__all__ = [
    "evaluate_recist",
    "REQUIRED_COLUMNS",
    "OUTPUT_COLUMNS",
    "LESION_TYPES",
    "NON_TARGET_STATUSES",
    "NEW_LESION_STATUSES",
]

TARGET, NON_TARGET, NEW = "target", "non_target", "new"
LESION_TYPES = (TARGET, NON_TARGET, NEW)
NON_TARGET_STATUSES = ("present", "absent", "unequivocal_progression", "increase")
NEW_LESION_STATUSES = ("present", "absent", "equivocal", "increase")
REQUIRED_COLUMNS = ("subject_id", "timepoint", "assessment_date", "lesion_id", "lesion_type", "organ",
                    "is_lymph_node", "diameter_mm", "non_target_status")
OUTPUT_COLUMNS = ("subject_id", "timepoint", "assessment_date", "sum_diameters_mm", "change_from_baseline_pct",
                  "change_from_nadir_pct", "nadir_mm", "target_response", "non_target_response", "new_lesions",
                  "overall_response", "progression_date", "irecist_response", "iupd_reason", "nlt_sum_mm",
                  "icpd_date", "notes")
EPS = 1e-6  # mm; diameters are recorded to 0.1 mm, so comparisons at the thresholds are exact within this


@dataclass
class _Lesion:
    lesion_id: str
    lesion_type: str
    organ: str
    node: bool
    diameter: float | None
    status: str
    assessed: bool
    too_small: bool


@dataclass
class _Assessment:
    timepoint: str
    date: dt.date
    lesions: dict[str, _Lesion] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == "" or value is pd.NA or value is pd.NaT


class _Ctx:
    """Builds one-line errors naming the table, subject, timepoint and lesion."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, message: str, *, attribute: str | None = None, subject: Any = None, timepoint: Any = None,
              lesion: Any = None, remedy: str | None = None) -> InvalidInputError:
        where = ", ".join(f"{k} {v}" for k, v in (("subject", subject), ("timepoint", timepoint),
                                                  ("lesion", lesion)) if v is not None)
        return InvalidInputError(f"{where}: {message}" if where else message, source=self.source,
                                 attribute=attribute, remedy=remedy)


def _as_bool(value: Any, default: bool, ctx: _Ctx, column: str, where: dict[str, Any]) -> bool:
    if _empty(value):
        return default
    text = str(value).strip().lower()
    if text in ("1", "1.0", "true", "yes", "y"):
        return True
    if text in ("0", "0.0", "false", "no", "n"):
        return False
    raise ctx.error(f"{column} is {value!r}, not 0/1", attribute=column, remedy="use 0 or 1", **where)


def _as_date(value: Any, ctx: _Ctx, where: dict[str, Any]) -> dt.date:
    if _empty(value):
        raise ctx.error("assessment_date is empty", attribute="assessment_date", remedy="give an ISO date "
                        "(YYYY-MM-DD)", **where)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ctx.error(f"assessment_date {value!r} is not an ISO date", attribute="assessment_date",
                        remedy="give an ISO date (YYYY-MM-DD)", **where) from None


def _parse_rows(table: pd.DataFrame, ctx: _Ctx) -> dict[str, dict[str, _Assessment]]:
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ctx.error(f"missing column(s) {', '.join(missing)}", attribute=", ".join(missing),
                        remedy=f"the table needs {', '.join(REQUIRED_COLUMNS)}")
    subjects: dict[str, dict[str, _Assessment]] = {}
    for row in table.to_dict("records"):
        if _empty(row["subject_id"]) or _empty(row["timepoint"]) or _empty(row["lesion_id"]):
            raise ctx.error(f"row {row} has an empty subject_id, timepoint or lesion_id",
                            attribute="subject_id/timepoint/lesion_id", remedy="fill them in")
        sid, tp, lid = str(row["subject_id"]).strip(), str(row["timepoint"]).strip(), str(row["lesion_id"]).strip()
        where = {"subject": sid, "timepoint": tp, "lesion": lid}
        kind = "" if _empty(row["lesion_type"]) else str(row["lesion_type"]).strip().lower().replace("-", "_")
        if kind not in LESION_TYPES:
            raise ctx.error(f"lesion_type {row['lesion_type']!r} is not one of {', '.join(LESION_TYPES)}",
                            attribute="lesion_type", remedy="correct the lesion_type", **where)
        status = "" if _empty(row["non_target_status"]) else str(row["non_target_status"]).strip().lower()
        allowed = {TARGET: ("",), NON_TARGET: ("", *NON_TARGET_STATUSES), NEW: ("", *NEW_LESION_STATUSES)}[kind]
        if status not in allowed:
            raise ctx.error(f"non_target_status {row['non_target_status']!r} is not allowed for a {kind} lesion "
                            f"(allowed: {', '.join(a or 'empty' for a in allowed)})", attribute="non_target_status",
                            remedy="correct the status", **where)
        diameter: float | None = None
        if not _empty(row["diameter_mm"]):
            try:
                diameter = float(row["diameter_mm"])
            except (TypeError, ValueError):
                raise ctx.error(f"diameter_mm {row['diameter_mm']!r} is not a number", attribute="diameter_mm",
                                remedy="give millimetres or leave it empty", **where) from None
            if math.isnan(diameter) or math.isinf(diameter):
                raise ctx.error(f"diameter_mm is {diameter}", attribute="diameter_mm", remedy="give a finite value",
                                **where)
            if diameter < 0:
                raise ctx.error(f"diameter_mm is negative ({diameter:g})", attribute="diameter_mm",
                                remedy="correct the measurement (0 for a disappeared lesion)", **where)
        lesion = _Lesion(
            lesion_id=lid, lesion_type=kind, organ="" if _empty(row["organ"]) else str(row["organ"]).strip(),
            node=_as_bool(row["is_lymph_node"], False, ctx, "is_lymph_node", where), diameter=diameter,
            status=status, assessed=_as_bool(row.get("assessed"), True, ctx, "assessed", where),
            too_small=_as_bool(row.get("too_small"), False, ctx, "too_small", where))
        date = _as_date(row["assessment_date"], ctx, where)
        assessment = subjects.setdefault(sid, {}).setdefault(tp, _Assessment(tp, date))
        if assessment.date != date:
            raise ctx.error(f"two assessment dates ({assessment.date}, {date})", attribute="assessment_date",
                            remedy="one date per subject and timepoint", **where)
        if lid in assessment.lesions:
            raise ctx.error("lesion listed twice", attribute="lesion_id", remedy="one row per lesion and timepoint",
                            **where)
        assessment.lesions[lid] = lesion
    return subjects


def _ordered(sid: str, by_tp: dict[str, _Assessment], ctx: _Ctx) -> list[_Assessment]:
    ordered = sorted(by_tp.values(), key=lambda a: a.date)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if a.date == b.date:
            raise ctx.error(f"timepoints {a.timepoint} and {b.timepoint} share the date {a.date}",
                            attribute="assessment_date", subject=sid, timepoint=b.timepoint,
                            remedy="merge them or correct the date")
    return ordered


def _target_value(les: _Lesion | None, opts: RecistOptions) -> tuple[float | None, str]:
    """(mm or None when not assessed, note)."""
    if les is None:
        return None, "no row"
    if not les.assessed:
        return None, "assessed = 0"
    if les.too_small:
        extra = f" (diameter {les.diameter:g} ignored)" if les.diameter is not None and \
            abs(les.diameter - opts.too_small_mm) > EPS else ""
        return opts.too_small_mm, f"too small to measure: {opts.too_small_mm:g} mm{extra}"
    if les.diameter is None:
        return None, "diameter missing"
    return les.diameter, ""


def _check_baseline(sid: str, base: _Assessment, opts: RecistOptions, ctx: _Ctx) -> dict[str, float]:
    """Validate the baseline; return the baseline target values (mm)."""
    kinds = {les.lesion_type for les in base.lesions.values()}
    if not kinds & {TARGET, NON_TARGET}:
        raise ctx.error("the earliest assessment has no target or non-target lesion (missing baseline)",
                        attribute="lesion_type", subject=sid, timepoint=base.timepoint,
                        remedy="add the baseline assessment with its target and non-target lesions")
    values: dict[str, float] = {}
    per_organ: dict[str, int] = {}
    for les in sorted(base.lesions.values(), key=lambda x: x.lesion_id):
        where = {"subject": sid, "timepoint": base.timepoint, "lesion": les.lesion_id}
        if les.lesion_type == NEW:
            raise ctx.error("a new lesion at baseline", attribute="lesion_type",
                            remedy="record baseline lesions as target or non_target", **where)
        if not les.assessed:
            raise ctx.error("lesion not assessed at baseline", attribute="assessed",
                            remedy="baseline lesions must be assessed; drop the row or assess it", **where)
        if les.lesion_type == NON_TARGET:
            if les.status not in ("", "present"):
                raise ctx.error(f"non-target status {les.status!r} at baseline", attribute="non_target_status",
                                remedy="a baseline non-target is 'present'", **where)
            continue
        value, note = _target_value(les, opts)
        if value is None:
            raise ctx.error("baseline target without a diameter", attribute="diameter_mm",
                            remedy="measure it, flag too_small, or record it as non_target", **where)
        values[les.lesion_id] = value
        if note:
            base.notes.append(f"target {les.lesion_id}: {note}")
        limit = opts.measurable_node_mm if les.node else opts.measurable_mm
        if value < limit - EPS:
            axis = "short axis" if les.node else "longest diameter"
            base.notes.append(f"warning: target {les.lesion_id} {axis} {value:g} mm < {limit:g} mm "
                              "(not measurable at baseline)")
        per_organ[les.organ] = per_organ.get(les.organ, 0) + 1
    problems = []
    if len(values) > opts.max_targets:
        problems.append(f"{len(values)} targets (at most {opts.max_targets})")
    problems += [f"{n} targets in organ {organ!r} (at most {opts.max_targets_per_organ})"
                 for organ, n in sorted(per_organ.items()) if n > opts.max_targets_per_organ]
    if problems:
        check = "response.target_limits"
        error = ctx.error("; ".join(problems), attribute="lesion_type", subject=sid, timepoint=base.timepoint,
                          remedy=f"record the extra lesions as non_target, or keep them with "
                                 f"{Policy.how_to_allow(check)}")
        for problem in problems:
            opts.policy.apply(check, f"warning: {problem}", error, base.notes)
    return values


def _fmt(value: float | None, digits: int = 6) -> float:
    return float("nan") if value is None else round(value, digits)


def _pct(value: float, ref: float | None) -> float | None:
    if ref is None or ref <= 0:
        return None
    return 100.0 * (value - ref) / ref


def _overall(target: str, non_target: str, new: str) -> str:
    """RECIST 1.1 tables 1 (target disease) and 2 (non-target disease only)."""
    if target == "PD" or non_target == "PD" or new == "yes":
        return "PD"
    if not target:  # table 2
        return {"CR": "CR", "Non-CR/Non-PD": "Non-CR/Non-PD", "NE": "NE", "": "NE"}[non_target]
    if target == "NE":
        return "NE"
    if target == "CR":
        return "CR" if non_target in ("CR", "") else "PR"
    return target  # PR or SD, whatever the non-PD non-target category


def _evaluate_subject(sid: str, assessments: list[_Assessment], opts: RecistOptions, ctx: _Ctx) -> list[dict]:
    base = assessments[0]
    base_values = _check_baseline(sid, base, opts, ctx)
    targets = {lid: base.lesions[lid] for lid in base_values}
    non_targets = {lid: les for lid, les in base.lesions.items() if les.lesion_type == NON_TARGET}
    sod0 = round(sum(base_values.values()), 6) if targets else None
    rows = [{"subject_id": sid, "timepoint": base.timepoint, "assessment_date": base.date.isoformat(),
             "sum_diameters_mm": _fmt(sod0), "notes": "; ".join(base.notes)}]
    complete_sums = [sod0] if sod0 is not None else []
    target_history: list[str] = []
    registry = NewLesionRegistry(opts)
    tracker = IRecistTracker(opts)
    equivocal_first: dict[str, dt.date] = {}
    for a in assessments[1:]:
        notes = list(a.notes)
        for lid, les in sorted(a.lesions.items()):
            where = {"subject": sid, "timepoint": a.timepoint, "lesion": lid}
            if les.lesion_type == NEW:
                if lid in base.lesions:
                    raise ctx.error("a baseline lesion recorded as new", attribute="lesion_type",
                                    remedy="keep the baseline lesion_type", **where)
                continue
            if lid not in base.lesions:
                raise ctx.error(f"{les.lesion_type} lesion not present at baseline", attribute="lesion_id",
                                remedy="record lesions that appear after baseline as 'new'", **where)
            if les.lesion_type != base.lesions[lid].lesion_type:
                raise ctx.error(f"lesion_type {les.lesion_type} differs from baseline "
                                f"({base.lesions[lid].lesion_type})", attribute="lesion_type",
                                remedy="targets and non-targets are fixed at baseline", **where)
        # --- targets
        target_response, sod, nadir, sod_complete = "", None, None, False
        if targets:
            values: dict[str, float] = {}
            for lid in sorted(targets):
                value, note = _target_value(a.lesions.get(lid), opts)
                if value is None:
                    notes.append(f"target {lid} not assessed ({note})")
                else:
                    values[lid] = value
                    if note:
                        notes.append(f"target {lid}: {note}")
            sod = round(sum(values.values()), 6)
            sod_complete = len(values) == len(targets)
            nadir = min(complete_sums)
            target_response = _target_response(values, targets, sod, sod0, nadir, sod_complete, target_history,
                                               opts, notes)
            target_history.append(target_response)
            if sod_complete:
                complete_sums.append(sod)
            else:
                notes.append(f"sum of {len(values)} of {len(targets)} targets (not used for the nadir)")
        # --- non-targets
        non_target_response, nt_increase = "", False
        if non_targets:
            statuses, not_assessed = [], []
            for lid in sorted(non_targets):
                nt_les = a.lesions.get(lid)
                if nt_les is None or not nt_les.assessed or not nt_les.status:
                    not_assessed.append(lid)
                else:
                    statuses.append(nt_les.status)
            if not_assessed:
                notes.append(f"non-target(s) {', '.join(not_assessed)} not assessed")
            nt_increase = "increase" in statuses
            if nt_increase or "unequivocal_progression" in statuses:
                non_target_response = "PD"
            elif not_assessed:
                non_target_response = "NE"
            elif all(s == "absent" for s in statuses):
                non_target_response = "CR"
            else:
                non_target_response = "Non-CR/Non-PD"
        # --- new lesions
        new_lesions = [les for les in a.lesions.values() if les.lesion_type == NEW]
        unequivocal = {les.lesion_id for les in new_lesions if les.assessed and les.status in ("", "present",
                                                                                                "increase")}
        equivocal = {les.lesion_id for les in new_lesions if les.assessed and les.status == "equivocal"}
        for les in new_lesions:
            if not les.assessed:
                notes.append(f"new lesion {les.lesion_id} not assessed")
        for lid in sorted(equivocal):
            equivocal_first.setdefault(lid, a.date)
        new_flag = "yes" if unequivocal else "equivocal" if equivocal else "no"
        if equivocal:
            notes.append(f"equivocal new lesion(s) {', '.join(sorted(equivocal))}: not PD")
        overall = _overall(target_response, non_target_response, new_flag)
        progression_date = ""
        if overall == "PD":
            first = min([a.date, *(equivocal_first[lid] for lid in unequivocal if lid in equivocal_first)])
            progression_date = first.isoformat()
            if first != a.date:
                notes.append(f"new lesion first seen (equivocal) on {first}: PD dated to {first}")
        # --- iRECIST
        nlt_sum, nlnt_increase = registry.update(a, unequivocal, notes)
        facts = TimepointFacts(date=a.date, target_response=target_response, sod=sod, sod_complete=sod_complete,
                               non_target_response=non_target_response, non_target_increase=nt_increase,
                               new_lesions=frozenset(unequivocal), nlt_sum=nlt_sum, nlnt_increase=nlnt_increase,
                               overall=overall)
        step = tracker.step(facts)
        notes.extend(step.notes)
        if step.reset:
            registry.reset()
        rows.append({
            "subject_id": sid, "timepoint": a.timepoint, "assessment_date": a.date.isoformat(),
            "sum_diameters_mm": _fmt(sod), "change_from_baseline_pct": _fmt(_pct(sod, sod0) if sod is not None
                                                                            else None),
            "change_from_nadir_pct": _fmt(_pct(sod, nadir) if sod is not None else None), "nadir_mm": _fmt(nadir),
            "target_response": target_response, "non_target_response": non_target_response,
            "new_lesions": new_flag, "overall_response": overall, "progression_date": progression_date,
            "irecist_response": step.response, "iupd_reason": step.reason, "nlt_sum_mm": _fmt(nlt_sum),
            "icpd_date": step.icpd_date.isoformat() if step.icpd_date else "", "notes": "; ".join(notes)})
    return rows


def _target_response(values: dict[str, float], targets: dict[str, _Lesion], sod: float, sod0: float | None,
                     nadir: float, complete: bool, history: list[str], opts: RecistOptions,
                     notes: list[str]) -> str:
    """RECIST 1.1 target response, rules applied in the order of the reference (NE, PD, CR, PR, SD)."""
    is_pd = sod >= nadir * (1.0 + opts.pd_change_pct / 100.0) - EPS and sod - nadir >= opts.pd_min_increase_mm - EPS
    if not complete:
        if is_pd:
            notes.append("targets not all assessed but the assessed sum already meets PD")
            return "PD"
        return "NE"
    if is_pd:
        return "PD"
    since_pd = history[len(history) - history[::-1].index("PD"):] if "PD" in history else history
    if opts.pd_on_reappearance and "CR" in since_pd:
        back = sorted(lid for lid, v in values.items() if not targets[lid].node and v > EPS)
        if back:
            notes.append(f"target(s) {', '.join(back)} reappeared after CR: PD")
            return "PD"
    if all((v < opts.cr_node_short_axis_mm - EPS) if targets[lid].node else v <= EPS for lid, v in values.items()):
        if sod > EPS:
            notes.append(f"CR with nodal short axes < {opts.cr_node_short_axis_mm:g} mm (sum {sod:g} mm)")
        return "CR"
    if sod0 is not None and sod <= sod0 * (1.0 + opts.pr_change_pct / 100.0) + EPS:
        return "PR"
    if opts.sticky_pr and ("PR" in since_pd or "CR" in since_pd):
        notes.append("PR maintained: sum above -30 % of baseline but PD not met")
        return "PR"
    return "SD"


def evaluate_recist(measurements: pd.DataFrame, *, source: str = "recist.csv",
                    options: RecistOptions | None = None) -> pd.DataFrame:
    """RECIST 1.1 and iRECIST time-point responses from lesion measurements.

    Parameters
    ----------
    measurements : pandas.DataFrame
        One row per subject, timepoint and lesion (columns in the module docstring); diameters in mm.
    source : str
        Name of the table, used in error messages.
    options : RecistOptions, optional
        Thresholds and choices; RECIST 1.1 defaults.

    Returns
    -------
    pandas.DataFrame
        One row per subject and timepoint in date order with :data:`OUTPUT_COLUMNS`: sums and nadir in mm,
        changes in %, RECIST categories (target_response, non_target_response, new_lesions yes/no/equivocal,
        overall_response), ``progression_date`` (the date a PD is attributed to), iRECIST categories
        (irecist_response, iupd_reason, nlt_sum_mm, icpd_date) and ``notes`` (warnings and choices taken).
        The baseline row holds the baseline sum and empty responses.

    Raises
    ------
    InvalidInputError
        Missing columns or baseline, duplicated lesions, negative diameters, unknown categories, too many targets
        (unless the policy's ``response.target_limits`` is ``warn``), lesion types changing between timepoints;
        the message names the subject, timepoint and lesion.
    """
    opts = options or RecistOptions()
    ctx = _Ctx(source)
    subjects = _parse_rows(measurements, ctx)
    rows: list[dict] = []
    for sid in sorted(subjects):
        rows.extend(_evaluate_subject(sid, _ordered(sid, subjects[sid], ctx), opts, ctx))
    out = pd.DataFrame(rows, columns=list(OUTPUT_COLUMNS))
    text = [c for c in OUTPUT_COLUMNS if c not in ("sum_diameters_mm", "change_from_baseline_pct",
                                                    "change_from_nadir_pct", "nadir_mm", "nlt_sum_mm")]
    out[text] = out[text].fillna("").astype(str)
    for column in ("sum_diameters_mm", "change_from_baseline_pct", "change_from_nadir_pct", "nadir_mm",
                   "nlt_sum_mm"):
        out[column] = out[column].astype(float)
    return out

