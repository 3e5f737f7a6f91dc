"""MR intensity normalisation before texture, and MR volumetry (issue 19, item 3).

MR signal has no absolute scale, so texture features are computed on a z-scored image: (I - mean) / SD of a
reference region, the body (every voxel of the body VOI) or a reference tissue (a VOI such as muscle), so that
bins are in standard deviations of that region (``configs/radiomics_mri.yaml``). Volumetry is the VOI volume (mL)
and its change from baseline (%).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidInputError

__all__ = ["zscore", "volume_ml", "volume_changes", "MIN_REFERENCE_VOXELS"]

FloatArray = NDArray[np.float64]
#: Fewer voxels in the reference region make its mean and SD unreliable: refused.
MIN_REFERENCE_VOXELS = 50


def zscore(image: FloatArray, region: NDArray[np.bool_], *, region_name: str = "reference") -> FloatArray:
    """``image`` z-scored within ``region`` (same shape).

    Raises
    ------
    InvalidInputError
        A region of fewer than :data:`MIN_REFERENCE_VOXELS` voxels, or of constant intensity.
    """
    values = np.asarray(image, dtype=float)[region]
    values = values[np.isfinite(values)]
    if values.size < MIN_REFERENCE_VOXELS:
        raise InvalidInputError(f"the normalisation region has {values.size} voxels (< {MIN_REFERENCE_VOXELS})",
                                attribute=f"mri.texture.reference ({region_name})",
                                remedy="choose a larger reference region (the body, or a tissue VOI)")
    sd = float(values.std(ddof=1))
    if not sd > 0:
        raise InvalidInputError("the normalisation region has constant intensity", attribute=region_name,
                                remedy="choose a reference region with signal")
    return (np.asarray(image, dtype=float) - float(values.mean())) / sd


def volume_ml(mask: NDArray[np.bool_], spacing_mm: tuple[float, float, float]) -> float:
    """Volume of a mask (mL) on a grid of ``spacing_mm`` (x, y, z)."""
    return float(np.count_nonzero(mask)) * float(np.prod(spacing_mm)) / 1000.0


def volume_changes(volumes: Mapping[str, float], baseline: str) -> dict[str, float]:
    """Percent change of each timepoint's volume from ``baseline`` (NaN when the baseline volume is 0)."""
    if baseline not in volumes:
        raise InvalidInputError(f"no baseline volume ({baseline!r})", attribute="baseline",
                                remedy="give the baseline timepoint")
    base = volumes[baseline]
    return {tp: (100.0 * (v - base) / base if base > 0 else math.nan) for tp, v in volumes.items()}
