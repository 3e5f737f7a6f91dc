"""Dynamic PET: the synthetic writer, grouping into (t, z, y, x), the frame table, bad time frames."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from pipeline.dicom.pet import load_pet, read_volume
from pipeline.errors import DicomError
from pipeline.synthetic.dicom_common import da_str, dt_str, tm_str
from pipeline.synthetic.dynamic import DEFAULT_FRAME_DURATIONS_S, DynamicPet, write_dynamic_pet
from pipeline.synthetic.vendors import average_count_time_s

DURATIONS = np.array(DEFAULT_FRAME_DURATIONS_S)


@pytest.fixture(scope="module")
def dynamic(tmp_path_factory: pytest.TempPathFactory) -> DynamicPet:
    return write_dynamic_pet(tmp_path_factory.mktemp("dynamic") / "PT", seed=5)


@pytest.fixture()
def dynamic_copy(dynamic: DynamicPet, tmp_path: Path) -> Path:
    return Path(shutil.copytree(dynamic.paths[0].parent, tmp_path / "PT"))


def _frame_files(folder: Path, frame: int) -> list[Path]:
    return sorted(folder.glob(f"PT_F{frame:02d}_*.dcm"))


def _edit_frame(folder: Path, frame: int, edit: callable) -> None:
    for path in _frame_files(folder, frame):
        ds = pydicom.dcmread(path)
        edit(ds)
        ds.save_as(path)


def test_writer_truth(dynamic: DynamicPet) -> None:
    assert len(dynamic.paths) == 11 * 12 and dynamic.n_frames == 11
    np.testing.assert_array_equal(dynamic.frame_durations_s, DURATIONS)
    assert dynamic.frame_starts_s.tolist() == [0, 10, 20, 30, 40, 50, 60, 120, 180, 240, 540]
    t_ave = np.array([average_count_time_s(d, 6586.2) for d in DURATIONS])
    np.testing.assert_allclose(dynamic.frame_reference_time_ms, 1000 * (dynamic.frame_starts_s + t_ave), rtol=1e-12)
    assert (np.abs(dynamic.frame_reference_time_ms / 1000 - dynamic.frame_mid_s) < 0.5).all()  # T_ave ~ mid
    ds = pydicom.dcmread(dynamic.paths[15])  # frame 2, slice 4
    assert (ds.Units, ds.DecayCorrection, int(ds.NumberOfTimeSlices)) == ("BQML", "START", 11)
    assert int(ds.ActualFrameDuration) == 10000 and int(ds.ImageIndex) == 16
    assert float(ds.FrameReferenceTime) == dynamic.frame_reference_time_ms[1]
    slopes = dynamic.slopes()
    assert slopes.shape == (11, 12) and len(np.unique(slopes)) > 120  # per frame and slice


def test_grouped_into_time_frames(dynamic: DynamicPet) -> None:
    series = load_pet(dynamic.paths[0].parent)
    assert series.is_dynamic and series.n_time == 11 and series.shape == (11, 12, 24, 24)
    assert series.frame_index.tolist() == [[t, z] for t in range(11) for z in range(12)]
    np.testing.assert_array_equal(series.rescale_slopes, dynamic.slopes().ravel())
    volume = read_volume(series)
    np.testing.assert_allclose(volume, dynamic.rescaled(), rtol=1e-6, atol=0)
    means = volume[:, dynamic.mask].mean(axis=1)
    np.testing.assert_allclose(means, dynamic.activity_bq_ml, rtol=1e-4)
    assert series.geometry.shape == (12, 24, 24) and series.geometry.spacing == (4.0, 4.0, 4.0)


def test_frame_table(dynamic: DynamicPet) -> None:
    table = load_pet(dynamic.paths[0].parent).frame_table
    assert table["frame"].tolist() == list(range(11))
    np.testing.assert_allclose(table["duration_s"], DURATIONS)
    np.testing.assert_allclose(table["start_s"], dynamic.frame_starts_s)
    np.testing.assert_allclose(table["mid_s"], dynamic.frame_mid_s)
    np.testing.assert_allclose(table["end_s"], dynamic.frame_starts_s + DURATIONS)
    np.testing.assert_allclose(table["frame_reference_time_ms"], dynamic.frame_reference_time_ms)
    assert (table["n_slices"] == 12).all()
    assert table["start"].iloc[0] == "2025-06-02T09:00:00+01:00"
    assert table["start"].iloc[-1] == "2025-06-02T09:09:00+01:00"


def test_per_frame_factors(dynamic: DynamicPet) -> None:
    series = load_pet(dynamic.paths[0].parent)
    per_time = np.linspace(0.5, 1.5, 11)
    factors = per_time[series.frame_index[:, 0]]
    volume = read_volume(series, factors=factors)
    np.testing.assert_allclose(volume, dynamic.rescaled() * per_time[:, None, None, None], rtol=1e-6)


def test_custom_frames_and_activity(tmp_path: Path) -> None:
    dyn = write_dynamic_pet(tmp_path / "PT", frame_durations_s=[30.0, 90.0], activity_bq_ml=[1000.0, 4000.0])
    series = load_pet(tmp_path / "PT")
    assert series.shape == (2, 12, 24, 24)
    volume = read_volume(series)
    np.testing.assert_allclose(volume[:, dyn.mask].mean(axis=1), [1000.0, 4000.0], rtol=1e-4)
    assert float(volume[:, ~dyn.mask].max()) == 0.0
    with pytest.raises(ValueError, match="one positive value per frame"):
        write_dynamic_pet(tmp_path / "bad", frame_durations_s=[30.0], activity_bq_ml=[1.0, 2.0])


def test_grouping_without_frame_reference_time(dynamic: DynamicPet, dynamic_copy: Path) -> None:
    for t in range(1, 12):
        _edit_frame(dynamic_copy, t, lambda ds: delattr(ds, "FrameReferenceTime"))
    series = load_pet(dynamic_copy)  # grouped by acquisition start
    assert series.n_time == 11
    np.testing.assert_allclose(read_volume(series), dynamic.rescaled(), rtol=1e-6)
    assert series.frame_table["frame_reference_time_ms"].isna().all()


def test_grouping_by_image_index_only(dynamic: DynamicPet, dynamic_copy: Path) -> None:
    def strip(ds: pydicom.Dataset) -> None:
        for keyword in ("FrameReferenceTime", "AcquisitionDateTime", "AcquisitionTime", "AcquisitionDate"):
            delattr(ds, keyword)

    for t in range(1, 12):
        _edit_frame(dynamic_copy, t, strip)
    series = load_pet(dynamic_copy)
    assert series.n_time == 11
    np.testing.assert_allclose(read_volume(series), dynamic.rescaled(), rtol=1e-6)
    assert series.frame_table["start"].isna().all()
    np.testing.assert_allclose(series.frame_table["duration_s"], DURATIONS)


def test_frame_missing_a_slice(dynamic_copy: Path) -> None:
    _frame_files(dynamic_copy, 4)[5].unlink()
    with pytest.raises(DicomError, match=r"time frame 4 .* has 11 of the series' 12 slice positions") as err:
        load_pet(dynamic_copy)
    assert "missing 1 slice position(s)" in str(err.value)


def test_missing_time_frame(dynamic_copy: Path) -> None:
    for path in _frame_files(dynamic_copy, 11):
        path.unlink()
    with pytest.raises(DicomError, match="found 10 time frames but NumberOfTimeSlices is 11"):
        load_pet(dynamic_copy)


def test_overlapping_frames(dynamic: DynamicPet, dynamic_copy: Path) -> None:
    start = dynamic.scan_start + timedelta(seconds=55)  # frame 7 (60 s) made to start inside frame 6

    def shift(ds: pydicom.Dataset) -> None:
        ds.AcquisitionDate, ds.AcquisitionTime, ds.AcquisitionDateTime = da_str(start), tm_str(start), dt_str(start)

    _edit_frame(dynamic_copy, 7, shift)
    with pytest.raises(DicomError, match=r"time frame 7 .* starts 5\.000 s before the end of time frame 6"):
        load_pet(dynamic_copy)


def test_frames_out_of_order(dynamic: DynamicPet, dynamic_copy: Path) -> None:
    start = dynamic.scan_start + timedelta(seconds=700)  # frame 3 acquired after frame 11, but FRT says 25 s

    def shift(ds: pydicom.Dataset) -> None:
        ds.AcquisitionDate, ds.AcquisitionTime, ds.AcquisitionDateTime = da_str(start), tm_str(start), dt_str(start)

    _edit_frame(dynamic_copy, 3, shift)
    with pytest.raises(DicomError, match=r"out of order in time"):
        load_pet(dynamic_copy)


def test_duplicated_frame_slice_refused(dynamic_copy: Path) -> None:
    src = _frame_files(dynamic_copy, 2)[3]
    copy = dynamic_copy / "PT_F02_extra.dcm"
    shutil.copy(src, copy)
    ds = pydicom.dcmread(copy)
    ds.SOPInstanceUID = generate_uid()
    ds.save_as(copy)
    with pytest.raises(DicomError, match="same position"):
        load_pet(dynamic_copy)


def test_legacy_converted_dynamic_equals_classic(dynamic: DynamicPet, tmp_path: Path) -> None:
    from highdicom.legacy import LegacyConvertedEnhancedPETImage

    datasets = [pydicom.dcmread(p) for p in dynamic.paths]
    image = LegacyConvertedEnhancedPETImage(datasets, series_instance_uid=generate_uid(), series_number=92,
                                            sop_instance_uid=generate_uid(), instance_number=1)
    (tmp_path / "lce").mkdir()
    image.save_as(tmp_path / "lce" / "dyn.dcm")
    lce = load_pet(tmp_path / "lce")
    classic = load_pet(dynamic.paths[0].parent)
    assert lce.shape == (11, 12, 24, 24)
    np.testing.assert_array_equal(read_volume(lce), read_volume(classic))
    assert lce.frame_table.equals(classic.frame_table)
