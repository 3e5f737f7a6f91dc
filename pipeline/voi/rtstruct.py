"""DICOM RT Structure Set (RTSTRUCT) to a VOI set on the PET grid.

Each ROI of the structure set becomes one VOI mask on the PET grid, named by its ROIName
(3006,0026), classified by :func:`~pipeline.voi.catalogue.classify` with its
RTROIInterpretedType (3006,00A4) as a hint, with source ``rtstruct:ROINumber=N``.

Geometry
--------
Contours may be drawn on the PET or on another image of the same frame of reference (the
CT): their points (LPS mm) are mapped to continuous PET voxel indices with
:meth:`Geometry.lps_to_index`. Only ``CLOSED_PLANAR`` (and ``CLOSED_PLANAR_XOR``) contours
describe areas; ``POINT`` and ``OPEN_*`` contours and contours of fewer than 3 points are
ignored (with a VOI warning). Every closed contour must be planar and parallel to the PET
slices: its points may spread at most :data:`PLANE_TOL_MM` along the PET slice normal, else
:class:`~pipeline.errors.DicomError`. Contours whose planes lie within
:data:`PLANE_TOL_MM` of each other share a *contour plane* (position = mean).

Plane rule (contours between PET slices)
----------------------------------------
PET slice ``k`` (centre at slice index ``k``) takes the contour plane nearest to its centre
if that plane lies within half a slice thickness (``|z_plane - k| <= 0.5`` slice, both
ends included), else the slice stays empty. When two planes are equally near (within
1e-6 slice) the one with the lower slice-index coordinate wins. Exactly one plane is used
per slice, never a union of planes, and all contours on that plane are combined. A plane
may serve several slices (contours sparser than PET slices) and a plane may serve none
(contours denser than PET slices, e.g. 3 mm CT planes on 4 mm PET slices). A PET slice
between the ROI's first and last plane that gets no plane is reported as a VOI warning.
With 3 mm CT planes on 4 mm PET slices a slice's plane is up to 1.5 mm from its centre, so
the masks differ from the analytic shapes at the caps (measured in
``tests/integration/test_rtstruct_reference.py``).

Fill rule
---------
All contours of a plane are combined by the even-odd (XOR) rule: a contour inside another
is a hole, disjoint contours are all filled, orientation does not matter
(see :mod:`pipeline.voi.raster` for the sampling convention on boundaries).

Inclusion rule (recorded in the VOI set's provenance)
-----------------------------------------------------
``"centre"`` (default)
    A voxel belongs to the VOI when its centre is inside the combined contours of the
    plane its slice takes, or on one of them (as in the synthetic truth, and so that a
    contour traced through the centres of a mask's outermost voxels gives that mask back).
``"fraction"``
    A voxel belongs to the VOI when the fraction of its in-plane area covered is at least
    ``fraction_threshold`` (default 0.5), the area being estimated on
    ``supersample x supersample`` sub-voxel centres (default 5 x 5 = 25 samples, so >= 13),
    sub-voxel centres on a contour counting as covered (with an odd ``supersample`` an
    exactly half-covered voxel thus counts (s + 1) / 2 of s sub-rows: in at 0.5).

ROIs that cannot give a mask
----------------------------
An ROI without contours, without closed contours, or covering no PET voxel is an error when
it was asked for in ``roi_names``; when ``roi_names`` is None it is left out and listed in
``provenance["skipped"]`` with the reason. An ROI lying entirely outside the PET image is
always an error (wrong frame of reference or registration). An ROI partly outside gets the
VOI warning "partly outside the field of view (x % of its area)": the share of its contour
area (all contour planes, even-odd) outside the PET slab ``[-0.5, n - 0.5]`` in x, y and z
(reported from 0.05 %; also in ``provenance["rois"][i]["outside_pct"]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ..dicom.geometry import Geometry
from ..errors import DicomError, InvalidInputError, MissingAttributeError
from .catalogue import Voi, VoiSet
from .names import DEFAULT_NAME_RULES, NameRule, classify
from .raster import plane_coverage, polygon_edges, span_area

__all__ = [
    "RT_STRUCTURE_SET_STORAGE", "INCLUSION_RULES", "PLANE_RULE", "PLANE_TOL_MM", "RoiContours", "StructureSet",
    "read_structure_set", "rtstruct_to_voiset",
]

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"

#: Largest spread (mm) of a contour's points along the PET slice normal, and largest distance between
#: contours that share a plane.
PLANE_TOL_MM = 0.05
#: Distances (in slices) closer than this are equal when choosing the nearest plane.
TIE_TOL = 1e-6
#: Contour types that enclose an area.
CLOSED_TYPES = ("CLOSED_PLANAR", "CLOSED_PLANAR_XOR")
#: Largest supersampling factor of the fraction rule (counts are uint16).
MAX_SUPERSAMPLE = 64

INCLUSION_RULES = {
    "centre": "voxel centre inside the even-odd combination of the contours of the plane its PET slice takes "
              "or on one of them",
    "fraction": "in-plane area fraction covered by the even-odd combination of the contours >= fraction_threshold, "
                "estimated on supersample x supersample sub-voxel centres (on a contour = covered)",
}
PLANE_RULE = ("each PET slice takes the single contour plane nearest to its centre within half a slice thickness "
              "(|dz| <= 0.5 slice, ties to the lower slice index), all contours on that plane combined by the "
              "even-odd rule; no plane within half a slice thickness leaves the slice empty")

_TAG_CONTOUR_TYPE = 0x30060042
_TAG_CONTOUR_DATA = 0x30060050
_FOR_ATTR = "ReferencedFrameOfReferenceUID (3006,0024)"
_FOR_REMEDY = ("register the structure set to the PET, or re-export it on the PET's frame of reference "
               "(from the PET or the CT of the same PET/CT acquisition)")


@dataclass
class RoiContours:
    """One ROI of a structure set.

    Attributes
    ----------
    number : int
        ROINumber (3006,0022).
    name : str
        ROIName (3006,0026).
    frame_of_reference_uid : str or None
        The ROI's ReferencedFrameOfReferenceUID, else the structure set's only referenced frame.
    interpreted_type : str or None
        RTROIInterpretedType (3006,00A4) of its observation, if any.
    contour_items : list of pydicom.dataset.Dataset
        ContourSequence (3006,0040) items (contour data parsed on demand by :meth:`contours`).
    """

    number: int
    name: str
    frame_of_reference_uid: str | None
    interpreted_type: str | None
    contour_items: list[Dataset] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``ROI 'name' (ROINumber N)`` for messages."""
        return f"ROI '{self.name}' (ROINumber {self.number})"

    def contours(self, source: str) -> tuple[list[str], list[NDArray[np.float64]]]:
        """Geometric type and (n, 3) LPS points (mm) of every contour, in ContourSequence order.

        Raises
        ------
        DicomError
            When ContourData does not hold a multiple of 3 numbers.
        """
        types: list[str] = []
        texts: list[bytes] = []
        parsed: dict[int, NDArray[np.float64]] = {}
        for i, item in enumerate(self.contour_items):
            types.append(_text(item, _TAG_CONTOUR_TYPE).upper())
            element = item.get_item(_TAG_CONTOUR_DATA)
            value = None if element is None else element.value
            if isinstance(value, bytes):  # raw DS string: parsed in one go below
                texts.append(value)
            else:
                texts.append(b"")
                if value is not None and value != "":
                    values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
                    parsed[i] = np.asarray([float(v) for v in values], dtype=np.float64)
        counts = [t.count(b"\\") + 1 if t.strip() else 0 for t in texts]
        flat = np.array(b"\\".join(t for t in texts if t.strip()).split(b"\\"), dtype=np.float64) if any(counts) \
            else np.zeros(0)
        points: list[NDArray[np.float64]] = []
        start = 0
        for i, n in enumerate(counts):
            coords = parsed.get(i, flat[start:start + n])
            start += n
            if coords.size % 3:
                raise DicomError(f"contour {i + 1} of {self.label} has {coords.size} numbers, not a multiple of 3",
                                 source=source, attribute="ContourData (3006,0050)",
                                 remedy="the structure set is corrupt; re-export it")
            points.append(coords.reshape(-1, 3))
        return types, points


@dataclass
class StructureSet:
    """The header of an RTSTRUCT and its ROIs (contours not yet parsed).

    Attributes
    ----------
    path : Path
        The file.
    sop_instance_uid, label : str
        SOPInstanceUID and StructureSetLabel.
    frame_of_reference_uids : list of str
        FrameOfReferenceUIDs of ReferencedFrameOfReferenceSequence (3006,0010).
    rois : list of RoiContours
        In StructureSetROISequence order.
    """

    path: Path
    sop_instance_uid: str
    label: str
    frame_of_reference_uids: list[str]
    rois: list[RoiContours]


def _text(item: Dataset, tag: int) -> str:
    element = item.get_item(tag)
    if element is None or element.value is None:
        return ""
    value = element.value
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return str(value).strip(" \x00")


def read_structure_set(path: str | Path) -> StructureSet:
    """Read the ROIs of an RTSTRUCT file (contour data stays raw until asked for).

    Parameters
    ----------
    path : path-like
        RT Structure Set Storage file.

    Returns
    -------
    StructureSet

    Raises
    ------
    DicomError
        When the file is missing, not DICOM, not an RTSTRUCT, or lacks StructureSetROISequence.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise DicomError("file not found", source=source, remedy="give the path of the RTSTRUCT file")
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise DicomError(f"cannot be read as DICOM ({exc})", source=source,
                         remedy="give an RT Structure Set (RTSTRUCT) DICOM file") from None
    sop_class = str(ds.get("SOPClassUID", ""))
    modality = str(ds.get("Modality", ""))
    if sop_class != RT_STRUCTURE_SET_STORAGE and modality != "RTSTRUCT":
        raise DicomError(f"not an RT Structure Set (SOPClassUID {sop_class or 'missing'}, Modality "
                         f"{modality or 'missing'})", source=source, attribute="SOPClassUID (0008,0016)",
                         remedy="give the RTSTRUCT file of the study (a SEG or a NIfTI mask has its own option)")
    if "StructureSetROISequence" not in ds:
        raise MissingAttributeError("missing", source=source, attribute="StructureSetROISequence (3006,0020)",
                                    remedy="the structure set is incomplete; re-export it")
    frames = [str(f.get("FrameOfReferenceUID", "")) for f in ds.get("ReferencedFrameOfReferenceSequence", [])]
    frames = [f for f in frames if f]
    observed: dict[int, str] = {}
    for obs in ds.get("RTROIObservationsSequence", []):
        if "ReferencedROINumber" in obs:
            kind = str(obs.get("RTROIInterpretedType", "") or "").strip()
            observed.setdefault(int(obs.ReferencedROINumber), kind)
    contour_items: dict[int, list[Dataset]] = {}
    for roi_contour in ds.get("ROIContourSequence", []):
        if "ReferencedROINumber" in roi_contour:
            items = list(roi_contour.get("ContourSequence", []) or [])
            contour_items.setdefault(int(roi_contour.ReferencedROINumber), []).extend(items)
    rois: list[RoiContours] = []
    seen: set[int] = set()
    for roi in ds.StructureSetROISequence:
        if "ROINumber" not in roi:
            raise MissingAttributeError("an ROI has no ROINumber", source=source, attribute="ROINumber (3006,0022)",
                                        remedy="the structure set is corrupt; re-export it")
        number = int(roi.ROINumber)
        if number in seen:
            raise DicomError(f"ROINumber {number} appears twice", source=source, attribute="ROINumber (3006,0022)",
                             remedy="the structure set is corrupt; re-export it")
        seen.add(number)
        frame = str(roi.get("ReferencedFrameOfReferenceUID", "") or "").strip() or (
            frames[0] if len(set(frames)) == 1 else None)
        rois.append(RoiContours(number, str(roi.get("ROIName", "") or f"ROI_{number}").strip(), frame,
                                observed.get(number) or None, contour_items.get(number, [])))
    return StructureSet(path, str(ds.get("SOPInstanceUID", "")), str(ds.get("StructureSetLabel", "") or ""),
                        frames, rois)


# ------------------------------------------------------------------------------------------- one ROI
@dataclass
class _RoiMask:
    """A VOI mask stored compactly: plane masks on a bounding box and the plane each slice takes."""

    planes: NDArray[np.bool_]  # (n_used_planes, h, w)
    slices: NDArray[np.int64]  # PET slices that take a plane
    plane_of_slice: NDArray[np.int64]  # index into ``planes`` for each of ``slices``
    row0: int
    col0: int

    @cached_property
    def n_voxels(self) -> int:
        """Voxels in the mask."""
        per_plane = self.planes.reshape(len(self.planes), -1).sum(axis=1)
        return int(per_plane[self.plane_of_slice].sum())

    def paint(self, out: NDArray[np.bool_]) -> None:
        """Write the mask into a (z, y, x) array of zeros."""
        h, w = self.planes.shape[1:]
        out[self.slices, self.row0:self.row0 + h, self.col0:self.col0 + w] = self.planes[self.plane_of_slice]


@dataclass
class _RoiResult:
    mask: _RoiMask | None
    warnings: list[str]
    info: dict[str, Any]
    skip_reason: str | None = None


def _plane_choice(plane_z: NDArray[np.float64], n_slices: int) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Index of the plane each slice takes (planes sorted ascending) and whether it takes one."""
    k = np.arange(n_slices, dtype=np.float64)
    distance = np.abs(plane_z[None, :] - k[:, None])
    nearest = distance.min(axis=1)
    choice = np.argmax(distance <= nearest[:, None] + TIE_TOL, axis=1)  # first = lowest z among equals
    return choice.astype(np.int64), nearest <= 0.5 + TIE_TOL


def _outside_share(index: NDArray[np.float64], sizes: NDArray[np.int64], plane_of: NDArray[np.int64],
                   plane_z: NDArray[np.float64], edges: tuple[NDArray[Any], ...], geometry: Geometry) -> float:
    """Percentage of the contour area (all planes, even-odd) outside the PET slab [-0.5, n - 0.5] in x, y, z."""
    nz, ny, nx = (int(n) for n in geometry.shape)
    off_x = (index[:, 0] < -0.5) | (index[:, 0] > nx - 0.5)
    off_y = (index[:, 1] < -0.5) | (index[:, 1] > ny - 0.5)
    plane_outside = (plane_z < -0.5) | (plane_z > nz - 0.5)
    if not (off_x.any() or off_y.any() or plane_outside.any()):
        return 0.0
    x0, y0, x1, y1, edge_plane = edges
    total, inside = span_area(x0, y0, x1, y1, edge_plane, len(plane_z), (-0.5, nx - 0.5), (-0.5, ny - 0.5))
    inside[plane_outside] = 0.0
    if total.sum() > 0:
        return float(100.0 * (1.0 - inside.sum() / total.sum()))
    # degenerate contours (thinner than a quarter voxel): share of the vertices outside instead
    return float(100.0 * (np.repeat(plane_outside[plane_of], sizes) | off_x | off_y).mean())


def _rasterise_roi(roi: RoiContours, geometry: Geometry, source: str, inclusion: str, fraction_threshold: float,
                   supersample: int) -> _RoiResult:
    nz, ny, nx = (int(n) for n in geometry.shape)
    dz = float(geometry.spacing[2])
    types, points = roi.contours(source)
    warnings: list[str] = []
    info: dict[str, Any] = {"roi_number": roi.number, "name": roi.name, "n_contours": len(points)}
    if not points:
        return _RoiResult(None, warnings, info, "no contours")
    keep = [i for i, (t, p) in enumerate(zip(types, points, strict=True)) if t in CLOSED_TYPES and len(p) >= 3]
    ignored = len(points) - len(keep)
    if not keep:
        kinds = sorted({t or "missing" for t in types})
        return _RoiResult(None, warnings, info, f"no closed contour of 3 or more points (types {', '.join(kinds)})")
    if ignored:
        warnings.append(f"{ignored} of {len(points)} contours ignored (not CLOSED_PLANAR or fewer than 3 points)")
    polygons = [points[i] for i in keep]
    sizes = np.array([len(p) for p in polygons], dtype=np.int64)
    starts = np.cumsum(sizes) - sizes
    index = geometry.lps_to_index(np.concatenate(polygons))
    z = index[:, 2]
    spread_mm = (np.maximum.reduceat(z, starts) - np.minimum.reduceat(z, starts)) * dz
    bad = np.flatnonzero(spread_mm > PLANE_TOL_MM)
    if bad.size:
        i = int(bad[0])
        raise DicomError(f"contour {keep[i] + 1} of {roi.label} is not planar or not parallel to the PET slices "
                         f"(its points spread {spread_mm[i]:.2f} mm along the PET slice normal)", source=source,
                         attribute="ContourData (3006,0050)",
                         remedy="contours must lie on planes parallel to the PET slices: resample the structure on "
                                "the PET or CT slice planes (axial) in the contouring software")
    contour_z = np.add.reduceat(z, starts) / sizes
    # group contours into planes
    order = np.argsort(contour_z, kind="stable")
    gaps = np.diff(contour_z[order]) > PLANE_TOL_MM / dz
    plane_of_sorted = np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)
    plane_of = np.empty(len(polygons), dtype=np.int64)
    plane_of[order] = plane_of_sorted
    n_planes = int(plane_of_sorted[-1]) + 1
    plane_z = np.bincount(plane_of, weights=contour_z, minlength=n_planes) / np.bincount(plane_of,
                                                                                      minlength=n_planes)
    choice, takes = _plane_choice(plane_z, nz)
    xy = [index[a:a + n, :2] for a, n in zip(starts, sizes, strict=True)]
    x0, y0, x1, y1, edge_plane = polygon_edges(xy, plane_of)
    info.update(n_planes=n_planes, n_slices=int(takes.sum()))

    # share of the area outside the PET field of view
    outside_pct = _outside_share(index, sizes, plane_of, plane_z, (x0, y0, x1, y1, edge_plane), geometry)
    if outside_pct >= 100.0 - 1e-9:
        lo, hi = index.min(axis=0), index.max(axis=0)
        raise DicomError(f"{roi.label} lies entirely outside the PET image (contour voxel indices x "
                         f"{lo[0]:.1f}..{hi[0]:.1f}, y {lo[1]:.1f}..{hi[1]:.1f}, z {lo[2]:.1f}..{hi[2]:.1f}; "
                         f"image {nx} x {ny} x {nz})", source=source, attribute="ContourData (3006,0050)",
                         remedy="check that the structure set belongs to this PET (same patient, frame of "
                                "reference and registration)")
    if outside_pct >= 0.05:
        warnings.append(f"partly outside the field of view ({outside_pct:.1f} % of its area)")
    info["outside_pct"] = round(outside_pct, 2)

    # slices between the first and last plane that take no plane
    span = (np.arange(nz) >= plane_z.min()) & (np.arange(nz) <= plane_z.max())
    gaps_in = int((span & ~takes).sum())
    if gaps_in:
        warnings.append(f"{gaps_in} PET slice(s) between its first and last contour plane have no contour plane "
                        "within half a slice thickness and are left empty (contours sparser than PET slices)")

    # rasterise the planes that some slice takes
    used = np.unique(choice[takes])
    compact = np.full(n_planes, -1, dtype=np.int64)
    compact[used] = np.arange(used.size)
    keep_edges = compact[edge_plane] >= 0
    s = 1 if inclusion == "centre" else int(supersample)
    coverage = plane_coverage(x0[keep_edges], y0[keep_edges], x1[keep_edges], y1[keep_edges],
                              compact[edge_plane[keep_edges]], int(used.size), (ny, nx), supersample=s)
    mask = None
    if not coverage.empty:
        if inclusion == "centre":
            selected = coverage.counts > 0
        else:
            selected = coverage.counts >= fraction_threshold * coverage.samples_per_voxel - 1e-9
        slices = np.flatnonzero(takes)
        mask = _RoiMask(selected, slices, compact[choice[slices]], coverage.row0, coverage.col0)
    if mask is None or mask.n_voxels == 0:
        return _RoiResult(None, warnings, info, "covers no PET voxel (smaller than a voxel, or between PET slices, "
                                                f"under the '{inclusion}' inclusion rule)")
    return _RoiResult(mask, warnings, info)


# ------------------------------------------------------------------------------------------- public entry
def _select(structure: StructureSet, roi_names: Sequence[str] | None) -> list[RoiContours]:
    if roi_names is None:
        return list(structure.rois)
    available = [r.name for r in structure.rois]
    chosen: list[RoiContours] = []
    for wanted in dict.fromkeys(str(n).strip() for n in roi_names):
        hits = [r for r in structure.rois if r.name == wanted] or \
               [r for r in structure.rois if r.name.casefold() == wanted.casefold()]
        if not hits:
            raise InvalidInputError(f"no ROI named '{wanted}'", source=str(structure.path),
                                    attribute="ROIName (3006,0026)",
                                    remedy=f"choose among: {', '.join(repr(a) for a in available) or 'none'}")
        if len(hits) > 1:
            numbers = ", ".join(str(r.number) for r in hits)
            raise InvalidInputError(f"{len(hits)} ROIs are named '{wanted}' (ROINumbers {numbers})",
                                    source=str(structure.path), attribute="ROIName (3006,0026)",
                                    remedy="rename the ROIs in the contouring software so that names are unique")
        chosen.extend(hits)
    return chosen


def _check_frame(structure: StructureSet, rois: Sequence[RoiContours], frame_of_reference_uid: str) -> None:
    source = str(structure.path)
    for roi in rois:
        if roi.frame_of_reference_uid is None:
            raise MissingAttributeError(f"{roi.label} names no frame of reference, so it cannot be checked against "
                                        f"the PET's FrameOfReferenceUID {frame_of_reference_uid}", source=source,
                                        attribute=_FOR_ATTR, remedy=_FOR_REMEDY)
        if roi.frame_of_reference_uid != frame_of_reference_uid:
            raise DicomError(f"{roi.label} is on frame of reference {roi.frame_of_reference_uid}, not the PET's "
                             f"FrameOfReferenceUID {frame_of_reference_uid}", source=source, attribute=_FOR_ATTR,
                             remedy=_FOR_REMEDY)


def rtstruct_to_voiset(rtstruct_path: str | Path, geometry: Geometry, *, frame_of_reference_uid: str | None,
                       rules: Sequence[NameRule] = DEFAULT_NAME_RULES, inclusion: str = "centre",
                       fraction_threshold: float = 0.5, supersample: int = 5,
                       roi_names: Sequence[str] | None = None) -> VoiSet:
    """Rasterise the ROIs of an RTSTRUCT onto the PET grid.

    Parameters
    ----------
    rtstruct_path : path-like
        RT Structure Set file; its contours may be drawn on the PET or on another image (CT) of
        the same frame of reference.
    geometry : Geometry
        The PET grid (``load_pet(folder).geometry``).
    frame_of_reference_uid : str or None
        The PET's FrameOfReferenceUID (0020,0052); every ROI used must be on it. None skips the
        check (recorded in the provenance).
    rules : sequence of NameRule
        Name-to-kind rules for :func:`~pipeline.voi.catalogue.classify`.
    inclusion : {"centre", "fraction"}
        Voxel inclusion rule (module docstring).
    fraction_threshold : float
        Area fraction (0 < f <= 1) of the ``"fraction"`` rule.
    supersample : int
        Sub-voxel samples per axis of the ``"fraction"`` rule (1 .. 64).
    roi_names : sequence of str, optional
        ROIs to convert, in this order (exact ROIName, else case-insensitive); None converts
        every usable ROI in structure-set order.

    Returns
    -------
    VoiSet
        One VOI per ROI; provenance holds the file, frame of reference, inclusion and plane
        rules, per-ROI plane counts and the skipped ROIs.

    Raises
    ------
    DicomError
        Unreadable or non-RTSTRUCT file, frame of reference other than the PET's, non-planar or
        oblique contours, an ROI entirely outside the PET image, or a requested ROI that gives
        no mask (no contours, no closed contour, no voxel covered).
    InvalidInputError
        Bad options, or a requested ROI name that is missing or ambiguous.
    """
    source = str(rtstruct_path)
    if inclusion not in INCLUSION_RULES:
        raise InvalidInputError(f"unknown inclusion rule '{inclusion}'", source=source, attribute="inclusion",
                                remedy="use 'centre' or 'fraction'")
    if not (0.0 < float(fraction_threshold) <= 1.0) or math.isnan(float(fraction_threshold)):
        raise InvalidInputError(f"fraction_threshold {fraction_threshold} is not in (0, 1]", source=source,
                                attribute="fraction_threshold", remedy="give an area fraction such as 0.5")
    if int(supersample) != supersample or not 1 <= int(supersample) <= MAX_SUPERSAMPLE:
        raise InvalidInputError(f"supersample {supersample} is not an integer in 1..{MAX_SUPERSAMPLE}", source=source,
                                attribute="supersample", remedy="use e.g. 5 (5 x 5 sub-voxel samples)")
    structure = read_structure_set(rtstruct_path)
    rois = _select(structure, roi_names)
    if frame_of_reference_uid is not None:
        _check_frame(structure, rois, str(frame_of_reference_uid))
        frame_check = f"every ROI on the PET's FrameOfReferenceUID {frame_of_reference_uid}"
    else:
        frame_check = "not checked (no PET FrameOfReferenceUID given)"
    explicit = roi_names is not None
    items: list[tuple[_RoiMask, Voi]] = []
    skipped: list[dict[str, Any]] = []
    roi_info: list[dict[str, Any]] = []
    for roi in rois:
        result = _rasterise_roi(roi, geometry, source, inclusion, float(fraction_threshold), int(supersample))
        if result.mask is None:
            if explicit:
                raise DicomError(f"{roi.label} gives no mask: {result.skip_reason}", source=source,
                                 attribute="ROIContourSequence (3006,0039)",
                                 remedy="contour the ROI on the PET or CT, or leave it out of the requested ROIs"
                                        + (", or use inclusion='fraction'" if "voxel" in str(result.skip_reason)
                                           else ""))
            skipped.append({"roi_number": roi.number, "name": roi.name, "reason": result.skip_reason})
            continue
        kind, organ, lesion_id = classify(roi.name, roi.interpreted_type, rules)
        items.append((result.mask, Voi(label=0, name=roi.name, kind=kind, lesion_id=lesion_id, organ=organ,
                                       source=f"rtstruct:ROINumber={roi.number}", warnings=tuple(result.warnings))))
        roi_info.append({**result.info, "interpreted_type": roi.interpreted_type})
    frames = sorted({r.frame_of_reference_uid for r in rois if r.frame_of_reference_uid})
    provenance: dict[str, Any] = {
        "source": "rtstruct",
        "rtstruct": source,
        "rtstruct_sop_instance_uid": structure.sop_instance_uid,
        "structure_set_label": structure.label,
        "frame_of_reference_uid": frames[0] if len(frames) == 1 else frames,
        "frame_of_reference_check": frame_check,
        "inclusion": {
            "rule": inclusion,
            "description": INCLUSION_RULES[inclusion],
            "fraction_threshold": float(fraction_threshold) if inclusion == "fraction" else None,
            "supersample": int(supersample) if inclusion == "fraction" else None,
        },
        "plane_rule": PLANE_RULE,
        "fill_rule": "even-odd (XOR) over all closed contours of a plane: inner contours are holes",
        "rois": roi_info,
        "skipped": skipped,
    }
    # as VoiSet.from_masks, without stacking full-size copies: paint each VOI straight into the 4D array
    masks = np.zeros((len(items), *(int(n) for n in geometry.shape)), dtype=bool)
    vois: list[Voi] = []
    for i, (roi_mask, voi) in enumerate(items):
        roi_mask.paint(masks[i])
        n = roi_mask.n_voxels
        vois.append(replace(voi, label=i + 1, n_voxels=n, volume_ml=n * geometry.voxel_volume_ml))
    return VoiSet(geometry, masks, vois, provenance)
