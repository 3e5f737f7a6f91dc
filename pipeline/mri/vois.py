"""VOIs on an MR series' grid (issue 19, item 3): from an RTSTRUCT, a DICOM SEG or a NIfTI mask drawn on the MR
frame of reference (the VOI stage's builders, :func:`pipeline.voi.stage.build_voiset_on`), and PET VOIs resampled
onto the MR grid.

A PET VOI set is resampled only when the PET and MR share their frame of reference (a PET/MR scanner: the identity)
or when a registration is given: a SimpleITK transform file that maps a point of the MR's patient space (LPS mm)
to the PET's, the convention of ``sitk.Resample`` with the MR as the fixed image. Each mask is resampled linearly
and a voxel kept when at least half of it is covered (the fraction rule of the VOI stage), so a VOI keeps its
volume to within a voxel's partial volume whichever grid is finer. Anything else is refused: a PET VOI set of
another frame of reference carried over without a registration would land on the wrong anatomy.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..deid import active
from ..dicom.geometry import Geometry
from ..dicom.series import volume_geometry
from ..errors import InvalidInputError
from ..voi.catalogue import VoiSet, read_voiset, write_voiset
from ..voi.options import VoiSources
from ..voi.stage import build_voiset_on
from .series import read_mr_stack

__all__ = ["mr_grid", "build_mr_voiset", "resample_voiset", "run_mri_vois"]


def mr_grid(series_dir: str | Path, *, workers: int = 4) -> tuple[Geometry, str | None]:
    """The grid of an MR series (its slice positions) and its FrameOfReferenceUID as outputs record it (the
    pseudonym in a de-identified run)."""
    mr = read_mr_stack(series_dir, workers=workers)
    stack = mr.stack
    geometry = volume_geometry(mr.positions, mr.orientations[0], mr.order, stack.pixel_spacing, stack.fmt.rows,
                               stack.fmt.columns, source=stack.series.label)
    raw = stack.series.headers[0].get("FrameOfReferenceUID")
    frame = str(raw) if raw else None
    deid = active()
    return geometry, (deid.uid(frame) if deid is not None and frame else frame)


def resample_voiset(pet: VoiSet, geometry: Geometry, *, transform_file: str | Path | None = None) -> VoiSet:
    """The masks of ``pet`` on ``geometry`` (linear resampling, voxels at least half covered), through the
    registration in ``transform_file`` (MR point -> PET point) or the identity."""
    import SimpleITK as sitk

    if transform_file is not None:
        try:
            transform = sitk.ReadTransform(str(transform_file))
        except RuntimeError:
            raise InvalidInputError("not a transform SimpleITK can read", source=str(transform_file),
                                    attribute="--registration",
                                    remedy="give an ITK transform file (.tfm, .txt or .h5) mapping MR to PET points") \
                from None
    else:
        transform = sitk.Transform(3, sitk.sitkIdentity)
    reference = geometry.to_sitk(np.zeros(geometry.shape, dtype=np.float32))
    items = []
    for mask, voi in zip(pet.masks, pet.vois, strict=True):
        moving = pet.geometry.to_sitk(mask.astype(np.float32))
        moved = sitk.GetArrayFromImage(sitk.Resample(moving, reference, transform, sitk.sitkLinear, 0.0))
        resampled = moved >= 0.5
        warnings = list(voi.warnings)
        if not resampled.any():
            warnings.append("outside the MR field of view after resampling")
        items.append((resampled, replace(voi, source=f"pet:{voi.source}", warnings=tuple(warnings))))
    return VoiSet.from_masks(geometry, items)


def build_mr_voiset(series_dir: str | Path, sources: VoiSources, *, pet_vois: str | Path | None = None,
                    registration: str | Path | None = None, workers: int = 4) -> VoiSet:
    """The VOI set on the MR series' grid: ``sources`` drawn on the MR, then the PET VOIs resampled.

    Raises
    ------
    InvalidInputError
        Threshold VOIs (they need SUV), no source at all, or PET VOIs of another frame of reference without a
        registration.
    """
    if sources.thresholds:
        raise InvalidInputError("threshold VOIs are defined on SUV, not on MR signal", attribute="--threshold",
                                remedy="draw the VOI on the MR (RTSTRUCT, SEG, mask) or threshold it on the PET")
    geometry, frame = mr_grid(series_dir, workers=workers)
    voiset = VoiSet.from_masks(geometry, [], {"mr_series": Path(series_dir).name, "frame_of_reference_uid": frame})
    if sources.any():
        voiset = build_voiset_on(np.zeros(geometry.shape), geometry, sources, frame_of_reference_uid=frame,
                                 image_name=Path(series_dir).name, image_key="mr_series")
    elif pet_vois is None:
        raise InvalidInputError("no VOI source given", attribute="--rtstruct/--seg/--mask/--pet-vois",
                                remedy="give at least one source of VOIs on the MR")
    if pet_vois is not None:
        pet = read_voiset(pet_vois)
        pet_frame = pet.provenance.get("frame_of_reference_uid")
        if registration is None and (not pet_frame or pet_frame != frame):
            raise InvalidInputError("the PET VOIs are in another frame of reference than the MR series "
                                    f"({pet_frame or 'none recorded'})", source=str(pet_vois),
                                    attribute="FrameOfReferenceUID (0020,0052)",
                                    remedy="give --registration (a transform from MR to PET points), or VOIs drawn "
                                           "on the MR")
        part = resample_voiset(pet, geometry, transform_file=registration)
        part.provenance = {"pet_vois": {"file": Path(pet_vois).name, "frame_of_reference_uid": pet_frame,
                                        "registration": Path(registration).name if registration else "identity "
                                        "(shared frame of reference)", "rule": "linear, covered >= 0.5"}}
        voiset = voiset.extend(part)
        duplicated = voiset.duplicate_names()
        if duplicated:
            raise InvalidInputError(f"VOI name {duplicated[0]!r} is both an MR and a PET VOI", source=str(pet_vois),
                                    attribute="VOI names", remedy="give the VOI from one source only")
    return voiset


def run_mri_vois(series_dir: Path, output: Path, sources: VoiSources, *, pet_vois: Path | None = None,
                 registration: Path | None = None) -> VoiSet:
    """Build the MR VOI set and write ``vois.nii.gz`` and ``vois.json`` (atomically, together)."""
    voiset = build_mr_voiset(series_dir, sources, pet_vois=pet_vois, registration=registration)
    write_voiset(output, voiset)
    return voiset
