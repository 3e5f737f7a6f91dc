"""Voxel-wise and VOI-wise DCE fits of a 4D concentration volume (issue 19, item 2): the same fits as ``petvoi dce``
(:func:`pipeline.mri.dce.fit_curve`) on every voxel of a mask, or on each VOI's mean curve.

Maps are (z, y, x) float arrays, NaN outside the mask and where a fit did not converge (counted, never silently a
number); VOI fits are one row per VOI in the columns of ``petvoi dce``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .dce import fit_curve

__all__ = ["MAP_PARAMETERS", "DceMaps", "fit_maps", "fit_vois"]

FloatArray = NDArray[np.float64]
#: The map of each model parameter (the table's column names).
MAP_PARAMETERS = {"tofts": ("ktrans_per_min", "ve"), "etm": ("ktrans_per_min", "ve", "vp"),
                  "2cxm": ("fp_ml_per_100ml_per_min", "ps_per_min", "vp", "ve", "ktrans_per_min"),
                  "patlak": ("ktrans_per_min", "vp")}


@dataclass(frozen=True)
class DceMaps:
    """Parameter maps of one model, and how many masked voxels did not converge (NaN in every map)."""

    model: str
    maps: dict[str, FloatArray]
    n_voxels: int
    n_not_converged: int


def fit_maps(conc: FloatArray, t_s: FloatArray, cp: FloatArray, mask: NDArray[np.bool_], *, model: str,
             fit_delay: bool = False) -> DceMaps:
    """Fit every voxel of ``mask`` of the (t, z, y, x) concentration volume ``conc`` (mM) on ``t_s`` (s)."""
    conc = np.asarray(conc, dtype=float)
    names = MAP_PARAMETERS[model]
    maps = {name: np.full(conc.shape[1:], np.nan) for name in names}
    failed = 0
    voxels = np.argwhere(mask)
    for z, y, x in voxels:
        fit = fit_curve(model, t_s, conc[:, z, y, x], cp, fit_delay=fit_delay)
        if not fit.converged:
            failed += 1
            continue
        for name in names:
            value = getattr(fit, name)
            maps[name][z, y, x] = np.nan if value is None else value
    return DceMaps(model, maps, int(len(voxels)), failed)


def fit_vois(conc: FloatArray, t_s: FloatArray, cp: FloatArray, masks: Sequence[NDArray[np.bool_]],
             names: Sequence[str], *, model: str, fit_delay: bool = False) -> list[dict[str, object]]:
    """Fit each VOI's mean curve; one row per VOI (``voi``, ``n_voxels`` and the columns of ``petvoi dce``)."""
    conc = np.asarray(conc, dtype=float)
    rows: list[dict[str, object]] = []
    for name, mask in zip(names, masks, strict=True):
        n = int(np.count_nonzero(mask))
        if n == 0:
            rows.append({"voi": name, "n_voxels": 0, "model": model, "converged": False})
            continue
        fit = fit_curve(model, t_s, conc[:, mask].mean(axis=1), cp, fit_delay=fit_delay)
        rows.append({"voi": name, "n_voxels": n, "model": model, "ktrans_per_min": fit.ktrans_per_min, "ve": fit.ve,
                     "vp": fit.vp, "fp_ml_per_100ml_per_min": fit.fp_ml_per_100ml_per_min,
                     "ps_per_min": fit.ps_per_min, "delay_s": fit.delay_s if fit_delay else None,
                     "converged": fit.converged, "aicc": fit.aicc})
    return rows
