"""The ``uptake``, ``heterogeneity`` and ``spread`` stages: SUV volume + VOI set in, one row per VOI out
(``uptake.csv``, ``heterogeneity.csv``); the cohort uptake table in, one row per study out (``inter_lesion``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..io import output_set, write_csv, write_table
from ..outputs import read_suv_sidecar, sidecar_path, write_provenance
from ..voi.catalogue import read_voiset
from .options import HeterogeneityOptions, SpreadOptions, UptakeOptions
from .uptake import uptake_table

__all__ = ["run_uptake", "run_heterogeneity", "run_spread"]

log = logging.getLogger(__name__)


def run_uptake(suv_path: Path, vois_path: Path, output: Path, options: UptakeOptions | None = None) -> pd.DataFrame:
    """Compute the uptake table of every VOI and write it as CSV (atomically).

    Parameters
    ----------
    suv_path : Path
        ``suv.nii.gz``; its ``suv.json`` sidecar (if present) supplies weight, height and sex for SUL.
    vois_path : Path
        ``vois.nii.gz`` with ``vois.json``.
    output : Path
        ``uptake.csv``; the settings (peak kernel, exclusions, references, SUL formula, policy) go to
        ``uptake.json`` beside it.
    options : UptakeOptions, optional
        SUVpeak mode, tumour exclusion and its margin, liver reference, small-VOI warning.

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
    options = options or UptakeOptions()
    sidecar = read_suv_sidecar(suv_path)
    table = uptake_table(suv, geometry, voiset, sidecar=sidecar,
                         exclude_tumours_from_organs=options.exclude_tumours_from_organs,
                         margin_mm=options.tumour_margin_mm, liver_reference=options.liver_reference,
                         peak_mode=options.peak_mode, min_voxels=options.min_voxels)
    provenance = {**table.attrs.get("provenance", {}), "suv": Path(suv_path).name, "vois": Path(vois_path).name,
                  "policy": options.policy.record()}
    with output_set(output, sidecar_path(output)):
        write_csv(output, table)
        write_provenance(output, provenance)
    for warning in provenance.get("warnings", []):
        log.warning("%s: %s", Path(output).name, warning)
    return table


def run_heterogeneity(suv_path: Path, vois_path: Path, output: Path,
                      options: HeterogeneityOptions | None = None) -> pd.DataFrame:
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
    table = heterogeneity_table(suv, voiset, bin_width=(options or HeterogeneityOptions()).bin_width)
    write_csv(output, table)
    return table


def run_spread(uptake_path: Path, output: Path, options: SpreadOptions) -> pd.DataFrame:
    """Inter-lesion spread of lesion SUVmax/SUVmean per subject and timepoint (:func:`inter_lesion_spread`),
    from the cohort uptake table (Parquet or CSV), written as Parquet or CSV by the output's extension."""
    from .heterogeneity import inter_lesion_spread

    uptake_path = Path(uptake_path)
    if not uptake_path.is_file():
        raise InvalidInputError("cohort uptake table not found", source=str(uptake_path),
                                remedy="stack the uptake tables with `petvoi collect` first")
    uptake = pd.read_parquet(uptake_path) if uptake_path.suffix == ".parquet" else pd.read_csv(uptake_path)
    table = inter_lesion_spread(uptake, positivity_threshold=options.positivity_threshold)
    write_table(output, table)
    return table
