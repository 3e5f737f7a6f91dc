"""The cohort MRI table (issue 19, items 3 and 5): one row per MR study and VOI, from each study's VOI catalogue,
T1 map, DCE and DWI tables; the owner of ``results/cohort/mri.csv``.

Columns: ``subject_id, timepoint, voi, kind, lesion_id, organ, volume_ml, volume_change_pct, t1_median_s``, the DCE
fit (``dce_model``, ``ktrans_per_min``, ``ve``, ``vp``, ``fp_ml_per_100ml_per_min``, ``ps_per_min``,
``dce_converged``, ``dce_aicc``) and semi-quantitative parameters, then the diffusion columns (``ivim_*``, ``dki_*``).
``volume_change_pct`` is the change of the VOI's volume from the subject's first MR timepoint of the sheet (the
same VOI name), empty there and for a VOI not seen at that timepoint. The MRI and PET tables join on
``subject_id, timepoint, lesion_id``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..outputs import TEMPLATES
from ..voi.catalogue import read_voiset

__all__ = ["MRI_KEYS", "build_mri_table", "build_mri_texture_table", "mri_study_table"]

MRI_KEYS = ["subject_id", "timepoint", "voi", "kind", "lesion_id", "organ"]
_DCE_RENAME = {"model": "dce_model", "converged": "dce_converged", "aicc": "dce_aicc", "delay_s": "dce_delay_s"}


def _study_file(results: Path, name: str, subject: str, timepoint: str) -> Path:
    path = results / TEMPLATES[name].format(subject=subject, timepoint=timepoint)
    if not path.is_file():
        raise InvalidInputError("MR stage output missing", source=str(path),
                                remedy="run the mri rules (snakemake) or petvoi mri-vois/mri-t1/mri-dce/mri-dwi first")
    return path


def mri_study_table(results: Path, subject: str, timepoint: str) -> pd.DataFrame:
    """The rows of one MR study (see the module docstring; without ``volume_change_pct``)."""
    vois = read_voiset(_study_file(results, "mri_vois", subject, timepoint))
    t1, grid = read_nifti(_study_file(results, "mri_t1", subject, timepoint))
    if not grid.same_grid(vois.geometry):
        raise InvalidInputError("the T1 map is not on the grid of the MR VOIs",
                                source=str(_study_file(results, "mri_t1", subject, timepoint)),
                                remedy="compute the T1 map from the VFA series of the VOIs' grid")
    rows = []
    for voi, mask in zip(vois.vois, vois.masks, strict=True):
        values = np.asarray(t1, dtype=float)[mask]
        values = values[np.isfinite(values)]
        rows.append({"subject_id": subject, "timepoint": timepoint, "voi": voi.name, "kind": voi.kind,
                     "lesion_id": voi.lesion_id or "", "organ": voi.organ or "", "volume_ml": voi.volume_ml,
                     "t1_median_s": float(np.median(values)) if values.size else np.nan})
    table = pd.DataFrame(rows)
    dce = pd.read_csv(_study_file(results, "mri_dce", subject, timepoint)).rename(columns=_DCE_RENAME)
    dwi = pd.read_csv(_study_file(results, "mri_dwi", subject, timepoint))
    table = table.merge(dce.drop(columns=["n_voxels"]), on="voi", how="left")
    return table.merge(dwi.drop(columns=["n_voxels"]), on="voi", how="left")


def build_mri_table(sheet: pd.DataFrame, results: Path) -> pd.DataFrame:
    """Every MR study of ``sheet`` (the MR sample sheet) stacked, with the volume change from the first timepoint."""
    parts = [mri_study_table(Path(results), str(r.subject_id), str(r.timepoint)) for r in sheet.itertuples()]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MRI_KEYS)
    first = sheet.groupby("subject_id", sort=False)["timepoint"].first()
    reference = table[table["timepoint"] == table["subject_id"].map(first)].set_index(["subject_id", "voi"])
    ref_volume = pd.Series(list(zip(table["subject_id"], table["voi"], strict=True))).map(
        reference["volume_ml"].to_dict())
    with np.errstate(divide="ignore", invalid="ignore"):
        change = 100.0 * (table["volume_ml"].to_numpy(float) / ref_volume.to_numpy(float) - 1.0)
    table.insert(table.columns.get_loc("volume_ml") + 1, "volume_change_pct",
                 np.where(table["timepoint"].to_numpy() == table["subject_id"].map(first).to_numpy(), np.nan, change))
    return table


def build_mri_texture_table(sheet: pd.DataFrame, results: Path) -> pd.DataFrame:
    """The texture tables of the MR studies of ``sheet`` stacked, with ``subject_id`` and ``timepoint`` first."""
    parts = []
    for r in sheet.itertuples():
        table = pd.read_csv(_study_file(Path(results), "mri_texture", str(r.subject_id), str(r.timepoint)))
        table.insert(0, "timepoint", str(r.timepoint))
        table.insert(0, "subject_id", str(r.subject_id))
        parts.append(table)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["subject_id", "timepoint"])
