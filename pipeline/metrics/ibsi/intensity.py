"""IBSI intensity-based statistical features that pyradiomics does not compute.

From the ROI intensities X_gl (not discretised), IBSI reference manual section "Intensity-based
statistical features":

- median absolute deviation (N72L): mean of |X - median(X)|;
- coefficient of variation (7TET): sigma / mu with the population standard deviation (no bias
  correction, as IBSI's intensity variance ECT3);
- quartile coefficient of dispersion (9S40): (P75 - P25) / (P75 + P25).

Percentiles are numpy's default (linear interpolation between order statistics, R type 7), which
reproduces the digital-phantom references. A zero mean gives a NaN coefficient of variation, and
P75 + P25 = 0 a NaN quartile coefficient.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._common import FeatureValue, Inputs, feature

__all__ = ["intensity_statistics", "statistics_of"]

FAMILY = "intensity_statistics"


def statistics_of(values: NDArray[np.float64]) -> dict[str, float]:
    """Median absolute deviation, coefficient of variation and quartile coefficient of dispersion.

    Parameters
    ----------
    values : numpy.ndarray
        Intensities of the ROI voxels (any unit; the CoV and QCoD are unitless).

    Returns
    -------
    dict
        ``median_absolute_deviation`` (intensity unit), ``coefficient_of_variation``,
        ``quartile_coefficient_of_dispersion``.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    mu = x.mean()
    sigma = np.sqrt(np.mean((x - mu) ** 2))
    p25, p75 = np.percentile(x, [25.0, 75.0])
    return {
        "median_absolute_deviation": float(np.mean(np.abs(x - np.median(x)))),
        "coefficient_of_variation": float(sigma / mu) if mu != 0 else float("nan"),
        "quartile_coefficient_of_dispersion": float((p75 - p25) / (p75 + p25)) if p75 + p25 != 0 else float("nan"),
    }


def intensity_statistics(inputs: Inputs) -> list[FeatureValue]:
    """The three intensity-statistics features of :func:`statistics_of` as IBSI-coded values."""
    stats = statistics_of(inputs.values)
    return [feature(FAMILY, name, value) for name, value in stats.items()]
