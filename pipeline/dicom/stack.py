"""A series folder read as a stack of frames with every check an image volume needs (series, SOP class,
pixels, gantry tilt, orientation, pixel spacing, pixel format), before the frames are ordered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .image_frames import ImageFrame, check_pixel_spacing, extract_frames
from .pixels import PixelFormat, check_pixel_lengths, check_pixels_present, common_pixel_format
from .series import SeriesFiles, check_gantry_tilt, check_orientations, read_series

__all__ = ["Stack", "read_stack"]


@dataclass(frozen=True)
class Stack:
    """A series' frames with checked orientation, pixel spacing and pixel format, before ordering.

    Attributes
    ----------
    series : SeriesFiles
        The files and headers.
    frames : list of ImageFrame
        One per 2D frame, in file order.
    names : list of str
        File name of each frame, for messages.
    positions : numpy.ndarray
        (n, 3) ImagePositionPatient of each frame, LPS mm.
    orientations : numpy.ndarray
        (n, 6) ImageOrientationPatient of each frame (checked equal).
    pixel_spacing : tuple of float
        PixelSpacing (row spacing, column spacing), mm.
    fmt : PixelFormat
        Pixel format common to all frames.
    """

    series: SeriesFiles
    frames: list[ImageFrame]
    names: list[str]
    positions: np.ndarray
    orientations: np.ndarray
    pixel_spacing: tuple[float, float]
    fmt: PixelFormat


def read_stack(folder: str | Path, *, workers: int, modalities: set[str],
               check_sop_class: Callable[[str, str], None]) -> Stack:
    """Read a series folder's headers and run the checks every image volume needs.

    Parameters
    ----------
    folder : path-like
        Folder holding exactly one series.
    workers : int
        Header-reading threads.
    modalities : set of str
        Accepted Modality values.
    check_sop_class : callable
        ``check_sop_class(sop_class_uid, label)`` raises for unsupported SOP classes.

    Raises
    ------
    DicomError
        Mixed series or modalities, unsupported SOP class, missing pixel data, gantry tilt,
        mixed orientations, inconsistent pixel spacing or pixel format.
    """
    series = read_series(folder, workers=workers, modalities=modalities)
    label = series.label
    check_sop_class(series.sop_class_uid, label)
    check_pixels_present(series)
    frames = extract_frames(series)
    check_gantry_tilt(series.headers, source=label)
    names = [Path(f.info.source).name for f in frames]
    positions = np.array([f.info.position_lps for f in frames], dtype=float)
    orientations = np.array([f.info.orientation for f in frames], dtype=float)
    check_orientations(orientations, source=label, names=names)
    pixel_spacing = check_pixel_spacing(frames, source=label)
    fmt = common_pixel_format(series.headers, source=label)
    check_pixel_lengths(series, fmt)
    return Stack(series, frames, names, positions, orientations, pixel_spacing, fmt)
