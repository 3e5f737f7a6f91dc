"""One subject scanned three times after one injection (multi-day 89Zr PK), with exact known uptake.

The subject after the trial subjects (``P07`` in a cohort of six) receives one injection of
[89Zr]Zr-Df-crefmirlimab and has static PET/CT scans about 2, 4 and 7 days later (timepoints
:data:`MULTIDAY_TIMEPOINTS`: ``day2``, ``day4``, ``day7``), each a separate DICOM study with the same
injection datetime, injected dose and weight (Siemens-like headers, Units BQML). The anatomy is drawn
as for a trial subject (:func:`~pipeline.synthetic.anatomy.build_phantom`) and does not change between
the scans; it has no RECIST, IHC, histology or outcome rows (a PK substudy subject, no trial arm).

Uptake: each structure's SUVbw (activity decay-corrected to injection, over dose per gram) follows

    SUV_k(t) = SUV_k(0) exp(-b_k t)        (t in days from injection)

with the biological rate ``b_k = ln 2 / T_bio,k`` (1/day) of :data:`BIOLOGICAL_HALF_LIFE_DAYS` for the
organs and benign lesions, and ``b_k = -ln 2 / 15 d`` for malignant lesions (:data:`TUMOUR_DOUBLING_DAYS`:
decay-corrected uptake accumulating, as for a residualising antibody label). The activity present at
scan time, ``A_k(t) = SUV_k(0) D / W exp(-(b_k + lambda_phys) t)``, falls mono-exponentially for every
structure (``b_k + lambda_phys > 0``), so the linear-up/log-down AUC and the terminal fit of
:mod:`pipeline.kinetics.pk` are exact on it. ``SUV_k(0)`` is chosen so that ``SUV_k`` at 2 days is
the phantom's nominal value.

``dicom/<subject>/pk_truth.json`` (:func:`pk_truth`) holds, per VOI: the kind, ``suv_at_injection``,
``biological_rate_per_day``, ``t_bio_days`` (null when the tissue accumulates: no biological
clearance), ``t_eff_days``, the activity at injection ``activity_at_injection_kbq_ml``
(``SUV_k(0) D / W / 1000``, kBq/mL) and the analytic integrals from the first scan: of the activity,
``auc_first_last_kbq_day_ml`` and ``auc_first_inf_kbq_day_ml`` (``A_k(t1) / (b_k + lambda_phys)``,
kBq·day/mL), and of SUV un-corrected for decay, ``suv_auc_first_inf`` (SUV·day); with the scans' exact
times (``time_days`` = uptake time in days) and SUVs. Each scan's ``truth.json``
(:mod:`pipeline.synthetic.truth`) gives ``suv_true`` = ``SUV_k`` at that scan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ..suv.nuclides import get_nuclide
from .anatomy import Lesion, Phantom, build_phantom
from .clinical import SubjectRecord
from .dicom_common import ds_value, iso, make_uid
from .protocol import (
    BED_GAP_S,
    FIRST_BASELINE,
    N_BEDS,
    STREAM_ANATOMY,
    STREAM_SUBJECT,
    StudyPlan,
    SubjectPlan,
    net_dose_bq,
    sample_body,
    subject_id,
    subject_rng,
)
from .tracers import TRACERS
from .vendors import VENDORS

__all__ = ["MULTIDAY_TIMEPOINTS", "BIOLOGICAL_HALF_LIFE_DAYS", "TUMOUR_DOUBLING_DAYS", "STREAM_MULTIDAY",
           "plan_multiday_subject", "multiday_record", "pk_truth"]

#: Timepoint label and nominal day after the injection of each scan.
MULTIDAY_TIMEPOINTS: tuple[tuple[str, int], ...] = (("day2", 2), ("day4", 4), ("day7", 7))
#: Biological half-life (days) of the decay-corrected uptake per organ; benign lesions take ``body``'s.
BIOLOGICAL_HALF_LIFE_DAYS: dict[str, float] = {
    "body": 6.0, "liver": 12.0, "spleen": 8.0, "kidney_left": 5.0, "kidney_right": 5.0, "aorta": 3.0,
    "muscle": 10.0, "bladder": 2.0}
#: Malignant lesions: the decay-corrected uptake doubles in this many days (accumulation).
TUMOUR_DOUBLING_DAYS = 15.0
#: Random stream of the multi-day subject's timing (after the streams of :mod:`.protocol`).
STREAM_MULTIDAY = 7
_NOMINAL_DAY = 2.0  # the phantom's nominal SUVs hold at this day
_TRACER = "cd8"
_VENDOR = "siemens"


def plan_multiday_subject(n_subjects: int, seed: int, taken_patient_ids: Sequence[str] = ()) -> SubjectPlan:
    """The multi-day subject of a cohort of ``n_subjects`` trial subjects (index ``n_subjects``, id ``P{n+1}``,
    as wide as the trial subjects' ids: :func:`~.protocol.subject_id`).

    Parameters
    ----------
    n_subjects : int
        Number of trial subjects.
    seed : int
        Cohort seed.
    taken_patient_ids : sequence of str
        Pseudonymous PatientIDs of the trial subjects (the new one differs from them).
    """
    index = int(n_subjects)
    rng = subject_rng(seed, STREAM_SUBJECT, index)
    sex, height, weight, birth, scale = sample_body(rng)
    taken = set(taken_patient_ids)
    numbers = [n for n in range(1000, 10000) if f"SYN-{n}" not in taken]
    patient_id = f"SYN-{numbers[int(rng.integers(len(numbers)))]}"
    return SubjectPlan(index=index, subject_id=subject_id(index, index + 1), patient_id=patient_id,
                       tracer=TRACERS[_TRACER], vendor=VENDORS[_VENDOR], sex=sex, birth_date=birth, height_m=height,
                       weight_kg=weight, scale=scale, arm="", route="iv", tendency="stable", new_lesion=False,
                       on_treatment_offset_days=0)


def _plan_scans(subject: SubjectPlan, seed: int) -> dict[str, StudyPlan]:
    """Three scans after one injection: same injection, dose and weight; its own timing and UIDs each."""
    rng = subject_rng(seed, STREAM_MULTIDAY, subject.index)
    tracer, vendor = subject.tracer, subject.vendor
    half_life = get_nuclide(tracer.nuclide).half_life_s
    injection = datetime.combine(FIRST_BASELINE + timedelta(days=2 * subject.index), datetime.min.time()) + \
        timedelta(hours=8, minutes=30, seconds=int(rng.integers(0, 2 * 3600)))
    t_pre = injection - timedelta(seconds=int(rng.integers(300, 600)))
    t_post = injection + timedelta(seconds=int(rng.integers(120, 600)))
    pre_mbq = round(rng.uniform(*tracer.dose_mbq) * 1.03, 3)
    post_mbq = round(pre_mbq * rng.uniform(0.01, 0.04), 3)
    dose = ds_value(net_dose_bq(pre_mbq, t_pre, post_mbq, t_post, injection, half_life))
    plans = {}
    for timepoint, day in MULTIDAY_TIMEPOINTS:
        reference = injection + timedelta(days=day, seconds=int(rng.integers(-2 * 3600, 2 * 3600)))
        duration = tracer.frame_duration_s
        beds = tuple(reference + timedelta(seconds=k * (duration + BED_GAP_S)) for k in range(N_BEDS))
        uid_key = (seed, subject.subject_id, timepoint)
        plans[timepoint] = StudyPlan(
            subject=subject, timepoint=timepoint, weight_kg=ds_value(subject.weight_kg), syringe_pre_mbq=pre_mbq,
            syringe_pre_time=t_pre, syringe_post_mbq=post_mbq, syringe_post_time=t_post, injection=injection,
            dose_bq=dose, ct_start=reference - timedelta(seconds=int(rng.integers(180, 420))), reference=reference,
            bed_starts=beds, frame_duration_s=duration, series_datetime=reference, acsf=None,
            study_uid=make_uid(*uid_key, "study"), frame_of_reference_uid=make_uid(*uid_key, "for"),
            pet_series_uid=make_uid(*uid_key, "PT"), ct_series_uid=make_uid(*uid_key, "CT"),
            rtstruct_series_uid=make_uid(*uid_key, "RTSTRUCT"), seed=seed)
        assert vendor.series_delay_s == (0.0, 0.0)  # the reference is the series time (Siemens-like)
    return plans


def _days(plan: StudyPlan) -> float:
    return (plan.reference - plan.injection).total_seconds() / 86400.0


def _rate(name: str, lesion: Lesion | None) -> float:
    """Biological rate (1/day) of a structure; negative: accumulating."""
    if lesion is not None:
        return -math.log(2.0) / TUMOUR_DOUBLING_DAYS if lesion.malignant else \
            math.log(2.0) / BIOLOGICAL_HALF_LIFE_DAYS["body"]
    return math.log(2.0) / BIOLOGICAL_HALF_LIFE_DAYS[name]


def multiday_record(subject: SubjectPlan, seed: int) -> SubjectRecord:
    """The phantom and the three study plans of the multi-day subject (no pixel data).

    The geometry is that of a trial subject's baseline (:func:`~pipeline.synthetic.anatomy.build_phantom`
    with a stable tendency, no new lesion); each structure's SUV at a scan follows the module docstring.
    """
    plans = _plan_scans(subject, seed)
    drawn = build_phantom(subject_rng(seed, STREAM_ANATOMY, subject.index), subject.tracer, subject.scale,
                          "stable", False)
    nominal = drawn.organ_suv["baseline"]

    def at(suv_nominal: float, rate: float, plan: StudyPlan) -> float:
        return suv_nominal * math.exp(rate * _NOMINAL_DAY) * math.exp(-rate * _days(plan))

    organ_suv = {tp: {name: at(nominal[name], _rate(name, None), plan) for name in drawn.organs}
                 for tp, plan in plans.items()}
    lesions = []
    for les in drawn.lesions:
        shape, suv0 = les.shapes["baseline"], les.suvs["baseline"]
        rate = _rate(les.lesion_id, les)
        lesions.append(Lesion(les.lesion_id, les.organ, les.is_lymph_node, les.malignant, "stable",
                              {tp: shape for tp in plans}, {tp: at(suv0, rate, plan) for tp, plan in plans.items()}))
    phantom = Phantom(drawn.scale, drawn.organs, organ_suv, tuple(lesions))
    return SubjectRecord(subject, phantom, plans, seed, trial=False)


def pk_truth(record: SubjectRecord) -> dict[str, Any]:
    """The ``pk_truth.json`` document of the multi-day subject (see the module docstring)."""
    plans = list(record.studies.values())
    first = plans[0]
    half_life_s = first.half_life_s
    lam_phys = math.log(2.0) / (half_life_s / 86400.0)
    days = np.array([_days(p) for p in plans])
    to_kbq = first.dose_bq / (first.weight_kg * 1000.0) / 1000.0  # SUV -> kBq/mL decay-corrected to injection
    lesions = {les.lesion_id: les for les in record.phantom.lesions}
    vois: dict[str, Any] = {}
    for structure in record.phantom.structures(first.timepoint):
        name = structure.name
        rate = _rate(name, lesions.get(name))
        suv0 = structure.suv * math.exp(rate * days[0])
        lam_eff = rate + lam_phys
        a0 = suv0 * to_kbq
        at_scan = a0 * np.exp(-lam_eff * days)
        vois[name] = {
            "kind": structure.kind, "suv_at_injection": suv0, "biological_rate_per_day": rate,
            "t_bio_days": math.log(2.0) / rate if rate > 0 else None, "t_eff_days": math.log(2.0) / lam_eff,
            "activity_at_injection_kbq_ml": a0,
            "suv": [_suv(record, p.timepoint, name) for p in plans],
            "activity_at_scan_kbq_ml": [float(v) for v in at_scan],
            "auc_first_last_kbq_day_ml": float((at_scan[0] - at_scan[-1]) / lam_eff),
            "auc_first_inf_kbq_day_ml": float(at_scan[0] / lam_eff),
            "suv_auc_first_inf": float(suv0 * math.exp(-lam_eff * days[0]) / lam_eff),
        }
    return {"subject_id": record.subject.subject_id, "tracer": record.subject.tracer.name,
            "nuclide": record.subject.tracer.nuclide, "half_life_s": half_life_s,
            "injection_datetime": iso(first.injection), "injected_dose_bq": first.dose_bq,
            "weight_kg": first.weight_kg,
            "scans": [{"timepoint": p.timepoint, "reference_datetime": iso(p.reference),
                       "uptake_time_s": (p.reference - p.injection).total_seconds(), "time_days": float(d)}
                      for p, d in zip(plans, days, strict=True)],
            "vois": vois}


def _suv(record: SubjectRecord, timepoint: str, name: str) -> float:
    return next(s.suv for s in record.phantom.structures(timepoint) if s.name == name)
