"""Trial endpoint analyses of a cohort (``petvoi stats``), driven by the config's ``analyses:`` section.

Every analysis adds rows to one tidy table (:data:`STATS_COLUMNS`): endpoint, analysis, variable,
level, n_subjects, n_lesions, estimate, ci_low, ci_high, p_value, p_adjusted, method, notes.
Benjamini-Hochberg adjustment is applied within each endpoint family. An analysis without enough
data writes a row that says so with its n, never an exception. Patient-level summaries are the
default where lesions are nested in patients; lesion-level analyses state how the nesting is
handled (mixed model with a patient random intercept, or a cluster bootstrap) in ``method``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from . import statistics as st

__all__ = ["STATS_COLUMNS", "CohortData", "load_cohort", "run_analyses", "ANALYSES"]

log = logging.getLogger(__name__)

STATS_COLUMNS = ["endpoint", "analysis", "variable", "level", "n_subjects", "n_lesions", "estimate", "ci_low",
                 "ci_high", "statistic", "p_value", "p_adjusted", "method", "notes"]
ANALYSES = ("suv_vs_ihc", "suv_vs_response", "treatment_change", "route", "diagnostic", "survival",
            "heterogeneity")
UPTAKE_VARIABLES = ("suv_max", "suv_mean", "suv_peak", "sul_peak", "sul_max", "volume_ml", "tlg",
                    "suv_max_to_liver", "suv_peak_to_liver", "suv_max_to_blood", "suv_peak_to_blood")


@dataclass
class CohortData:
    """The cohort and clinical tables an analysis may use (missing ones are None)."""

    uptake: pd.DataFrame
    deltas: pd.DataFrame | None = None
    bor: pd.DataFrame | None = None
    heterogeneity: pd.DataFrame | None = None
    inter_lesion: pd.DataFrame | None = None
    ihc: pd.DataFrame | None = None
    histology: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)


def _read(path: str | Path | None) -> pd.DataFrame | None:
    if not path:
        return None
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError("table not found", source=str(p), remedy="run the stage that writes it, or unset it")
    if p.suffix == ".parquet":
        return pd.read_parquet(p)
    return pd.read_csv(p, sep="\t" if p.suffix == ".tsv" else ",", keep_default_na=False, na_values=[""])


def load_cohort(paths: Mapping[str, str | Path | None]) -> CohortData:
    """Read the tables named in ``paths`` (keys: the fields of :class:`CohortData`)."""
    tables = {key: _read(paths.get(key)) for key in ("uptake", "deltas", "bor", "heterogeneity", "inter_lesion",
                                                      "ihc", "histology", "outcomes")}
    if tables["uptake"] is None:
        raise InvalidInputError("the cohort uptake table is required", attribute="--uptake",
                                remedy="give results/cohort/uptake.parquet")
    return CohortData(**tables)


# --------------------------------------------------------------------------------------------- helpers
def _row(endpoint: str, analysis: str, variable: str, level: str, result: st.StatResult | None, *,
         n_subjects: int, n_lesions: int | None = None, notes: str = "", method: str | None = None) -> dict[str, Any]:
    nan = float("nan")
    r = result
    return {"endpoint": endpoint, "analysis": analysis, "variable": variable, "level": level,
            "n_subjects": int(n_subjects), "n_lesions": n_lesions if n_lesions is not None else pd.NA,
            "estimate": r.estimate if r else nan, "ci_low": r.ci_low if r else nan,
            "ci_high": r.ci_high if r else nan, "statistic": r.statistic if r else nan,
            "p_value": r.p_value if r else nan, "p_adjusted": nan,
            "method": method or (r.method if r else ""),
            "notes": "; ".join(n for n in ((r.notes if r else ""), notes) if n)}


def _check_variable(data: CohortData, variable: str, where: str) -> None:
    if variable not in data.uptake.columns:
        raise InvalidInputError(f"unknown variable {variable!r}", attribute=f"analyses.{where}.variable",
                                remedy=f"use one of {', '.join(v for v in UPTAKE_VARIABLES if v in data.uptake)}")


def _tumours(data: CohortData, timepoint: str | None) -> pd.DataFrame:
    u = data.uptake[data.uptake["kind"] == "tumour"]
    return u if timepoint is None else u[u["timepoint"] == timepoint]


def _hottest(data: CohortData, variable: str, timepoint: str) -> pd.DataFrame:
    """Per subject, the tumour VOI with the highest ``variable`` at ``timepoint``."""
    t = _tumours(data, timepoint).dropna(subset=[variable])
    if t.empty:
        return t
    return t.loc[t.groupby("subject_id")[variable].idxmax()]


# --------------------------------------------------------------------------------------------- analyses
def suv_vs_ihc(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """SUV of biopsied lesions against IHC: Spearman (% positive), Kruskal-Wallis and JT trend (intensity),
    Kruskal-Wallis (pattern); lesions nested in patients by a cluster bootstrap CI and a mixed model."""
    variable, endpoint = cfg["variable"], "suv_vs_ihc"
    _check_variable(data, variable, endpoint)
    if data.ihc is None:
        return [_row(endpoint, "spearman", variable, "lesion", None, n_subjects=0, notes="no IHC table given")]
    ihc = data.ihc.copy()
    uptake = data.uptake[data.uptake["kind"] == "tumour"][["subject_id", "timepoint", "lesion_id", variable]]
    merged = ihc.merge(uptake, on=["subject_id", "timepoint", "lesion_id"], how="left")
    missing = merged[merged[variable].isna()]
    notes = ""
    if len(missing):
        listed = ", ".join(f"{r.subject_id}/{r.timepoint}/{r.lesion_id}" for r in missing.itertuples())
        notes = f"IHC rows without a VOI (ignored): {listed}"
        data.warnings.append(notes)
        log.warning("%s", notes)
    merged = merged.dropna(subset=[variable])
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
        rows.append(_row(endpoint, "spearman_percent_positive", variable, level, res, n_subjects=n_subj,
                         n_lesions=n_les, notes=notes))
        order = [c for c in ("0", "1+", "2+", "3+") if c in set(group["intensity"].astype(str))]
        groups = [group.loc[group["intensity"].astype(str) == c, variable].to_numpy(float) for c in order]
        rows.append(_row(endpoint, "kruskal_wallis_intensity", variable, level, st.kruskal_wallis(groups),
                         n_subjects=n_subj, n_lesions=n_les, notes=f"groups {', '.join(order)}"))
        rows.append(_row(endpoint, "jonckheere_terpstra_intensity", variable, level,
                         st.jonckheere_terpstra(groups), n_subjects=n_subj, n_lesions=n_les,
                         notes=f"increasing trend over {' < '.join(order)}"))
        if "pattern" in group:
            patterns = sorted(set(group["pattern"].astype(str)))
            rows.append(_row(endpoint, "kruskal_wallis_pattern", variable, level,
                             st.kruskal_wallis([group.loc[group["pattern"] == p, variable].to_numpy(float)
                                                for p in patterns]),
                             n_subjects=n_subj, n_lesions=n_les, notes=f"patterns {', '.join(patterns)}"))
        if n_les > n_subj:
            res = st.mixed_model(group.rename(columns={variable: "y"}), "y ~ percent_positive", "subject_id",
                                 "percent_positive")
            rows.append(_row(endpoint, "mixed_model_percent_positive", variable, level, res, n_subjects=n_subj,
                             n_lesions=n_les))
    return rows


def _responders(data: CohortData, cfg: Mapping[str, Any]) -> pd.Series | None:
    if data.bor is None:
        return None
    column = cfg.get("response_column", "bor")
    positive = set(cfg.get("responders", ["CR", "PR", "iCR", "iPR"]))
    return data.bor.set_index("subject_id")[column].astype(str).isin(positive)


def suv_vs_response(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Baseline hottest-lesion SUV and its % change, responders vs non-responders: Mann-Whitney, ROC (DeLong)."""
    variable, endpoint = cfg["variable"], "suv_vs_response"
    _check_variable(data, variable, endpoint)
    responders = _responders(data, cfg)
    if responders is None:
        return [_row(endpoint, "mann_whitney", variable, "patient", None, n_subjects=0,
                     notes="no response table given")]
    baseline = _hottest(data, variable, cfg["baseline"]).set_index("subject_id")[variable]
    series = {"baseline": baseline}
    if data.deltas is not None:
        d = data.deltas[(data.deltas["level"] == "lesion") & (data.deltas["metric"] == variable)]
        if len(d):
            series["pct_change_mean_lesion"] = d.groupby("subject_id")["pct_change"].mean()
    rows = []
    for name, values in series.items():
        joined = pd.concat([values.rename("x"), responders.rename("r")], axis=1, join="inner").dropna()
        x, r = joined["x"].to_numpy(float), joined["r"].to_numpy(bool)
        n = len(joined)
        rows.append(_row(endpoint, "mann_whitney", f"{variable}:{name}", "patient",
                         st.mann_whitney(x[r], x[~r]), n_subjects=n,
                         notes=f"{int(r.sum())} responders ({', '.join(sorted(set(cfg.get('responders', []))))})"))
        auc = st.roc_auc_delong(r.astype(int), x)
        cut = st.youden(r.astype(int), x) if n >= 2 and 0 < r.sum() < n else None
        rows.append(_row(endpoint, "roc_auc", f"{variable}:{name}", "patient", auc, n_subjects=n,
                         notes="" if cut is None else (f"Youden cut-off >= {cut['cutoff']:.4g} (sens "
                                                       f"{cut['sensitivity']:.3f}, spec {cut['specificity']:.3f})")))
    return rows


def treatment_change(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Baseline vs on-treatment per organ and for tumours: Wilcoxon at patient level, mixed model at lesion level;
    writes the biodistribution rows (SUVmean per organ and timepoint)."""
    endpoint, organ_var, tumour_var = "treatment_change", cfg["organ_variable"], cfg["tumour_variable"]
    b, f = cfg["baseline"], cfg["followup"]
    u = data.uptake
    rows = []
    organs = u[u["kind"].isin(["organ", "reference"])]
    for organ, group in organs.groupby("organ"):
        wide = group.pivot_table(index="subject_id", columns="timepoint", values=organ_var, aggfunc="mean")
        if b not in wide or f not in wide:
            continue
        pair = wide[[b, f]].dropna()
        rows.append(_row(endpoint, "wilcoxon_paired", organ_var, f"organ={organ}",
                         st.wilcoxon_paired(pair[b].to_numpy(float), pair[f].to_numpy(float)),
                         n_subjects=len(pair)))
    hottest_b = _hottest(data, tumour_var, b).set_index("subject_id")[tumour_var]
    hottest_f = _hottest(data, tumour_var, f).set_index("subject_id")[tumour_var]
    pair = pd.concat([hottest_b.rename("b"), hottest_f.rename("f")], axis=1, join="inner").dropna()
    rows.append(_row(endpoint, "wilcoxon_paired", tumour_var, "tumour:hottest_lesion",
                     st.wilcoxon_paired(pair["b"].to_numpy(float), pair["f"].to_numpy(float)),
                     n_subjects=len(pair)))
    lesions = _tumours(data, None)
    lesions = lesions[lesions["timepoint"].isin([b, f]) & (lesions[tumour_var] > 0)].copy()
    lesions["log_y"] = np.log(lesions[tumour_var].astype(float))
    lesions["on_treatment"] = (lesions["timepoint"] == f).astype(int)
    res = st.mixed_model(lesions, "log_y ~ on_treatment", "subject_id", "on_treatment")
    if res is not None and math.isfinite(res.estimate):
        res = st.StatResult(math.exp(res.estimate), math.exp(res.ci_low), math.exp(res.ci_high), res.p_value, res.n,
                            res.method, res.statistic, (res.notes + "; " if res.notes else "") +
                            "estimate = ratio on-treatment/baseline (exp of the log-SUV effect)")
    rows.append(_row(endpoint, "mixed_model_log_ratio", tumour_var, "tumour:lesions", res,
                     n_subjects=lesions["subject_id"].nunique(), n_lesions=len(lesions)))
    return rows


def biodistribution_table(data: CohortData, variable: str = "suv_mean") -> pd.DataFrame:
    """SUVmean per organ and timepoint: n, mean, SD, median, min, max (organ and reference VOIs)."""
    organs = data.uptake[data.uptake["kind"].isin(["organ", "reference"])]
    grouped = organs.groupby(["organ", "timepoint"])[variable]
    table = grouped.agg(n="count", mean="mean", sd="std", median="median", min="min", max="max").reset_index()
    table.insert(2, "variable", variable)
    return table


def route(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Intra-arterial vs intravenous: per-lesion paired ratio IA/IV, geometric-mean ratio (mixed model)."""
    endpoint = "route"
    u = _tumours(data, None)
    if "route" not in u or set(u["route"].astype(str)) < {"ia", "iv"}:
        return [_row(endpoint, "geometric_mean_ratio", v, "lesion", None, n_subjects=0,
                     notes="no subject scanned after both intra-arterial and intravenous administration (n = 0)")
                for v in cfg["variables"]]
    rows = []
    for variable in cfg["variables"]:
        wide = u.pivot_table(index=["subject_id", "lesion_id"], columns="route", values=variable,
                             aggfunc="mean").dropna(subset=["ia", "iv"])
        wide = wide[(wide["ia"] > 0) & (wide["iv"] > 0)]
        log_ratio = np.log(wide["ia"] / wide["iv"])
        groups = wide.index.get_level_values("subject_id")
        rows.append(_row(endpoint, "geometric_mean_ratio", variable, "lesion",
                         st.geometric_mean_ratio(log_ratio.to_numpy(float), np.asarray(groups)),
                         n_subjects=len(set(groups)), n_lesions=len(wide), notes="ratio IA/IV"))
        per_patient = wide.groupby(level="subject_id")[["ia", "iv"]].mean()
        rows.append(_row(endpoint, "wilcoxon_paired", variable, "patient",
                         st.wilcoxon_paired(per_patient["iv"].to_numpy(float), per_patient["ia"].to_numpy(float)),
                         n_subjects=len(per_patient), notes="per-patient mean IV -> IA"))
    return rows


def diagnostic(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Lesion- and patient-level diagnostic accuracy at a fixed SUV threshold against histology, and ROC."""
    variable, endpoint, threshold = cfg["variable"], "diagnostic", float(cfg["threshold"])
    _check_variable(data, variable, endpoint)
    if data.histology is None:
        return [_row(endpoint, "sensitivity", variable, "lesion", None, n_subjects=0, notes="no histology table")]
    lesions = _tumours(data, cfg["timepoint"])[["subject_id", "lesion_id", variable]]
    merged = data.histology.merge(lesions, on=["subject_id", "lesion_id"], how="inner").dropna(subset=[variable])
    truth = merged["malignant"].astype(int).to_numpy()
    score = merged[variable].to_numpy(float)
    rows = []
    levels = {"lesion": (truth, score, merged["subject_id"].to_numpy())}
    patient = merged.groupby("subject_id").agg(malignant=("malignant", "max"), score=(variable, "max"))
    levels["patient"] = (patient["malignant"].astype(int).to_numpy(), patient["score"].to_numpy(float), None)
    for level, (y, s, clusters) in levels.items():
        n_subj = merged["subject_id"].nunique()
        n_les = len(merged) if level == "lesion" else None
        for method in ("wilson", "clopper-pearson"):
            for measure, res in st.diagnostic_accuracy(y, (s >= threshold).astype(int), method=method).items():
                rows.append(_row(endpoint, measure, variable, level, res, n_subjects=n_subj, n_lesions=n_les,
                                 notes=f"positive: {variable} >= {threshold:g}"))
        auc = st.roc_auc_delong(y, s)
        note = ""
        if len(set(y)) == 2:
            cut = st.youden(y, s)
            boot = st.bootstrap_cutoff_ci(y, s, clusters=clusters, n_boot=int(cfg.get("n_boot", 2000)), seed=0)
            note = (f"Youden cut-off >= {cut['cutoff']:.4g} (bootstrap 95 % CI {boot.ci_low:.4g}-{boot.ci_high:.4g}"
                    f"{', patients resampled' if clusters is not None else ''}; exploratory)")
        rows.append(_row(endpoint, "roc_auc", variable, level, auc, n_subjects=n_subj, n_lesions=n_les, notes=note))
    return rows


def survival(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Kaplan-Meier by SUV group (cut-off: median or a number), log-rank, Cox HR (group and continuous)."""
    variable, endpoint = cfg["variable"], "survival"
    _check_variable(data, variable, endpoint)
    if data.outcomes is None:
        return [_row(endpoint, "logrank", variable, "patient", None, n_subjects=0, notes="no outcomes table")]
    rows = []
    hottest = _hottest(data, variable, cfg["baseline"]).set_index("subject_id")[variable]
    for outcome in cfg["outcomes"]:
        t, e = f"{outcome}_months", f"{outcome}_event"
        df = data.outcomes.set_index("subject_id")[[t, e]].join(hottest, how="inner").dropna()
        cutoff = float(df[variable].median()) if cfg["cutoff"] == "median" else float(cfg["cutoff"])
        high = (df[variable] > cutoff).astype(int).to_numpy()
        level = f"outcome={outcome}"
        note = f"groups: {variable} > {cutoff:.4g} ({'median' if cfg['cutoff'] == 'median' else 'configured'})"
        lr, medians, _ = st.kaplan_meier_logrank(df[t].to_numpy(float), df[e].to_numpy(int), high)
        rows.append(_row(endpoint, "logrank", variable, level, lr, n_subjects=len(df),
                         notes=f"{note}; median survival by group {medians}"))
        rows.append(_row(endpoint, "cox_hr_group", variable, level,
                         st.cox_hr(df[t].to_numpy(float), df[e].to_numpy(int), high), n_subjects=len(df),
                         notes=f"{note}; HR high vs low"))
        rows.append(_row(endpoint, "cox_hr_continuous", variable, level,
                         st.cox_hr(df[t].to_numpy(float), df[e].to_numpy(int), df[variable].to_numpy(float)),
                         n_subjects=len(df), notes=f"HR per unit of {variable}"))
    return rows


def heterogeneity(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Intra-lesion heterogeneity of the biopsied lesion and inter-lesion spread against IHC % positive."""
    endpoint = "heterogeneity"
    if data.ihc is None:
        return [_row(endpoint, "spearman", "cov", "lesion", None, n_subjects=0, notes="no IHC table")]
    rows = []
    if data.heterogeneity is not None:
        merged = data.ihc.merge(data.heterogeneity[data.heterogeneity["kind"] == "tumour"],
                                on=["subject_id", "timepoint", "lesion_id"], how="inner")
        for metric in ("cov", "auc_csh", "entropy"):
            m = merged.dropna(subset=[metric])
            rows.append(_row(endpoint, "spearman_percent_positive", metric, "lesion",
                             st.spearman(m[metric].to_numpy(float), m["percent_positive"].to_numpy(float)),
                             n_subjects=m["subject_id"].nunique(), n_lesions=len(m)))
    if data.inter_lesion is not None:
        per_patient = data.ihc.groupby(["subject_id", "timepoint"])["percent_positive"].mean().reset_index()
        merged = per_patient.merge(data.inter_lesion, on=["subject_id", "timepoint"], how="inner")
        for metric in ("suv_max_cov", "suv_max_max_min_ratio"):
            m = merged.dropna(subset=[metric])
            rows.append(_row(endpoint, "spearman_percent_positive", metric, "patient",
                             st.spearman(m[metric].to_numpy(float), m["percent_positive"].to_numpy(float)),
                             n_subjects=len(m)))
    return rows


_RUNNERS = {"suv_vs_ihc": suv_vs_ihc, "suv_vs_response": suv_vs_response, "treatment_change": treatment_change,
            "route": route, "diagnostic": diagnostic, "survival": survival, "heterogeneity": heterogeneity}


def run_analyses(data: CohortData, analyses: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Run the enabled analyses and adjust p-values (Benjamini-Hochberg) within each endpoint.

    Parameters
    ----------
    data : CohortData
        Tables.
    analyses : mapping
        The validated ``analyses:`` config section (one entry per analysis with ``enabled``).

    Returns
    -------
    pandas.DataFrame
        :data:`STATS_COLUMNS`, rows in analysis order.
    """
    rows: list[dict[str, Any]] = []
    for name in ANALYSES:
        cfg = analyses.get(name, {})
        if cfg.get("enabled", True):
            rows.extend(_RUNNERS[name](data, cfg))
    table = pd.DataFrame(rows, columns=STATS_COLUMNS)
    for _, index in table.groupby("endpoint", sort=False).groups.items():
        table.loc[index, "p_adjusted"] = st.benjamini_hochberg(table.loc[index, "p_value"].to_numpy(float))
    return table
