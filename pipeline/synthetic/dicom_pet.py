"""PET Image Storage writer: activity from true SUV, per-slice int16 quantisation, vendor headers.

Pixel path: ``rescaled = SUV_true / suv_factor`` (Bq/mL at the reference time for BQML,
counts for Philips CNTS), times ``1 + noise_sd * N(0, 1)`` when noise is asked for, then
per slice ``slope = DS(max|rescaled| / m)`` with m drawn uniformly in 28000-30000 (so slopes
differ slice by slice as on real scanners, rule R1) and ``stored = rint(rescaled / slope)``
(int16, intercept 0). Readers recover SUV as ``stored * slope * suv_factor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from ..suv.nuclides import get_nuclide
from .dicom_common import (
    SeriesHeader,
    StudyHeader,
    code_item,
    da_str,
    ds_str,
    dt_str,
    image_series_template,
    make_uid,
    tm_str,
    write_slices,
)
from .protocol import StudyPlan
from .raster import Grid
from .vendors import add_pet_private_tags, frame_reference_time_ms

__all__ = ["PET_IMAGE_STORAGE", "EncodedPet", "encode_pet", "write_pet", "bed_of_slice"]

PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
MAX_STORED = 30000
MIN_STORED_PEAK = 28000


@dataclass(frozen=True)
class EncodedPet:
    """Stored PET pixel data.

    Attributes
    ----------
    stored : ndarray of int16, shape (z, y, x)
        Stored values.
    slopes : ndarray of float64, shape (z,)
        RescaleSlope per slice, exactly as a reader parses the DS string.
    slope_strings : list of str
        The DS strings written.
    """

    stored: NDArray[np.int16]
    slopes: NDArray[np.float64]
    slope_strings: list[str]

    def rescaled(self) -> NDArray[np.float64]:
        """Rescaled values ``stored * slope`` (z, y, x)."""
        return self.stored.astype(np.float64) * self.slopes[:, None, None]


def encode_pet(suv: NDArray[np.float64], suv_factor: float, rng: np.random.Generator,
               noise_sd: float = 0.0) -> EncodedPet:
    """Convert a true-SUV volume to stored int16 values and per-slice slopes.

    Parameters
    ----------
    suv : ndarray, shape (z, y, x)
        True SUVbw (g/mL).
    suv_factor : float
        Multiplier from rescaled value to SUVbw (g/mL per Bq/mL, or per count for CNTS).
    rng : numpy.random.Generator
        Draws the per-slice peak stored value, then the noise.
    noise_sd : float
        Relative Gaussian noise SD on the rescaled values (0: none).
    """
    stored_peak = rng.integers(MIN_STORED_PEAK, MAX_STORED + 1, size=int(suv.shape[0]))
    rescaled = suv / suv_factor
    if noise_sd > 0:
        rescaled = rescaled * (1.0 + noise_sd * rng.standard_normal(rescaled.shape))
    peak = np.abs(rescaled).max(axis=(1, 2))
    slope_strings = [ds_str(p / m) if p > 0 else "1" for p, m in zip(peak, stored_peak, strict=True)]
    slopes = np.array([float(s) for s in slope_strings])
    stored = np.clip(np.rint(rescaled / slopes[:, None, None]), -32767, 32767).astype(np.int16)
    return EncodedPet(stored, slopes, slope_strings)


def bed_of_slice(k: int, n_slices: int, n_beds: int) -> int:
    """Bed position of slice ``k`` (slices ascend in z; bed 0 is the most superior)."""
    return (n_slices - 1 - k) * n_beds // n_slices


def _radiopharmaceutical(plan: StudyPlan) -> Dataset:
    tracer = plan.subject.tracer
    nuclide = get_nuclide(tracer.nuclide)
    item = Dataset()
    item.RadiopharmaceuticalRoute = "INTRAVENOUS"
    item.RadiopharmaceuticalStartTime = tm_str(plan.injection)
    item.RadiopharmaceuticalStartDateTime = dt_str(plan.injection)
    item.RadionuclideTotalDose = ds_str(plan.dose_bq)
    item.RadionuclideHalfLife = ds_str(nuclide.half_life_s)
    item.RadionuclidePositronFraction = ds_str(nuclide.positron_fraction)
    item.Radiopharmaceutical = tracer.name
    item.RadionuclideCodeSequence = [code_item(nuclide.code_sct, "SCT", nuclide.code_meaning)]
    return item


def write_pet(out_dir: Path, study: StudyHeader, plan: StudyPlan, grid: Grid, encoded: EncodedPet) -> list[Path]:
    """Write the PET series of one study, one file per slice (``PT_0001.dcm`` ...).

    Parameters
    ----------
    out_dir : Path
        Series folder.
    study : StudyHeader
        Shared study values.
    plan : StudyPlan
        Timing, dose and vendor.
    grid : Grid
        PET grid.
    encoded : EncodedPet
        Stored values and slopes.

    Returns
    -------
    list of Path
    """
    vendor, n_slices = plan.subject.vendor, grid.shape[0]
    series = SeriesHeader("PT", plan.pet_series_uid, 2, f"PET WB {plan.subject.tracer.name} AC",
                          plan.series_datetime)
    ds = image_series_template(PET_IMAGE_STORAGE, study, series, grid, signed=True, bits_stored=16,
                               content=plan.series_datetime, acquisition=plan.reference,
                               image_type=["ORIGINAL", "PRIMARY"])
    # PET Series
    ds.SeriesType = ["WHOLE BODY", "IMAGE"]
    ds.Units = vendor.units
    ds.CountsSource = "EMISSION"
    ds.NumberOfSlices = n_slices
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.RandomsCorrectionMethod = "DLYD"
    ds.AttenuationCorrectionMethod = "CT-based"
    ds.ScatterCorrectionMethod = "model-based single scatter"
    ds.DecayCorrection = "START"
    ds.ReconstructionMethod = "OSEM 3i21s"
    ds.CollimatorType = "NONE"
    # PET Isotope, NM/PET Patient Orientation
    ds.RadiopharmaceuticalInformationSequence = [_radiopharmaceutical(plan)]
    del ds.PatientPosition  # not allowed with PatientOrientationCodeSequence
    orientation = code_item("102538003", "SCT", "recumbent")
    orientation.PatientOrientationModifierCodeSequence = [code_item("40199007", "SCT", "supine")]
    ds.PatientOrientationCodeSequence = [orientation]
    ds.PatientGantryRelationshipCodeSequence = [code_item("102540008", "SCT", "headfirst")]
    ssf = plan.suv_factor if vendor.units == "CNTS" else None
    add_pet_private_tags(ds, vendor, plan.reference, plan.acsf, ssf)

    n_beds, duration = len(plan.bed_starts), plan.frame_duration_s
    beds = []
    for start in plan.bed_starts:
        frt = frame_reference_time_ms(vendor, (start - plan.reference).total_seconds(), duration, plan.half_life_s)
        beds.append((da_str(start), tm_str(start), dt_str(start), ds_str(frt),
                     ds_str(2.0 ** (frt / 1000.0 / plan.half_life_s))))

    def per_slice(item: Dataset, k: int) -> None:
        date_, time_, datetime_, frt, decay = beds[bed_of_slice(k, n_slices, n_beds)]
        item.RescaleSlope = encoded.slope_strings[k]
        item.AcquisitionDate, item.AcquisitionTime, item.AcquisitionDateTime = date_, time_, datetime_
        item.FrameReferenceTime = frt
        item.DecayFactor = decay
        item.ImageIndex = k + 1

    ds.ActualFrameDuration = int(round(duration * 1000))
    uids = [make_uid(plan.seed, plan.subject.subject_id, plan.timepoint, "PT", k) for k in range(n_slices)]
    return write_slices(ds, grid, encoded.stored, out_dir, "PT", uids, per_slice)
