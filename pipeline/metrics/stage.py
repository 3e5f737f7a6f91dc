"""The ``uptake`` stage: SUV volume + VOI set in, one row per VOI out (``uptake.csv``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..io import write_csv
from ..outputs import read_suv_sidecar, write_provenance
from ..voi.catalogue import read_voiset
from .uptake import uptake_table

__all__ = ["run_uptake", "run_heterogeneity"]


def run_uptake(suv_path: Path, vois_path: Path, output: Path, *, exclude_tumours_from_organs: bool = True,
               peak_mode: str = "global", min_voxels: int = 8) -> pd.DataFrame:
    """Compute the uptake table of every VOI and write it as CSV (atomically).

    Parameters
    ----------
    suv_path : Path
        ``suv.nii.gz``; its ``suv.json`` sidecar (if present) supplies weight, height and sex for SUL.
    vois_path : Path
        ``vois.nii.gz`` with ``vois.json``.
    output : Path
        ``uptake.csv``; the settings (peak kernel, exclusions, references, SUL formula) go to
        ``uptake.json`` beside it.
    exclude_tumours_from_organs : bool
        Organ and reference statistics leave out voxels of tumour VOIs.
    peak_mode : str
        ``global`` (PERCIST/IBSI global peak) or ``local`` (IBSI local peak).
    min_voxels : int
        VOIs with fewer voxels get a warning.

    Raises
    ------
    InvalidInputError
        When the VOI set is not on the SUV image's grid.
    """
    suv, geometry = read_nifti(suv_path)
    if suv.ndim == 4:
        raise InvalidInputError("dynamic (4D) SUV volume", source=str(suv_path),
                                remedy="uptake works on a static volume; use `petvoi tacs` for dynamic series")
    voiset = read_voiset(vois_path)
    if not voiset.geometry.same_grid(geometry):
        raise InvalidInputError("VOI set is not on the grid of the SUV image", source=str(vois_path),
                                remedy="build the VOIs with `petvoi vois --pet` on this SUV image")
    sidecar = read_suv_sidecar(suv_path)
    table = uptake_table(suv, geometry, voiset, sidecar=sidecar,
                         exclude_tumours_from_organs=exclude_tumours_from_organs, peak_mode=peak_mode,
                         min_voxels=min_voxels)
    write_csv(output, table)
    provenance = {**table.attrs.get("provenance", {}), "suv": Path(suv_path).name, "vois": Path(vois_path).name}
    write_provenance(output, provenance)
    return table


def run_heterogeneity(suv_path: Path, vois_path: Path, output: Path, *, bin_width: float = 0.25) -> pd.DataFrame:
    """Per-VOI CoV, AUC-CSH and histogram entropy (:mod:`.heterogeneity`), written as CSV (atomically).

    Raises
    ------
    InvalidInputError
        When the VOI set and the SUV image are not on one 3D grid.
    """
    from .heterogeneity import heterogeneity_table

    suv, geometry = read_nifti(suv_path)
    voiset = read_voiset(vois_path)
    if suv.ndim != 3 or not voiset.geometry.same_grid(geometry):
        raise InvalidInputError("VOI set and SUV image are not on one 3D grid", source=str(vois_path),
                                remedy="build the VOIs with `petvoi vois --pet` on this SUV image")
    table = heterogeneity_table(suv, voiset, bin_width=bin_width)
    write_csv(output, table)
    return table
