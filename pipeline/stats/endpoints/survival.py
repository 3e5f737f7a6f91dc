"""Survival by baseline uptake. Estimands (patients with baseline uptake and follow-up; unit: patient): the
Kaplan-Meier median OS/PFS with its CI overall and per uptake group (cut-off: the median or a number); the
hazard ratio high vs low uptake group and per unit of uptake (Cox, Efron ties) with the proportional-hazards
check (Grambsch-Therneau test on scaled Schoenfeld residuals); optionally the uptake HR adjusted for
covariates of the outcomes table (multivariable Cox), and a landmark analysis of responders vs non-responders
(patients event-free at the landmark, response by the landmark from the outcomes column ``response_months``).
Figures: Kaplan-Meier curves per outcome."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import figures
from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]

POPULATION = "patients with baseline uptake and {outcome} follow-up; unit: patient"


def _outcome(data: CohortData, cfg: Mapping[str, Any], outcome: str) -> pd.DataFrame:
    """Per subject: the outcome's time and event, the baseline hottest-lesion ``variable`` and covariates."""
    assert data.outcomes is not None
    variable = cfg["variable"]
    hottest = data.hottest(variable, cfg["baseline"]).set_index("subject_id")[variable]
    extra = [c for c in (*cfg["covariates"], "response_months") if c in data.outcomes.columns]
    table = data.outcomes.set_index("subject_id")[[f"{outcome}_months", f"{outcome}_event", *extra]]
    return table.join(hottest, how="inner").dropna(subset=[f"{outcome}_months", f"{outcome}_event", variable])


def _km_rows(df: pd.DataFrame, t: str, e: str, high: pd.Series, level: str, cut_note: str, population: str
             ) -> list[dict[str, Any]]:
    rows = []
    for name, mask in (("all", pd.Series(True, index=df.index)), ("high", high), ("low", ~high)):
        part = df[mask]
        rows.append(row("survival", "km_median", t, f"{level}:group={name}",
                        st.km_median(part[t].to_numpy(float), part[e].to_numpy(int)), n_subjects=len(part),
                        estimand=f"{population}; {'all patients' if name == 'all' else name + ' group'}; "
                                 "median survival time (months)",
                        notes="" if name == "all" else cut_note))
    return rows


def _cox_rows(df: pd.DataFrame, t: str, e: str, cfg: Mapping[str, Any], level: str, population: str
              ) -> list[dict[str, Any]]:
    variable = cfg["variable"]
    frame = df.rename(columns={t: "time", e: "event"})
    rows = []
    fits, ph = st.cox_multivariable(frame, duration="time", event="event", covariates=[variable])
    rows.append(row("survival", "cox_hr_continuous", variable, level, fits[variable], n_subjects=len(df),
                    estimand=f"{population}; hazard ratio per unit of baseline {variable}",
                    notes=f"HR per unit of {variable}"))
    ph_p = ph.get(variable, float("nan"))
    rows.append(row("survival", "ph_test", variable, level,
                    st.StatResult(float("nan"), float("nan"), float("nan"), ph_p, len(df),
                                  "Grambsch-Therneau test on scaled Schoenfeld residuals (rank time), lifelines"),
                    n_subjects=len(df), estimand=f"{population}; proportional hazards of {variable} (H0: PH holds)",
                    notes="p < 0.05: hazards not proportional, interpret the HR as an average"))
    covariates = [c for c in cfg["covariates"] if c in frame.columns]
    missing = sorted(set(cfg["covariates"]) - set(covariates))
    if cfg["covariates"]:
        fits, ph = st.cox_multivariable(frame, duration="time", event="event", covariates=[variable, *covariates])
        rows.append(row("survival", "cox_hr_adjusted", variable, level, fits[variable],
                        n_subjects=int(frame[["time", "event", variable, *covariates]].dropna().shape[0]),
                        estimand=f"{population}; hazard ratio per unit of baseline {variable} adjusted for "
                                 f"{', '.join(covariates) or 'nothing'}",
                        notes="; ".join(n for n in (
                            f"PH global: {', '.join(f'{k} p={v:.3g}' for k, v in ph.items())}" if ph else "",
                            f"covariates not in the outcomes table (left out): {', '.join(missing)}" if missing
                            else "") if n)))
    return rows


def _landmark_rows(df: pd.DataFrame, t: str, e: str, data: CohortData, cfg: Mapping[str, Any], level: str
                   ) -> list[dict[str, Any]]:
    landmark = float(cfg["landmark_months"])
    estimand = (f"patients event-free at {landmark:g} months; unit: patient; hazard ratio responders vs "
                f"non-responders by the landmark, time from the landmark")
    if "response_months" not in df.columns:
        return [row("survival", "landmark_hr", t, level, None, n_subjects=0, estimand=estimand,
                    notes="landmark analysis needs the outcomes column response_months (time to first objective "
                          "response, empty if none)")]
    at_risk = df[df[t] > landmark].copy()
    responder = (at_risk["response_months"] <= landmark).fillna(False).astype(int)
    res = st.cox_hr((at_risk[t] - landmark).to_numpy(float), at_risk[e].to_numpy(int), responder.to_numpy())
    lr, _, _ = st.kaplan_meier_logrank((at_risk[t] - landmark).to_numpy(float), at_risk[e].to_numpy(int),
                                       responder.to_numpy())
    return [row("survival", "landmark_hr", t, level, res, n_subjects=len(at_risk), estimand=estimand,
                notes=f"landmark {landmark:g} months: {int(responder.sum())} responders, "
                      f"{int(len(responder) - responder.sum())} non-responders; "
                      f"{len(df) - len(at_risk)} patients with the event or censored before it left out; "
                      f"log-rank p = {lr.p_value:.3g}")]


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    variable, endpoint = cfg["variable"], "survival"
    data.check_variable(variable, endpoint)
    if data.outcomes is None:
        return [row(endpoint, "logrank", variable, "patient", None, n_subjects=0, notes="no outcomes table")]
    rows = []
    for outcome in cfg["outcomes"]:
        t, e = f"{outcome}_months", f"{outcome}_event"
        df = _outcome(data, cfg, outcome)
        population = POPULATION.format(outcome=outcome.upper())
        cutoff = float(df[variable].median()) if cfg["cutoff"] == "median" else float(cfg["cutoff"])
        high = df[variable] > cutoff
        level = f"outcome={outcome}"
        note = f"groups: {variable} > {cutoff:.4g} ({'median' if cfg['cutoff'] == 'median' else 'configured'})"
        rows += _km_rows(df, t, e, high, level, note, population)
        lr, _, _ = st.kaplan_meier_logrank(df[t].to_numpy(float), df[e].to_numpy(int), high.astype(int).to_numpy())
        rows.append(row(endpoint, "logrank", variable, level, lr, n_subjects=len(df), notes=note,
                        estimand=f"{population}; survival distributions of the high and low {variable} groups"))
        rows.append(row(endpoint, "cox_hr_group", variable, level,
                        st.cox_hr(df[t].to_numpy(float), df[e].to_numpy(int), high.astype(int).to_numpy()),
                        n_subjects=len(df), notes=f"{note}; HR high vs low",
                        estimand=f"{population}; hazard ratio high vs low {variable} group"))
        rows += _cox_rows(df, t, e, cfg, level, population)
        if cfg["landmark_months"] is not None:
            rows += _landmark_rows(df, t, e, data, cfg, level)
    return rows


def _figures(data: CohortData, cfg: Mapping[str, Any], folder: Path) -> list[Path]:
    if data.outcomes is None:
        return []
    variable = cfg["variable"]
    written: list[Path] = []
    for outcome in cfg["outcomes"]:
        t, e = f"{outcome}_months", f"{outcome}_event"
        df = _outcome(data, cfg, outcome)
        if df.empty:
            continue
        cut = float(df[variable].median()) if cfg["cutoff"] == "median" else float(cfg["cutoff"])
        high = df[variable] > cut
        lr, _, _ = st.kaplan_meier_logrank(df[t].to_numpy(float), df[e].to_numpy(int), high.to_numpy(int))
        groups = {f"{variable} > {cut:.3g}": (df.loc[high, t].to_numpy(float), df.loc[high, e].to_numpy(int)),
                  f"{variable} <= {cut:.3g}": (df.loc[~high, t].to_numpy(float), df.loc[~high, e].to_numpy(int))}
        written += figures.kaplan_meier(groups, stem=folder / f"kaplan_meier_{outcome}",
                                        annotation=f"log-rank p = {lr.p_value:.3g}")
    return written


ENDPOINT = Endpoint(
    name="survival", order=60,
    description="Kaplan-Meier medians with CI by SUV group, log-rank, Cox hazard ratios with the proportional-hazards "
                "test, covariate-adjusted Cox, landmark analysis of responders.",
    settings={"variable": {"type": "string", "default": "suv_max"},
              "baseline": {"type": "string", "default": "baseline"},
              "cutoff": {"description": "median, or a fixed value of the variable.", "default": "median",
                         "oneOf": [{"type": "string", "enum": ["median"]}, {"type": "number"}]},
              "outcomes": {"type": "array", "items": {"type": "string", "enum": ["os", "pfs"]},
                           "default": ["os", "pfs"]},
              "covariates": {"type": "array", "items": {"type": "string"}, "default": [],
                             "description": "Numeric (or 0/1) columns of the outcomes table adjusted for in a "
                                            "multivariable Cox model of the uptake variable."},
              "landmark_months": {"type": ["number", "null"], "default": None, "exclusiveMinimum": 0,
                                  "description": "Landmark for responders vs non-responders (needs the outcomes "
                                                 "column response_months); null: no landmark analysis."}},
    rows=_rows, figures=_figures)
