"""Generate a deterministic synthetic PET/CT trial cohort with exact truth.

Layout written under ``out_dir``::

    dicom/<subject_id>/<timepoint>/PT/PT_0001.dcm ...      PET Image Storage, ascending z
    dicom/<subject_id>/<timepoint>/CT/CT_0001.dcm ...      CT Image Storage, same frame of reference
    dicom/<subject_id>/<timepoint>/RTSTRUCT/RTSTRUCT_0001.dcm
    dicom/<subject_id>/<timepoint>/truth.json              see :mod:`pipeline.synthetic.truth`
    dicom/<subject_id>/dynamic/PT/, SEG/, blood.csv, truth.json   18F subjects: see :mod:`.kinetic`
    dicom/<P{n+1}>/day2|day4|day7/..., pk_truth.json         with ``multiday``: see :mod:`.multiday`
    samples.tsv dosing.csv ihc.csv recist.csv histology.csv outcomes.csv   see :mod:`.clinical`

The same arguments give byte-identical files.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from ..io import write_json, write_table
from .anatomy import TIMEPOINTS, build_phantom
from .clinical import TABLE_FILES, SubjectRecord, build_tables
from .dicom_common import StudyHeader
from .dicom_ct import AIR_HU, ct_uids, write_ct
from .dicom_pet import encode_pet, write_pet
from .dicom_rtstruct import write_rtstruct
from .protocol import (
    DYNAMIC_NUCLIDES,
    DYNAMIC_TIMEPOINT,
    STREAM_ANATOMY,
    STREAM_NOISE,
    DynamicPlan,
    StudyPlan,
    SubjectPlan,
    plan_dynamic,
    plan_study,
    plan_subjects,
    subject_rng,
)
from .raster import Grid, rasterise
from .truth import study_truth, voi_truth
from .vendors import VENDORS

__all__ = ["run_synth", "CohortSummary", "generate_cohort", "cohort_tables", "PET_GRID", "CT_GRID"]

#: PET grid: 128 x 128 x 80 voxels of 4 mm, centred on the LPS origin.
PET_GRID = Grid.centred((80, 128, 128), (4.0, 4.0, 4.0))
#: CT grid: 256 x 256 x 104 voxels of 1.953125 x 1.953125 x 3 mm, centred on the LPS origin.
CT_GRID = Grid.centred((104, 256, 256), (3.0, 1.953125, 1.953125))


@dataclass(frozen=True)
class CohortSummary:
    """What :func:`generate_cohort` wrote.

    Attributes
    ----------
    out_dir : Path
        Cohort folder.
    subject_ids : tuple of str
        Subjects written.
    study_dirs : tuple of Path
        ``dicom/<subject>/<timepoint>`` folders, subject then timepoint order.
    tables : dict of str to Path
        Clinical tables by name (samples, dosing, ihc, recist, histology, outcomes).
    seed : int
        Cohort seed.
    """

    out_dir: Path
    subject_ids: tuple[str, ...]
    study_dirs: tuple[Path, ...]
    tables: dict[str, Path]
    seed: int


def _study_header(plan: StudyPlan, tp: int) -> StudyHeader:
    """The DICOM study attributes of one static study (``tp``: its index among the subject's studies)."""
    subject, vendor = plan.subject, plan.subject.vendor
    return StudyHeader(
        patient_name=f"SYNTHETIC^{subject.subject_id}", patient_id=subject.patient_id,
        birth_date=subject.birth_date, sex=subject.sex, weight_kg=plan.weight_kg, height_m=subject.height_m,
        study_uid=plan.study_uid, frame_of_reference_uid=plan.frame_of_reference_uid,
        study_datetime=plan.ct_start, study_id=f"{subject.subject_id}T{tp}",
        accession_number=f"ACC{subject.index + 1:02d}{tp}{plan.seed % 100000:05d}",
        description=f"PET/CT {subject.tracer.name} {plan.timepoint}", manufacturer=vendor.manufacturer,
        model=vendor.model, software=vendor.software)


def _write_study(study_dir: Path, plan: StudyPlan, record: SubjectRecord, noise_sd: float) -> None:
    """Rasterise, write PET, CT, RTSTRUCT and truth.json of one study."""
    structures = record.phantom.structures(plan.timepoint)
    shapes = [s.shape for s in structures]
    tp = list(record.studies).index(plan.timepoint)  # trial subjects: the index in TIMEPOINTS
    header = _study_header(plan, tp)

    labels, whole_counts = rasterise(shapes, PET_GRID)
    suv_lookup = np.array([0.0, *(s.suv for s in structures)])
    noise_rng = subject_rng(plan.seed, STREAM_NOISE, plan.subject.index, tp)
    encoded = encode_pet(suv_lookup[labels], plan.suv_factor, noise_rng, noise_sd)
    write_pet(study_dir / "PT", header, plan, PET_GRID, encoded)

    ct_labels, _ = rasterise(shapes, CT_GRID)
    hu_lookup = np.array([AIR_HU, *(s.hu for s in structures)])
    write_ct(study_dir / "CT", header, plan, CT_GRID, hu_lookup[ct_labels])
    write_rtstruct(study_dir / "RTSTRUCT" / "RTSTRUCT_0001.dcm", header, plan, CT_GRID,
                   ct_uids(plan, CT_GRID.shape[0]), structures)

    vois = voi_truth(structures, labels, whole_counts, encoded.rescaled() * plan.suv_factor, PET_GRID)
    write_json(study_dir / "truth.json", study_truth(plan, vois, PET_GRID, CT_GRID, noise_sd))


def _write_dynamic(study_dir: Path, plan: DynamicPlan) -> None:
    """The subject's dynamic PET, SEG, blood table and truth (:func:`.kinetic.write_kinetic_study`)."""
    from .kinetic import write_kinetic_study

    subject = plan.subject
    header = StudyHeader(
        patient_name=f"SYNTHETIC^{subject.subject_id}", patient_id=subject.patient_id,
        birth_date=subject.birth_date, sex=subject.sex, weight_kg=plan.weight_kg, height_m=subject.height_m,
        study_uid=plan.study_uid, frame_of_reference_uid=plan.frame_of_reference_uid, study_datetime=plan.injection,
        study_id=f"{subject.subject_id}D", accession_number=f"ACC{subject.index + 1:02d}D{plan.seed % 100000:05d}",
        description=f"PET dynamic {subject.tracer.name}", manufacturer=VENDORS["siemens"].manufacturer,
        model=VENDORS["siemens"].model, software=VENDORS["siemens"].software)
    write_kinetic_study(study_dir, seed=plan.seed, study=header, scan_start=plan.injection, dose_bq=plan.dose_bq,
                        weight_kg=plan.weight_kg, blood_delay_s=plan.blood_delay_s,
                        role=f"{subject.subject_id}/{DYNAMIC_TIMEPOINT}")


def _records(subjects: Iterable[SubjectPlan], seed: int, multiday: SubjectPlan | None = None) -> list[SubjectRecord]:
    """Phantom and study plans of each subject (no pixel data); the multi-day subject's last."""
    from .multiday import multiday_record

    records = []
    for subject in subjects:
        if multiday is not None and subject is multiday:
            records.append(multiday_record(subject, seed))
            continue
        phantom = build_phantom(subject_rng(seed, STREAM_ANATOMY, subject.index), subject.tracer, subject.scale,
                                subject.tendency, subject.new_lesion)
        dynamic = plan_dynamic(subject, seed) if subject.tracer.nuclide in DYNAMIC_NUCLIDES else None
        records.append(SubjectRecord(subject, phantom, {tp: plan_study(subject, tp, seed) for tp in TIMEPOINTS},
                                     seed, dynamic))
    return records


def _subjects(n_subjects: int, seed: int, multiday: bool) -> tuple[list[SubjectPlan], SubjectPlan | None]:
    """The trial subjects, then the multi-day subject when asked for (and that subject)."""
    from .multiday import plan_multiday_subject

    subjects = plan_subjects(n_subjects, seed)
    if not multiday:
        return subjects, None
    extra = plan_multiday_subject(n_subjects, seed, [s.patient_id for s in subjects])
    return [*subjects, extra], extra


def cohort_tables(n_subjects: int = 6, seed: int = 0, multiday: bool = False) -> dict[str, pd.DataFrame]:
    """The clinical tables and sample sheet of a cohort, without writing any DICOM.

    Parameters
    ----------
    n_subjects, seed : int
        As for :func:`generate_cohort`, which writes exactly these tables.
    multiday : bool
        As for :func:`generate_cohort`.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keyed by table name (samples, dosing, ihc, recist, histology, outcomes).
    """
    subjects, extra = _subjects(int(n_subjects), int(seed), multiday)
    return build_tables(_records(subjects, int(seed), extra))


def generate_cohort(out_dir: Path, n_subjects: int = 6, seed: int = 0, noise_sd: float = 0.0,
                    subjects_filter: Iterable[str] | None = None, multiday: bool = False) -> CohortSummary:
    """Generate the synthetic cohort: DICOM, truth.json per study and clinical tables.

    Parameters
    ----------
    out_dir : Path
        Output folder (created; existing files of the same names are replaced atomically).
    n_subjects : int
        Cohort size, 1-99; subjects are ``P01``... Tracers cycle F18, Ga68, Zr89 and vendors
        Siemens, GE, Philips, GE, Philips, Siemens.
    seed : int
        Seed of every random draw (geometry, SUVs, timing, identities, UIDs, noise, tables).
    noise_sd : float
        Relative Gaussian noise SD on the PET activity (0: noise-free).
    subjects_filter : iterable of str, optional
        Write only these subject ids; their content is the same as in the full cohort.
    multiday : bool
        Also write the multi-day PK subject ``P{n_subjects + 1}`` (:mod:`.multiday`): one 89Zr
        injection, static scans ``day2``, ``day4`` and ``day7``, exact uptake curves and
        ``dicom/<subject>/pk_truth.json``. The trial subjects are the same with or without it.

    Returns
    -------
    CohortSummary

    Raises
    ------
    InvalidInputError
        For an invalid cohort size, seed, noise level or unknown subject id.
    """
    if not isinstance(n_subjects, numbers.Integral) or not 1 <= n_subjects <= 99:
        raise InvalidInputError(f"n_subjects must be an integer in 1..99, got {n_subjects!r}",
                                attribute="n_subjects")
    if not isinstance(seed, numbers.Integral) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}", attribute="seed")
    if not 0.0 <= float(noise_sd) < 1.0:
        raise InvalidInputError(f"noise_sd must be in [0, 1), got {noise_sd!r}", attribute="noise_sd")
    n_subjects, seed = int(n_subjects), int(seed)
    subjects, extra = _subjects(n_subjects, seed, multiday)
    if subjects_filter is not None:
        wanted = {subjects_filter} if isinstance(subjects_filter, str) else set(subjects_filter)
        unknown = sorted(wanted - {s.subject_id for s in subjects})
        if unknown:
            raise InvalidInputError(f"unknown subject ids {unknown} for a cohort of {n_subjects}",
                                    attribute="subjects_filter", remedy=f"use ids P01..P{len(subjects):02d}")
        subjects = [s for s in subjects if s.subject_id in wanted]

    out_dir = Path(out_dir)
    records, study_dirs = _records(subjects, seed, extra), []
    for record in records:
        subject = record.subject
        for tp, plan in record.studies.items():
            study_dir = out_dir / "dicom" / subject.subject_id / tp
            _write_study(study_dir, plan, record, float(noise_sd))
            study_dirs.append(study_dir)
        if not record.trial:
            from .multiday import pk_truth

            write_json(out_dir / "dicom" / subject.subject_id / "pk_truth.json", pk_truth(record))
        if record.dynamic is not None:
            study_dir = out_dir / "dicom" / subject.subject_id / DYNAMIC_TIMEPOINT
            _write_dynamic(study_dir, record.dynamic)
            study_dirs.append(study_dir)

    tables = {name: write_table(out_dir / TABLE_FILES[name], frame)
              for name, frame in build_tables(records).items()}
    return CohortSummary(out_dir, tuple(s.subject_id for s in subjects), tuple(study_dirs), tables, seed)


def run_synth(out_dir: Path, *, n_subjects: int = 6, seed: int = 0, noise_sd: float = 0.0,
              dynamic: bool = False, multiday: bool = False) -> str:
    """The ``synth`` stage: the sample cohort (:func:`generate_cohort`, with the multi-day subject when
    ``multiday``), or with ``dynamic`` one kinetic study (:func:`~pipeline.synthetic.kinetic.write_kinetic_study`);
    returns a one-line summary of what was written."""
    if dynamic:
        from .kinetic import write_kinetic_study

        truth = write_kinetic_study(Path(out_dir), seed=seed)
        return (f"wrote a dynamic PET study ({len(truth.get('vois', []))} VOIs with known 2TCM rates), blood.csv "
                f"and truth.json under {out_dir}")
    summary = generate_cohort(Path(out_dir), n_subjects=n_subjects, seed=seed, noise_sd=noise_sd, multiday=multiday)
    return f"wrote {len(summary.study_dirs)} studies of {len(summary.subject_ids)} subjects under {out_dir}"
