"""VOI set data model: round trip through 4D NIfTI + vois.json, overlapping VOIs kept whole, name rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.dicom.geometry import Geometry
from pipeline.errors import InvalidInputError
from pipeline.voi.catalogue import Voi, VoiSet, read_voiset, write_voiset
from pipeline.voi.names import classify

GEOMETRY = Geometry((6, 7, 8), (2.0, 2.0, 3.0), (-10.0, 5.0, 20.0), np.eye(3))


def test_round_trip_keeps_overlapping_vois(tmp_path: Path) -> None:
    liver = np.zeros(GEOMETRY.shape, bool)
    liver[1:5, 1:6, 1:7] = True
    lesion = np.zeros(GEOMETRY.shape, bool)
    lesion[2:4, 2:4, 2:4] = True  # inside the liver
    voiset = VoiSet.from_masks(GEOMETRY, [(liver, Voi(0, "liver", "reference", organ="liver")),
                                          (lesion, Voi(0, "lesion_01", "tumour", lesion_id="lesion_01"))],
                               {"source": "test"})
    write_voiset(tmp_path / "vois.nii.gz", voiset)
    back = read_voiset(tmp_path / "vois.nii.gz")
    assert [v.label for v in back.vois] == [1, 2]
    assert [v.n_voxels for v in back.vois] == [120, 8]
    assert back.vois[0].volume_ml == pytest.approx(120 * 0.012)
    assert np.array_equal(back.masks[0], liver) and np.array_equal(back.masks[1], lesion)
    assert (back.masks[0] & back.masks[1]).sum() == 8  # the lesion stays inside the liver mask
    assert back.geometry.same_grid(GEOMETRY)
    assert back.provenance == {"source": "test"}


def test_empty_set_round_trip(tmp_path: Path) -> None:
    write_voiset(tmp_path / "v.nii.gz", VoiSet.from_masks(GEOMETRY, []))
    assert len(read_voiset(tmp_path / "v.nii.gz")) == 0


def test_missing_catalogue(tmp_path: Path) -> None:
    write_voiset(tmp_path / "v.nii.gz", VoiSet.from_masks(GEOMETRY, []))
    (tmp_path / "v.json").unlink()
    with pytest.raises(InvalidInputError, match="catalogue missing"):
        read_voiset(tmp_path / "v.nii.gz")


@pytest.mark.parametrize(
    ("name", "hint", "expected"),
    [
        ("lesion_3", None, ("tumour", None, "lesion_03")),
        ("Lesion 12", "GTV", ("tumour", None, "lesion_12")),
        ("GTV_Mass_PET", None, ("tumour", None, "gtv_mass_pet")),
        ("region_1", None, ("organ", "region_1", None)),
        ("GTV_Mass_PET", "GTV", ("tumour", None, "gtv_mass_pet")),
        ("liver", "ORGAN", ("reference", "liver", None)),
        ("Blood pool", None, ("reference", "aorta", None)),
        ("Kidney_Left", "ORGAN", ("organ", "kidney_left", None)),
        ("BODY", "EXTERNAL", ("body", "body", None)),
        ("Whatever", "EXTERNAL", ("body", "body", None)),
    ],
)
def test_classify(name: str, hint: str | None, expected: tuple) -> None:
    assert classify(name, hint) == expected
