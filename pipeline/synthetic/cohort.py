"""Generate a deterministic synthetic PET/CT trial cohort with exact truth.

Layout written under ``out_dir``::

    dicom/<subject_id>/<timepoint>/PT/PT_0001.dcm ...      PET Image Storage, ascending z
    dicom/<subject_id>/<timepoint>/CT/CT_0001.dcm ...      CT Image Storage, same frame of reference
    dicom/<subject_id>/<timepoint>/RTSTRUCT/RTSTRUCT_0001.dcm
    dicom/<subject_id>/<timepoint>/truth.json              see :mod:`pipeline.synthetic.truth`
    dicom/<subject_id>/dynamic/PT/, SEG/, blood.csv, truth.json   18F subjects: see :mod:`.kinetic`
    dicom/<P{n+1}>/day2|day4|day7/..., pk_truth.json         with ``multiday``: see :mod:`.multiday`
    dicom/<subject_id>/mri_<timepoint>/VFA/, DCE/, DWI/, RTSTRUCT/, truth.json   CD8 subjects: see :mod:`.mri`
    dicom/.synth.json                                      the complete cohort's manifest: see :mod:`.manifest`
    samples.tsv dosing.csv ihc.csv recist.csv histology.csv outcomes.csv mri.tsv   see :mod:`.clinical`

The same arguments give byte-identical files. Subject ids are ``P01``..``P99``, and ``P001``... in a cohort
of more than 99 subjects (:func:`~.protocol.subject_id`). The tables are a cheap function of the arguments
(:func:`cohort_tables`, no pixel data); :func:`ensure_sheets` writes them alone, for a workflow that must
read the sample sheet before the DICOM exists.
"""

from __future__ import annotations

import logging
import numbers
import os
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, InvalidInputError
from ..io import atomic_path, write_json, write_table
from ..progress import progress
from .anatomy import TIMEPOINTS, build_phantom
from .clinical import TABLE_FILES, SubjectRecord, build_tables
from .dicom_common import StudyHeader
from .dicom_ct import AIR_HU, ct_uids, write_ct
from .dicom_pet import encode_pet, write_pet
from .dicom_rtstruct import write_rtstruct
from .manifest import CohortKey, read_manifest, remove_manifest, remove_stale, write_manifest
from .mri import MR_TIMEPOINTS, mri_folder, mri_subject, mri_vendor, write_mri_study
from .protocol import (
    DYNAMIC_NUCLIDES,
    DYNAMIC_TIMEPOINT,
    MAX_SUBJECTS,
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

__all__ = ["run_synth", "CohortSummary", "generate_cohort", "cohort_tables", "ensure_sheets", "ensure_workflow_sheets",
           "PET_GRID", "CT_GRID"]

log = logging.getLogger(__name__)

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

    subjects = plan_subjects(n_subjects, seed, n_total=n_subjects + int(multiday))
    if not multiday:
        return subjects, None
    extra = plan_multiday_subject(n_subjects, seed, [s.patient_id for s in subjects])
    return [*subjects, extra], extra


def _check_arguments(n_subjects: Any, seed: Any, noise_sd: Any = 0.0) -> tuple[int, int, float]:
    """The cohort arguments as int, int, float, or the error naming the bad one."""
    if not isinstance(n_subjects, numbers.Integral) or not 1 <= int(n_subjects) <= MAX_SUBJECTS:
        raise InvalidInputError(f"n_subjects must be an integer in 1..{MAX_SUBJECTS}, got {n_subjects!r}",
                                attribute="n_subjects")
    if not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}", attribute="seed")
    if not 0.0 <= float(noise_sd) < 1.0:
        raise InvalidInputError(f"noise_sd must be in [0, 1), got {noise_sd!r}", attribute="noise_sd")
    return int(n_subjects), int(seed), float(noise_sd)


def cohort_tables(n_subjects: int = 6, seed: int = 0, multiday: bool = False) -> dict[str, pd.DataFrame]:
    """The clinical tables and sample sheet of a cohort, without writing any DICOM.

    Cheap (phantoms and plans, no pixel data: a few ms per subject).

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


def _write_table_if_changed(path: Path, frame: pd.DataFrame) -> bool:
    """Write ``frame`` to ``path`` (as :func:`~pipeline.io.write_table` does) unless the file already holds
    exactly these bytes; an unchanged table keeps its modification time (no rerun of the rules reading it)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = write_table(Path(tmp) / path.name, frame).read_bytes()
    if path.is_file() and path.read_bytes() == fresh:
        return False
    with atomic_path(path) as target:
        target.write_bytes(fresh)
    return True


def _write_tables(out_dir: Path, tables: Mapping[str, pd.DataFrame]) -> dict[str, Path]:
    written = [name for name, frame in tables.items() if _write_table_if_changed(out_dir / TABLE_FILES[name], frame)]
    if written:
        log.info("wrote %s under %s", ", ".join(TABLE_FILES[name] for name in written), out_dir)
    return {name: out_dir / TABLE_FILES[name] for name in tables}


def _write_subject(out_dir: Path, record: SubjectRecord, noise_sd: float) -> list[Path]:
    """Every study of one subject (and its pk_truth.json); the study folders, in the cohort's order."""
    subject, study_dirs = record.subject, []
    for tp, plan in record.studies.items():
        study_dir = out_dir / "dicom" / subject.subject_id / tp
        _write_study(study_dir, plan, record, noise_sd)
        study_dirs.append(study_dir)
    if not record.trial:
        from .multiday import pk_truth

        write_json(out_dir / "dicom" / subject.subject_id / "pk_truth.json", pk_truth(record))
    if record.dynamic is not None:
        study_dir = out_dir / "dicom" / subject.subject_id / DYNAMIC_TIMEPOINT
        _write_dynamic(study_dir, record.dynamic)
        study_dirs.append(study_dir)
    if mri_subject(record):
        study_dirs.extend(write_mri_study(out_dir, record, tp, mri_vendor(record, tp)) for tp in MR_TIMEPOINTS)
    return study_dirs


def _write_planned_subject(out_dir: Path, key: CohortKey, subject_id: str) -> list[Path]:
    """:func:`_write_subject` of one subject of the cohort ``key``, planned again (in a worker process: the
    plans are cheap, and not all picklable)."""
    subjects, extra = _subjects(key.n_subjects, key.seed, key.multiday)
    subject = next(s for s in subjects if s.subject_id == subject_id)
    return _write_subject(out_dir, _records([subject], key.seed, extra)[0], key.noise_sd)


def _write_subjects(out_dir: Path, records: list[SubjectRecord], key: CohortKey, workers: int) -> list[Path]:
    """:func:`_write_subject` for each record of the cohort ``key``, in ``workers`` processes (1: in this
    one), with progress; the study folders in the records' order."""
    done: dict[int, list[Path]] = {}
    with progress("synth", total=len(records), unit="subjects") as bar:
        if workers <= 1 or len(records) <= 1:
            for i, record in enumerate(records):
                done[i] = _write_subject(out_dir, record, key.noise_sd)
                bar.advance()
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(records))) as pool:
                futures = {pool.submit(_write_planned_subject, out_dir, key, record.subject.subject_id): i
                           for i, record in enumerate(records)}
                for future in as_completed(futures):
                    done[futures[future]] = future.result()
                    bar.advance()
    return [path for i in range(len(records)) for path in done[i]]


def generate_cohort(out_dir: Path, n_subjects: int = 6, seed: int = 0, noise_sd: float = 0.0,
                    subjects_filter: Iterable[str] | None = None, multiday: bool = False,
                    workers: int = 1) -> CohortSummary:
    """Generate the synthetic cohort: DICOM, truth.json per study and clinical tables.

    Parameters
    ----------
    out_dir : Path
        Output folder (created; existing files of the same names are replaced atomically, a table only when
        its content changes). Before a whole cohort is written, what ``out_dir/dicom`` holds of another
        synthetic cohort (subjects or studies this one does not have) is removed
        (:func:`~.manifest.remove_stale`); when the cohort is complete, ``out_dir/dicom/.synth.json`` records it.
    n_subjects : int
        Cohort size, 1-999; subjects are ``P01``... (``P001``... beyond 99 subjects, the multi-day one
        included). Tracers cycle F18, Ga68, Zr89 and vendors Siemens, GE, Philips, GE, Philips, Siemens.
    seed : int
        Seed of every random draw (geometry, SUVs, timing, identities, UIDs, noise, tables).
    noise_sd : float
        Relative Gaussian noise SD on the PET activity (0: noise-free).
    subjects_filter : iterable of str, optional
        Write only these subject ids; their content is the same as in the full cohort. The tables then
        have only their rows, and no stale study is removed.
    multiday : bool
        Also write the multi-day PK subject ``P{n_subjects + 1}`` (:mod:`.multiday`): one 89Zr
        injection, static scans ``day2``, ``day4`` and ``day7``, exact uptake curves and
        ``dicom/<subject>/pk_truth.json``. The trial subjects are the same with or without it (but for
        their ids when it makes the cohort 100 subjects).
    workers : int
        Subjects written in parallel (processes); the files do not depend on it.

    Returns
    -------
    CohortSummary

    Raises
    ------
    InvalidInputError
        For an invalid cohort size, seed, noise level or unknown subject id, or when ``out_dir/dicom`` holds
        entries that are not part of the cohort and were not written by the generator.
    """
    n_subjects, seed, noise = _check_arguments(n_subjects, seed, noise_sd)
    subjects, extra = _subjects(n_subjects, seed, multiday)
    if subjects_filter is not None:
        wanted = {subjects_filter} if isinstance(subjects_filter, str) else set(subjects_filter)
        unknown = sorted(wanted - {s.subject_id for s in subjects})
        if unknown:
            raise InvalidInputError(f"unknown subject ids {unknown} for a cohort of {n_subjects}",
                                    attribute="subjects_filter",
                                    remedy=f"use ids {subjects[0].subject_id}..{subjects[-1].subject_id}")
        subjects = [s for s in subjects if s.subject_id in wanted]

    out_dir = Path(out_dir)
    dicom_root, key = out_dir / "dicom", CohortKey(n_subjects, seed, bool(multiday), noise)
    records = _records(subjects, seed, extra)
    studies = {r.subject.subject_id: [*r.studies, *([DYNAMIC_TIMEPOINT] if r.dynamic else []),
                                      *(Path(mri_folder(r.subject.subject_id, tp)).name for tp in MR_TIMEPOINTS
                                        if mri_subject(r))] for r in records}
    old = read_manifest(dicom_root)
    if subjects_filter is None:
        remove_stale(dicom_root, studies, extra.subject_id if extra else None)
    if subjects_filter is None or (old is not None and old[0] != key):
        remove_manifest(dicom_root)  # written again once the whole cohort is
    study_dirs = _write_subjects(out_dir, records, key, max(1, int(workers)))
    tables = _write_tables(out_dir, build_tables(records))
    if subjects_filter is None:
        write_manifest(dicom_root, key, studies)
    return CohortSummary(out_dir, tuple(s.subject_id for s in subjects), tuple(study_dirs), tables, seed)


def ensure_sheets(data_root: Path, n_subjects: int, seed: int, *, multiday: bool = True, noise_sd: float = 0.0,
                  done_marker: Path | None = None) -> Path:
    """Write the sample sheet and clinical tables of a synthetic cohort under ``data_root``, never its DICOM.

    For a workflow that reads the sample sheet when it starts, before its synth step writes the DICOM
    (:func:`generate_cohort` with the same arguments writes the same tables). Each table is written only
    when it is missing or differs (another cohort size or seed), so a repeated call changes nothing and
    costs :func:`cohort_tables` (a few ms per subject: 0.4 s for 150).

    Parameters
    ----------
    data_root : Path
        The cohort folder (``petvoi synth``'s OUT).
    n_subjects, seed, multiday, noise_sd
        As for :func:`generate_cohort`.
    done_marker : Path, optional
        The file that says the cohort's DICOM is complete (the workflow's ``dicom/.synth.complete``). Removed
        when ``data_root/dicom`` holds a complete cohort of other arguments (its manifest), so that the
        synth step runs again even where every file it declares exists (e.g. only the noise changed).

    Returns
    -------
    Path
        ``data_root/samples.tsv``.
    """
    n_subjects, seed, noise = _check_arguments(n_subjects, seed, noise_sd)
    data_root = Path(data_root)
    _write_tables(data_root, cohort_tables(n_subjects, seed, multiday))
    old = read_manifest(data_root / "dicom")
    key = CohortKey(n_subjects, seed, bool(multiday), noise)
    if done_marker is not None and old is not None and old[0] != key and Path(done_marker).exists():
        Path(done_marker).unlink()
        log.warning("%s holds the synthetic cohort of %s; it is generated again for %s", data_root / "dicom",
                    old[0].describe(), key.describe())
    return data_root / TABLE_FILES["samples"]


#: Configuration keys that name a table of the synthetic cohort (TABLE_FILES name).
WORKFLOW_TABLE_KEYS = {"samples": "samples", "suv.dosing": "dosing", "recist.measurements": "recist",
                       "clinical.ihc": "ihc", "clinical.histology": "histology", "clinical.outcomes": "outcomes",
                       "mri.samples": "mri"}


def ensure_workflow_sheets(cfg: Mapping[str, Any], *, done_marker: Path | None = None,
                           source: str = "snakemake config") -> Path:
    """The workflow's synthetic cohort tables before the sample sheet is read (``synth.generate: true``).

    :func:`ensure_sheets` under ``data_root`` for ``synth.subjects``, ``synth.seed`` and ``synth.noise_sd``,
    with the multi-day subject (as the synth rule's ``petvoi synth``); then every configuration key that
    names one of these tables (:data:`WORKFLOW_TABLE_KEYS`) must name the one under ``data_root``, or a
    file with the same content (the committed sample data for the default cohort).

    Parameters
    ----------
    cfg : mapping
        The validated configuration.
    done_marker : Path, optional
        As for :func:`ensure_sheets`.
    source : str
        Named in errors.

    Returns
    -------
    Path
        The configuration's ``samples``.

    Raises
    ------
    ConfigError
        A table key naming another file with other content (it would describe another cohort).
    """
    synth, data_root = cfg["synth"], Path(cfg["data_root"])
    try:
        ensure_sheets(data_root, synth["subjects"], synth["seed"], multiday=True, noise_sd=synth["noise_sd"],
                      done_marker=done_marker)
    except InvalidInputError as err:
        key = {"n_subjects": "subjects"}.get(err.attribute or "", err.attribute)
        raise ConfigError(err.message, source=source, attribute=f"synth.{key}") from err
    for key, name in WORKFLOW_TABLE_KEYS.items():
        value: Any = cfg
        for part in key.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if not value:
            continue
        generated = data_root / TABLE_FILES[name]
        given = Path(str(value))
        if os.path.abspath(given) == os.path.abspath(generated):
            continue
        if given.is_file() and given.read_bytes() == generated.read_bytes():
            continue
        raise ConfigError(
            f"{given} is not the {name} table of the synthetic cohort ({synth['subjects']} subjects, seed "
            f"{synth['seed']}) that synth.generate writes to {generated}", source=source, attribute=key,
            remedy=f"set {key} to {generated}, or synth.generate to false for a cohort of your own")
    return Path(str(cfg["samples"]))


def run_synth(out_dir: Path, *, n_subjects: int = 6, seed: int = 0, noise_sd: float = 0.0,
              dynamic: bool = False, multiday: bool = False, workers: int = 1) -> str:
    """The ``synth`` stage: the sample cohort (:func:`generate_cohort`, with the multi-day subject when
    ``multiday``, ``workers`` subjects at a time), or with ``dynamic`` one kinetic study
    (:func:`~pipeline.synthetic.kinetic.write_kinetic_study`); returns a one-line summary of what was written."""
    if dynamic:
        from .kinetic import write_kinetic_study

        truth = write_kinetic_study(Path(out_dir), seed=seed)
        return (f"wrote a dynamic PET study ({len(truth.get('vois', []))} VOIs with known 2TCM rates), blood.csv "
                f"and truth.json under {out_dir}")
    summary = generate_cohort(Path(out_dir), n_subjects=n_subjects, seed=seed, noise_sd=noise_sd, multiday=multiday,
                              workers=workers)
    return f"wrote {len(summary.study_dirs)} studies of {len(summary.subject_ids)} subjects under {out_dir}"
