"""What a synthetic cohort folder holds: the manifest of the last complete generation, and stale studies.

``petvoi synth OUT`` (:func:`~.cohort.generate_cohort`) writes ``OUT/dicom/.synth.json`` after it has
written every study of the cohort, and removes it before it changes any: the file exists only for a
complete cohort, and says which (subjects, seed, multi-day subject, noise) and which studies::

    {"generator": "petvoi synth", "n_subjects": 6, "seed": 0, "multiday": true, "noise_sd": 0.0,
     "studies": {"P01": ["baseline", "dynamic", "on_treatment"], ...}}

Before it writes a cohort into a folder that holds another one, the generator removes what the new cohort
does not have (a subject, a study or a ``pk_truth.json``; :func:`stale_entries`), but only what it wrote
itself: listed in the old manifest, or a study folder with its ``truth.json``. Anything else under
``OUT/dicom`` that is not part of the cohort stops it with an error, so that no foreign DICOM is deleted
and none is indexed with the cohort's.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..io import write_json

__all__ = ["MANIFEST", "CohortKey", "read_manifest", "write_manifest", "remove_manifest", "stale_entries",
           "remove_stale"]

log = logging.getLogger(__name__)

#: The manifest's name under ``OUT/dicom``.
MANIFEST = ".synth.json"
_GENERATOR = "petvoi synth"
_SUBJECT_FILES = ("pk_truth.json",)  # files the generator writes in a subject's folder


@dataclass(frozen=True)
class CohortKey:
    """The arguments that decide a cohort's content (the same key, byte-identical files)."""

    n_subjects: int
    seed: int
    multiday: bool
    noise_sd: float

    def describe(self) -> str:
        """``150 subjects, seed 0, with the multi-day subject, noise 0``."""
        extra = "with" if self.multiday else "without"
        return f"{self.n_subjects} subjects, seed {self.seed}, {extra} the multi-day subject, noise {self.noise_sd:g}"


def read_manifest(dicom_root: Path) -> tuple[CohortKey, dict[str, list[str]]] | None:
    """The key and studies (subject to timepoints) of the complete cohort under ``dicom_root``, or None.

    None also for a manifest that cannot be read (it then describes nothing; the generator rewrites it).
    """
    try:
        data = json.loads((Path(dicom_root) / MANIFEST).read_text(encoding="utf-8"))
        key = CohortKey(int(data["n_subjects"]), int(data["seed"]), bool(data["multiday"]), float(data["noise_sd"]))
        studies = {str(s): [str(t) for t in tps] for s, tps in dict(data["studies"]).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return key, studies


def write_manifest(dicom_root: Path, key: CohortKey, studies: Mapping[str, Sequence[str]]) -> Path:
    """Record that the cohort ``key`` with ``studies`` is complete under ``dicom_root``."""
    data: dict[str, Any] = {"generator": _GENERATOR, "n_subjects": key.n_subjects, "seed": key.seed,
                            "multiday": key.multiday, "noise_sd": key.noise_sd,
                            "studies": {s: sorted(tps) for s, tps in studies.items()}}
    return write_json(Path(dicom_root) / MANIFEST, data)


def remove_manifest(dicom_root: Path) -> None:
    """Forget the cohort under ``dicom_root`` (before any of its studies changes)."""
    (Path(dicom_root) / MANIFEST).unlink(missing_ok=True)


def _entries(dicom_root: Path) -> list[Path]:
    return sorted(p for p in Path(dicom_root).iterdir() if not p.name.startswith(".")) if dicom_root.is_dir() else []


def stale_entries(dicom_root: Path, studies: Mapping[str, Sequence[str]], multiday_subject: str | None) -> list[Path]:
    """What ``dicom_root`` holds that the cohort of ``studies`` does not write: subject folders, study folders
    of its subjects, and ``pk_truth.json`` of a subject that is not ``multiday_subject``."""
    stale = []
    for entry in _entries(dicom_root):
        if entry.name not in studies:
            stale.append(entry)
            continue
        if not entry.is_dir():
            continue
        for child in _entries(entry):
            if child.is_dir() and child.name in studies[entry.name]:
                continue
            if child.is_file() and child.name in _SUBJECT_FILES and entry.name == multiday_subject:
                continue
            stale.append(child)
    return stale


def _generated(entry: Path, listed: Mapping[str, Sequence[str]], dicom_root: Path) -> bool:
    """Whether the generator wrote ``entry`` (a subject folder, a study folder or a subject's file)."""
    parts = entry.relative_to(dicom_root).parts
    if len(parts) == 1:
        if parts[0] in listed:
            return True
        return entry.is_dir() and all(_generated(c, listed, dicom_root) for c in _entries(entry))
    subject, name = parts
    if entry.is_file():
        return name in _SUBJECT_FILES
    return name in listed.get(subject, ()) or (entry / "truth.json").is_file()


def remove_stale(dicom_root: Path, studies: Mapping[str, Sequence[str]], multiday_subject: str | None) -> list[Path]:
    """Remove the generated entries of ``dicom_root`` that the cohort of ``studies`` does not write.

    Returns
    -------
    list of Path
        What was removed.

    Raises
    ------
    InvalidInputError
        When an entry that is not part of the cohort was not written by the generator (nothing is removed).
    """
    dicom_root = Path(dicom_root)
    stale = stale_entries(dicom_root, studies, multiday_subject)
    if not stale:
        return []
    old = read_manifest(dicom_root)
    listed = old[1] if old else {}
    foreign = [p for p in stale if not _generated(p, listed, dicom_root)]
    if foreign:
        names = ", ".join(str(p.relative_to(dicom_root)) for p in foreign[:5])
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise InvalidInputError(
            f"holds {names}{more}, not part of the synthetic cohort and not written by petvoi synth; they would be "
            "indexed with the cohort's studies", source=str(dicom_root),
            remedy="move them away, or generate the cohort into another folder")
    for entry in stale:
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    log.info("removed %d entries of another synthetic cohort from %s: %s", len(stale), dicom_root,
             ", ".join(str(p.relative_to(dicom_root)) for p in stale[:10]) + (" ..." if len(stale) > 10 else ""))
    return stale
