"""NIfTI masks and label maps to VOI sets: names, sidecars, grid checks, lattice copies, resampling."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from pipeline.dicom.geometry import Geometry, write_nifti
from pipeline.errors import InvalidInputError
from pipeline.policy import Policy
from pipeline.voi.masks import map_to_grid, mask_to_voiset

PET = Geometry((20, 24, 28), (4.0, 4.0, 4.0), (-50.0, -40.0, -30.0), np.eye(3))


def _label_map() -> np.ndarray:
    labels = np.zeros(PET.shape, np.uint8)
    labels[2:10, 3:15, 4:20] = 1      # 8 x 12 x 16 = 1536
    labels[5:7, 5:8, 5:9] = 3         # 2 x 3 x 4 = 24, inside label 1
    labels[12:15, 15:20, 20:25] = 7   # 3 x 5 x 5 = 75
    return labels


def test_label_map_with_names(tmp_path: Path) -> None:
    labels = _label_map()
    path = write_nifti(tmp_path / "labels.nii.gz", labels, PET)
    voiset = mask_to_voiset(path, PET, names={1: "liver", 3: "lesion_2", 7: "spleen", 9: "kidney_left"})
    assert [(v.name, v.kind, v.organ, v.lesion_id, v.n_voxels) for v in voiset.vois] == [
        ("liver", "reference", "liver", None, 1512), ("lesion_2", "tumour", None, "lesion_02", 24),
        ("spleen", "organ", "spleen", None, 75)]
    assert [v.source for v in voiset.vois] == ["mask:labels.nii.gz:label=1", "mask:labels.nii.gz:label=3",
                                               "mask:labels.nii.gz:label=7"]
    for mask, k in zip(voiset.masks, (1, 3, 7), strict=True):
        assert np.array_equal(mask, labels == k)
    assert voiset.vois[2].volume_ml == pytest.approx(75 * 0.064)
    assert voiset.provenance["mask"]["absent_labels"] == [9]
    assert voiset.provenance["mask"]["grid"] == "identity"


def test_names_from_tsv_and_json_sidecars(tmp_path: Path) -> None:
    labels = _label_map()
    write_nifti(tmp_path / "seg_dseg.nii.gz", labels, PET)
    (tmp_path / "seg_dseg.tsv").write_text("index\tname\tcolor\n0\tbackground\t#000000\n1\tliver\t#ff0000\n"
                                           "3\tlesion_1\t#00ff00\n7\tspleen\t#0000ff\n")
    assert [v.name for v in mask_to_voiset(tmp_path / "seg_dseg.nii.gz", PET).vois] == ["liver", "lesion_1", "spleen"]
    write_nifti(tmp_path / "organs.nii", labels, PET)
    (tmp_path / "organs.json").write_text(json.dumps({"labels": {"1": "liver", "3": "met 4", "7": "muscle"}}))
    voiset = mask_to_voiset(tmp_path / "organs.nii", PET)
    assert [(v.name, v.kind) for v in voiset.vois] == [("liver", "reference"), ("met 4", "tumour"),
                                                       ("muscle", "organ")]
    assert voiset.provenance["mask"]["names_from"] == "organs.json"


def test_default_names(tmp_path: Path) -> None:
    labels = _label_map()
    write_nifti(tmp_path / "map.nii.gz", labels, PET)
    assert [v.name for v in mask_to_voiset(tmp_path / "map.nii.gz", PET).vois] == ["label_1", "label_3", "label_7"]
    write_nifti(tmp_path / "kidney_left.nii.gz", (labels == 7).astype(np.float32), PET)  # float 0/1 accepted
    voiset = mask_to_voiset(tmp_path / "kidney_left.nii.gz", PET)
    assert [(v.name, v.kind, v.organ, v.n_voxels) for v in voiset.vois] == [("kidney_left", "organ", "kidney_left",
                                                                             75)]


def test_unnamed_label_is_an_error(tmp_path: Path) -> None:
    write_nifti(tmp_path / "labels.nii.gz", _label_map(), PET)
    (tmp_path / "labels.json").write_text(json.dumps({"1": "liver", "3": "lesion_1"}))
    with pytest.raises(InvalidInputError, match=r"labels\.nii\.gz: label 7 present in the image has no name"):
        mask_to_voiset(tmp_path / "labels.nii.gz", PET)


def test_wrong_grid_names_the_file(tmp_path: Path) -> None:
    other = Geometry((40, 48, 56), (2.0, 2.0, 2.0), (-51.0, -41.0, -31.0), np.eye(3))
    path = write_nifti(tmp_path / "fine_mask.nii.gz", np.ones(other.shape, np.uint8), other)
    with pytest.raises(InvalidInputError) as info:
        mask_to_voiset(path, PET)
    assert str(info.value).startswith(f"{path}: grid 2 x 2 x 2 mm (56 x 48 x 40) differs from the PET grid "
                                      "4 x 4 x 4 mm (28 x 24 x 20)")
    assert "--allow-resample" in str(info.value)


def test_resampled_with_permission(tmp_path: Path) -> None:
    # a 2 mm grid whose voxel centres include every PET voxel centre: nearest neighbour is then exact
    fine = Geometry((40, 48, 56), (2.0, 2.0, 2.0), PET.origin, np.eye(3))
    labels = np.zeros(fine.shape, np.uint8)
    labels[10:30, 8:28, 20:40] = 2  # fine indices 10..29 -> PET indices 5..14 (even fine indices): 10 per axis
    path = write_nifti(tmp_path / "fine.nii.gz", labels, fine)
    voiset = mask_to_voiset(path, PET, names={2: "lesion_1"}, policy=Policy({"voi.resample": "warn"}))
    expected = np.zeros(PET.shape, bool)
    expected[5:15, 4:14, 10:20] = True
    assert np.array_equal(voiset.masks[0], expected) and voiset.vois[0].n_voxels == 1000
    assert voiset.vois[0].warnings == (
        "resampled: nearest-neighbour resampling from 2 x 2 x 2 mm (56 x 48 x 40) onto the PET grid "
        "4 x 4 x 4 mm (28 x 24 x 20); 64.000 mL -> 64.000 mL",)


def test_cropped_and_flipped_copy_of_the_pet_lattice_is_exact(tmp_path: Path) -> None:
    labels = _label_map()
    # crop z 2..15, y 3..20, x 4..25 and store the slices in descending z (direction z = -1)
    crop = labels[2:16, 3:21, 4:26][::-1]
    origin = PET.index_to_lps([4, 3, 15])
    flipped = Geometry(crop.shape, PET.spacing, tuple(origin), np.diag([1.0, 1.0, -1.0]))
    path = write_nifti(tmp_path / "crop.nii.gz", crop, flipped)
    voiset = mask_to_voiset(path, PET)
    for mask, k in zip(voiset.masks, (1, 3, 7), strict=True):
        assert np.array_equal(mask, labels == k)
    assert voiset.provenance["mask"]["grid"] == "lattice"
    assert all(v.warnings == () for v in voiset.vois)


def test_lattice_copy_partly_outside_drops_voxels_with_a_warning(tmp_path: Path) -> None:
    shifted = Geometry(PET.shape, PET.spacing, tuple(PET.index_to_lps([3, 0, 0])), np.eye(3))  # 3 voxels along +x
    labels = np.zeros(PET.shape, np.uint8)
    labels[0:2, 0:2, 23:28] = 1  # x 23..27 on the shifted grid -> PET x 26..30: 26, 27 inside
    path = write_nifti(tmp_path / "shifted.nii.gz", labels, shifted)
    voi = mask_to_voiset(path, PET).vois[0]
    assert voi.n_voxels == 2 * 2 * 2
    assert voi.warnings == ("12 of 20 voxels outside the PET field of view dropped",)


def test_single_slice_source_ignores_its_slice_spacing() -> None:
    one = Geometry((1, 24, 28), (4.0, 4.0, 2.5), tuple(PET.index_to_lps([0, 0, 6])), np.eye(3))
    mapped = map_to_grid(np.ones(one.shape, bool), one, PET)
    assert mapped.method == "lattice"
    assert int(mapped.array.sum()) == 24 * 28 and bool(mapped.array[6].all())


@pytest.mark.parametrize(("values", "message"), [
    (np.full(PET.shape, 0.5, np.float32), "not whole numbers"),
    (np.full(PET.shape, -1, np.int16), "negative label"),
])
def test_values_that_are_not_labels(tmp_path: Path, values: np.ndarray, message: str) -> None:
    path = write_nifti(tmp_path / "bad.nii.gz", values, PET)
    with pytest.raises(InvalidInputError, match=message):
        mask_to_voiset(path, PET)


def test_4d_and_unreadable_files(tmp_path: Path) -> None:
    path = write_nifti(tmp_path / "four.nii.gz", np.zeros((2, *PET.shape), np.uint8), PET)
    with pytest.raises(InvalidInputError, match="4D image with 2 volumes"):
        mask_to_voiset(path, PET)
    (tmp_path / "junk.nii.gz").write_bytes(b"not nifti")
    with pytest.raises(InvalidInputError, match=r"junk\.nii\.gz: cannot be read as NIfTI"):
        mask_to_voiset(tmp_path / "junk.nii.gz", PET)
    with pytest.raises(InvalidInputError, match="file not found"):
        mask_to_voiset(tmp_path / "missing.nii.gz", PET)


def test_nifti_written_by_other_tools_reads_on_the_same_grid(tmp_path: Path) -> None:
    labels = _label_map()
    image = nib.Nifti1Image(np.transpose(labels, (2, 1, 0)).astype(np.int16), PET.affine_ras())
    image.set_qform(PET.affine_ras(), code=1)  # qform only, as some tools write it
    image.set_sform(None, code=0)
    nib.save(image, tmp_path / "q.nii.gz")
    assert [v.n_voxels for v in mask_to_voiset(tmp_path / "q.nii.gz", PET).vois] == [1512, 24, 75]
