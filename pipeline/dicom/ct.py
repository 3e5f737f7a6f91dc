"""CT series decoding to Hounsfield units.

Supported SOP classes: CT Image Storage (1.2.840.10008.5.1.4.1.1.2) and Legacy
Converted Enhanced CT Image Storage (1.2.840.10008.5.1.4.1.1.2.2), read through
its functional groups like the Legacy Converted Enhanced PET. Refused: Enhanced
CT Image Storage (1.2.840.10008.5.1.4.1.1.2.1), which may hold several stacks,
localizers and temporal positions in one object that petvoi does not sort out
yet, and every other SOP class.

HU = stored * RescaleSlope + RescaleIntercept, with each slice's own values;
the same geometry rules as PET (sorted along the normal, uniform spacing, one
orientation, no gantry tilt). A CT series may not repeat a position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ..errors import DicomError
from .geometry import Geometry, sort_slices
from .pixels import decode_frames
from .series import volume_geometry
from .stack import read_stack
from .values import number_value

__all__ = ["CT_IMAGE_STORAGE", "LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE", "ENHANCED_CT_IMAGE_STORAGE", "load_ct"]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.2"


def _check_sop_class(sop_class_uid: str, label: str) -> None:
    if sop_class_uid in (CT_IMAGE_STORAGE, LEGACY_CONVERTED_ENHANCED_CT_IMAGE_STORAGE):
        return
    if sop_class_uid == ENHANCED_CT_IMAGE_STORAGE:
        raise DicomError("Enhanced CT Image Storage (1.2.840.10008.5.1.4.1.1.2.1) is not supported yet",
                         source=label, attribute="SOPClassUID (0008,0016)",
                         remedy="convert the series to classic CT Image Storage (one file per slice), "
                                "e.g. with dcmtk, dicom3tools or highdicom")
    raise DicomError(f"SOP class {sop_class_uid or '<empty>'} is not a CT image", source=label,
                     attribute="SOPClassUID (0008,0016)",
                     remedy="give a CT Image Storage or Legacy Converted Enhanced CT series")


def load_ct(folder: str | Path, *, workers: int = 4) -> tuple[np.ndarray, Geometry, list[Dataset]]:
    """Read a CT series folder as Hounsfield units.

    Parameters
    ----------
    folder : path-like
        Folder holding exactly one CT series.
    workers : int
        Threads for reading headers and pixels.

    Returns
    -------
    hu : numpy.ndarray of float32, shape (z, y, x)
        CT numbers (HU), slices ascending along the image normal.
    geometry : Geometry
        Grid of ``hu`` (LPS).
    headers : list of pydicom.dataset.Dataset
        Headers without pixels, in file order.

    Raises
    ------
    DicomError
        For a folder mixing series or modalities, corrupt or truncated files,
        unsupported SOP classes, duplicated or missing slices, non-uniform
        spacing, mixed orientations or gantry tilt.
    """
    stack = read_stack(folder, workers=workers, modalities={"CT"}, check_sop_class=_check_sop_class)
    series, frames, headers, label = stack.series, stack.frames, stack.series.headers, stack.series.label
    names, positions, orientations = stack.names, stack.positions, stack.orientations
    pixel_spacing, fmt = stack.pixel_spacing, stack.fmt
    order = sort_slices(positions, orientations, source=label, names=names)
    ds0 = headers[frames[int(order.order[0])].file_index]
    fallback = ds0.get("SpacingBetweenSlices") or ds0.get("SliceThickness")
    geometry = volume_geometry(positions, orientations[0], order, pixel_spacing, fmt.rows, fmt.columns,
                               source=label, fallback_dz=number_value(
                                           fallback, "SpacingBetweenSlices/SliceThickness (0018,0088/0050)", label,
                                           low=0.01, high=100.0, unit=" mm"))
    ordered = [frames[int(i)] for i in order.order]
    hu = np.empty(geometry.shape, dtype=np.float32)
    decode_frames(series.files, np.array([f.file_index for f in ordered]), np.array([f.number for f in ordered]),
                  hu, np.array([f.info.rescale_slope for f in ordered]),
                  np.array([f.info.rescale_intercept for f in ordered]), fmt=fmt, workers=workers)
    return hu, geometry, headers
