"""RTSTRUCT to VOI masks: known-answer rasterisation on small grids, plane rule, inclusion rules, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from pipeline.dicom.geometry import Geometry
from pipeline.errors import DicomError, InvalidInputError
from pipeline.voi.catalogue import read_voiset, write_voiset
from pipeline.voi.raster import plane_coverage, polygon_edges, span_area
from pipeline.voi.rtstruct import RT_STRUCTURE_SET_STORAGE, read_structure_set, rtstruct_to_voiset

FRAME = "1.2.826.0.1.3680043.8.498.1"
OTHER_FRAME = "1.2.826.0.1.3680043.8.498.2"

# a small PET-like grid with non-trivial spacing and origin: (z, y, x) = (6, 12, 14)
GEOMETRY = Geometry((6, 12, 14), (2.0, 2.5, 3.0), (-10.0, 20.0, 5.0), np.eye(3))


def lps(xy_index: np.ndarray | list, z_index: float, geometry: Geometry = GEOMETRY) -> np.ndarray:
    """LPS points (mm) of in-plane voxel indices (x, y) on slice-index plane ``z_index``."""
    xy = np.asarray(xy_index, dtype=float).reshape(-1, 2)
    return geometry.index_to_lps(np.column_stack([xy, np.full(len(xy), float(z_index))]))


def rect(x0: float, x1: float, y0: float, y1: float, clockwise: bool = False) -> np.ndarray:
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)
    return corners[::-1] if clockwise else corners


def circle(cx: float, cy: float, r: float, n: int = 400) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    return np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])


def write_rtstruct(path: Path, rois: list[dict], *, frame: str | None = FRAME, roi_level_frame: bool = True,
                   modality: str = "RTSTRUCT") -> Path:
    """Write a minimal RTSTRUCT; each ROI: number, name, contours [(points LPS (n, 3), type)], optional type."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RT_STRUCTURE_SET_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RT_STRUCTURE_SET_STORAGE if modality == "RTSTRUCT" else "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.StructureSetLabel = "TEST"
    if frame:
        ref = Dataset()
        ref.FrameOfReferenceUID = frame
        ds.ReferencedFrameOfReferenceSequence = [ref]
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = [], [], []
    for roi in rois:
        item = Dataset()
        item.ROINumber = roi["number"]
        item.ROIName = roi["name"]
        if roi_level_frame:
            item.ReferencedFrameOfReferenceUID = roi.get("frame", frame)
        ds.StructureSetROISequence.append(item)
        contour = Dataset()
        contour.ReferencedROINumber = roi["number"]
        items = []
        for points, kind in roi.get("contours", []):
            c = Dataset()
            c.ContourGeometricType = kind
            c.NumberOfContourPoints = len(points)
            c.ContourData = [f"{v:.6f}" for v in np.asarray(points, dtype=float).ravel()]
            items.append(c)
        contour.ContourSequence = items
        ds.ROIContourSequence.append(contour)
        obs = Dataset()
        obs.ObservationNumber = roi["number"]
        obs.ReferencedROINumber = roi["number"]
        obs.RTROIInterpretedType = roi.get("type", "ORGAN")
        ds.RTROIObservationsSequence.append(obs)
    ds.save_as(path, enforce_file_format=True)
    return path


def roi(number: int, name: str, polygons: list[tuple[np.ndarray, float]], kind: str = "CLOSED_PLANAR",
        **extra: object) -> dict:
    """ROI dict from (in-plane index polygon, slice-index plane) pairs."""
    return {"number": number, "name": name, "contours": [(lps(p, z), kind) for p, z in polygons], **extra}


def expected(cols: range, rows: range, slices: range | list[int]) -> np.ndarray:
    out = np.zeros(GEOMETRY.shape, dtype=bool)
    for k in slices:
        out[k, rows.start:rows.stop, cols.start:cols.stop] = True
    return out


def convert(path: Path, **kwargs: object):
    kwargs.setdefault("frame_of_reference_uid", FRAME)
    return rtstruct_to_voiset(path, GEOMETRY, **kwargs)


# ------------------------------------------------------------------------------------------- centre rule
def test_square_gives_exact_voxel_set_and_catalogue(tmp_path: Path) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(7, "liver", [(rect(2.3, 6.7, 3.2, 5.9), 2)])])
    voiset = convert(path)
    assert len(voiset) == 1
    np.testing.assert_array_equal(voiset.masks[0], expected(range(3, 7), range(4, 6), [2]))
    voi = voiset.vois[0]
    assert (voi.label, voi.name, voi.kind, voi.organ, voi.source) == (1, "liver", "reference", "liver",
                                                                      "rtstruct:ROINumber=7")
    assert voi.n_voxels == 8
    assert voi.volume_ml == pytest.approx(8 * 2.0 * 2.5 * 3.0 / 1000)
    assert voi.warnings == ()
    prov = voiset.provenance
    assert prov["inclusion"]["rule"] == "centre" and prov["inclusion"]["fraction_threshold"] is None
    assert prov["frame_of_reference_uid"] == FRAME and FRAME in prov["frame_of_reference_check"]
    assert prov["skipped"] == [] and prov["rtstruct"] == str(path)


def test_circle_gives_voxel_centres_within_radius(tmp_path: Path) -> None:
    cx, cy, r = 6.3, 5.6, 4.2
    yy, xx = np.mgrid[0:12, 0:14]
    distance = np.hypot(xx - cx, yy - cy)
    # no centre lies within the 400-gon's sagitta (r (1 - cos(pi/400)) = 1.3e-4 voxel) of the circle
    assert np.abs(distance - r).min() > 1e-3
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "lesion 1", [(circle(cx, cy, r), 3)], type="GTV")])
    voiset = convert(path)
    want = np.zeros(GEOMETRY.shape, dtype=bool)
    want[3] = distance <= r
    np.testing.assert_array_equal(voiset.masks[0], want)
    assert voiset.vois[0].n_voxels == int((distance <= r).sum()) == 54
    assert (voiset.vois[0].kind, voiset.vois[0].lesion_id) == ("tumour", "lesion_01")


def test_centres_on_the_contour_are_inside(tmp_path: Path) -> None:
    # corners on voxel centres (2, 3) and (5, 6): the closed rule includes the boundary centres: 4 x 4
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "spleen", [(rect(2, 5, 3, 6), 1)])])
    np.testing.assert_array_equal(convert(path).masks[0], expected(range(2, 6), range(3, 7), [1]))
    # a diamond through voxel centres: its 4 vertices and the centres on its edges are inside
    diamond = np.array([[6, 2], [9, 5], [6, 8], [3, 5]], dtype=float)
    path = write_rtstruct(tmp_path / "rs2.dcm", [roi(1, "spleen", [(diamond, 1)])])
    yy, xx = np.mgrid[0:12, 0:14]
    want = np.zeros(GEOMETRY.shape, dtype=bool)
    want[1] = np.abs(xx - 6) + np.abs(yy - 5) <= 3
    np.testing.assert_array_equal(convert(path).masks[0], want)
    assert int(want.sum()) == 25


@pytest.mark.parametrize("inner_first", [False, True])
@pytest.mark.parametrize("same_winding", [False, True])
def test_ring_hole_is_empty_even_odd(tmp_path: Path, inner_first: bool, same_winding: bool) -> None:
    outer = rect(1.5, 9.5, 1.5, 9.5)
    inner = rect(3.5, 7.5, 3.5, 7.5, clockwise=not same_winding)
    polygons = [(inner, 2), (outer, 2)] if inner_first else [(outer, 2), (inner, 2)]
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "muscle", polygons)])
    mask = convert(path).masks[0]
    want = expected(range(2, 10), range(2, 10), [2]) & ~expected(range(4, 8), range(4, 8), [2])
    np.testing.assert_array_equal(mask, want)
    assert int(mask.sum()) == 64 - 16


def test_island_in_a_hole_and_two_disjoint_contours(tmp_path: Path) -> None:
    island = [(rect(0.5, 12.5, 0.5, 10.5), 4), (rect(2.5, 10.5, 2.5, 8.5), 4), (rect(4.5, 8.5, 4.5, 6.5), 4)]
    pair = [(rect(0.5, 3.5, 0.5, 2.5), 1), (rect(8.5, 12.5, 6.5, 9.5), 1)]
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "bladder", island), roi(2, "kidney_left", pair)])
    voiset = convert(path)
    want_island = (expected(range(1, 13), range(1, 11), [4]) & ~expected(range(3, 11), range(3, 9), [4])) \
        | expected(range(5, 9), range(5, 7), [4])
    np.testing.assert_array_equal(voiset.masks[0], want_island)
    np.testing.assert_array_equal(voiset.masks[1], expected(range(1, 4), range(1, 3), [1])
                                  | expected(range(9, 13), range(7, 10), [1]))
    assert [v.n_voxels for v in voiset.vois] == [120 - 48 + 8, 6 + 12]


# ------------------------------------------------------------------------------------------- fraction rule
def test_fraction_rule_on_a_partly_covered_row(tmp_path: Path) -> None:
    # rows 2 and 3 fully covered over columns 2..8; row 4 covered over y in [3.5, y_top]
    def mask(y_top: float, **kwargs: object) -> np.ndarray:
        path = write_rtstruct(tmp_path / f"rs_{y_top}.dcm", [roi(1, "liver", [(rect(1.5, 8.5, 1.5, y_top), 0)])])
        return convert(path, **kwargs).masks[0]

    rows_23, rows_234 = expected(range(2, 9), range(2, 4), [0]), expected(range(2, 9), range(2, 5), [0])
    # exactly half of row 4 covered: 4 x 4 sub-samples count 8/16 = 50 % -> in at >= 0.5, out at 0.51
    np.testing.assert_array_equal(mask(4.0, inclusion="fraction", supersample=4), rows_234)
    np.testing.assert_array_equal(mask(4.0, inclusion="fraction", supersample=4, fraction_threshold=0.51), rows_23)
    # the default 5 x 5 samples put a sub-voxel row on the edge (on the contour = covered): 15/25 = 60 %
    np.testing.assert_array_equal(mask(4.0, inclusion="fraction"), rows_234)
    np.testing.assert_array_equal(mask(4.0, inclusion="fraction", fraction_threshold=0.61), rows_23)
    # 40 % covered (y up to 3.9): out under both rules; 60 % (y up to 4.1): in under both rules
    np.testing.assert_array_equal(mask(3.9, inclusion="fraction"), rows_23)
    np.testing.assert_array_equal(mask(3.9), rows_23)
    np.testing.assert_array_equal(mask(4.1, inclusion="fraction"), rows_234)
    np.testing.assert_array_equal(mask(4.1), rows_234)
    # a sharp wedge whose apex (1.9, 1.9) just covers the centre of voxel (x=2, y=2) but only 32.5 % of its area
    # (fine sampling): in by the centre rule, out by the fraction rule; the wedge's other voxels are not asked
    wedge = np.array([[1.9, 1.9], [6.0, 2.3], [2.3, 6.0]])
    path = write_rtstruct(tmp_path / "wedge.dcm", [roi(1, "liver", [(wedge, 0)])])
    centre = convert(path).masks[0][0]
    fraction = convert(path, inclusion="fraction").masks[0][0]
    assert centre[2, 2] and not fraction[2, 2] and fraction[3, 3]
    voiset = convert(path, inclusion="fraction", supersample=7, fraction_threshold=0.4)
    assert voiset.provenance["inclusion"] == {
        "rule": "fraction", "description": voiset.provenance["inclusion"]["description"],
        "fraction_threshold": 0.4, "supersample": 7}


# ------------------------------------------------------------------------------------------- plane rule
def test_contour_planes_between_pet_slices_nearest_plane(tmp_path: Path) -> None:
    # CT-like planes every 0.75 PET slice; plane i carries a square of half-width 1 + i/2 around (7, 6)
    planes = [0.0, 0.75, 1.5, 2.25, 3.0, 3.75]
    polygons = [(rect(7 - 1 - i / 2 - 0.2, 7 + 1 + i / 2 + 0.2, 6 - 1 - i / 2 - 0.2, 6 + 1 + i / 2 + 0.2), z)
                for i, z in enumerate(planes)]
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "liver", polygons)])
    voiset = convert(path)
    mask = voiset.masks[0]
    half_width = [int((mask[k].sum() ** 0.5 - 1) / 2) if mask[k].any() else None for k in range(6)]
    # slice k takes plane: 0 -> 0.0, 1 -> 0.75 (0.25 away, 1.5 is 0.5 away), 2 -> 2.25, 3 -> 3.0, 4 -> 3.75,
    # 5 -> none (nearest plane 1.25 slices away)
    widths = [1 + i / 2 for i in (0, 1, 3, 4, 5)]
    assert half_width[:5] == [int(w + 0.2) for w in widths] and half_width[5] is None
    assert voiset.provenance["rois"][0]["n_planes"] == 6 and voiset.provenance["rois"][0]["n_slices"] == 5
    assert voiset.vois[0].warnings == ()


def test_plane_rule_ties_and_half_thickness(tmp_path: Path) -> None:
    small, large = rect(5.5, 7.5, 5.5, 7.5), rect(2.5, 10.5, 2.5, 9.5)
    # planes 1.6 and 2.4 are equally near slice 2: the lower one wins; slices 1 and 3 are 0.6 away: empty
    path = write_rtstruct(tmp_path / "tie.dcm", [roi(1, "liver", [(small, 1.6), (large, 2.4)])])
    mask = convert(path).masks[0]
    assert [int(mask[k].sum()) for k in range(6)] == [0, 0, 4, 0, 0, 0]
    # a plane exactly half a slice from two slice centres serves both (|dz| <= 0.5 inclusive)
    path = write_rtstruct(tmp_path / "half.dcm", [roi(1, "liver", [(small, 3.5)])])
    assert [int(m.sum()) for m in convert(path).masks[0]] == [0, 0, 0, 4, 4, 0]
    # several contours on one plane (within PLANE_TOL_MM of each other) are combined even-odd
    other = rect(0.5, 1.5, 0.5, 1.5)
    path = write_rtstruct(tmp_path / "same.dcm", [roi(1, "liver", [(small, 2.0), (other, 2.0 + 0.01 / 3.0)])])
    assert [int(m.sum()) for m in convert(path).masks[0]] == [0, 0, 5, 0, 0, 0]


def test_sparse_contour_planes_warn(tmp_path: Path) -> None:
    square = rect(3.5, 6.5, 3.5, 6.5)
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "liver", [(square, 0), (square, 3)])])
    voiset = convert(path)
    assert [int(m.sum()) for m in voiset.masks[0]] == [9, 0, 0, 9, 0, 0]
    assert len(voiset.vois[0].warnings) == 1
    assert voiset.vois[0].warnings[0].startswith("2 PET slice(s) between its first and last contour plane")


def test_rotated_pet_grid_maps_contours_exactly(tmp_path: Path) -> None:
    theta = math.radians(30)
    direction = np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    geometry = Geometry((4, 10, 10), (2.0, 2.0, 3.0), (5.0, -7.0, 11.0), direction)
    points = lps(rect(2.5, 5.5, 1.5, 3.5), 1, geometry)
    path = write_rtstruct(tmp_path / "rs.dcm", [{"number": 1, "name": "liver",
                                                 "contours": [(points, "CLOSED_PLANAR")]}])
    mask = rtstruct_to_voiset(path, geometry, frame_of_reference_uid=FRAME).masks[0]
    want = np.zeros((4, 10, 10), dtype=bool)
    want[1, 2:4, 3:6] = True
    np.testing.assert_array_equal(mask, want)


# ------------------------------------------------------------------------------------------- outside the image
def test_roi_partly_outside_warns_with_area_share(tmp_path: Path) -> None:
    # x from -4.5 to 4.5, the image starts at -0.5: 4 of 9 mm-widths outside -> 44.4 %
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "liver", [(rect(-4.5, 4.5, 2.0, 6.0), 2)])])
    voiset = convert(path)
    assert voiset.vois[0].warnings == ("partly outside the field of view (44.4 % of its area)",)
    np.testing.assert_array_equal(voiset.masks[0], expected(range(0, 5), range(2, 7), [2]))
    # one of two equal contour planes beyond the last slab (z index 7 > 5.5): 50 %
    square = rect(2.5, 5.5, 2.5, 5.5)
    path = write_rtstruct(tmp_path / "rs2.dcm", [roi(1, "liver", [(square, 5), (square, 7)])])
    assert convert(path).vois[0].warnings == ("partly outside the field of view (50.0 % of its area)",)


@pytest.mark.parametrize("polygon, plane", [(rect(20.5, 25.5, 2.5, 5.5), 2), (rect(2.5, 5.5, -9.5, -2.5), 2),
                                            (rect(2.5, 5.5, 2.5, 5.5), -3), (rect(2.5, 5.5, 2.5, 5.5), 6.6)])
def test_roi_entirely_outside_is_an_error(tmp_path: Path, polygon: np.ndarray, plane: float) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(4, "lesion_02", [(polygon, plane)]), roi(5, "liver", [])])
    with pytest.raises(DicomError) as info:
        convert(path)
    message = str(info.value)
    assert str(path) in message and "ROI 'lesion_02' (ROINumber 4)" in message
    assert "entirely outside the PET image" in message and "\n" not in message


# ------------------------------------------------------------------------------------------- bad input
def test_other_frame_of_reference_is_an_error(tmp_path: Path) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "liver", [(rect(2.5, 5.5, 2.5, 5.5), 1)],
                                                     frame=OTHER_FRAME)])
    with pytest.raises(DicomError) as info:
        convert(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ReferencedFrameOfReferenceUID (3006,0024): ROI 'liver' (ROINumber 1)")
    assert OTHER_FRAME in message and FRAME in message and "register" in message and "re-export" in message
    # without the PET's frame the check is skipped, and the provenance says so
    voiset = convert(path, frame_of_reference_uid=None)
    assert voiset.provenance["frame_of_reference_check"].startswith("not checked")
    assert voiset.provenance["frame_of_reference_uid"] == OTHER_FRAME


def test_frame_from_structure_set_level_and_missing(tmp_path: Path) -> None:
    rois = [roi(1, "liver", [(rect(2.5, 5.5, 2.5, 5.5), 1)])]
    path = write_rtstruct(tmp_path / "top.dcm", rois, roi_level_frame=False)
    assert convert(path).vois[0].n_voxels == 9
    path = write_rtstruct(tmp_path / "none.dcm", rois, frame=None, roi_level_frame=False)
    with pytest.raises(DicomError, match=r"ROI 'liver' \(ROINumber 1\) names no frame of reference"):
        convert(path)


def test_empty_roi_error_when_requested_else_skipped(tmp_path: Path) -> None:
    square = rect(2.5, 5.5, 2.5, 5.5)
    rois = [roi(1, "liver", [(square, 1)]), roi(2, "spleen", []),
            roi(3, "marker", [(np.array([[4.0, 4.0]]), 2)], kind="POINT"),
            roi(4, "lesion_09", [(rect(3.1, 3.4, 3.1, 3.4), 2)])]  # smaller than a voxel, between centres
    path = write_rtstruct(tmp_path / "rs.dcm", rois)
    voiset = convert(path)
    assert [v.name for v in voiset.vois] == ["liver"]
    skipped = voiset.provenance["skipped"]
    assert [(s["roi_number"], s["name"]) for s in skipped] == [(2, "spleen"), (3, "marker"), (4, "lesion_09")]
    assert skipped[0]["reason"] == "no contours"
    assert skipped[1]["reason"].startswith("no closed contour") and "POINT" in skipped[1]["reason"]
    assert skipped[2]["reason"].startswith("covers no PET voxel")
    for name, reason in [("spleen", "no contours"), ("marker", "no closed contour"), ("lesion_09", "covers no PET")]:
        with pytest.raises(DicomError) as info:
            convert(path, roi_names=["liver", name])
        message = str(info.value)
        assert str(path) in message and f"ROI '{name}'" in message and reason in message and "\n" not in message
    # the sub-voxel ROI covers 9 % of one voxel (no centre): the fraction rule at a 5 % threshold keeps that voxel
    small = convert(path, roi_names=["lesion_09"], inclusion="fraction", fraction_threshold=0.05)
    assert small.vois[0].n_voxels == 1


def test_roi_names_select_order_and_errors(tmp_path: Path) -> None:
    square = rect(2.5, 5.5, 2.5, 5.5)
    rois = [roi(1, "liver", [(square, 1)]), roi(2, "Spleen", [(square, 2)]), roi(3, "dup", [(square, 3)]),
            roi(4, "dup", [(square, 4)])]
    path = write_rtstruct(tmp_path / "rs.dcm", rois)
    voiset = convert(path, roi_names=["spleen", "liver"])  # case-insensitive fallback, order kept
    assert [(v.label, v.name, v.source) for v in voiset.vois] == [(1, "Spleen", "rtstruct:ROINumber=2"),
                                                                   (2, "liver", "rtstruct:ROINumber=1")]
    with pytest.raises(InvalidInputError, match=r"no ROI named 'kidney'.*choose among: 'liver', 'Spleen', 'dup'"):
        convert(path, roi_names=["kidney"])
    with pytest.raises(InvalidInputError, match=r"2 ROIs are named 'dup' \(ROINumbers 3, 4\)"):
        convert(path, roi_names=["dup"])
    assert [v.source for v in convert(path).vois][2:] == ["rtstruct:ROINumber=3", "rtstruct:ROINumber=4"]


def test_interpreted_type_is_a_classification_hint(tmp_path: Path) -> None:
    square = rect(2.5, 5.5, 2.5, 5.5)
    rois = [roi(1, "Primary", [(square, 1)], type="GTV"), roi(2, "Outline", [(square, 1)], type="EXTERNAL"),
            roi(3, "blob", [(square, 1)], type="ORGAN")]
    voiset = convert(write_rtstruct(tmp_path / "rs.dcm", rois))
    assert [(v.kind, v.organ, v.lesion_id) for v in voiset.vois] == [("tumour", None, "primary"),
                                                                      ("body", "body", None), ("organ", "blob", None)]
    assert [r["interpreted_type"] for r in voiset.provenance["rois"]] == ["GTV", "EXTERNAL", "ORGAN"]


def test_non_planar_or_oblique_contours_are_errors(tmp_path: Path) -> None:
    points = lps(rect(2.5, 5.5, 2.5, 5.5), 2)
    points[2, 2] += 0.5  # one vertex 0.5 mm off the plane
    path = write_rtstruct(tmp_path / "rs.dcm", [{"number": 1, "name": "liver", "contours": [
        (lps(rect(1, 2, 1, 2), 1), "CLOSED_PLANAR"), (points, "CLOSED_PLANAR")]}])
    with pytest.raises(DicomError) as info:
        convert(path)
    message = str(info.value)
    assert "contour 2 of ROI 'liver' (ROINumber 1) is not planar or not parallel to the PET slices" in message
    assert "0.50 mm" in message and str(path) in message
    # axial contours onto a PET tilted by 10 degrees about x
    theta = math.radians(10)
    rotation = np.array([[1, 0, 0], [0, math.cos(theta), -math.sin(theta)], [0, math.sin(theta), math.cos(theta)]])
    tilted = Geometry((6, 12, 14), (2.0, 2.5, 3.0), (-10.0, 20.0, 5.0), rotation)
    path = write_rtstruct(tmp_path / "axial.dcm", [roi(1, "liver", [(rect(2.5, 5.5, 2.5, 5.5), 2)])])
    with pytest.raises(DicomError, match="not planar or not parallel to the PET slices"):
        rtstruct_to_voiset(path, tilted, frame_of_reference_uid=FRAME)


def test_not_an_rtstruct_and_bad_options(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not DICOM")
    with pytest.raises(DicomError, match="cannot be read as DICOM"):
        convert(text)
    with pytest.raises(DicomError, match="file not found"):
        convert(tmp_path / "missing.dcm")
    ct = write_rtstruct(tmp_path / "ct.dcm", [], modality="CT")
    with pytest.raises(DicomError, match=r"SOPClassUID \(0008,0016\): not an RT Structure Set"):
        convert(ct)
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "liver", [(rect(2.5, 5.5, 2.5, 5.5), 1)])])
    with pytest.raises(InvalidInputError, match="unknown inclusion rule 'area'"):
        convert(path, inclusion="area")
    with pytest.raises(InvalidInputError, match=r"fraction_threshold 0 is not in \(0, 1\]"):
        convert(path, inclusion="fraction", fraction_threshold=0)
    with pytest.raises(InvalidInputError, match="supersample 0 is not an integer"):
        convert(path, inclusion="fraction", supersample=0)


def test_odd_contour_data_length_is_an_error(tmp_path: Path) -> None:
    path = write_rtstruct(tmp_path / "rs.dcm", [roi(1, "liver", [(rect(2.5, 5.5, 2.5, 5.5), 1)])])
    ds = pydicom.dcmread(path)
    contour = ds.ROIContourSequence[0].ContourSequence[0]
    contour.ContourData = contour.ContourData[:-1]
    ds.save_as(path)
    with pytest.raises(DicomError, match=r"contour 1 of ROI 'liver' \(ROINumber 1\) has 11 numbers"):
        convert(path)


def test_provenance_survives_write_voiset(tmp_path: Path) -> None:
    rois = [roi(1, "liver", [(rect(2.5, 5.5, 2.5, 5.5), 1)]), roi(2, "spleen", [])]
    voiset = convert(write_rtstruct(tmp_path / "rs.dcm", rois), inclusion="fraction")
    back = read_voiset(write_voiset(tmp_path / "vois.nii.gz", voiset))
    np.testing.assert_array_equal(back.masks, voiset.masks)
    assert back.provenance["inclusion"]["rule"] == "fraction"
    assert back.provenance["skipped"][0]["name"] == "spleen"
    assert back.vois[0].source == "rtstruct:ROINumber=1"


def test_read_structure_set_lists_rois_lazily(tmp_path: Path) -> None:
    rois = [roi(3, "liver", [(rect(2.5, 5.5, 2.5, 5.5), 1), (rect(1, 2, 1, 2), 2)], type="ORGAN")]
    structure = read_structure_set(write_rtstruct(tmp_path / "rs.dcm", rois))
    (liver,) = structure.rois
    assert (liver.number, liver.name, liver.frame_of_reference_uid, liver.interpreted_type) == (3, "liver", FRAME,
                                                                                                "ORGAN")
    types, points = liver.contours("rs.dcm")
    assert types == ["CLOSED_PLANAR", "CLOSED_PLANAR"] and [p.shape for p in points] == [(4, 3), (4, 3)]
    np.testing.assert_allclose(points[0], lps(rect(2.5, 5.5, 2.5, 5.5), 1), atol=1e-6)


# ------------------------------------------------------------------------------------------- raster helpers
def _even_odd_reference(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Brute-force crossing-number test (points strictly off the boundary)."""
    x0, y0 = polygon[:, 0], polygon[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    px, py = points[:, 0:1], points[:, 1:2]
    straddle = (y0 > py) != (y1 > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x0 + (py - y0) * (x1 - x0) / (y1 - y0)
    return ((straddle & (px < x_cross)).sum(axis=1) % 2) == 1


def test_scanline_matches_brute_force_on_random_polygons() -> None:
    rng = np.random.default_rng(3)
    ny, nx = 23, 31
    yy, xx = np.mgrid[0:ny, 0:nx]
    centres = np.column_stack([xx.ravel(), yy.ravel()]).astype(float)
    for trial in range(40):
        n = int(rng.integers(3, 25))
        polygon = rng.uniform([-6, -6], [nx + 5, ny + 5], size=(n, 2))  # self-intersecting, partly outside
        x0, y0, x1, y1, plane = polygon_edges([polygon], [0])
        coverage = plane_coverage(x0, y0, x1, y1, plane, 1, (ny, nx))
        got = np.zeros((ny, nx), dtype=bool)
        h, w = coverage.counts.shape[1:]
        got[coverage.row0:coverage.row0 + h, coverage.col0:coverage.col0 + w] = coverage.counts[0] > 0
        want = _even_odd_reference(polygon, centres).reshape(ny, nx)
        np.testing.assert_array_equal(got, want, err_msg=f"trial {trial}")


def test_supersampled_coverage_and_span_area() -> None:
    # a triangle with legs of 4 voxels: area 8; 10 x 10 sub-samples estimate each voxel's covered share
    polygon = np.array([[0.5, 0.5], [4.5, 0.5], [0.5, 4.5]])
    x0, y0, x1, y1, plane = polygon_edges([polygon], [0])
    coverage = plane_coverage(x0, y0, x1, y1, plane, 1, (6, 6), supersample=10)
    assert coverage.samples_per_voxel == 100
    counts = np.zeros((6, 6), dtype=int)
    h, w = coverage.counts.shape[1:]
    counts[coverage.row0:coverage.row0 + h, coverage.col0:coverage.col0 + w] = coverage.counts[0]
    # voxels below the hypotenuse x + y = 5 fully covered; the hypotenuse halves the voxels centred on it, and
    # passes through 10 of their 100 sub-voxel centres, which count as covered: 55
    assert [counts[y, x] for x, y in [(1, 1), (2, 2), (1, 3)]] == [100, 100, 100]
    assert [counts[y, x] for x, y in [(1, 4), (2, 3), (3, 2), (4, 1)]] == [55, 55, 55, 55]
    assert counts.sum() == 820 and counts[0].sum() == counts[:, 0].sum() == 0
    total, inside = span_area(x0, y0, x1, y1, plane, 1, (-0.5, 2.5), (-0.5, 5.5))
    assert total[0] == pytest.approx(8.0, rel=0.02)
    assert inside[0] == pytest.approx(8.0 - 0.5 * 2 * 2, rel=0.03)  # the part x > 2.5 is a 2 x 2 triangle
