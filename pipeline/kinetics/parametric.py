"""Voxel-wise parametric maps from graphical analyses (Logan VT, Patlak Ki), computed with dask.

Units: times in **minutes**, concentrations in kBq/mL; VT in mL·cm⁻³, Ki in mL·cm⁻³·min⁻¹.

Method: the 4D volume (t, z, y, x) is wrapped in a :mod:`dask.array` chunked along space and whole
along time; each block is processed by :func:`dask.array.map_blocks` with a vectorised
closed-form ordinary least-squares line fit per voxel over the frames with mid-time ≥ t*::

    slope = Σ (x − x̄)(y − ȳ) / Σ (x − x̄)²

* Logan (plasma input): x = ∫Cp / C, y = ∫C / C. ``∫Cp`` is the plasma integral passed by the
  caller; ``∫C`` is the trapezoid integral of the voxel TAC at the frame mid-times with an added
  point (0, 0) (the same rule as :func:`pipeline.kinetics.graphical.running_integral`). Voxels with
  C ≤ 0 (or non-finite) in any frame of the window are NaN.
* Patlak: x = ∫Cp / Cp, y = C / Cp. Voxels with a non-finite value in the window are NaN.

Masked-out voxels (``mask`` False) are NaN. Every voxel is computed independently, so the result
does not depend on the chunking nor on the scheduler (:mod:`pipeline.parallel`: local threads by
default, processes, a dask scheduler or a SLURM cluster). Compared with the per-TAC functions of
:mod:`pipeline.kinetics.graphical` (``lstsq`` line fit) the maps agree to rounding (< 1e-9).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dask.array as da
import numpy as np
from numpy.typing import ArrayLike, NDArray

from pipeline.dicom.geometry import Geometry, write_nifti
from pipeline.parallel import DaskOptions, Executor, executor

FloatArray = NDArray[np.float64]

#: Default spatial chunk shape (z, y, x); time is never chunked.
DEFAULT_CHUNKS: tuple[int, int, int] = (16, 64, 64)


def _window(frame_mid: FloatArray, t_star: float) -> NDArray[np.bool_]:
    used = frame_mid >= t_star - 1e-12
    if used.sum() < 2:
        raise ValueError(f"fewer than 2 frames with mid-time >= t* = {t_star}")
    return used


def _seq_sum(a: FloatArray) -> FloatArray:
    """Sum along axis 0 in a fixed sequential order.

    ``ndarray.sum`` uses pairwise summation when axis 0 happens to be contiguous (e.g. a 1-voxel
    block) and a row-by-row loop otherwise, so its rounding would depend on the chunk shape.
    """
    acc = a[0].copy()
    for row in a[1:]:
        acc += row
    return acc


def _slope(x: FloatArray, y: FloatArray) -> FloatArray:
    """Per-voxel OLS slope; x and y are (n, ...) with the regression along axis 0."""
    n = x.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = x - _seq_sum(x) / n
        yc = y - _seq_sum(y) / n
        return _seq_sum(xc * yc) / _seq_sum(xc * xc)


def _trapezoid_running(t: FloatArray, c: FloatArray) -> FloatArray:
    """``∫0^t c`` along axis 0 at each time (trapezoid, added point (0, 0)); c is (n, ...)."""
    dt = np.diff(np.r_[0.0, t])
    out = np.empty_like(c)
    acc = 0.5 * c[0] * dt[0]
    out[0] = acc
    for i in range(1, c.shape[0]):
        acc = acc + 0.5 * (c[i] + c[i - 1]) * dt[i]
        out[i] = acc
    return out


def _logan_block(block: np.ndarray, mask: np.ndarray | None, *, t: FloatArray, ip: FloatArray,
                 used: NDArray[np.bool_]) -> FloatArray:
    c = np.asarray(block, dtype=np.float64)
    ic = _trapezoid_running(t, c)[used]
    cw = c[used]
    bad = ~np.all(np.isfinite(cw) & (cw > 0), axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = ip[used].reshape((-1,) + (1,) * (c.ndim - 1)) / cw
        y = ic / cw
    out = _slope(x, y)
    out[bad] = np.nan
    if mask is not None:
        out[~mask] = np.nan
    return out


def _patlak_block(block: np.ndarray, mask: np.ndarray | None, *, x: FloatArray, cp: FloatArray) -> FloatArray:
    cw = np.asarray(block, dtype=np.float64)
    shape = (-1,) + (1,) * (cw.ndim - 1)
    y = cw / cp.reshape(shape)
    bad = ~np.all(np.isfinite(y), axis=0)
    out = _slope(np.broadcast_to(x.reshape(shape), y.shape), y)
    out[bad] = np.nan
    if mask is not None:
        out[~mask] = np.nan
    return out


def _prepare(pet4d: ArrayLike | da.Array, frame_mid_min: ArrayLike, mask: ArrayLike | None,
             chunks: tuple[int, int, int] | None) -> tuple[da.Array, da.Array | None, FloatArray]:
    t = np.asarray(frame_mid_min, dtype=np.float64)
    arr = pet4d if isinstance(pet4d, da.Array) else da.from_array(np.asarray(pet4d))
    if arr.ndim != 4 or arr.shape[0] != t.size:
        raise ValueError(f"pet4d must be (t, z, y, x) with t = {t.size} frames, got shape {arr.shape}")
    if np.any(np.diff(t) <= 0) or t[0] < 0:
        raise ValueError("frame mid-times must be non-negative and increasing")
    spatial = arr.shape[1:] if chunks is None else tuple(int(c) for c in chunks)
    if len(spatial) != 3:
        raise ValueError("chunks must be a (z, y, x) tuple of ints or None")
    arr = arr.rechunk((-1,) + spatial)
    dmask = None
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        if m.shape != arr.shape[1:]:
            raise ValueError(f"mask shape {m.shape} != spatial shape {arr.shape[1:]}")
        dmask = da.from_array(m, chunks=arr.chunks[1:])
    return arr, dmask, t


def _run(fn: Callable[[np.ndarray, np.ndarray | None], FloatArray], arr: da.Array, dmask: da.Array | None,
         workers: int, dask_options: DaskOptions | None, run_on: Executor | None, label: str) -> FloatArray:
    if dmask is None:
        res = da.map_blocks(lambda b: fn(b, None), arr, drop_axis=0, dtype=np.float64)
    else:
        res = da.map_blocks(fn, arr, dmask, drop_axis=0, dtype=np.float64)
    if run_on is not None:
        return np.asarray(run_on.compute_array(res, label=label), dtype=np.float64)
    with executor(dask_options, workers=workers, local="threads") as ex:
        return np.asarray(ex.compute_array(res, label=label), dtype=np.float64)


def logan_vt_map(pet4d: ArrayLike | da.Array, frame_mid_min: ArrayLike, plasma_at_mid: ArrayLike,
                 plasma_integral: ArrayLike, *, t_star_min: float, mask: ArrayLike | None = None,
                 chunks: tuple[int, int, int] | None = DEFAULT_CHUNKS, workers: int = 1,
                 dask_options: DaskOptions | None = None, run_on: Executor | None = None) -> FloatArray:
    """Voxel-wise Logan (plasma input) VT map.

    Parameters
    ----------
    pet4d : array_like or dask.array.Array
        Frame averages (t, z, y, x) in kBq/mL (any float dtype; computed in float64).
    frame_mid_min : array_like
        Frame mid-times (min), increasing.
    plasma_at_mid : array_like
        Metabolite-corrected plasma concentration at the mid-times (kBq/mL). Not used by the
        Logan equation itself; accepted for a signature shared with :func:`patlak_ki_map`.
    plasma_integral : array_like
        ``∫0^t Cp`` at the mid-times (kBq·min/mL).
    t_star_min : float
        Start of the linear window (min): frames with mid ≥ t* are used (≥ 2 needed).
    mask : array_like of bool, optional
        (z, y, x); voxels outside are NaN.
    chunks : (int, int, int) or None
        Spatial chunk shape; None = a single block.
    workers : int
        Local dask threads (1: in this process).
    dask_options : DaskOptions, optional
        The scheduler (:mod:`pipeline.parallel`; default ``auto``: ``workers`` threads); the map is the
        same whatever the scheduler.
    run_on : Executor, optional
        An open executor to use instead (several maps on one cluster); ``workers`` and ``dask_options``
        are then not used.

    Returns
    -------
    numpy.ndarray
        VT (z, y, x), float64; NaN where masked or C ≤ 0 in the window.
    """
    arr, dmask, t = _prepare(pet4d, frame_mid_min, mask, chunks)
    ip = np.asarray(plasma_integral, dtype=np.float64)
    cp = np.asarray(plasma_at_mid, dtype=np.float64)
    if ip.shape != t.shape or cp.shape != t.shape:
        raise ValueError("plasma_at_mid and plasma_integral need one value per frame")
    used = _window(t, t_star_min)

    def fn(b: np.ndarray, m: np.ndarray | None) -> FloatArray:
        return _logan_block(b, m, t=t, ip=ip, used=used)

    return _run(fn, arr, dmask, workers, dask_options, run_on, "logan_vt")


def patlak_ki_map(pet4d: ArrayLike | da.Array, frame_mid_min: ArrayLike, plasma_at_mid: ArrayLike,
                  plasma_integral: ArrayLike, *, t_star_min: float, mask: ArrayLike | None = None,
                  chunks: tuple[int, int, int] | None = DEFAULT_CHUNKS, workers: int = 1,
                  dask_options: DaskOptions | None = None, run_on: Executor | None = None) -> FloatArray:
    """Voxel-wise Patlak Ki map (slope of C/Cp against ∫Cp/Cp over frames with mid ≥ t*).

    Arguments as for :func:`logan_vt_map`; ``plasma_at_mid`` must be > 0 in the window. Returns Ki
    (z, y, x), float64, NaN where masked or non-finite in the window. Because C_PET includes the
    (1 − vB) scaling, the slope is ≈ (1 − vB)·Ki.
    """
    arr, dmask, t = _prepare(pet4d, frame_mid_min, mask, chunks)
    ip = np.asarray(plasma_integral, dtype=np.float64)
    cp = np.asarray(plasma_at_mid, dtype=np.float64)
    if ip.shape != t.shape or cp.shape != t.shape:
        raise ValueError("plasma_at_mid and plasma_integral need one value per frame")
    used = _window(t, t_star_min)
    if np.any(~(cp[used] > 0)):
        raise ValueError("plasma_at_mid must be > 0 in the Patlak window")
    x = ip[used] / cp[used]
    cpw = cp[used]

    def fn(b: np.ndarray, m: np.ndarray | None) -> FloatArray:
        return _patlak_block(b[used], m, x=x, cp=cpw)

    return _run(fn, arr, dmask, workers, dask_options, run_on, "patlak_ki")


def write_parametric(path: str | Path, array: ArrayLike, geometry: Geometry) -> Path:
    """Write a (z, y, x) parametric map as NIfTI (float32, RAS affine) via :func:`write_nifti`."""
    data = np.asarray(array, dtype=np.float32)
    if data.ndim != 3 or tuple(data.shape) != tuple(geometry.shape):
        raise ValueError(f"map shape {data.shape} does not match geometry {geometry.shape}")
    return write_nifti(path, data, geometry)
