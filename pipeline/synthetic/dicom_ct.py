"""CT Image Storage writer: HU per structure, uint16 stored with intercept -1024."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .dicom_common import SeriesHeader, StudyHeader, image_series_template, make_uid, write_slices
from .protocol import StudyPlan
from .raster import Grid

__all__ = ["CT_IMAGE_STORAGE", "AIR_HU", "write_ct", "ct_uids"]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
AIR_HU = -1000.0
_INTERCEPT = -1024


def ct_uids(plan: StudyPlan, n_slices: int) -> list[str]:
    """SOPInstanceUIDs of the CT slices (ascending z), shared with the RTSTRUCT writer."""
    return [make_uid(plan.seed, plan.subject.subject_id, plan.timepoint, "CT", k) for k in range(n_slices)]


def write_ct(out_dir: Path, study: StudyHeader, plan: StudyPlan, grid: Grid, hu: NDArray[np.float64]) -> list[Path]:
    """Write the CT series of one study (``CT_0001.dcm`` ...), ascending z.

    Parameters
    ----------
    out_dir : Path
        Series folder.
    study : StudyHeader
        Shared study values (same FrameOfReferenceUID as the PET).
    plan : StudyPlan
        Timing and identifiers.
    grid : Grid
        CT grid.
    hu : ndarray, shape (z, y, x)
        CT numbers in HU (-1024 ... 3071).

    Returns
    -------
    list of Path
    """
    series = SeriesHeader("CT", plan.ct_series_uid, 1, "CT WB low dose", plan.ct_start)
    ds = image_series_template(CT_IMAGE_STORAGE, study, series, grid, signed=False, bits_stored=12,
                               content=plan.ct_start, acquisition=plan.ct_start,
                               image_type=["ORIGINAL", "PRIMARY", "AXIAL"])
    ds.RescaleIntercept = str(_INTERCEPT)
    ds.RescaleType = "HU"
    ds.KVP = "120"
    ds.XRayTubeCurrent = 80
    ds.ConvolutionKernel = "STANDARD"
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    stored = np.clip(np.rint(hu - _INTERCEPT), 0, 4095).astype(np.uint16)
    return write_slices(ds, grid, stored, out_dir, "CT", ct_uids(plan, grid.shape[0]))
