"""True Enhanced PET (issue 18): an Enhanced PET Image Storage object built from the synthetic classic series
(per-frame Plane Position, Frame Content, PET Frame Correction Factors and Real World Value Mapping functional
groups) decodes to the same SUV as the classic series; the mapping is chosen by its unit, not its position; a
series without a usable mapping is refused naming the functional group."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from pipeline.cli import main

ENHANCED_PET = "1.2.840.10008.5.1.4.1.1.130"
_COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "PatientWeight", "PatientSize",
           "StudyInstanceUID", "StudyDate", "StudyTime", "SeriesDate", "SeriesTime", "Modality", "Manufacturer",
           "FrameOfReferenceUID", "RadiopharmaceuticalInformationSequence", "TimezoneOffsetFromUTC", "Rows",
           "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "SamplesPerPixel",
           "PhotometricInterpretation", "StudyID", "AccessionNumber", "SeriesNumber")


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "UCUM", meaning
    return item


def _mapping(unit: str, slope: float, label: str) -> Dataset:
    item = Dataset()
    item.LUTLabel, item.LUTExplanation = label, f"{label} mapping"
    item.MeasurementUnitsCodeSequence = Sequence([_code(unit, unit)])
    item.RealWorldValueFirstValueMapped, item.RealWorldValueLastValueMapped = 0, 32767
    item.RealWorldValueSlope, item.RealWorldValueIntercept = slope, 0.0
    return item


def enhanced_from_classic(folder: Path, out: Path, *, mappings: str = "bqml", suv_factor: float = 1.0) -> Path:
    """One Enhanced PET instance holding the classic series of ``folder``.

    ``mappings``: ``bqml`` (a Bq/ml item per frame), ``suv_first`` (an SUVbw item, then the Bq/ml item: the unit
    must decide), ``suv`` (an SUVbw item only, slope x ``suv_factor``), ``counts`` (an item in counts only),
    ``none`` (no mapping).
    """
    slices = [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]
    slices.sort(key=lambda s: float(s.ImagePositionPatient[2]))
    first = slices[0]
    ds = Dataset()
    for keyword in _COPIED:
        if keyword in first:
            setattr(ds, keyword, first.data_element(keyword).value)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.SeriesInstanceUID = ENHANCED_PET, generate_uid(), generate_uid()
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.AcquisitionDateTime = f"{first.AcquisitionDate}{first.AcquisitionTime}"
    ds.ContentDate, ds.ContentTime, ds.InstanceNumber = first.SeriesDate, first.SeriesTime, 1
    ds.NumberOfFrames = len(slices)
    ds.DecayCorrected, ds.AttenuationCorrected, ds.ScatterCorrected = "YES", "YES", "YES"
    ds.DecayCorrectionDateTime = f"{first.SeriesDate}{first.SeriesTime}"
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing, measures.SliceThickness = first.PixelSpacing, first.SliceThickness
    orientation = Dataset()
    orientation.ImageOrientationPatient = first.ImageOrientationPatient
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for k, s in enumerate(slices):
        item = Dataset()
        position = Dataset()
        position.ImagePositionPatient = s.ImagePositionPatient
        content = Dataset()
        content.FrameAcquisitionDateTime = f"{s.AcquisitionDate}{s.AcquisitionTime}"
        content.FrameAcquisitionDuration = float(s.ActualFrameDuration)
        content.InStackPositionNumber = k + 1
        corrections = Dataset()
        corrections.DecayFactor = s.DecayFactor
        item.PlanePositionSequence = Sequence([position])
        item.FrameContentSequence = Sequence([content])
        item.PETFrameCorrectionFactorsSequence = Sequence([corrections])
        slope = float(s.RescaleSlope)
        items = {"bqml": [_mapping("Bq/ml", slope, "BQML")],
                 "suv_first": [_mapping("g/ml{SUVbw}", slope * 1e-3, "SUVbw"), _mapping("Bq/ml", slope, "BQML")],
                 "suv": [_mapping("{SUVbw}g/ml", slope * suv_factor, "SUVbw")],
                 "counts": [_mapping("{counts}", slope, "counts")], "none": []}[mappings]
        if items:
            item.RealWorldValueMappingSequence = Sequence(items)
        frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = b"".join(s.PixelData for s in slices)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = ENHANCED_PET, ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out.mkdir(parents=True, exist_ok=True)
    ds.save_as(out / "enhanced.dcm", enforce_file_format=True)
    return out


@pytest.fixture(scope="module")
def classic(cohort_1: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, dict]:
    folder = cohort_1 / "dicom" / "P01" / "baseline" / "PT"
    out = tmp_path_factory.mktemp("classic")
    assert main(["-q", "suv", str(folder), "-o", str(out / "suv.nii.gz")]) == 0
    return folder, np.asarray(nib.load(out / "suv.nii.gz").dataobj), json.loads((out / "suv.json").read_text())


@pytest.mark.parametrize("mappings", ["bqml", "suv_first"])
def test_enhanced_pet_in_bq_per_ml_gives_the_classic_suv(classic: tuple, tmp_path: Path, mappings: str) -> None:
    folder, truth, sidecar = classic
    enhanced = enhanced_from_classic(folder, tmp_path / "EPET", mappings=mappings)
    assert main(["-q", "suv", str(enhanced), "-o", str(tmp_path / "suv.nii.gz")]) == 0
    suv = np.asarray(nib.load(tmp_path / "suv.nii.gz").dataobj)
    np.testing.assert_allclose(suv, truth, rtol=1e-6, atol=1e-6)
    record = json.loads((tmp_path / "suv.json").read_text())
    assert record["suv_factor"] == pytest.approx(sidecar["suv_factor"], rel=1e-9)
    assert record["rule"].startswith("BQML/START/")
    mapping = record["real_world_value_mapping"]
    assert mapping["units"] == "Bq/ml" and mapping["kind"] == "BQML" and mapping["scope"] == "per frame"


def test_enhanced_pet_in_suv_units_is_the_scanners_suv(classic: tuple, tmp_path: Path) -> None:
    folder, truth, sidecar = classic
    enhanced = enhanced_from_classic(folder, tmp_path / "EPET", mappings="suv", suv_factor=sidecar["suv_factor"])
    assert main(["-q", "suv", str(enhanced), "-o", str(tmp_path / "suv.nii.gz")]) == 0
    suv = np.asarray(nib.load(tmp_path / "suv.nii.gz").dataobj)
    np.testing.assert_allclose(suv, truth, rtol=1e-5, atol=1e-5)
    record = json.loads((tmp_path / "suv.json").read_text())
    assert record["rule"] == "GML/SUVType=BW" and record["real_world_value_mapping"]["units"] == "{SUVbw}g/ml"


@pytest.mark.parametrize(("mappings", "message"), [
    ("counts", "no Real World Value Mapping in Bq/ml or SUVbw units for frame 1 ({counts})"),
    ("none", "an Enhanced PET without a Real World Value Mapping"),
])
def test_enhanced_pet_without_a_usable_mapping_is_refused(classic: tuple, tmp_path: Path, mappings: str,
                                                          message: str, capsys: pytest.CaptureFixture[str]) -> None:
    enhanced = enhanced_from_classic(classic[0], tmp_path / "EPET", mappings=mappings)
    capsys.readouterr()
    assert main(["suv", str(enhanced), "-o", str(tmp_path / "suv.nii.gz")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "RealWorldValueMappingSequence (0040,9096) functional group" in line and message in line
    assert not (tmp_path / "suv.nii.gz").exists()
