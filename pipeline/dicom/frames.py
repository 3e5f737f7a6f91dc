"""Per-image records shared by decoding (``pipeline.dicom``) and SUV (``pipeline.suv``).

A *frame* is one 2D image: a classic single-frame instance, or one frame of a
multi-frame (Legacy Converted Enhanced) instance. Decoding builds one
:class:`FrameInfo` per frame; SUV computation turns them into one factor per
frame; the volume builder places each frame at its (time, slice) index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["FrameInfo"]


@dataclass(frozen=True)
class FrameInfo:
    """Attributes of one 2D image that geometry, decay and rescaling need.

    Attributes
    ----------
    source : str
        File path, with ``#frame`` appended for a frame of a multi-frame object.
    sop_instance_uid : str
        SOPInstanceUID (0008,0018) of the instance holding the frame.
    frame_number : int or None
        1-based frame number in a multi-frame instance; None for single-frame.
    position_lps : tuple of float
        ImagePositionPatient (0020,0032), mm.
    orientation : tuple of float
        ImageOrientationPatient (0020,0037), six direction cosines.
    rescale_slope, rescale_intercept : float
        RescaleSlope (0028,1053) and RescaleIntercept (0028,1052) of this frame.
    acquisition_datetime : datetime or None
        Start of the frame's acquisition: AcquisitionDateTime (0008,002A), or
        AcquisitionDate + AcquisitionTime (0008,0022/0032); aware when the data
        set has TimezoneOffsetFromUTC.
    actual_frame_duration_ms : float or None
        ActualFrameDuration (0018,1242), ms.
    frame_reference_time_ms : float or None
        FrameReferenceTime (0054,1300), ms.
    decay_factor : float or None
        DecayFactor (0054,1321).
    image_index : int or None
        ImageIndex (0054,1330).
    """

    source: str
    sop_instance_uid: str
    frame_number: int | None
    position_lps: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    acquisition_datetime: datetime | None = None
    actual_frame_duration_ms: float | None = None
    frame_reference_time_ms: float | None = None
    decay_factor: float | None = None
    image_index: int | None = None
