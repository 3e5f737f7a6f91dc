"""PET decoding: synthetic vendors, real compressed and odd files, per-slice slopes, bad input, LCE PET."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import JPEG2000, ImplicitVRLittleEndian, JPEG2000Lossless, JPEGLSLossless, RLELossless, generate_uid

from pipeline.dicom.pet import (
    ENHANCED_PET_IMAGE_STORAGE,
    FRAME_TABLE_COLUMNS,
    LEGACY_CONVERTED_ENHANCED_PET_IMAGE_STORAGE,
    PET_IMAGE_STORAGE,
    load_pet,
    read_volume,
)
from pipeline.dicom.series import read_series
from pipeline.errors import DicomError

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom value-length warnings on real headers


def _pet_dir(cohort: Path, subject: str, timepoint: str = "baseline") -> Path:
    return cohort / "dicom" / subject / timepoint / "PT"


def _reference(folder: Path, factor: float = 1.0) -> np.ndarray:
    """Stored x slope x factor from pydicom's own pixel_array, slices sorted by z (independent of petvoi)."""
    slices = []
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        value = ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        slices.append((float(ds.ImagePositionPatient[2]), value * factor))
    return np.stack([v for _, v in sorted(slices, key=lambda s: s[0])])


def _rewrite(path: Path, **attributes: object) -> None:
    ds = pydicom.dcmread(path)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path)


@pytest.fixture()
def pet_copy(cohort_1: Path, tmp_path: Path) -> Path:
    """A writable copy of the P01 baseline PET series."""
    return Path(shutil.copytree(_pet_dir(cohort_1, "P01"), tmp_path / "PT"))


# --------------------------------------------------------------------------- synthetic cohort


@pytest.mark.parametrize("subject", ["P01", "P02", "P03"])
def test_synthetic_suv_matches_independent_decode(cohort_3: Path, subject: str) -> None:
    folder = _pet_dir(cohort_3, subject)
    truth = json.loads((folder.parent / "truth.json").read_text())
    series = load_pet(folder)
    assert series.sop_class_uid == PET_IMAGE_STORAGE
    assert not series.is_dynamic and series.n_time == 1
    suv = read_volume(series, factors=[truth["suv_factor"]] * series.n_frames)
    assert suv.shape == (80, 128, 128) and suv.dtype == np.float32
    reference = _reference(folder, truth["suv_factor"])
    np.testing.assert_allclose(suv, reference, rtol=1e-6, atol=0)
    grid = truth["pet_grid"]
    assert series.geometry.shape == tuple(grid["shape_zyx"])
    np.testing.assert_allclose(series.geometry.origin, grid["origin_lps_mm"], atol=1e-6)
    np.testing.assert_allclose(series.geometry.spacing, grid["spacing_zyx_mm"][::-1], atol=1e-6)
    # rule R1: slopes differ slice by slice and each slice used its own
    slopes = series.rescale_slopes
    assert len(set(slopes.tolist())) > 60
    z = [f.position_lps[2] for f in series.frames]
    assert z == sorted(z) and series.frame_index[:, 1].tolist() == list(range(80))
    # SUV of the hottest truth VOI as stored
    vois = {v["name"]: v for v in truth["vois"]}
    assert float(suv.max()) == pytest.approx(max(v["suv_max"] for v in vois.values()), rel=1e-6)


def test_frame_table_of_static_series(cohort_1: Path) -> None:
    folder = _pet_dir(cohort_1, "P01")
    truth = json.loads((folder.parent / "truth.json").read_text())
    table = load_pet(folder).frame_table
    assert list(table.columns) == FRAME_TABLE_COLUMNS and len(table) == 1
    row = table.iloc[0]
    assert row["start"] == truth["bed_start_datetimes"][0]
    assert row["start_s"] == 0.0 and row["n_slices"] == 80
    # 4 beds: from the first bed start to the end of the last one
    last = np.datetime64(truth["bed_start_datetimes"][-1][:19]) - np.datetime64(truth["bed_start_datetimes"][0][:19])
    assert row["end_s"] == pytest.approx(last / np.timedelta64(1, "s") + truth["frame_duration_s"])


def test_read_volume_arguments(cohort_1: Path) -> None:
    series = load_pet(_pet_dir(cohort_1, "P01"))
    with pytest.raises(ValueError, match="80 frames"):
        read_volume(series, factors=np.ones(79))
    with pytest.raises(ValueError, match="floating"):
        read_volume(series, dtype=np.int16)
    scaled = read_volume(series, factors=2.5, dtype=np.float64)
    np.testing.assert_allclose(scaled, 2.5 * _reference(_pet_dir(cohort_1, "P01")), rtol=1e-12)


@pytest.mark.parametrize("syntax", [JPEGLSLossless, JPEG2000Lossless, RLELossless])
def test_compressed_series_equals_native(cohort_1: Path, tmp_path: Path, syntax: str) -> None:
    if syntax == JPEGLSLossless:
        pytest.importorskip("jpeg_ls", reason="pyjpegls is the only JPEG-LS encoder (decoding needs only pylibjpeg)")
    src = _pet_dir(cohort_1, "P01")
    folder = tmp_path / "compressed"
    folder.mkdir()
    for path in sorted(src.glob("*.dcm"))[30:40]:
        ds = pydicom.dcmread(path)
        ds.compress(syntax)
        ds.save_as(folder / path.name)
    series = load_pet(folder)
    assert series.transfer_syntax_uid == syntax and not series.files[0].is_native
    np.testing.assert_allclose(read_volume(series), _reference(folder), rtol=1e-6, atol=0)


def test_native_decode_respects_bits_stored_and_padding(cohort_1: Path, tmp_path: Path) -> None:
    src = sorted(_pet_dir(cohort_1, "P01").glob("*.dcm"))[40]
    rng = np.random.default_rng(3)
    # signed 12-bit values stored in 16 bits with junk in the 4 unused high bits
    values = rng.integers(-2048, 2048, size=(128, 128)).astype(np.int16)
    junk = (values.view(np.uint16) & 0x0FFF) | 0xA000
    folder12 = tmp_path / "bits12"
    folder12.mkdir()
    ds = pydicom.dcmread(src)
    ds.BitsStored, ds.HighBit, ds.RescaleSlope = 12, 11, "0.5"
    ds.PixelData = junk.astype("<u2").tobytes()
    ds.save_as(folder12 / "a.dcm")
    np.testing.assert_array_equal(read_volume(load_pet(folder12))[0], values * 0.5)
    # 8-bit unsigned with an odd number of pixels (padded Pixel Data)
    folder8 = tmp_path / "bits8"
    folder8.mkdir()
    ds = pydicom.dcmread(src)
    small = rng.integers(0, 256, size=(5, 5)).astype(np.uint8)
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit = 5, 5, 8, 8, 7
    ds.PixelRepresentation, ds.RescaleSlope = 0, "2"
    ds.PixelData = small.tobytes() + b"\x00"
    ds["PixelData"].VR = "OB"
    ds.save_as(folder8 / "a.dcm")
    series = load_pet(folder8)
    assert series.files[0].pixel_length == 26
    np.testing.assert_array_equal(read_volume(series)[0], small * 2.0)


# --------------------------------------------------------------------------- real data


def test_real_jpeg_ls_slice(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "orthanc_tests_pet_slices" / "cps1023_MalaterreCP246.dcm"
    shutil.copy(src, tmp_path / src.name)
    series = load_pet(tmp_path)
    assert series.transfer_syntax_uid == JPEGLSLossless
    volume = read_volume(series, dtype=np.float64)
    assert volume.shape == (1, 128, 128)
    ds = pydicom.dcmread(src)
    stored = ds.pixel_array
    assert int(stored.sum()) == 3294293 and int(stored.max()) == 11177
    np.testing.assert_allclose(volume[0], stored * float(ds.RescaleSlope), rtol=1e-12)
    assert float(volume.max()) == pytest.approx(11177 * 1.9413152, rel=1e-7)


def test_real_jpeg2000_slices(shared_data: Path) -> None:
    folder = shared_data / "orthanc_tests_pet_slices" / "comunix_PET"
    series = load_pet(folder)
    assert series.transfer_syntax_uid == JPEG2000  # 1.2.840.10008.1.2.4.91
    volume = read_volume(series, dtype=np.float64)
    assert volume.shape == (2, 128, 128)
    np.testing.assert_allclose(series.geometry.spacing, (2.0593637, 2.0593637, 3.375), atol=1e-6)
    reference = _reference(folder)
    np.testing.assert_allclose(volume, reference, rtol=1e-12)
    assert float(volume.max()) == pytest.approx(28865 * 0.67012244, rel=1e-7)


def test_real_file_without_file_meta(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "orthanc_tests_pet_slices" / "philips_gemini_tf_PrivateMDNTags.dcm"
    shutil.copy(src, tmp_path / src.name)
    series = load_pet(tmp_path)
    assert series.transfer_syntax_uid == ImplicitVRLittleEndian and series.files[0].is_native
    assert series.headers[0].Units == "BQML"
    volume = read_volume(series, dtype=np.float64)
    ds = pydicom.dcmread(src, force=True)
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    np.testing.assert_allclose(volume[0], ds.pixel_array * 0.207791, rtol=1e-12)
    assert volume.shape == (1, 169, 169)
    assert float(volume.max()) == pytest.approx(float(ds.pixel_array.max()) * 0.207791)


def test_real_file_without_acquisition_times(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "orthanc_tests_pet_slices" / "philips_gemini_tf_Issue94.dcm"
    shutil.copy(src, tmp_path / src.name)
    series = load_pet(tmp_path)
    assert series.frames[0].acquisition_datetime is None
    assert series.frames[0].frame_reference_time_ms == pytest.approx(109007.0)
    assert series.frame_table.iloc[0]["start"] is None
    volume = read_volume(series, dtype=np.float64)
    np.testing.assert_allclose(volume, _reference(tmp_path), rtol=1e-12)
    assert float(volume.max()) == pytest.approx(15596.4, abs=0.1)  # SOURCE.md: values 0..15596


def test_real_dro_per_slice_slopes(shared_data: Path) -> None:
    series = load_pet(shared_data / "oncoray_suv_dro" / "DRO_1_0" / "PT")
    assert sorted(set(series.rescale_slopes.tolist())) == [3.0, 4.0]
    volume = read_volume(series)
    assert volume.shape == (20, 256, 256)
    assert float(volume.max()) == 14400.0 and float(volume.min()) == 0.0
    # the same activity whatever the slope: the hot sphere is 4x the background in every slice it covers
    baseline = read_volume(load_pet(shared_data / "oncoray_suv_dro" / "DRO_0_0" / "PT"))
    np.testing.assert_array_equal(volume, baseline)


def test_real_sts_pet_matches_mirp_nifti(shared_data: Path) -> None:
    case = shared_data / "mirp_sts_pet_ct" / "STS_001" / "PET"
    series = load_pet(case / "dicom" / "image")
    assert series.transfer_syntax_uid == ImplicitVRLittleEndian
    assert len(set(series.rescale_slopes.tolist())) > 50  # a different slope on (nearly) every slice
    volume = read_volume(series)
    image = sitk.ReadImage(str(case / "nifti" / "image" / "image.nii.gz"))
    np.testing.assert_allclose(series.geometry.origin, image.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(series.geometry.spacing, image.GetSpacing(), atol=1e-4)
    np.testing.assert_allclose(series.geometry.direction.ravel(), image.GetDirection(), atol=1e-6)
    expected = sitk.GetArrayFromImage(image)
    assert volume.shape == expected.shape == (59, 43, 41)
    # within the quantisation of each slice (half a slope step)
    tolerance = series.rescale_slopes.max() / 2.0
    assert float(np.abs(volume - expected).max()) <= tolerance
    assert float(volume.max()) == pytest.approx(25.41, abs=0.01)


# --------------------------------------------------------------------------- bad input


def test_two_series_in_one_folder(cohort_1: Path, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(_pet_dir(cohort_1, "P01"), tmp_path / "mixed"))
    for path in (cohort_1 / "dicom" / "P01" / "on_treatment" / "PT").glob("*.dcm"):
        shutil.copy(path, folder / f"on_{path.name}")
    with pytest.raises(DicomError, match=r"mixes 2 series") as err:
        load_pet(folder)
    text = str(err.value)
    uids = {pydicom.dcmread(next(d.glob("*.dcm")), stop_before_pixels=True).SeriesInstanceUID
            for d in (_pet_dir(cohort_1, "P01"), _pet_dir(cohort_1, "P01", "on_treatment"))}
    assert all(f"{uid} (80 files" in text for uid in uids)
    assert "petvoi index" in text and err.value.attribute == "SeriesInstanceUID (0020,000E)"


def test_mixed_modalities_refused(pet_copy: Path, cohort_1: Path) -> None:
    _rewrite(sorted(pet_copy.glob("*.dcm"))[5], Modality="CT")
    with pytest.raises(DicomError, match=r"mixes Modality values: PT \(79 files\), CT \(1 files\)"):
        load_pet(pet_copy)
    with pytest.raises(DicomError, match="Modality is CT, expected PT"):
        load_pet(cohort_1 / "dicom" / "P01" / "baseline" / "CT")


def test_missing_slice(pet_copy: Path) -> None:
    (pet_copy / "PT_0040.dcm").unlink()
    with pytest.raises(DicomError, match=r"not uniform: 8\.000 mm") as err:
        load_pet(pet_copy)
    assert str(pet_copy) in str(err.value) and "re-export" in str(err.value)


def test_missing_last_slices_counted_against_number_of_slices(pet_copy: Path) -> None:
    """Files missing at an end leave no gap: NumberOfSlices (every header) says the volume is incomplete (the SUV
    stage refuses it by policy, tests/unit/test_suv_plausibility.py)."""
    from pipeline.dicom.pet import slice_count_problem

    files = sorted(pet_copy.glob("*.dcm"), key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))
    n = int(pydicom.dcmread(files[0]).NumberOfSlices)
    assert n == len(files) and slice_count_problem(load_pet(pet_copy)) is None
    for f in files[-2:]:
        f.unlink()
    assert slice_count_problem(load_pet(pet_copy)) == f"found {n - 2} slice positions but NumberOfSlices is {n}"


@pytest.mark.parametrize(("change", "match"), [
    ({"BitsAllocated": 8, "BitsStored": 8, "HighBit": 7}, r"BitsAllocated 8 / 8"),  # 16-bit data read as 8-bit
    ({"Rows": "half"}, r"Rows \d+ x"),
    ({"Columns": "half"}, r"Columns \d+ x"),
])
def test_header_that_does_not_describe_its_pixels_is_refused(pet_copy: Path, change: dict[str, object],
                                                              match: str) -> None:
    """On every file (a one-file change is a layout mismatch, refused before): Pixel Data's length must be Rows x
    Columns x BitsAllocated / 8 x frames - else half the buffer would be read as a plausible image (issue 17)."""
    for f in sorted(pet_copy.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        for keyword, value in change.items():
            setattr(ds, keyword, int(getattr(ds, keyword)) // 2 if value == "half" else value)
        ds.save_as(f)
    with pytest.raises(DicomError, match="Pixel Data holds .* bytes, the header describes") as err:
        load_pet(pet_copy)
    assert err.value.attribute.startswith("Rows/Columns/BitsAllocated/NumberOfFrames")
    assert re.search(match, str(err.value))


@pytest.mark.parametrize("keyword", ["Rows", "Columns"])
def test_zero_rows_or_columns_refused(pet_copy: Path, keyword: str) -> None:
    for f in sorted(pet_copy.glob("*.dcm")):
        _rewrite(f, **{keyword: 0})
    with pytest.raises(DicomError, match="an image needs 1 to 65535") as err:
        load_pet(pet_copy)
    assert err.value.attribute == "Rows/Columns (0028,0010/0011)"


def test_duplicated_file(pet_copy: Path) -> None:
    shutil.copy(pet_copy / "PT_0010.dcm", pet_copy / "PT_0010_copy.dcm")
    with pytest.raises(DicomError, match=r"stored twice \(PT_0010.dcm and PT_0010_copy.dcm\)"):
        load_pet(pet_copy)


def test_duplicated_slice_with_new_uid(pet_copy: Path) -> None:
    copy = pet_copy / "PT_0010_copy.dcm"
    shutil.copy(pet_copy / "PT_0010.dcm", copy)
    _rewrite(copy, SOPInstanceUID=generate_uid())
    with pytest.raises(DicomError, match=r"same position .* same FrameReferenceTime") as err:
        load_pet(pet_copy)
    assert "PT_0010.dcm" in str(err.value) and "PT_0010_copy.dcm" in str(err.value)


def test_inconsistent_orientation(pet_copy: Path) -> None:
    _rewrite(pet_copy / "PT_0020.dcm", ImageOrientationPatient=[1, 0, 0, 0, 0.8, -0.6])
    with pytest.raises(DicomError, match="orientation .* differs") as err:
        load_pet(pet_copy)
    assert "PT_0020.dcm" in str(err.value)


def test_gantry_tilt_header_refused(pet_copy: Path) -> None:
    _rewrite(pet_copy / "PT_0003.dcm", GantryDetectorTilt="12.5")
    with pytest.raises(DicomError, match="gantry tilt of 12.5 degrees") as err:
        load_pet(pet_copy)
    assert err.value.attribute == "GantryDetectorTilt (0018,1120)" and "PT_0003.dcm" in str(err.value)


@pytest.mark.parametrize("keep", [300, 20000])
def test_truncated_file_named(pet_copy: Path, keep: int) -> None:
    victim = pet_copy / "PT_0033.dcm"
    victim.write_bytes(victim.read_bytes()[:keep])
    with pytest.raises(DicomError, match="truncated") as err:
        load_pet(pet_copy)
    assert err.value.source == str(victim)


def test_non_dicom_files_skipped(pet_copy: Path) -> None:
    (pet_copy / "notes.txt").write_text("not dicom")
    (pet_copy / "DICOMDIR.bak").write_bytes(b"\x00" * 50)
    series = read_series(pet_copy)
    assert series.n_skipped == 2 and len(series.files) == 80
    assert load_pet(pet_copy).n_frames == 80


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DicomError, match="no DICOM file"):
        load_pet(tmp_path)


def test_enhanced_pet_without_functional_groups_refused(pet_copy: Path) -> None:
    """Classic single-frame files labelled Enhanced PET (true Enhanced PET is read: tests/unit/test_enhanced_pet)."""
    for path in pet_copy.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.SOPClassUID = ENHANCED_PET_IMAGE_STORAGE
        ds.file_meta.MediaStorageSOPClassUID = ENHANCED_PET_IMAGE_STORAGE
        ds.save_as(path)
    with pytest.raises(DicomError, match="an Enhanced PET instance without functional groups") as err:
        load_pet(pet_copy)
    assert err.value.attribute == "PerFrameFunctionalGroupsSequence (5200,9230)"


# --------------------------------------------------------------------------- Legacy Converted Enhanced PET


def _legacy_converted(src: Path, dst: Path) -> Path:
    from highdicom.legacy import LegacyConvertedEnhancedPETImage

    datasets = [pydicom.dcmread(p) for p in sorted(src.glob("*.dcm"))]
    image = LegacyConvertedEnhancedPETImage(datasets, series_instance_uid=generate_uid(), series_number=90,
                                            sop_instance_uid=generate_uid(), instance_number=1)
    dst.mkdir(parents=True)
    image.save_as(dst / "lce.dcm")
    return dst


def test_legacy_converted_enhanced_pet_equals_classic(cohort_1: Path, tmp_path: Path) -> None:
    src = _pet_dir(cohort_1, "P01")
    classic = load_pet(src)
    lce = load_pet(_legacy_converted(src, tmp_path / "lce"))
    assert lce.sop_class_uid == LEGACY_CONVERTED_ENHANCED_PET_IMAGE_STORAGE
    assert len(lce.headers) == 1 and lce.n_frames == 80
    assert lce.geometry == classic.geometry
    np.testing.assert_array_equal(read_volume(lce), read_volume(classic))
    np.testing.assert_array_equal(lce.rescale_slopes, classic.rescale_slopes)
    for a, b in zip(lce.frames, classic.frames, strict=True):
        assert a.frame_reference_time_ms == b.frame_reference_time_ms
        assert a.acquisition_datetime == b.acquisition_datetime
        assert a.actual_frame_duration_ms == b.actual_frame_duration_ms
        assert a.decay_factor == b.decay_factor
    # highdicom stores the frames from head to feet: the lowest slice is frame 80 of the file
    assert lce.frames[0].frame_number == 80 and lce.frames[0].source.endswith("lce.dcm#80")
    assert lce.frame_number.tolist() == list(range(79, -1, -1))
    # the classic PET attributes reach the top of the flattened header
    header, ref = lce.headers[0], classic.headers[0]
    for keyword in ("Units", "DecayCorrection", "CorrectedImage", "SeriesType", "PixelSpacing"):
        assert header[keyword].value == ref[keyword].value
    item = header.RadiopharmaceuticalInformationSequence[0]
    assert item.RadionuclideTotalDose == ref.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose
    assert lce.frame_table.equals(classic.frame_table)


def test_legacy_converted_single_bed_header_has_frame_reference_time(cohort_1: Path, tmp_path: Path) -> None:
    src = tmp_path / "bed"
    src.mkdir()
    for path in sorted(_pet_dir(cohort_1, "P01").glob("*.dcm"))[:10]:  # the first slices: one bed
        shutil.copy(path, src / path.name)
    classic = load_pet(src)
    lce = load_pet(_legacy_converted(src, tmp_path / "lce"))
    assert float(lce.headers[0].FrameReferenceTime) == classic.frames[0].frame_reference_time_ms
    np.testing.assert_array_equal(read_volume(lce), read_volume(classic))


def test_deflated_series_decodes(cohort_1: Path, tmp_path: Path) -> None:
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    src = _pet_dir(cohort_1, "P01")
    folder = tmp_path / "deflated"
    folder.mkdir()
    for path in sorted(src.glob("*.dcm"))[20:25]:
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(folder / path.name)
    series = load_pet(folder)
    assert series.transfer_syntax_uid == DeflatedExplicitVRLittleEndian and series.shape == (5, 128, 128)
    np.testing.assert_allclose(read_volume(series), _reference(folder), rtol=1e-6, atol=0)


def test_header_value_matches_pydicom(cohort_1: Path) -> None:
    from pipeline.dicom.values import header_value

    ds = read_series(_pet_dir(cohort_1, "P01")).headers[7]
    ref = pydicom.dcmread(ds.filename, stop_before_pixels=True)
    assert float(header_value(ds, "RescaleSlope")) == float(ref.RescaleSlope)
    assert [float(v) for v in header_value(ds, "ImagePositionPatient")] == [float(v) for v in ref.ImagePositionPatient]
    assert header_value(ds, "ImageIndex") == ref.ImageIndex == 8
    assert header_value(ds, "Units") == "BQML" and header_value(ds, "PatientComments") is None
