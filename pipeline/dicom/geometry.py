"""Image geometry: slice ordering and checks, LPS/RAS affines, NIfTI and SimpleITK round trips.

Conventions (DESIGN.md): DICOM and SimpleITK use LPS; arrays in memory are
(z, y, x), i.e. (slice, row, column); NIfTI files written here carry the RAS
affine that nibabel expects and read back identically with SimpleITK.

DICOM semantics used: ImageOrientationPatient (0020,0037) holds the direction
cosines of the row (direction of increasing column index, "x") and of the
column (increasing row index, "y"); PixelSpacing (0028,0030) is (row spacing =
spacing along y, column spacing = spacing along x); ImagePositionPatient
(0020,0032) is the centre of the first transmitted voxel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import nibabel as nib
import numpy as np
import SimpleITK as sitk
from nibabel.spatialimages import SpatialImage

from ..errors import DicomError
from ..io import atomic_path

__all__ = ["Geometry", "SliceOrder", "sort_slices", "write_nifti", "read_nifti"]

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

# tolerances (mm and direction cosine units)
ORIENTATION_TOL = 1e-4
POSITION_TOL_MM = 1e-3
SPACING_REL_TOL = 1e-2
TILT_TOL = 1e-3


@dataclass(frozen=True, eq=False)
class Geometry:
    """Geometry of a 3D image on a regular grid.

    Attributes
    ----------
    shape : tuple of int
        Array shape (nz, ny, nx).
    spacing : tuple of float
        Voxel size (dx, dy, dz) in mm along columns, rows and slices.
    origin : tuple of float
        LPS position in mm of the centre of voxel [0, 0, 0].
    direction : numpy.ndarray
        3x3 matrix whose columns are the LPS unit vectors of the x (column),
        y (row) and z (slice) index axes.
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray

    def __eq__(self, other: object) -> bool:
        """Exact equality of shape, spacing, origin and direction (the generated one fails on the array)."""
        if not isinstance(other, Geometry):
            return NotImplemented
        return (tuple(self.shape) == tuple(other.shape) and tuple(self.spacing) == tuple(other.spacing)
                and tuple(self.origin) == tuple(other.origin)
                and np.array_equal(np.asarray(self.direction), np.asarray(other.direction)))

    __hash__ = None  # type: ignore[assignment]  # holds an array: not hashable

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel in mL (cm^3)."""
        return float(np.prod(self.spacing)) / 1000.0

    def affine_lps(self) -> np.ndarray:
        """4x4 matrix from (x, y, z) voxel indices to LPS mm."""
        affine = np.eye(4)
        affine[:3, :3] = self.direction @ np.diag(self.spacing)
        affine[:3, 3] = self.origin
        return affine

    def affine_ras(self) -> np.ndarray:
        """4x4 matrix from (x, y, z) voxel indices to RAS mm (the NIfTI affine)."""
        return LPS_TO_RAS @ self.affine_lps()

    def index_to_lps(self, index_xyz: Sequence[float] | np.ndarray) -> np.ndarray:
        """LPS position (mm) of voxel index/indices given as (x, y, z) = (column, row, slice)."""
        idx = np.asarray(index_xyz, dtype=float)
        return idx @ (self.direction @ np.diag(self.spacing)).T + np.asarray(self.origin)

    def lps_to_index(self, lps: Sequence[float] | np.ndarray) -> np.ndarray:
        """Continuous (x, y, z) voxel index of LPS point(s) in mm."""
        pts = np.asarray(lps, dtype=float) - np.asarray(self.origin)
        return pts @ np.linalg.inv(self.direction @ np.diag(self.spacing)).T

    def to_sitk(self, array_zyx: np.ndarray) -> sitk.Image:
        """Wrap a (z, y, x) array as a SimpleITK image with this geometry."""
        image = sitk.GetImageFromArray(array_zyx)
        image.SetSpacing(tuple(float(s) for s in self.spacing))
        image.SetOrigin(tuple(float(o) for o in self.origin))
        image.SetDirection(tuple(float(v) for v in np.asarray(self.direction).ravel()))
        return image

    @classmethod
    def from_sitk(cls, image: sitk.Image) -> Geometry:
        """Geometry of a 3D SimpleITK image (LPS)."""
        nx, ny, nz = image.GetSize()
        return cls((nz, ny, nx), tuple(image.GetSpacing()), tuple(image.GetOrigin()),
                   np.array(image.GetDirection(), dtype=float).reshape(3, 3))

    @classmethod
    def from_affine_ras(cls, affine: np.ndarray, shape_zyx: Sequence[int]) -> Geometry:
        """Geometry from a NIfTI (RAS) affine and a (z, y, x) shape."""
        lps = LPS_TO_RAS @ np.asarray(affine, dtype=float)
        spacing = np.linalg.norm(lps[:3, :3], axis=0)
        direction = lps[:3, :3] / spacing
        nz, ny, nx = (int(s) for s in shape_zyx[:3])
        sx, sy, sz = (float(s) for s in spacing)
        ox, oy, oz = (float(o) for o in lps[:3, 3])
        return cls((nz, ny, nx), (sx, sy, sz), (ox, oy, oz), direction)

    def same_grid(self, other: Geometry, tol_mm: float = 1e-3) -> bool:
        """True when both geometries describe the same voxel grid (positions within ``tol_mm``)."""
        if self.shape != other.shape:
            return False
        corners = np.array([[0, 0, 0], [self.shape[2] - 1, self.shape[1] - 1, self.shape[0] - 1]], dtype=float)
        return bool(np.allclose(self.index_to_lps(corners), other.index_to_lps(corners), atol=tol_mm)
                    and np.allclose(self.spacing, other.spacing, atol=tol_mm))


@dataclass(frozen=True)
class SliceOrder:
    """Outcome of :func:`sort_slices`.

    Attributes
    ----------
    order : numpy.ndarray
        Indices that sort the input slices along the slice normal (ascending).
    spacing_mm : float
        Distance between consecutive slice centres (mm); 0 for a single slice.
    normal : numpy.ndarray
        Unit slice normal (row cosine x column cosine) in LPS.
    """

    order: np.ndarray
    spacing_mm: float
    normal: np.ndarray


def sort_slices(positions: np.ndarray, orientations: np.ndarray, *, source: str = "series",
                names: Sequence[str] | None = None) -> SliceOrder:
    """Sort slices along the image normal and check that they form a regular grid.

    Parameters
    ----------
    positions : numpy.ndarray
        (n, 3) ImagePositionPatient of each slice, LPS mm.
    orientations : numpy.ndarray
        (n, 6) ImageOrientationPatient of each slice.
    source : str
        Series or folder name for error messages.
    names : sequence of str, optional
        File names of the slices, for error messages.

    Returns
    -------
    SliceOrder

    Raises
    ------
    DicomError
        When orientations differ, two slices share a position, spacing is not
        uniform (a gap), or consecutive slices are offset in plane (gantry tilt).
    """
    positions = np.asarray(positions, dtype=float).reshape(-1, 3)
    orientations = np.asarray(orientations, dtype=float).reshape(-1, 6)
    names = list(names) if names is not None else [f"slice {i}" for i in range(len(positions))]
    ref = orientations[0]
    bad = np.flatnonzero(np.abs(orientations - ref).max(axis=1) > ORIENTATION_TOL)
    if bad.size:
        raise DicomError(f"orientation {np.round(orientations[bad[0]], 5).tolist()} differs from "
                         f"{np.round(ref, 5).tolist()}", source=f"{source} ({names[bad[0]]})",
                         attribute="ImageOrientationPatient (0020,0037)",
                         remedy="the folder mixes differently oriented images; separate them into series")
    row, col = ref[:3], ref[3:]
    normal = np.cross(row, col)
    norm = np.linalg.norm(normal)
    if norm < 0.99 or abs(float(np.dot(row, col))) > 1e-3:
        raise DicomError("row and column direction cosines are not orthonormal", source=source,
                         attribute="ImageOrientationPatient (0020,0037)", remedy="the header is corrupt")
    normal = normal / norm
    distance = positions @ normal
    order = np.argsort(distance, kind="stable")
    if len(order) == 1:
        return SliceOrder(order, 0.0, normal)
    d = distance[order]
    steps = np.diff(d)
    dup = np.flatnonzero(steps < POSITION_TOL_MM)
    if dup.size:
        i = dup[0]
        raise DicomError(f"two slices at the same position {d[i]:.3f} mm along the normal "
                         f"({names[order[i]]}, {names[order[i + 1]]})", source=source,
                         attribute="ImagePositionPatient (0020,0032)",
                         remedy="remove the duplicate instance, or split a dynamic series by frame")
    spacing = float(np.median(steps))
    gaps = np.flatnonzero(np.abs(steps - spacing) > SPACING_REL_TOL * spacing)
    if gaps.size:
        i = gaps[0]
        raise DicomError(f"slice spacing not uniform: {steps[i]:.3f} mm between {d[i]:.3f} and {d[i + 1]:.3f} mm "
                         f"(median {spacing:.3f} mm); missing or extra slices", source=source,
                         attribute="ImagePositionPatient (0020,0032)",
                         remedy="re-export the complete series")
    offsets = np.diff(positions[order], axis=0)
    in_plane = offsets - np.outer(steps, normal)
    tilt = np.linalg.norm(in_plane, axis=1) / steps
    if tilt.max() > TILT_TOL:
        raise DicomError(f"slices are offset in plane by {np.degrees(np.arctan(tilt.max())):.2f} degrees "
                         "(gantry tilt or sheared stack)", source=source,
                         attribute="ImagePositionPatient (0020,0032) / GantryDetectorTilt (0018,1120)",
                         remedy="resample the series to an orthogonal grid before analysis")
    return SliceOrder(order, spacing, normal)


def write_nifti(path: str | Path, array_zyx: np.ndarray, geometry: Geometry, *,
                frame_axis_last: bool = True) -> Path:
    """Write a 3D (z, y, x) or 4D (t, z, y, x) array as NIfTI with the RAS affine, atomically.

    Parameters
    ----------
    path : path-like
        Output ``.nii`` or ``.nii.gz``.
    array_zyx : numpy.ndarray
        Image data; a 4D array has frames first in memory and is stored with
        time as the 4th NIfTI axis.
    geometry : Geometry
        Grid of the (last three) spatial axes.
    frame_axis_last : bool
        Kept for clarity: NIfTI stores time as the fourth axis.

    Returns
    -------
    Path
    """
    data = np.asarray(array_zyx)
    if data.ndim == 3:
        xyz = np.transpose(data, (2, 1, 0))
    elif data.ndim == 4 and frame_axis_last:
        xyz = np.transpose(data, (3, 2, 1, 0))
    else:
        raise ValueError(f"expected a 3D or 4D array, got shape {data.shape}")
    # a C-ordered (z, y, x) array transposed to (x, y, z) is Fortran-ordered, which is how NIfTI stores it: no copy
    image = nib.Nifti1Image(xyz, geometry.affine_ras())
    image.header.set_xyzt_units("mm", "sec")
    image.set_qform(geometry.affine_ras(), code=1)
    image.set_sform(geometry.affine_ras(), code=1)
    with atomic_path(path) as tmp:
        nib.save(image, tmp)
    return Path(path)


def read_nifti(path: str | Path) -> tuple[np.ndarray, Geometry]:
    """Read a NIfTI file written by :func:`write_nifti`: (z, y, x) or (t, z, y, x) array and geometry."""
    image = cast(SpatialImage, nib.load(str(path)))  # NIfTI images are spatial images (dataobj, affine)
    data = np.asanyarray(image.dataobj)
    if data.ndim == 3:
        zyx = np.transpose(data, (2, 1, 0))
    elif data.ndim == 4:
        zyx = np.transpose(data, (3, 2, 1, 0))
    else:
        raise ValueError(f"{path}: expected a 3D or 4D NIfTI image, got shape {data.shape}")
    return zyx, Geometry.from_affine_ras(image.affine, zyx.shape[-3:])
