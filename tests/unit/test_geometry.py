"""Geometry: NIfTI round trips land voxels on their DICOM LPS positions; slice-ordering errors."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from pipeline.dicom.geometry import Geometry, read_nifti, sort_slices, write_nifti
from pipeline.dicom.pet import load_pet, read_volume
from pipeline.errors import DicomError
from pipeline.synthetic.dicom_common import ds_str

VOXELS_XYZ = [(0, 0, 0), (5, 7, 11), (127, 3, 79), (64, 100, 40)]


def _dicom_lps(folder: Path) -> callable:
    """Independent LPS position of voxel (x, y, z) from the files' own headers (pydicom only)."""
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.glob("*.dcm"))]
    ori = np.array(headers[0].ImageOrientationPatient, dtype=float)
    row, col = ori[:3], ori[3:]
    normal = np.cross(row, col)
    headers.sort(key=lambda h: float(np.dot(np.array(h.ImagePositionPatient, dtype=float), normal)))
    dy, dx = (float(v) for v in headers[0].PixelSpacing)

    def lps(x: int, y: int, z: int) -> np.ndarray:
        return np.array(headers[z].ImagePositionPatient, dtype=float) + x * dx * row + y * dy * col

    return lps


def _check_nifti(path: Path, volume: np.ndarray, lps: callable) -> None:
    image = nib.load(str(path))
    data = np.asanyarray(image.dataobj)
    itk = sitk.ReadImage(str(path))
    for x, y, z in VOXELS_XYZ:
        expected = lps(x, y, z)
        ras = image.affine @ np.array([x, y, z, 1.0])
        np.testing.assert_allclose(ras[:3] * np.array([-1.0, -1.0, 1.0]), expected, atol=1e-4)
        np.testing.assert_allclose(itk.TransformIndexToPhysicalPoint((x, y, z)), expected, atol=1e-4)
        assert data[x, y, z] == volume[z, y, x]
        assert itk.GetPixel(x, y, z) == volume[z, y, x]


def test_nifti_voxel_lands_on_dicom_position_synthetic_pet(cohort_1: Path, tmp_path: Path) -> None:
    folder = cohort_1 / "dicom" / "P01" / "baseline" / "PT"
    series = load_pet(folder)
    volume = read_volume(series)
    path = write_nifti(tmp_path / "pet.nii.gz", volume, series.geometry)
    _check_nifti(path, volume, _dicom_lps(folder))
    back, geometry = read_nifti(path)
    assert geometry.same_grid(series.geometry, tol_mm=1e-4)
    assert np.array_equal(back, volume)


def _rotation(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = math.radians(angle_deg)
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k


def _make_oblique(src: Path, dst: Path) -> Path:
    """Rewrite a synthetic PET series with an oblique orientation (rotated 23 degrees)."""
    shutil.copytree(src, dst)
    rot = _rotation(np.array([1.0, 0.8, 0.3]), 23.0)
    row, col = rot[:, 0], rot[:, 1]
    normal = np.cross(row, col)
    origin = np.array([-200.5, -180.25, -150.125])
    for path in sorted(dst.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        k = int(ds.InstanceNumber) - 1
        ds.ImageOrientationPatient = [ds_str(v) for v in (*row, *col)]
        ds.ImagePositionPatient = [ds_str(v) for v in origin + k * 4.0 * normal]
        ds.save_as(path)
    return dst


def test_nifti_voxel_lands_on_dicom_position_oblique(cohort_1: Path, tmp_path: Path) -> None:
    folder = _make_oblique(cohort_1 / "dicom" / "P01" / "baseline" / "PT", tmp_path / "oblique")
    series = load_pet(folder)
    volume = read_volume(series)
    assert abs(np.linalg.det(series.geometry.direction) - 1.0) < 1e-9
    path = write_nifti(tmp_path / "oblique.nii.gz", volume, series.geometry)
    _check_nifti(path, volume, _dicom_lps(folder))
    # SimpleITK's own DICOM reader agrees on the grid
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    itk = reader.Execute()
    np.testing.assert_allclose(itk.GetOrigin(), series.geometry.origin, atol=1e-4)
    np.testing.assert_allclose(itk.GetSpacing(), series.geometry.spacing, atol=1e-4)
    np.testing.assert_allclose(np.array(itk.GetDirection()).reshape(3, 3), series.geometry.direction, atol=1e-6)


def test_geometry_equality_with_direction_array() -> None:
    a = Geometry((2, 3, 4), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3))
    assert a == Geometry((2, 3, 4), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3))
    assert a != Geometry((2, 3, 4), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), -np.eye(3))


# --------------------------------------------------------------------------- sort_slices

AXIAL = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]


def _stack(z: list[float], shift_y: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    positions = np.array([[0.0, shift_y * i, zi] for i, zi in enumerate(z)])
    return positions, np.tile(AXIAL, (len(z), 1))


def test_sort_slices_orders_along_normal() -> None:
    positions, orientations = _stack([8.0, 0.0, 12.0, 4.0])
    order = sort_slices(positions, orientations)
    assert order.order.tolist() == [1, 3, 0, 2]
    assert order.spacing_mm == pytest.approx(4.0)


def test_sort_slices_duplicate() -> None:
    positions, orientations = _stack([0.0, 4.0, 4.0, 8.0])
    with pytest.raises(DicomError, match=r"same position 4\.000 mm") as err:
        sort_slices(positions, orientations, source="S1", names=["a", "b", "c", "d"])
    assert err.value.attribute == "ImagePositionPatient (0020,0032)"
    assert "(b, c)" in str(err.value)


def test_sort_slices_gap() -> None:
    positions, orientations = _stack([0.0, 4.0, 12.0, 16.0, 20.0])
    with pytest.raises(DicomError, match=r"8\.000 mm between 4\.000 and 12\.000 mm") as err:
        sort_slices(positions, orientations, source="S1")
    assert err.value.source == "S1"


def test_sort_slices_tilt() -> None:
    positions, orientations = _stack([0.0, 4.0, 8.0, 12.0], shift_y=1.0)
    with pytest.raises(DicomError, match=r"offset in plane by 14\.04 degrees") as err:
        sort_slices(positions, orientations, source="S1")
    assert "GantryDetectorTilt" in str(err.value.attribute)


def test_sort_slices_mixed_orientation() -> None:
    positions, orientations = _stack([0.0, 4.0, 8.0])
    orientations[2] = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]
    with pytest.raises(DicomError, match="differs from") as err:
        sort_slices(positions, orientations, source="S1", names=["a", "b", "c"])
    assert err.value.attribute == "ImageOrientationPatient (0020,0037)"
    assert err.value.source == "S1 (c)"
