"""IBSI intensity-histogram features (all 23) from the discretised intensities X_d of the ROI.

Definitions from the IBSI reference manual, section "Intensity histogram features" (codes below).
Conventions where the manual leaves a choice:

- Percentiles (P10, P25, P75, P90 and the median) are numpy's default linear interpolation (R type 7);
  it gives the phantom's P90 = 4 (IBSI notes that some implementations give 4.2).
- The histogram H has one bin per discretised intensity i = 1 .. max(X_d), empty bins included (IBSI:
  "H should be non-sparse"; F_ih.max = N_g). With fixed-bin-size discretisation from a lower bound, bins
  below min(X_d) are therefore part of H and can carry the maximum gradient.
- Mode: the most frequent bin; ties go to the bin closest to the mean, then to the lower bin.
- The variance is not bias-corrected; skewness and excess kurtosis are 0 when the variance is 0; CoV and
  QCoD are NaN when their denominators are 0.
- Histogram gradient: n_2 - n_1 at i = 1, (n_{i+1} - n_{i-1}) / 2 inside, n_N - n_{N-1} at i = N; a
  one-bin histogram has gradient 0. The first maximum (minimum) gives the gradient grey level.

Entropy (TLU2) and uniformity (BJ5W) duplicate pyradiomics ``firstorder_Entropy`` / ``Uniformity`` when
pyradiomics bins the same way; they are returned here so that the family is complete.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._common import FeatureValue, Inputs, feature

__all__ = ["histogram_features", "intensity_histogram"]

FAMILY = "intensity_histogram"



def histogram_features(levels: NDArray[np.integer]) -> dict[str, float]:
    """The 23 intensity-histogram features of a set of discretised intensities.

    Parameters
    ----------
    levels : numpy.ndarray
        Bin indices (>= 1) of the ROI voxels.

    Returns
    -------
    dict
        Feature name (as in ``IBSI_3D_FEATURES["intensity_histogram"]``) -> value, in bin-index units where applicable.
    """
    x = np.asarray(levels, dtype=np.float64).ravel()
    n_v = x.size
    mu = x.mean()
    dev = x - mu
    var = float(np.mean(dev**2))
    skew = float(np.mean(dev**3) / var**1.5) if var > 0 else 0.0
    kurt = float(np.mean(dev**4) / var**2 - 3.0) if var > 0 else 0.0
    p10, p25, p50, p75, p90 = np.percentile(x, [10.0, 25.0, 50.0, 75.0, 90.0])
    robust = x[(x >= p10) & (x <= p90)]

    n_g = int(x.max())
    counts = np.bincount(x.astype(np.int64), minlength=n_g + 1)[1:].astype(np.float64)  # bins 1 .. N_g
    grey = np.arange(1, n_g + 1, dtype=np.float64)
    best = counts == counts.max()
    candidates = grey[best]
    mode = candidates[np.argmin(np.abs(candidates - mu))]  # argmin takes the lower bin on equal distance
    p = counts[counts > 0] / n_v
    if n_g == 1:
        grad = np.zeros(1)
    else:
        grad = np.empty(n_g)
        grad[0] = counts[1] - counts[0]
        grad[-1] = counts[-1] - counts[-2]
        grad[1:-1] = (counts[2:] - counts[:-2]) / 2.0
    return {
        "mean": float(mu),
        "variance": var,
        "skewness": skew,
        "excess_kurtosis": kurt,
        "median": float(p50),
        "minimum": float(x.min()),
        "10th_percentile": float(p10),
        "90th_percentile": float(p90),
        "maximum": float(x.max()),
        "mode": float(mode),
        "interquartile_range": float(p75 - p25),
        "range": float(x.max() - x.min()),
        "mean_absolute_deviation": float(np.mean(np.abs(dev))),
        "robust_mean_absolute_deviation": float(np.mean(np.abs(robust - robust.mean()))),
        "median_absolute_deviation": float(np.mean(np.abs(x - p50))),
        "coefficient_of_variation": float(np.sqrt(var) / mu) if mu != 0 else float("nan"),
        "quartile_coefficient_of_dispersion": float((p75 - p25) / (p75 + p25)) if p75 + p25 != 0 else float("nan"),
        "entropy": float(-np.sum(p * np.log2(p))) + 0.0,
        "uniformity": float(np.sum(p**2)),
        "maximum_histogram_gradient": float(grad.max()),
        "maximum_histogram_gradient_intensity": float(grey[int(np.argmax(grad))]),
        "minimum_histogram_gradient": float(grad.min()),
        "minimum_histogram_gradient_intensity": float(grey[int(np.argmin(grad))]),
    }


def intensity_histogram(inputs: Inputs) -> list[FeatureValue]:
    """The intensity-histogram family of the ROI as IBSI-coded values."""
    return [feature(FAMILY, name, value) for name, value in histogram_features(inputs.levels).items()]
