"""The ``suv`` and ``ct`` stages: a DICOM series folder in, a NIfTI volume and a JSON sidecar out.

``run_suv`` decodes a PET series (:mod:`pipeline.dicom.pet`), computes one SUV
factor per frame from the headers and the overrides (:mod:`pipeline.suv.factors`),
applies slope, intercept and factor in one decoding pass, checks the activity
balance (rule R39) and writes ``suv.nii.gz`` with ``suv.json`` beside it. Both
files are written atomically; on any error neither exists.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..deid import active
from ..dicom.ct import load_ct
from ..dicom.enhanced_pet import mapping_record
from ..dicom.geometry import Geometry, write_nifti
from ..dicom.pet import load_pet, read_volume, slice_count_problem
from ..errors import DicomError
from ..io import output_set
from ..outputs import CtSidecar, SuvSidecar
from ..policy import Policy
from .factors import SuvOptions, SuvResult, activity_balance, activity_balance_warning, compute_suv

__all__ = ["run_suv", "run_ct"]


def _geometry_json(geometry: Geometry) -> dict[str, Any]:
    return {
        "shape_zyx": list(geometry.shape),
        "spacing_xyz_mm": [round(float(s), 6) for s in geometry.spacing],
        "origin_lps_mm": [round(float(o), 6) for o in geometry.origin],
        "direction": [round(float(v), 8) for v in np.asarray(geometry.direction).ravel()],
        "voxel_volume_ml": geometry.voxel_volume_ml,
    }


def _frames_from_injection(frame_table: Any, injection: datetime | None) -> list[dict[str, Any]]:
    """Frame start/mid/end in seconds from injection (for kinetics), from the decoder's frame table."""
    rows = []
    for row in frame_table.to_dict(orient="records"):
        start = datetime.fromisoformat(str(row["start"]))
        offset = None
        if injection is not None:
            a, b = start, injection
            if (a.tzinfo is None) != (b.tzinfo is None):
                a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
            offset = (a - b).total_seconds()
        duration = float(row["duration_s"])
        rows.append({
            "frame": int(row["frame"]),
            "start": str(row["start"]),
            "duration_s": duration,
            "start_s": offset,
            "mid_s": None if offset is None else offset + duration / 2.0,
            "end_s": None if offset is None else offset + duration,
        })
    return rows


def run_suv(series_dir: Path, output: Path, options: SuvOptions, *, workers: int = 4) -> SuvSidecar:
    """Convert one PET series folder to an SUV volume and its sidecar.

    Parameters
    ----------
    series_dir : Path
        Folder holding exactly one PET series.
    output : Path
        ``.nii.gz`` path of the SUV volume (float32; 4D for dynamic series).
    options : SuvOptions
        SUV kind and overrides (command line, dosing table).
    workers : int
        Threads reading DICOM files.

    Returns
    -------
    SuvSidecar
        The sidecar written to ``suv.json``.

    Raises
    ------
    PipelineError
        For any input the SUV cannot be computed from (nothing is written).
    """
    series = load_pet(Path(series_dir), workers=workers)
    incomplete = slice_count_problem(series)
    early_warnings: list[str] = []
    if incomplete:
        key = "header.incomplete_series"
        error = DicomError(incomplete, source=str(series_dir), attribute="NumberOfSlices (0054,0081)",
                           remedy="slices are missing at an end of the volume (or the folder holds more than the "
                                  f"series); re-export the complete series, or to use it: {Policy.how_to_allow(key)}")
        options.policy.apply(key, f"{incomplete} (policy {key}: warn)", error, early_warnings)
    result: SuvResult = compute_suv(series.headers, series.frames, options, source=str(series_dir))
    volume = read_volume(series, np.asarray(result.factors, dtype=np.float64))
    sidecar = result.sidecar()
    warnings = list(sidecar.get("warnings", [])) + early_warnings
    if not series.is_dynamic and result.normaliser_value:
        ratio = activity_balance(float(volume.sum(dtype=np.float64)) * series.geometry.voxel_volume_ml,
                                 float(result.normaliser_value))
        sidecar["activity_balance"] = ratio
        problem = activity_balance_warning(ratio)
        if problem:
            key = "suv.activity_balance"
            error = DicomError(problem, source=str(series_dir),
                               attribute="RescaleSlope/Units/RadionuclideTotalDose (0028,1053/0054,1001/0018,1074)",
                               remedy="check the header and the dosing table; to keep the SUV: "
                                      + Policy.how_to_allow(key))
            options.policy.apply(key, f"{problem} (policy {key}: warn)", error, warnings)
    sidecar.update({
        "warnings": warnings,
        "petvoi_version": __version__,
        "series_instance_uid": str(series.headers[0].get("SeriesInstanceUID", "")),
        "frame_of_reference_uid": str(series.headers[0].get("FrameOfReferenceUID", "")),
        "manufacturer": str(series.headers[0].get("Manufacturer", "")),
        "manufacturer_model_name": str(series.headers[0].get("ManufacturerModelName", "")),
        "sop_class_uid": series.sop_class_uid,
        "transfer_syntax_uid": series.transfer_syntax_uid,
        "n_frames": len(series.frames),
        "dynamic": bool(series.is_dynamic),
        "geometry": _geometry_json(series.geometry),
        "output": Path(output).name,
        "policy": options.policy.record(),
    })
    if series.is_dynamic:
        sidecar["frames"] = _frames_from_injection(series.frame_table, result.injection_datetime)
    mapping = mapping_record(series.headers[0])
    if mapping is not None:  # an Enhanced PET: the units and rescale came from this Real World Value Mapping
        sidecar["real_world_value_mapping"] = mapping
    written = SuvSidecar(_deidentified(sidecar))
    with output_set(output, written.file_for(output)):  # never an image without its sidecar
        write_nifti(output, volume, series.geometry)
        written.write(output)
    return written


def _deidentified(sidecar: dict[str, Any]) -> dict[str, Any]:
    """The sidecar with UIDs pseudonymised and dates shifted when the command de-identifies (pipeline.deid)."""
    deid = active()
    return sidecar if deid is None else dict(deid.scrub(sidecar))


def run_ct(series_dir: Path, output: Path, *, workers: int = 4, policy: Policy | None = None) -> CtSidecar:
    """Convert one CT series folder to a HU volume (``ct.nii.gz``) and a sidecar (``ct.json``).

    Parameters
    ----------
    series_dir : Path
        Folder holding exactly one CT series.
    output : Path
        ``.nii.gz`` path of the HU volume.
    workers : int
        Threads reading DICOM files.
    policy : Policy, optional
        The run's bad-value policy (recorded in the sidecar).

    Returns
    -------
    CtSidecar
        The sidecar written to ``ct.json``.
    """
    hu, geometry, headers = load_ct(Path(series_dir), workers=workers)
    sidecar = {
        "petvoi_version": __version__,
        "units": "HU",
        "series_instance_uid": str(headers[0].get("SeriesInstanceUID", "")),
        "frame_of_reference_uid": str(headers[0].get("FrameOfReferenceUID", "")),
        "n_slices": int(hu.shape[0]),
        "hu_min": float(hu.min()),
        "hu_max": float(hu.max()),
        "geometry": _geometry_json(geometry),
        "output": Path(output).name,
        "policy": (policy or Policy()).record(),
    }
    written = CtSidecar(_deidentified(sidecar))
    with output_set(output, written.file_for(output)):
        write_nifti(output, hu, geometry)
        written.write(output)
    return written
