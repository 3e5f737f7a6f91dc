"""SUV of biopsied lesions against IHC. Estimands (biopsied tumour lesions; lesions nested in patients):
Spearman's rho of the uptake with % positive cells, the H-score, PD-L1 TPS/CPS (where given); the trend of
uptake over IHC intensity 0 < 1+ < 2+ < 3+ and over HER2 categories HER2-0 < HER2-low < HER2-positive.

With one biopsied lesion per patient the lesions are independent: Spearman with a Fisher-z CI, Kruskal-Wallis
and Jonckheere-Terpstra. With several lesions of a patient the patient is the unit of replication: Spearman
with a patient-cluster bootstrap CI, the uptake ratio per score step from a mixed model (patient random
intercept) and Jonckheere-Terpstra with the labels permuted across patients; lesion-level Kruskal-Wallis is
not reported. Figures: uptake vs % positive (scatter), uptake by intensity (box)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import figures
from .. import methods as st
from ..ihc import IHC_SCORES
from .base import CohortData, Endpoint, lesion_design, row

__all__ = ["ENDPOINT"]

INTENSITIES = IHC_SCORES
HER2_ORDER = ("HER2-0", "HER2-low", "HER2-positive")
#: Continuous IHC read-outs correlated with uptake, where the IHC table has them.
CONTINUOUS = {"percent_positive": "% positive cells", "h_score": "H-score", "tps": "PD-L1 TPS", "cps": "PD-L1 CPS"}
POPULATION = "biopsied tumour lesions with IHC ({design})"


def _trend_rows(group: pd.DataFrame, variable: str, column: str, order: tuple[str, ...], level: str,
                what: str) -> list[dict[str, Any]]:
    """Kruskal-Wallis + JT (independent lesions) or mixed-model trend + cluster-permutation JT (clustered)."""
    endpoint = "suv_vs_ihc"
    labels = group[column].astype(str)
    present = [c for c in order if c in set(labels)]
    g = group[labels.isin(present)]
    labels = labels[labels.isin(present)]
    design, clustered = lesion_design(g)
    n_subj, n_les = int(g["subject_id"].nunique()), len(g)
    population = POPULATION.format(design=design)
    counts = ", ".join(f"{c}: {int((labels == c).sum())}" for c in present)
    rows = []
    if not clustered:
        groups = [g.loc[labels == c, variable].to_numpy(float) for c in present]
        rows.append(row(endpoint, f"kruskal_wallis_{what}", variable, level, st.kruskal_wallis(groups),
                        n_subjects=n_subj, n_lesions=n_les, notes=f"groups {counts}",
                        estimand=f"{population}; {variable} across {what} groups; distribution shift (H)"))
        rows.append(row(endpoint, f"jonckheere_terpstra_{what}", variable, level, st.jonckheere_terpstra(groups),
                        n_subjects=n_subj, n_lesions=n_les, notes=f"increasing trend over {' < '.join(present)}",
                        estimand=f"{population}; {variable} over ordered {what}; trend (J)"))
        return rows
    step = labels.map({c: i for i, c in enumerate(order)}).to_numpy(float)
    values = g[variable].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(values > 0, np.log(values), np.nan)
    rows.append(row(endpoint, f"mixed_trend_{what}", variable, level,
                    st.mixed_trend(logs, step, g["subject_id"].to_numpy()), n_subjects=n_subj, n_lesions=n_les,
                    notes=f"score steps {' < '.join(present)} ({counts})",
                    estimand=f"{population}; log {variable} per {what} step; uptake ratio per step"))
    rows.append(row(endpoint, f"cluster_permutation_jt_{what}", variable, level,
                    st.cluster_permutation_jt(values, labels.to_numpy(), g["subject_id"].to_numpy(), list(present)),
                    n_subjects=n_subj, n_lesions=n_les, notes=f"increasing trend over {' < '.join(present)}",
                    estimand=f"{population}; {variable} over ordered {what}; concordant ordered pairs J/Jmax"))
    return rows


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    variable, endpoint = cfg["variable"], "suv_vs_ihc"
    data.check_variable(variable, endpoint)
    if data.ihc is None:
        return [row(endpoint, "spearman_percent_positive", variable, "lesion", None, n_subjects=0,
                    notes="no IHC table given")]
    merged, notes = data.ihc_lesions(variable)
    rows = []
    groups_by_marker = list(merged.groupby("marker")) if "marker" in merged else []
    if len(groups_by_marker) != 1:  # several markers (or none named): also pooled, labelled as such
        groups_by_marker.append(("all (pooled)", merged))
    for marker, group in groups_by_marker:
        level = f"marker={marker}"
        design, clustered = lesion_design(group)
        n_subj, n_les = int(group["subject_id"].nunique()), len(group)
        for column, label in CONTINUOUS.items():
            if column not in group or group[column].isna().all():
                continue
            m = group.dropna(subset=[column])
            res = st.spearman(m[variable].to_numpy(float), m[column].to_numpy(float),
                              clusters=m["subject_id"].to_numpy() if clustered else None,
                              ci=cfg["spearman_ci"])
            rows.append(row(endpoint, f"spearman_{column}", variable, level, res, n_subjects=m["subject_id"].nunique(),
                            n_lesions=len(m), notes=notes,
                            estimand=f"{POPULATION.format(design=design)}; {variable} vs {label}; Spearman rho"))
        if "intensity" in group:
            rows += _trend_rows(group, variable, "intensity", INTENSITIES, level, "intensity")
        if "her2_category" in group and group["her2_category"].isin(HER2_ORDER).any():
            rows += _trend_rows(group, variable, "her2_category", HER2_ORDER, level, "her2_category")
        if "pattern" in group and not clustered:
            patterns = sorted(set(group["pattern"].astype(str)))
            rows.append(row(endpoint, "kruskal_wallis_pattern", variable, level,
                            st.kruskal_wallis([group.loc[group["pattern"] == p, variable].to_numpy(float)
                                               for p in patterns]),
                            n_subjects=n_subj, n_lesions=n_les, notes=f"patterns {', '.join(patterns)}",
                            estimand=f"{POPULATION.format(design=design)}; {variable} across staining patterns; "
                                     "distribution shift (H)"))
    return rows


def _annotation(result: st.StatResult, symbol: str) -> str:
    if not np.isfinite(result.estimate):
        return f"n = {result.n}: not enough data"
    return (f"{symbol} = {result.estimate:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}], "
            f"p = {result.p_value:.3g}, n = {result.n}")


def _figures(data: CohortData, cfg: Mapping[str, Any], folder: Path) -> list[Path]:
    if data.ihc is None:
        return []
    variable = cfg["variable"]
    merged, _ = data.ihc_lesions(variable)
    _, clustered = lesion_design(merged)
    patients = merged["subject_id"].to_numpy() if clustered else None
    rho = st.spearman(merged[variable].to_numpy(float), merged["percent_positive"].to_numpy(float), clusters=patients)
    written = list(figures.scatter_suv_vs_percent(merged, x="percent_positive", y=variable,
                                                  stem=folder / "suv_vs_percent_positive",
                                                  title="Uptake of biopsied lesions vs IHC",
                                                  annotation=_annotation(rho, "Spearman ρ")))
    merged["intensity"] = merged["intensity"].astype(str)
    order = [c for c in INTENSITIES if c in set(merged["intensity"])]
    if clustered:
        jt = st.cluster_permutation_jt(merged[variable].to_numpy(float), merged["intensity"].to_numpy(), patients,
                                       order)
        label = "Jonckheere-Terpstra (labels permuted across patients)"
    else:
        jt = st.jonckheere_terpstra([merged.loc[merged["intensity"] == c, variable].to_numpy(float) for c in order])
        label = "Jonckheere-Terpstra"
    written += figures.box_by_category(merged, category="intensity", value=variable, order=order,
                                       stem=folder / "suv_by_ihc_intensity",
                                       annotation=f"{label} p = {jt.p_value:.3g}")
    return written


ENDPOINT = Endpoint(
    name="suv_vs_ihc", order=10,
    description="SUV of biopsied lesions vs IHC: Spearman with % positive, H-score, TPS/CPS; trend over IHC "
                "intensity and HER2 category (independent lesions: Kruskal-Wallis and Jonckheere-Terpstra; lesions "
                "nested in patients: mixed-model trend and cluster-permutation Jonckheere-Terpstra).",
    settings={"variable": {"type": "string", "default": "suv_max", "description": "Uptake-table column."},
              "spearman_ci": {"type": "string", "enum": ["bonett-wright", "fieller", "bootstrap"],
                              "default": "bonett-wright"}},
    rows=_rows, figures=_figures)
