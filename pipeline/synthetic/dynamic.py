"""A small classic dynamic PET series with a known activity per frame.

One uniform elliptic cylinder spanning every slice, zero outside, on a small
axial grid. Time frame ``t`` (``frame_durations_s[t]`` long, frames
back-to-back from the scan start) holds the activity concentration
``activity_bq_ml[t]`` (Bq/mL, decay-corrected to the scan start: Units BQML,
DecayCorrection START). The scan starts at the injection. Each frame is
quantised like the static writer (:func:`~pipeline.synthetic.dicom_pet.encode_pet`):
its own RescaleSlope per slice, int16 stored values, intercept 0.

Per-frame header values (PET Image module, PS3.3 C.8.9.4):

* AcquisitionDate/Time/DateTime: frame start.
* ActualFrameDuration: duration (ms).
* FrameReferenceTime: ``1000 * (frame start - scan start + T_ave)`` with
  ``T_ave`` the average-count-rate time of the frame (the Siemens convention
  of :mod:`~pipeline.synthetic.vendors`), DecayFactor ``2 ** (FRT / 1000 / T_half)``.
* ImageIndex ``t * n_slices + k + 1``; NumberOfTimeSlices, NumberOfSlices on every file.

Files: ``PT_F<tt>_<kkkk>.dcm`` (frame ``tt``, slice ``kkkk``, 1-based).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
    ds_value,
    dt_str,
    image_series_template,
    make_uid,
    tm_str,
    write_slices,
)
from .dicom_pet import PET_IMAGE_STORAGE, EncodedPet, encode_pet
from .geometry import Shape
from .raster import Grid, rasterise
from .vendors import VENDORS, frame_reference_time_ms

__all__ = ["DEFAULT_FRAME_DURATIONS_S", "DYNAMIC_GRID", "DynamicPet", "default_activity_bq_ml", "write_dynamic_series",
           "write_dynamic_pet"]

#: 6 x 10 s, 3 x 60 s, 2 x 300 s (14 min).
DEFAULT_FRAME_DURATIONS_S: tuple[float, ...] = (10.0,) * 6 + (60.0,) * 3 + (300.0,) * 2
#: 12 slices of 24 x 24 voxels, 4 mm, centred on the LPS origin.
DYNAMIC_GRID = Grid.centred((12, 24, 24), (4.0, 4.0, 4.0))
_SCAN_START = datetime(2025, 6, 2, 9, 0, 0)


def default_activity_bq_ml(mid_s: NDArray[np.float64] | Sequence[float]) -> NDArray[np.float64]:
    """A tissue-like curve (Bq/mL) at frame mid-times ``mid_s`` (s after injection): fast rise, slow washout."""
    t = np.asarray(mid_s, dtype=np.float64)
    return 20000.0 * (1.0 - np.exp(-t / 45.0)) * np.exp(-t / 1800.0) + 500.0


@dataclass(frozen=True)
class DynamicPet:
    """What :func:`write_dynamic_pet` wrote, with the truth tests need.

    Attributes
    ----------
    paths : tuple of Path
        Files, frame by frame, slices ascending in z.
    series_uid : str
        SeriesInstanceUID.
    grid : Grid
        Grid of every time frame.
    scan_start : datetime
        Start of frame 0 = injection = series reference (naive local time, UTC+01:00).
    frame_durations_s, frame_starts_s : ndarray
        Per frame: duration and start after ``scan_start`` (s).
    frame_reference_time_ms : ndarray
        FrameReferenceTime written (DS-exact).
    activity_bq_ml : ndarray
        Nominal activity concentration of the cylinder per frame (Bq/mL).
    mask : ndarray of bool, shape (z, y, x)
        Voxels of the cylinder.
    encoded : tuple of EncodedPet
        Stored values and slopes per frame; ``rescaled()`` is what a reader must decode.
    half_life_s : float
        Nuclide half-life written.
    """

    paths: tuple[Path, ...]
    series_uid: str
    grid: Grid
    scan_start: datetime
    frame_durations_s: NDArray[np.float64]
    frame_starts_s: NDArray[np.float64]
    frame_reference_time_ms: NDArray[np.float64]
    activity_bq_ml: NDArray[np.float64]
    mask: NDArray[np.bool_]
    encoded: tuple[EncodedPet, ...]
    half_life_s: float

    @property
    def n_frames(self) -> int:
        """Number of time frames."""
        return len(self.frame_durations_s)

    @property
    def frame_mid_s(self) -> NDArray[np.float64]:
        """Frame mid-times after ``scan_start`` (s)."""
        return self.frame_starts_s + self.frame_durations_s / 2.0

    def rescaled(self) -> NDArray[np.float64]:
        """Stored x RescaleSlope of every voxel, shape (t, z, y, x) (Bq/mL)."""
        return np.stack([e.rescaled() for e in self.encoded])

    def slopes(self) -> NDArray[np.float64]:
        """RescaleSlope per (frame, slice)."""
        return np.stack([e.slopes for e in self.encoded])


def _study(seed: int, start: datetime, weight_kg: float) -> StudyHeader:
    return StudyHeader(
        patient_name="SYNTHETIC^DYNAMIC", patient_id=f"SYN-DYN{seed % 1000:03d}", birth_date=date(1970, 1, 1),
        sex="F", weight_kg=ds_value(weight_kg), height_m=1.70, study_uid=make_uid(seed, "dynamic", "study"),
        frame_of_reference_uid=make_uid(seed, "dynamic", "for"), study_datetime=start, study_id="DYN1",
        accession_number=f"DYN{seed % 100000:05d}", description="dynamic PET (synthetic)",
        manufacturer=VENDORS["siemens"].manufacturer, model=VENDORS["siemens"].model,
        software=VENDORS["siemens"].software)


def _radiopharmaceutical(nuclide_key: str, injection: datetime, dose_bq: float) -> Dataset:
    nuclide = get_nuclide(nuclide_key)
    item = Dataset()
    item.RadiopharmaceuticalRoute = "INTRAVENOUS"
    item.RadiopharmaceuticalStartTime = tm_str(injection)
    item.RadiopharmaceuticalStartDateTime = dt_str(injection)
    item.RadionuclideTotalDose = ds_str(dose_bq)
    item.RadionuclideHalfLife = ds_str(nuclide.half_life_s)
    item.RadionuclidePositronFraction = ds_str(nuclide.positron_fraction)
    item.Radiopharmaceutical = "synthetic tracer"
    item.RadionuclideCodeSequence = [code_item(nuclide.code_sct, "SCT", nuclide.code_meaning)]
    return item


def write_dynamic_series(out_dir: Path, frame_bq_ml: Callable[[int], NDArray[np.float64]],
                         starts: NDArray[np.float64], durations: NDArray[np.float64], *, grid: Grid, nuclide: str,
                         dose_bq: float, weight_kg: float, scan_start: datetime, seed: int, role: str,
                         description: str, rng_key: int, study: StudyHeader | None = None
                         ) -> tuple[list[Path], str, NDArray[np.float64], list[EncodedPet], float]:
    """Write the DICOM files of a dynamic PET series, one file per slice and frame (Units BQML, START).

    Parameters
    ----------
    out_dir : Path
        Series folder.
    frame_bq_ml : callable
        ``frame_bq_ml(t)`` gives frame ``t``'s activity (Bq/mL, decay-corrected to injection), (z, y, x).
    starts, durations : ndarray
        Frame starts from injection (= ``scan_start``) and durations (s).
    grid, nuclide, dose_bq, weight_kg, scan_start, seed
        As for :func:`write_dynamic_pet`.
    role : str
        Distinguishes the UIDs of different synthetic series of one seed.
    description : str
        SeriesDescription.
    rng_key : int
        Second seed of the per-slice quantisation.
    study : StudyHeader, optional
        Patient and study of the series (default: a synthetic patient derived from ``seed``).

    Returns
    -------
    tuple
        (paths, series UID, FrameReferenceTime written per frame (ms), encoded frames, half-life (s)).
    """
    half_life = get_nuclide(nuclide).half_life_s
    vendor = VENDORS["siemens"]
    n_frames, n_slices = durations.size, grid.shape[0]
    rng = np.random.default_rng([seed, rng_key])
    study = study or _study(seed, scan_start, weight_kg)
    series_uid = make_uid(seed, role, "series")
    series = SeriesHeader("PT", series_uid, 3, description, scan_start)
    ds = image_series_template(PET_IMAGE_STORAGE, study, series, grid, signed=True, bits_stored=16,
                               content=scan_start, acquisition=scan_start, image_type=["ORIGINAL", "PRIMARY"])
    ds.SeriesType = ["DYNAMIC", "IMAGE"]
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.NumberOfSlices = n_slices
    ds.NumberOfTimeSlices = n_frames
    ds.CorrectedImage = ["NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"]
    ds.DecayCorrection = "START"
    ds.RandomsCorrectionMethod = "DLYD"
    ds.AttenuationCorrectionMethod = "CT-based"
    ds.ReconstructionMethod = "OSEM 3i21s"
    ds.CollimatorType = "NONE"
    ds.RadiopharmaceuticalInformationSequence = [_radiopharmaceutical(nuclide, scan_start, dose_bq)]

    paths: list[Path] = []
    encoded_frames: list[EncodedPet] = []
    frt_written = np.empty(n_frames)
    for t in range(n_frames):
        encoded = encode_pet(frame_bq_ml(t), 1.0, rng)
        encoded_frames.append(encoded)
        frame_start = scan_start + timedelta(seconds=float(starts[t]))
        frt = ds_str(frame_reference_time_ms(vendor, float(starts[t]), float(durations[t]), half_life))
        frt_written[t] = float(frt)
        ds.AcquisitionDate, ds.AcquisitionTime = da_str(frame_start), tm_str(frame_start)
        ds.AcquisitionDateTime = dt_str(frame_start)
        ds.ActualFrameDuration = int(round(durations[t] * 1000.0))
        ds.FrameReferenceTime = frt
        ds.DecayFactor = ds_str(2.0 ** (float(frt) / 1000.0 / half_life))

        def per_slice(item: Dataset, k: int, t: int = t, encoded: EncodedPet = encoded) -> None:
            item.RescaleSlope = encoded.slope_strings[k]
            item.InstanceNumber = t * n_slices + k + 1
            item.ImageIndex = t * n_slices + k + 1

        uids = [make_uid(seed, role, "PT", t, k) for k in range(n_slices)]
        paths.extend(write_slices(ds, grid, encoded.stored, out_dir, f"PT_F{t + 1:02d}", uids, per_slice))
    return paths, series_uid, frt_written, encoded_frames, half_life


def write_dynamic_pet(out_dir: str | Path, *, frame_durations_s: Sequence[float] = DEFAULT_FRAME_DURATIONS_S,
                      activity_bq_ml: Sequence[float] | None = None, grid: Grid = DYNAMIC_GRID,
                      nuclide: str = "F18", dose_bq: float = 185e6, weight_kg: float = 70.0,
                      scan_start: datetime = _SCAN_START, seed: int = 0) -> DynamicPet:
    """Write a classic dynamic PET series (one file per slice and frame) into ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Series folder (created).
    frame_durations_s : sequence of float
        Frame durations (s), frames back to back from ``scan_start``.
    activity_bq_ml : sequence of float, optional
        Activity concentration of the cylinder per frame (Bq/mL, > 0);
        default :func:`default_activity_bq_ml` at the frame mid-times.
    grid : Grid
        Axial grid of one frame.
    nuclide : str
        Nuclide key (``F18``...); its half-life goes into the header.
    dose_bq : float
        RadionuclideTotalDose (Bq) at injection = ``scan_start``.
    weight_kg : float
        PatientWeight (kg).
    scan_start : datetime
        Naive local time (UTC+01:00) of injection and of the start of frame 0.
    seed : int
        Seeds the UIDs and the per-slice quantisation.

    Returns
    -------
    DynamicPet
    """
    durations = np.asarray(frame_durations_s, dtype=np.float64)
    if durations.ndim != 1 or durations.size == 0 or (durations <= 0).any():
        raise ValueError("frame_durations_s must be a non-empty sequence of positive durations")
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
    if activity_bq_ml is None:
        activity = default_activity_bq_ml(starts + durations / 2.0)
    else:
        activity = np.asarray(activity_bq_ml, dtype=np.float64)
        if activity.shape != durations.shape or (activity <= 0).any():
            raise ValueError("activity_bq_ml needs one positive value per frame")
    radius = 0.35 * min(grid.shape[1] * grid.spacing[1], grid.shape[2] * grid.spacing[2])
    cylinder = Shape("elliptic_cylinder", (0.0, 0.0, 0.0), (radius, radius, 10.0 * grid.shape[0] * grid.spacing[0]))
    labels, _ = rasterise([cylinder], grid)
    mask = labels == 1
    series = write_dynamic_series(Path(out_dir), lambda t: np.where(mask, activity[t], 0.0), starts, durations,
                                  grid=grid, nuclide=nuclide, dose_bq=dose_bq, weight_kg=weight_kg,
                                  scan_start=scan_start, seed=seed, role="dynamic",
                                  description="PET dynamic (synthetic)", rng_key=0xD1)
    paths, series_uid, frt_written, encoded_frames, half_life = series
    return DynamicPet(tuple(paths), series_uid, grid, scan_start, durations, starts, frt_written, activity, mask,
                      tuple(encoded_frames), half_life)
