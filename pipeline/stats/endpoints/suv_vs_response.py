"""Baseline hottest-lesion SUV and its change, responders vs non-responders. Estimands (patients with a best
overall response; unit: patient): the Hodges-Lehmann shift of the baseline hottest-lesion uptake (and of the
patient's mean per-lesion % change) between responders and non-responders with the Mann-Whitney test, and the
ROC AUC of the uptake for response with the DeLong CI; the Youden cut-off is exploratory.
Figure: waterfall of the hottest-lesion SULpeak change by best response."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import figures
from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]


def _responders(data: CohortData, cfg: Mapping[str, Any]) -> pd.Series | None:
    if data.bor is None:
        return None
    positive = set(cfg["responders"])
    return data.bor.set_index("subject_id")[cfg["response_column"]].astype(str).isin(positive)


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    variable, endpoint = cfg["variable"], "suv_vs_response"
    data.check_variable(variable, endpoint)
    responders = _responders(data, cfg)
    if responders is None:
        return [row(endpoint, "mann_whitney", variable, "patient", None, n_subjects=0,
                    notes="no response table given")]
    baseline = data.hottest(variable, cfg["baseline"]).set_index("subject_id")[variable]
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
        what = (f"baseline hottest-lesion {variable}" if name == "baseline"
                else f"mean per-lesion % change of {variable}")
        population = f"patients with a {cfg['response_column']}; unit: patient; {what}"
        rows.append(row(endpoint, "mann_whitney", f"{variable}:{name}", "patient",
                        st.mann_whitney(x[r], x[~r]), n_subjects=n,
                        estimand=f"{population}; shift responders vs non-responders (Hodges-Lehmann)",
                        notes=f"{int(r.sum())} responders ({', '.join(sorted(set(cfg['responders'])))})"))
        auc = st.roc_auc_delong(r.astype(int), x)
        cut = st.youden(r.astype(int), x) if n >= 2 and 0 < r.sum() < n else None
        rows.append(row(endpoint, "roc_auc", f"{variable}:{name}", "patient", auc, n_subjects=n,
                        estimand=f"{population}; ROC AUC for response",
                        notes="" if cut is None else (f"Youden cut-off >= {cut['cutoff']:.4g} (sens "
                                                      f"{cut['sensitivity']:.3f}, spec {cut['specificity']:.3f})")))
    return rows


def _figures(data: CohortData, cfg: Mapping[str, Any], folder: Path) -> list[Path]:
    if data.deltas is None:
        return []
    column = cfg["response_column"]
    d = data.deltas[(data.deltas["level"] == "patient") & (data.deltas["metric"] == "hottest_lesion_sul_peak")]
    d = d.drop_duplicates("subject_id").copy()
    if data.bor is not None:
        d = d.merge(data.bor[["subject_id", column]], on="subject_id", how="left")
        d["response"] = d[column].fillna("NE")
    else:
        d["response"] = "NE"
    d["label"] = d["subject_id"]
    return list(figures.waterfall(d, folder / "waterfall_sulpeak", value="pct_change", colour="response",
                                  label="label", title="Hottest-lesion SULpeak change, coloured by best response"))


ENDPOINT = Endpoint(
    name="suv_vs_response", order=20,
    description="Baseline SUV and its change, responders vs non-responders (Mann-Whitney, ROC AUC with DeLong CI, "
                "Youden cut-off).",
    settings={"variable": {"type": "string", "default": "suv_max"},
              "baseline": {"type": "string", "default": "baseline"},
              "response_column": {"type": "string", "enum": ["bor", "ibor"], "default": "bor"},
              "responders": {"type": "array", "items": {"type": "string"}, "default": ["CR", "PR", "iCR", "iPR"]}},
    rows=_rows, figures=_figures)
