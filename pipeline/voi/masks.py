"""NIfTI binary masks and label maps as VOI sets on the PET grid, and the grid mapping shared with DICOM SEG.

Input files
-----------
A 3D NIfTI image (``.nii`` or ``.nii.gz``; a 4D file with a single volume is accepted) whose voxel
values are non-negative integers (integer-valued floats are accepted):

* a **binary mask** (values 0 and 1) gives one VOI;
* a **label map** gives one VOI per nonzero label present in the image, in increasing label order.

The file is read with nibabel through :func:`pipeline.dicom.geometry.read_nifti` (RAS affine
converted to LPS), the same reader as every other NIfTI in the pipeline.

VOI names
---------
Tried in this order (the first that applies wins):

1. the ``names`` argument, a mapping ``{label: name}``;
2. a **TSV label-name file** ``<stem>.tsv`` beside the image (``liver.nii.gz`` -> ``liver.tsv``) with the
   columns ``index`` and ``name`` (the BIDS derivatives ``*_dseg.tsv`` convention; other columns
   are ignored);
3. a **JSON label-name file** ``<stem>.json`` holding ``{"labels": {"1": "liver", ...}}`` or the flat
   mapping ``{"1": "liver", ...}``;
4. otherwise a binary mask takes the file stem (``liver.nii.gz`` -> ``liver``) and label ``k`` of a
   label map is called ``label_<k>``.

A label that has no name in a mapping or label-name file that names others is an error (a half-named
label map is more likely a wrong label-name file than an intent). Labels named but absent from the image
are listed in the provenance (``absent_labels``) and give no VOI. Kinds come from
:func:`pipeline.voi.catalogue.classify` on the name.

Grids
-----
The mask is mapped onto the PET grid by :func:`map_to_grid`:

* **same lattice** (same voxel size and axes up to order and sign, origin shifted by a whole number
  of voxels; within :data:`GRID_TOL_MM`): voxels are copied exactly; a cropped, padded, flipped or
  axis-permuted copy of the PET grid is therefore accepted as is, and voxels outside the PET field
  of view are dropped with a VOI warning;
* **another grid**: an error naming the file, unless the policy's ``voi.resample`` is ``warn``, in which case the
  labels are resampled nearest-neighbour with SimpleITK (each PET voxel takes the label of the
  source voxel nearest to its centre) and every VOI carries a warning saying so.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from ..dicom.geometry import Geometry, read_nifti
from ..errors import InvalidInputError
from ..policy import Policy
from .catalogue import Voi, VoiSet
from .names import DEFAULT_NAME_RULES, NameRule, classify

__all__ = ["GRID_TOL_MM", "GridMapping", "map_to_grid", "describe_grid", "mask_to_voiset", "label_names"]

#: Largest position difference (mm) between two voxel centres still taken as the same lattice point:
#: a hundredth of a millimetre, far below any PET voxel and above float32 rounding of NIfTI affines.
GRID_TOL_MM = 0.01


@dataclass(frozen=True)
class GridMapping:
    """Outcome of :func:`map_to_grid`.

    Attributes
    ----------
    array : numpy.ndarray
        The values on the target grid, (z, y, x), same dtype as the input.
    method : str
        ``"identity"`` (same grid), ``"lattice"`` (exact copy from a shifted, cropped, flipped or
        permuted copy of the target lattice) or ``"resampled"`` (nearest neighbour).
    description : str
        One line for warnings and provenance, e.g. ``"nearest-neighbour resampling from 1.953 x 1.953 x
        3 mm (256 x 256 x 104) onto 4 x 4 x 4 mm (128 x 128 x 80)"``.
    """

    array: np.ndarray
    method: str
    description: str


def describe_grid(geometry: Geometry) -> str:
    """Short text of a grid: voxel size (x, y, z) in mm and size (x, y, z) in voxels."""
    size = " x ".join(f"{s:.4g}" for s in geometry.spacing)
    shape = " x ".join(str(n) for n in geometry.shape[::-1])
    return f"{size} mm ({shape})"


def _lattice_transform(source: Geometry, target: Geometry, tol_mm: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Signed permutation P and integer shift t with target_index = P @ source_index + t, or None.

    Indices are (x, y, z). Source axes of length 1 only fix a position, so their voxel size is ignored.
    """
    m = np.linalg.inv(target.affine_lps()) @ source.affine_lps()
    rot = m[:3, :3].copy()
    size_xyz = np.array(source.shape[::-1])
    for j in range(3):
        if size_xyz[j] == 1:  # a single slice: only the direction of this axis matters, not its voxel size
            rot[:, j] = rot[:, j] / np.linalg.norm(rot[:, j])
    perm = np.round(rot)
    if not (np.all(np.isin(perm, (-1.0, 0.0, 1.0))) and np.all(np.abs(perm).sum(axis=0) == 1)
            and np.all(np.abs(perm).sum(axis=1) == 1)):
        return None
    shift = np.round(m[:3, 3])
    corners = np.array([[i, j, k] for i in (0, size_xyz[0] - 1) for j in (0, size_xyz[1] - 1)
                        for k in (0, size_xyz[2] - 1)], dtype=float)
    exact = corners @ m[:3, :3].T + m[:3, 3]
    lattice = corners @ perm.T + shift
    error_mm = np.abs(exact - lattice) * np.asarray(target.spacing)
    if error_mm.max() > tol_mm:
        return None
    return perm.astype(int), shift.astype(int)


def _paste(array_zyx: np.ndarray, perm: np.ndarray, shift: np.ndarray, target: Geometry) -> np.ndarray:
    """Copy ``array_zyx`` onto the target grid given target_xyz = perm @ source_xyz + shift."""
    src_xyz = np.transpose(array_zyx, (2, 1, 0))
    axes = [int(np.flatnonzero(perm[i])[0]) for i in range(3)]  # source axis feeding target axis i
    signs = [int(perm[i, axes[i]]) for i in range(3)]
    moved = np.transpose(src_xyz, axes)
    offsets = []
    for i in range(3):
        if signs[i] < 0:
            moved = np.flip(moved, axis=i)
            offsets.append(int(shift[i]) - (src_xyz.shape[axes[i]] - 1))
        else:
            offsets.append(int(shift[i]))
    out_xyz = np.zeros(target.shape[::-1], dtype=array_zyx.dtype)
    src_sl, dst_sl = [], []
    for i in range(3):
        start, n, size = offsets[i], moved.shape[i], out_xyz.shape[i]
        lo, hi = max(start, 0), min(start + n, size)
        if hi <= lo:  # entirely outside the target grid
            return np.ascontiguousarray(np.transpose(out_xyz, (2, 1, 0)))
        dst_sl.append(slice(lo, hi))
        src_sl.append(slice(lo - start, hi - start))
    out_xyz[tuple(dst_sl)] = moved[tuple(src_sl)]
    return np.ascontiguousarray(np.transpose(out_xyz, (2, 1, 0)))


def _resample_nearest(array_zyx: np.ndarray, source: Geometry, target: Geometry) -> np.ndarray:
    """Nearest-neighbour resampling of a (z, y, x) integer or boolean array with SimpleITK (0 outside)."""
    dtype = array_zyx.dtype
    work = array_zyx.astype(np.uint8) if dtype == np.bool_ else array_zyx
    moving = source.to_sitk(np.ascontiguousarray(work))
    reference = target.to_sitk(np.zeros(target.shape, dtype=np.uint8))
    out = sitk.Resample(moving, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, moving.GetPixelID())
    return sitk.GetArrayFromImage(out).astype(dtype, copy=False)


def map_to_grid(array_zyx: np.ndarray, source: Geometry, target: Geometry, *, policy: Policy | None = None,
                what: str = "mask", tol_mm: float = GRID_TOL_MM) -> GridMapping:
    """Put a mask or label array given on ``source`` onto the ``target`` (PET) grid.

    Parameters
    ----------
    array_zyx : numpy.ndarray
        Boolean or integer (z, y, x) array on ``source``.
    source, target : Geometry
        Grids (LPS, mm) of the input and of the PET image.
    policy : Policy, optional
        ``voi.resample``: refuse (default) or resample by nearest neighbour when the grids are not the
        same lattice.
    what : str
        Names the input in the error message (file name, ``SEG segment 2 of x.dcm``).
    tol_mm : float
        Largest mismatch (mm) of voxel-centre positions still taken as the same lattice.

    Returns
    -------
    GridMapping

    Raises
    ------
    InvalidInputError
        When the grids differ and the policy refuses resampling.
    """
    array_zyx = np.asarray(array_zyx)
    if array_zyx.shape != tuple(source.shape):
        raise ValueError(f"array shape {array_zyx.shape} does not match its geometry {source.shape}")
    if source.same_grid(target, tol_mm=tol_mm):
        return GridMapping(array_zyx, "identity", "same grid as the PET")
    lattice = _lattice_transform(source, target, tol_mm)
    if lattice is not None:
        return GridMapping(_paste(array_zyx, *lattice, target), "lattice",
                           f"copied from the PET lattice ({describe_grid(source)}, shifted/cropped)")
    text = f"grid {describe_grid(source)} differs from the PET grid {describe_grid(target)}"
    if (policy or Policy()).refuses("voi.resample"):
        raise InvalidInputError(text, source=what,
                                remedy="export it on the PET grid, or allow nearest-neighbour resampling with "
                                       f"{Policy.how_to_allow('voi.resample')}")
    return GridMapping(_resample_nearest(array_zyx, source, target), "resampled",
                       f"nearest-neighbour resampling from {describe_grid(source)} onto the PET grid "
                       f"{describe_grid(target)}")


def mapping_warnings(mapping: GridMapping, n_source: int, n_target: int, source_voxel_ml: float,
                     target_voxel_ml: float) -> list[str]:
    """VOI warnings of one mapped mask: resampling, voxels dropped outside the field of view, emptiness.

    Parameters
    ----------
    mapping : GridMapping
    n_source, n_target : int
        Voxels of the VOI before and after mapping.
    source_voxel_ml, target_voxel_ml : float
        Voxel volumes (mL) of the source and PET grids.
    """
    warnings = []
    if mapping.method == "resampled":
        warnings.append(f"resampled: {mapping.description}; {n_source * source_voxel_ml:.3f} mL -> "
                        f"{n_target * target_voxel_ml:.3f} mL")
        if n_source and not n_target:
            warnings.append("no PET voxel left after resampling (VOI smaller than a PET voxel or outside the "
                            "field of view)")
    elif n_target < n_source:
        warnings.append(f"{n_source - n_target} of {n_source} voxels outside the PET field of view dropped")
    if not n_source:
        warnings.append("empty: no voxel in the input")
    return warnings


# ------------------------------------------------------------------------------------------- names
def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _label_key(value: Any, source: str) -> int:
    try:
        key = int(str(value).strip())
    except ValueError:
        raise InvalidInputError(f"label {value!r} is not an integer", source=source,
                                remedy="labels are the positive integer voxel values of the label map") from None
    if key <= 0:
        raise InvalidInputError(f"label {key} must be positive", source=source,
                                remedy="0 is the background of a label map")
    return key


def label_names(image_path: str | Path) -> tuple[dict[int, str], str] | None:
    """Label names from the label-name file beside a NIfTI label map (see the module docstring).

    Parameters
    ----------
    image_path : path-like
        The label map; ``<stem>.tsv`` (columns ``index``, ``name``) then ``<stem>.json`` are looked for.

    Returns
    -------
    tuple or None
        (``{label: name}``, label-name file), or None without one.

    Raises
    ------
    InvalidInputError
        When a label-name file exists but cannot be read as described.
    """
    path = Path(image_path)
    tsv = path.with_name(_stem(path) + ".tsv")
    if tsv.is_file():
        with tsv.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if not rows or not {"index", "name"} <= set(rows[0]):
            raise InvalidInputError("label-name file needs the columns 'index' and 'name'", source=str(tsv),
                                    remedy="write one row per label: index<TAB>name (BIDS dseg.tsv)")
        names = {_label_key(r["index"], str(tsv)): str(r["name"]).strip() for r in rows if r["index"] != "0"}
        return names, tsv.name
    js = path.with_name(_stem(path) + ".json")
    if js.is_file():
        try:
            data = json.loads(js.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"label-name file cannot be read as JSON ({exc})", source=str(js),
                                    remedy='write {"labels": {"1": "liver", ...}}') from None
        if isinstance(data, dict) and isinstance(data.get("labels"), dict):
            data = data["labels"]
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise InvalidInputError("label-name file is not a {label: name} mapping", source=str(js),
                                    remedy='write {"labels": {"1": "liver", ...}}')
        return {_label_key(k, str(js)): v.strip() for k, v in data.items() if str(k).strip() != "0"}, js.name
    return None


def _read_labels(path: Path) -> tuple[np.ndarray, Geometry]:
    try:
        data, geometry = read_nifti(path)
    except FileNotFoundError:
        raise InvalidInputError("file not found", source=str(path), remedy="give an existing NIfTI mask") from None
    except Exception as exc:  # nibabel raises several types for unreadable files
        raise InvalidInputError(f"cannot be read as NIfTI ({type(exc).__name__}: {exc})", source=str(path),
                                remedy="give a .nii or .nii.gz binary mask or label map") from None
    if data.ndim == 4:
        if data.shape[0] != 1:
            raise InvalidInputError(f"4D image with {data.shape[0]} volumes", source=str(path),
                                    remedy="give a 3D binary mask or label map (one label per VOI)")
        data = data[0]
    data = np.asarray(data)
    if data.dtype == bool:
        return data.astype(np.uint8), geometry
    if np.issubdtype(data.dtype, np.floating):
        finite = np.isfinite(data)
        if not finite.all() or not np.array_equal(data, np.round(data)):
            raise InvalidInputError("voxel values are not whole numbers", source=str(path),
                                    remedy="a mask holds 0/1 and a label map non-negative integer labels; "
                                           "threshold probability maps first")
    elif not np.issubdtype(data.dtype, np.integer):
        raise InvalidInputError(f"voxel type {data.dtype} is not a mask", source=str(path),
                                remedy="give an integer binary mask or label map")
    if data.size and data.min() < 0:
        raise InvalidInputError(f"negative label {data.min():g}", source=str(path),
                                remedy="labels are non-negative integers, 0 the background")
    labels = data.astype(np.int64) if data.size and data.max() > np.iinfo(np.uint16).max else data.astype(np.uint16)
    return labels, geometry


def mask_to_voiset(path: str | Path, geometry: Geometry, *, names: Mapping[int, str] | None = None,
                   rules: Sequence[NameRule] = DEFAULT_NAME_RULES, policy: Policy | None = None) -> VoiSet:
    """VOIs from a NIfTI binary mask (one VOI) or label map (one VOI per nonzero label) on the PET grid.

    Parameters
    ----------
    path : path-like
        ``.nii`` / ``.nii.gz`` file; see the module docstring for the accepted content and label-name files.
    geometry : Geometry
        The PET grid (LPS, mm).
    names : mapping of int to str, optional
        ``{label: VOI name}``; overrides any label-name file.
    rules : sequence of NameRule
        Name-to-kind rules for :func:`~pipeline.voi.catalogue.classify`.
    policy : Policy, optional
        ``voi.resample: warn`` resamples a mask on another grid by nearest neighbour (each VOI then
        carries a warning); the default refuses it.

    Returns
    -------
    VoiSet
        One VOI per label present, in increasing label order; ``source`` is
        ``mask:<file name>:label=<k>``; volumes in mL on the PET grid.

    Raises
    ------
    InvalidInputError
        Unreadable file, non-integer or negative values, a 4D image, an unnamed label when names are
        given, or a grid other than the PET grid that the policy refuses (naming the file).
    """
    path = Path(path)
    labels, source_geometry = _read_labels(path)
    present = [int(v) for v in np.unique(labels) if v != 0]
    name_map: dict[int, str]
    name_source: str | None
    if names is not None:
        name_map, name_source = {int(k): str(v) for k, v in names.items()}, "argument"
    else:
        found = label_names(path)
        name_map, name_source = found if found is not None else ({}, None)
    if name_source is not None:
        unnamed = [k for k in present if k not in name_map]
        if unnamed:
            raise InvalidInputError(f"label {unnamed[0]} present in the image has no name in the {name_source} "
                                    f"(named: {sorted(name_map)})", source=str(path),
                                    remedy="name every label, or give no names to get label_<k>")
    elif present == [1]:
        name_map = {1: _stem(path)}
    else:
        name_map = {k: f"label_{k}" for k in present}

    mapping = map_to_grid(labels, source_geometry, geometry, policy=policy, what=str(path))
    source_counts = np.bincount(labels.ravel().astype(np.int64)) if labels.size else np.zeros(1, np.int64)
    items = []
    for k in present:
        mask = mapping.array == k
        name = name_map[k]
        kind, organ, lesion_id = classify(name, None, rules)
        warnings = mapping_warnings(mapping, int(source_counts[k]), int(mask.sum()),
                                    source_geometry.voxel_volume_ml, geometry.voxel_volume_ml)
        items.append((mask, Voi(0, name, kind, lesion_id, organ, f"mask:{path.name}:label={k}",
                                warnings=tuple(warnings))))
    provenance: dict[str, Any] = {
        "mask": {"file": path.name, "labels": present, "names_from": name_source or "default",
                 "grid": mapping.method, "grid_note": mapping.description,
                 "absent_labels": sorted(k for k in name_map if k not in present)},
    }
    return VoiSet.from_masks(geometry, items, provenance)
