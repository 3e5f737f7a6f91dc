"""Sphere VOIs: analytic volume, discretisation error, field-of-view handling, reference helpers, specs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pipeline.dicom.geometry import Geometry
from pipeline.errors import InvalidInputError
from pipeline.voi.specs import build_sphere_vois, parse_sphere_specs
from pipeline.voi.spheres import (
    Sphere,
    blood_pool_sphere,
    liver_reference_sphere,
    sphere_mask,
    sphere_vois,
    sphere_volume_ml,
)

GRID_2MM = Geometry((50, 50, 50), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), np.eye(3))


def test_analytic_volume_of_the_percist_liver_sphere() -> None:
    assert sphere_volume_ml(30.0) == pytest.approx(14.137, abs=5e-4)
    assert sphere_volume_ml(30.0) == pytest.approx(math.pi * 30.0**3 / 6.0 / 1000.0, rel=1e-15)
    assert sphere_volume_ml(12.407) == pytest.approx(1.0, abs=1e-4)  # the SUVpeak sphere, 1 cm3


def test_voxel_count_on_voxel_centre_matches_lattice_count() -> None:
    # centre on a voxel centre: voxels (i, j, k) with (2i)^2 + (2j)^2 + (2k)^2 <= 15^2, i.e. i^2 + j^2 + k^2 <= 56
    expected = sum(1 for i in range(-8, 9) for j in range(-8, 9) for k in range(-8, 9) if i * i + j * j + k * k <= 56)
    assert expected == 1791
    result = sphere_mask(GRID_2MM, (50.0, 50.0, 50.0), 30.0)
    assert int(result.mask.sum()) == 1791
    assert result.fraction_inside == 1.0
    assert result.mask.sum() * GRID_2MM.voxel_volume_ml == pytest.approx(14.328)


@pytest.mark.parametrize("offset", [(0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (1.0, 0.0, 0.0), (0.5, 0.3, 0.9),
                                    (0.2, 0.6, 0.4), (0.7, 0.1, 0.0)])
def test_discretisation_error_of_a_3cm_sphere_on_a_2mm_grid(offset: tuple[float, float, float]) -> None:
    # stated in the module docstring: within -1.8 % / +1.9 % for any centre; assert 2.5 %
    centre = (50.0 + offset[0], 50.0 + offset[1], 50.0 + offset[2])
    volume = sphere_mask(GRID_2MM, centre, 30.0).mask.sum() * GRID_2MM.voxel_volume_ml
    assert abs(volume / sphere_volume_ml(30.0) - 1.0) < 0.025


def test_fraction_inclusion_is_closer_for_an_off_centre_sphere() -> None:
    centre = (51.0, 50.0, 50.0)  # worst case of centre inclusion: +1.86 %
    centre_rule = sphere_mask(GRID_2MM, centre, 30.0).mask.sum() * 0.008
    half_rule = sphere_mask(GRID_2MM, centre, 30.0, inclusion="fraction").mask.sum() * 0.008
    assert centre_rule == pytest.approx(14.4)
    assert half_rule == pytest.approx(14.0)
    assert abs(half_rule / 14.137166941154067 - 1) < abs(centre_rule / 14.137166941154067 - 1)


def test_oblique_grid_gives_the_same_count() -> None:
    angle = np.radians(30.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0.0, 0.0, 1.0]])
    oblique = Geometry((50, 50, 50), (2.0, 2.0, 2.0), (10.0, -20.0, 5.0), rotation)
    centre = oblique.index_to_lps([25, 25, 25])
    assert int(sphere_mask(oblique, centre, 30.0).mask.sum()) == 1791


def test_mean_inside_a_uniform_region_is_that_value() -> None:
    image = np.full(GRID_2MM.shape, 0.7)
    image[10:40, 10:40, 10:40] = 2.224  # a uniform "liver" 60 mm wide
    voiset = liver_reference_sphere(GRID_2MM, (50.0, 50.0, 50.0))
    values = image[voiset.masks[0]]
    assert values.mean() == pytest.approx(2.224, rel=1e-15)
    assert values.min() == values.max() == 2.224
    voi = voiset.vois[0]
    assert (voi.name, voi.kind, voi.organ) == ("liver_ref", "reference", "liver")
    assert voi.n_voxels == 1791 and voi.volume_ml == pytest.approx(14.328)
    assert "analytic=14.1372 mL" in voi.source and voi.warnings == ()


def test_blood_pool_sphere() -> None:
    voiset = blood_pool_sphere(GRID_2MM, (50.0, 50.0, 50.0))
    voi = voiset.vois[0]
    # 1 cm on a 2 mm grid centred on a voxel: i^2 + j^2 + k^2 <= 6.25 -> 81 voxels
    assert (voi.kind, voi.organ, voi.n_voxels) == ("reference", "aorta", 81)
    assert voiset.provenance["spheres"][0]["diameter_mm"] == 10.0


def test_partly_outside_warns_with_the_fraction_inside() -> None:
    grid = Geometry((50, 50, 50), (2.0, 2.0, 2.0), (0.0, 0.0, 1.0), np.eye(3))
    # the image's lower z edge is at z = 0 mm (voxel 0 centred at 1 mm); centre on that edge: exactly half inside
    result = sphere_mask(grid, (50.0, 50.0, 0.0), 30.0)
    assert result.n_voxels_full == 1800 and int(result.mask.sum()) == 900
    assert result.fraction_inside == 0.5
    voiset = sphere_vois([Sphere("liver_ref", (50.0, 50.0, 0.0), 30.0)], grid)
    assert voiset.vois[0].n_voxels == 900
    assert voiset.vois[0].warnings == ("partly outside the image: 50.0% of its 1800 voxels inside (900 kept)",)


def test_entirely_outside_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="entirely outside the image"):
        sphere_vois([Sphere("liver_ref", (50.0, 50.0, -40.0), 30.0, spec="liver_ref:50,50,-40:30")], GRID_2MM)
    with pytest.raises(InvalidInputError, match="liver_ref:50,50,-40:30"):
        sphere_vois([Sphere("liver_ref", (50.0, 50.0, -40.0), 30.0, spec="liver_ref:50,50,-40:30")], GRID_2MM)


def test_sphere_without_a_voxel_centre_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="contains no voxel"):
        sphere_mask(GRID_2MM, (51.0, 51.0, 51.0), 1.0)


@pytest.mark.parametrize(("diameter", "inclusion"), [(0.0, "centre"), (-3.0, "centre"), (float("nan"), "centre"),
                                                     (10.0, "half")])
def test_invalid_sphere_arguments(diameter: float, inclusion: str) -> None:
    with pytest.raises(InvalidInputError):
        sphere_mask(GRID_2MM, (50.0, 50.0, 50.0), diameter, inclusion=inclusion)


# ------------------------------------------------------------------------------------------- specs
def test_sphere_specs_parse_to_exact_values() -> None:
    specs = parse_sphere_specs("liver_ref:-60,20,-110:30:reference; blood_pool : 20.5,43,1e1 : 10")
    assert specs == [
        Sphere("liver_ref", (-60.0, 20.0, -110.0), 30.0, "reference", "liver_ref:-60,20,-110:30:reference"),
        Sphere("blood_pool", (20.5, 43.0, 10.0), 10.0, None, "blood_pool : 20.5,43,1e1 : 10"),
    ]
    assert parse_sphere_specs(["a:1,2,3:4", "b:5,6,7:8:TUMOUR"])[1].kind == "tumour"


@pytest.mark.parametrize("spec", [
    "x:1,2:30", "x:1,2,3", "x:1,2,3:0", "x:1,2,3:-5", "x:1,2,3:30:lesion", "x:a,2,3:30", ":1,2,3:30",
    "x:1,2,3:30:reference:extra", "x:1,2,3:inf", "x=y:1,2,3:30", "x:1,2,3,4:30",
])
def test_malformed_sphere_spec_is_named(spec: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_sphere_specs(f"ok:0,0,0:10;{spec}")
    assert repr(spec) in str(info.value)
    assert "NAME:X,Y,Z:D" in str(info.value) or "KIND" in str(info.value)


def test_empty_and_duplicate_sphere_specs() -> None:
    with pytest.raises(InvalidInputError, match="empty spec"):
        parse_sphere_specs(" ; ")
    with pytest.raises(InvalidInputError, match="'a' given twice"):
        parse_sphere_specs("a:1,2,3:4;a:5,6,7:8")


def test_build_sphere_vois_kinds() -> None:
    voiset = build_sphere_vois(parse_sphere_specs("liver_ref:50,50,50:30;hot:40,40,40:10:tumour;"
                                                  "ref1:60,60,60:10:reference;blood pool:30,30,30:10"), GRID_2MM)
    assert [(v.name, v.kind, v.organ, v.lesion_id) for v in voiset.vois] == [
        ("liver_ref", "reference", "liver", None), ("hot", "tumour", None, "hot"),
        ("ref1", "reference", None, None), ("blood pool", "reference", "aorta", None)]
    assert [v.n_voxels for v in voiset.vois] == [1791, 81, 81, 81]
