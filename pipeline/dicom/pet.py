"""PET series decoding: static and dynamic, classic and Legacy Converted Enhanced PET.

Supported SOP classes
---------------------
* PET Image Storage (1.2.840.10008.5.1.4.1.1.128): one frame per instance.
* Legacy Converted Enhanced PET Image Storage (1.2.840.10008.5.1.4.1.1.128.1):
  frames read through the per-frame and shared functional groups (Plane
  Position, Plane Orientation, Pixel Measures, Pixel Value Transformation,
  Frame Content and the Unassigned Shared/Per-frame Converted Attributes);
  the header is flattened so that the classic PET attributes are at its top
  level (see :func:`~pipeline.dicom.series.flatten_multiframe`).

* Enhanced PET Image Storage (1.2.840.10008.5.1.4.1.1.130): as Legacy Converted,
  its units and rescale taken from the Real World Value Mapping chosen by unit
  (:mod:`pipeline.dicom.enhanced_pet`).

Refused: any other SOP class.

Volume layout
-------------
Frames at distinct positions form one 3D volume (z, y, x), slices sorted along
the image normal. Frames that share positions form a dynamic series
(rule R35 of ``reference/suv.md``): they are grouped into time frames by
FrameReferenceTime, else by acquisition start, else by
TemporalPositionIdentifier, else by ImageIndex and NumberOfSlices, giving
(t, z, y, x). Every time frame must cover the same positions; time frames must
not overlap or be out of order.

Rescaling (rule R1): :func:`read_volume` applies each frame's own
RescaleSlope and RescaleIntercept, times an optional per-frame factor (e.g. the
SUV factor), in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from pydicom.dataset import Dataset

from ..errors import DicomError
from .datetimes import isoformat
from .frames import FrameInfo
from .geometry import POSITION_TOL_MM, Geometry, sort_slices
from .image_frames import ImageFrame
from .pixels import PixelFormat, decode_frames
from .series import DicomFile, volume_geometry
from .stack import read_stack
from .values import number_value

__all__ = [
    "slice_count_problem",
    "PET_IMAGE_STORAGE", "LEGACY_CONVERTED_ENHANCED_PET_IMAGE_STORAGE", "ENHANCED_PET_IMAGE_STORAGE",
    "FRAME_TABLE_COLUMNS", "PetSeries", "load_pet", "read_volume",
]

PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
LEGACY_CONVERTED_ENHANCED_PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128.1"
ENHANCED_PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.130"

FRAME_TABLE_COLUMNS = ["frame", "start", "duration_s", "start_s", "mid_s", "end_s",
                       "frame_reference_time_ms", "n_slices"]

#: Tolerances for grouping frames in time: FrameReferenceTime (ms) and acquisition start (s).
FRT_TOL_MS = 0.5
ACQ_TOL_S = 1e-3
#: Consecutive time frames may overlap by at most this much (TM values are often whole seconds).
OVERLAP_TOL_S = 1.0


@dataclass
class PetSeries:
    """A decoded PET series header: frames, geometry and time frames (no pixels yet).

    Attributes
    ----------
    headers : list of pydicom.dataset.Dataset
        One per file, in file-name order, without pixel data; multi-frame
        headers are flattened (classic PET attributes at the top level).
    frames : list of FrameInfo
        One per 2D image, in volume order: time frame, then slice along the normal.
    geometry : Geometry
        Grid of one 3D time frame.
    frame_index : numpy.ndarray of int, shape (n_frames, 2)
        (time, slice) place of each frame in the volume.
    n_time : int
        Number of time frames (1 for a static series).
    is_dynamic : bool
        True when frames share positions (n_time > 1).
    frame_table : pandas.DataFrame
        One row per time frame, columns :data:`FRAME_TABLE_COLUMNS`: frame
        (0-based), start (ISO 8601 datetime, earliest acquisition start of the
        frame), duration_s (latest acquisition end minus start, s), start_s,
        mid_s, end_s (s from the series reference = the earliest acquisition
        start of the series), frame_reference_time_ms (median over the frame's
        images), n_slices. Times are NaN/None when acquisition times are missing.
    sop_class_uid, transfer_syntax_uid : str
        Of the (first) file.
    source : str
        The series folder.
    series_uid : str
        SeriesInstanceUID.
    files : tuple of DicomFile
        Files of the series (where their pixel data is), aligned with ``headers``.
    frame_file, frame_number : numpy.ndarray of int
        For each frame, its file (index in ``files``) and 0-based frame within the file.
    pixel : PixelFormat
        Stored pixel layout.
    workers : int
        Threads used to decode.
    """

    headers: list[Dataset]
    frames: list[FrameInfo]
    geometry: Geometry
    frame_index: np.ndarray
    n_time: int
    is_dynamic: bool
    frame_table: pd.DataFrame
    sop_class_uid: str
    transfer_syntax_uid: str
    source: str
    series_uid: str = ""
    files: tuple[DicomFile, ...] = field(default=(), repr=False)
    frame_file: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int), repr=False)
    frame_number: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int), repr=False)
    pixel: PixelFormat | None = field(default=None, repr=False)
    workers: int = 4

    @property
    def n_frames(self) -> int:
        """Number of 2D frames."""
        return len(self.frames)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of :func:`read_volume`'s array: (z, y, x), or (t, z, y, x) when dynamic."""
        return (self.n_time, *self.geometry.shape) if self.is_dynamic else tuple(self.geometry.shape)

    @property
    def rescale_slopes(self) -> np.ndarray:
        """RescaleSlope of each frame (volume order)."""
        return np.array([f.rescale_slope for f in self.frames], dtype=float)

    @property
    def rescale_intercepts(self) -> np.ndarray:
        """RescaleIntercept of each frame (volume order)."""
        return np.array([f.rescale_intercept for f in self.frames], dtype=float)


# --------------------------------------------------------------------------- SOP class


def _check_sop_class(sop_class_uid: str, label: str) -> None:
    if sop_class_uid in (PET_IMAGE_STORAGE, LEGACY_CONVERTED_ENHANCED_PET_IMAGE_STORAGE,
                         ENHANCED_PET_IMAGE_STORAGE):
        return
    raise DicomError(f"SOP class {sop_class_uid or '<empty>'} is not a PET image", source=label,
                     attribute="SOPClassUID (0008,0016)",
                     remedy="give a PET Image Storage or Legacy Converted Enhanced PET series")


# --------------------------------------------------------------------------- grouping in time


def _cluster(values: np.ndarray, tol: float) -> np.ndarray:
    """Labels 0..k-1 (ascending) grouping sorted values closer than ``tol`` to their neighbour."""
    order = np.argsort(values, kind="stable")
    labels = np.empty(len(values), dtype=int)
    if len(values):
        jumps = np.concatenate([[0], np.cumsum(np.diff(values[order]) > tol)])
        labels[order] = jumps
    return labels


def _seconds(values: list[datetime | None]) -> np.ndarray | None:
    """Acquisition starts as seconds from the earliest one; None if any is missing."""
    if not values or any(v is None for v in values):
        return None
    present = [v for v in values if v is not None]  # all of them
    aware = any(v.tzinfo is not None for v in present)
    fixed = [v.replace(tzinfo=UTC) if aware and v.tzinfo is None else v for v in present]
    ref = min(fixed)
    return np.array([(v - ref).total_seconds() for v in fixed])


def _time_groups(frames: list[ImageFrame], position_label: np.ndarray, headers: list[Dataset],
                 label: str) -> tuple[np.ndarray, str]:
    """Time-frame label (0..n_time-1, in time order) of each frame, and the attribute used."""
    infos = [f.info for f in frames]
    n_pos = int(position_label.max()) + 1

    def distinct_within_positions(keys: np.ndarray) -> bool:
        pairs = set(zip(position_label.tolist(), keys.tolist(), strict=True))
        return len(pairs) == len(keys)

    candidates: list[tuple[str, np.ndarray | None]] = []
    frt = [i.frame_reference_time_ms for i in infos]
    candidates.append(("FrameReferenceTime (0054,1300)",
                       None if any(v is None for v in frt) else _cluster(np.array(frt, float), FRT_TOL_MS)))
    acq = _seconds([i.acquisition_datetime for i in infos])
    candidates.append(("AcquisitionDateTime (0008,002A)", None if acq is None else _cluster(acq, ACQ_TOL_S)))
    temporal = [f.temporal_index for f in frames]
    candidates.append(("TemporalPositionIdentifier (0020,0100)",
                       None if any(v is None for v in temporal) else _cluster(np.array(temporal, float), 0.5)))
    index = [i.image_index for i in infos]
    n_slices = headers[0].get("NumberOfSlices", None)
    if n_slices and not any(v is None for v in index):
        candidates.append(("ImageIndex (0054,1330)",
                           _cluster((np.array(index, int) - 1) // int(n_slices), 0.5)))
    for attribute, keys in candidates:
        if keys is not None and distinct_within_positions(keys):
            return keys, attribute
    # nothing separates frames that share a position: these are duplicates
    counts = np.bincount(position_label, minlength=n_pos)
    p = int(np.flatnonzero(counts > 1)[0])
    dup = [f.info.source for f, lab in zip(frames, position_label, strict=True) if lab == p][:2]
    where = np.round(frames[_first(position_label, p)].info.position_lps, 3).tolist()
    raise DicomError(f"two images at the same position {where} "
                     f"with the same FrameReferenceTime and acquisition time ({Path(dup[0]).name}, "
                     f"{Path(dup[1]).name})", source=label, attribute="ImagePositionPatient (0020,0032)",
                     remedy="remove the duplicate instance, or split the series by reconstruction")


def _first(labels: np.ndarray, value: int) -> int:
    return int(np.flatnonzero(labels == value)[0])


def _describe_frame(t: int, members: list[ImageFrame]) -> str:
    info = members[0].info
    parts = [f"time frame {t + 1}"]
    if info.frame_reference_time_ms is not None:
        parts.append(f"FrameReferenceTime {info.frame_reference_time_ms:g} ms")
    if info.acquisition_datetime is not None:
        parts.append(f"start {info.acquisition_datetime.isoformat()}")
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else "")


def _frame_table(groups: list[list[ImageFrame]], n_slices: int) -> pd.DataFrame:
    starts = [[f.info.acquisition_datetime for f in g] for g in groups]
    flat = [v for s in starts for v in s]
    rows = []
    seconds = _seconds(flat)
    offset = 0
    for t, g in enumerate(groups):
        frt = [f.info.frame_reference_time_ms for f in g if f.info.frame_reference_time_ms is not None]
        durations = [f.info.actual_frame_duration_ms for f in g]
        row: dict[str, object] = {"frame": t, "start": None, "duration_s": np.nan, "start_s": np.nan,
                                  "mid_s": np.nan, "end_s": np.nan,
                                  "frame_reference_time_ms": float(np.median(frt)) if frt else np.nan,
                                  "n_slices": n_slices}
        if seconds is not None:
            s = seconds[offset:offset + len(g)]
            k = int(np.argmin(s))
            row["start"] = isoformat(g[k].info.acquisition_datetime)
            start = float(s[k])
            if not any(d is None for d in durations):
                end = float(np.max(s + np.array(durations, float) / 1000.0))
                row.update(duration_s=end - start, end_s=end, mid_s=(start + end) / 2.0)
            row["start_s"] = start
        elif not any(d is None for d in durations):
            row["duration_s"] = float(max(d for d in durations if d is not None)) / 1000.0  # all known here
        offset += len(g)
        rows.append(row)
    return pd.DataFrame(rows, columns=FRAME_TABLE_COLUMNS)


def _check_time_order(table: pd.DataFrame, groups: list[list[ImageFrame]], label: str) -> None:
    for t in range(1, len(table)):
        prev, cur = table.iloc[t - 1], table.iloc[t]
        for column, unit in (("frame_reference_time_ms", "ms"), ("start_s", "s")):
            if np.isfinite(prev[column]) and np.isfinite(cur[column]) and cur[column] <= prev[column]:
                raise DicomError(f"{_describe_frame(t, groups[t])} is out of order in time: {column} "
                                 f"{cur[column]:g} {unit} is not after {prev[column]:g} {unit} of "
                                 f"{_describe_frame(t - 1, groups[t - 1])}", source=label,
                                 attribute="FrameReferenceTime (0054,1300) / AcquisitionDateTime (0008,002A)",
                                 remedy="the time attributes of the series disagree; re-export it from the scanner")
        if np.isfinite(prev["end_s"]) and np.isfinite(cur["start_s"]) and \
                cur["start_s"] < prev["end_s"] - OVERLAP_TOL_S:
            raise DicomError(f"{_describe_frame(t, groups[t])} starts {prev['end_s'] - cur['start_s']:.3f} s before "
                             f"the end of {_describe_frame(t - 1, groups[t - 1])}: time frames overlap", source=label,
                             attribute="AcquisitionDateTime (0008,002A) / ActualFrameDuration (0018,1242)",
                             remedy="the folder may mix two reconstructions of the same scan; separate them")


# --------------------------------------------------------------------------- loading


def slice_count_problem(series: PetSeries) -> str | None:
    """Why the series' slice count disagrees with its NumberOfSlices (0054,0081), or None.

    Slices missing at an end of the volume leave no gap in the spacing (a missing middle slice is refused by
    :func:`load_pet`); every header's NumberOfSlices tells. Raises for a NumberOfSlices that is not a number.
    """
    value = series.headers[0].get("NumberOfSlices", None)
    if value in (None, ""):
        return None
    try:
        declared = int(value)
    except (TypeError, ValueError):
        raise DicomError(f"NumberOfSlices {value!r} is not a number", source=series.source,
                         attribute="NumberOfSlices (0054,0081)",
                         remedy="the header is corrupt; re-export the series") from None
    found = int(series.geometry.shape[0])
    if declared == found:
        return None
    return f"found {found} slice positions but NumberOfSlices is {declared}"


def load_pet(folder: str | Path, *, workers: int = 4) -> PetSeries:
    """Read a PET series folder's headers and arrange its frames into a volume (no pixels read).

    Parameters
    ----------
    folder : path-like
        Folder holding exactly one PET series.
    workers : int
        Threads for reading headers and, later, pixels.

    Returns
    -------
    PetSeries

    Raises
    ------
    DicomError
        For a folder mixing series or modalities, corrupt or truncated files,
        unsupported SOP classes (Enhanced PET), duplicated or missing slices,
        non-uniform spacing, mixed orientations, gantry tilt, time frames with
        different positions, overlapping or out-of-order time frames.
    """
    stack = read_stack(folder, workers=workers, modalities={"PT"}, check_sop_class=_check_sop_class)
    series, frames, headers, label = stack.series, stack.frames, stack.series.headers, stack.series.label
    names, positions, orientations = stack.names, stack.positions, stack.orientations
    pixel_spacing, fmt = stack.pixel_spacing, stack.fmt

    # positions along the normal -> slice clusters
    ori0 = orientations[0]
    normal = np.cross(ori0[:3], ori0[3:])
    normal = normal / (np.linalg.norm(normal) or 1.0)
    position_label = _cluster(positions @ normal, POSITION_TOL_MM)
    n_pos = int(position_label.max()) + 1
    if n_pos == len(frames):
        time_label = np.zeros(len(frames), dtype=int)
    else:
        time_label, _ = _time_groups(frames, position_label, headers, label)
    n_time = int(time_label.max()) + 1

    groups: list[list[int]] = [[] for _ in range(n_time)]
    for i, t in enumerate(time_label):
        groups[int(t)].append(i)
    order_per_group: list[list[int]] = []
    geometry: Geometry | None = None
    all_positions = set(range(n_pos))
    for t, members in enumerate(groups):
        frame_group = [frames[i] for i in members]
        where = f"{label} {_describe_frame(t, frame_group)}" if n_time > 1 else label
        present = position_label[members]
        if n_time > 1 and (len(members) != n_pos or set(present.tolist()) != all_positions):
            missing = sorted(all_positions - set(present.tolist()))
            counts = np.bincount(present, minlength=n_pos)
            extra = np.flatnonzero(counts > 1)
            detail = (f"missing {len(missing)} slice position(s), first at "
                      f"{np.round(positions[_first(position_label, missing[0])], 3).tolist()} mm" if missing else
                      f"{int(counts[extra[0]])} images at position "
                      f"{np.round(positions[_first(position_label, int(extra[0]))], 3).tolist()} mm")
            raise DicomError(f"has {len(set(present.tolist()))} of the series' {n_pos} slice positions ({detail})",
                             source=where, attribute="ImagePositionPatient (0020,0032)",
                             remedy="every time frame of a dynamic series needs the same slices; re-export the "
                                    "complete series")
        order = sort_slices(positions[members], orientations[members], source=where,
                            names=[names[i] for i in members])
        ordered = [members[j] for j in order.order]
        order_per_group.append(ordered)
        if geometry is None:
            ds0 = headers[frames[ordered[0]].file_index]
            fallback = ds0.get("SpacingBetweenSlices") or ds0.get("SliceThickness")
            geometry = volume_geometry(positions[members], ori0, order, pixel_spacing, fmt.rows, fmt.columns,
                                       source=label, fallback_dz=number_value(
                                           fallback, "SpacingBetweenSlices/SliceThickness (0018,0088/0050)", label,
                                           low=0.01, high=100.0, unit=" mm"))
    assert geometry is not None

    if n_time > 1:
        declared = headers[0].get("NumberOfTimeSlices", None)
        if declared not in (None, "") and int(declared) != n_time:
            raise DicomError(f"found {n_time} time frames but NumberOfTimeSlices is {int(declared)}", source=label,
                             attribute="NumberOfTimeSlices (0054,0101)",
                             remedy="time frames are missing; re-export the complete dynamic series")

    volume_order = [i for ordered in order_per_group for i in ordered]
    ordered_groups = [[frames[i] for i in ordered] for ordered in order_per_group]
    table = _frame_table(ordered_groups, n_pos)
    _check_time_order(table, ordered_groups, label)

    nz = n_pos
    frame_index = np.array([(k // nz, k % nz) for k in range(len(volume_order))], dtype=int).reshape(-1, 2)
    first = series.files[0]
    return PetSeries(
        headers=headers,
        frames=[frames[i].info for i in volume_order],
        geometry=geometry,
        frame_index=frame_index,
        n_time=n_time,
        is_dynamic=n_time > 1,
        frame_table=table,
        sop_class_uid=series.sop_class_uid,
        transfer_syntax_uid=first.transfer_syntax_uid,
        source=str(series.folder),
        series_uid=series.series_uid,
        files=series.files,
        frame_file=np.array([frames[i].file_index for i in volume_order], dtype=int),
        frame_number=np.array([frames[i].number for i in volume_order], dtype=int),
        pixel=fmt,
        workers=workers,
    )


def read_volume(series: PetSeries, factors: np.ndarray | None = None, dtype: type | np.dtype = np.float32,
                *, workers: int | None = None) -> np.ndarray:
    """Decode the pixels: ``(stored * RescaleSlope + RescaleIntercept) * factors[i]`` for frame ``i``.

    Parameters
    ----------
    series : PetSeries
        From :func:`load_pet`.
    factors : array_like, optional
        One multiplier per frame (``series.frames`` order), e.g. the SUV factor
        in g/mL per Bq/mL; a scalar applies to every frame. None: 1 (the
        rescaled values, Bq/mL for Units BQML).
    dtype : numpy dtype
        Floating-point output type.
    workers : int, optional
        Threads; default ``series.workers``.

    Returns
    -------
    numpy.ndarray
        (z, y, x) for a static series, (t, z, y, x) for a dynamic one.

    Raises
    ------
    ValueError
        If ``factors`` has the wrong length or non-finite values, or ``dtype`` is not floating.
    DicomError
        If a file's pixel data cannot be read or decoded.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    n = series.n_frames
    if factors is None:
        factor = np.ones(n)
    else:
        factor = np.asarray(factors, dtype=float)
        if factor.ndim == 0:
            factor = np.full(n, float(factor))
        factor = factor.ravel()
        if factor.shape != (n,):
            raise ValueError(f"factors has {factor.size} values, the series has {n} frames")
        if not np.isfinite(factor).all():
            raise ValueError("factors must be finite")
    if series.pixel is None:
        raise ValueError("series has no pixel layout; build it with load_pet")
    out = np.empty(series.shape, dtype=dtype)
    flat = out.reshape(-1, series.pixel.rows, series.pixel.columns)
    slopes, intercepts = series.rescale_slopes, series.rescale_intercepts
    decode_frames(series.files, series.frame_file, series.frame_number, flat, slopes * factor, intercepts * factor,
                  fmt=series.pixel, workers=series.workers if workers is None else workers)
    return out
