"""The ``export`` stage: a study's results as DICOM (SEG, TID 1500 SR, SUV Parametric Map)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from ..deid import active
from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..io import atomic_path, output_set
from ..outputs import StudyPaths, SuvSidecar
from ..voi.catalogue import read_voiset
from .sources import deidentified_sources, series_sources
from .writers import MAP_UNITS, build_map_pm, build_pm, build_seg, build_sr

__all__ = ["run_export"]

log = logging.getLogger(__name__)


def run_export(pet_dir: Path, study: StudyPaths, *, subject: str, timepoint: str, timepoint_order: int = 1,
               parametric_map: bool = True) -> dict[str, Path]:
    """Write ``dicom/seg.dcm``, ``dicom/sr.dcm`` and ``dicom/suv_pm.dcm`` of one static study.

    Parameters
    ----------
    pet_dir : Path
        The PET series folder the study's ``suv.nii.gz`` was decoded from (the sources every object references).
    study : StudyPaths
        The study folder: ``suv.nii.gz`` + ``suv.json``, ``vois.nii.gz`` + ``vois.json``, ``uptake.csv``.
    subject, timepoint : str
        The sample sheet's ids (segment tracking UIDs are stable per subject and lesion; the SR's time point).
    timepoint_order : int
        Position of the timepoint among the subject's studies (1 = baseline).
    parametric_map : bool
        Also write the SUV Parametric Map.

    Returns
    -------
    dict of str to Path
        ``seg``, ``sr`` (and ``pm``) files written.

    Raises
    ------
    InvalidInputError
        A study file missing, or VOIs not on the SUV grid.
    DicomError
        Sources that are not the study's static PET series.
    """
    if not study.suv.is_file():
        raise InvalidInputError("missing", source=str(study.suv), remedy="run the study's stages before export")
    suv, geometry = read_nifti(study.suv)
    if suv.ndim == 4:
        return _export_maps(pet_dir, study, geometry, subject=subject)
    for path in (study.suv_json, study.vois, study.uptake):
        if not path.is_file():
            raise InvalidInputError("missing", source=str(path), remedy="run the study's stages before export")
    voiset = read_voiset(study.vois)
    if not voiset.geometry.same_grid(geometry):
        raise InvalidInputError("VOI set is not on the grid of the SUV image", source=str(study.vois),
                                remedy="build the VOIs with `petvoi vois --pet` on this SUV image")
    sidecar = SuvSidecar.read(study.suv_json)
    uptake = pd.read_csv(study.uptake)
    sources = series_sources(pet_dir, geometry)
    deid = active()
    if deid is not None:
        sources = deidentified_sources(sources, deid, subject)
    kind = str(sidecar.get("suv_kind") or "bw")
    lbm_formula = _lbm_formula(study)
    seg = build_seg(sources, voiset, subject=subject)
    items = sources[0].get("RadiopharmaceuticalInformationSequence") or []
    activity: dict[str, Any] = {"tracer": items[0].get("Radiopharmaceutical") if items else None,
                                "nuclide": sidecar.get("nuclide"), "injected_dose_bq": sidecar.get("injected_dose_bq"),
                                "uptake_time_s": sidecar.get("uptake_time_s"), "modality": sidecar.get("modality")}
    sr = build_sr(sources, seg, voiset, uptake, subject=subject, timepoint=timepoint,
                  timepoint_order=timepoint_order, suv_kind=kind, lbm_formula=lbm_formula,
                  sul=bool(uptake.get("sul_max", pd.Series(dtype=float)).notna().any()), activity=activity)
    objects = {"seg": (seg, study.dicom_seg), "sr": (sr, study.dicom_sr)}
    if parametric_map:
        objects["pm"] = (build_pm(sources, suv, suv_kind=kind, lbm_formula=lbm_formula), study.dicom_pm)
    with output_set(*(path for _, path in objects.values())):
        for dataset, path in objects.values():
            with atomic_path(path) as tmp:
                dataset.save_as(tmp, enforce_file_format=True)
    return {name: path for name, (_, path) in objects.items()}


def _export_maps(pet_dir: Path, study: StudyPaths, geometry: Any, *, subject: str) -> dict[str, Path]:
    """A dynamic study: each parametric map (Logan VT, Patlak Ki) as ``dicom/<map>_pm.dcm``, referencing the
    first time frame of the dynamic PET series."""
    maps = {name: study.parametric / f"{name}.nii.gz" for name in MAP_UNITS
            if (study.parametric / f"{name}.nii.gz").is_file()}
    if not maps:
        raise InvalidInputError("a dynamic study without parametric maps", source=str(study.parametric),
                                remedy="run petvoi parametric for this study first")
    sources = series_sources(pet_dir, geometry, first_frame=True)
    deid = active()
    if deid is not None:
        sources = deidentified_sources(sources, deid, subject)
    objects = {}
    for name, path in maps.items():
        values, map_geometry = read_nifti(path)
        if not map_geometry.same_grid(geometry):
            raise InvalidInputError("the map is not on the grid of the PET", source=str(path),
                                    remedy="compute the map with petvoi parametric on this study")
        objects[name] = (build_map_pm(sources, values, name), study.dicom_map(name))
    with output_set(*(p for _, p in objects.values())):
        for dataset, p in objects.values():
            with atomic_path(p) as tmp:
                dataset.save_as(tmp, enforce_file_format=True)
    return {name: p for name, (_, p) in objects.items()}


def _lbm_formula(study: StudyPaths) -> str:
    """The LBM formula of the study's SUL columns (``uptake.json``), Janmahasatian by default."""
    import json

    try:
        record = json.loads(study.uptake.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "janmahasatian"
    sul = record.get("sul") or {}
    text = str(sul.get("formula") or sul.get("lbm_formula") or "janmahasatian").lower()
    return "james128" if "james" in text else "janmahasatian"
