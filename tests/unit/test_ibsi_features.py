"""IBSI features missing from pyradiomics: digital-phantom reference values and hand-computed cases.

Reference values: ``tests/data/ibsi1_digital_phantom_reference.csv`` (transcribed from the IBSI reference
manual, ``theibsi/ibsi-doc`` ``docs/03_Image_features.rst``, digital-phantom rows, 3D; tolerance column as
published, or half a unit in the third significant digit where the manual prints "—"). The values used here
were checked against the manual (commit 11f641c).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from pipeline.errors import InvalidInputError
from pipeline.metrics.ibsi import IbsiParams, extra_features
from pipeline.metrics.ibsi._common import check_inputs
from pipeline.metrics.ibsi.gldzm import distance_map, gldzm_features, gldzm_matrix
from pipeline.metrics.ibsi.histogram import histogram_features
from pipeline.metrics.ibsi.intensity import statistics_of
from pipeline.metrics.ibsi.ivh import auc_csh, ivh_curve, ivh_features
from pipeline.metrics.ibsi.morphology import ellipsoid_area, mesh_volume_area, moran_geary, morphology_features
from pipeline.metrics.ibsi.ngldm import ngldm_extras, ngldm_matrix
from pipeline.metrics.ibsi.peaks import intensity_peaks

PHANTOM = Path("/work/shared/data/ibsi/ibsi_1_digital_phantom/nifti")

REFERENCE_CSV = Path(__file__).resolve().parents[1] / "data" / "ibsi1_digital_phantom_reference.csv"

#: Every feature extra_features returns, by family (names without the ``_3D`` suffix); all have a reference
#: value in the CSV except the AUC-CSH.
PRODUCED = {
    "morphology": ["asphericity", "compactness_1", "compactness_2", "spherical_disproportion",
                   "centre_of_mass_shift", "integrated_intensity", "morans_i_index", "gearys_c_measure",
                   "volume_density_aabb", "area_density_aabb", "volume_density_aee", "area_density_aee",
                   "volume_density_convex_hull", "area_density_convex_hull"],
    "local_intensity": ["local_intensity_peak", "global_intensity_peak"],
    "intensity_statistics": ["median_absolute_deviation", "coefficient_of_variation",
                             "quartile_coefficient_of_dispersion"],
    "intensity_histogram": [
        "mean", "variance", "skewness", "excess_kurtosis", "median", "minimum", "10th_percentile",
        "90th_percentile", "maximum", "mode", "interquartile_range", "range", "mean_absolute_deviation",
        "robust_mean_absolute_deviation", "median_absolute_deviation", "coefficient_of_variation",
        "quartile_coefficient_of_dispersion", "entropy", "uniformity", "maximum_histogram_gradient",
        "maximum_histogram_gradient_intensity", "minimum_histogram_gradient", "minimum_histogram_gradient_intensity"],
    "ivh": ["volume_at_intensity_fraction_10", "volume_at_intensity_fraction_90", "intensity_at_volume_fraction_10",
            "intensity_at_volume_fraction_90", "volume_fraction_difference_10_90",
            "intensity_fraction_difference_10_90", "area_under_ivh_curve", "area_under_csh_curve"],
    "gldzm": ["small_distance_emphasis", "large_distance_emphasis", "low_grey_level_zone_emphasis",
              "high_grey_level_zone_emphasis", "small_distance_low_grey_level_emphasis",
              "small_distance_high_grey_level_emphasis", "large_distance_low_grey_level_emphasis",
              "large_distance_high_grey_level_emphasis", "grey_level_non_uniformity",
              "normalised_grey_level_non_uniformity", "zone_distance_non_uniformity",
              "normalised_zone_distance_non_uniformity", "zone_percentage", "grey_level_variance",
              "zone_distance_variance", "zone_distance_entropy"],
    "ngldm": ["dependence_count_percentage", "dependence_count_energy"],
}
NOT_IN_CSV = {"ivh_area_under_csh_curve_3D"}


def _reference() -> dict[str, tuple[str, float, float]]:
    """CSV rows of the produced features: name -> (IBSI code, value, tolerance)."""
    produced = {f"{fam}_{name}_3D" for fam, names in PRODUCED.items() for name in names}
    rows = {}
    with REFERENCE_CSV.open(newline="") as fh:
        for row in csv.DictReader(fh):
            name = f"{row['family']}_{row['feature']}_{row['aggregation']}"
            if name in produced:
                rows[name] = (row["ibsi_code"], float(row["value"]), float(row["tolerance"]))
    return rows


REFERENCE = _reference()


@pytest.fixture(scope="module")
def phantom_image_mask() -> tuple[np.ndarray, np.ndarray]:
    import SimpleITK as sitk

    image = sitk.GetArrayFromImage(sitk.ReadImage(str(PHANTOM / "image" / "phantom.nii.gz"))).astype(np.float64)
    mask = sitk.GetArrayFromImage(sitk.ReadImage(str(PHANTOM / "mask" / "mask.nii.gz"))).astype(bool)
    assert image.shape == (4, 4, 5) and int(mask.sum()) == 74  # (z, y, x)
    return image, mask


@pytest.fixture(scope="module")
def phantom_features(phantom_image_mask: tuple[np.ndarray, np.ndarray]) -> dict[str, object]:
    image, mask = phantom_image_mask
    return {f.feature: f for f in extra_features(image, image.astype(np.int64), mask, (2.0, 2.0, 2.0))}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_digital_phantom_reference(phantom_features: dict[str, object], name: str) -> None:
    code, value, tol = REFERENCE[name]
    got = phantom_features[name]
    assert got.ibsi_code == code
    assert got.source == "petvoi"
    assert name.startswith(got.family + "_")
    assert got.value == pytest.approx(value, abs=tol)


def test_every_phantom_feature_has_a_reference(phantom_features: dict[str, object]) -> None:
    assert len(REFERENCE) == sum(len(v) for v in PRODUCED.values()) - len(NOT_IN_CSV) == 67
    assert set(phantom_features) == set(REFERENCE)
    assert all(len(f.ibsi_code) == 4 for f in phantom_features.values())


def test_auc_csh_on_request(phantom_image_mask: tuple[np.ndarray, np.ndarray]) -> None:
    image, mask = phantom_image_mask
    out = extra_features(image, image.astype(np.int64), mask, (2.0, 2.0, 2.0),
                         {"families": ["ivh"], "auc_csh": True})
    auc = out[-1]
    # AUC-CSH of the phantom: mean / max of the ROI intensities = (159 / 74) / 6; no IBSI code of its own
    assert (auc.feature, auc.ibsi_code) == ("ivh_area_under_csh_curve_3D", "")
    assert auc.value == pytest.approx(159.0 / 74.0 / 6.0, rel=1e-12)


# ----------------------------------------------------------------------------------------- intensity statistics
def test_intensity_statistics_by_hand() -> None:
    s = statistics_of(np.array([1.0, 2.0, 3.0, 4.0]))
    assert s["median_absolute_deviation"] == pytest.approx(1.0)  # |x - 2.5| = 1.5, 0.5, 0.5, 1.5
    assert s["coefficient_of_variation"] == pytest.approx(math.sqrt(1.25) / 2.5)  # population SD
    assert s["quartile_coefficient_of_dispersion"] == pytest.approx((3.25 - 1.75) / (3.25 + 1.75))


def test_intensity_statistics_zero_mean_is_nan() -> None:
    s = statistics_of(np.array([-1.0, 1.0]))
    assert math.isnan(s["coefficient_of_variation"])
    assert math.isnan(s["quartile_coefficient_of_dispersion"])


# ----------------------------------------------------------------------------------------- intensity histogram
def test_histogram_by_hand() -> None:
    h = histogram_features(np.array([1, 1, 2, 4]))  # counts n = 2, 1, 0, 1
    assert h["mean"] == pytest.approx(2.0)
    assert h["variance"] == pytest.approx(1.5)
    assert h["mode"] == 1.0
    assert h["range"] == 3.0
    assert h["entropy"] == pytest.approx(1.5)
    assert h["uniformity"] == pytest.approx(0.375)
    # gradient: n2 - n1 = -1, (n3 - n1) / 2 = -1, (n4 - n2) / 2 = 0, n4 - n3 = 1
    assert (h["maximum_histogram_gradient"], h["maximum_histogram_gradient_intensity"]) == (1.0, 4.0)
    # the first of the tied minima
    assert (h["minimum_histogram_gradient"], h["minimum_histogram_gradient_intensity"]) == (-1.0, 1.0)


def test_histogram_mode_ties_go_to_the_mean_then_left() -> None:
    assert histogram_features(np.array([1, 1, 3, 3]))["mode"] == 1.0  # both at distance 1 from mean 2
    assert histogram_features(np.array([1, 1, 4, 4, 5]))["mode"] == 4.0  # mean 3: 4 is closer than 1


def test_histogram_single_level() -> None:
    h = histogram_features(np.array([3, 3, 3]))
    assert (h["variance"], h["skewness"], h["excess_kurtosis"], h["entropy"]) == (0.0, 0.0, 0.0, 0.0)
    # bins 1..3 (empty bins below the minimum included): n = 0, 0, 3
    assert (h["maximum_histogram_gradient"], h["maximum_histogram_gradient_intensity"]) == (3.0, 3.0)


# ----------------------------------------------------------------------------------------- IVH
def _inputs(values: np.ndarray, levels: np.ndarray | None = None):
    image = np.asarray(values, dtype=np.float64).reshape(1, 1, -1)
    disc = np.ones_like(image, dtype=np.int64) if levels is None else np.asarray(levels).reshape(1, 1, -1)
    return check_inputs(image, disc, np.ones(image.shape, bool), (1.0, 1.0, 1.0))


def test_ivh_continuous_by_hand() -> None:
    inputs = _inputs(np.array([0.05, 0.15, 0.25, 0.35]))
    params = IbsiParams(ivh_mode="continuous", ivh_bin_width=0.1, ivh_lower=0.0)
    grid, nu, step = ivh_curve(inputs, params)
    np.testing.assert_allclose(grid, [0.05, 0.15, 0.25, 0.35])
    np.testing.assert_allclose(nu, [1.0, 0.75, 0.5, 0.25])
    f = ivh_features(grid, nu, step)
    assert f["volume_at_intensity_fraction_10"] == pytest.approx(0.75)  # the first gamma >= 0.1 is 1/3
    assert f["volume_at_intensity_fraction_90"] == pytest.approx(0.25)
    # no intensity has nu <= 10 %: the next one above G
    assert f["intensity_at_volume_fraction_10"] == pytest.approx(0.45)
    assert f["intensity_at_volume_fraction_90"] == pytest.approx(0.15)
    assert f["area_under_ivh_curve"] == pytest.approx((0.875 + 0.625 + 0.375) / 3.0)


def test_ivh_single_level() -> None:
    inputs = _inputs(np.full(5, 7.0), levels=np.full(5, 3))
    f = ivh_features(*ivh_curve(inputs, IbsiParams()))
    assert f["area_under_ivh_curve"] == 0.0  # IBSI: one discretised intensity -> AUC 0
    assert math.isnan(f["volume_at_intensity_fraction_10"])
    assert math.isnan(f["volume_fraction_difference_10_90"])
    assert (f["intensity_at_volume_fraction_10"], f["intensity_at_volume_fraction_90"]) == (4.0, 4.0)


def test_auc_csh_analytic_cases() -> None:
    assert auc_csh(np.full(20, 3.7)) == 1.0  # uniform VOI: every voxel above every threshold
    assert auc_csh(np.array([0.0, 1.0, 2.0, 3.0, 4.0])) == pytest.approx(0.5)  # uniform spread from 0
    assert auc_csh(np.array([1.0, 1.0, 1.0, 5.0])) == pytest.approx(8.0 / 4.0 / 5.0)
    assert math.isnan(auc_csh(np.array([-1.0, 0.0])))


def test_auc_csh_is_the_fine_ivh_area_from_zero() -> None:
    values = np.random.default_rng(3).gamma(4.0, 1.5, size=500)
    inputs = _inputs(values)
    params = IbsiParams(ivh_mode="continuous", ivh_bin_width=1e-3, ivh_lower=0.0)
    ivh_auc = ivh_features(*ivh_curve(inputs, params))["area_under_ivh_curve"]
    assert ivh_auc == pytest.approx(auc_csh(values), abs=2e-3)


# ----------------------------------------------------------------------------------------- intensity peaks
def test_peaks_local_and_global_differ() -> None:
    image = np.zeros((11, 11, 15))
    mask = np.zeros(image.shape, bool)
    image[5, 5, 3] = 5.0  # the ROI maximum, alone in its sphere
    image[5, 5, 9] = 1.0  # an ROI voxel whose sphere holds two bright voxels outside the ROI
    image[5, 5, 10] = image[5, 5, 11] = 4.0
    mask[5, 5, 3] = mask[5, 5, 9] = True
    inputs = check_inputs(image, np.where(mask, 1, 0), mask, (2.0, 2.0, 2.0))
    local, global_ = intensity_peaks(inputs, 6.2035)
    assert local == pytest.approx(5.0 / 123.0)  # 123 voxel centres within 6.2035 mm on a 2 mm grid
    assert global_ == pytest.approx(9.0 / 123.0)


def test_peak_local_tie_takes_the_highest_sphere_mean() -> None:
    image = np.zeros((11, 11, 15))
    mask = np.zeros(image.shape, bool)
    image[5, 5, 3] = image[5, 5, 11] = 5.0
    image[5, 5, 12] = 4.0  # next to the second maximum, outside the ROI
    mask[5, 5, 3] = mask[5, 5, 11] = True
    local, _ = intensity_peaks(check_inputs(image, mask.astype(int), mask, (2.0, 2.0, 2.0)), 6.2035)
    assert local == pytest.approx(9.0 / 123.0)


# ----------------------------------------------------------------------------------------- GLDZM
def _erosion_distance(mask: np.ndarray) -> np.ndarray:
    """IBSI's procedure: erode with the 6-connected element until empty, adding 1 per surviving step."""
    dist = mask.astype(np.int64)
    current = np.pad(mask, 1)
    cross = ndimage.generate_binary_structure(3, 1)
    while current.any():
        current = ndimage.binary_erosion(current, structure=cross)
        dist += current[1:-1, 1:-1, 1:-1]
    return dist


def test_distance_map_equals_iterative_erosion() -> None:
    rng = np.random.default_rng(7)
    mask = ndimage.binary_closing(rng.random((9, 10, 11)) > 0.3, iterations=2)
    assert mask.any()
    np.testing.assert_array_equal(distance_map(mask), _erosion_distance(mask))
    cube = np.ones((5, 5, 5), bool)
    assert distance_map(cube)[2, 2, 2] == 3


def test_gldzm_by_hand() -> None:
    grey = np.ones((3, 3, 3), dtype=np.int64)
    grey[1, 1, 1] = 2  # the centre (distance 2) is its own zone; the shell is one zone at distance 1
    matrix, n_v = gldzm_matrix(grey, np.ones(grey.shape, bool))
    np.testing.assert_array_equal(matrix, [[1, 0], [0, 1]])
    f = gldzm_features(matrix, n_v)
    expected = {
        "small_distance_emphasis": (1 + 1 / 4) / 2, "large_distance_emphasis": (1 + 4) / 2,
        "low_grey_level_zone_emphasis": (1 + 1 / 4) / 2, "high_grey_level_zone_emphasis": 2.5,
        "small_distance_low_grey_level_emphasis": (1 + 1 / 16) / 2, "small_distance_high_grey_level_emphasis": 1.0,
        "large_distance_low_grey_level_emphasis": 1.0, "large_distance_high_grey_level_emphasis": (1 + 16) / 2,
        "grey_level_non_uniformity": 1.0, "normalised_grey_level_non_uniformity": 0.5,
        "zone_distance_non_uniformity": 1.0, "normalised_zone_distance_non_uniformity": 0.5,
        "zone_percentage": 2 / 27, "grey_level_variance": 0.25, "zone_distance_variance": 0.25,
        "zone_distance_entropy": 1.0,
    }
    assert f == pytest.approx(expected)


# ----------------------------------------------------------------------------------------- NGLDM
def test_ngldm_by_hand() -> None:
    cube = np.ones((3, 3, 3), dtype=np.int64)
    matrix = ngldm_matrix(cube, np.ones(cube.shape, bool))
    # centre 26 + 1, face centres 17 + 1, edges 11 + 1, corners 7 + 1
    assert {j + 1: int(matrix[0, j]) for j in np.flatnonzero(matrix[0])} == {8: 8, 12: 12, 18: 6, 27: 1}
    f = ngldm_extras(matrix, 27)
    assert f["dependence_count_percentage"] == 1.0
    assert f["dependence_count_energy"] == pytest.approx((8**2 + 12**2 + 6**2 + 1) / 27**2)


def test_ngldm_counts_only_same_level_roi_neighbours() -> None:
    grey = np.array([[[1, 1, 2]]])
    mask = np.array([[[True, True, True]]])
    matrix = ngldm_matrix(grey, mask)
    assert matrix[0, 1] == 2 and matrix[1, 0] == 1  # the two 1s depend on each other, the 2 on nothing


# ----------------------------------------------------------------------------------------- morphology
def test_single_voxel_mesh_is_an_octahedron() -> None:
    mask = np.zeros((3, 3, 3), bool)
    mask[1, 1, 1] = True
    volume, area = mesh_volume_area(mask, np.array([2.0, 2.0, 2.0]))
    assert volume == pytest.approx(4.0 / 3.0)  # half-diagonals of 1 mm
    assert area == pytest.approx(4.0 * math.sqrt(3.0))
    f = morphology_features(check_inputs(mask * 5.0, mask.astype(int), mask, (2.0, 2.0, 2.0)))
    assert f["volume_density_aabb"] == pytest.approx((4.0 / 3.0) / 8.0)
    assert f["area_density_aabb"] == pytest.approx(4.0 * math.sqrt(3.0) / 24.0)
    assert f["volume_density_convex_hull"] == pytest.approx(1.0)
    assert f["area_density_convex_hull"] == pytest.approx(1.0)
    assert f["centre_of_mass_shift"] == 0.0
    assert f["integrated_intensity"] == pytest.approx(5.0 * 4.0 / 3.0)
    assert math.isnan(f["morans_i_index"]) and math.isnan(f["volume_density_aee"])


def test_two_voxels_by_hand() -> None:
    mask = np.ones((1, 1, 2), bool)
    image = np.array([[[1.0, 3.0]]])
    f = morphology_features(check_inputs(image, np.ones((1, 1, 2), int), mask, (1.0, 1.0, 1.0)))
    assert f["centre_of_mass_shift"] == pytest.approx(0.25)  # 0.5 vs (0 * 1 + 1 * 3) / 4
    # z = -1, +1 with weight 1: I = N / W * sum w z1 z2 / sum z^2 = 2 / 2 * (-2) / 2
    assert f["morans_i_index"] == pytest.approx(-1.0)
    # C = (N - 1) / (2 W) * sum w (x1 - x2)^2 / sum z^2 = 1 / 4 * 8 / 2
    assert f["gearys_c_measure"] == pytest.approx(1.0)


def test_moran_geary_match_brute_force() -> None:
    rng = np.random.default_rng(11)
    mask = rng.random((4, 5, 6)) > 0.35
    image = rng.normal(3.0, 1.0, mask.shape)
    spacing = np.array([3.0, 1.5, 2.0])  # (z, y, x), anisotropic
    centres = np.argwhere(mask) * spacing
    x = image[mask]
    d = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    w = 1.0 / d
    z = x - x.mean()
    n = x.size
    moran = n / w.sum() * (w * np.outer(z, z)).sum() / (z**2).sum()
    geary = (n - 1) / (2 * w.sum()) * (w * (x[:, None] - x[None, :]) ** 2).sum() / (z**2).sum()
    got = moran_geary(image, mask, spacing)
    assert got == pytest.approx((moran, geary), rel=1e-9)


def test_ellipsoid_area_sphere_and_series() -> None:
    assert ellipsoid_area(2.0, 2.0, 2.0) == pytest.approx(4.0 * math.pi * 4.0)
    # IBSI's series for semi-axes 2, 1, 1: 4 pi a b sum (3/4)^nu / (1 - 4 nu^2) (P_nu(1) = 1)
    series = sum(0.75**nu / (1 - 4 * nu**2) for nu in range(21))
    assert ellipsoid_area(2.0, 1.0, 1.0) == pytest.approx(8.0 * math.pi * series)


# ----------------------------------------------------------------------------------------- interface and errors
def test_families_and_params() -> None:
    image = np.arange(27, dtype=float).reshape(3, 3, 3) + 1
    mask = np.ones(image.shape, bool)
    out = extra_features(image, image.astype(int), mask, (1.0, 1.0, 1.0), {"families": ["intensity_statistics"]})
    assert [f.feature for f in out] == ["intensity_statistics_median_absolute_deviation_3D",
                                        "intensity_statistics_coefficient_of_variation_3D",
                                        "intensity_statistics_quartile_coefficient_of_dispersion_3D"]
    assert out[0].value == pytest.approx(np.mean(np.abs(np.arange(1, 28) - 14)))


@pytest.mark.parametrize("params", [
    {"families": ["texture"]},
    {"ivh_mode": "continuous"},
    {"ivh_mode": "cumulative"},
    {"bin_width": 0.25},
    {"peak_radius_mm": 0.0},
])
def test_invalid_params(params: dict[str, object]) -> None:
    image = np.ones((2, 2, 2))
    with pytest.raises(InvalidInputError):
        extra_features(image, image.astype(int), image > 0, (1.0, 1.0, 1.0), params)


def test_invalid_inputs() -> None:
    image = np.ones((2, 2, 2))
    mask = np.ones((2, 2, 2), bool)
    with pytest.raises(InvalidInputError, match="empty"):
        extra_features(image, image.astype(int), ~mask, (1.0, 1.0, 1.0))
    with pytest.raises(InvalidInputError, match="one shape"):
        extra_features(image, np.ones((2, 2, 3), int), mask, (1.0, 1.0, 1.0))
    with pytest.raises(InvalidInputError, match=">= 1"):
        extra_features(image, np.zeros((2, 2, 2), int), mask, (1.0, 1.0, 1.0))
    with pytest.raises(InvalidInputError, match="integer"):
        extra_features(image, np.full((2, 2, 2), 1.5), mask, (1.0, 1.0, 1.0))
    with pytest.raises(InvalidInputError, match="spacing"):
        extra_features(image, image.astype(int), mask, (1.0, 0.0, 1.0))
