"""Models for nested data: linear mixed models with a patient random intercept, geometric-mean ratios."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import InvalidInputError
from .core import NAN, StatResult, _as_float_array, _check_alpha, _check_same_length, _dropped_note, _join, _nan_result

__all__ = ["mixed_model", "geometric_mean_ratio"]


def _fit_mixedlm(df: pd.DataFrame, formula: str, groups: str) -> tuple[Any, str]:
    """Fit a random-intercept model; return (result or None, note)."""
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    notes = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = smf.mixedlm(formula, df, groups=df[groups])
            res = model.fit(reml=True)
    except (np.linalg.LinAlgError, ValueError) as exc:
        return None, f"mixed model could not be fitted: {str(exc).splitlines()[0]}"
    messages = sorted({str(w.message).splitlines()[0] for w in caught
                       if issubclass(w.category, (ConvergenceWarning, RuntimeWarning, UserWarning))})
    if not getattr(res, "converged", True):
        return None, _join("mixed model did not converge", *messages)
    if messages:
        notes.append("warnings: " + " | ".join(messages))
    return res, _join(*notes)


def mixed_model(df: pd.DataFrame, formula: str, groups: str, term: str, *, alpha: float = 0.05) -> StatResult:
    """Linear mixed model with a random intercept per patient (statsmodels ``mixedlm``, REML).

    Parameters
    ----------
    df : pandas.DataFrame
        Long table, one row per observation (e.g. lesion x visit). Rows with NaN in used columns are
        dropped by the formula machinery.
    formula : str
        Fixed effects, e.g. ``"log_suv ~ C(visit)"``.
    groups : str
        Column with the patient id (random intercept).
    term : str
        Name of the fixed-effect parameter to report, as statsmodels names it
        (e.g. ``"C(visit)[T.on]"``).
    alpha : float
        1 - confidence level.

    Returns
    -------
    StatResult
        ``estimate`` = coefficient of ``term``, Wald CI, Wald p, ``statistic`` = z; notes give the
        number of patients and the random-intercept variance. Non-convergence or a singular fit gives NaN
        with a note. An unknown ``term`` or ``groups`` column raises InvalidInputError.
    """
    alpha = _check_alpha(alpha)
    if groups not in df.columns:
        raise InvalidInputError(f"column {groups!r} not in the table", attribute="groups")
    label = "linear mixed model (random intercept per patient, REML), Wald CI"
    n_groups = int(df[groups].nunique())
    if n_groups < 2 or len(df) < 3:
        return _nan_result(len(df), label, f"too few patients/observations ({n_groups} patients, {len(df)} rows)")
    res, note = _fit_mixedlm(df, formula, groups)
    if res is None:
        return _nan_result(len(df), label, _join(note, f"{n_groups} patients"))
    if term not in res.fe_params.index:
        raise InvalidInputError(f"term {term!r} not among the fixed effects {list(res.fe_params.index)}",
                                attribute="term")
    ci = res.conf_int(alpha=alpha).loc[term]
    n = int(res.nobs)
    var_re = float(np.asarray(res.cov_re)[0, 0])
    notes = _join(f"{int(len(res.model.group_labels))} patients, {n} observations, "
                  f"random-intercept variance={var_re:.4g}, residual variance={float(res.scale):.4g}", note)
    return StatResult(float(res.fe_params[term]), float(ci.iloc[0]), float(ci.iloc[1]), float(res.pvalues[term]), n,
                      label, float(res.tvalues[term]), notes)


def geometric_mean_ratio(log_ratios: Any, groups: Any, *, alpha: float = 0.05) -> StatResult:
    """Geometric-mean ratio from per-lesion log ratios with a patient random intercept.

    Fits ``log_ratio ~ 1 + (1 | patient)`` (statsmodels ``mixedlm``, REML) and returns exp(intercept)
    with exp(Wald CI). Falls back, with a note, to a one-sample t test on the per-patient mean log
    ratios when the mixed model cannot be used: fewer than 3 patients, no patient with >= 2 lesions
    (the random intercept is then not identifiable) or a fit that fails or does not converge.

    Parameters
    ----------
    log_ratios : array-like
        Natural log of the ratio per observation, e.g. log(SUV_IA / SUV_IV) per lesion (NaN dropped).
    groups : array-like
        Patient id of each observation.
    alpha : float
        1 - confidence level.

    Returns
    -------
    StatResult
        ``estimate`` = geometric-mean ratio, CI, p (H0: ratio = 1), ``statistic`` = z or t.
    """
    alpha = _check_alpha(alpha)
    y = _as_float_array(log_ratios, "log_ratios")
    g = np.asarray(groups, dtype=object)
    _check_same_length(log_ratios=y, groups=g)
    keep = np.isfinite(y) & ~pd.isna(g)
    dropped = _dropped_note(int((~keep).sum()))
    df = pd.DataFrame({"y": y[keep], "patient": g[keep]})
    n = int(len(df))
    per_patient = df.groupby("patient", sort=True)["y"].agg(["mean", "size"])
    n_pat = int(len(per_patient))
    reason = ""
    if n_pat < 3:
        reason = f"only {n_pat} patient(s)"
    elif int(per_patient["size"].max()) < 2:
        reason = "one observation per patient"
    else:
        res, note = _fit_mixedlm(df, "y ~ 1", "patient")
        if res is not None:
            coef = float(res.fe_params["Intercept"])
            ci = res.conf_int(alpha=alpha).loc["Intercept"]
            return StatResult(math.exp(coef), math.exp(float(ci.iloc[0])), math.exp(float(ci.iloc[1])),
                              float(res.pvalues["Intercept"]), n,
                              "geometric-mean ratio, mixed model log ratio ~ 1 + (1|patient), Wald CI",
                              float(res.tvalues["Intercept"]),
                              _join(f"{n_pat} patients, {n} observations", note, dropped))
        reason = note
    label = "geometric-mean ratio, one-sample t test on per-patient mean log ratios"
    means = per_patient["mean"].to_numpy()
    base = _join(f"fallback: {reason}" if reason else "", f"{n_pat} patients, {n} observations", dropped)
    if means.size < 2:
        return _nan_result(n, label, _join(base, "need >= 2 patients for a t interval"))
    m, se = float(means.mean()), float(means.std(ddof=1) / math.sqrt(means.size))
    if se == 0:
        return StatResult(math.exp(m), NAN, NAN, NAN, n, label, notes=_join(base, "no between-patient variation"))
    tq = stats.t.ppf(1 - alpha / 2, means.size - 1)
    t = m / se
    p = float(2 * stats.t.sf(abs(t), means.size - 1))
    return StatResult(math.exp(m), math.exp(m - tq * se), math.exp(m + tq * se), p, n, label, t, base)
