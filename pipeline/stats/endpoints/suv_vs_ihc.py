"""SUV of biopsied lesions against IHC: Spearman with % positive cells, Kruskal-Wallis and Jonckheere-Terpstra
over staining intensity, Kruskal-Wallis over pattern; lesions nested in patients by a cluster-bootstrap CI and a
mixed model. Figures: uptake vs % positive (scatter), uptake by intensity (box)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import figures
from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]

INTENSITIES = ("0", "1+", "2+", "3+")


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    variable, endpoint = cfg["variable"], "suv_vs_ihc"
    data.check_variable(variable, endpoint)
    if data.ihc is None:
        return [row(endpoint, "spearman", variable, "lesion", None, n_subjects=0, notes="no IHC table given")]
    merged, notes = data.ihc_lesions(variable)
    rows = []
    groups_by_marker = list(merged.groupby("marker")) if "marker" in merged else []
    if len(groups_by_marker) != 1:  # several markers (or none named): also pooled, labelled as such
        groups_by_marker.append(("all (pooled)", merged))
    for marker, group in groups_by_marker:
        level = f"marker={marker}"
        n_subj, n_les = group["subject_id"].nunique(), len(group)
        clusters = group["subject_id"].to_numpy() if n_les > n_subj else None
        res = st.spearman(group[variable].to_numpy(float), group["percent_positive"].to_numpy(float),
                          clusters=clusters, ci=cfg.get("spearman_ci", "bonett-wright"))
        rows.append(row(endpoint, "spearman_percent_positive", variable, level, res, n_subjects=n_subj,
                        n_lesions=n_les, notes=notes))
        order = [c for c in INTENSITIES if c in set(group["intensity"].astype(str))]
        groups = [group.loc[group["intensity"].astype(str) == c, variable].to_numpy(float) for c in order]
        rows.append(row(endpoint, "kruskal_wallis_intensity", variable, level, st.kruskal_wallis(groups),
                        n_subjects=n_subj, n_lesions=n_les, notes=f"groups {', '.join(order)}"))
        rows.append(row(endpoint, "jonckheere_terpstra_intensity", variable, level,
                        st.jonckheere_terpstra(groups), n_subjects=n_subj, n_lesions=n_les,
                        notes=f"increasing trend over {' < '.join(order)}"))
        if "pattern" in group:
            patterns = sorted(set(group["pattern"].astype(str)))
            rows.append(row(endpoint, "kruskal_wallis_pattern", variable, level,
                            st.kruskal_wallis([group.loc[group["pattern"] == p, variable].to_numpy(float)
                                               for p in patterns]),
                            n_subjects=n_subj, n_lesions=n_les, notes=f"patterns {', '.join(patterns)}"))
        if n_les > n_subj:
            res = st.mixed_model(group.rename(columns={variable: "y"}), "y ~ percent_positive", "subject_id",
                                 "percent_positive")
            rows.append(row(endpoint, "mixed_model_percent_positive", variable, level, res, n_subjects=n_subj,
                            n_lesions=n_les))
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
    rho = st.spearman(merged[variable].to_numpy(float), merged["percent_positive"].to_numpy(float))
    written = list(figures.scatter_suv_vs_percent(merged, x="percent_positive", y=variable,
                                                  stem=folder / "suv_vs_percent_positive",
                                                  title="Uptake of biopsied lesions vs IHC",
                                                  annotation=_annotation(rho, "Spearman ρ")))
    merged["intensity"] = merged["intensity"].astype(str)
    order = [c for c in INTENSITIES if c in set(merged["intensity"])]
    jt = st.jonckheere_terpstra([merged.loc[merged["intensity"] == c, variable].to_numpy(float) for c in order])
    written += figures.box_by_category(merged, category="intensity", value=variable, order=order,
                                       stem=folder / "suv_by_ihc_intensity",
                                       annotation=f"Jonckheere-Terpstra p = {jt.p_value:.3g}")
    return written


ENDPOINT = Endpoint(
    name="suv_vs_ihc", order=10,
    description="SUV of biopsied lesions vs IHC (Spearman with % positive, Kruskal-Wallis and Jonckheere-Terpstra "
                "over intensity, pattern).",
    settings={"variable": {"type": "string", "default": "suv_max", "description": "Uptake-table column."},
              "spearman_ci": {"type": "string", "enum": ["bonett-wright", "fieller", "bootstrap"],
                              "default": "bonett-wright"}},
    rows=_rows, figures=_figures)
