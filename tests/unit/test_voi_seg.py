"""DICOM SEG to VOI set: SEGs written with highdicom on the synthetic PET and CT, read back on the PET grid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes

from pipeline.dicom.ct import load_ct
from pipeline.dicom.geometry import Geometry, read_nifti
from pipeline.errors import DicomError, InvalidInputError
from pipeline.policy import Policy
from pipeline.suv.factors import SuvOptions
from pipeline.suv.stage import run_suv
from pipeline.voi.seg import FRACTIONAL_RULE, seg_to_voiset
from pipeline.voi.spheres import sphere_mask


@pytest.fixture(scope="module")
def study(cohort_1: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """PET grid (from the SUV NIfTI, as the pipeline sees it), PET and CT headers, CT grid, truth."""
    folder = cohort_1 / "dicom" / "P01" / "baseline"
    out = tmp_path_factory.mktemp("seg")
    run_suv(folder / "PT", out / "suv.nii.gz", SuvOptions())
    _, pet_geometry = read_nifti(out / "suv.nii.gz")
    _, ct_geometry, _ = load_ct(folder / "CT")

    def headers(modality: str) -> list[pydicom.Dataset]:
        files = sorted((folder / modality).glob("*.dcm"))
        datasets = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
        return sorted(datasets, key=lambda ds: float(ds.ImagePositionPatient[2]))  # ascending z = array order

    return {"pet": pet_geometry, "ct": ct_geometry, "pet_headers": headers("PT"), "ct_headers": headers("CT"),
            "truth": json.loads((folder / "truth.json").read_text()), "out": out}


def _description(number: int, label: str, category: Any, property_type: Any) -> hd.seg.SegmentDescription:
    return hd.seg.SegmentDescription(segment_number=number, segment_label=label,
                                     segmented_property_category=category, segmented_property_type=property_type,
                                     algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL)


def _write(path: Path, sources: list[pydicom.Dataset], pixels: np.ndarray, seg_type: str,
           descriptions: list[hd.seg.SegmentDescription]) -> Path:
    seg = hd.seg.Segmentation(source_images=sources, pixel_array=pixels, segmentation_type=seg_type,
                              segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=90,
                              sop_instance_uid=hd.UID(), instance_number=1, manufacturer="petvoi tests",
                              manufacturer_model_name="test", software_versions="0", device_serial_number="0")
    seg.save_as(path)
    return path


def _lesion_and_liver(geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    lesion = sphere_mask(geometry, (-58.92, -17.19, 38.09), 28.0).mask
    liver = np.zeros(geometry.shape, bool)
    liver[40:50, 55:70, 40:60] = True  # overlaps the lesion: both must stay whole
    return lesion, liver


def test_binary_seg_on_the_pet_round_trips(study: dict[str, Any]) -> None:
    pet = study["pet"]
    lesion, liver = _lesion_and_liver(pet)
    other = np.zeros(pet.shape, bool)
    other[10, 60:62, 60:62] = True  # a single-slice segment
    pixels = np.stack([lesion, liver, other, lesion], axis=-1).astype(np.uint8)
    descriptions = [
        _description(1, "lesion_3", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm),
        _description(2, "liver", codes.SCT.Organ, codes.SCT.Liver),
        _description(3, "Segment_3", codes.SCT.Organ, codes.SCT.Liver),  # label says nothing; the type does
        _description(4, "Finding A", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm),
    ]
    path = _write(study["out"] / "binary.dcm", study["pet_headers"], pixels, "BINARY", descriptions)
    voiset = seg_to_voiset(path, pet, frame_of_reference_uid=study["truth"]["frame_of_reference_uid"])
    assert len(voiset) == 4
    for got, expected in zip(voiset.masks, (lesion, liver, other, lesion), strict=True):
        assert np.array_equal(got, expected)
    assert int(lesion.sum()) == voiset.vois[0].n_voxels == 185
    assert (voiset.masks[0] & voiset.masks[1]).sum() > 0  # overlapping segments both whole
    assert [(v.name, v.kind, v.organ, v.lesion_id, v.source) for v in voiset.vois] == [
        ("lesion_3", "tumour", None, "lesion_03", "seg:segment=1"),
        ("liver", "reference", "liver", None, "seg:segment=2"),
        ("Segment_3", "reference", "liver", None, "seg:segment=3"),
        ("Finding A", "tumour", None, "finding_a", "seg:segment=4"),
    ]
    assert all(v.warnings == () for v in voiset.vois)
    assert voiset.provenance["seg"]["segmentation_type"] == "BINARY"
    assert voiset.provenance["seg"]["grid"] == ["lattice"]  # empty frames omitted, slices reordered by highdicom


def test_fractional_seg_uses_half_the_maximum(study: dict[str, Any]) -> None:
    pet = study["pet"]
    fractions = np.zeros((*pet.shape, 1), np.float32)
    fractions[30:36, 50:60, 60:70, 0] = 0.8   # kept
    fractions[30:36, 50:60, 70:74, 0] = 0.4   # stored 102 of 255: dropped
    fractions[30:36, 50:60, 74, 0] = 0.5      # stored 128 of 255 (>= 127.5): kept
    fractions[36, 50:60, 60:70, 0] = 0.498    # stored 127: dropped
    descriptions = [_description(1, "liver", codes.SCT.Organ, codes.SCT.Liver)]
    path = _write(study["out"] / "fractional.dcm", study["pet_headers"], fractions, "FRACTIONAL", descriptions)
    voiset = seg_to_voiset(path, pet)
    expected = np.zeros(pet.shape, bool)
    expected[30:36, 50:60, 60:70] = True
    expected[30:36, 50:60, 74] = True
    assert np.array_equal(voiset.masks[0], expected)
    assert voiset.vois[0].n_voxels == 6 * 10 * 11 == 660
    provenance = voiset.provenance["seg"]
    assert (provenance["max_fractional_value"], provenance["fractional_rule"]) == (255, FRACTIONAL_RULE)


def test_labelmap_seg(study: dict[str, Any]) -> None:
    pet = study["pet"]
    labels = np.zeros(pet.shape, np.uint8)
    labels[20:30, 40:50, 40:50] = 1
    labels[20:30, 40:50, 50:55] = 2
    descriptions = [_description(1, "spleen", codes.SCT.Organ, codes.SCT.Spleen),
                    _description(2, "lesion_7", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm)]
    path = _write(study["out"] / "labelmap.dcm", study["pet_headers"], labels, "LABELMAP", descriptions)
    voiset = seg_to_voiset(path, pet)
    assert np.array_equal(voiset.masks[0], labels == 1) and np.array_equal(voiset.masks[1], labels == 2)
    assert [(v.kind, v.n_voxels) for v in voiset.vois] == [("organ", 1000), ("tumour", 500)]


def test_other_frame_of_reference_is_refused(study: dict[str, Any]) -> None:
    pet = study["pet"]
    lesion, _ = _lesion_and_liver(pet)
    descriptions = [_description(1, "lesion_3", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm)]
    path = _write(study["out"] / "for.dcm", study["pet_headers"], lesion.astype(np.uint8), "BINARY", descriptions)
    with pytest.raises(DicomError, match=r"for\.dcm: FrameOfReferenceUID \(0020,0052\): frame of reference"):
        seg_to_voiset(path, pet, frame_of_reference_uid="1.2.3.4")


def test_ct_grid_seg_needs_permission_then_is_resampled(study: dict[str, Any]) -> None:
    pet, ct = study["pet"], study["ct"]
    centre, diameter = (-60.0, -10.0, 60.0), 40.0
    on_ct = sphere_mask(ct, centre, diameter).mask
    descriptions = [_description(1, "lesion_1", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm)]
    path = _write(study["out"] / "ct_grid.dcm", study["ct_headers"], on_ct.astype(np.uint8), "BINARY", descriptions)
    with pytest.raises(InvalidInputError) as info:
        seg_to_voiset(path, pet, frame_of_reference_uid=study["truth"]["frame_of_reference_uid"])
    message = str(info.value)
    assert "ct_grid.dcm segment 1 (lesion_1)" in message and "differs from the PET grid 4 x 4 x 4 mm" in message

    voiset = seg_to_voiset(path, pet, frame_of_reference_uid=study["truth"]["frame_of_reference_uid"],
                           policy=Policy({"voi.resample": "warn"}))
    got = voiset.masks[0]
    expected = sphere_mask(pet, centre, diameter).mask  # the same sphere rasterised on the PET grid
    dice = 2.0 * (got & expected).sum() / (got.sum() + expected.sum())
    assert dice >= 0.93  # measured 0.956 (527 vs 536 voxels) for a 40 mm sphere, 4 mm PET, 1.95 x 1.95 x 3 mm CT
    # nearest neighbour moves a PET voxel centre by at most the CT half-diagonal, sqrt(0.977^2+0.977^2+1.5^2) mm:
    # every disagreement lies within that distance of the sphere surface
    z, y, x = np.nonzero(got ^ expected)
    lps = pet.index_to_lps(np.stack([x, y, z], axis=1))
    distance = np.abs(np.linalg.norm(lps - np.asarray(centre), axis=1) - diameter / 2)
    assert distance.max() <= np.hypot(np.hypot(1.953125 / 2, 1.953125 / 2), 1.5)
    assert voiset.vois[0].warnings[0].startswith("resampled: nearest-neighbour resampling from 1.953 x 1.953 x 3 mm")
    assert voiset.provenance["seg"]["grid"] == ["resampled"]


def test_not_a_seg(study: dict[str, Any], cohort_1: Path) -> None:
    pet_file = sorted((cohort_1 / "dicom" / "P01" / "baseline" / "PT").glob("*.dcm"))[0]
    with pytest.raises(DicomError, match="cannot be read as a Segmentation"):
        seg_to_voiset(pet_file, study["pet"])
    with pytest.raises(InvalidInputError, match="file not found"):
        seg_to_voiset(study["out"] / "missing.dcm", study["pet"])
