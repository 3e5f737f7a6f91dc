"""Inference for lesions nested in patients: paired log ratios, repeated visits, clustered AUC and
proportions, and trend tests across ordinal scores that respect the patient as the unit of replication.

Every interval here treats the patient, not the lesion, as the independent unit:

* :func:`paired_log_ratio` — geometric-mean ratio of paired per-lesion log ratios (IA/IV, on/baseline)
  with a patient random intercept (statsmodels MixedLM, REML) and a t(I - 1) interval; when the mixed
  model fails, a GEE with exchangeable working correlation over patient clusters and the bias-reduced
  (Mancl-DeRouen) sandwich SE, t(I - 1); with a lesion measured more than once, a lesion-within-patient
  variance component. The method actually used is in ``method``, never a silent NaN.
* :func:`clustered_auc` — Obuchowski (1997) nonparametric AUC of clustered data, logit CI.
* :func:`clustered_proportion` — a lesion-level proportion (sensitivity, PPV...) with the Rao-Scott
  design-effect-adjusted Wilson interval.
* :func:`mixed_trend` and :func:`cluster_permutation_jt` — trend of uptake across an ordinal score (IHC
  0/1+/2+/3+): a mixed model of log uptake on the score, and Jonckheere-Terpstra with the score labels
  permuted across patients.

With fewer than :data:`MIN_CLUSTERS` patients a cluster method is not attempted: the row says so and
gives the unadjusted (lesions-as-independent) result, marked as such in ``method``. Known answers:
``../shared/reference/clustered_statistics.md`` sections 1, 3, 4 and 5, asserted in
``tests/unit/test_clustered.py``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import InvalidInputError
from ...progress import track
from .accuracy import proportion_ci
from .core import NAN, StatResult, _as_float_array, _check_alpha, _check_same_length, _dropped_note, _join, _nan_result
from .ranks import _jt_count

__all__ = ["MIN_CLUSTERS", "paired_log_ratio", "nested_visit_ratio", "clustered_auc", "clustered_proportion",
           "mixed_trend", "cluster_permutation_jt"]

#: Fewest patients for which a cluster method is attempted.
MIN_CLUSTERS = 5


def _fit(formula: str, df: pd.DataFrame, groups: str, vc: dict[str, str] | None = None,
         re_formula: str = "1") -> tuple[Any, str]:
    """A REML fit with patient random effects ``re_formula``, or (None, why) when it fails or does not converge."""
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = smf.mixedlm(formula, df, groups=df[groups], re_formula=re_formula, vc_formula=vc).fit(reml=True)
    except (np.linalg.LinAlgError, ValueError) as exc:
        return None, f"mixed model failed: {str(exc).splitlines()[0]}"
    messages = sorted({str(w.message).splitlines()[0] for w in caught
                       if issubclass(w.category, (ConvergenceWarning, RuntimeWarning, UserWarning))})
    if not getattr(res, "converged", True) or not np.isfinite(np.asarray(res.bse_fe, dtype=float)).all():
        return None, _join("mixed model did not converge", *messages)
    return res, "; ".join(f"warning: {m}" for m in messages)


def _t_result(estimate: float, se: float, df: int, n: int, method: str, notes: str, alpha: float,
              exp: bool = True) -> StatResult:
    """Estimate with a t(df) CI and two-sided p (H0: 0 on the log scale), back-transformed when ``exp``."""
    tq = float(stats.t.ppf(1 - alpha / 2, df))
    t = estimate / se if se > 0 else NAN
    p = float(2 * stats.t.sf(abs(t), df)) if se > 0 else NAN
    low, high = estimate - tq * se, estimate + tq * se
    f = math.exp if exp else float
    return StatResult(f(estimate), f(low), f(high), p, n, method, t, notes)


def _gee(formula: str, df: pd.DataFrame, term: str) -> tuple[float, float] | None:
    """Coefficient ``term`` and its bias-reduced (Mancl-DeRouen) SE by GEE, exchangeable working correlation,
    ``patient`` clusters; None when the fit fails."""
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = smf.gee(formula, "patient", df, cov_struct=sm.cov_struct.Exchangeable()).fit(
                cov_type="bias_reduced")
    except (np.linalg.LinAlgError, ValueError):
        return None
    if term not in res.params.index:
        return None
    beta, se = float(res.params[term]), float(res.bse[term])
    return (beta, se) if math.isfinite(beta) and math.isfinite(se) and se > 0 else None


def _gee_intercept(df: pd.DataFrame) -> tuple[float, float] | None:
    """Intercept and bias-reduced SE of ``y ~ 1`` by GEE, exchangeable working correlation, patient clusters."""
    return _gee("y ~ 1", df, "Intercept")


GEE_LABEL = "GEE exchangeable (patient clusters), bias-reduced sandwich SE"


def paired_log_ratio(log_ratios: Any, patients: Any, *, lesions: Any = None, alpha: float = 0.05,
                     min_clusters: int = MIN_CLUSTERS) -> StatResult:
    """Geometric-mean ratio of paired log ratios, lesions nested in patients.

    Model ``log_ratio = b0 + u_patient [+ v_lesion] + e`` (REML); GMR = exp(b0) with
    exp(b0 +/- t(I - 1) SE) and the t(I - 1) p-value (H0: ratio 1), I = number of patients. A lesion
    variance component is added when a lesion contributes several ratios (more than two visits).

    Parameters
    ----------
    log_ratios : array-like
        log(Y_A / Y_B) per lesion (and per pair of visits); NaN dropped.
    patients : array-like
        Patient of each ratio.
    lesions : array-like, optional
        Lesion of each ratio (unique across patients); needed only when lesions repeat.
    alpha : float
        1 - confidence level.
    min_clusters : int
        Fewer patients than this: the unadjusted t interval over the ratios, marked as such.

    Returns
    -------
    StatResult
        ``estimate`` = GMR; ``method`` names the model actually used (mixed model, or the GEE fallback with
        the reason, or the unadjusted/one-lesion-per-patient forms); ``notes`` gives the counts and the
        variance components (ICC of the log ratio).
    """
    alpha = _check_alpha(alpha)
    y = _as_float_array(log_ratios, "log_ratios")
    g = np.asarray(patients, dtype=object)
    _check_same_length(log_ratios=y, patients=g)
    les = np.asarray(lesions, dtype=object) if lesions is not None else np.arange(y.size).astype(object)
    keep = np.isfinite(y) & ~pd.isna(g)
    dropped = _dropped_note(int((~keep).sum()))
    df = pd.DataFrame({"y": y[keep], "patient": g[keep].astype(str), "lesion": [str(x) for x in les[keep]]})
    n, n_pat = int(len(df)), int(df["patient"].nunique())
    counts = f"{n_pat} patients, {n} paired observations"
    if n < 2:
        return _nan_result(n, "geometric-mean ratio of paired log ratios", _join(counts, "too few pairs", dropped))
    if n_pat < min_clusters:
        mean, se = float(df["y"].mean()), float(df["y"].std(ddof=1) / math.sqrt(n))
        return _t_result(mean, se, n - 1, n, "geometric-mean ratio, t interval over lesions UNADJUSTED for "
                         "clustering", _join(counts, f"fewer than {min_clusters} patients: no cluster method",
                                             dropped), alpha)
    if int(df.groupby("patient").size().max()) < 2:
        mean, se = float(df["y"].mean()), float(df["y"].std(ddof=1) / math.sqrt(n))
        return _t_result(mean, se, n - 1, n, "geometric-mean ratio, one-sample t on log ratios (one lesion per "
                         "patient)", _join(counts, dropped), alpha)
    repeated = bool(df.duplicated("lesion").any())
    vc = {"lesion": "0 + C(lesion)"} if repeated else None
    res, note = _fit("y ~ 1", df, "patient", vc)
    if res is not None:
        var_pat, var_res = float(np.asarray(res.cov_re)[0, 0]), float(res.scale)
        icc = var_pat / (var_pat + var_res) if var_pat + var_res > 0 else NAN
        components = f"patient variance {var_pat:.4g}, residual variance {var_res:.4g}, ICC {icc:.3f}"
        if repeated:
            components += f", lesion variance {float(np.asarray(res.vcomp)[0]):.4g}"
        method = ("geometric-mean ratio, linear mixed model log ratio ~ 1 + (1|patient)"
                  + (" + (1|lesion:patient)" if repeated else "") + ", REML, t(I-1) CI")
        return _t_result(float(res.fe_params["Intercept"]), float(res.bse_fe["Intercept"]), n_pat - 1, n, method,
                         _join(counts, components, note, dropped), alpha)
    gee = _gee_intercept(df)
    if gee is None:
        means = df.groupby("patient")["y"].mean()
        return _t_result(float(means.mean()), float(means.std(ddof=1) / math.sqrt(n_pat)), n_pat - 1, n,
                         "geometric-mean ratio, one-sample t on per-patient mean log ratios (mixed model and GEE "
                         "failed)", _join(counts, note, dropped), alpha)
    return _t_result(gee[0], gee[1], n_pat - 1, n, f"geometric-mean ratio, {GEE_LABEL}, t(I-1) CI (fallback: "
                     "mixed model failed)",
                     _join(counts, note, dropped), alpha)


def nested_visit_ratio(df: pd.DataFrame, *, value: str, visit: str, reference: str, target: str,
                       patient: str = "subject_id", lesion: str = "lesion", alpha: float = 0.05,
                       min_clusters: int = MIN_CLUSTERS) -> StatResult:
    """Ratio ``target``/``reference`` visit of a positive value measured on each lesion at several visits.

    Model ``log value ~ C(visit) + (1 + [visit = target]|patient) + (1|lesion:patient)`` (REML): a patient
    random intercept and a patient random slope of the target visit, so that patients may differ in their
    change (as they do under treatment); the ratio is exp(coefficient of ``target``) with a t(I - p) CI, p
    the number of fixed effects.

    Raises
    ------
    InvalidInputError
        A missing column, or ``reference``/``target`` not among the visits.
    """
    alpha = _check_alpha(alpha)
    for column in (value, visit, patient, lesion):
        if column not in df.columns:
            raise InvalidInputError(f"column {column!r} not in the table", attribute=column)
    d = df[[value, visit, patient, lesion]].dropna()
    d = d[d[value] > 0]
    visits = set(d[visit].astype(str))
    if not {reference, target} <= visits:
        raise InvalidInputError(f"visits {sorted(visits)} lack {reference!r} or {target!r}", attribute=visit)
    data = pd.DataFrame({"y": np.log(d[value].astype(float)), "visit": d[visit].astype(str),
                         "patient": d[patient].astype(str),
                         "lesion": d[patient].astype(str) + ":" + d[lesion].astype(str)})
    n, n_pat = int(len(data)), int(data["patient"].nunique())
    counts = f"{n_pat} patients, {data['lesion'].nunique()} lesions, {n} observations, {len(visits)} visits"
    method = (f"ratio {target}/{reference}, linear mixed model log value ~ visit + (1 + {target}|patient) + "
              "(1|lesion:patient), REML, t(I-p) CI")
    if n_pat < min_clusters:
        return _nan_result(n, method, _join(counts, f"fewer than {min_clusters} patients"))
    formula = f"y ~ C(visit, Treatment(reference={reference!r}))"
    data["target"] = (data["visit"] == target).astype(float)
    term = f"C(visit, Treatment(reference={reference!r}))[T.{target}]"
    df_t = max(n_pat - len(visits), 1)
    notes = []
    for re_formula, label in (("1 + target", method),
                              ("1", method.replace(f"(1 + {target}|patient)", "(1|patient)")
                               + " (fallback: the random change did not converge)")):
        res, note = _fit(formula, data, "patient", {"lesion": "0 + C(lesion)"}, re_formula=re_formula)
        notes.append(note)
        if res is not None and term in res.fe_params.index:
            cov = np.asarray(res.cov_re)
            change = f", patient variance of the change {float(cov[1, 1]):.4g}" if cov.shape[0] > 1 else ""
            components = (f"patient variance {float(cov[0, 0]):.4g}{change}, lesion variance "
                          f"{float(np.asarray(res.vcomp)[0]):.4g}, residual variance {float(res.scale):.4g}")
            return _t_result(float(res.fe_params[term]), float(res.bse_fe[term]), df_t, n, label,
                             _join(counts, components, *notes[1:]), alpha)
    gee = _gee(formula, data, term)
    if gee is None:
        return _nan_result(n, method, _join(counts, *notes, "GEE failed too"))
    return _t_result(gee[0], gee[1], df_t, n, f"ratio {target}/{reference}, {GEE_LABEL}, t(I-p) CI (fallback: mixed "
                     "models did not converge)", _join(counts, notes[-1]), alpha)


def _obuchowski(pos: list[np.ndarray], neg: list[np.ndarray]) -> tuple[float, float, dict[str, int]]:
    """Obuchowski's clustered AUC and its variance from per-cluster positive and negative scores."""
    all_pos, all_neg = np.concatenate(pos), np.concatenate(neg)
    m, n, i = all_pos.size, all_neg.size, len(pos)

    def psi(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = x[:, None] - y[None, :]
        return (d > 0) + 0.5 * (d == 0)

    theta = float(psi(all_pos, all_neg).mean())
    v10 = np.array([psi(p, all_neg).mean(axis=1).sum() if p.size else 0.0 for p in pos])
    v01 = np.array([psi(all_pos, q).mean(axis=0).sum() if q.size else 0.0 for q in neg])
    mi = np.array([p.size for p in pos], dtype=float)
    ni = np.array([q.size for q in neg], dtype=float)
    i10, i01 = int((mi > 0).sum()), int((ni > 0).sum())
    s10 = i10 / ((i10 - 1) * m) * float(((v10 - mi * theta) ** 2).sum()) if i10 > 1 else NAN
    s01 = i01 / ((i01 - 1) * n) * float(((v01 - ni * theta) ** 2).sum()) if i01 > 1 else NAN
    s11 = i / (i - 1) * float(((v10 - mi * theta) * (v01 - ni * theta)).sum())
    var = s10 / m + s01 / n + 2 * s11 / (m * n)
    return theta, var, {"I": i, "I10": i10, "I01": i01, "M": m, "N": n}


def clustered_auc(y_true: Any, score: Any, clusters: Any, *, alpha: float = 0.05,
                  min_clusters: int = MIN_CLUSTERS) -> StatResult:
    """ROC AUC of lesions nested in patients (Obuchowski 1997) with a logit-transformed CI.

    With one lesion per patient the variance equals DeLong's. Higher scores indicate positives.

    Returns
    -------
    StatResult
        ``estimate`` = AUC, logit CI from the Obuchowski SE, two-sided p vs 0.5; ``notes`` give I, I10,
        I01, M, N and the SE. Fewer than ``min_clusters`` patients: DeLong on lesions, unadjusted.
    """
    from .roc import roc_auc_delong

    alpha = _check_alpha(alpha)
    yt, sc = _as_float_array(y_true, "y_true"), _as_float_array(score, "score")
    cl = np.asarray(clusters, dtype=object)
    _check_same_length(y_true=yt, score=sc, clusters=cl)
    keep = np.isfinite(yt) & np.isfinite(sc) & ~pd.isna(cl)
    yt, sc, cl = yt[keep], sc[keep], cl[keep].astype(str)
    if not set(np.unique(yt)) <= {0.0, 1.0}:
        raise InvalidInputError("y_true must be 0/1", attribute="y_true")
    n_pat = len(set(cl))
    if n_pat < min_clusters:
        res = roc_auc_delong(yt, sc, alpha=alpha)
        return StatResult(res.estimate, res.ci_low, res.ci_high, res.p_value, res.n,
                          "ROC AUC, DeLong on lesions UNADJUSTED for clustering, logit CI", res.statistic,
                          _join(res.notes, f"{n_pat} patients: fewer than {min_clusters}, no cluster method"))
    label = "ROC AUC, Obuchowski clustered (patient) variance, logit CI"
    ids = sorted(set(cl))
    pos = [sc[(cl == c) & (yt == 1)] for c in ids]
    neg = [sc[(cl == c) & (yt == 0)] for c in ids]
    if not any(p.size for p in pos) or not any(q.size for q in neg):
        return _nan_result(int(sc.size), label, "one class only: AUC undefined")
    theta, var, k = _obuchowski(pos, neg)
    counts = f"I={k['I']} patients (I10={k['I10']}, I01={k['I01']}), M={k['M']} positive, N={k['N']} negative lesions"
    if not (math.isfinite(var) and var > 0) or theta in (0.0, 1.0):
        return StatResult(theta, NAN, NAN, NAN, int(sc.size), label,
                          notes=_join(counts, "variance not estimable or AUC at the boundary"))
    se = math.sqrt(var)
    zq = float(stats.norm.ppf(1 - alpha / 2))
    logit, half = math.log(theta / (1 - theta)), zq * se / (theta * (1 - theta))
    z = (theta - 0.5) / se
    return StatResult(theta, 1 / (1 + math.exp(-(logit - half))), 1 / (1 + math.exp(-(logit + half))),
                      float(2 * stats.norm.sf(abs(z))), int(sc.size), label, z, _join(counts, f"SE={se:.6g}"))


def clustered_proportion(successes: Any, clusters: Any, *, alpha: float = 0.05,
                         min_clusters: int = MIN_CLUSTERS) -> StatResult:
    """A proportion over lesions nested in patients, with the Rao-Scott adjusted Wilson interval.

    p = sum(y) / sum(m) (ratio estimator), Var_cl = I/(I-1) sum_i (y_i - p m_i)^2 / (sum m)^2,
    design effect deff = Var_cl / (p (1 - p) / sum m); the Wilson interval of (sum y / deff, sum m / deff).

    Parameters
    ----------
    successes : array-like of 0/1
        One entry per lesion (e.g. 1 = detected, among reference-positive lesions).
    clusters : array-like
        Patient of each lesion.

    Returns
    -------
    StatResult
        ``estimate`` = p; the design effect is in ``notes``; ``p_value`` NaN. Fewer than ``min_clusters``
        patients: the plain Wilson interval, marked unadjusted.
    """
    alpha = _check_alpha(alpha)
    y = _as_float_array(successes, "successes")
    cl = np.asarray(clusters, dtype=object)
    _check_same_length(successes=y, clusters=cl)
    keep = np.isfinite(y) & ~pd.isna(cl)
    y, cl = y[keep], cl[keep].astype(str)
    n = int(y.size)
    if n == 0:
        return _nan_result(0, "proportion, Rao-Scott clustered Wilson CI", "no lesions")
    k = float(y.sum())
    p = k / n
    ids, inverse = np.unique(cl, return_inverse=True)
    i = ids.size
    if i < min_clusters:
        low, high = proportion_ci(int(k), n, method="wilson", alpha=alpha)
        return StatResult(p, low, high, NAN, n, "proportion, Wilson CI UNADJUSTED for clustering",
                          notes=f"{i} patients: fewer than {min_clusters}, no cluster method")
    yi = np.bincount(inverse, weights=y, minlength=i)
    mi = np.bincount(inverse, minlength=i).astype(float)
    var_cl = i / (i - 1) * float(((yi - p * mi) ** 2).sum()) / n**2
    var_bin = p * (1 - p) / n
    deff = var_cl / var_bin if var_bin > 0 else 1.0
    deff = max(deff, 1e-12)
    zq = float(stats.norm.ppf(1 - alpha / 2))
    n_eff, x_eff = n / deff, k / deff
    centre = (x_eff + zq**2 / 2) / (n_eff + zq**2)
    half = zq * math.sqrt(x_eff * (n_eff - x_eff) / n_eff + zq**2 / 4) / (n_eff + zq**2)
    return StatResult(p, max(0.0, centre - half), min(1.0, centre + half), NAN, n,
                      "proportion, Rao-Scott design-effect-adjusted Wilson CI (patient clusters)",
                      notes=f"{int(k)}/{n} lesions in {i} patients, design effect {deff:.3f}")


def mixed_trend(log_values: Any, score: Any, clusters: Any, *, alpha: float = 0.05,
                min_clusters: int = MIN_CLUSTERS) -> StatResult:
    """Trend of log uptake across an ordinal score with a patient random intercept.

    ``log value ~ score + (1|patient)`` (REML); ``estimate`` = exp(slope), the uptake ratio per score step,
    with a t(I - 2) CI and p.
    """
    alpha = _check_alpha(alpha)
    y, x = _as_float_array(log_values, "log_values"), _as_float_array(score, "score")
    cl = np.asarray(clusters, dtype=object)
    _check_same_length(log_values=y, score=x, clusters=cl)
    keep = np.isfinite(y) & np.isfinite(x) & ~pd.isna(cl)
    df = pd.DataFrame({"y": y[keep], "x": x[keep], "patient": cl[keep].astype(str)})
    n, n_pat = int(len(df)), int(df["patient"].nunique())
    method = "uptake ratio per score step, linear mixed model log uptake ~ score + (1|patient), REML, t(I-2) CI"
    counts = f"{n_pat} patients, {n} lesions"
    if n_pat < max(min_clusters, 3) or df["x"].nunique() < 2:
        return _nan_result(n, method, _join(counts, f"fewer than {min_clusters} patients or one score level"))
    res, note = _fit("y ~ x", df, "patient")
    if res is None:
        gee = _gee("y ~ x", df, "x")
        if gee is None:
            return _nan_result(n, method, _join(counts, note, "GEE failed too"))
        return _t_result(gee[0], gee[1], n_pat - 2, n, f"uptake ratio per score step, {GEE_LABEL}, t(I-2) CI "
                         "(fallback: mixed model did not converge)", _join(counts, note), alpha)
    return _t_result(float(res.fe_params["x"]), float(res.bse_fe["x"]), n_pat - 2, n, method,
                     _join(counts, note), alpha)


#: Label assignments enumerated exactly up to this many; above it, a seeded Monte Carlo permutation.
EXACT_PERMUTATIONS = 100_000


def _distinct_permutations(counts: Counter[str]) -> list[tuple[str, ...]]:
    """Every distinct ordering of a multiset given by its counts (n! / prod(c!) of them)."""
    out: list[tuple[str, ...]] = []
    keys = sorted(counts)
    left = dict(counts)
    total = sum(left.values())
    current: list[str] = []

    def extend() -> None:
        if len(current) == total:
            out.append(tuple(current))
            return
        for key in keys:
            if left[key]:
                left[key] -= 1
                current.append(key)
                extend()
                current.pop()
                left[key] += 1

    extend()
    return out


def cluster_permutation_jt(values: Any, labels: Any, clusters: Any, order: list[Any], *,
                           n_permutations: int = 20_000, seed: int = 0,
                           min_clusters: int = MIN_CLUSTERS) -> StatResult:
    """Jonckheere-Terpstra trend over ordered labels with the labels permuted across patients.

    Valid when the label is a patient-level attribute (one biopsy per patient): J is computed on all
    lesions, then the patients' labels are permuted (each patient's lesions keep one label) and J
    recomputed; one-sided p = P(J_perm >= J_obs) for an increasing trend. Exact over every distinct
    assignment up to :data:`EXACT_PERMUTATIONS`, else Monte Carlo with ``n_permutations`` draws.

    Returns
    -------
    StatResult
        ``statistic`` = J, ``p_value`` one-sided, ``estimate`` = J / J_max (the proportion of concordant
        ordered pairs), no CI. A label that varies within a patient gives NaN with the reason.
    """
    v = _as_float_array(values, "values")
    lab = np.asarray(labels, dtype=object)
    cl = np.asarray(clusters, dtype=object)
    _check_same_length(values=v, labels=lab, clusters=cl)
    keep = np.isfinite(v) & ~pd.isna(cl) & np.isin(lab.astype(str), [str(o) for o in order])
    v, lab, cl = v[keep], lab[keep].astype(str), cl[keep].astype(str)
    method = "Jonckheere-Terpstra, labels permuted across patients (cluster permutation), one-sided p"
    per_patient = pd.DataFrame({"label": lab, "patient": cl}).drop_duplicates()
    if per_patient["patient"].duplicated().any():
        return _nan_result(int(v.size), method, "the label varies within a patient: cluster permutation not valid")
    patients = sorted(set(cl))
    if len(patients) < min_clusters:
        return _nan_result(int(v.size), method, f"{len(patients)} patients: fewer than {min_clusters}")
    rank = {str(o): i for i, o in enumerate(order)}
    own = dict(zip(per_patient["patient"], per_patient["label"], strict=True))
    values_of = {p: v[cl == p] for p in patients}

    def j_of(assign: dict[str, str]) -> float:
        groups: list[list[np.ndarray]] = [[] for _ in order]
        for p in patients:
            groups[rank[assign[p]]].append(values_of[p])
        return _jt_count([np.concatenate(g) if g else np.empty(0) for g in groups])

    j_obs = j_of(own)
    sizes = [sum(values_of[p].size for p in patients if own[p] == str(o)) for o in order]
    j_max = (sum(sizes) ** 2 - sum(s * s for s in sizes)) / 2.0
    counts = Counter(own.values())
    n_assign = math.factorial(len(patients))
    for c in counts.values():
        n_assign //= math.factorial(c)
    if n_assign <= EXACT_PERMUTATIONS:
        js = np.array([j_of(dict(zip(patients, perm, strict=True))) for perm in _distinct_permutations(counts)])
        kind = f"exact over {js.size} assignments"
        p = float((js >= j_obs - 1e-9).sum()) / js.size
    else:
        rng = np.random.default_rng(seed)
        pool_arr = np.array([own[p] for p in patients], dtype=object)
        js = np.array([j_of(dict(zip(patients, rng.permutation(pool_arr), strict=True)))
                       for _ in track(range(n_permutations), "permutations", unit="permutations")])
        kind = f"Monte Carlo, {n_permutations} permutations, seed {seed}"
        p = (float((js >= j_obs - 1e-9).sum()) + 1.0) / (n_permutations + 1.0)
    return StatResult(j_obs / j_max if j_max > 0 else NAN, NAN, NAN, p, int(v.size), f"{method}, {kind}", j_obs,
                      f"{len(patients)} patients, {v.size} lesions, J={j_obs:g} of {j_max:g}")
