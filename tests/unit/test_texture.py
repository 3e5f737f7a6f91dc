"""Discretisation, parameter validation, bin-index preservation and a real PET tumour for pipeline.metrics.texture."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import InvalidInputError
from pipeline.metrics.discretise import check_integer_bins, discretise_fbn, discretise_fbs
from pipeline.metrics.ibsi_codes import PYRADIOMICS_NON_IBSI, all_ibsi_3d_codes
from pipeline.metrics.texture import (
    TextureParams,
    TextureSkipped,
    extract_texture,
    keep_bin_indices,
    resample_isotropic,
)

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------- discretisation

def test_fbs_counts_from_lower_bound_not_roi_minimum() -> None:
    image = np.array([1.0, 1.1, 1.3, 1.74])
    mask = np.ones(4, dtype=bool)
    bins = discretise_fbs(image, mask, bin_width=0.25, lower_bound=0.0)
    assert bins.tolist() == [5, 5, 6, 7]  # floor(x / 0.25) + 1, lowest bin 5, not 1


def test_fbs_values_on_edges_go_to_upper_bin() -> None:
    image = np.array([0.0, 0.25, 0.5, 0.3, 0.7, 2.0])
    mask = np.ones(6, dtype=bool)
    assert discretise_fbs(image, mask, 0.25, 0.0).tolist() == [1, 2, 3, 2, 3, 9]
    # 0.3 / 0.1 = 2.9999999999999996 in floating point; the edge value must still open bin 4
    assert discretise_fbs(np.array([0.3, 0.1, 0.0]), np.ones(3, bool), 0.1, 0.0).tolist() == [4, 2, 1]


def test_fbs_negative_lower_bound_and_outside_mask() -> None:
    image = np.array([[-1000.0, -990.0], [0.0, 5000.0]])
    mask = np.array([[True, True], [True, False]])
    bins = discretise_fbs(image, mask, 25.0, -1000.0)
    assert bins.tolist() == [[1, 1], [41, 0]]


def test_fbs_below_lower_bound_raises_or_clips() -> None:
    image, mask = np.array([-0.1, 0.2]), np.ones(2, dtype=bool)
    with pytest.raises(InvalidInputError, match="below the discretisation lower bound"):
        discretise_fbs(image, mask, 0.25, 0.0)
    assert discretise_fbs(image, mask, 0.25, 0.0, clip_below=True).tolist() == [1, 1]


def test_fbn_matches_ibsi_formula() -> None:
    image = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    bins = discretise_fbn(image, np.ones(5, bool), 4)
    # floor(4 (x - 1) / 4) + 1 for x < max, N_g for the maximum
    assert bins.tolist() == [1, 2, 3, 4, 4]
    assert discretise_fbn(np.full(3, 7.0), np.ones(3, bool), 8).tolist() == [1, 1, 1]


def test_integer_bins_need_integers() -> None:
    assert check_integer_bins(np.array([1.0, 6.0]), np.ones(2, bool)).tolist() == [1, 6]
    with pytest.raises(InvalidInputError, match="integer grey levels"):
        check_integer_bins(np.array([1.5, 2.0]), np.ones(2, bool))


# ---------------------------------------------------------------------------------------------- parameters

def test_params_files_load() -> None:
    pet = TextureParams.from_yaml(REPO / "configs" / "radiomics_pet.yaml")
    assert (pet.discretisation_method, pet.bin_width, pet.lower_bound) == ("fbs", 0.25, 0.0)
    assert pet.resampling_enabled and pet.resampling_spacing_mm == 4.0
    assert pet.minimum_voi_voxels == 64 and pet.aggregation == ("3D_comb",)
    ibsi = TextureParams.from_yaml(REPO / "configs" / "radiomics_ibsi.yaml")
    assert ibsi.discretisation_method == "none" and not ibsi.resampling_enabled
    assert pet.as_dict()["aggregation"] == ["3D_comb"]


@pytest.mark.parametrize(("text", "key"), [
    ("bin_widht: 0.25\n", "bin_widht"),
    ("discretisation:\n  binWidth: 0.25\n", "discretisation.binWidth"),
    ("texture:\n  weighting: none\n", "texture.weighting"),
])
def test_unknown_key_is_named_with_file(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInputError) as err:
        TextureParams.from_yaml(path)
    assert key in str(err.value) and str(path) in str(err.value)


def test_invalid_values_rejected(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("discretisation:\n  method: lloyd\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="discretisation.method"):
        TextureParams.from_yaml(path)
    with pytest.raises(InvalidInputError, match="texture.aggregation"):
        TextureParams.from_mapping({"texture": {"aggregation": ["2D"]}})


# ---------------------------------------------------------------------------------------------- VOI size

def test_small_voi_is_skipped_with_reason() -> None:
    image = np.ones((6, 6, 6))
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[1:3, 1:3, 1:4] = True  # 12 voxels
    params = TextureParams.from_mapping({"minimum_voi_voxels": 64})
    with pytest.raises(TextureSkipped) as err:
        extract_texture(image, mask, (2.0, 2.0, 2.0), params)
    assert "12 voxels" in err.value.reason and "64" in err.value.reason


# ---------------------------------------------------------------------------------------------- resampling

def test_resampling_is_centre_aligned_and_linear() -> None:
    x_mm = np.arange(10) * 2.0
    image = np.broadcast_to(x_mm, (10, 10, 10)).copy()  # value = x position (mm) of the voxel centre
    mask = np.ones((10, 10, 10), dtype=bool)
    new_image, new_mask, spacing = resample_isotropic(image, mask, (2.0, 2.0, 2.0), 4.0)
    assert new_image.shape == (5, 5, 5) and spacing == (4.0, 4.0, 4.0)
    # new centres at 1, 5, 9, 13, 17 mm: the grid centre (9 mm) is kept
    np.testing.assert_allclose(new_image[2, 2], [1.0, 5.0, 9.0, 13.0, 17.0], atol=1e-9)
    assert new_mask.all()


# ---------------------------------------------------------------------------------------------- bin indices

def _two_halves() -> tuple[np.ndarray, np.ndarray]:
    """A 4x4x4 cube in a 6x6x6 image: lower half SUV 1.1 (FBS bin 5), upper half SUV 1.4 (bin 6)."""
    image = np.zeros((6, 6, 6))
    mask = np.zeros((6, 6, 6), dtype=bool)
    mask[1:5, 1:5, 1:5] = True
    image[1:3, 1:5, 1:5] = 1.1
    image[3:5, 1:5, 1:5] = 1.4
    return image, mask


def test_bin_indices_survive_pyradiomics() -> None:
    image, mask = _two_halves()
    params = TextureParams.from_mapping({
        "minimum_voi_voxels": 1,
        "discretisation": {"method": "fbs", "bin_width": 0.25, "lower_bound": 0.0},
        "texture": {"aggregation": ["3D_comb", "3D_avg"]},
        "extra_features": False,
    })
    values = {v.feature: v.value for v in extract_texture(image, mask, (4.0, 4.0, 4.0), params)}
    # Hand-computed IBSI values with bins 5 and 6 (pyradiomics' own re-binning would use 1 and 2):
    # the two halves are mirror images, so pairs, runs, zones and neighbourhoods split evenly between the levels.
    assert values["glcm_joint_average_3D_comb"] == pytest.approx(5.5)
    assert values["glcm_joint_average_3D_avg"] == pytest.approx(5.5)
    assert values["glcm_sum_average_3D_comb"] == pytest.approx(11.0)
    assert values["glrlm_high_grey_level_run_emphasis_3D_comb"] == pytest.approx((25 + 36) / 2)
    assert values["glszm_high_grey_level_zone_emphasis_3D"] == pytest.approx((25 + 36) / 2)
    assert values["glszm_low_grey_level_zone_emphasis_3D"] == pytest.approx((1 / 25 + 1 / 36) / 2)
    assert values["ngldm_high_grey_level_count_emphasis_3D"] == pytest.approx((25 + 36) / 2)
    assert values["intensity_histogram_entropy_3D"] == pytest.approx(1.0)
    # intensity statistics stay on the un-discretised SUV
    assert values["intensity_statistics_mean_3D"] == pytest.approx(1.25)
    assert values["intensity_statistics_maximum_3D"] == pytest.approx(1.4)


def test_bin_edge_override_is_scoped() -> None:
    from radiomics import imageoperations

    original = imageoperations.getBinEdges
    with pytest.raises(RuntimeError), keep_bin_indices():
        assert imageoperations.getBinEdges is not original
        np.testing.assert_array_equal(imageoperations.getBinEdges(np.array([3.0, 7.0])),
                                      [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5])
        raise RuntimeError("boom")
    assert imageoperations.getBinEdges is original


# ---------------------------------------------------------------------------------------------- real PET tumour

def test_sts_001_pet_end_to_end(shared_data: Path) -> None:
    import SimpleITK as sitk

    root = shared_data / "mirp_sts_pet_ct" / "STS_001" / "PET" / "nifti"
    image = sitk.ReadImage(str(root / "image" / "image.nii.gz"))
    mask_img = sitk.ReadImage(str(root / "mask" / "mask.nii.gz"))
    suv = sitk.GetArrayFromImage(image).astype(np.float64)
    mask = sitk.GetArrayFromImage(mask_img) > 0
    spacing = image.GetSpacing()
    params = TextureParams.from_yaml(REPO / "configs" / "radiomics_pet.yaml")
    values = extract_texture(suv, mask, spacing, params)
    by_name = {v.feature: v for v in values}

    native_ml = mask.sum() * float(np.prod(spacing)) / 1000.0
    vol_ml = by_name["morphology_volume_voxel_counting_3D"].value / 1000.0
    assert vol_ml == pytest.approx(native_ml, rel=0.15)
    assert by_name["morphology_volume_mesh_3D"].value <= by_name["morphology_volume_voxel_counting_3D"].value
    suv_max = float(suv[mask].max())
    stats_max = by_name["intensity_statistics_maximum_3D"].value
    stats_mean = by_name["intensity_statistics_mean_3D"].value
    assert 0 < stats_mean < stats_max <= suv_max + 1e-6  # linear interpolation cannot exceed the native maximum
    sphericity = by_name["morphology_sphericity_3D"].value
    assert 0.3 < sphericity <= 1.0
    # bins are counted from SUV 0 in 0.25 steps: the joint average is ~ mean SUV / 0.25 + 0.5, not a small index
    joint_average = by_name["glcm_joint_average_3D_comb"].value
    assert joint_average == pytest.approx(stats_mean / 0.25 + 0.5, rel=0.25)
    n_bins = math.ceil(stats_max / 0.25)
    assert 0 < by_name["intensity_histogram_entropy_3D"].value <= math.log2(n_bins)
    assert 0 < by_name["glcm_joint_entropy_3D_comb"].value

    codes = all_ibsi_3d_codes()
    non_ibsi = {f"{fam}_{feat}_" for fam, feat in PYRADIOMICS_NON_IBSI.values()}
    for v in values:
        assert np.isfinite(v.value), v.feature
        if v.ibsi_code:
            assert v.ibsi_code in codes, v.feature
        else:
            assert any(v.feature.startswith(p) for p in non_ibsi), f"{v.feature} has no code and is not documented"
    assert not any(v.feature.endswith("_3D_avg") for v in values)  # PET config: merged only


def test_an_ibsi_family_module_that_cannot_be_imported_is_an_error() -> None:
    """No silent empty list: without pipeline.metrics.ibsi the texture module does not import at all."""
    import subprocess
    import sys

    code = ("import sys\nsys.modules['pipeline.metrics.ibsi'] = None\ntry:\n    import pipeline.metrics.texture\n"
            "except ImportError as exc:\n    print('ImportError', exc.name)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["ImportError", "pipeline.metrics.ibsi"], proc.stderr


def test_pyradiomics_logs_warnings_but_not_its_per_voi_info_or_the_benign_glcm_note(
        caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from pipeline.metrics.texture import quiet_pyradiomics

    quiet_pyradiomics()
    logger = logging.getLogger("radiomics")
    assert logger.level == logging.WARNING
    handler = logger.handlers[0]
    records = [logging.LogRecord("radiomics.glcm", logging.WARNING, "", 0, text, None, None) for text in (
        "GLCM is symmetrical, therefore Sum Average = 2 * Joint Average, only 1 needs to be calculated",
        "The formula for GLCM - Joint Average assumes that the GLCM is symmetrical, but this is not the case.")]
    assert [handler.filter(r) for r in records] == [False, True]
    assert not logger.isEnabledFor(logging.INFO)
