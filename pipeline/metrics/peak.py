"""SUVpeak: the mean SUV in a 1 cm³ sphere (radius 6.2035 mm), global and local variants.

Definitions (``reference/suv.md`` section 5, T16; IBSI-1 "local/global intensity peak"; PERCIST 1.0)
------------------------------------------------------------------------------------------------------
Kernel
    A sphere of volume 1 mL (``PEAK_RADIUS_MM`` = (3000 / 4π)^(1/3) = 6.2035 mm) sampled on the
    PET grid, which may be anisotropic. ``method="centre"`` (default, IBSI): a voxel belongs to the
    sphere when its centre lies within the radius (weight 1). ``method="fraction"``: each voxel
    gets the fraction of its ``subsamples``³ sub-voxel centres that lie within the radius (a
    partial-volume weight). The sphere mean is ``Σ w·SUV / Σ w``; the kernel's voxel count (non-zero
    weights) and effective volume (``Σ w`` x voxel volume, mL) are reported because on coarse
    grids they are far from 1 mL: 19 voxels = 1.216 mL on 4 mm voxels, 123 voxels = 0.984 mL on
    2 mm voxels, 39 voxels = 1.248 mL on 4 x 4 x 2 mm voxels (centre inclusion).
Global peak (default; PERCIST SULpeak, IBSI global intensity peak)
    The maximum of the sphere mean over all sphere centres at the VOI's voxels. The sphere itself
    uses every image voxel, inside the VOI or not. Equal maxima: the first centre in (z, y, x)
    order.
Local peak (IBSI local intensity peak)
    The sphere mean centred on the VOI's maximum voxel. When several voxels share the maximum,
    the one with the highest sphere mean is taken, then the first in (z, y, x) order.
Image border
    Near the border part of the sphere lies outside the image. Those voxels are left out and the
    mean is normalised by the kernel weight inside the image (``fraction_inside`` < 1); the
    result carries a warning because such a peak is a smaller, off-centre sample.

Computation
-----------
The sphere sums are one correlation of the image with the kernel, computed once per call for
all VOIs and then read at each VOI's voxels: on the union of the VOIs' bounding boxes expanded
by the kernel's half-size, or, when the expanded boxes together are smaller than their union
(a few small lesions in a large image), on each expanded box separately. The correlation is
``scipy.ndimage.correlate`` (exact direct sum over the kernel's non-zero weights) when the kernel
has at most ``DIRECT_MAX_WEIGHTS`` non-zero weights, else ``scipy.signal.fftconvolve``: measured on
a 400 x 200 x 200 float64 volume, the direct sum takes 0.2-0.4 s for the 19- to 39-voxel kernels
of 4 mm and 2.7 x 2.7 x 3.3 mm grids (FFT 0.7-1.9 s), the FFT wins from about 80 weights (2 mm
voxels: 123 weights, direct 1.2 s vs FFT 1.0 s). The direct sum is also exact for uniform
regions (no FFT round-off of ~1e-13), so equal plateaus give equal means and ties are broken
reproducibly. The normalising weight inside the image depends only on each centre's distance to
the six image faces and is read from a small table, never convolved. The local peak needs no
convolution: the sphere means at the maximum voxels are summed directly (unless more than 4096
voxels share the maximum, e.g. a noise-free organ, when one correlation over the VOI is cheaper).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ..dicom.geometry import Geometry
from ..errors import InvalidInputError
from .options import PEAK_MODES

__all__ = ["PEAK_VOLUME_ML", "PEAK_RADIUS_MM", "PEAK_MODES", "KERNEL_METHODS", "DIRECT_MAX_WEIGHTS", "PeakKernel",
           "PeakResult", "Crop", "peak_kernel", "crop_mask", "sphere_means", "suv_peak", "suv_peaks",
           "peaks_from_crops"]

#: Volume of the SUVpeak sphere (mL = cm³).
PEAK_VOLUME_ML = 1.0
#: Radius of a 1 cm³ sphere (mm): 6.2035049...
PEAK_RADIUS_MM = (3.0 * PEAK_VOLUME_ML * 1000.0 / (4.0 * math.pi)) ** (1.0 / 3.0)
KERNEL_METHODS = ("centre", "fraction")
ENGINES = ("auto", "direct", "fft")
#: Kernels with at most this many non-zero weights are correlated directly, larger ones by FFT.
DIRECT_MAX_WEIGHTS = 80
#: Local peak: beyond this many maximum voxels the sphere means are read from a correlation instead of summed.
_LOCAL_GATHER_MAX = 4096

Box = tuple[slice, slice, slice]


# ------------------------------------------------------------------------------------------------ kernel
@dataclass(frozen=True, eq=False)
class PeakKernel:
    """The SUVpeak sphere sampled on a grid.

    Attributes
    ----------
    weights : numpy.ndarray
        (z, y, x) float64 weights in [0, 1], odd-sized and symmetric, centred on the sphere centre.
    spacing : tuple of float
        Voxel size (dx, dy, dz) in mm (the :class:`~pipeline.dicom.geometry.Geometry` order).
    radius_mm : float
        Sphere radius (mm).
    method : str
        ``centre`` (voxel-centre inclusion) or ``fraction`` (sub-voxel fraction).
    subsamples : int
        Sub-voxels per axis for ``fraction`` (1 for ``centre``).
    """

    weights: NDArray[np.float64]
    spacing: tuple[float, float, float]
    radius_mm: float
    method: str
    subsamples: int

    @property
    def half_size(self) -> tuple[int, int, int]:
        """Half-size (z, y, x) in voxels: the kernel spans ``2 h + 1`` voxels per axis."""
        return tuple(int(n) // 2 for n in self.weights.shape)  # type: ignore[return-value]

    @property
    def n_voxels(self) -> int:
        """Voxels with a non-zero weight."""
        return int(np.count_nonzero(self.weights))

    @property
    def weight_sum(self) -> float:
        """Sum of the weights (voxels)."""
        return float(self.weights.sum())

    @property
    def voxel_volume_ml(self) -> float:
        """Volume of one voxel (mL)."""
        return float(np.prod(self.spacing)) / 1000.0

    @property
    def volume_ml(self) -> float:
        """Effective sphere volume: sum of the weights x voxel volume (mL)."""
        return self.weight_sum * self.voxel_volume_ml

    def taps(self) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
        """Offsets (k, 3) in (z, y, x) voxels from the centre and weights (k,) of the non-zero weights, C order."""
        index = np.nonzero(self.weights)
        offsets = np.stack(index, axis=1) - np.asarray(self.half_size)
        return offsets, self.weights[index]

    def matches(self, spacing: Sequence[float], tol_mm: float = 1e-6) -> bool:
        """True when the kernel was built for voxels of ``spacing`` (dx, dy, dz) mm."""
        return bool(np.allclose(self.spacing, np.asarray(spacing, dtype=float), atol=tol_mm, rtol=0.0))

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for provenance."""
        return {"radius_mm": self.radius_mm, "method": self.method, "subsamples": self.subsamples,
                "spacing_xyz_mm": [float(s) for s in self.spacing], "n_voxels": self.n_voxels,
                "shape_zyx": list(self.weights.shape), "weight_sum": self.weight_sum, "volume_ml": self.volume_ml}


def peak_kernel(spacing: Sequence[float], *, radius_mm: float = PEAK_RADIUS_MM, method: str = "centre",
                subsamples: int = 5) -> PeakKernel:
    """The SUVpeak sphere on voxels of the given size.

    Parameters
    ----------
    spacing : sequence of float
        Voxel size (dx, dy, dz) in mm, as :attr:`Geometry.spacing`.
    radius_mm : float
        Sphere radius (mm); default that of a 1 cm³ sphere (6.2035 mm).
    method : {"centre", "fraction"}
        ``centre``: weight 1 for voxels whose centre lies within the radius (IBSI).
        ``fraction``: the fraction of the voxel's ``subsamples``³ regularly spaced sub-voxel centres
        that lie within the radius.
    subsamples : int
        Sub-voxels per axis for ``fraction`` (5 gives 125 per voxel).

    Returns
    -------
    PeakKernel

    Raises
    ------
    InvalidInputError
        For a non-positive spacing or radius, an unknown method or fewer than one sub-voxel.
    """
    sx, sy, sz = (float(s) for s in spacing)
    if not all(math.isfinite(s) and s > 0 for s in (sx, sy, sz)):
        raise InvalidInputError(f"voxel spacing must be positive, got {list(spacing)}", attribute="spacing")
    if not (math.isfinite(radius_mm) and radius_mm > 0):
        raise InvalidInputError(f"peak radius must be positive, got {radius_mm!r}", attribute="radius_mm")
    if method not in KERNEL_METHODS:
        raise InvalidInputError(f"unknown SUVpeak kernel method {method!r}", attribute="peak_method",
                                remedy=f"use one of {', '.join(KERNEL_METHODS)}")
    n = int(subsamples) if method == "fraction" else 1
    if n < 1:
        raise InvalidInputError(f"subsamples must be >= 1, got {subsamples!r}", attribute="subsamples")
    r2 = radius_mm * radius_mm * (1.0 + 1e-12)  # a centre exactly on the surface is inside
    step_zyx = (sz, sy, sx)
    half = [int(math.floor(radius_mm / s + 0.5)) + 1 for s in step_zyx]
    # sub-voxel centres along each axis: (2h+1) voxels x n sub-positions, in mm from the kernel centre
    sub = ((np.arange(n) + 0.5) / n - 0.5)
    coords = [((np.arange(-h, h + 1)[:, None] + sub[None, :]) * s).ravel() for h, s in zip(half, step_zyx,
                                                                                             strict=True)]
    z, y, x = coords[0][:, None, None], coords[1][None, :, None], coords[2][None, None, :]
    inside = (z * z + y * y + x * x) <= r2
    shape6 = (2 * half[0] + 1, n, 2 * half[1] + 1, n, 2 * half[2] + 1, n)
    counts = inside.reshape(shape6).sum(axis=(1, 3, 5))
    weights = counts.astype(np.float64) / float(n ** 3)
    # trim empty outer planes, keeping the kernel symmetric about its centre
    trim = []
    for axis, h in enumerate(half):
        other = tuple(a for a in range(3) if a != axis)
        used = np.flatnonzero(weights.any(axis=other))
        reach = int(max(h - used[0], used[-1] - h)) if used.size else 0
        trim.append(slice(h - reach, h + reach + 1))
    weights = np.ascontiguousarray(weights[tuple(trim)])
    return PeakKernel(weights, (sx, sy, sz), float(radius_mm), method, n)


# ------------------------------------------------------------------------------------------------ crops
@dataclass(frozen=True, eq=False)
class Crop:
    """A VOI mask cropped to its bounding box.

    Attributes
    ----------
    box : tuple of slice
        (z, y, x) slices of the bounding box in the image.
    mask : numpy.ndarray
        Boolean mask of the box's shape.
    n_voxels : int
        Voxels in the mask (counted when not given).
    """

    box: Box
    mask: NDArray[np.bool_]
    n_voxels: int = -1

    def __post_init__(self) -> None:
        if self.mask.shape != tuple(s.stop - s.start for s in self.box):
            raise ValueError(f"mask shape {self.mask.shape} does not match the box {self.box}")
        if self.n_voxels < 0:
            object.__setattr__(self, "n_voxels", int(np.count_nonzero(self.mask)))

    def positions(self) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        """Image (z, y, x) indices of the mask's voxels, in C order."""
        local = np.nonzero(self.mask)
        return tuple(p + s.start for p, s in zip(local, self.box, strict=True))

    def touches_border(self, shape: Sequence[int]) -> bool:
        """True when the mask has a voxel on a face of an image of ``shape``."""
        m = self.mask
        for axis, (s, n) in enumerate(zip(self.box, shape, strict=True)):
            if s.start == 0 and np.take(m, 0, axis=axis).any():
                return True
            if s.stop == n and np.take(m, -1, axis=axis).any():
                return True
        return False


def crop_mask(mask: NDArray[np.bool_]) -> Crop | None:
    """Crop a (z, y, x) boolean mask to its bounding box; None for an empty mask."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 3:
        raise ValueError(f"expected a 3D mask, got shape {mask.shape}")
    zs = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
    if zs.size == 0:
        return None
    z0, z1 = int(zs[0]), int(zs[-1]) + 1
    slab = mask[z0:z1]
    ys = np.flatnonzero(slab.any(axis=(0, 2)))
    xs = np.flatnonzero(slab.any(axis=(0, 1)))
    box = (slice(z0, z1), slice(int(ys[0]), int(ys[-1]) + 1), slice(int(xs[0]), int(xs[-1]) + 1))
    return Crop(box, np.ascontiguousarray(mask[box]))


def _expand(box: Box, half: Sequence[int], shape: Sequence[int]) -> Box:
    return tuple(slice(max(s.start - h, 0), min(s.stop + h, n))  # type: ignore[return-value]
                 for s, h, n in zip(box, half, shape, strict=True))


def _size(box: Box) -> int:
    return math.prod(s.stop - s.start for s in box)


def _union(boxes: Iterable[Box]) -> Box:
    boxes = list(boxes)
    return tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes))  # type: ignore[return-value]
                 for a in range(3))


def _within(box: Box, outer: Box) -> Box:
    (z, y, x), (oz, oy, ox) = box, outer
    return (slice(z.start - oz.start, z.stop - oz.start), slice(y.start - oy.start, y.stop - oy.start),
            slice(x.start - ox.start, x.stop - ox.start))


# ------------------------------------------------------------------------------------------------ sums
def _engine(kernel: PeakKernel, engine: str) -> str:
    if engine not in ENGINES:
        raise InvalidInputError(f"unknown SUVpeak engine {engine!r}", attribute="engine",
                                remedy=f"use one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "direct" if kernel.n_voxels <= DIRECT_MAX_WEIGHTS else "fft"
    return engine


def _correlate(region: NDArray[Any], kernel: PeakKernel, engine: str) -> NDArray[np.float64]:
    """Sphere sums Σ w·SUV over ``region``, zero outside it (float64, same shape)."""
    if engine == "direct":
        return ndimage.correlate(region, kernel.weights, output=np.float64, mode="constant", cval=0.0)
    data = np.asarray(region, dtype=np.float64)
    # the kernel is symmetric, so convolution equals correlation; flipped anyway for clarity
    from scipy import signal  # here: scipy.signal costs ~0.5 s to import, and only large kernels need it

    return signal.fftconvolve(data, kernel.weights[::-1, ::-1, ::-1], mode="same")


def _axis_cases(h: int, n: int) -> tuple[NDArray[np.intp], list[slice]]:
    """Per voxel coordinate along one axis (length ``n``): which kernel planes (of ``2 h + 1``) fall inside."""
    p = np.arange(n)
    below = np.minimum(p, h)          # kernel planes available before the centre
    above = np.minimum(n - 1 - p, h)  # and after it
    key, inverse = np.unique(below * (h + 1) + above, return_inverse=True)
    return inverse.reshape(-1).astype(np.intp), [slice(h - int(k) // (h + 1), h + int(k) % (h + 1) + 1) for k in key]


def _inside_table(kernel: PeakKernel, shape: Sequence[int]) -> tuple[NDArray[np.float64], list[NDArray[np.intp]]]:
    """Kernel weight inside an image of ``shape``: a table over the distinct border cases and, per axis, the case
    of each coordinate. The weight depends only on the centre's distance to each image face (clipped at the
    kernel's half-size), so there are few cases: one in the interior."""
    cases = [_axis_cases(h, n) for h, n in zip(kernel.half_size, shape, strict=True)]
    table = np.empty([len(c[1]) for c in cases], dtype=np.float64)
    full = tuple(slice(0, 2 * h + 1) for h in kernel.half_size)
    for i, rz in enumerate(cases[0][1]):
        for j, ry in enumerate(cases[1][1]):
            for k, rx in enumerate(cases[2][1]):
                box = (rz, ry, rx)
                table[i, j, k] = kernel.weight_sum if box == full else float(kernel.weights[box].sum())
    return table, [c[0] for c in cases]


def _weight_inside_box(kernel: PeakKernel, shape: Sequence[int], box: Box) -> NDArray[np.float64] | float:
    """Kernel weight inside the image for spheres centred at every voxel of ``box`` (a scalar when none is cut)."""
    if all(s.start >= h and s.stop <= n - h for s, h, n in zip(box, kernel.half_size, shape, strict=True)):
        return kernel.weight_sum
    table, case = _inside_table(kernel, shape)
    cz, cy, cx = (c[s] for c, s in zip(case, box, strict=True))
    return table[cz[:, None, None], cy[None, :, None], cx[None, None, :]]


def _sums_at(suv: NDArray[Any], kernel: PeakKernel,
             positions: Sequence[NDArray[np.intp]]) -> NDArray[np.float64]:
    """Sphere sums Σ w·SUV at the given centres, summed directly (voxels outside the image left out)."""
    shape = suv.shape
    offsets, weights = kernel.taps()
    pz, py, px = (np.asarray(p, dtype=np.intp) for p in positions)
    total = np.zeros(pz.shape, dtype=np.float64)
    for (oz, oy, ox), w in zip(offsets, weights, strict=True):
        qz, qy, qx = pz + oz, py + oy, px + ox
        ok = (qz >= 0) & (qz < shape[0]) & (qy >= 0) & (qy < shape[1]) & (qx >= 0) & (qx < shape[2])
        if ok.all():
            total += w * suv[qz, qy, qx]
        else:
            total[ok] += w * suv[qz[ok], qy[ok], qx[ok]]
    return total


def sphere_means(suv: NDArray[Any], kernel: PeakKernel, *, engine: str = "auto") -> NDArray[np.float64]:
    """Mean SUV in the peak sphere centred on every voxel of the image (border-truncated spheres normalised).

    Parameters
    ----------
    suv : numpy.ndarray
        (z, y, x) SUV volume (g/mL).
    kernel : PeakKernel
        Sphere on this image's grid.
    engine : {"auto", "direct", "fft"}
        ``direct``: :func:`scipy.ndimage.correlate`; ``fft``: :func:`scipy.signal.fftconvolve`;
        ``auto``: direct up to :data:`DIRECT_MAX_WEIGHTS` non-zero weights.

    Returns
    -------
    numpy.ndarray
        float64 map of the image's shape (SUV, g/mL).
    """
    suv = np.asarray(suv)
    if suv.ndim != 3:
        raise InvalidInputError(f"expected a 3D SUV volume, got shape {suv.shape}", attribute="suv")
    sums = _correlate(suv, kernel, _engine(kernel, engine))
    full: Box = (slice(0, suv.shape[0]), slice(0, suv.shape[1]), slice(0, suv.shape[2]))
    return sums / _weight_inside_box(kernel, suv.shape, full)


# ------------------------------------------------------------------------------------------------ peaks
@dataclass(frozen=True)
class PeakResult:
    """SUVpeak of one VOI.

    Attributes
    ----------
    value : float
        SUVpeak (same unit as the image, g/mL); NaN for an empty VOI.
    index_zyx : tuple of int or None
        (z, y, x) voxel index of the sphere centre.
    lps_mm : tuple of float or None
        LPS position (x, y, z) of the sphere centre (mm).
    mode : str
        ``global`` or ``local``.
    n_kernel_voxels : int
        Voxels of the whole (untruncated) kernel.
    kernel_volume_ml : float
        Effective volume of the whole kernel (mL).
    fraction_inside : float
        Kernel weight inside the image at the chosen centre / whole kernel weight (1.0 unless the
        sphere is truncated by the image border); NaN for an empty VOI.
    n_candidates : int
        Sphere centres compared: the VOI's voxels (global) or its maximum voxels (local).
    warnings : tuple of str
        Truncation, empty or small VOI, non-finite values.
    """

    value: float
    index_zyx: tuple[int, int, int] | None
    lps_mm: tuple[float, float, float] | None
    mode: str
    n_kernel_voxels: int
    kernel_volume_ml: float
    fraction_inside: float
    n_candidates: int
    warnings: tuple[str, ...] = field(default_factory=tuple)


def _check(suv: NDArray[Any], geometry: Geometry, mode: str, kernel: PeakKernel | None,
           method: str) -> PeakKernel:
    if suv.ndim != 3:
        raise InvalidInputError(f"expected a 3D SUV volume, got shape {suv.shape}", attribute="suv",
                                remedy="SUVpeak is computed on a static image; pick one frame of a dynamic series")
    if tuple(suv.shape) != tuple(geometry.shape):
        raise InvalidInputError(f"SUV volume shape {suv.shape} does not match the grid {tuple(geometry.shape)}",
                                attribute="suv")
    if mode not in PEAK_MODES:
        raise InvalidInputError(f"unknown SUVpeak mode {mode!r}", attribute="peak_mode",
                                remedy=f"use one of {', '.join(PEAK_MODES)}")
    if kernel is None:
        return peak_kernel(geometry.spacing, method=method)
    if not kernel.matches(geometry.spacing):
        raise InvalidInputError(f"SUVpeak kernel built for {list(kernel.spacing)} mm voxels, image has "
                                f"{list(geometry.spacing)} mm", attribute="kernel",
                                remedy="build the kernel with peak_kernel(geometry.spacing)")
    return kernel


def _result(value: float, centre: tuple[int, int, int] | None, geometry: Geometry, mode: str, kernel: PeakKernel,
            inside_weight: float, n_candidates: int, n_voxels: int, notes: list[str]) -> PeakResult:
    fraction = inside_weight / kernel.weight_sum if centre is not None else math.nan
    lps = None
    if centre is not None:
        z, y, x = centre
        lps = tuple(float(v) for v in geometry.index_to_lps([x, y, z]))
        if fraction < 1.0 - 1e-12:
            notes.append(f"SUVpeak sphere truncated by the image border: {100.0 * fraction:.0f} % of its weight "
                         "inside the image (mean over that part)")
        if n_voxels < kernel.n_voxels:
            notes.append(f"VOI ({n_voxels} voxels) smaller than the SUVpeak sphere ({kernel.n_voxels} voxels): "
                         "the peak includes voxels outside the VOI")
    return PeakResult(float(value), centre, lps, mode, kernel.n_voxels, kernel.volume_ml,  # type: ignore[arg-type]
                      float(fraction), int(n_candidates), tuple(notes))


def _empty(geometry: Geometry, mode: str, kernel: PeakKernel, text: str) -> PeakResult:
    return _result(math.nan, None, geometry, mode, kernel, math.nan, 0, 0, [text])


def _kth_true(mask: NDArray[np.bool_], k: int) -> tuple[int, int, int]:
    """(z, y, x) index in ``mask`` of its ``k``-th True voxel in C order (without listing all of them)."""
    per_slice = np.cumsum(np.count_nonzero(mask.reshape(mask.shape[0], -1), axis=1))
    z = int(np.searchsorted(per_slice, k, side="right"))
    before = int(per_slice[z - 1]) if z else 0
    flat = int(np.flatnonzero(mask[z])[k - before])
    y, x = divmod(flat, mask.shape[2])
    return z, y, x


def _means_in_box(sums: NDArray[np.float64], candidates: NDArray[np.bool_], box: Box, kernel: PeakKernel,
                  shape: Sequence[int]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sphere means and kernel weights inside the image at the candidate voxels of a box, in C order (1-D).

    Only candidates within the kernel's half-size of an image face need their own weight (table look-up);
    the others have the whole kernel, so no box-sized float array is made.
    """
    values = sums[candidates]
    inside = np.full(values.shape, kernel.weight_sum)
    near = [(np.arange(s.start, s.stop) < h) | (np.arange(s.start, s.stop) >= n - h)
            for s, h, n in zip(box, kernel.half_size, shape, strict=True)]
    if any(a.any() for a in near):
        zone = near[0][:, None, None] | near[1][None, :, None] | near[2][None, None, :]
        edge = candidates & zone
        if edge.any():
            table, case = _inside_table(kernel, shape)
            pz, py, px = (p + s.start for p, s in zip(np.nonzero(edge), box, strict=True))
            inside[zone[candidates]] = table[case[0][pz], case[1][py], case[2][px]]
    return values / inside, inside


def _pick(means: NDArray[np.float64], notes: list[str]) -> int | None:
    """Index of the highest finite mean, the first one on ties; None when none is finite."""
    finite = np.isfinite(means)
    if not finite.any():
        notes.append("no finite SUV in the VOI's peak spheres")
        return None
    if not finite.all():
        notes.append(f"{int((~finite).sum())} sphere means not finite (NaN or inf SUV nearby) were skipped")
        means = np.where(finite, means, -np.inf)
    return int(np.argmax(means))


def _finish(means: NDArray[np.float64], inside: NDArray[np.float64], candidates: NDArray[np.bool_], crop: Crop,
            geometry: Geometry, mode: str, kernel: PeakKernel, notes: list[str]) -> PeakResult:
    """The result for the best of the candidates (``means`` and ``inside`` in the candidates' C order)."""
    k = _pick(means, notes)
    if k is None:
        return _result(math.nan, None, geometry, mode, kernel, math.nan, means.size, crop.n_voxels, notes)
    local = _kth_true(candidates, k)
    centre = tuple(int(i) + s.start for i, s in zip(local, crop.box, strict=True))
    return _result(float(means[k]), centre, geometry, mode, kernel, float(inside[k]),
                   means.size, crop.n_voxels, notes)


def _global_from_sums(sums: NDArray[np.float64], crop: Crop, geometry: Geometry, kernel: PeakKernel,
                      shape: Sequence[int]) -> PeakResult:
    """Global peak from the sphere sums over the crop's box."""
    means, inside = _means_in_box(sums, crop.mask, crop.box, kernel, shape)
    return _finish(means, inside, crop.mask, crop, geometry, "global", kernel, [])


def _local(suv: NDArray[Any], crop: Crop, geometry: Geometry, kernel: PeakKernel, engine: str) -> PeakResult:
    """Local peak: sphere means at the VOI's maximum voxels, the highest one (then the first in C order)."""
    block = suv[crop.box]
    notes: list[str] = []
    values = block[crop.mask]
    finite = np.isfinite(values)
    if not finite.any():
        return _empty(geometry, "local", kernel, "no finite SUV in the VOI")
    if not finite.all():
        notes.append(f"{int((~finite).sum())} non-finite SUV voxels in the VOI ignored for its maximum")
    ties = crop.mask & (block == values[finite].max())
    n_ties = int(np.count_nonzero(ties))
    if n_ties <= _LOCAL_GATHER_MAX:
        positions = tuple(p + s.start for p, s in zip(np.nonzero(ties), crop.box, strict=True))
        table, case = _inside_table(kernel, suv.shape)
        inside = table[case[0][positions[0]], case[1][positions[1]], case[2][positions[2]]]
        means = _sums_at(suv, kernel, positions) / inside
    else:  # e.g. a uniform organ, every voxel a maximum: one correlation over the VOI is cheaper
        region = _expand(crop.box, kernel.half_size, suv.shape)
        sums = _correlate(suv[region], kernel, engine)[_within(crop.box, region)]
        means, inside = _means_in_box(sums, ties, crop.box, kernel, suv.shape)
    return _finish(means, inside, ties, crop, geometry, "local", kernel, notes)


def peaks_from_crops(suv: NDArray[Any], geometry: Geometry, crops: Sequence[Crop | None], *, mode: str = "global",
                     kernel: PeakKernel | None = None, method: str = "centre", engine: str = "auto",
                     strategy: str = "auto") -> list[PeakResult]:
    """SUVpeak of several VOIs given as cropped masks (see :func:`suv_peaks`).

    Parameters
    ----------
    suv : numpy.ndarray
        (z, y, x) SUV volume (g/mL).
    geometry : Geometry
        Its grid.
    crops : sequence of Crop or None
        One per VOI (None: empty VOI), from :func:`crop_mask`.
    mode : {"global", "local"}
        Peak definition (module docstring).
    kernel : PeakKernel, optional
        Defaults to ``peak_kernel(geometry.spacing, method=method)``.
    method : {"centre", "fraction"}
        Kernel weighting when ``kernel`` is not given.
    engine : {"auto", "direct", "fft"}
        Correlation engine (:func:`sphere_means`).
    strategy : {"auto", "union", "each"}
        Global peak: correlate once over the union of the VOIs' expanded boxes, or each expanded box
        separately; ``auto`` picks the smaller total volume.

    Returns
    -------
    list of PeakResult
    """
    suv = np.asarray(suv)
    kernel = _check(suv, geometry, mode, kernel, method)
    engine = _engine(kernel, engine)
    if strategy not in ("auto", "union", "each"):
        raise InvalidInputError(f"unknown strategy {strategy!r}", attribute="strategy",
                                remedy="use auto, union or each")
    results: list[PeakResult | None] = [None] * len(crops)
    live = [i for i, c in enumerate(crops) if c is not None and c.n_voxels > 0]
    for i, c in enumerate(crops):
        if c is None or c.n_voxels == 0:
            results[i] = _empty(geometry, mode, kernel, "empty VOI: no SUVpeak")
    if mode == "local":
        for i in live:
            results[i] = _local(suv, crops[i], geometry, kernel, engine)  # type: ignore[arg-type]
        return results  # type: ignore[return-value]
    if not live:
        return results  # type: ignore[return-value]
    expanded = {i: _expand(crops[i].box, kernel.half_size, suv.shape) for i in live}  # type: ignore[union-attr]
    union = _union(expanded.values())
    each_cost = sum(_size(b) for b in expanded.values())
    if strategy == "union" or (strategy == "auto" and _size(union) <= each_cost):
        sums = _correlate(suv[union], kernel, engine)
        for i in live:
            crop = crops[i]
            assert crop is not None
            results[i] = _global_from_sums(sums[_within(crop.box, union)], crop, geometry, kernel, suv.shape)
    else:
        for i in live:
            crop = crops[i]
            assert crop is not None
            region = expanded[i]
            sums = _correlate(suv[region], kernel, engine)
            results[i] = _global_from_sums(sums[_within(crop.box, region)], crop, geometry, kernel, suv.shape)
    return results  # type: ignore[return-value]


def suv_peaks(suv: NDArray[Any], geometry: Geometry, masks: NDArray[np.bool_] | Sequence[NDArray[np.bool_]], *,
              mode: str = "global", kernel: PeakKernel | None = None, method: str = "centre", engine: str = "auto",
              strategy: str = "auto") -> list[PeakResult]:
    """SUVpeak of every VOI of a set, with one correlation of the image shared by all of them.

    Parameters
    ----------
    suv : numpy.ndarray
        (z, y, x) SUV volume (g/mL).
    geometry : Geometry
        Its grid (voxel size for the kernel, LPS positions of the peaks).
    masks : numpy.ndarray or sequence of numpy.ndarray
        (n, z, y, x) boolean masks (e.g. ``VoiSet.masks``) or a sequence of (z, y, x) masks.
    mode : {"global", "local"}
        ``global`` (default): maximum sphere mean over centres at the VOI's voxels (PERCIST, IBSI global
        intensity peak); ``local``: sphere centred on the VOI's maximum voxel (IBSI local intensity peak).
    kernel : PeakKernel, optional
        A precomputed kernel for this grid.
    method : {"centre", "fraction"}
        Kernel weighting when ``kernel`` is not given: voxel-centre inclusion (IBSI) or sub-voxel fraction.
    engine : {"auto", "direct", "fft"}
        Correlation engine (:func:`sphere_means`).
    strategy : {"auto", "union", "each"}
        See :func:`peaks_from_crops`.

    Returns
    -------
    list of PeakResult
        One per mask, in order. Empty masks give NaN with a warning.

    Raises
    ------
    InvalidInputError
        For a non-3D image, a mask or kernel that does not fit the grid, an unknown mode or engine.
    """
    crops = []
    for mask in masks:
        mask = np.asarray(mask)
        if mask.shape != tuple(geometry.shape):
            raise InvalidInputError(f"mask shape {mask.shape} does not match the grid {tuple(geometry.shape)}",
                                    attribute="masks")
        crops.append(crop_mask(mask))
    return peaks_from_crops(suv, geometry, crops, mode=mode, kernel=kernel, method=method, engine=engine,
                            strategy=strategy)


def suv_peak(suv: NDArray[Any], geometry: Geometry, mask: NDArray[np.bool_], *, mode: str = "global",
             kernel: PeakKernel | None = None, method: str = "centre", engine: str = "auto") -> PeakResult:
    """SUVpeak of one VOI (see :func:`suv_peaks`)."""
    return suv_peaks(suv, geometry, [mask], mode=mode, kernel=kernel, method=method, engine=engine)[0]
