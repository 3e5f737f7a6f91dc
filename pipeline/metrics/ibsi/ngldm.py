"""IBSI neighbouring grey level dependence matrix (NGLDM) features that pyradiomics lacks, 3D.

IBSI reference manual, section "Neighbouring grey level dependence based features", with the default
coarseness alpha = 0 and Chebyshev distance delta = 1 (the 26 neighbours): for each ROI voxel of grey
level i, the dependence count j is 1 plus the number of its neighbours inside the ROI with the same
grey level; s_ij counts the voxels with grey level i and dependence j, and N_s = sum s_ij.

- dependence count percentage (6XV8): N_s / N_v, which is 1 under IBSI's definition (every ROI voxel
  has a neighbourhood, complete or not);
- dependence count energy (CAS9): sum of p_ij^2 with p_ij = s_ij / N_s.

The other NGLDM features are pyradiomics' GLDM (alpha = 0), reported by the texture wrapper.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from ._common import FeatureValue, Inputs, feature

__all__ = ["ngldm_matrix", "ngldm_extras", "neighbouring_grey_level_dependence"]

FAMILY = "ngldm"
_NEIGHBOURS = np.ones((3, 3, 3), dtype=np.int64)
_NEIGHBOURS[1, 1, 1] = 0


def ngldm_matrix(discretised: NDArray[np.integer], mask: NDArray[np.bool_]) -> NDArray[np.int64]:
    """NGLDM counts: ``matrix[i - 1, j - 1]`` voxels of grey level i with dependence count j (j = 1 .. 27)."""
    grey = np.where(mask, discretised, 0)
    levels = grey[mask]
    dependence = np.zeros(levels.size, dtype=np.int64)
    for level in np.unique(levels):
        same = (grey == level).astype(np.int64)
        count = ndimage.correlate(same, _NEIGHBOURS, mode="constant", cval=0)
        at = levels == level
        dependence[at] = 1 + count[mask][at]
    matrix = np.zeros((int(levels.max()), 27), dtype=np.int64)
    np.add.at(matrix, (levels - 1, dependence - 1), 1)
    return matrix


def ngldm_extras(matrix: NDArray[np.integer], n_voxels: int) -> dict[str, float]:
    """Dependence count percentage and energy of an NGLDM."""
    s = np.asarray(matrix, dtype=np.float64)
    n_s = s.sum()
    p = s / n_s
    return {"dependence_count_percentage": float(n_s / n_voxels), "dependence_count_energy": float(np.sum(p**2))}


def neighbouring_grey_level_dependence(inputs: Inputs) -> list[FeatureValue]:
    """``ngldm_dependence_count_percentage_3D`` (6XV8) and ``ngldm_dependence_count_energy_3D`` (CAS9)."""
    values = ngldm_extras(ngldm_matrix(inputs.discretised, inputs.mask), int(inputs.mask.sum()))
    return [feature(FAMILY, name, value) for name, value in values.items()]
