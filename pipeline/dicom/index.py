"""Header-only index of a DICOM tree: one row per series.

Files are read with pydicom (``stop_before_pixels``, only the attributes the
index needs) in a thread pool; the GIL is released in file I/O, which is what
dominates. Non-DICOM files (no ``DICM`` preamble) are counted and skipped;
files that claim to be DICOM but cannot be parsed are reported by path.

Subject IDs in the index come from the sample sheet (by StudyInstanceUID or by
study folder). Without a sample sheet they are a pseudonym derived from the
PatientID by SHA-256, so that no patient identifier reaches the output.
"""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError

from ..config import load_sample_sheet
from ..deid import Deidentifier, active
from ..errors import InvalidInputError
from ..progress import progress as show_progress
from .folders import outermost

__all__ = ["IndexResult", "index_tree", "SERIES_COLUMNS", "SKIPPED_COLUMNS", "skipped_table_path", "pseudonym",
           "run_index", "merge_index", "run_merge_index"]

SERIES_COLUMNS = [
    "subject_id", "timepoint", "study_uid", "series_uid", "modality", "series_description", "n_instances",
    "radionuclide", "acquisition_datetime", "manufacturer", "path",
    "sop_class_uid", "frame_of_reference_uid", "units", "decay_correction", "series_datetime", "problems",
]

_TAGS = [
    "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID", "Modality",
    "SeriesDescription", "Manufacturer", "FrameOfReferenceUID", "Units", "DecayCorrection",
    "SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime",
    "RadiopharmaceuticalInformationSequence", "ImagePositionPatient", "NumberOfFrames",
]
#: Columns of the table of files the index did not use (``series_skipped.csv`` beside ``series.csv``).
SKIPPED_COLUMNS = ["path", "status", "reason"]

# attributes that must agree across the instances of one series
_SERIES_CONSTANT = ["PatientID", "StudyInstanceUID", "Modality", "SOPClassUID", "FrameOfReferenceUID",
                    "Units", "DecayCorrection", "SeriesDate", "SeriesTime"]


@dataclass
class IndexResult:
    """Outcome of :func:`index_tree`.

    Attributes
    ----------
    series : pandas.DataFrame
        One row per series with :data:`SERIES_COLUMNS`, sorted by subject, study, modality, series UID.
    n_dicom : int
        DICOM files read.
    n_skipped : int
        Files skipped because they are not DICOM.
    unreadable : list of (str, str)
        DICOM files that could not be parsed, with the reason.
    skipped : list of (str, str, str)
        Every file not indexed: path, status (``not DICOM`` or ``unreadable``) and reason.
    """

    series: pd.DataFrame
    n_dicom: int = 0
    n_skipped: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)

    def skipped_table(self) -> pd.DataFrame:
        """The files not indexed, one row each (:data:`SKIPPED_COLUMNS`), sorted by path."""
        table = pd.DataFrame(self.skipped, columns=SKIPPED_COLUMNS)
        return table.sort_values("path", kind="stable", ignore_index=True)


def skipped_table_path(index_path: Path) -> Path:
    """Where the table of skipped files of the index ``index_path`` is: ``<stem>_skipped.csv`` beside it."""
    return index_path.with_name(f"{index_path.stem}_skipped.csv")


def pseudonym(patient_id: str) -> str:
    """Return a stable pseudonym ``anon-<8 hex>`` for a PatientID (SHA-256)."""
    return "anon-" + hashlib.sha256(patient_id.encode("utf-8")).hexdigest()[:8]


def _read_header(path: Path) -> tuple[str, Any]:
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS)
    except InvalidDicomError:
        # no 128-byte preamble and "DICM": a bare data set (as `petvoi suv` reads them) when it parses with a
        # SOP Class; anything else is not DICOM
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_TAGS, force=True)
        except Exception as exc:  # noqa: BLE001 - arbitrary bytes: not DICOM
            return "skip", f"no DICM preamble, and not a data set without one ({type(exc).__name__})"
        if "SOPClassUID" not in ds:
            return "skip", "no DICM preamble, and no SOPClassUID (0008,0016) when read without one"
    except Exception as exc:  # noqa: BLE001 - any parse failure is reported with its path
        return "bad", f"{type(exc).__name__}: {exc}"
    if "SeriesInstanceUID" not in ds:
        return "bad", "no SeriesInstanceUID (0020,000E)"
    return "ok", ds


def _radionuclide(ds: pydicom.Dataset) -> str:
    for item in ds.get("RadiopharmaceuticalInformationSequence", []) or []:
        for code in item.get("RadionuclideCodeSequence", []) or []:
            meaning = str(code.get("CodeMeaning", "")).replace("^", "")
            if meaning:
                return meaning
    return ""


def _acq_datetime(ds: pydicom.Dataset) -> str:
    if ds.get("AcquisitionDateTime"):
        return str(ds.AcquisitionDateTime)
    if ds.get("AcquisitionDate") and ds.get("AcquisitionTime"):
        return f"{ds.AcquisitionDate}{ds.AcquisitionTime}"
    return ""


def _walk(roots: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            files.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith("."))
    return files


Study = tuple[str, str]  # (subject_id, timepoint) of the sample sheet


def _subject_lookup(samples: Path | None, data_root: Path | None) -> tuple[dict[str, Study], list[tuple[Path, Study]]]:
    if samples is None:
        return {}, []
    sheet = load_sample_sheet(samples)
    base = data_root if data_root is not None else samples.parent
    by_uid = {r.study_uid: (r.subject_id, r.timepoint) for r in sheet.itertuples() if getattr(r, "study_uid", "")}
    by_dir = [((base / r.dicom).resolve(), (r.subject_id, r.timepoint)) for r in sheet.itertuples()]
    return by_uid, by_dir


#: From this many files on, headers are read by worker processes (pydicom parses in Python: threads share one
#: core); below it, threads (a process pool costs about 0.1 s per worker to start).
PROCESS_POOL_MIN_FILES = 2000


def _header_pool(workers: int, n_files: int) -> Executor:
    """The executor that reads headers: ``workers`` processes (at most the CPUs this process may use, e.g. a
    SLURM job's allocation) for large trees, threads otherwise."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    processes = min(max(1, workers), cpus)
    if n_files >= PROCESS_POOL_MIN_FILES and processes > 1:
        import multiprocessing

        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        return ProcessPoolExecutor(max_workers=processes, mp_context=context)
    return ThreadPoolExecutor(max_workers=max(1, workers))


def index_tree(
    root: Path | Sequence[Path],
    *,
    workers: int = 8,
    progress: Callable[[int], None] | None = None,
    samples: Path | None = None,
    data_root: Path | None = None,
) -> IndexResult:
    """Index every DICOM file below ``root``.

    Parameters
    ----------
    root : Path or sequence of Path
        Folder(s) to scan recursively (hidden files are ignored; a folder inside another one given is read once).
    workers : int
        Header readers: processes for trees of PROCESS_POOL_MIN_FILES files or more (at most the CPUs this
        process may use), threads for smaller ones.
    progress : callable, optional
        Called with the number of files just read (the command line's progress is shown by
        :mod:`pipeline.progress` in any case: a bar on a terminal, log lines otherwise).
    samples, data_root : Path, optional
        Sample sheet and the folder its ``dicom`` paths are relative to; used
        to label series with the sheet's subject IDs.

    Returns
    -------
    IndexResult

    Raises
    ------
    InvalidInputError
        If a root is not a folder.
    """
    roots = [Path(root)] if isinstance(root, (str, Path)) else [Path(r) for r in root]
    if not roots:
        raise InvalidInputError("no folder to index", source="index", remedy="give the root folder of a DICOM tree")
    for folder in roots:
        if not folder.is_dir():
            raise InvalidInputError("not a folder", source=str(folder),
                                    remedy="give the root folder of a DICOM tree (sample sheet: column dicom, "
                                           "relative to data_root)")
    by_uid, by_dir = _subject_lookup(samples, data_root)
    files = _walk(outermost(roots))
    groups: dict[str, list[tuple[Path, pydicom.Dataset]]] = defaultdict(list)
    result = IndexResult(series=pd.DataFrame(columns=SERIES_COLUMNS))
    with _header_pool(workers, len(files)) as pool, show_progress("index", total=len(files), unit="files") as bar:
        for path, (status, payload) in zip(files, pool.map(_read_header, files, chunksize=64), strict=True):
            bar.advance()
            if progress is not None:
                progress(1)
            if status == "skip":
                result.n_skipped += 1
                result.skipped.append((str(path), "not DICOM", payload))
            elif status == "bad":
                result.unreadable.append((str(path), payload))
                result.skipped.append((str(path), "unreadable", payload))
            else:
                result.n_dicom += 1
                groups[str(payload.SeriesInstanceUID)].append((path, payload))
    rows = [_series_row(uid, members, by_uid, by_dir) for uid, members in groups.items()]
    table = pd.DataFrame(rows, columns=SERIES_COLUMNS)
    order = ["subject_id", "timepoint", "study_uid", "modality", "series_uid"]
    result.series = table.sort_values(order, kind="stable", ignore_index=True)
    return result


def _series_row(uid: str, members: list[tuple[Path, pydicom.Dataset]], by_uid: dict[str, Study],
                by_dir: list[tuple[Path, Study]]) -> dict[str, Any]:
    first = members[0][1]
    problems: list[str] = []
    for attr in _SERIES_CONSTANT:
        values = {str(ds.get(attr, "")) for _, ds in members}
        if len(values) > 1:
            problems.append(f"inconsistent {attr}")
    folders = sorted({str(p.parent) for p, _ in members})
    if len(folders) > 1:
        problems.append(f"instances in {len(folders)} folders")
    sops = [str(ds.get("SOPInstanceUID", "")) for _, ds in members]
    if len(set(sops)) != len(sops):
        problems.append(f"{len(sops) - len(set(sops))} duplicate SOPInstanceUID")
    study_uid = str(first.get("StudyInstanceUID", ""))
    subject, timepoint = by_uid.get(study_uid, ("", ""))
    if not subject:
        folder = Path(folders[0]).resolve()
        for base, study in by_dir:
            if folder == base or base in folder.parents:
                subject, timepoint = study
                break
    if not subject:
        subject = pseudonym(str(first.get("PatientID", "")))
    acq = sorted(a for a in (_acq_datetime(ds) for _, ds in members) if a)
    return {
        "subject_id": subject,
        "timepoint": timepoint,
        "study_uid": study_uid,
        "series_uid": uid,
        "modality": str(first.get("Modality", "")),
        "series_description": str(first.get("SeriesDescription", "")),
        "n_instances": len(members),
        "radionuclide": _radionuclide(first),
        "acquisition_datetime": acq[0] if acq else "",
        "manufacturer": str(first.get("Manufacturer", "")),
        "sop_class_uid": str(first.get("SOPClassUID", "")),
        "frame_of_reference_uid": str(first.get("FrameOfReferenceUID", "")),
        "units": str(first.get("Units", "")),
        "decay_correction": str(first.get("DecayCorrection", "")),
        "series_datetime": f"{first.get('SeriesDate', '')}{first.get('SeriesTime', '')}",
        "path": folders[0] if len(folders) == 1 else os.path.commonpath(folders),
        "problems": "; ".join(problems),
    }


def run_index(root: Path | Sequence[Path], output: Path, *, workers: int = 8,
              progress: Callable[[int], None] | None = None, samples: Path | None = None,
              data_root: Path | None = None) -> IndexResult:
    """The ``index`` stage: :func:`index_tree` written as ``series.csv`` (one row per series) and the files it did
    not use as ``series_skipped.csv`` beside it (:func:`skipped_table_path`), each atomically."""
    from ..io import output_set, write_csv

    result = index_tree(root, workers=workers, progress=progress, samples=samples, data_root=data_root)
    deid = active()
    if deid is not None:
        result.series = deidentified_index(result.series, deid)
    with output_set(output, skipped_table_path(Path(output))):
        write_csv(skipped_table_path(Path(output)), result.skipped_table())
        write_csv(output, result.series)
    return result


#: Index columns holding DICOM UIDs that identify (SOP Class UIDs do not) and DICOM datetimes.
_UID_COLUMNS = ("study_uid", "series_uid", "frame_of_reference_uid")
_DATETIME_COLUMNS = ("acquisition_datetime", "series_datetime")


def deidentified_index(table: pd.DataFrame, deid: Deidentifier) -> pd.DataFrame:
    """The index with its UIDs pseudonymised and its datetimes shifted by each row's subject (pipeline.deid)."""
    out = table.copy()
    for column in _UID_COLUMNS:
        out[column] = [deid.uid(str(v)) for v in out[column]]
    for column in _DATETIME_COLUMNS:
        out[column] = [deid.dicom_datetime(str(v), str(s)) if str(v) else v
                       for v, s in zip(out[column], out["subject_id"], strict=True)]
    return out


def merge_index(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One index from indexes of disjoint folders (the workflow's index parts), as :func:`index_tree` of all.

    A series whose instances lie in folders of several parts is one row: instances summed, the common folder,
    the earliest acquisition time, and the problem ``instances in folders of N index parts``.

    Parameters
    ----------
    parts : sequence of pandas.DataFrame
        Tables with :data:`SERIES_COLUMNS` (all columns as strings or numbers, as read from ``series.csv``).

    Returns
    -------
    pandas.DataFrame
        One row per series with :data:`SERIES_COLUMNS`, sorted as :func:`index_tree` sorts.
    """
    rows: dict[str, dict[str, Any]] = {}
    for part in parts:
        for row in part[SERIES_COLUMNS].to_dict(orient="records"):
            uid = str(row["series_uid"])
            seen = rows.get(uid)
            if seen is None:
                rows[uid] = {**row, "_parts": 1}
                continue
            seen["_parts"] += 1
            seen["n_instances"] = int(seen["n_instances"]) + int(row["n_instances"])
            seen["path"] = os.path.commonpath([str(seen["path"]), str(row["path"])])
            times = sorted(t for t in (str(seen["acquisition_datetime"]), str(row["acquisition_datetime"])) if t)
            seen["acquisition_datetime"] = times[0] if times else ""
            seen["problems"] = "; ".join(dict.fromkeys(
                p for text in (str(seen["problems"]), str(row["problems"])) for p in text.split("; ") if p))
    for row in rows.values():
        n = row.pop("_parts")
        if n > 1:
            row["problems"] = "; ".join(filter(None, [str(row["problems"]),
                                                      f"instances in folders of {n} index parts"]))
    table = pd.DataFrame(list(rows.values()), columns=SERIES_COLUMNS)
    order = ["subject_id", "timepoint", "study_uid", "modality", "series_uid"]
    return table.sort_values(order, kind="stable", ignore_index=True)


def run_merge_index(parts: Sequence[Path], output: Path) -> pd.DataFrame:
    """Merge index parts (``series.csv`` files written by :func:`run_index`) into one ``series.csv``."""
    from ..io import output_set, write_csv

    tables = []
    for part in parts:
        try:
            tables.append(pd.read_csv(part, dtype=str, keep_default_na=False))
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise InvalidInputError(f"cannot be read as an index ({exc})", source=str(part),
                                    remedy="run petvoi index again for this part") from None
        missing = [c for c in SERIES_COLUMNS if c not in tables[-1].columns]
        if missing:
            raise InvalidInputError("not a series index", source=str(part), attribute=missing[0],
                                    remedy="give series.csv files written by petvoi index")
    merged = merge_index(tables)
    skipped = []
    for part in parts:
        companion = skipped_table_path(Path(part))
        if companion.is_file():
            skipped.append(pd.read_csv(companion, dtype=str, keep_default_na=False))
    table = pd.concat(skipped, ignore_index=True) if skipped else pd.DataFrame(columns=SKIPPED_COLUMNS)
    with output_set(output, skipped_table_path(Path(output))):
        write_csv(skipped_table_path(Path(output)), table[SKIPPED_COLUMNS].sort_values("path", kind="stable",
                                                                                        ignore_index=True))
        write_csv(output, merged)
    return merged
