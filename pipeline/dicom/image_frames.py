"""The 2D frames of a series: single-frame files and enhanced multi-frame objects flattened into one
:class:`ImageFrame` each, with positions, rescale values and times read from the raw element bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from ..errors import DicomError
from .datetimes import parse_offset
from .enhanced_pet import ENHANCED_PET_SOP_CLASS, classic_view
from .frames import FrameInfo
from .series import SeriesFiles
from .values import (
    Lookup,
    acquisition_datetime,
    float_pair,
    number_value,
    required_value,
    text_value,
)

__all__ = ["ImageFrame", "flatten_multiframe", "extract_frames", "check_pixel_spacing", "MAX_FRAME_MS",
           "MAX_REFERENCE_MS", "PIXEL_SPACING_MM"]

#: Physical ranges of the frame attributes (issue 17: outside, the header is refused with the value and the range).
MAX_FRAME_MS = 24 * 3600 * 1000.0  # ActualFrameDuration: at most a day
MAX_REFERENCE_MS = 30 * 24 * 3600 * 1000.0  # |FrameReferenceTime|: at most 30 days (89Zr scans reach day 7-10)
PIXEL_SPACING_MM = (0.1, 20.0)  # PixelSpacing of a PET, CT or MR image


@dataclass(frozen=True)
class ImageFrame:
    """One 2D frame of a series and where its pixels are.

    Attributes
    ----------
    info : FrameInfo
        Position, orientation, rescale and timing of the frame.
    file_index : int
        Index of its file in :attr:`SeriesFiles.files`.
    number : int
        0-based frame index within that file (0 for single-frame instances).
    pixel_spacing : tuple of float
        PixelSpacing (row spacing, column spacing), mm.
    temporal_index : int or None
        TemporalPositionIdentifier (0020,0100) or, in a multi-frame object,
        TemporalPositionIndex (0020,9128).
    """

    info: FrameInfo
    file_index: int
    number: int
    pixel_spacing: tuple[float, float]
    temporal_index: int | None = None


def _functional_group_flat(item: Dataset | None) -> Dataset:
    """The attributes of every functional-group macro of ``item`` as one flat data set."""
    flat = Dataset()
    if item is None:
        return flat
    for elem in item:
        if elem.VR == "SQ" and elem.value:
            for sub in elem.value[0]:
                if sub.tag not in flat:
                    flat.add(sub)
    return flat


def _merge_missing(target: Dataset, source: Dataset) -> None:
    """Add to ``target`` the elements of ``source`` it lacks (private blocks only with a matching creator)."""
    for elem in source:
        tag = elem.tag
        if tag in target:
            continue
        if tag.is_private and not tag.is_private_creator:
            creator_tag = (tag.group << 16) | (tag.element >> 8)
            creator = source.get(creator_tag)
            if creator is None or (creator_tag in target and target[creator_tag].value != creator.value):
                continue
        target.add(elem)


def flatten_multiframe(ds: Dataset) -> tuple[Dataset, list[Dataset]]:
    """Flatten a multi-frame (enhanced / legacy converted) header for classic readers, in place.

    The shared functional groups (including the Unassigned Shared Converted
    Attributes) and the per-frame attributes whose value is the same in every
    frame are added to the top level of ``ds`` where it lacks them, so that
    classic attributes (Units, DecayCorrection, CorrectedImage, PixelSpacing,
    FrameReferenceTime of a single-time-point object...) are found there.

    Returns
    -------
    shared : Dataset
        The shared functional groups, flattened.
    per_frame : list of Dataset
        Each frame's functional groups, flattened.
    """
    shared_seq = ds.get("SharedFunctionalGroupsSequence") or [None]
    shared = _functional_group_flat(shared_seq[0])
    per_frame = [_functional_group_flat(item) for item in (ds.get("PerFrameFunctionalGroupsSequence") or [])]
    _merge_missing(ds, shared)
    if per_frame:
        constant = Dataset()
        first = per_frame[0]
        for elem in first:
            if all(elem.tag in pf and pf[elem.tag].value == elem.value for pf in per_frame[1:]):
                constant.add(elem)
        _merge_missing(ds, constant)
    return shared, per_frame


def extract_frames(series: SeriesFiles, *, label: str | None = None) -> list[ImageFrame]:
    """One :class:`ImageFrame` per 2D image of the series, in file then frame order.

    Single-frame instances give one frame each; multi-frame (legacy converted or
    enhanced) instances are read through their functional groups and their
    headers are flattened in place (:func:`flatten_multiframe`).

    Raises
    ------
    DicomError
        When a position, orientation, pixel spacing or rescale value is
        missing or unreadable, or NumberOfFrames disagrees with the per-frame
        functional groups.
    """
    label = label or series.label
    frames: list[ImageFrame] = []
    for fi, f in enumerate(series.files):
        ds = f.header
        name = f.path.name
        try:
            tz = parse_offset(text_value(ds, "TimezoneOffsetFromUTC"))
        except ValueError:
            tz = None
        sop_instance_uid = text_value(ds, "SOPInstanceUID")
        multiframe = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
        lookups: list[tuple[Lookup, str, int | None]]
        if multiframe:
            shared, per_frame = flatten_multiframe(ds)
            if text_value(ds, "SOPClassUID") == ENHANCED_PET_SOP_CLASS:  # units from the Real World Value Mapping
                classic_view(ds, shared, per_frame, source=f"{label} ({name})")
            if len(per_frame) != f.n_frames:
                raise DicomError(f"{len(per_frame)} per-frame functional groups for NumberOfFrames {f.n_frames}",
                                 source=f"{label} ({name})", attribute="PerFrameFunctionalGroupsSequence (5200,9230)",
                                 remedy="the file is corrupt; re-export the series")
            lookups = [(Lookup(pf, shared, ds), f"{f.path}#{k + 1}", k + 1) for k, pf in enumerate(per_frame)]
        else:
            if text_value(ds, "SOPClassUID") == ENHANCED_PET_SOP_CLASS:
                raise DicomError("an Enhanced PET instance without functional groups: its units and frames are "
                                 "unknown", source=f"{label} ({name})",
                                 attribute="PerFrameFunctionalGroupsSequence (5200,9230)",
                                 remedy="the file is corrupt or mislabelled; re-export the series")
            if f.n_frames != 1:
                raise DicomError(f"{f.n_frames} frames in a single-frame image object", source=f"{label} ({name})",
                                 attribute="NumberOfFrames (0028,0008)",
                                 remedy="convert the file to one instance per slice")
            lookups = [(Lookup(ds), str(f.path), None)]
        for k, (look, frame_source, frame_number) in enumerate(lookups):
            where = f"{label} ({name}{'' if frame_number is None else f' frame {frame_number}'})"
            pos = required_value(look, "ImagePositionPatient", "(0020,0032)", where, "the image has no position; "
                            "re-export the series from the scanner or PACS")
            ori = required_value(look, "ImageOrientationPatient", "(0020,0037)", where, "the image has no orientation; "
                            "re-export the series from the scanner or PACS")
            spacing = required_value(look, "PixelSpacing", "(0028,0030)", where, "the image has no pixel spacing; "
                                "re-export the series from the scanner or PACS")
            if look.get("RescaleSlope") is None and look.get("Modality") == "MR":
                slope = 1.0  # the classic MR Image IOD has no Modality LUT: the stored values are the image's
            else:
                slope = required_value(look, "RescaleSlope", "(0028,1053)", where, "the stored values cannot be "
                                       "rescaled; re-export the series with its rescale values")
            intercept = look.get("RescaleIntercept")
            try:
                position = tuple(float(v) for v in pos)
                orientation = tuple(float(v) for v in ori)
                if len(position) != 3 or len(orientation) != 6:
                    raise ValueError("wrong number of values")
            except (TypeError, ValueError) as exc:
                raise DicomError(f"position {pos!r} or orientation {ori!r} unreadable ({exc})", source=where,
                                 attribute="ImagePositionPatient/ImageOrientationPatient (0020,0032/0037)",
                                 remedy="the header is corrupt; re-export the series") from exc
            duration = look.get("FrameAcquisitionDuration")
            if duration is None:
                duration = look.get("ActualFrameDuration")
            temporal = look.get("TemporalPositionIndex")
            if temporal is None:
                temporal = look.get("TemporalPositionIdentifier")
            info = FrameInfo(
                source=frame_source,
                sop_instance_uid=sop_instance_uid,
                frame_number=frame_number,
                position_lps=position,
                orientation=orientation,
                rescale_slope=number_value(slope, "RescaleSlope (0028,1053)", where, low=1e-20),
                rescale_intercept=number_value(intercept, "RescaleIntercept (0028,1052)", where) or 0.0,
                acquisition_datetime=acquisition_datetime(look, tz, where),
                actual_frame_duration_ms=number_value(duration, "ActualFrameDuration (0018,1242)", where,
                                                      low=0.0, high=MAX_FRAME_MS, unit=" ms"),
                frame_reference_time_ms=number_value(look.get("FrameReferenceTime"), "FrameReferenceTime (0054,1300)",
                                                     where, low=-MAX_REFERENCE_MS, high=MAX_REFERENCE_MS, unit=" ms"),
                decay_factor=number_value(look.get("DecayFactor"), "DecayFactor (0054,1321)", where, low=1e-6),
                image_index=number_value(look.get("ImageIndex"), "ImageIndex (0054,1330)", where, int),
            )
            frames.append(ImageFrame(info, fi, k, float_pair(spacing, "PixelSpacing (0028,0030)", where,
                                                             low=PIXEL_SPACING_MM[0], high=PIXEL_SPACING_MM[1],
                                                             unit=" mm"),
                                     number_value(temporal, "TemporalPositionIdentifier (0020,0100)", where, int)))
    return frames


def check_pixel_spacing(frames: Sequence[ImageFrame], *, source: str) -> tuple[float, float]:
    """The common PixelSpacing of ``frames``; raises if it differs between frames (tolerance 1e-4 mm)."""
    spacings = np.array([f.pixel_spacing for f in frames], dtype=float)
    bad = np.flatnonzero(np.abs(spacings - spacings[0]).max(axis=1) > 1e-4)
    if bad.size:
        i = int(bad[0])
        raise DicomError(f"pixel spacing {spacings[i].tolist()} differs from {spacings[0].tolist()}",
                         source=f"{source} ({frames[i].info.source})", attribute="PixelSpacing (0028,0030)",
                         remedy="the folder mixes reconstructions; separate them into series")
    if (spacings[0] <= 0).any():
        raise DicomError(f"pixel spacing {spacings[0].tolist()} is not positive", source=source,
                         attribute="PixelSpacing (0028,0030)", remedy="the header is corrupt; re-export the series")
    return float(spacings[0][0]), float(spacings[0][1])
