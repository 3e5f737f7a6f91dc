"""Heterogeneity of uptake: within a VOI, and between the lesions of a subject.

Intra-lesion (per VOI, from the SUV voxels):

- ``cov``: coefficient of variation SD/mean with the sample SD (ddof = 1, as SUV SD in uptake.csv);
  IBSI's intensity-based CoV (7TET, reported by ``petvoi texture``) uses the population SD.
- ``auc_csh``: area under the cumulative SUV-volume histogram (van Velden et al., EJNMMI 2011;38:1636):
  the CSH gives, for each threshold t in [0, 1] as a fraction of SUVmax, the fraction of the VOI volume
  with SUV >= t * SUVmax; its area is computed exactly as mean(SUV) / SUVmax (for SUV >= 0, the
  integral of the indicator over t equals SUV_i / SUVmax voxel by voxel). A uniform VOI gives 1;
  heterogeneous VOIs give less.
- ``entropy``: intensity-histogram entropy (IBSI TLU2, log2) of the SUVs discretised with a fixed bin
  size counted from SUV 0 (default 0.25).

Inter-lesion (per subject and timepoint, from the uptake table's tumour rows): number of lesions, SD,
CoV, range and max/min ratio of lesion SUVmax and SUVmean, and the fraction of lesions whose SUVmax
reaches a positivity threshold.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..voi.catalogue import VoiSet

__all__ = ["intra_lesion", "heterogeneity_table", "inter_lesion_spread", "SPREAD_COLUMNS"]

SPREAD_COLUMNS = ["n_lesions", "n_positive", "fraction_positive"] + [
    f"{metric}_{stat}" for metric in ("suv_max", "suv_mean")
    for stat in ("mean", "sd", "cov", "min", "max", "range", "max_min_ratio")
]


def intra_lesion(values: np.ndarray, bin_width: float = 0.25) -> dict[str, float]:
    """CoV, AUC-CSH and histogram entropy of the SUVs of one VOI.

    Parameters
    ----------
    values : numpy.ndarray
        SUVs of the VOI's voxels (g/mL).
    bin_width : float
        Fixed bin size (SUV units) for the entropy, bins counted from SUV 0.

    Returns
    -------
    dict
        ``n_voxels``, ``cov``, ``auc_csh``, ``entropy`` (NaN where undefined: fewer than two voxels
        for the CoV, a non-positive maximum for the AUC).
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    out = {"n_voxels": float(n), "cov": np.nan, "auc_csh": np.nan, "entropy": np.nan}
    if n == 0:
        return out
    mean = float(v.mean())
    if n > 1 and mean != 0:
        out["cov"] = float(v.std(ddof=1) / mean)
    vmax = float(v.max())
    if vmax > 0:
        out["auc_csh"] = float(np.clip(v, 0, None).mean() / vmax)
    bins = np.floor(np.clip(v, 0, None) / bin_width).astype(np.int64)
    p = np.bincount(bins - bins.min()) / n
    p = p[p > 0]
    out["entropy"] = float(-(p * np.log2(p)).sum())
    return out


def heterogeneity_table(suv: np.ndarray, voiset: VoiSet, *, bin_width: float = 0.25) -> pd.DataFrame:
    """One row per VOI: label, name, kind, lesion_id, n_voxels, cov, auc_csh, entropy.

    Parameters
    ----------
    suv : numpy.ndarray
        SUV volume (z, y, x) on the VOI set's grid.
    voiset : VoiSet
        VOIs (kept whole; no exclusion of overlapping VOIs).
    bin_width : float
        Entropy bin size (SUV units, from 0).
    """
    rows = []
    for voi, mask in zip(voiset.vois, voiset.masks, strict=True):
        metrics = intra_lesion(suv[mask], bin_width)
        rows.append({"label": voi.label, "name": voi.name, "kind": voi.kind, "lesion_id": voi.lesion_id,
                     "n_voxels": int(metrics.pop("n_voxels")), **metrics, "entropy_bin_width": bin_width})
    return pd.DataFrame(rows, columns=["label", "name", "kind", "lesion_id", "n_voxels", "cov", "auc_csh",
                                       "entropy", "entropy_bin_width"])


def _spread(values: pd.Series) -> dict[str, float]:
    v = values.dropna().to_numpy(dtype=np.float64)
    nan = float("nan")
    if v.size == 0:
        return dict.fromkeys(("mean", "sd", "cov", "min", "max", "range", "max_min_ratio"), nan)
    mean = float(v.mean())
    sd = float(v.std(ddof=1)) if v.size > 1 else nan
    vmin, vmax = float(v.min()), float(v.max())
    return {"mean": mean, "sd": sd, "cov": sd / mean if v.size > 1 and mean else nan, "min": vmin, "max": vmax,
            "range": vmax - vmin, "max_min_ratio": vmax / vmin if vmin > 0 else nan}


def inter_lesion_spread(uptake: pd.DataFrame, *, positivity_threshold: float,
                        group_by: tuple[str, ...] = ("subject_id", "timepoint")) -> pd.DataFrame:
    """Spread of lesion uptake between the lesions of each subject and timepoint.

    Parameters
    ----------
    uptake : pandas.DataFrame
        Cohort uptake table (``petvoi collect`` of uptake.csv) with ``kind``, ``suv_max``, ``suv_mean``.
    positivity_threshold : float
        SUVmax at or above which a lesion counts as positive.
    group_by : tuple of str
        Columns identifying a study.

    Returns
    -------
    pandas.DataFrame
        One row per study: the group columns, then :data:`SPREAD_COLUMNS`, then the threshold used.
        SD and CoV need two lesions (NaN otherwise); the max/min ratio needs a positive minimum.
    """
    tumours = uptake[uptake["kind"] == "tumour"]
    rows = []
    for key, group in tumours.groupby(list(group_by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        n = int(group["suv_max"].notna().sum())
        positive = int((group["suv_max"] >= positivity_threshold).sum())
        row = {**dict(zip(group_by, key, strict=True)), "n_lesions": n, "n_positive": positive,
               "fraction_positive": positive / n if n else float("nan")}
        for metric in ("suv_max", "suv_mean"):
            row.update({f"{metric}_{k}": v for k, v in _spread(group[metric]).items()})
        rows.append({**row, "positivity_threshold": positivity_threshold})
    return pd.DataFrame(rows, columns=[*group_by, *SPREAD_COLUMNS, "positivity_threshold"])
