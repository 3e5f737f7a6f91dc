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

__all__ = ["MAP_PARAMETERS", "DceMaps", "fit_maps", "fit_vois", "fit_voi_curves", "voi_curves", "voxel_chunks"]

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


def _fit_chunk(model: str, t_s: FloatArray, cp: FloatArray, curves: FloatArray, fit_delay: bool) -> FloatArray:
    """Fit each row of ``curves`` (n, t); (n, parameters) in :data:`MAP_PARAMETERS` order, NaN where a fit did not
    converge (a module-level function: the workers import it)."""
    from .dce import fit_curve  # scipy: imported by the workers, not by the workflow reading MAP_PARAMETERS

    names = MAP_PARAMETERS[model]
    out = np.full((curves.shape[0], len(names)), np.nan)
    for i, curve in enumerate(curves):
        fit = fit_curve(model, t_s, curve, cp, fit_delay=fit_delay)
        if fit.converged:
            out[i] = [np.nan if getattr(fit, n) is None else getattr(fit, n) for n in names]
    return out


def voxel_chunks(n_voxels: int, workers: int, *, per_worker: int = 4, max_chunk: int = 20_000) -> list[slice]:
    """Slices of ``range(n_voxels)``: about ``per_worker`` chunks per worker (even load), at most ``max_chunk``
    voxels each (bounded memory per task); one chunk with one worker."""
    if n_voxels == 0:
        return []
    n = 1 if workers <= 1 and n_voxels <= max_chunk else max(workers * per_worker, -(-n_voxels // max_chunk))
    edges = np.linspace(0, n_voxels, min(n, n_voxels) + 1).astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def fit_maps(conc: FloatArray, t_s: FloatArray, cp: FloatArray, mask: NDArray[np.bool_], *, model: str,
             fit_delay: bool = False, workers: int = 1) -> DceMaps:
    """Fit every voxel of ``mask`` of the (t, z, y, x) concentration volume ``conc`` (mM) on ``t_s`` (s); with
    ``workers`` > 1 the voxels are fitted in chunks by that many processes (the maps do not depend on it)."""
    from ..parallel import executor

    conc = np.asarray(conc, dtype=float)
    names = MAP_PARAMETERS[model]
    maps = {name: np.full(conc.shape[1:], np.nan) for name in names}
    voxels = np.argwhere(mask)
    curves = conc[:, mask].T  # (n, t) in argwhere order
    chunks = voxel_chunks(len(voxels), workers)
    items = [(model, t_s, cp, np.ascontiguousarray(curves[c]), fit_delay) for c in chunks]
    with executor(workers=workers, local="processes") as ex:
        parts = ex.map(_fit_chunk, items, label=f"DCE {model} voxels", unit="chunks")
    values = np.concatenate(parts) if parts else np.zeros((0, len(names)))
    failed = int(np.isnan(values).all(axis=1).sum()) if len(values) else 0
    z, y, x = voxels.T
    for k, name in enumerate(names):
        maps[name][z, y, x] = values[:, k]
    return DceMaps(model, maps, int(len(voxels)), failed)


def voi_curves(conc: FloatArray, masks: Sequence[NDArray[np.bool_]]) -> list[FloatArray | None]:
    """Each VOI's mean curve of the (t, z, y, x) volume ``conc``; None for an empty VOI."""
    conc = np.asarray(conc, dtype=float)
    return [conc[:, mask].mean(axis=1) if np.any(mask) else None for mask in masks]


def fit_voi_curves(curves: Sequence[FloatArray | None], n_voxels: Sequence[int], names: Sequence[str],
                   t_s: FloatArray, cp: FloatArray, *, model: str, fit_delay: bool = False) -> list[dict[str, object]]:
    """Fit each VOI's mean curve (:func:`voi_curves`); one row per VOI (``voi``, ``n_voxels`` and the columns of
    ``petvoi dce``)."""
    from .dce import fit_curve

    rows: list[dict[str, object]] = []
    for name, curve, n in zip(names, curves, n_voxels, strict=True):
        if curve is None:
            rows.append({"voi": name, "n_voxels": 0, "model": model, "converged": False})
            continue
        fit = fit_curve(model, t_s, curve, cp, fit_delay=fit_delay)
        rows.append({"voi": name, "n_voxels": int(n), "model": model, "ktrans_per_min": fit.ktrans_per_min,
                     "ve": fit.ve, "vp": fit.vp, "fp_ml_per_100ml_per_min": fit.fp_ml_per_100ml_per_min,
                     "ps_per_min": fit.ps_per_min, "delay_s": fit.delay_s if fit_delay else None,
                     "converged": fit.converged, "aicc": fit.aicc})
    return rows


def fit_vois(conc: FloatArray, t_s: FloatArray, cp: FloatArray, masks: Sequence[NDArray[np.bool_]],
             names: Sequence[str], *, model: str, fit_delay: bool = False) -> list[dict[str, object]]:
    """Fit each VOI's mean curve; one row per VOI (``voi``, ``n_voxels`` and the columns of ``petvoi dce``)."""
    return fit_voi_curves(voi_curves(conc, masks), [int(np.count_nonzero(m)) for m in masks], names, t_s, cp,
                          model=model, fit_delay=fit_delay)
