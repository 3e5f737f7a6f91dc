"""The ``fetch`` and ``push`` stages.

``run_fetch``: every study of the sample sheet, found on the archive by its ``study_uid`` (or by the columns
``patient_id`` and ``study_date``), is retrieved into ``<data_root>/<dicom>``, the sheet's folder of the study.
Series by series into a hidden partial folder beside it; a series is complete when its instance count equals the
archive's (it then gets a ``.complete`` mark and is not fetched again after an interruption); the study folder
appears, by one rename, only when every series is complete, with ``.petvoi-fetch.json`` recording what was
fetched. A study folder with that record for the same study is skipped, so a rerun fetches nothing.

``run_push``: DICOM files stored on the archive (STOW-RS or C-STORE).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InvalidInputError
from ..io import write_json
from .clients import Archive, ArchiveError, SeriesInfo, open_archive
from .settings import ArchiveSettings

__all__ = ["run_fetch", "run_push", "FETCH_RECORD", "FetchedStudy"]

log = logging.getLogger(__name__)

#: The record of a fetched study, inside its folder.
FETCH_RECORD = ".petvoi-fetch.json"


@dataclass(frozen=True)
class FetchedStudy:
    """One study of the sheet after ``fetch``: its folder, series and instances, and whether it was fetched now."""

    subject_id: str
    timepoint: str
    folder: Path
    n_series: int
    n_instances: int
    fetched: bool


def _query(row: dict[str, str]) -> dict[str, str | None]:
    uid = row.get("study_uid", "").strip()
    if uid:
        return {"study_uid": uid}
    patient, date = row.get("patient_id", "").strip(), row.get("study_date", "").strip()
    if patient and date:
        return {"patient_id": patient, "study_date": date.replace("-", "")}
    raise InvalidInputError(f"study {row.get('subject_id')}/{row.get('timepoint')} has no study_uid (nor "
                            "patient_id and study_date)", attribute="study_uid",
                            remedy="fill the study_uid column of the sample sheet (or patient_id and study_date)")


def _recorded(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / FETCH_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def run_fetch(samples: Path, data_root: Path, settings: ArchiveSettings, *,
              archive: Archive | None = None) -> list[FetchedStudy]:
    """Fetch every study of the sample sheet into the data root (see the module docstring).

    Raises
    ------
    ArchiveError
        The archive unreachable, refusing the credentials, or without the study; or fewer instances received than
        it announced. What was complete stays (a rerun goes on from there); nothing half-written is in the data
        root.
    """
    sheet = pd.read_csv(samples, sep="\t", dtype=str, keep_default_na=False)
    archive = archive or open_archive(settings)
    done = []
    for row in sheet.to_dict(orient="records"):
        query = _query(row)
        dest = (data_root / row["dicom"]).resolve()
        if not dest.is_relative_to(data_root.resolve()):
            raise InvalidInputError(f"the study folder {row['dicom']!r} is outside the data root",
                                    source=str(samples), attribute="dicom", remedy="give a path below data_root")
        record = _recorded(dest)
        if record is not None and record.get("query") == query:
            done.append(FetchedStudy(row["subject_id"], row["timepoint"], dest, int(record.get("n_series", 0)),
                                     int(record.get("n_instances", 0)), False))
            continue
        if dest.exists() and any(dest.iterdir()):
            raise InvalidInputError("the study folder exists and was not fetched from the archive", source=str(dest),
                                    remedy="move it away, or run without archive fetching")
        series = archive.find_study(**query)
        if not series:
            raise ArchiveError(f"study {row['subject_id']}/{row['timepoint']} not found "
                               f"({', '.join(f'{k} {v}' for k, v in query.items())})", source=settings.server,
                               remedy="check the sample sheet's study_uid and that the study is on this archive")
        partial = dest.parent / f".{dest.name}.partial"
        n_total = 0
        for number, info in enumerate(series, 1):
            folder = partial / f"{info.modality or 'OT'}_{number:03d}"
            n_total += _fetch_series(archive, info, folder, settings)
        write_json(partial / FETCH_RECORD, {"query": query, "study_uid": series[0].study_uid,
                                            "n_series": len(series), "n_instances": n_total,
                                            "server": settings.server})
        for mark in partial.rglob(".complete"):
            mark.unlink()
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, dest)
        log.info("fetched %s/%s: %d series, %d instances", row["subject_id"], row["timepoint"], len(series), n_total)
        done.append(FetchedStudy(row["subject_id"], row["timepoint"], dest, len(series), n_total, True))
    return done


def _fetch_series(archive: Archive, info: SeriesInfo, folder: Path, settings: ArchiveSettings) -> int:
    """One series into ``folder`` (kept when already complete), verified against the archive's count."""
    if (folder / ".complete").is_file():
        return sum(1 for p in folder.iterdir() if p.suffix == ".dcm")
    shutil.rmtree(folder, ignore_errors=True)
    n = archive.retrieve_series(info, folder)
    if info.n_instances and n != info.n_instances:
        raise ArchiveError(f"{n} of {info.n_instances} instances of series {info.series_uid} received",
                           source=settings.server, remedy="run fetch again (complete series are kept)")
    if n == 0:
        raise ArchiveError(f"no instance of series {info.series_uid} received", source=settings.server,
                           remedy="check that the archive allows retrieval (C-GET or WADO-RS) to us")
    (folder / ".complete").write_text("")
    return n


def run_push(files: Sequence[Path], settings: ArchiveSettings, *, archive: Archive | None = None,
             record: Path | None = None) -> int:
    """Store ``files`` on the archive; write ``record`` (what was stored where) when given. Returns the count.

    Raises
    ------
    ArchiveError
        Unreachable, refused credentials, or a file refused.
    """
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise InvalidInputError("not a file", source=str(missing[0]), remedy="run petvoi export first")
    archive = archive or open_archive(settings)
    stored = archive.store([Path(f) for f in files])
    if record is not None:
        write_json(record, {"server": settings.server, "files": [str(f) for f in files], "n_stored": stored})
    return stored
