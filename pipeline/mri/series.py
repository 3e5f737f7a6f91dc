"""A dynamic (DCE) MR series as a (t, z, y, x) volume with the time of each phase (issue 19, item 2).

Frames at the same position are phases. The phase of a frame is its TemporalPositionIdentifier (0020,0100) when
the series has one, else the rank of its time among the frames at its position; the time of a phase comes from
the first source that varies between phases, in the order vendors write it:

* TriggerTime (0018,1060), ms from the start of the dynamic scan (GE, Philips);
* AcquisitionDateTime, or AcquisitionDate + AcquisitionTime (0008,0022/0032) (Siemens: one per phase);
* ContentTime (0008,0033).

The source used is recorded. Every phase must hold every slice; phases are ordered by time. Flip angle (degrees)
and RepetitionTime (converted from ms to s) are read for the signal model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from ..dicom.geometry import Geometry, SliceOrder, sort_slices
from ..dicom.pixels import decode_frames
from ..dicom.series import volume_geometry
from ..dicom.stack import Stack, read_stack
from ..dicom.values import number_value
from ..errors import DicomError

__all__ = ["MrDynamic", "MrStack", "MrFlipAngles", "read_mr_stack", "load_mr_dynamic", "load_vfa", "MR_SOP_CLASSES"]

MR_SOP_CLASSES = ("1.2.840.10008.5.1.4.1.1.4", "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.4.4")
_POSITION_DECIMALS = 3


@dataclass(frozen=True)
class MrDynamic:
    """A decoded dynamic MR series.

    Attributes
    ----------
    volume : numpy.ndarray
        (t, z, y, x) float32 signal (rescaled).
    times_s : numpy.ndarray
        Time of each phase (s) from the first.
    time_source : str
        The attribute the times came from.
    geometry : Geometry
        The grid of one phase (LPS).
    flip_deg, tr_s : float or None
        FlipAngle (0018,1314) in degrees and RepetitionTime (0018,0080) in s.
    field_t : float or None
        MagneticFieldStrength (0018,0087) in T.
    """

    volume: np.ndarray
    times_s: np.ndarray
    time_source: str
    geometry: Geometry
    flip_deg: float | None
    tr_s: float | None
    field_t: float | None = None


def _check_sop_class(sop_class_uid: str, label: str) -> None:
    if sop_class_uid not in MR_SOP_CLASSES:
        raise DicomError(f"SOP class {sop_class_uid or '<empty>'} is not an MR image", source=label,
                         attribute="SOPClassUID (0008,0016)", remedy="give an MR series")


def _seconds(ds: Dataset, keyword: str) -> float | None:
    value = ds.get(keyword)
    if value in (None, ""):
        return None
    if keyword == "TriggerTime":
        return float(value) / 1000.0
    text = str(value).strip()
    try:
        hh, mm, ss = int(text[0:2]), int(text[2:4]), float(text[4:] or 0)
    except ValueError:
        return None
    return hh * 3600.0 + mm * 60.0 + ss


def _acquisition_seconds(ds: Dataset) -> float | None:
    dt_text = str(ds.get("AcquisitionDateTime") or "").strip()
    if dt_text:
        try:
            when = datetime.strptime(dt_text[:14], "%Y%m%d%H%M%S")
            fraction = float("0" + dt_text[14:].split("+")[0].split("-")[0]) if "." in dt_text else 0.0
            return when.timestamp() + fraction
        except ValueError:
            return None
    date, time_s = str(ds.get("AcquisitionDate") or ""), _seconds(ds, "AcquisitionTime")
    if time_s is None:
        return None
    if date:
        try:
            return datetime.strptime(date, "%Y%m%d").timestamp() + time_s
        except ValueError:
            return time_s
    return time_s


@dataclass(frozen=True)
class MrStack:
    """An MR series' frames grouped by position: the stack, each frame's position key, the slice positions and
    orientations in key order, their order along the normal and each key's slice index."""

    stack: Stack
    keys: list[tuple[float, ...]]
    unique: list[tuple[float, ...]]
    positions: np.ndarray
    orientations: np.ndarray
    order: SliceOrder
    z_of: dict[tuple[float, ...], int]


def read_mr_stack(folder: str | Path, *, workers: int = 4) -> MrStack:
    """Read an MR series folder (several frames per position allowed) and order its slice positions."""
    stack = read_stack(folder, workers=workers, modalities={"MR"}, check_sop_class=_check_sop_class)
    keys = [tuple(np.round(p, _POSITION_DECIMALS)) for p in stack.positions]
    unique = sorted(set(keys))
    first_of = {k: keys.index(k) for k in unique}
    positions = np.array([stack.positions[first_of[k]] for k in unique])
    orientations = np.array([stack.orientations[first_of[k]] for k in unique])
    order = sort_slices(positions, orientations, source=stack.series.label)
    return MrStack(stack, keys, unique, positions, orientations, order,
                   {unique[int(i)]: z for z, i in enumerate(order.order)})


def load_mr_dynamic(folder: str | Path, *, workers: int = 4) -> MrDynamic:
    """Decode a dynamic MR series folder (see the module docstring).

    Raises
    ------
    DicomError
        Not an MR series, phases without times, a phase missing slices, or the checks of every image volume.
    """
    mr = read_mr_stack(folder, workers=workers)
    stack, keys, unique, z_of, order = mr.stack, mr.keys, mr.unique, mr.z_of, mr.order
    slice_positions, slice_orientations = mr.positions, mr.orientations
    label, headers, frames = stack.series.label, stack.series.headers, stack.frames
    frame_headers = [headers[f.file_index] for f in frames]
    times, source = None, ""
    for name, read in (("TriggerTime (0018,1060)", lambda d: _seconds(d, "TriggerTime")),
                       ("AcquisitionDateTime / AcquisitionTime (0008,002A/0032)", _acquisition_seconds),
                       ("ContentTime (0008,0033)", lambda d: _seconds(d, "ContentTime"))):
        values = [read(d) for d in frame_headers]
        if all(v is not None for v in values) and len({round(float(v), 3) for v in values}) > 1:  # type: ignore[arg-type]
            times, source = np.array(values, dtype=float), name
            break
    if times is None:
        raise DicomError("the phases have no times (TriggerTime, AcquisitionTime and ContentTime missing or equal)",
                         source=label, attribute="TriggerTime (0018,1060) / AcquisitionTime (0008,0032)",
                         remedy="re-export the dynamic series with its phase times")
    temporal = [d.get("TemporalPositionIdentifier") for d in frame_headers]
    if all(v is not None for v in temporal):
        phase_key = [int(v) for v in temporal]
    else:  # the k-th frame in time at each position is phase k (slices of one phase may differ by milliseconds)
        phase_key = [0] * len(frames)
        for key in unique:
            members = sorted((i for i, k in enumerate(keys) if k == key), key=lambda i: times[i])
            for rank, i in enumerate(members):
                phase_key[i] = rank
    phases = sorted(set(phase_key), key=lambda p: float(np.mean([t for t, k in zip(times, phase_key, strict=True)
                                                                  if k == p])))
    n_t, n_z = len(phases), len(unique)
    slot = np.full((n_t, n_z), -1, dtype=int)
    for i, (key, phase) in enumerate(zip(keys, phase_key, strict=True)):
        t_index, z = phases.index(phase), z_of[key]
        if slot[t_index, z] != -1:
            raise DicomError(f"two frames at slice {z + 1} of phase {t_index + 1}", source=label,
                             attribute="TemporalPositionIdentifier (0020,0100)",
                             remedy="the folder mixes series; give one dynamic series")
        slot[t_index, z] = i
    if (slot < 0).any():
        t_index, z = (int(v) for v in np.argwhere(slot < 0)[0])
        raise DicomError(f"phase {t_index + 1} has no frame at slice {z + 1} ({int((slot < 0).sum())} missing)",
                         source=label, attribute="ImagePositionPatient (0020,0032)",
                         remedy="re-export the complete dynamic series")
    fmt = stack.fmt
    geometry = volume_geometry(slice_positions, slice_orientations[0], order, stack.pixel_spacing, fmt.rows,
                               fmt.columns, source=label)
    ordered = [frames[int(i)] for i in slot.ravel()]
    out = np.empty((n_t * n_z, fmt.rows, fmt.columns), dtype=np.float32)
    decode_frames(stack.series.files, np.array([f.file_index for f in ordered]), np.array([f.number for f in ordered]),
                  out, np.array([f.info.rescale_slope for f in ordered]),
                  np.array([f.info.rescale_intercept for f in ordered]), fmt=fmt, workers=workers)
    phase_times = np.array([float(np.mean(times[slot[t]])) for t in range(n_t)])
    ds0 = frame_headers[0]
    flip = number_value(ds0.get("FlipAngle"), "FlipAngle (0018,1314)", label, low=0.0, high=180.0)
    tr_ms = number_value(ds0.get("RepetitionTime"), "RepetitionTime (0018,0080)", label, low=0.0)
    field = number_value(ds0.get("MagneticFieldStrength"), "MagneticFieldStrength (0018,0087)", label, low=0.0,
                         high=20.0)
    return MrDynamic(volume=out.reshape(n_t, n_z, fmt.rows, fmt.columns), times_s=phase_times - phase_times[0],
                     time_source=source, geometry=geometry, flip_deg=flip,
                     tr_s=None if tr_ms is None else tr_ms / 1000.0, field_t=field)


@dataclass(frozen=True)
class MrFlipAngles:
    """Signals of a variable-flip-angle acquisition: (n_flip, z, y, x), the flip angles (degrees, ascending), TR (s)
    and the grid."""

    volume: np.ndarray
    flip_deg: np.ndarray
    tr_s: float
    geometry: Geometry


def load_vfa(folders: list[Path] | list[str], *, workers: int = 4) -> MrFlipAngles:
    """Decode a variable-flip-angle acquisition: one folder holding every flip angle, or one folder per angle (a
    folder holding only series folders stands for them).

    Raises
    ------
    DicomError
        Fewer than two flip angles, different grids or TRs, or an angle missing a slice.
    """
    volumes: dict[float, np.ndarray] = {}
    geometry: Geometry | None = None
    tr_values = set()
    expanded: list[Path] = []
    for folder in (Path(f) for f in folders):
        children = sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []
        expanded.extend(children if children and all(c.is_dir() for c in children) else [folder])
    for folder in expanded:
        mr = read_mr_stack(folder, workers=workers)
        stack, label = mr.stack, mr.stack.series.label
        headers = [stack.series.headers[f.file_index] for f in stack.frames]
        flips = [number_value(d.get("FlipAngle"), "FlipAngle (0018,1314)", label, low=0.0, high=180.0)
                 for d in headers]
        if any(a is None for a in flips):
            raise DicomError("a frame without its flip angle", source=label, attribute="FlipAngle (0018,1314)",
                             remedy="re-export the series with its acquisition parameters")
        tr_values |= {number_value(d.get("RepetitionTime"), "RepetitionTime (0018,0080)", label, low=0.0)
                      for d in headers}
        grid = volume_geometry(mr.positions, mr.orientations[0], mr.order, stack.pixel_spacing, stack.fmt.rows,
                               stack.fmt.columns, source=label)
        if geometry is not None and not grid.same_grid(geometry):
            raise DicomError("the flip-angle series are on different grids", source=label,
                             attribute="ImagePositionPatient (0020,0032)", remedy="give series of one acquisition")
        geometry = grid
        out = np.empty((len(stack.frames), stack.fmt.rows, stack.fmt.columns), dtype=np.float32)
        decode_frames(stack.series.files, np.array([f.file_index for f in stack.frames]),
                      np.array([f.number for f in stack.frames]), out,
                      np.array([f.info.rescale_slope for f in stack.frames]),
                      np.array([f.info.rescale_intercept for f in stack.frames]), fmt=stack.fmt, workers=workers)
        for angle in sorted({round(float(a), 3) for a in flips}):
            slots = np.full(len(mr.unique), -1)
            for i, (key, a) in enumerate(zip(mr.keys, flips, strict=True)):
                if round(float(a), 3) == angle:
                    slots[mr.z_of[key]] = i
            if (slots < 0).any() or angle in volumes:
                raise DicomError(f"flip angle {angle:g} does not cover every slice exactly once", source=label,
                                 attribute="FlipAngle (0018,1314)", remedy="give one complete series per flip angle")
            volumes[angle] = out[slots]
    if len(volumes) < 2 or geometry is None:
        raise DicomError(f"{len(volumes)} flip angle(s): variable flip angle T1 needs at least two",
                         source=str(folders[0]), attribute="FlipAngle (0018,1314)", remedy="give every flip angle")
    if len(tr_values) != 1 or None in tr_values:
        raise DicomError(f"RepetitionTime differs or is missing ({sorted(str(v) for v in tr_values)})",
                         source=str(folders[0]), attribute="RepetitionTime (0018,0080)",
                         remedy="give series of one VFA acquisition (one TR)")
    angles = sorted(volumes)
    return MrFlipAngles(np.stack([volumes[a] for a in angles]), np.array(angles), float(tr_values.pop()) / 1000.0,
                        geometry)
