"""Who is scanned when: subjects, tracers, vendors, dosing and acquisition timing.

All datetimes are naive local times at UTC+01:00. Every draw comes from a
``numpy.random.Generator`` seeded by ``[seed, stream, subject index, ...]`` so a
subject's plan does not depend on how many other subjects are generated.

Net injected activity (DICOM RadionuclideTotalDose, Bq, at the injection time
``t_inj``) from the syringe measurements of ``dosing.csv``::

    D = 1e6 * (pre_MBq  * 2 ** (-(t_inj - t_pre)  / T_half)
             - post_MBq * 2 ** (+(t_post - t_inj) / T_half))

where ``pre_MBq`` was measured at ``t_pre`` (before injection) and the residual
``post_MBq`` at ``t_post`` (after injection); D is written as the DS string closest to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from ..suv.nuclides import get_nuclide
from .anatomy import RESPONSE_CLASSES, TIMEPOINTS
from .dicom_common import ds_value, make_uid
from .tracers import TRACER_CYCLE, TRACERS, Tracer
from .vendors import VENDOR_CYCLE, VENDORS, Vendor

__all__ = ["SubjectPlan", "StudyPlan", "DynamicPlan", "DYNAMIC_TIMEPOINT", "DYNAMIC_NUCLIDES", "MAX_SUBJECTS",
           "plan_subjects", "plan_study", "plan_dynamic", "subject_rng", "subject_id"]

FIRST_BASELINE = date(2025, 3, 3)
N_BEDS = 4
BED_GAP_S = 20.0

# Random streams (second entry of the seed sequence).
STREAM_COHORT, STREAM_SUBJECT, STREAM_ANATOMY, STREAM_TIMING, STREAM_NOISE, STREAM_CLINICAL, STREAM_DYNAMIC = range(7)
#: Timepoint label of the dynamic (kinetic) study of a subject.
DYNAMIC_TIMEPOINT = "dynamic"
#: Subjects whose tracer has one of these nuclides also get a dynamic study (the IL-2R trial's 18F tracer).
DYNAMIC_NUCLIDES = ("F18",)
#: Largest cohort (trial subjects): the PatientIDs ``SYN-1000``..``SYN-9999`` must stay distinct, and a
#: cohort this large already takes hours and hundreds of GB.
MAX_SUBJECTS = 999


def subject_id(index: int, n_total: int) -> str:
    """The id of subject ``index`` (0-based) among ``n_total`` subjects (the multi-day subject included).

    ``P`` and the 1-based number, zero-padded to two digits while ``n_total`` <= 99 (``P01``..``P99``: the
    sample cohort's ids) and to the width of ``n_total`` beyond (``P001``..``P150``), so that the ids of one
    cohort sort as their numbers do.
    """
    return f"P{index + 1:0{max(2, len(str(int(n_total))))}d}"


def subject_rng(seed: int, stream: int, *keys: int) -> np.random.Generator:
    """Generator for one stream of one subject (and timepoint)."""
    return np.random.default_rng([seed, stream, *keys])


@dataclass(frozen=True)
class SubjectPlan:
    """Per-subject constants.

    Attributes
    ----------
    index : int
        0-based subject index.
    subject_id : str
        ``P01``... (``P001``... in a cohort of more than 99: :func:`subject_id`)
    patient_id : str
        Pseudonymous DICOM PatientID (``SYN-4821``), different from subject_id.
    tracer : Tracer
        Tracer of the subject's trial.
    vendor : Vendor
        Scanner header flavour.
    sex : str
        ``M`` or ``F``.
    birth_date : date
        Synthetic birth date.
    height_m : float
        Height in metres (2 decimals).
    weight_kg : float
        Baseline weight in kg (1 decimal).
    scale : float
        In-plane body-size factor of the phantom.
    arm, route : str
        Trial arm (A/B) and administration route (iv).
    tendency : str
        Dominant lesion response class.
    new_lesion : bool
        Whether this subject has a new lesion at on_treatment.
    on_treatment_offset_days : int
        Days from baseline to on-treatment scan (13-15).
    """

    index: int
    subject_id: str
    patient_id: str
    tracer: Tracer
    vendor: Vendor
    sex: str
    birth_date: date
    height_m: float
    weight_kg: float
    scale: float
    arm: str
    route: str
    tendency: str
    new_lesion: bool
    on_treatment_offset_days: int


@dataclass(frozen=True)
class StudyPlan:
    """Timing, dosing and identifiers of one (subject, timepoint) study.

    Attributes
    ----------
    subject : SubjectPlan
    timepoint : str
    weight_kg : float
        Weight at this scan (kg, DS-exact).
    syringe_pre_mbq, syringe_post_mbq : float
        Syringe activity before and residual after injection (MBq).
    syringe_pre_time, syringe_post_time : datetime
        Times of these measurements.
    injection : datetime
        Radiopharmaceutical start datetime.
    dose_bq : float
        Net injected activity at ``injection`` (Bq, DS-exact).
    ct_start, reference : datetime
        CT acquisition start; PET decay-correction reference = start of the first bed.
    bed_starts : tuple of datetime
        Start of each bed position (bed 0 covers the most superior slices).
    frame_duration_s : float
        Duration of each bed, s.
    series_datetime : datetime
        PET SeriesDate/Time (vendor rule).
    acsf : float or None
        Philips Activity Concentration Scale Factor (Bq/mL per count), DS-exact.
    study_uid, frame_of_reference_uid, pet_series_uid, ct_series_uid, rtstruct_series_uid : str
        Deterministic UIDs.
    seed : int
        Cohort seed (for instance UIDs).
    """

    subject: SubjectPlan
    timepoint: str
    weight_kg: float
    syringe_pre_mbq: float
    syringe_pre_time: datetime
    syringe_post_mbq: float
    syringe_post_time: datetime
    injection: datetime
    dose_bq: float
    ct_start: datetime
    reference: datetime
    bed_starts: tuple[datetime, ...]
    frame_duration_s: float
    series_datetime: datetime
    acsf: float | None
    study_uid: str
    frame_of_reference_uid: str
    pet_series_uid: str
    ct_series_uid: str
    rtstruct_series_uid: str
    seed: int

    @property
    def half_life_s(self) -> float:
        """Nuclide half-life (s) from the nuclide table."""
        return get_nuclide(self.subject.tracer.nuclide).half_life_s

    @property
    def decay_factor(self) -> float:
        """D / D_ref = 2 ** ((t_ref - t_inj) / T_half)."""
        return 2.0 ** ((self.reference - self.injection).total_seconds() / self.half_life_s)

    @property
    def dose_at_reference_bq(self) -> float:
        """D_ref: net injected activity decayed to the reference time (Bq)."""
        return self.dose_bq / self.decay_factor

    @property
    def suv_factor(self) -> float:
        """Multiplier from rescaled pixel value to SUVbw: W[g] / D_ref (x ACSF for CNTS)."""
        return self.weight_kg * 1000.0 / self.dose_at_reference_bq * (self.acsf or 1.0)


def net_dose_bq(pre_mbq: float, t_pre: datetime, post_mbq: float, t_post: datetime, t_inj: datetime,
                half_life_s: float) -> float:
    """Net activity (Bq) at ``t_inj`` from syringe activity before and residual after injection."""
    pre = pre_mbq * 2.0 ** (-(t_inj - t_pre).total_seconds() / half_life_s)
    post = post_mbq * 2.0 ** ((t_post - t_inj).total_seconds() / half_life_s)
    return 1e6 * (pre - post)


def sample_body(rng: np.random.Generator) -> tuple[str, float, float, date, float]:
    """A subject's sex, height (m), weight (kg), birth date and phantom scale, drawn in this order from ``rng``."""
    sex = "M" if rng.random() < 0.5 else "F"
    height = round(rng.uniform(1.68, 1.95) if sex == "M" else rng.uniform(1.55, 1.80), 2)
    bmi = rng.uniform(19.0, 31.0)
    weight = round(min(max(bmi * height**2, 50.0), 110.0), 1)
    birth = date(1950, 1, 1) + timedelta(days=int(rng.integers(0, 35 * 365)))
    scale = round(min(max(math.sqrt(weight / height**2 / 24.0), 0.9), 1.12), 4)
    return sex, height, weight, birth, scale


def plan_subjects(n_subjects: int, seed: int, n_total: int | None = None) -> list[SubjectPlan]:
    """Plan every subject of a cohort (identities, demographics, tracer, vendor, arm).

    Parameters
    ----------
    n_subjects : int
        Cohort size (1-:data:`MAX_SUBJECTS`).
    seed : int
        Cohort seed.
    n_total : int, optional
        Subjects of the whole cohort, for the width of the ids (:func:`subject_id`); default ``n_subjects``
        (one more when the multi-day subject follows).
    """
    cohort = subject_rng(seed, STREAM_COHORT)
    patient_numbers = cohort.choice(np.arange(1000, 10000), size=n_subjects, replace=False)
    tendencies = cohort.permutation(np.tile(RESPONSE_CLASSES, math.ceil(n_subjects / 3)))[:n_subjects]
    arms = cohort.permutation(np.tile(["A", "B"], math.ceil(n_subjects / 2)))[:n_subjects]
    new_lesion_subject = int(cohort.integers(n_subjects))
    plans = []
    for i in range(n_subjects):
        rng = subject_rng(seed, STREAM_SUBJECT, i)
        sex, height, weight, birth, scale = sample_body(rng)
        plans.append(SubjectPlan(
            index=i, subject_id=subject_id(i, n_total or n_subjects), patient_id=f"SYN-{int(patient_numbers[i])}",
            tracer=TRACERS[TRACER_CYCLE[i % 3]], vendor=VENDORS[VENDOR_CYCLE[i % 6]], sex=sex, birth_date=birth,
            height_m=height, weight_kg=weight, scale=scale, arm=str(arms[i]), route="iv",
            tendency=str(tendencies[i]), new_lesion=i == new_lesion_subject,
            on_treatment_offset_days=int(rng.integers(13, 16)),
        ))
    return plans


def plan_study(subject: SubjectPlan, timepoint: str, seed: int) -> StudyPlan:
    """Plan dosing and timing of one study.

    Parameters
    ----------
    subject : SubjectPlan
        The subject.
    timepoint : str
        ``baseline`` or ``on_treatment``.
    seed : int
        Cohort seed.
    """
    tp_index = TIMEPOINTS.index(timepoint)
    rng = subject_rng(seed, STREAM_TIMING, subject.index, tp_index)
    tracer, vendor = subject.tracer, subject.vendor
    half_life = get_nuclide(tracer.nuclide).half_life_s
    scan_date = FIRST_BASELINE + timedelta(days=2 * subject.index + tp_index * subject.on_treatment_offset_days)
    reference = datetime.combine(scan_date, datetime.min.time()) + timedelta(
        hours=8, minutes=30, seconds=int(rng.integers(0, 4 * 3600)))
    injection = reference - timedelta(seconds=int(rng.uniform(*tracer.uptake_s)))
    t_pre = injection - timedelta(seconds=int(rng.integers(300, 600)))
    t_post = injection + timedelta(seconds=int(rng.integers(120, 600)))
    pre_mbq = round(rng.uniform(*tracer.dose_mbq) * 1.03, 3)
    post_mbq = round(pre_mbq * rng.uniform(0.01, 0.04), 3)
    weight = subject.weight_kg if tp_index == 0 else round(subject.weight_kg + rng.uniform(-2.5, 1.0), 1)
    duration = tracer.frame_duration_s
    beds = tuple(reference + timedelta(seconds=k * (duration + BED_GAP_S)) for k in range(N_BEDS))
    acquisition_end = beds[-1] + timedelta(seconds=duration)
    series_time = reference
    if vendor.series_delay_s[1] > 0:
        series_time = acquisition_end + timedelta(seconds=int(rng.uniform(*vendor.series_delay_s)))
    acsf = ds_value(round(rng.uniform(1.5, 5.0), 6)) if vendor.units == "CNTS" else None
    uid_key = (seed, subject.subject_id, timepoint)
    return StudyPlan(
        subject=subject, timepoint=timepoint, weight_kg=ds_value(weight),
        syringe_pre_mbq=pre_mbq, syringe_pre_time=t_pre, syringe_post_mbq=post_mbq, syringe_post_time=t_post,
        injection=injection, dose_bq=ds_value(net_dose_bq(pre_mbq, t_pre, post_mbq, t_post, injection, half_life)),
        ct_start=reference - timedelta(seconds=int(rng.integers(180, 420))), reference=reference, bed_starts=beds,
        frame_duration_s=duration, series_datetime=series_time, acsf=acsf,
        study_uid=make_uid(*uid_key, "study"), frame_of_reference_uid=make_uid(*uid_key, "for"),
        pet_series_uid=make_uid(*uid_key, "PT"), ct_series_uid=make_uid(*uid_key, "CT"),
        rtstruct_series_uid=make_uid(*uid_key, "RTSTRUCT"), seed=seed,
    )


@dataclass(frozen=True)
class DynamicPlan:
    """Dosing, timing and identifiers of a subject's dynamic study (injection at the start of frame 0).

    Attributes
    ----------
    subject : SubjectPlan
    weight_kg : float
        Weight (kg, DS-exact).
    syringe_pre_mbq, syringe_post_mbq : float
        Syringe activity before and residual after injection (MBq).
    syringe_pre_time, syringe_post_time : datetime
        Times of these measurements.
    injection : datetime
        Injection = scan start.
    dose_bq : float
        Net injected activity at ``injection`` (Bq, DS-exact).
    blood_delay_s : float
        Lag of the blood samples behind the tissue input (s).
    study_uid, frame_of_reference_uid : str
        Deterministic UIDs.
    seed : int
        Cohort seed.
    """

    subject: SubjectPlan
    weight_kg: float
    syringe_pre_mbq: float
    syringe_pre_time: datetime
    syringe_post_mbq: float
    syringe_post_time: datetime
    injection: datetime
    dose_bq: float
    blood_delay_s: float
    study_uid: str
    frame_of_reference_uid: str
    seed: int


def plan_dynamic(subject: SubjectPlan, seed: int) -> DynamicPlan:
    """Plan the dynamic study of a subject: the day before baseline, 90 min from injection.

    Parameters
    ----------
    subject : SubjectPlan
        The subject (its tracer's nuclide should be in :data:`DYNAMIC_NUCLIDES`).
    seed : int
        Cohort seed.
    """
    rng = subject_rng(seed, STREAM_DYNAMIC, subject.index)
    half_life = get_nuclide(subject.tracer.nuclide).half_life_s
    scan_date = FIRST_BASELINE + timedelta(days=2 * subject.index - 1)
    injection = datetime.combine(scan_date, datetime.min.time()) + timedelta(
        hours=8, minutes=30, seconds=int(rng.integers(0, 2 * 3600)))
    t_pre = injection - timedelta(seconds=int(rng.integers(300, 600)))
    t_post = injection + timedelta(seconds=int(rng.integers(120, 600)))
    pre_mbq = round(rng.uniform(180.0, 220.0), 3)
    post_mbq = round(pre_mbq * rng.uniform(0.01, 0.04), 3)
    uid_key = (seed, subject.subject_id, DYNAMIC_TIMEPOINT)
    return DynamicPlan(
        subject=subject, weight_kg=ds_value(subject.weight_kg), syringe_pre_mbq=pre_mbq, syringe_pre_time=t_pre,
        syringe_post_mbq=post_mbq, syringe_post_time=t_post, injection=injection,
        dose_bq=ds_value(net_dose_bq(pre_mbq, t_pre, post_mbq, t_post, injection, half_life)),
        blood_delay_s=round(float(rng.uniform(2.0, 10.0)), 1), study_uid=make_uid(*uid_key, "study"),
        frame_of_reference_uid=make_uid(*uid_key, "for"), seed=seed)
