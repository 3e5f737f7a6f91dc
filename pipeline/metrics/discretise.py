"""IBSI intensity discretisation, done by petvoi before pyradiomics sees the image.

Both functions return an integer array of the image's shape: bin numbers (1, 2, ...) inside the mask, 0 outside.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidInputError

__all__ = ["discretise_fbs", "discretise_fbn", "check_integer_bins"]

# Quotients are rounded to this many decimals before the floor, so that a value lying on a bin edge up to
# floating-point error (0.3 / 0.1 = 2.9999999999999996) lands in the upper bin, as the IBSI formula intends.
_EDGE_DECIMALS = 9


def _roi_values(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if image.shape != mask.shape:
        raise InvalidInputError(f"image shape {image.shape} and mask shape {mask.shape} differ",
                                remedy="give the mask on the image grid")
    if not mask.any():
        raise InvalidInputError("the mask is empty", remedy="give a mask with at least one voxel")
    values = image[mask]
    if not np.all(np.isfinite(values)):
        raise InvalidInputError("the image has NaN or infinite values inside the mask",
                                remedy="mask out non-finite voxels before texture analysis")
    return values, mask


def discretise_fbs(image: np.ndarray, mask: np.ndarray, bin_width: float, lower_bound: float, *,
                   clip_below: bool = False) -> np.ndarray:
    """IBSI fixed bin size discretisation counted from a fixed lower bound.

    Bin number ``floor((x - lower_bound) / bin_width) + 1``; a value exactly on an edge belongs to the upper bin.

    Parameters
    ----------
    image : numpy.ndarray
        Intensities (e.g. SUV, unitless), any shape.
    mask : numpy.ndarray of bool
        ROI, same shape.
    bin_width : float
        Bin width in image units (e.g. 0.25 SUV); > 0.
    lower_bound : float
        Intensity of the lower edge of bin 1 (IBSI: the lower bound of the re-segmentation range, SUV 0 for PET).
    clip_below : bool
        If True, ROI values below ``lower_bound`` go to bin 1; if False (default) they raise.

    Returns
    -------
    numpy.ndarray of int64
        Bin numbers >= 1 inside the mask, 0 outside.

    Raises
    ------
    InvalidInputError
        Non-positive bin width, empty mask, non-finite values, or ROI values below the lower bound.
    """
    if not bin_width > 0:
        raise InvalidInputError(f"bin width must be > 0, got {bin_width}", attribute="bin_width")
    values, mask = _roi_values(image, mask)
    if values.min() < lower_bound and not clip_below:
        n_below = int(np.count_nonzero(values < lower_bound))
        raise InvalidInputError(
            f"{n_below} ROI voxels lie below the discretisation lower bound {lower_bound} (minimum {values.min():g})",
            attribute="lower_bound",
            remedy="lower discretisation.lower_bound, or set discretisation.clip_below_lower_bound: true")
    quotient = np.round((values - lower_bound) / bin_width, _EDGE_DECIMALS)
    bins = np.floor(quotient).astype(np.int64) + 1
    bins = np.maximum(bins, 1)
    out = np.zeros(mask.shape, dtype=np.int64)
    out[mask] = bins
    return out


def discretise_fbn(image: np.ndarray, mask: np.ndarray, n_bins: int) -> np.ndarray:
    """IBSI fixed bin number discretisation over the ROI's intensity range.

    Bin number ``floor(n_bins * (x - min) / (max - min)) + 1`` for ``x < max`` and ``n_bins`` for ``x = max``;
    a flat ROI (max = min) is all bin 1.

    Parameters
    ----------
    image : numpy.ndarray
        Intensities, any shape.
    mask : numpy.ndarray of bool
        ROI, same shape.
    n_bins : int
        Number of bins (>= 1).

    Returns
    -------
    numpy.ndarray of int64
        Bin numbers in 1..n_bins inside the mask, 0 outside.
    """
    if int(n_bins) != n_bins or n_bins < 1:
        raise InvalidInputError(f"number of bins must be a positive integer, got {n_bins}", attribute="n_bins")
    values, mask = _roi_values(image, mask)
    lo, hi = float(values.min()), float(values.max())
    if hi == lo:
        bins = np.ones(values.shape, dtype=np.int64)
    else:
        quotient = np.round(n_bins * (values - lo) / (hi - lo), _EDGE_DECIMALS)
        bins = np.floor(quotient).astype(np.int64) + 1
        bins = np.minimum(bins, int(n_bins))
    out = np.zeros(mask.shape, dtype=np.int64)
    out[mask] = bins
    return out


def check_integer_bins(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Use an already discretised image (e.g. the IBSI digital phantom) as bin numbers.

    Returns
    -------
    numpy.ndarray of int64
        The ROI values as integers (>= 1), 0 outside.

    Raises
    ------
    InvalidInputError
        If an ROI value is not an integer >= 1.
    """
    values, mask = _roi_values(image, mask)
    if np.any(values != np.round(values)) or values.min() < 1:
        raise InvalidInputError("discretisation 'none' needs integer grey levels >= 1 inside the ROI",
                                attribute="discretisation.method",
                                remedy="use method fbs or fbn for continuous intensities")
    out = np.zeros(mask.shape, dtype=np.int64)
    out[mask] = values.astype(np.int64)
    return out
