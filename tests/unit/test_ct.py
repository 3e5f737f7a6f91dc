"""CT decoding to HU: synthetic and real series, per-slice rescale, LCE CT, refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import JPEG2000, generate_uid

from pipeline.dicom.ct import ENHANCED_CT_IMAGE_STORAGE, load_ct
from pipeline.errors import DicomError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _ct_dir(cohort: Path) -> Path:
    return cohort / "dicom" / "P01" / "baseline" / "CT"


def _reference(folder: Path) -> np.ndarray:
    """HU from pydicom's pixel_array with each file's own slope/intercept, sorted by z."""
    slices = []
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        hu = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        slices.append((float(ds.ImagePositionPatient[2]), hu))
    return np.stack([v for _, v in sorted(slices, key=lambda s: s[0])])


@pytest.fixture()
def ct_copy(cohort_1: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(_ct_dir(cohort_1), tmp_path / "CT"))


def test_synthetic_ct_hu_and_grid(cohort_1: Path) -> None:
    folder = _ct_dir(cohort_1)
    truth = json.loads((folder.parent / "truth.json").read_text())
    hu, geometry, headers = load_ct(folder)
    assert hu.shape == (104, 256, 256) and hu.dtype == np.float32 and len(headers) == 104
    np.testing.assert_array_equal(hu, _reference(folder))
    grid = truth["ct_grid"]
    np.testing.assert_allclose(geometry.origin, grid["origin_lps_mm"], atol=1e-6)
    np.testing.assert_allclose(geometry.spacing, grid["spacing_zyx_mm"][::-1], atol=1e-6)
    assert float(hu.min()) == -1000.0  # air
    structure_hu = {v["hu"] for v in truth["vois"]}
    assert set(np.unique(hu).tolist()) <= structure_hu | {-1000.0}


def test_per_slice_intercept_and_slope(ct_copy: Path) -> None:
    before, _, _ = load_ct(ct_copy)
    ds = pydicom.dcmread(ct_copy / "CT_0050.dcm")
    ds.RescaleIntercept, ds.RescaleSlope = "-1000", "2"
    ds.save_as(ct_copy / "CT_0050.dcm")
    after, _, _ = load_ct(ct_copy)
    stored = ds.pixel_array.astype(np.float64)
    np.testing.assert_array_equal(after[49], stored * 2.0 - 1000.0)
    np.testing.assert_array_equal(np.delete(after, 49, axis=0), np.delete(before, 49, axis=0))


def test_real_sts_ct_matches_mirp_nifti(shared_data: Path) -> None:
    case = shared_data / "mirp_sts_pet_ct" / "STS_001" / "CT"
    hu, geometry, _ = load_ct(case / "dicom" / "image")
    image = sitk.ReadImage(str(case / "nifti" / "image" / "image.nii.gz"))
    np.testing.assert_allclose(geometry.origin, image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(geometry.spacing, image.GetSpacing(), atol=1e-4)
    np.testing.assert_array_equal(hu, sitk.GetArrayFromImage(image))
    assert hu.shape == (59, 202, 198) and float(hu.min()) == -1000.0 and float(hu.max()) == 1397.0


def test_real_jpeg2000_ct(shared_data: Path) -> None:
    folder = shared_data / "orthanc_tests_pet_slices" / "comunix_CT"
    hu, geometry, headers = load_ct(folder)
    assert headers[0].file_meta.TransferSyntaxUID == JPEG2000
    assert hu.shape == (2, 512, 512)
    np.testing.assert_array_equal(hu, _reference(folder))
    assert (float(hu.min()), float(hu.max())) == (-1024.0, 2503.0)
    assert geometry.spacing[2] == pytest.approx(3.4)


def test_legacy_converted_enhanced_ct_equals_classic(cohort_1: Path, tmp_path: Path) -> None:
    from highdicom.legacy import LegacyConvertedEnhancedCTImage

    src = _ct_dir(cohort_1)
    datasets = [pydicom.dcmread(p) for p in sorted(src.glob("*.dcm"))]
    image = LegacyConvertedEnhancedCTImage(datasets, series_instance_uid=generate_uid(), series_number=91,
                                           sop_instance_uid=generate_uid(), instance_number=1)
    (tmp_path / "lce").mkdir()
    image.save_as(tmp_path / "lce" / "ct.dcm")
    hu, geometry, headers = load_ct(tmp_path / "lce")
    classic, classic_geometry, _ = load_ct(src)
    assert len(headers) == 1 and geometry == classic_geometry
    np.testing.assert_array_equal(hu, classic)
    assert float(headers[0].RescaleIntercept) == -1024.0  # shared Pixel Value Transformation, flattened


def test_enhanced_ct_refused(ct_copy: Path) -> None:
    for path in ct_copy.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = ENHANCED_CT_IMAGE_STORAGE
        ds.save_as(path)
    with pytest.raises(DicomError, match=r"Enhanced CT Image Storage \(1\.2\.840\.10008\.5\.1\.4\.1\.1\.2\.1\)") as err:
        load_ct(ct_copy)
    assert "classic CT Image Storage" in str(err.value)


def test_ct_gap_and_tilt_refused(ct_copy: Path) -> None:
    ds = pydicom.dcmread(ct_copy / "CT_0007.dcm")
    ds.GantryDetectorTilt = "-7"
    ds.save_as(ct_copy / "CT_0007.dcm")
    with pytest.raises(DicomError, match="gantry tilt of -7 degrees"):
        load_ct(ct_copy)
    (ct_copy / "CT_0007.dcm").unlink()
    with pytest.raises(DicomError, match=r"not uniform: 6\.000 mm"):
        load_ct(ct_copy)


def test_pet_folder_refused_as_ct(cohort_1: Path) -> None:
    with pytest.raises(DicomError, match="Modality is PT, expected CT"):
        load_ct(cohort_1 / "dicom" / "P01" / "baseline" / "PT")
