"""The ``stats`` stage: cohort tables + clinical tables in; ``stats.csv``, ``biodistribution.csv``,
``stats.json`` (settings, warnings) and the figures (PNG and SVG) out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..config import config_hash, load_config
from ..io import write_csv
from ..outputs import write_provenance
from ..policy import Policy
from . import figures
from . import statistics as st
from .analyses import CohortData, _hottest, biodistribution_table, load_cohort, run_analyses

__all__ = ["run_stats", "make_figures", "TABLES", "CLINICAL_TABLES"]

#: The cohort tables an analysis may use, in the order of ``stats.json``'s inputs.
TABLES = ("uptake", "deltas", "bor", "heterogeneity", "inter_lesion", "ihc", "histology", "outcomes")
#: Clinical tables whose default path is the configuration's ``clinical`` section.
CLINICAL_TABLES = ("ihc", "histology", "outcomes")


def _annotation(result: st.StatResult, symbol: str) -> str:
    if not np.isfinite(result.estimate):
        return f"n = {result.n}: not enough data"
    return (f"{symbol} = {result.estimate:.3f} [{result.ci_low:.3f}, {result.ci_high:.3f}], "
            f"p = {result.p_value:.3g}, n = {result.n}")


def make_figures(data: CohortData, analyses: Mapping[str, Mapping[str, Any]], folder: Path) -> list[Path]:
    """Write the cohort figures into ``folder``; returns the files written."""
    written: list[Path] = []
    folder.mkdir(parents=True, exist_ok=True)
    ihc_cfg = analyses.get("suv_vs_ihc", {})
    variable = ihc_cfg.get("variable", "suv_max")
    if data.ihc is not None:
        tumours = data.uptake[data.uptake["kind"] == "tumour"][["subject_id", "timepoint", "lesion_id", variable]]
        merged = data.ihc.merge(tumours, on=["subject_id", "timepoint", "lesion_id"]).dropna(subset=[variable])
        rho = st.spearman(merged[variable].to_numpy(float), merged["percent_positive"].to_numpy(float))
        written += figures.scatter_suv_vs_percent(merged, x="percent_positive", y=variable,
                                                  stem=folder / "suv_vs_percent_positive",
                                                  title="Uptake of biopsied lesions vs IHC",
                                                  annotation=_annotation(rho, "Spearman ρ"))
        merged["intensity"] = merged["intensity"].astype(str)
        order = [c for c in ("0", "1+", "2+", "3+") if c in set(merged["intensity"])]
        jt = st.jonckheere_terpstra([merged.loc[merged["intensity"] == c, variable].to_numpy(float) for c in order])
        written += figures.box_by_category(merged, category="intensity", value=variable, order=order,
                                           stem=folder / "suv_by_ihc_intensity",
                                           annotation=f"Jonckheere-Terpstra p = {jt.p_value:.3g}")
    if data.deltas is not None:
        resp_cfg = analyses.get("suv_vs_response", {})
        d = data.deltas[(data.deltas["level"] == "patient") & (data.deltas["metric"] == "hottest_lesion_sul_peak")]
        d = d.drop_duplicates("subject_id").copy()
        if data.bor is not None:
            d = d.merge(data.bor[["subject_id", resp_cfg.get("response_column", "bor")]], on="subject_id", how="left")
            d["response"] = d[resp_cfg.get("response_column", "bor")].fillna("NE")
        else:
            d["response"] = "NE"
        d["label"] = d["subject_id"]
        written += figures.waterfall(d, folder / "waterfall_sulpeak", value="pct_change", colour="response",
                                     label="label", title="Hottest-lesion SULpeak change, coloured by best response")
    diag_cfg = analyses.get("diagnostic", {})
    if data.histology is not None:
        var = diag_cfg.get("variable", "suv_max")
        lesions = data.uptake[(data.uptake["kind"] == "tumour")
                              & (data.uptake["timepoint"] == diag_cfg.get("timepoint", "baseline"))]
        merged = data.histology.merge(lesions[["subject_id", "lesion_id", var]], on=["subject_id", "lesion_id"])
        merged = merged.dropna(subset=[var])
        y, s = merged["malignant"].astype(int).to_numpy(), merged[var].to_numpy(float)
        if len(set(y)) == 2:
            from sklearn.metrics import roc_curve

            fpr, tpr, _ = roc_curve(y, s)
            auc = st.roc_auc_delong(y, s)
            written += figures.roc_curves([(f"lesions ({var})", fpr, tpr, auc.estimate, (auc.ci_low, auc.ci_high))],
                                          stem=folder / "roc_histology")
    surv_cfg = analyses.get("survival", {})
    if data.outcomes is not None:
        var = surv_cfg.get("variable", "suv_max")
        hottest = _hottest(data, var, surv_cfg.get("baseline", "baseline")).set_index("subject_id")[var]
        for outcome in surv_cfg.get("outcomes", ["os"]):
            t, e = f"{outcome}_months", f"{outcome}_event"
            df = data.outcomes.set_index("subject_id")[[t, e]].join(hottest, how="inner").dropna()
            if df.empty:
                continue
            cut = float(df[var].median())
            high = df[var] > cut
            lr, _, _ = st.kaplan_meier_logrank(df[t].to_numpy(float), df[e].to_numpy(int), high.to_numpy(int))
            groups = {f"{var} > {cut:.3g}": (df.loc[high, t].to_numpy(float), df.loc[high, e].to_numpy(int)),
                      f"{var} <= {cut:.3g}": (df.loc[~high, t].to_numpy(float), df.loc[~high, e].to_numpy(int))}
            written += figures.kaplan_meier(groups, stem=folder / f"kaplan_meier_{outcome}",
                                            annotation=f"log-rank p = {lr.p_value:.3g}")
    written += figures.biodistribution(data.uptake[data.uptake["kind"].isin(["organ", "reference"])],
                                       organ="organ", value="suv_mean", group="timepoint",
                                       stem=folder / "biodistribution")
    return [Path(p) for p in written]


def run_stats(config: Mapping[str, Any] | Path, output: Path, tables: Mapping[str, str | Path | None],
              figures_dir: Path | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Run every configured analysis and write the results, the biodistribution table and the figures.

    Parameters
    ----------
    config : mapping or Path
        The configuration (a YAML file is read and validated); its ``analyses`` section drives the analyses
        and its ``clinical`` section gives the clinical tables not in ``tables``.
    output : Path
        ``stats.csv``; ``biodistribution.csv`` and ``stats.json`` go beside it.
    tables : mapping
        Table paths by name (:data:`TABLES`); None: not given (clinical tables: the configuration's).
    figures_dir : Path, optional
        Folder of the figures (default: ``figures/`` beside ``output``).
    policy : Policy, optional
        Recorded in ``stats.json``.
    """
    if not isinstance(config, Mapping):
        config = load_config(config)
    paths = {name: tables.get(name) for name in TABLES}
    for name in CLINICAL_TABLES:
        if paths[name] is None:
            paths[name] = config["clinical"][name]
    data = load_cohort(paths)
    analyses = config["analyses"]
    table = run_analyses(data, analyses)
    write_csv(output, table)
    write_csv(Path(output).with_name("biodistribution.csv"), biodistribution_table(data))
    files = make_figures(data, analyses, figures_dir or Path(output).with_name("figures"))
    write_provenance(output, {
        "petvoi_version": __version__, "config_hash": config_hash(config), "analyses": analyses,
        "inputs": {k: str(v) for k, v in paths.items() if v}, "warnings": data.warnings,
        "figures": sorted(p.name for p in files), "n_rows": len(table), "policy": (policy or Policy()).record(),
    })
    return table
