"""Threshold VOIs on an analytic phantom (hot sphere in a warm background), PERCIST, specs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.dicom.geometry import Geometry, read_nifti
from pipeline.errors import InvalidInputError
from pipeline.suv.factors import SuvOptions
from pipeline.suv.stage import run_suv
from pipeline.voi.catalogue import Voi, VoiSet
from pipeline.voi.specs import ThresholdSpec, build_threshold_vois, parse_threshold_specs
from pipeline.voi.threshold import (
    fixed_threshold_vois,
    keep_components,
    percent_max_vois,
    percist_reference,
    percist_vois,
    threshold_mask,
)

GEOMETRY = Geometry((40, 40, 40), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), np.eye(3))
CENTRE_IDX = (20, 20, 20)  # (z, y, x) of the hot sphere centre; LPS (40, 40, 40) mm
RADIUS_MM = 8.0


def _ball(centre_zyx: tuple[int, int, int], radius_mm: float) -> np.ndarray:
    z, y, x = np.indices(GEOMETRY.shape)
    d2 = ((z - centre_zyx[0]) ** 2 + (y - centre_zyx[1]) ** 2 + (x - centre_zyx[2]) ** 2) * 4.0
    return d2 <= radius_mm**2


HOT = _ball(CENTRE_IDX, RADIUS_MM)  # 8 mm radius: i^2 + j^2 + k^2 <= 16 -> 257 voxels
BLOB = np.zeros(GEOMETRY.shape, bool)
BLOB[3:6, 3:6, 3:6] = True  # a second, separate hot spot (27 voxels)
LIVER = np.zeros(GEOMETRY.shape, bool)
LIVER[30:38, 26:38, 26:38] = True  # 8 x 12 x 12 = 1152 voxels


def _phantom() -> np.ndarray:
    suv = np.full(GEOMETRY.shape, 1.0)  # warm background
    suv[HOT] = 10.0
    suv[BLOB] = 6.0
    liver_values = np.where(np.indices(GEOMETRY.shape).sum(axis=0) % 2 == 0, 2.0, 3.0)
    suv[LIVER] = liver_values[LIVER]  # mean 2.5; SD 0.5 (population), 0.5 * sqrt(1152 / 1151) (sample)
    return suv


def test_phantom_counts() -> None:
    suv = _phantom()
    assert int(HOT.sum()) == 257 and int(BLOB.sum()) == 27
    assert suv[LIVER].mean() == 2.5 and suv[LIVER].std() == 0.5
    assert suv[LIVER].std(ddof=1) == pytest.approx(0.5 * np.sqrt(1152 / 1151), rel=1e-15)


def test_fixed_threshold_recovers_the_sphere_exactly() -> None:
    suv = _phantom()
    suv[BLOB] = 1.0
    suv[LIVER] = 1.0
    voiset = fixed_threshold_vois(suv, GEOMETRY, 2.5, name="tumour")
    assert np.array_equal(voiset.masks[0], HOT)
    voi = voiset.vois[0]
    assert (voi.kind, voi.lesion_id, voi.n_voxels) == ("tumour", "tumour", 257)
    assert voi.volume_ml == pytest.approx(257 * 0.008)
    assert voi.source == "threshold:suv>=2.5:cc=all"
    assert voiset.provenance["thresholds"][0]["threshold_suv"] == 2.5


def test_connected_components_max_and_seed() -> None:
    suv = _phantom()
    everything = fixed_threshold_vois(suv, GEOMETRY, 2.5, name="all").masks[0]
    assert int(everything.sum()) == 257 + 27 + 1152 // 2  # the liver's 3.0 voxels are a checkerboard
    largest_max = fixed_threshold_vois(suv, GEOMETRY, 5.0, name="m", cc="max").masks[0]
    assert np.array_equal(largest_max, HOT)  # blob (6) is excluded: the maximum (10) is in the sphere
    seed = np.zeros(GEOMETRY.shape, bool)
    seed[3, 3, 3] = True  # a one-voxel seed in the blob grows to the whole blob, not to the sphere
    grown = fixed_threshold_vois(suv, GEOMETRY, 5.0, name="m", region=seed, region_name="seed", cc="seed")
    assert np.array_equal(grown.masks[0], BLOB) and grown.vois[0].source.endswith(":within=seed:cc=seed")


def test_26_connectivity_joins_diagonal_voxels() -> None:
    mask = np.zeros((3, 3, 3), bool)
    mask[0, 0, 0] = mask[1, 1, 1] = mask[2, 2, 2] = True  # corner-to-corner only
    image = mask * 1.0
    assert int(keep_components(mask, keep="max", image=image).sum()) == 3


def test_41_percent_of_max_within_a_seed_gives_the_sphere() -> None:
    suv = _phantom()
    seed = _ball(CENTRE_IDX, 20.0)  # a 4 cm seed sphere around the lesion, in warm background only
    voiset = percent_max_vois(suv, GEOMETRY, 41.0, seed, name="lesion_1", region_name="box")
    assert np.array_equal(voiset.masks[0], HOT)
    record = voiset.provenance["thresholds"][0]
    assert record["suv_max"] == 10.0 and record["threshold_suv"] == pytest.approx(4.1, rel=1e-15)
    assert voiset.vois[0].source == "threshold:41%max=4.1 of SUVmax 10:within=box:cc=all"
    assert (voiset.vois[0].kind, voiset.vois[0].lesion_id) == ("tumour", "lesion_01")


def test_percent_of_max_needs_a_positive_maximum() -> None:
    suv = np.zeros(GEOMETRY.shape)
    with pytest.raises(InvalidInputError, match="maximum SUV in the seed region is 0"):
        percent_max_vois(suv, GEOMETRY, 41.0, HOT, name="x")


def test_percist_threshold_equals_formula_exactly() -> None:
    suv = _phantom()
    reference = percist_reference(suv, LIVER, sul_per_suv=1.0)
    sd = 0.5 * math.sqrt(1152 / 1151)  # sample SD of 576 x 2.0 and 576 x 3.0
    assert (reference.liver_mean_sul, reference.n_voxels) == (2.5, 1152)
    assert reference.liver_sd_sul == pytest.approx(sd, rel=1e-15)
    assert reference.threshold_sul == 1.5 * reference.liver_mean_sul + 2 * reference.liver_sd_sul
    assert reference.threshold_sul == pytest.approx(1.5 * 2.5 + 2 * sd, rel=1e-15)  # 4.750434...
    voiset = percist_vois(suv, GEOMETRY, LIVER, sul_per_suv=1.0, name="mtv", liver_name="liver")
    assert np.array_equal(voiset.masks[0], HOT | BLOB)  # 10 and 6 >= 4.75; liver (<= 3) and background not
    assert voiset.vois[0].source.startswith("threshold:percist=4.75043 SUL (1.5 x 2.5 + 2 x 0.500217, liver=liver")
    record = voiset.provenance["thresholds"][0]
    assert record["threshold_sul"] == reference.threshold_sul and record["liver_sd_ddof"] == 1


def test_percist_on_suvbw_with_a_sul_factor() -> None:
    suv = _phantom()
    voiset = percist_vois(suv, GEOMETRY, LIVER, sul_per_suv=0.8, name="mtv")
    record = voiset.provenance["thresholds"][0]
    sd = 0.4 * math.sqrt(1152 / 1151)
    assert record["liver_mean_sul"] == pytest.approx(2.0, rel=1e-14)
    assert record["liver_sd_sul"] == pytest.approx(sd, rel=1e-14)
    assert record["threshold_sul"] == pytest.approx(3.0 + 2 * sd, rel=1e-14)
    assert record["threshold_suv"] == pytest.approx((3.0 + 2 * sd) / 0.8, rel=1e-14)  # = the SUL=SUV threshold
    assert np.array_equal(voiset.masks[0], HOT | BLOB)


def test_empty_result_is_kept_with_a_warning() -> None:
    voiset = fixed_threshold_vois(_phantom(), GEOMETRY, 50.0, name="lesion_9")
    assert voiset.vois[0].n_voxels == 0
    assert voiset.vois[0].warnings == ("no voxel at or above the threshold",)


def test_threshold_mask_ignores_nan() -> None:
    image = np.array([[[np.nan, 3.0, 1.0]]])
    assert threshold_mask(image, 2.0).tolist() == [[[False, True, False]]]


# ------------------------------------------------------------------------------------------- specs
def test_threshold_specs_parse_to_exact_values() -> None:
    specs = parse_threshold_specs(["tumour:suv>=2.5:kind=tumour", " les1 : 41%max : sphere=12,-40.5,80,40 : cc=max ; "
                                   "mtv:percist:liver=liver_ref:sul=0.8:kind=tumour",
                                   "mtv2:PERCIST:liver_sphere=-60,20,-110:kind=organ",
                                   "grown:SUV >= 3:within=seed:cc=seed"])
    assert specs == [
        ThresholdSpec("tumour", "fixed", 2.5, kind="tumour", text="tumour:suv>=2.5:kind=tumour"),
        ThresholdSpec("les1", "percent_max", 41.0, sphere=(12.0, -40.5, 80.0, 40.0), cc="max",
                      text="les1 : 41%max : sphere=12,-40.5,80,40 : cc=max"),
        ThresholdSpec("mtv", "percist", None, liver="liver_ref", sul_per_suv=0.8, kind="tumour",
                      text="mtv:percist:liver=liver_ref:sul=0.8:kind=tumour"),
        ThresholdSpec("mtv2", "percist", None, liver_sphere=(-60.0, 20.0, -110.0, 30.0), kind="organ",
                      text="mtv2:PERCIST:liver_sphere=-60,20,-110:kind=organ"),
        ThresholdSpec("grown", "fixed", 3.0, within="seed", cc="seed", text="grown:SUV >= 3:within=seed:cc=seed"),
    ]


@pytest.mark.parametrize("spec", [
    "suv>=2.5", "t:suv>2.5", "t:suv>=abc", "t:suv>=-1", "t:suv>=nan", "t:41%max", "t:141%max:within=x",
    "t:0%max:within=x", "t:percist", "t:percist:liver=a:liver_sphere=1,2,3", "t:suv>=2:liver=x", "t:suv>=2:foo=1",
    "t:suv>=2:cc=biggest", "t:suv>=2:within=a:sphere=1,2,3,4", "t:suv>=2:sphere=1,2,3", "t:suv>=2:sphere=1,2,3,0",
    "t:suv>=2:kind=lesion", "t:suv>=2:cc=seed", "t:suv>=2:within", "t:suv>=2:within=", ":suv>=2",
    "t:suv>=2:within=a:within=b", "t", "t:mean>=2", "t:percist:liver=a:sul=0", "t:percist:liver_sphere=1,2,3,4,5",
])
def test_malformed_threshold_spec_is_named(spec: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_threshold_specs(f"ok:suv>=1:kind=tumour;{spec}")
    assert repr(spec.strip()) in str(info.value)
    assert str(info.value).startswith("--threshold: ")


@pytest.mark.parametrize("spec", ["hot:suv>=2.5", "mtv:percist:liver=liver_ref",
                                  "mtv:percist:liver_sphere=1,2,3:cc=max"])
def test_a_whole_image_threshold_must_state_its_kind(spec: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_threshold_specs(spec)
    message = str(info.value)
    assert message.startswith("--threshold: a whole-image threshold needs an explicit kind in ")
    assert repr(spec) in message and ":kind=tumour" in message and ":within=VOI" in message
    assert "\n" not in message
    with pytest.raises(InvalidInputError, match="needs an explicit kind"):  # a spec built by hand, too
        build_threshold_vois([ThresholdSpec("hot", "fixed", 2.5, text="hot")], _phantom(), GEOMETRY)
    (within,) = parse_threshold_specs("hot:suv>=2.5:within=box")  # a regional one takes its kind from the name
    assert within.kind is None


def test_whole_image_tumours_stay_in_organs_unless_the_spec_opts_in() -> None:
    suv = _phantom()
    existing = VoiSet.from_masks(GEOMETRY, [(_ball(CENTRE_IDX, 20.0), Voi(0, "box", "organ"))])
    specs = parse_threshold_specs("hot:suv>=2.5:kind=tumour;carved:suv>=2.5:kind=tumour:exclude_from_organs=yes;"
                                  "les:41%max:within=box;les_kept:41%max:within=box:exclude_from_organs=no;"
                                  "warm:suv>=0.5:kind=organ")
    assert [s.exclude_from_organs for s in specs] == [None, True, None, False, None]
    voiset = build_threshold_vois(specs, suv, GEOMETRY, existing)
    assert [v.exclude_from_organs for v in voiset.vois] == [False, True, True, False, None]
    assert [v.excludes_from_organs for v in voiset.vois] == [False, True, True, False, False]
    records = voiset.provenance["thresholds"]
    assert [r["whole_image"] for r in records] == [True, True, False, False, True]
    assert [r["exclude_from_organs"] for r in records] == [False, True, True, False, None]
    # the library functions agree: a whole-image tumour is not carved out of organs, a regional one is
    assert fixed_threshold_vois(suv, GEOMETRY, 2.5, name="t", kind="tumour").vois[0].exclude_from_organs is False
    assert percent_max_vois(suv, GEOMETRY, 41.0, HOT, name="t").vois[0].exclude_from_organs is True
    for bad in ("w:suv>=1:kind=organ:exclude_from_organs=yes", "w:suv>=1:kind=tumour:exclude_from_organs=maybe"):
        with pytest.raises(InvalidInputError, match="exclude_from_organs"):
            parse_threshold_specs(bad)


def test_duplicate_and_empty_threshold_specs() -> None:
    with pytest.raises(InvalidInputError, match="'a' given twice"):
        parse_threshold_specs("a:suv>=1:kind=tumour;a:suv>=2:kind=tumour")
    with pytest.raises(InvalidInputError, match="empty spec"):
        parse_threshold_specs([])


def test_build_threshold_vois_from_specs_and_existing_vois() -> None:
    suv = _phantom()
    existing = VoiSet.from_masks(GEOMETRY, [(LIVER, Voi(0, "liver_ref", "reference", organ="liver")),
                                            (_ball(CENTRE_IDX, 20.0), Voi(0, "box", "organ"))])
    specs = parse_threshold_specs("lesion_1:41%max:within=box;mtv:percist:liver=liver_ref:cc=max:kind=tumour;"
                                  "core:90%max:within=lesion_1;hot:41%max:sphere=40,40,40,40")
    voiset = build_threshold_vois(specs, suv, GEOMETRY, existing, sul_per_suv=1.0)
    assert [v.name for v in voiset.vois] == ["lesion_1", "mtv", "core", "hot"]
    assert np.array_equal(voiset.masks[0], HOT) and np.array_equal(voiset.masks[1], HOT)
    assert np.array_equal(voiset.masks[2], HOT) and np.array_equal(voiset.masks[3], HOT)
    assert [r["spec"] for r in voiset.provenance["thresholds"]] == [s.text for s in specs]
    assert [r.get("threshold_suv") for r in voiset.provenance["thresholds"]] == pytest.approx([4.1, 4.750434, 9.0, 4.1])
    assert voiset.vois[1].kind == "tumour" and voiset.vois[1].lesion_id == "mtv"


def test_build_threshold_vois_errors_name_the_spec() -> None:
    suv = _phantom()
    with pytest.raises(InvalidInputError, match=r"t:41%max:within=nowhere.*not a VOI made before"):
        build_threshold_vois(parse_threshold_specs("t:41%max:within=nowhere"), suv, GEOMETRY)
    with pytest.raises(InvalidInputError, match=r"m:percist:liver_sphere=60,60,60:kind=tumour.*no SUL/SUV factor"):
        build_threshold_vois(parse_threshold_specs("m:percist:liver_sphere=60,60,60:kind=tumour"), suv, GEOMETRY)
    with pytest.raises(InvalidInputError, match=r"sphere of 't:41%max:sphere=-100,0,0,20'.*entirely outside"):
        build_threshold_vois(parse_threshold_specs("t:41%max:sphere=-100,0,0,20"), suv, GEOMETRY)


def test_seed_sphere_partly_outside_is_recorded() -> None:
    voiset = build_threshold_vois(parse_threshold_specs("t:suv>=0.5:sphere=0,40,40,10"), _phantom(), GEOMETRY)
    assert voiset.vois[0].warnings[0].startswith("sphere sphere(0,40,40,d=10) partly outside the image (")


def test_thresholds_on_a_synthetic_lesion(cohort_1: Path, tmp_path: Path) -> None:
    """Lesion in liver: a fixed or 50 %max threshold in a seed sphere recovers its voxels; 41 % leaks into liver."""
    study = cohort_1 / "dicom" / "P01" / "baseline"
    truth = json.loads((study / "truth.json").read_text())
    run_suv(study / "PT", tmp_path / "suv.nii.gz", SuvOptions())
    suv, geometry = read_nifti(tmp_path / "suv.nii.gz")
    lesion = next(v for v in truth["vois"] if v["name"] == "lesion_03")  # SUV 5.07 in liver SUV 2.224
    x, y, z = lesion["geometry"]["centre_lps_mm"]
    seed = f"{x},{y},{z},60"
    voiset = build_threshold_vois(parse_threshold_specs(f"a:suv>=3.5:sphere={seed};b:50%max:sphere={seed};"
                                                        f"c:41%max:sphere={seed}"), suv, geometry)
    assert voiset.vois[0].n_voxels == lesion["n_voxels"] == 184
    assert voiset.vois[1].n_voxels == 184
    assert voiset.vois[2].n_voxels > 184  # 41 % of 5.07 = 2.08 < liver 2.224: the liver inside the seed joins


def test_component_rule_errors() -> None:
    suv = _phantom()
    with pytest.raises(InvalidInputError, match="cc=seed needs a seed region"):
        fixed_threshold_vois(suv, GEOMETRY, 2.5, name="t", cc="seed")
    with pytest.raises(InvalidInputError, match="unknown component rule 'largest'"):
        fixed_threshold_vois(suv, GEOMETRY, 2.5, name="t", cc="largest")
    with pytest.raises(InvalidInputError, match="seed/search region is empty"):
        percent_max_vois(suv, GEOMETRY, 41.0, np.zeros(GEOMETRY.shape, bool), name="t")
    with pytest.raises(InvalidInputError, match=r"liver reference has 1 voxel"):
        percist_reference(suv, np.pad(np.ones((1, 1, 1), bool), ((0, 39), (0, 39), (0, 39))), sul_per_suv=1.0)
