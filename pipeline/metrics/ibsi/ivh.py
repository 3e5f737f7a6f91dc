"""IBSI intensity-volume histogram (IVH) features and the AUC of the cumulative SUV-volume histogram.

IBSI reference manual, section "Intensity-volume histogram features". The IVH is evaluated on a grid of
intensities i_0 < i_1 < ... < i_{K-1} spanning the total range G with step w_d (absent intensities
included):

- fractional volume nu_i = fraction of ROI voxels with X_{d,gl} >= i;
- intensity fraction gamma_i = (i - min G) / (max G - min G).

Features: V10, V90 (BC2M, "volume at intensity fraction": the largest nu with gamma >= x %), I10, I90
(GBPN, "intensity at volume fraction": the smallest i with nu_i <= x %), V10 - V90 (DDTU),
I10 - I90 (CNV2) and the area under the IVH curve (9CMM, trapezoidal rule of nu over gamma; 0 when G
holds a single intensity, as IBSI defines).

Two ways to build X_{d,gl} (``IbsiParams.ivh_mode``):

``discretised`` (default; IBSI digital phantom, CT in integer HU, fixed bin number)
    X_{d,gl} = the ``discretised`` values, w_d = 1, G = ``ivh_range`` or [min, max] of the ROI values.
``continuous`` (PET SUV)
    The intensities are binned with a fixed step w = ``ivh_bin_width`` (e.g. 0.1 SUV) from
    X_min = ``ivh_lower`` (default the ROI minimum; use 0 for SUV): bin k = floor((X - X_min) / w) + 1,
    clipped to [1, N] where N is the bin holding X_max = ``ivh_upper`` (default the ROI maximum), and
    replaced by its centre X_min + (k - 0.5) w. G runs from the first to the last bin centre, w_d = w.
    IBSI writes G = [X_min + w/2, X_max - w/2]; both agree when X_max - X_min is a multiple of w (a
    re-segmentation range), and ours keeps the top bin at gamma = 1 otherwise.

Edge cases: when G holds one intensity, gamma is undefined and V10, V90 and V10 - V90 are NaN. When no
grid intensity has nu <= x % (more than x % of the voxels at the top of G), I_x is the next intensity
above G (max G + w_d), where nu is 0.

AUC-CSH (``ivh_area_under_csh_curve_3D``, van Velden et al., EJNMMI 2011;38:1636)
    The area under the cumulative SUV-volume histogram: the fraction of the VOI volume with
    SUV >= t * SUVmax, integrated over t from 0 to 1. It is the IBSI IVH area with G = [0, SUVmax] in the
    limit of an infinitely fine step. It is returned only with ``IbsiParams.auc_csh = True``, as
    ``ivh_area_under_csh_curve_3D`` with an empty code: it is not IBSI's benchmarked 9CMM (whose G follows
    the discretisation), and :mod:`pipeline.metrics.heterogeneity` already reports it per VOI. It is
    computed exactly as mean(max(SUV, 0)) / SUVmax from the un-discretised ``image`` (the indicator
    integrated over t is SUV_k / SUVmax per voxel). A uniform VOI gives exactly 1; a VOI whose voxels are
    spread uniformly from 0 to SUVmax gives 1/2; NaN when SUVmax <= 0. IBSI gives no reference value for it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._common import FeatureValue, IbsiParams, Inputs, feature

__all__ = ["ivh_curve", "ivh_features", "auc_csh", "intensity_volume_histogram"]

FAMILY = "ivh"


def ivh_curve(inputs: Inputs, params: IbsiParams) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """The IVH of the ROI: grid intensities, fractional volumes nu and the step w_d.

    Returns
    -------
    tuple
        ``(intensities, nu, w_d)``: grid intensities (discretised units, or bin centres in image units),
        fraction of the ROI volume at or above each, and the grid step.
    """
    x: NDArray[np.floating]
    if params.ivh_mode == "discretised":
        x = inputs.levels.astype(np.float64)
        lo, hi = params.ivh_range if params.ivh_range is not None else (x.min(), x.max())
        grid = np.arange(lo, hi + 0.5, 1.0, dtype=np.float64)
        step = 1.0
    else:
        w = float(params.ivh_bin_width)  # type: ignore[arg-type]
        values = inputs.values
        x_min = float(values.min()) if params.ivh_lower is None else float(params.ivh_lower)
        x_max = float(values.max()) if params.ivh_upper is None else float(params.ivh_upper)
        n_bins = max(int(np.floor((x_max - x_min) / w)) + 1, 1)
        bins = np.clip(np.floor((values - x_min) / w).astype(np.int64) + 1, 1, n_bins)
        x = x_min + (bins - 0.5) * w
        grid = x_min + (np.arange(1, n_bins + 1) - 0.5) * w
        step = w
    ordered = np.sort(x)
    # nu_i = 1 - #(X < i) / N_v; the 1e-9 step tolerance absorbs round-off between equal bin centres
    below = np.searchsorted(ordered, grid - 1e-9 * step, side="left")
    nu = 1.0 - below / x.size
    return grid, nu, step


def ivh_features(grid: NDArray[np.float64], nu: NDArray[np.float64], step: float) -> dict[str, float]:
    """V10, V90, I10, I90, their differences and the area under the IVH (see the module notes).

    Parameters
    ----------
    grid, nu : numpy.ndarray
        Intensities of the IVH grid (ascending, step ``step``) and the fractional volume at each.
    step : float
        Grid step w_d.
    """
    if grid.size > 1:
        gamma = (grid - grid[0]) / (grid[-1] - grid[0])

        def v_at(x: float) -> float:
            return float(nu[np.argmax(gamma >= x / 100.0 - 1e-12)])

        auc = float(np.sum((nu[1:] + nu[:-1]) * np.diff(gamma)) / 2.0)
        v10, v90 = v_at(10.0), v_at(90.0)
    else:
        v10 = v90 = float("nan")
        auc = 0.0

    def i_at(x: float) -> float:
        hits = np.flatnonzero(nu <= x / 100.0 + 1e-12)
        return float(grid[hits[0]]) if hits.size else float(grid[-1] + step)

    i10, i90 = i_at(10.0), i_at(90.0)
    return {"volume_at_intensity_fraction_10": v10, "volume_at_intensity_fraction_90": v90,
            "intensity_at_volume_fraction_10": i10, "intensity_at_volume_fraction_90": i90,
            "volume_fraction_difference_10_90": v10 - v90, "intensity_fraction_difference_10_90": i10 - i90,
            "area_under_ivh_curve": auc}


def auc_csh(values: NDArray[np.float64]) -> float:
    """Area under the cumulative SUV-volume histogram, thresholds as fractions of SUVmax (0..1).

    Parameters
    ----------
    values : numpy.ndarray
        SUVs (or any non-negative intensities) of the VOI's voxels.

    Returns
    -------
    float
        mean(max(SUV, 0)) / SUVmax in [0, 1]: 1 for a uniform VOI, NaN when SUVmax <= 0.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    vmax = float(v.max())
    if not vmax > 0:
        return float("nan")
    return float(np.clip(v / vmax, 0.0, None).mean())  # v / vmax is exactly 1 at the maximum


def intensity_volume_histogram(inputs: Inputs, params: IbsiParams) -> list[FeatureValue]:
    """The IVH family as IBSI-coded values, plus ``ivh_area_under_csh_curve_3D`` if ``params.auc_csh``."""
    values = ivh_features(*ivh_curve(inputs, params))
    out = [feature(FAMILY, name, value) for name, value in values.items()]
    if params.auc_csh:
        out.append(feature(FAMILY, "area_under_csh_curve", auc_csh(inputs.values), code=""))
    return out
