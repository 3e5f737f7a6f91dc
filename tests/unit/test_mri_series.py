"""Dynamic MR series decoding (issue 19, item 2): phase times from TriggerTime (GE, Philips style), per-phase
AcquisitionTime (Siemens style) or ContentTime, phases by TemporalPositionIdentifier or by time; the (t, z, y, x)
volume holds each frame at its phase and slice; incomplete phases and timeless series are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from pipeline.errors import DicomError
from pipeline.mri.series import load_mr_dynamic

PHASE_S = [0.0, 4.5, 9.0, 13.5, 18.0]
N_Z, ROWS, COLS = 3, 4, 5


def _value(t: int, z: int) -> int:
    return 100 * (t + 1) + z


def write_dce(folder: Path, style: str, *, drop: tuple[int, int] | None = None) -> Path:
    """A DCE series of 5 phases x 3 slices, pixel value 100 (phase + 1) + slice, in a vendor's timing style:
    ``trigger`` (TriggerTime ms, one AcquisitionTime, TemporalPositionIdentifier), ``acquisition`` (one
    AcquisitionTime per phase, no phase index), ``content`` (ContentTime only)."""
    folder.mkdir(parents=True)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    n = 0
    for t, seconds in enumerate(PHASE_S):
        for z in range(N_Z):
            if drop == (t, z):
                continue
            ds = Dataset()
            ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.4", generate_uid()
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
            ds.Modality, ds.Manufacturer, ds.PatientID = "MR", "SYNTHETIC", "X"
            ds.ImagePositionPatient = [0.0, 0.0, 3.0 * z]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing, ds.SliceThickness = [1.5, 1.5], 3.0
            ds.FlipAngle, ds.RepetitionTime = 15.0, 4.5
            ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = ROWS, COLS, 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.RescaleSlope, ds.RescaleIntercept = 1, 0
            ds.InstanceNumber = n + 1
            start = 9 * 3600 + 30 * 60 + 10.0
            if style == "trigger":
                ds.AcquisitionTime = "093010.000000"
                ds.TriggerTime = seconds * 1000.0
                ds.TemporalPositionIdentifier = t + 1
            elif style == "acquisition":
                moment = start + seconds
                ds.AcquisitionDate = "20250303"
                ds.AcquisitionTime = (f"{int(moment // 3600):02d}{int(moment % 3600 // 60):02d}"
                                      f"{moment % 60:09.6f}")
            else:
                moment = start + seconds
                ds.ContentTime = f"{int(moment // 3600):02d}{int(moment % 3600 // 60):02d}{moment % 60:09.6f}"
            ds.PixelData = np.full((ROWS, COLS), _value(t, z), dtype=np.uint16).tobytes()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (ds.SOPClassUID,
                                                                                            ds.SOPInstanceUID)
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.save_as(folder / f"MR_{n:04d}.dcm", enforce_file_format=True)
            n += 1
    return folder


@pytest.mark.parametrize(("style", "source"), [("trigger", "TriggerTime"), ("acquisition", "AcquisitionDateTime"),
                                               ("content", "ContentTime")])
def test_phases_and_their_times_in_each_vendor_style(tmp_path: Path, style: str, source: str) -> None:
    dce = load_mr_dynamic(write_dce(tmp_path / "DCE", style), workers=1)
    assert dce.volume.shape == (5, N_Z, ROWS, COLS)
    assert dce.times_s == pytest.approx(PHASE_S, abs=1e-6) and dce.time_source.startswith(source)
    for t in range(5):
        for z in range(N_Z):
            assert float(dce.volume[t, z, 0, 0]) == _value(t, z)
    assert dce.flip_deg == 15.0 and dce.tr_s == pytest.approx(0.0045)
    assert dce.geometry.shape == (N_Z, ROWS, COLS)


def test_a_phase_missing_a_slice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DicomError, match="phase 3 has no frame at slice 2"):
        load_mr_dynamic(write_dce(tmp_path / "DCE", "trigger", drop=(2, 1)), workers=1)


def test_a_series_without_phase_times_is_refused(tmp_path: Path) -> None:
    folder = write_dce(tmp_path / "DCE", "trigger")
    for f in folder.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        del ds.TriggerTime
        ds.save_as(f)
    with pytest.raises(DicomError, match="the phases have no times"):
        load_mr_dynamic(folder, workers=1)
