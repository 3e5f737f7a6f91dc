"""The ``texture`` stage: IBSI-coded features per VOI, VOIs processed in parallel with dask.

Each VOI is cropped to its bounding box (plus a margin for resampling and the intensity-peak
sphere) and sent to a worker: a local process by default, or wherever the configured dask scheduler
runs tasks (:mod:`pipeline.parallel`: threads, a dask scheduler, a SLURM cluster). Workers run single-threaded ITK
(``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=1``) so that *n* workers use *n* cores and do not
oversubscribe them. A VOI that is too small or empty gives one row with the reason instead of
failing the run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..io import output_set, write_csv
from ..outputs import sidecar_path, write_provenance
from ..parallel import DaskOptions, executor
from ..voi.catalogue import read_voiset
from .options import TextureOptions

__all__ = ["TEXTURE_COLUMNS", "run_texture", "texture_rows"]

TEXTURE_COLUMNS = ["label", "name", "kind", "lesion_id", "feature", "family", "ibsi_code", "value", "source",
                   "reason"]
MARGIN_MM = 12.0  # crop margin: covers the 6.2 mm peak sphere and resampling kernels
#: Below this many VOI voxels in all, the ``auto`` scheduler computes texture in this process: starting a pool of
#: worker processes costs about 0.2 CPU-s per worker, more than 2-3 lesions of a few hundred voxels take (a sample
#: study: 0.13 CPU-s in process, 0.38 CPU-s plus the workers' with a pool of 2).
POOL_MIN_VOXELS = 20_000


def _single_threaded_itk() -> None:
    os.environ["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] = "1"
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def _crop(image: np.ndarray, mask: np.ndarray, spacing_xyz: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    idx = np.argwhere(mask)
    margin = [int(np.ceil(MARGIN_MM / s)) for s in spacing_xyz[::-1]]  # (z, y, x)
    lo = np.maximum(idx.min(axis=0) - margin, 0)
    hi = np.minimum(idx.max(axis=0) + 1 + np.array(margin), mask.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    return np.ascontiguousarray(image[box]), np.ascontiguousarray(mask[box])


def _one_voi(image: np.ndarray, mask: np.ndarray, spacing_xyz: tuple[float, float, float], params: Any,
             meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Features of one VOI as table rows (runs in a worker)."""
    _single_threaded_itk()
    from .texture import TextureSkipped, extract_texture

    if not mask.any():
        return [{**meta, "reason": "empty VOI"}]
    try:
        values = extract_texture(image, mask, spacing_xyz, params)
    except TextureSkipped as exc:
        return [{**meta, "reason": str(exc)}]
    return [{**meta, "feature": v.feature, "family": v.family, "ibsi_code": v.ibsi_code, "value": v.value,
             "source": v.source, "reason": ""} for v in values]


def texture_rows(image: np.ndarray, voiset: Any, spacing_xyz: tuple[float, float, float], params: Any, *,
                 kinds: Sequence[str] = ("tumour",), workers: int = 1,
                 dask_options: DaskOptions | None = None) -> pd.DataFrame:
    """Long table of features for the VOIs of the given kinds.

    Parameters
    ----------
    image : numpy.ndarray
        Image (z, y, x): SUV or HU.
    voiset : VoiSet
        VOIs on the image grid.
    spacing_xyz : tuple of float
        Voxel size (mm).
    params : TextureParams
        Validated extraction settings.
    kinds : sequence of str
        VOI kinds to process (default tumours only).
    workers : int
        Local worker processes (1: in this process, no dask).
    dask_options : DaskOptions, optional
        The scheduler (:mod:`pipeline.parallel`; default ``auto``: ``workers`` local processes). The table is
        the same whatever the scheduler.

    Returns
    -------
    pandas.DataFrame
        :data:`TEXTURE_COLUMNS`, rows in VOI order then feature order.
    """
    jobs: list[tuple[np.ndarray | None, np.ndarray | None, dict[str, Any]]] = []
    for voi, mask in zip(voiset.vois, voiset.masks, strict=True):
        if voi.kind not in kinds:
            continue
        meta = {"label": voi.label, "name": voi.name, "kind": voi.kind, "lesion_id": voi.lesion_id}
        if not mask.any():
            jobs.append((None, None, meta))
            continue
        crop_image, crop_mask = _crop(image, mask, spacing_xyz)
        jobs.append((crop_image, crop_mask, meta))
    # largest VOIs first (longest-processing-time order) so that no worker is left with a big one at the end
    def voxels(i: int) -> int:
        msk = jobs[i][1]
        return 0 if msk is None else int(msk.sum())

    order = sorted((i for i, job in enumerate(jobs) if job[0] is not None), key=lambda i: -voxels(i))
    results: list[Any] = [[{**meta, "reason": "empty VOI"}] for _, _, meta in jobs]
    if order:
        from . import texture  # noqa: F401  - imported before forking: workers start without re-importing

        _single_threaded_itk()  # inherited by local worker processes and threads
        if (dask_options is None or dask_options.scheduler == "auto") and \
                sum(voxels(i) for i in order) < POOL_MIN_VOXELS:
            workers = 1  # small work: a worker pool would cost more CPU than it saves wall time
        with executor(dask_options, workers=workers, local="processes") as ex:
            done = ex.map(_one_voi, [(jobs[i][0], jobs[i][1], spacing_xyz, params, jobs[i][2]) for i in order],
                          label="texture", unit="VOIs")
        for i, result in zip(order, done, strict=True):
            results[i] = result
    rows = [row for result in results for row in result]
    return pd.DataFrame(rows, columns=TEXTURE_COLUMNS)


def run_texture(image_path: Path, vois_path: Path, params_path: Path, output: Path,
                options: TextureOptions | None = None) -> pd.DataFrame:
    """Compute texture features per VOI and write ``texture.csv`` and ``texture.json`` (settings).

    Raises
    ------
    InvalidInputError
        For a VOI set on another grid, a 4D image, or invalid parameters (unknown keys are named).
    """
    from .texture import TextureParams

    options = options or TextureOptions()
    kinds, workers = options.kinds, options.workers
    params = TextureParams.from_yaml(params_path)
    image, geometry = read_nifti(image_path)
    if image.ndim != 3:
        raise InvalidInputError("texture needs a 3D image", source=str(image_path),
                                remedy="give a static SUV or CT volume")
    voiset = read_voiset(vois_path)
    if not voiset.geometry.same_grid(geometry):
        raise InvalidInputError("VOI set is not on the grid of the image", source=str(vois_path),
                                remedy="resample the image to the PET grid or build VOIs on this image")
    table = texture_rows(np.asarray(image, dtype=np.float64), voiset, geometry.spacing, params,
                         kinds=kinds, workers=workers, dask_options=options.dask)
    import radiomics

    with output_set(output, sidecar_path(output)):
        write_csv(output, table)
        write_provenance(output, {
        "petvoi_version": __version__, "pyradiomics_version": getattr(radiomics, "__version__", "unknown"),
        "image": Path(image_path).name, "vois": Path(vois_path).name, "params_file": str(params_path),
        "params": params.as_dict(), "kinds": list(kinds), "workers": workers,
        "n_vois": int(table["label"].nunique()) if len(table) else 0,
        "n_skipped": int((table["reason"].fillna("") != "").sum()) if len(table) else 0,
        "policy": options.policy.record(),
        })
    return table
