"""SUVpeak: kernel voxel counts and volumes, analytic phantoms, global vs local peak, border truncation,
peak location, and the correlation engines against a brute-force loop."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from pipeline.dicom.geometry import Geometry
from pipeline.errors import InvalidInputError
from pipeline.metrics.peak import (
    PEAK_RADIUS_MM,
    crop_mask,
    peak_kernel,
    peaks_from_crops,
    sphere_means,
    suv_peak,
    suv_peaks,
)


def _geometry(shape_zyx: tuple[int, int, int], spacing_xyz: tuple[float, float, float],
              origin: tuple[float, float, float] = (0.0, 0.0, 0.0), direction: np.ndarray | None = None) -> Geometry:
    return Geometry(shape_zyx, spacing_xyz, origin, np.eye(3) if direction is None else direction)


def _distance_mm(shape: tuple[int, int, int], spacing_xyz: tuple[float, float, float],
                 centre_zyx: tuple[float, float, float]) -> np.ndarray:
    """Distance (mm) of every voxel centre from a point given in (z, y, x) voxel units."""
    sz = (spacing_xyz[2], spacing_xyz[1], spacing_xyz[0])
    axes = [(np.arange(n) - c) * s for n, c, s in zip(shape, centre_zyx, sz, strict=True)]
    z, y, x = np.meshgrid(*axes, indexing="ij")
    return np.sqrt(z * z + y * y + x * x)


def _lattice_count(spacing_xyz: tuple[float, float, float], radius: float = PEAK_RADIUS_MM) -> int:
    """Voxel centres within ``radius`` of a voxel centre, by an explicit loop."""
    reach = [int(radius // s) + 1 for s in spacing_xyz]
    count = 0
    for i, j, k in itertools.product(*[range(-r, r + 1) for r in reach]):
        if (i * spacing_xyz[0]) ** 2 + (j * spacing_xyz[1]) ** 2 + (k * spacing_xyz[2]) ** 2 <= radius ** 2:
            count += 1
    return count


# ------------------------------------------------------------------------------------------------ kernel
def test_peak_radius_is_that_of_a_1_ml_sphere() -> None:
    assert PEAK_RADIUS_MM == pytest.approx(6.2035, abs=5e-5)
    assert 4.0 / 3.0 * math.pi * PEAK_RADIUS_MM ** 3 == pytest.approx(1000.0, rel=1e-12)


@pytest.mark.parametrize(("spacing", "n_voxels", "shape_zyx"), [
    ((4.0, 4.0, 4.0), 19, (3, 3, 3)),          # 1 + 6 face + 12 edge neighbours: 1.216 mL
    ((2.0, 2.0, 2.0), 123, (7, 7, 7)),         # 0.984 mL
    ((4.0, 4.0, 2.0), 39, (7, 3, 3)),          # dx = dy = 4, dz = 2 mm: 1.248 mL
    ((2.734, 2.734, 3.27), 39, (3, 5, 5)),     # a typical clinical grid: 0.953 mL
    ((3.0, 3.0, 3.0), 33, (5, 5, 5)),          # 0.891 mL
])
def test_centre_kernel_voxel_count_and_volume(spacing: tuple[float, float, float], n_voxels: int,
                                              shape_zyx: tuple[int, int, int]) -> None:
    kernel = peak_kernel(spacing)
    assert kernel.n_voxels == n_voxels == _lattice_count(spacing)
    assert kernel.weights.shape == shape_zyx
    assert set(np.unique(kernel.weights)) == {0.0, 1.0}
    assert kernel.volume_ml == pytest.approx(n_voxels * math.prod(spacing) / 1000.0, rel=1e-12)
    assert np.array_equal(kernel.weights, kernel.weights[::-1, ::-1, ::-1])  # symmetric about its centre


def test_named_kernel_volumes() -> None:
    assert peak_kernel((4.0, 4.0, 4.0)).volume_ml == pytest.approx(1.216, abs=1e-12)
    assert peak_kernel((2.0, 2.0, 2.0)).volume_ml == pytest.approx(0.984, abs=1e-12)
    assert peak_kernel((4.0, 4.0, 2.0)).volume_ml == pytest.approx(1.248, abs=1e-12)


@pytest.mark.parametrize("spacing", [(4.0, 4.0, 4.0), (2.0, 2.0, 2.0), (4.0, 4.0, 2.0), (2.734, 2.734, 3.27)])
def test_fraction_kernel_is_close_to_1_ml(spacing: tuple[float, float, float]) -> None:
    kernel = peak_kernel(spacing, method="fraction", subsamples=5)
    assert kernel.weights.min() >= 0.0 and kernel.weights.max() == 1.0
    assert kernel.volume_ml == pytest.approx(1.0, abs=0.01)
    finer = peak_kernel(spacing, method="fraction", subsamples=15)
    assert abs(finer.volume_ml - 1.0) < 0.003   # converges to the sphere's volume


def test_fraction_kernel_counts_4mm() -> None:
    kernel = peak_kernel((4.0, 4.0, 4.0), method="fraction", subsamples=5)
    assert kernel.n_voxels == 27  # the whole 3x3x3 block has some sub-voxel within 6.2 mm
    assert kernel.weights[1, 1, 1] == 1.0
    assert kernel.weight_sum == pytest.approx(15.48, abs=1e-12)  # 1935 of 125 x 27 sub-voxels
    assert kernel.volume_ml == pytest.approx(0.99072, abs=1e-12)


def test_kernel_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="method"):
        peak_kernel((4.0, 4.0, 4.0), method="gauss")
    with pytest.raises(InvalidInputError, match="spacing"):
        peak_kernel((4.0, 0.0, 4.0))
    with pytest.raises(InvalidInputError, match="subsamples"):
        peak_kernel((4.0, 4.0, 4.0), method="fraction", subsamples=0)


# ------------------------------------------------------------------------------------------------ analytic phantoms
@pytest.mark.parametrize("voxel", [2.0, 4.0])
@pytest.mark.parametrize("mode", ["global", "local"])
def test_hot_sphere_larger_than_the_peak_sphere_gives_its_value(voxel: float, mode: str) -> None:
    n = int(80 / voxel)
    spacing = (voxel, voxel, voxel)
    geometry = _geometry((n, n, n), spacing)
    centre = ((n - 1) / 2.0 + 0.3,) * 3  # not on a voxel centre
    inside = _distance_mm((n, n, n), spacing, centre) <= 15.0
    suv = np.where(inside, 8.0, 1.0).astype(np.float32)
    result = suv_peak(suv, geometry, inside, mode=mode)
    assert result.value == pytest.approx(8.0, abs=1e-12)
    assert result.fraction_inside == 1.0
    assert inside[result.index_zyx]


def test_hot_sphere_smaller_than_the_peak_sphere_2mm() -> None:
    # hot ball of radius 4 mm centred on a voxel of a 2 mm grid: 33 voxel centres (|i|² <= 4),
    # all inside the 123-voxel peak sphere centred there: (33 x 8 + 90 x 1) / 123
    spacing = (2.0, 2.0, 2.0)
    geometry = _geometry((21, 21, 21), spacing)
    hot = _distance_mm((21, 21, 21), spacing, (10, 10, 10)) <= 4.0
    assert hot.sum() == 33
    suv = np.where(hot, 8.0, 1.0)
    expected = (33 * 8.0 + 90 * 1.0) / 123
    for mode in ("global", "local"):
        result = suv_peak(suv, geometry, hot, mode=mode)
        assert 1.0 < result.value < 8.0
        assert result.value == pytest.approx(expected, rel=1e-12)
        # the analytic mix at the reported centre: the hot voxels its sphere contains
        in_sphere = _distance_mm((21, 21, 21), spacing, result.index_zyx) <= PEAK_RADIUS_MM
        assert result.value == pytest.approx((8.0 * (in_sphere & hot).sum() + (in_sphere & ~hot).sum()) / 123,
                                             rel=1e-12)
    # all 33 hot voxels share the maximum; several spheres hold all of them; the first in (z, y, x) order is taken
    assert suv_peak(suv, geometry, hot, mode="local").index_zyx == (9, 10, 10)
    assert suv_peak(suv, geometry, hot, mode="local").n_candidates == 33


def test_single_hot_voxel_4mm() -> None:
    geometry = _geometry((9, 9, 9), (4.0, 4.0, 4.0))
    suv = np.ones((9, 9, 9))
    suv[4, 4, 4] = 8.0
    voi = np.zeros_like(suv, dtype=bool)
    voi[4, 4, 4] = True
    for mode in ("global", "local"):
        result = suv_peak(suv, geometry, voi, mode=mode)
        assert result.value == pytest.approx(26.0 / 19.0, rel=1e-12)  # (8 + 18 x 1) / 19
        assert result.index_zyx == (4, 4, 4)
        assert result.n_kernel_voxels == 19 and result.kernel_volume_ml == pytest.approx(1.216)
        assert any("smaller than the SUVpeak sphere" in w for w in result.warnings)


def test_global_and_local_peaks_differ_for_an_isolated_hot_voxel() -> None:
    # VOI holds an isolated hot voxel (10) and a warm 5x5x5 block (5): the local peak sits on the hot voxel,
    # the global peak inside the block, whose 3x3x3 core fills the 19-voxel sphere with 5
    geometry = _geometry((12, 12, 20), (4.0, 4.0, 4.0))
    suv = np.ones((12, 12, 20))
    suv[6, 6, 3] = 10.0
    suv[4:9, 4:9, 10:15] = 5.0
    voi = np.zeros(suv.shape, dtype=bool)
    voi[2:10, 2:10, 1:18] = True
    local = suv_peak(suv, geometry, voi, mode="local")
    glob = suv_peak(suv, geometry, voi, mode="global")
    assert local.value == pytest.approx(28.0 / 19.0, rel=1e-12) and local.index_zyx == (6, 6, 3)
    assert local.n_candidates == 1
    assert glob.value == pytest.approx(5.0, rel=1e-12) and glob.index_zyx == (5, 5, 11)  # first of the 27 ties
    assert glob.n_candidates == int(voi.sum())


def test_global_peak_sphere_reaches_outside_the_voi() -> None:
    geometry = _geometry((9, 9, 9), (4.0, 4.0, 4.0))
    suv = np.ones((9, 9, 9))
    suv[4, 4, 5:] = 9.0  # a hot rod outside the VOI, touching its only voxel
    voi = np.zeros(suv.shape, dtype=bool)
    voi[4, 4, 4] = True
    result = suv_peak(suv, geometry, voi)
    assert result.value == pytest.approx((1 + 1 * 9.0 + 17) / 19.0, rel=1e-12)  # only (4,4,5) is within 6.2 mm


def test_local_peak_ties_take_the_highest_sphere_mean() -> None:
    geometry = _geometry((10, 10, 10), (4.0, 4.0, 4.0))
    suv = np.ones((10, 10, 10))
    suv[2, 2, 2] = 6.0                     # first in C order, cold surroundings
    suv[7, 7, 7] = 6.0                     # later, warm surroundings
    suv[6:9, 6:9, 6:9] += 2.0
    suv[7, 7, 7] = 6.0
    voi = np.ones(suv.shape, dtype=bool)
    result = suv_peak(suv, geometry, voi, mode="local")
    assert result.index_zyx == (7, 7, 7)
    assert result.n_candidates == 2
    assert result.value == pytest.approx((6.0 + 18 * 3.0) / 19.0, rel=1e-12)


def test_global_peak_ties_take_the_first_centre_in_zyx_order() -> None:
    geometry = _geometry((8, 8, 8), (4.0, 4.0, 4.0))
    suv = np.full((8, 8, 8), 2.5)
    voi = np.zeros(suv.shape, dtype=bool)
    voi[3:6, 2:5, 4:7] = True
    result = suv_peak(suv, geometry, voi)
    assert result.value == 2.5 and result.index_zyx == (3, 2, 4)


def test_peak_location_on_an_off_centre_hot_spot() -> None:
    # a smooth hot spot centred on voxel (z, y, x) = (11, 23, 30) of an oblique, flipped grid
    direction = np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # columns: LPS of x, y, z axes
    geometry = _geometry((20, 40, 48), (2.5, 3.0, 4.0), origin=(100.0, -50.0, 30.0), direction=direction)
    d = _distance_mm((20, 40, 48), geometry.spacing, (11, 23, 30))
    suv = 1.0 + 7.0 * np.exp(-d ** 2 / (2 * 8.0 ** 2))
    suv[15, 5, 5] = 7.9  # a hotter-than-neighbours spike in the VOI that the global peak must ignore
    voi = np.zeros(suv.shape, dtype=bool)
    voi[2:18, 3:37, 4:44] = True
    for mode, expected in (("global", (11, 23, 30)), ("local", (11, 23, 30))):
        result = suv_peak(suv, geometry, voi, mode=mode)
        assert result.index_zyx == expected
        assert result.lps_mm == pytest.approx(tuple(geometry.index_to_lps([30, 23, 11])), abs=1e-9)
        # x index along -L, y index along -S, z index along +P
        assert result.lps_mm == pytest.approx((100.0 - 30 * 2.5, -50.0 + 11 * 4.0, 30.0 - 23 * 3.0), abs=1e-9)


# ------------------------------------------------------------------------------------------------ border
def test_sphere_cut_by_the_image_border_is_normalised_and_warned() -> None:
    geometry = _geometry((6, 6, 6), (4.0, 4.0, 4.0))
    rng = np.random.default_rng(3)
    suv = rng.uniform(1.0, 3.0, (6, 6, 6))
    voi = np.zeros(suv.shape, dtype=bool)
    voi[0, 0, 0] = True
    result = suv_peak(suv, geometry, voi)
    # inside the image, the corner's sphere holds the corner, its 3 face and 3 edge neighbours: 7 of 19
    inside = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1)]
    assert result.value == pytest.approx(np.mean([suv[p] for p in inside]), rel=1e-12)
    assert result.fraction_inside == pytest.approx(7 / 19, rel=1e-12)
    assert any("truncated by the image border: 37 %" in w for w in result.warnings)
    uniform = suv_peak(np.full((6, 6, 6), 3.0), geometry, voi)
    assert uniform.value == pytest.approx(3.0, rel=1e-15)


# ------------------------------------------------------------------------------------------------ engines
def _brute_force_means(suv: np.ndarray, spacing_xyz: tuple[float, float, float], weights: np.ndarray) -> np.ndarray:
    """Sphere means at every voxel by explicit loops (kernel weights indexed by offset)."""
    nz, ny, nx = suv.shape
    hz, hy, hx = (s // 2 for s in weights.shape)
    out = np.empty(suv.shape)
    for z, y, x in itertools.product(range(nz), range(ny), range(nx)):
        total = weight = 0.0
        for a, b, c in itertools.product(range(-hz, hz + 1), range(-hy, hy + 1), range(-hx, hx + 1)):
            w = weights[a + hz, b + hy, c + hx]
            if w and 0 <= z + a < nz and 0 <= y + b < ny and 0 <= x + c < nx:
                total += w * suv[z + a, y + b, x + c]
                weight += w
        out[z, y, x] = total / weight
    return out


def _brute_force_centre_weights(spacing_xyz: tuple[float, float, float]) -> np.ndarray:
    reach = [int(PEAK_RADIUS_MM // s) + 1 for s in spacing_xyz[::-1]]  # z, y, x
    w = np.zeros([2 * r + 1 for r in reach])
    sz, sy, sx = spacing_xyz[::-1]
    for a, b, c in itertools.product(*[range(-r, r + 1) for r in reach]):
        inside = (a * sz) ** 2 + (b * sy) ** 2 + (c * sx) ** 2 <= PEAK_RADIUS_MM ** 2
        w[a + reach[0], b + reach[1], c + reach[2]] = inside
    return w


@pytest.mark.parametrize("spacing", [(2.5, 3.0, 4.0), (2.0, 2.0, 2.0), (4.0, 4.0, 4.0)])
def test_engines_equal_a_brute_force_loop(spacing: tuple[float, float, float]) -> None:
    rng = np.random.default_rng(42)
    shape = (7, 9, 11)
    geometry = _geometry(shape, spacing)
    suv = rng.gamma(2.0, 1.5, shape).astype(np.float32)
    masks = [rng.random(shape) < 0.15, np.zeros(shape, bool), np.zeros(shape, bool)]
    masks[1][0:3, 0:2, 8:11] = True   # a corner VOI: truncated spheres
    masks[2][3, 4, 5] = True
    brute = _brute_force_means(suv.astype(np.float64), spacing, _brute_force_centre_weights(spacing))
    for engine in ("direct", "fft"):
        kernel = peak_kernel(spacing)
        assert np.allclose(sphere_means(suv, kernel, engine=engine), brute, rtol=0, atol=1e-9)
        for strategy in ("union", "each"):
            crops = [crop_mask(m) for m in masks]
            found = peaks_from_crops(suv, geometry, crops, mode="global", engine=engine, strategy=strategy)
            for mask, result in zip(masks, found, strict=True):
                assert result.value == pytest.approx(brute[mask].max(), abs=1e-9)
                assert brute[result.index_zyx] == pytest.approx(brute[mask].max(), abs=1e-9)
        for mask, result in zip(masks, suv_peaks(suv, geometry, masks, mode="local", engine=engine), strict=True):
            top = mask & (suv == suv[mask].max())
            assert result.value == pytest.approx(brute[top].max(), abs=1e-9)


def test_fraction_kernel_engines_equal_a_brute_force_loop() -> None:
    rng = np.random.default_rng(5)
    spacing = (3.0, 3.0, 4.0)
    shape = (6, 8, 9)
    geometry = _geometry(shape, spacing)
    suv = rng.uniform(0.5, 9.0, shape)
    mask = rng.random(shape) < 0.3
    kernel = peak_kernel(spacing, method="fraction")
    brute = _brute_force_means(suv, spacing, kernel.weights)
    for engine in ("direct", "fft"):
        result = suv_peak(suv, geometry, mask, kernel=kernel, engine=engine)
        assert result.value == pytest.approx(brute[mask].max(), abs=1e-9)
        assert result.kernel_volume_ml == pytest.approx(kernel.volume_ml)


def test_kernel_larger_than_the_image() -> None:
    spacing = (2.0, 2.0, 2.0)  # 7-voxel-wide kernel on a 3 x 4 x 5 image
    rng = np.random.default_rng(9)
    suv = rng.uniform(1.0, 2.0, (3, 4, 5))
    geometry = _geometry((3, 4, 5), spacing)
    mask = np.ones(suv.shape, dtype=bool)
    brute = _brute_force_means(suv, spacing, _brute_force_centre_weights(spacing))
    for engine in ("direct", "fft"):
        assert suv_peak(suv, geometry, mask, engine=engine).value == pytest.approx(brute.max(), abs=1e-9)


# ------------------------------------------------------------------------------------------------ edge cases
def test_empty_voi_gives_nan_and_a_warning() -> None:
    geometry = _geometry((5, 5, 5), (4.0, 4.0, 4.0))
    results = suv_peaks(np.ones((5, 5, 5)), geometry, np.zeros((2, 5, 5, 5), dtype=bool))
    assert all(math.isnan(r.value) and r.index_zyx is None and r.lps_mm is None for r in results)
    assert results[0].warnings == ("empty VOI: no SUVpeak",)
    local = suv_peaks(np.ones((5, 5, 5)), geometry, np.zeros((1, 5, 5, 5), dtype=bool), mode="local")
    assert math.isnan(local[0].value)


def test_nan_voxels_are_skipped_with_a_warning() -> None:
    geometry = _geometry((7, 7, 7), (4.0, 4.0, 4.0))
    suv = np.full((7, 7, 7), 2.0)
    suv[3, 3, 3] = np.nan
    mask = np.zeros(suv.shape, dtype=bool)
    mask[3, 3, 2:5] = True
    result = suv_peak(suv, geometry, mask)
    assert math.isnan(result.value) and result.warnings == ("no finite SUV in the VOI's peak spheres",)
    mask[3, 3, 1] = True  # (3,3,1)'s sphere does not reach (3,3,3) at 8 mm
    result = suv_peak(suv, geometry, mask)
    assert result.value == 2.0 and result.index_zyx == (3, 3, 1)
    assert any("3 sphere means not finite" in w for w in result.warnings)


def test_invalid_arguments_raise() -> None:
    geometry = _geometry((5, 5, 5), (4.0, 4.0, 4.0))
    mask = np.ones((5, 5, 5), dtype=bool)
    with pytest.raises(InvalidInputError, match="mode"):
        suv_peak(np.ones((5, 5, 5)), geometry, mask, mode="max")
    with pytest.raises(InvalidInputError, match="3D"):
        suv_peak(np.ones((2, 5, 5, 5)), geometry, mask)
    with pytest.raises(InvalidInputError, match="kernel built for"):
        suv_peak(np.ones((5, 5, 5)), geometry, mask, kernel=peak_kernel((2.0, 2.0, 2.0)))
    with pytest.raises(InvalidInputError, match="engine"):
        suv_peak(np.ones((5, 5, 5)), geometry, mask, engine="gpu")
    with pytest.raises(InvalidInputError, match="mask shape"):
        suv_peak(np.ones((5, 5, 5)), geometry, np.ones((4, 5, 5), dtype=bool))


def test_local_peak_with_many_tied_maxima_uses_one_correlation(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.metrics import peak as peak_module

    rng = np.random.default_rng(11)
    spacing = (3.0, 3.0, 4.0)
    geometry = _geometry((10, 12, 14), spacing)
    suv = rng.integers(0, 3, (10, 12, 14)).astype(np.float64)  # a third of the voxels tie for the maximum
    mask = rng.random(suv.shape) < 0.7
    brute = _brute_force_means(suv, spacing, _brute_force_centre_weights(spacing))
    top = mask & (suv == 2.0)
    gathered = suv_peak(suv, geometry, mask, mode="local")
    monkeypatch.setattr(peak_module, "_LOCAL_GATHER_MAX", 0)
    correlated = suv_peak(suv, geometry, mask, mode="local")
    assert gathered.n_candidates == correlated.n_candidates == int(top.sum()) > 100
    assert gathered.value == pytest.approx(brute[top].max(), abs=1e-9)
    assert correlated.value == pytest.approx(brute[top].max(), abs=1e-9)
    assert gathered.index_zyx == correlated.index_zyx
    assert gathered.fraction_inside == correlated.fraction_inside
