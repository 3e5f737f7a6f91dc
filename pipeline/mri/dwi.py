"""Diffusion-weighted MR series: (b, z, y, x) trace signal and the IVIM, kurtosis and ADC maps and VOI fits
(issue 19, item 2).

Each frame's b-value comes from :func:`pipeline.mri.bvalues.b_value` (standard attribute or the vendor's private
one). Frames with the same b-value at one position (several diffusion directions) are combined by their geometric
mean, the trace-weighted image; the b-values are sorted ascending.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..dicom.geometry import Geometry, write_nifti
from ..dicom.pixels import decode_frames
from ..dicom.series import volume_geometry
from ..errors import DicomError, InvalidInputError
from ..io import output_set, write_csv, write_json
from ..parallel import executor
from ..voi.catalogue import read_voiset
from .bvalues import b_value
from .diffusion import DWI_METHODS, fit_dki, fit_ivim, fit_ivim_dki
from .maps import voxel_chunks
from .series import read_mr_stack
from .tables import warn_not_converged

__all__ = ["MrDiffusion", "load_dwi", "run_mri_dwi"]


@dataclass(frozen=True)
class MrDiffusion:
    """Trace-weighted signal (n_b, z, y, x), the b-values (s/mm²), where they came from, and the grid."""

    volume: np.ndarray
    b_values: np.ndarray
    b_source: str
    geometry: Geometry


def load_dwi(folder: str | Path, *, workers: int = 4) -> MrDiffusion:
    """Decode a DWI series folder to trace-weighted signal per b-value.

    Raises
    ------
    DicomError
        A frame without a b-value, a b-value missing at a slice, or the checks of every image volume.
    """
    mr = read_mr_stack(folder, workers=workers)
    stack, keys, unique, z_of, order = mr.stack, mr.keys, mr.unique, mr.z_of, mr.order
    positions, orientations = mr.positions, mr.orientations
    label, headers, frames = stack.series.label, stack.series.headers, stack.frames
    found = [b_value(headers[f.file_index], source=f"{label} ({stack.names[i]})") for i, f in enumerate(frames)]
    b_of = [round(value, 3) for value, _ in found]
    b_values = sorted(set(b_of))
    fmt = stack.fmt
    out = np.empty((len(frames), fmt.rows, fmt.columns), dtype=np.float32)
    decode_frames(stack.series.files, np.array([f.file_index for f in frames]), np.array([f.number for f in frames]),
                  out, np.array([f.info.rescale_slope for f in frames]),
                  np.array([f.info.rescale_intercept for f in frames]), fmt=fmt, workers=workers)
    volume = np.zeros((len(b_values), len(unique), fmt.rows, fmt.columns), dtype=np.float64)
    counts = np.zeros((len(b_values), len(unique)), dtype=int)
    for i, (key, b) in enumerate(zip(keys, b_of, strict=True)):
        k, z = b_values.index(b), z_of[key]
        volume[k, z] += np.log(np.maximum(out[i], 1e-6))
        counts[k, z] += 1
    if (counts == 0).any():
        k, z = (int(v) for v in np.argwhere(counts == 0)[0])
        raise DicomError(f"b = {b_values[k]:g} s/mm² has no frame at slice {z + 1}", source=label,
                         attribute="DiffusionBValue (0018,9087)", remedy="re-export the complete DWI series")
    volume = np.exp(volume / counts[:, :, None, None])  # geometric mean over directions: the trace image
    geometry = volume_geometry(positions, orientations[0], order, stack.pixel_spacing, fmt.rows, fmt.columns,
                               source=label)
    sources = sorted({source for _, source in found})
    return MrDiffusion(volume.astype(np.float32), np.array(b_values, dtype=float), "; ".join(sources), geometry)


def _fit_curve(b: np.ndarray, s: np.ndarray, *, ivim_method: str, b_threshold: float,
               adc_range: tuple[float, float], dki_b: np.ndarray | None) -> dict[str, Any]:
    """The IVIM (``ivim_*``) and kurtosis (``dki_*``) columns of one signal curve: the joint IVIM-kurtosis fit for
    ``ivim-dki`` (its D and K as the kurtosis columns), else IVIM and, with ``dki_b``, Jensen's model on those b."""
    if ivim_method == "ivim-dki":
        joint = fit_ivim_dki(b, s, b_threshold=b_threshold, adc_range=adc_range)
        row = {f"ivim_{k}": v for k, v in asdict(joint.ivim).items()}
        row.update({"dki_d_app_mm2_per_s": joint.ivim.d_mm2_per_s, "dki_k_app": joint.k, "dki_s0": joint.ivim.s0,
                    "dki_converged": joint.ivim.converged})
        return row
    ivim = fit_ivim(b, s, method=ivim_method, b_threshold=b_threshold, adc_range=adc_range)
    row = {f"ivim_{k}": v for k, v in asdict(ivim).items()}
    if dki_b is not None:
        dki = fit_dki(b[dki_b], s[dki_b], adc_range=adc_range)
        row.update({f"dki_{k}": v for k, v in asdict(dki).items() if k != "adc_mm2_per_s"})
    return row


#: Map file -> the column of :func:`_fit_curve` it holds, and the column saying whether that fit converged.
_MAP_COLUMNS = {"adc": ("ivim_adc_mm2_per_s", None), "ivim_f": ("ivim_f", "ivim_converged"),
                "ivim_d": ("ivim_d_mm2_per_s", "ivim_converged"),
                "ivim_dstar": ("ivim_dstar_mm2_per_s", "ivim_converged"),
                "dki_d": ("dki_d_app_mm2_per_s", "dki_converged"), "dki_k": ("dki_k_app", "dki_converged")}


def _map_chunk(b: np.ndarray, curves: np.ndarray, names: tuple[str, ...], fit_options: dict[str, Any]) -> np.ndarray:
    """The map values (``names``) of each row of ``curves`` (n, b); NaN where that fit did not converge (a
    module-level function: the workers import it)."""
    out = np.full((curves.shape[0], len(names)), np.nan)
    for i, s in enumerate(curves):
        fit = _fit_curve(b, s, **fit_options)
        for k, name in enumerate(names):
            column, converged = _MAP_COLUMNS[name]
            if converged is None or fit[converged]:
                out[i, k] = fit[column]
    return out


def run_mri_dwi(dwi_dir: Path, vois_path: Path, out_dir: Path, *, ivim_method: str = "segmented",
                b_threshold: float = 200.0, adc_range: tuple[float, float] = (0.0, 1000.0),
                dki_b_max: float | None = None, maps: bool = True,
                map_kinds: tuple[str, ...] | None = None, workers: int = 1) -> dict[str, Any]:
    """IVIM, kurtosis and ADC of a DWI series: ``dwi.csv`` (one row per VOI, fits of its mean signal), maps of the
    VOIs' voxels (``adc``, ``ivim_f``, ``ivim_d``, ``ivim_dstar``, ``dki_d``, ``dki_k``; NaN elsewhere and where
    the fit did not converge) and ``dwi.json``. DKI is fitted when the b-values reach 1500 s/mm² (up to
    ``dki_b_max``); ``ivim-dki`` fits IVIM and kurtosis jointly on every b. ``map_kinds``: the VOI kinds whose
    voxels are mapped (all when None)."""
    if ivim_method not in DWI_METHODS:
        raise InvalidInputError(f"unknown IVIM method {ivim_method!r}", attribute="--ivim-method",
                                remedy=f"use {', '.join(DWI_METHODS)}")
    dwi = load_dwi(dwi_dir)
    voiset = read_voiset(vois_path)
    if not voiset.geometry.same_grid(dwi.geometry):
        raise InvalidInputError("the VOIs are not on the grid of the DWI series", source=str(vois_path),
                                remedy="build the VOIs on the DWI series' grid")
    b = dwi.b_values
    if b.min() != 0.0:
        raise InvalidInputError(f"the series has no b = 0 image (its lowest b is {b.min():g} s/mm²)",
                                source=str(dwi_dir), attribute="DiffusionBValue (0018,9087) / vendor b-value",
                                remedy="include the b = 0 series (often exported as a separate series) in the folder")
    dki_ok = b.max() >= 1500.0
    if ivim_method == "ivim-dki" and not dki_ok:
        raise InvalidInputError(f"IVIM-kurtosis needs b-values up to >= 1500 s/mm² (the highest is {b.max():g})",
                                source=str(dwi_dir), attribute="--ivim-method",
                                remedy="use segmented or full for this series")
    dki_b = (b <= (dki_b_max or b.max())) if dki_ok else None
    fit_options: dict[str, Any] = {"ivim_method": ivim_method, "b_threshold": b_threshold, "adc_range": adc_range,
                                   "dki_b": dki_b}
    rows = []
    for i, voi in enumerate(voiset.vois):
        mask = voiset.masks[i]
        if not mask.any():
            continue
        s = dwi.volume[:, mask].mean(axis=1).astype(float)
        rows.append({"voi": voi.name, "n_voxels": int(mask.sum()), **_fit_curve(b, s, **fit_options)})
    files = [out_dir / "dwi.csv", out_dir / "dwi.json"]
    written = []
    with output_set(*files):
        if maps:
            chosen = [i for i, v in enumerate(voiset.vois) if map_kinds is None or v.kind in map_kinds]
            union = np.any(voiset.masks[chosen], axis=0) if chosen else np.zeros(dwi.geometry.shape, bool)
            names = ["adc", "ivim_f", "ivim_d", "ivim_dstar"] + (["dki_d", "dki_k"] if dki_ok else [])
            arrays = {name: np.full(dwi.geometry.shape, np.nan) for name in names}
            voxels = np.argwhere(union)
            curves = dwi.volume[:, union].T.astype(float)
            items = [(b, np.ascontiguousarray(curves[c]), tuple(names), fit_options)
                     for c in voxel_chunks(len(voxels), workers)]
            with executor(workers=workers, local="processes") as ex:
                parts = ex.map(_map_chunk, items, label="DWI voxels", unit="chunks")
            values = np.concatenate(parts) if parts else np.zeros((0, len(names)))
            z, y, x = voxels.T
            for k, name in enumerate(names):
                arrays[name][z, y, x] = values[:, k]
            for name, values in arrays.items():
                path = out_dir / f"{name}.nii.gz"
                files.append(path)
                write_nifti(path, values.astype(np.float32), dwi.geometry)
                written.append(path.name)
        table = pd.DataFrame(rows)
        failed = warn_not_converged(table, f"IVIM {ivim_method} of the VOIs", key="voi", column="ivim_converged")
        failed += [v for v in warn_not_converged(table, "kurtosis of the VOIs", key="voi", column="dki_converged")
                   if v not in failed]
        write_csv(out_dir / "dwi.csv", table)
        sidecar = {"petvoi_version": __version__, "b_values_s_per_mm2": b.tolist(), "b_source": dwi.b_source,
                   "ivim_method": ivim_method, "b_threshold": b_threshold, "adc_range": list(adc_range),
                   "dki": bool(dki_ok), "maps": written, "vois_not_converged": failed,
                   "map_kinds": list(map_kinds) if map_kinds else "all",
                   "units": {"d": "mm2/s", "dstar": "mm2/s", "adc": "mm2/s", "f": "1", "k": "1"}}
        write_json(out_dir / "dwi.json", sidecar)
    return sidecar
