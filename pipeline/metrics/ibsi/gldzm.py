"""IBSI grey level distance zone matrix (GLDZM) features, 3D (aggregation KOBO, names ``..._3D``).

IBSI reference manual, section "Grey level distance zone based features":

- zones: 26-connected groups of ROI voxels sharing one discretised grey level (as for the GLSZM);
- distance map: the Manhattan (6-connected) distance of each ROI voxel to the nearest voxel outside the
  ROI, with everything outside the array counted as outside and holes in the mask as well; voxels on the
  ROI edge have distance 1. This equals IBSI's iterative 6-connected erosion (a voxel survives n erosions
  exactly when its city-block distance to the background exceeds n) and is computed in one pass with
  :func:`scipy.ndimage.distance_transform_cdt` (taxicab metric) on the zero-padded mask;
- zone distance: the minimum distance of its voxels;
- matrix d_ij: number of zones with grey level i (the bin index value itself) and distance j.

The ROI mask is used both for the distance map and for the zones (IBSI's separate morphological and
intensity masks are not modelled). Features are the 16 IBSI ones with N_s zones and N_v ROI voxels.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ._common import FeatureValue, Inputs, feature

__all__ = ["distance_map", "gldzm_matrix", "gldzm_features", "grey_level_distance_zone"]

FAMILY = "gldzm"
_FULL = np.ones((3, 3, 3), dtype=bool)

def distance_map(mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """City-block distance (in voxels, >= 1 inside) of each ROI voxel to the outside; 0 outside the ROI."""
    padded = np.pad(mask, 1, constant_values=False)
    dist = ndimage.distance_transform_cdt(padded, metric="taxicab")
    return dist[1:-1, 1:-1, 1:-1].astype(np.int64)


def gldzm_matrix(discretised: NDArray[np.integer], mask: NDArray[np.bool_]) -> tuple[NDArray[np.int64], int]:
    """GLDZM counts and the number of ROI voxels.

    Returns
    -------
    tuple
        ``(matrix, n_voxels)``; ``matrix[i - 1, j - 1]`` is the number of zones of grey level i at distance j,
        for i = 1 .. max grey level and j = 1 .. max zone distance.
    """
    dist = distance_map(mask)
    grey = np.where(mask, discretised, 0)
    zone_grey: list[NDArray[np.int64]] = []
    zone_dist: list[NDArray[np.int64]] = []
    for level in np.unique(grey[mask]):
        labels, n = ndimage.label(grey == level, structure=_FULL)
        mins = ndimage.minimum(dist, labels=labels, index=np.arange(1, n + 1))
        zone_dist.append(np.asarray(mins, dtype=np.int64))
        zone_grey.append(np.full(n, level, dtype=np.int64))
    gl = np.concatenate(zone_grey)
    dd = np.concatenate(zone_dist)
    matrix = np.zeros((int(gl.max()), int(dd.max())), dtype=np.int64)
    np.add.at(matrix, (gl - 1, dd - 1), 1)
    return matrix, int(mask.sum())


def gldzm_features(matrix: NDArray[np.integer], n_voxels: int) -> dict[str, float]:
    """The 16 IBSI GLDZM features of a matrix from :func:`gldzm_matrix`."""
    d = np.asarray(matrix, dtype=np.float64)
    n_s = d.sum()
    i = np.arange(1, d.shape[0] + 1, dtype=np.float64)[:, None]
    j = np.arange(1, d.shape[1] + 1, dtype=np.float64)[None, :]
    p = d / n_s
    d_i = d.sum(axis=1)
    d_j = d.sum(axis=0)
    mu_i = float(np.sum(i * p))
    mu_j = float(np.sum(j * p))
    nz = p[p > 0]
    return {
        "small_distance_emphasis": float(np.sum(d / j**2) / n_s),
        "large_distance_emphasis": float(np.sum(d * j**2) / n_s),
        "low_grey_level_zone_emphasis": float(np.sum(d / i**2) / n_s),
        "high_grey_level_zone_emphasis": float(np.sum(d * i**2) / n_s),
        "small_distance_low_grey_level_emphasis": float(np.sum(d / (i**2 * j**2)) / n_s),
        "small_distance_high_grey_level_emphasis": float(np.sum(d * i**2 / j**2) / n_s),
        "large_distance_low_grey_level_emphasis": float(np.sum(d * j**2 / i**2) / n_s),
        "large_distance_high_grey_level_emphasis": float(np.sum(d * i**2 * j**2) / n_s),
        "grey_level_non_uniformity": float(np.sum(d_i**2) / n_s),
        "normalised_grey_level_non_uniformity": float(np.sum(d_i**2) / n_s**2),
        "zone_distance_non_uniformity": float(np.sum(d_j**2) / n_s),
        "normalised_zone_distance_non_uniformity": float(np.sum(d_j**2) / n_s**2),
        "zone_percentage": float(n_s / n_voxels),
        "grey_level_variance": float(np.sum((i - mu_i) ** 2 * p)),
        "zone_distance_variance": float(np.sum((j - mu_j) ** 2 * p)),
        "zone_distance_entropy": float(-np.sum(nz * np.log2(nz))) + 0.0,
    }


def grey_level_distance_zone(inputs: Inputs) -> list[FeatureValue]:
    """The GLDZM family as IBSI-coded values (names ``gldzm_<feature>_3D``)."""
    values = gldzm_features(*gldzm_matrix(inputs.discretised, inputs.mask))
    return [feature(FAMILY, name, value) for name, value in values.items()]
