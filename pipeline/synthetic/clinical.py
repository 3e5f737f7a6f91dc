"""Clinical tables of the synthetic cohort, with built-in relationships to the imaging truth.

* ``samples.tsv``: one row per study (subject, timepoint, tracer, DICOM folder, study UID, arm, route,
  acquisition static/dynamic, blood table of a dynamic study); the multi-day PK subject (:mod:`.multiday`)
  has its three scans (``day2``, ``day4``, ``day7``) and no arm, and no row in the tables below but dosing.
* ``dosing.csv``: syringe activity before and residual after injection; the net activity at the
  injection time equals the DICOM RadionuclideTotalDose (formula in :mod:`.protocol`).
* ``ihc.csv``: one biopsied lesion per subject (the largest malignant baseline lesion);
  ``percent_positive = 100 / (1 + exp(-(SUV0 - m) / w)) + N(0, 3)`` clipped to 0-100, with m the
  middle and w a sixth of the tracer's lesion SUV range (monotone in baseline suv_true);
  intensity bins <10 "0", <35 "1+", <65 "2+", else "3+".
* ``recist.csv``: RECIST 1.1 baseline selection, up to 5 targets and 2 per organ (lymph nodes one
  organ) among measurable malignant lesions (>= 10 mm longest axial diameter; nodes >= 15 mm short
  axis; bone lesions non-target), largest first; the rest non-target; the same lesions measured
  at on_treatment plus ``new`` lesions. Benign foci are not listed (known benign by biopsy).
* ``histology.csv``: every lesion, malignant 1/0; ``biopsy`` for the IHC lesion, else ``follow_up``.
* ``outcomes.csv``: risk ``r = 0.12 (max baseline tumour SUV - 8) + 0.9 [progress or new]
  - 0.7 [most lesions respond]``; PFS = 8 exp(-r) e^(0.25 N) months, OS = PFS + 12 exp(-r) e^(0.25 N),
  both censored at a follow-up of 18-30 months.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .anatomy import TIMEPOINTS, Lesion, Phantom
from .dicom_common import iso
from .protocol import DYNAMIC_TIMEPOINT, STREAM_CLINICAL, DynamicPlan, StudyPlan, SubjectPlan, subject_rng

__all__ = ["SubjectRecord", "build_tables", "TABLE_FILES", "COLUMNS"]

TABLE_FILES = {"samples": "samples.tsv", "dosing": "dosing.csv", "ihc": "ihc.csv", "recist": "recist.csv",
               "histology": "histology.csv", "outcomes": "outcomes.csv", "mri": "mri.tsv"}
COLUMNS = {
    "samples": ["subject_id", "timepoint", "tracer", "nuclide", "dicom", "study_uid", "arm", "route", "acquisition",
                "blood"],
    "dosing": ["subject_id", "timepoint", "injected_activity_mbq", "injected_activity_datetime",
               "residual_activity_mbq", "residual_activity_datetime", "injection_datetime", "weight_kg",
               "height_cm", "sex"],
    "ihc": ["subject_id", "timepoint", "lesion_id", "marker", "percent_positive", "intensity", "pattern"],
    "recist": ["subject_id", "timepoint", "assessment_date", "lesion_id", "lesion_type", "organ", "is_lymph_node",
               "diameter_mm", "non_target_status"],
    "histology": ["subject_id", "lesion_id", "malignant", "method"],
    "outcomes": ["subject_id", "os_months", "os_event", "pfs_months", "pfs_event"],
    "mri": ["subject_id", "timepoint", "dicom", "study_uid", "agent", "hct"],
}


@dataclass(frozen=True)
class SubjectRecord:
    """Everything the tables need about one subject.

    Attributes
    ----------
    subject : SubjectPlan
    phantom : Phantom
    studies : Mapping[str, StudyPlan]
        Study plan per timepoint.
    seed : int
        Cohort seed.
    dynamic : DynamicPlan or None
        The subject's dynamic (kinetic) study, if any.
    trial : bool
        A trial subject (baseline and on_treatment; IHC, RECIST, histology and outcome rows); False for
        the multi-day PK subject (:mod:`.multiday`), which has sample-sheet and dosing rows only.
    """

    subject: SubjectPlan
    phantom: Phantom
    studies: Mapping[str, StudyPlan]
    seed: int
    dynamic: DynamicPlan | None = None
    trial: bool = True


def _measure(lesion: Lesion, timepoint: str) -> float:
    """RECIST measurement (mm): longest axial diameter, short axis for nodes, 0.1 mm."""
    longest, short = lesion.shapes[timepoint].axial_diameters_mm()
    return round(short if lesion.is_lymph_node else longest, 1)


def _targets(lesions: Sequence[Lesion]) -> set[str]:
    """RECIST 1.1 target lesions at baseline (ids)."""
    measurable = [les for les in lesions if les.malignant and "baseline" in les.shapes and les.organ != "bone"
                  and _measure(les, "baseline") >= (15.0 if les.is_lymph_node else 10.0)]
    measurable.sort(key=lambda les: (-_measure(les, "baseline"), les.lesion_id))
    chosen: list[Lesion] = []
    for les in measurable:
        if len(chosen) < 5 and sum(c.organ == les.organ for c in chosen) < 2:
            chosen.append(les)
    return {les.lesion_id for les in chosen}


def _recist_rows(rec: SubjectRecord) -> list[dict[str, Any]]:
    lesions = rec.phantom.lesions
    targets = _targets(lesions)
    rows = []
    for tp in TIMEPOINTS:
        date = rec.studies[tp].reference.date().isoformat()
        for les in lesions:
            if not les.malignant or tp not in les.shapes:
                continue
            if les.response_class == "new":
                kind, status = "new", ""
            elif les.lesion_id in targets:
                kind, status = "target", ""
            else:
                kind = "non_target"
                status = "unequivocal_progression" if tp != "baseline" and les.response_class == "progress" \
                    else "present"
            rows.append({"subject_id": rec.subject.subject_id, "timepoint": tp, "assessment_date": date,
                         "lesion_id": les.lesion_id, "lesion_type": kind, "organ": les.organ,
                         "is_lymph_node": int(les.is_lymph_node), "diameter_mm": _measure(les, tp),
                         "non_target_status": status})
    return rows


def _biopsied(lesions: Sequence[Lesion]) -> Lesion:
    candidates = [les for les in lesions if les.malignant and "baseline" in les.shapes]
    return max(candidates, key=lambda les: (les.shapes["baseline"].axial_diameters_mm()[0], les.lesion_id))


def _ihc_row(rec: SubjectRecord, lesion: Lesion, rng: np.random.Generator) -> dict[str, Any]:
    low, high = rec.subject.tracer.lesion_suv
    suv0 = lesion.suvs["baseline"]
    percent = 100.0 / (1.0 + math.exp(-(suv0 - (low + high) / 2.0) / ((high - low) / 6.0)))
    percent = round(float(np.clip(percent + rng.normal(0.0, 3.0), 0.0, 100.0)), 1)
    intensity = "0" if percent < 10 else "1+" if percent < 35 else "2+" if percent < 65 else "3+"
    pattern = str(rng.choice(["membranous", "cytoplasmic", "mixed"], p=[0.6, 0.15, 0.25]))
    return {"subject_id": rec.subject.subject_id, "timepoint": "baseline", "lesion_id": lesion.lesion_id,
            "marker": rec.subject.tracer.marker, "percent_positive": percent, "intensity": intensity,
            "pattern": pattern}


def _mri_rows(rec: SubjectRecord) -> list[dict[str, Any]]:
    """The MR sample-sheet rows of a CD8-trial subject (:mod:`.mri`); none for the others."""
    from .mri import AGENT, HCT, MR_TIMEPOINTS, mri_folder, mri_study_uid, mri_subject

    if not mri_subject(rec):
        return []
    return [{"subject_id": rec.subject.subject_id, "timepoint": tp, "dicom": mri_folder(rec.subject.subject_id, tp),
             "study_uid": mri_study_uid(rec, tp), "agent": AGENT, "hct": HCT} for tp in MR_TIMEPOINTS]


def _outcome_row(rec: SubjectRecord, rng: np.random.Generator) -> dict[str, Any]:
    malignant = [les for les in rec.phantom.lesions if les.malignant and "baseline" in les.shapes]
    suv_max = max(les.suvs["baseline"] for les in malignant)
    progressing = any(les.response_class in ("progress", "new") for les in rec.phantom.lesions if les.malignant)
    responding = sum(les.response_class == "respond" for les in malignant) > len(malignant) / 2
    risk = 0.12 * (suv_max - 8.0) + 0.9 * progressing - 0.7 * responding
    pfs = 8.0 * math.exp(-risk) * math.exp(0.25 * rng.standard_normal())
    os_ = pfs + 12.0 * math.exp(-risk) * math.exp(0.25 * rng.standard_normal())
    follow_up = rng.uniform(18.0, 30.0)
    return {"subject_id": rec.subject.subject_id, "os_months": round(min(os_, follow_up), 1),
            "os_event": int(os_ <= follow_up), "pfs_months": round(min(pfs, follow_up), 1),
            "pfs_event": int(pfs <= follow_up)}


def build_tables(records: Sequence[SubjectRecord]) -> dict[str, pd.DataFrame]:
    """Build all clinical tables (keys of :data:`TABLE_FILES`), rows ordered by subject and timepoint.

    Parameters
    ----------
    records : sequence of SubjectRecord
        Subjects to include.
    """
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLE_FILES}
    for rec in records:
        subject = rec.subject
        studies: list[tuple[str, StudyPlan | DynamicPlan]] = list(rec.studies.items())
        if rec.dynamic is not None:
            studies.append((DYNAMIC_TIMEPOINT, rec.dynamic))
        for tp, plan in studies:
            dynamic = isinstance(plan, DynamicPlan)
            rows["samples"].append({
                "subject_id": subject.subject_id, "timepoint": tp, "tracer": subject.tracer.name,
                "nuclide": subject.tracer.nuclide, "dicom": f"dicom/{subject.subject_id}/{tp}",
                "study_uid": plan.study_uid, "arm": subject.arm, "route": subject.route,
                "acquisition": "dynamic" if dynamic else "static",
                "blood": f"dicom/{subject.subject_id}/{tp}/blood.csv" if dynamic else ""})
            rows["dosing"].append({
                "subject_id": subject.subject_id, "timepoint": tp, "injected_activity_mbq": plan.syringe_pre_mbq,
                "injected_activity_datetime": iso(plan.syringe_pre_time),
                "residual_activity_mbq": plan.syringe_post_mbq,
                "residual_activity_datetime": iso(plan.syringe_post_time),
                "injection_datetime": iso(plan.injection), "weight_kg": plan.weight_kg,
                "height_cm": round(subject.height_m * 100.0, 1), "sex": subject.sex})
        if not rec.trial:
            continue
        rng = subject_rng(rec.seed, STREAM_CLINICAL, subject.index)
        biopsied = _biopsied(rec.phantom.lesions)
        rows["ihc"].append(_ihc_row(rec, biopsied, rng))
        rows["recist"].extend(_recist_rows(rec))
        rows["histology"].extend(
            {"subject_id": subject.subject_id, "lesion_id": les.lesion_id, "malignant": int(les.malignant),
             "method": "biopsy" if les is biopsied else "follow_up"} for les in rec.phantom.lesions)
        rows["outcomes"].append(_outcome_row(rec, rng))
        rows["mri"].extend(_mri_rows(rec))
    return {name: pd.DataFrame(table, columns=COLUMNS[name]) for name, table in rows.items()}
