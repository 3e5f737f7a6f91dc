"""Virtual trials with known effects, to check that the trial endpoints estimate what they claim.

A virtual trial has the structure of the petvoi trials: 2-6 malignant lesions and 0-2 benign foci per patient
(all VOIs of kind ``tumour``), log uptake with a patient random effect (intraclass correlation ``icc`` of the
lesions of a patient), an IV baseline scan, an IV on-treatment scan (effect ``treatment_ratio`` with patient-
and lesion-level heterogeneity), an IA scan at the baseline visit (effect ``route_ratio``), an IV retest scan,
IHC intensity 0-3+ on up to two biopsied lesions per patient (uptake ratio ``ihc_ratio`` per step), histology
of every VOI and overall survival from a Cox model in the hottest baseline lesion (``hazard_ratio`` per unit
SUVmax). :func:`simulate_trial` returns the tables the endpoints read (:class:`~.endpoints.CohortData`);
:func:`true_values` the value each validated row estimates; :func:`validate` runs many trials through
:func:`~.endpoints.run_analyses` (the endpoints as users run them, not the bare methods) and reports per row
the relative bias, the 95 % CI coverage and the fraction of failed fits.

Truths are analytic (ratios, the Cox HR, sensitivity/specificity and AUC of the normal mixtures, the
within-subject CV) except the ICC of log SUVmax over the benign/malignant mixture, taken from a 200 000-lesion
population of the same model.
Ratios are compared on the log scale (relative bias = exp(mean log estimate) / truth - 1); other estimates
as mean estimate / truth - 1. A fit fails when its estimate, or a CI the row should have, is not finite.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .endpoints import CohortData, run_analyses

__all__ = ["TrialDesign", "simulate_trial", "analyses_for", "true_values", "validate", "summarise"]

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class TrialDesign:
    """Parameters of a virtual trial (log = natural log of SUV).

    Attributes
    ----------
    n_patients : int
        Patients per trial.
    lesions : tuple of int
        Fewest and most malignant lesions per patient (uniform).
    benign : tuple of int
        Fewest and most benign foci per patient (uniform).
    icc : float
        Share of the between-lesion variance of log uptake that is between patients (0-1).
    sd_log : float
        Total SD of log baseline uptake of a lesion (patient + lesion parts).
    malignant_suv, benign_suv : float
        Geometric-mean baseline SUVmax of malignant lesions (at IHC step 1.5) and of benign foci.
    treatment_ratio : float
        True geometric-mean ratio on-treatment/baseline of every VOI.
    treatment_sd : tuple of float
        SD of the log on/baseline ratio between patients and between lesions of a patient.
    route_ratio : float
        True geometric-mean ratio IA/IV.
    route_sd : tuple of float
        SD of the log IA/IV ratio between patients and between lesions.
    retest_sd : float
        SD of the log retest/test difference per VOI (measurement repeatability).
    ihc_ratio : float
        Uptake ratio per IHC intensity step (0, 1+, 2+, 3+ equally likely).
    threshold : float
        SUVmax threshold of the diagnostic endpoint.
    hazard_ratio : float
        OS hazard ratio per unit of the hottest baseline SUVmax.
    median_os : float
        Median OS (months) at the median predictor, exponential baseline hazard.
    follow_up : tuple of float
        Administrative censoring uniform between these (months).
    """

    n_patients: int = 30
    lesions: tuple[int, int] = (2, 6)
    benign: tuple[int, int] = (0, 2)
    icc: float = 0.5
    sd_log: float = 0.4
    malignant_suv: float = 6.0
    benign_suv: float = 2.0
    treatment_ratio: float = 0.78
    treatment_sd: tuple[float, float] = (0.15, 0.10)
    route_ratio: float = 1.6
    route_sd: tuple[float, float] = (0.10, 0.08)
    retest_sd: float = 0.10
    ihc_ratio: float = 1.25
    threshold: float = 3.0
    hazard_ratio: float = 1.15
    median_os: float = 14.0
    follow_up: tuple[float, float] = (18.0, 48.0)


def simulate_trial(design: TrialDesign, seed: int) -> CohortData:
    """One virtual trial: the uptake, IHC, histology and outcomes tables.

    Parameters
    ----------
    design : TrialDesign
        Effects and structure.
    seed : int
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same trial.

    Returns
    -------
    CohortData
        ``uptake`` (timepoints ``baseline`` IV, ``on_treatment`` IV, ``baseline_ia`` IA, ``retest`` IV), ``ihc``,
        ``histology`` and ``outcomes`` (``os_months``, ``os_event``).
    """
    rng = np.random.default_rng(seed)
    d = design
    sd_patient, sd_lesion = math.sqrt(d.icc) * d.sd_log, math.sqrt(1 - d.icc) * d.sd_log
    uptake, ihc, histology, outcomes = [], [], [], []
    for p in range(d.n_patients):
        subject = f"S{p + 1:03d}"
        b = rng.normal(0, sd_patient)
        treat_p, route_p = rng.normal(0, d.treatment_sd[0]), rng.normal(0, d.route_sd[0])
        n_mal = int(rng.integers(d.lesions[0], d.lesions[1] + 1))
        n_ben = int(rng.integers(d.benign[0], d.benign[1] + 1))
        hottest = 0.0
        biopsied = 0
        for j in range(n_mal + n_ben):
            malignant = j < n_mal
            lesion = f"lesion_{j + 1:02d}"
            step = int(rng.integers(0, 4)) if malignant else 0
            mu = (math.log(d.malignant_suv) + math.log(d.ihc_ratio) * (step - 1.5) if malignant
                  else math.log(d.benign_suv))
            log_base = mu + b + rng.normal(0, sd_lesion)
            scans = {("baseline", "iv"): log_base,
                     ("on_treatment", "iv"): log_base + math.log(d.treatment_ratio) + treat_p
                     + rng.normal(0, d.treatment_sd[1]),
                     ("baseline_ia", "ia"): log_base + math.log(d.route_ratio) + route_p + rng.normal(0, d.route_sd[1]),
                     ("retest", "iv"): log_base + rng.normal(0, d.retest_sd)}
            for (timepoint, route), value in scans.items():
                uptake.append({"subject_id": subject, "timepoint": timepoint, "route": route, "kind": "tumour",
                               "name": lesion, "lesion_id": lesion, "organ": "liver", "suv_max": math.exp(value),
                               "suv_mean": 0.6 * math.exp(value)})
            hottest = max(hottest, math.exp(log_base))
            histology.append({"subject_id": subject, "lesion_id": lesion, "malignant": int(malignant),
                              "method": "biopsy"})
            if malignant and biopsied < 2:
                biopsied += 1
                ihc.append({"subject_id": subject, "timepoint": "baseline", "lesion_id": lesion, "marker": "CD8",
                            "percent_positive": float(np.clip(20 * step + rng.normal(10, 8), 0, 100)),
                            "intensity": ("0", "1+", "2+", "3+")[step], "pattern": "membranous"})
        outcomes.append({"subject_id": subject, "hottest": hottest})
    out = pd.DataFrame(outcomes)
    beta = math.log(d.hazard_ratio)
    rate0 = math.log(2) / d.median_os * math.exp(-beta * float(out["hottest"].median()))
    event_time = rng.exponential(1.0 / (rate0 * np.exp(beta * out["hottest"].to_numpy())))
    censor = rng.uniform(*d.follow_up, size=len(out))
    out["os_months"] = np.minimum(event_time, censor)
    out["os_event"] = (event_time <= censor).astype(int)
    return CohortData(uptake=pd.DataFrame(uptake), ihc=pd.DataFrame(ihc), histology=pd.DataFrame(histology),
                      outcomes=out.drop(columns="hottest"))


def analyses_for(design: TrialDesign) -> dict[str, Any]:
    """The ``analyses`` configuration the virtual trials are analysed with (the validated endpoints only)."""
    return {"suv_vs_response": {"enabled": False}, "heterogeneity": {"enabled": False},
            "biodistribution": {"enabled": False},
            "treatment_change": {"tumour_variable": "suv_max"},
            "route": {"variables": ["suv_max"], "iv_timepoint": "baseline"},
            "suv_vs_ihc": {"variable": "suv_max"},
            "diagnostic": {"variable": "suv_max", "threshold": design.threshold, "n_boot": 100},
            "survival": {"variable": "suv_max", "outcomes": ["os"]},
            "agreement": {"enabled": True, "variables": ["suv_max"], "first": {"timepoint": "baseline"},
                          "second": {"timepoint": "retest"}}}


def _mixture_auc(delta: Iterable[float], sd: float) -> float:
    return float(np.mean([stats.norm.cdf(x / (sd * math.sqrt(2))) for x in delta]))


def _icc_population(design: TrialDesign, n: int = 200_000, seed: int = 12345) -> float:
    """ICC(2,1) of baseline vs retest log SUVmax in a large population of the model's VOIs."""
    rng = np.random.default_rng(seed)
    d = design
    share_malignant = np.mean(d.lesions) / (np.mean(d.lesions) + np.mean(d.benign))
    malignant = rng.random(n) < share_malignant
    step = rng.integers(0, 4, n)
    mu = np.where(malignant, math.log(d.malignant_suv) + math.log(d.ihc_ratio) * (step - 1.5), math.log(d.benign_suv))
    base = mu + rng.normal(0, d.sd_log, n)
    x, y = base, base + rng.normal(0, d.retest_sd, n)
    return float(np.cov(x, y)[0, 1] / (0.5 * (x.var(ddof=1) + y.var(ddof=1))))


def true_values(design: TrialDesign) -> dict[Key, float]:
    """The value each validated row of ``stats.csv`` estimates, keyed by (endpoint, analysis, variable, level)."""
    d = design
    sd_lesion = math.sqrt(1 - d.icc) * d.sd_log
    shifts = [math.log(d.ihc_ratio) * (k - 1.5) for k in range(4)]
    log_thr = math.log(d.threshold)
    sensitivity = float(np.mean([stats.norm.sf((log_thr - math.log(d.malignant_suv) - s) / d.sd_log)
                                 for s in shifts]))
    specificity = float(stats.norm.cdf((log_thr - math.log(d.benign_suv)) / d.sd_log))
    delta = [math.log(d.malignant_suv / d.benign_suv) + s for s in shifts]
    w = 1.0 / d.n_patients  # expected share of malignant-benign pairs within a patient (Obuchowski's all pairs)
    auc = (1 - w) * _mixture_auc(delta, d.sd_log) + w * _mixture_auc(delta, sd_lesion)
    return {
        ("treatment_change", "paired_log_ratio", "suv_max", "tumour:lesions"): d.treatment_ratio,
        ("treatment_change", "nested_visit_ratio", "suv_max", "tumour:lesions"): d.treatment_ratio,
        ("route", "geometric_mean_ratio", "suv_max", "lesion"): d.route_ratio,
        ("suv_vs_ihc", "mixed_trend_intensity", "suv_max", "marker=CD8"): d.ihc_ratio,
        ("diagnostic", "sensitivity", "suv_max", "lesion"): sensitivity,
        ("diagnostic", "specificity", "suv_max", "lesion"): specificity,
        ("diagnostic", "roc_auc", "suv_max", "lesion"): auc,
        ("survival", "cox_hr_continuous", "suv_max", "outcome=os"): d.hazard_ratio,
        ("agreement", "icc_2_1", "suv_max", "lesion"): _icc_population(d),
        ("agreement", "bland_altman_bias", "suv_max", "lesion"): 1.0,
        # within-subject SD of one measurement = SD of the test-retest difference / sqrt(2)
        ("agreement", "repeatability_wcv_pct", "suv_max", "lesion"): 100 * math.sqrt(math.exp(d.retest_sd**2 / 2) - 1),
    }


#: Rows whose estimate is a ratio (bias on the log scale) and rows with no CI by design.
RATIO_ANALYSES = {"paired_log_ratio", "nested_visit_ratio", "geometric_mean_ratio", "mixed_trend_intensity",
                  "cox_hr_continuous", "bland_altman_bias"}
NO_CI = {"repeatability_wcv_pct"}


def _replicates(design: TrialDesign, seeds: Iterable[int]) -> Iterator[pd.DataFrame]:
    analyses = analyses_for(design)
    truth = true_values(design)
    for seed in seeds:
        table = run_analyses(simulate_trial(design, seed), analyses)
        keys = list(zip(table["endpoint"], table["analysis"], table["variable"], table["level"], strict=True))
        keep = [k in truth for k in keys]
        rows = table[keep][["endpoint", "analysis", "variable", "level", "estimate", "ci_low", "ci_high",
                            "method"]].copy()
        rows["seed"] = seed
        yield rows


def validate(design: TrialDesign, seeds: Iterable[int]) -> pd.DataFrame:
    """Run a virtual trial per seed through the endpoints; one row per (trial, validated stats row)."""
    return pd.concat(list(_replicates(design, seeds)), ignore_index=True)


def summarise(replicates: pd.DataFrame, design: TrialDesign) -> pd.DataFrame:
    """Per validated row: truth, relative bias, 95 % CI coverage, failed-fit fraction and fallback methods.

    Returns
    -------
    DataFrame
        ``endpoint``, ``analysis``, ``variable``, ``level``, ``truth``, ``n_trials``, ``mean_estimate``,
        ``relative_bias``, ``coverage`` (NaN for rows without a CI), ``failed`` (fraction), ``methods``
        (each distinct ``method`` with its count: fallbacks show here).
    """
    truth = true_values(design)
    out = []
    for key, group in replicates.groupby(["endpoint", "analysis", "variable", "level"], sort=False):
        k = tuple(str(v) for v in key)
        t = truth[(k[0], k[1], k[2], k[3])]
        est = group["estimate"].to_numpy(float)
        low, high = group["ci_low"].to_numpy(float), group["ci_high"].to_numpy(float)
        has_ci = k[1] not in NO_CI
        ok = np.isfinite(est) & ((np.isfinite(low) & np.isfinite(high)) if has_ci else True)
        good = est[ok]
        if k[1] in RATIO_ANALYSES:
            mean = float(np.exp(np.mean(np.log(good)))) if good.size else math.nan
        else:
            mean = float(np.mean(good)) if good.size else math.nan
        coverage = float(np.mean((low[ok] <= t) & (t <= high[ok]))) if has_ci and ok.any() else math.nan
        methods = group["method"].astype(str).value_counts()
        out.append({"endpoint": k[0], "analysis": k[1], "variable": k[2], "level": k[3], "truth": t,
                    "n_trials": int(len(group)), "mean_estimate": mean, "relative_bias": mean / t - 1,
                    "coverage": coverage, "failed": float(1 - ok.mean()),
                    "methods": "; ".join(f"{m} ({c})" for m, c in methods.items())})
    return pd.DataFrame(out)


def design_dict(design: TrialDesign) -> dict[str, Any]:
    """The design as a plain dict (for provenance of a validation run)."""
    return asdict(design)
