"""ROC analysis: AUC with the DeLong variance, the Youden cut-off and its bootstrap interval."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
from scipy import stats

from ...errors import InvalidInputError
from ...progress import track
from .core import (
    NAN,
    StatResult,
    _as_float_array,
    _binary,
    _check_alpha,
    _check_same_length,
    _cluster_resamples,
    _dropped_note,
    _join,
    _nan_result,
    _percentile_ci,
)

__all__ = ["roc_auc_delong", "youden", "bootstrap_cutoff_ci", "paired_delong"]


def _roc_inputs(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray, str]:
    yt = _binary(y_true, "y_true")
    sc = _as_float_array(score, "score")
    _check_same_length(y_true=yt, score=sc)
    keep = np.isfinite(sc)
    return yt[keep], sc[keep], _dropped_note(int((~keep).sum()))


def roc_auc_delong(y_true: Any, score: Any, *, alpha: float = 0.05) -> StatResult:
    """ROC AUC with the DeLong standard error and a logit-transformed confidence interval.

    DeLong et al. 1988: with psi(x, y) = 1 if x > y, 1/2 if equal, 0 otherwise, V10_i = mean_j
    psi(pos_i, neg_j), V01_j = mean_i psi(pos_i, neg_j), AUC = mean(V10) and
    Var(AUC) = s^2(V10) / n_pos + s^2(V01) / n_neg (ddof = 1). The CI is
    expit(logit(AUC) +/- z SE / (AUC (1 - AUC))), which stays inside [0, 1].

    Parameters
    ----------
    y_true : array-like of 0/1
        1 = positive (e.g. responder); higher scores are assumed to indicate positives.
    score : array-like
        Continuous score (NaN dropped).
    alpha : float
        1 - confidence level.

    Returns
    -------
    StatResult
        ``estimate`` = AUC; ``statistic`` = z = (AUC - 0.5) / SE_DeLong; ``p_value`` two-sided vs 0.5;
        the SE is in ``notes``. One class only (or < 2 of a class for the SE) gives NaN with a note;
        AUC of 0 or 1 (SE 0) gives NaN CI and p with a note.
    """
    alpha = _check_alpha(alpha)
    yt, sc, dropped = _roc_inputs(y_true, score)
    pos, neg = sc[yt == 1], sc[yt == 0]
    n = int(sc.size)
    label = "ROC AUC, DeLong SE, logit CI"
    if pos.size == 0 or neg.size == 0:
        return _nan_result(n, label, _join(f"one class only (n_pos={pos.size}, n_neg={neg.size}): AUC undefined",
                                           dropped))
    diff = pos[:, None] - neg[None, :]
    psi = (diff > 0) + 0.5 * (diff == 0)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    auc = float(psi.mean())
    counts = f"n_pos={pos.size}, n_neg={neg.size}"
    if pos.size < 2 or neg.size < 2:
        return StatResult(auc, NAN, NAN, NAN, n, label,
                          notes=_join(counts, "need >= 2 per class for the DeLong SE", dropped))
    se = math.sqrt(float(v10.var(ddof=1)) / pos.size + float(v01.var(ddof=1)) / neg.size)
    if se == 0 or auc in (0.0, 1.0):
        return StatResult(auc, NAN, NAN, NAN, n, label,
                          notes=_join(counts, f"DeLong SE={se:.6g}; AUC at the boundary: logit CI undefined", dropped))
    zq = stats.norm.ppf(1 - alpha / 2)
    logit = math.log(auc / (1 - auc))
    half = zq * se / (auc * (1 - auc))
    low, high = 1 / (1 + math.exp(-(logit - half))), 1 / (1 + math.exp(-(logit + half)))
    z = (auc - 0.5) / se
    p = float(2 * stats.norm.sf(abs(z)))
    return StatResult(auc, low, high, p, n, label, z, _join(counts, f"DeLong SE={se:.6g}", dropped))


def youden(y_true: Any, score: Any) -> dict[str, float]:
    """Youden-optimal cut-off: maximise J = sensitivity + specificity - 1.

    Convention: predict positive when ``score >= cutoff``; candidate cut-offs are the observed scores;
    among equal J the largest cut-off (most specific) wins. The cut-off is data-driven and optimistic
    (Altman 1994): report it as exploratory (see :func:`bootstrap_cutoff_ci`).

    Parameters
    ----------
    y_true : array-like of 0/1
    score : array-like

    Returns
    -------
    dict
        ``cutoff``, ``sensitivity``, ``specificity``, ``j`` (all NaN when only one class is present).
    """
    yt, sc, _ = _roc_inputs(y_true, score)
    n_pos, n_neg = int((yt == 1).sum()), int((yt == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return {"cutoff": NAN, "sensitivity": NAN, "specificity": NAN, "j": NAN}
    cuts = np.unique(sc)[::-1]  # descending, so argmax picks the largest cut-off on ties
    predicted = sc[None, :] >= cuts[:, None]
    sens = (predicted & (yt == 1)[None, :]).sum(axis=1) / n_pos
    spec = (~predicted & (yt == 0)[None, :]).sum(axis=1) / n_neg
    j = sens + spec - 1.0
    best = int(np.argmax(np.round(j, 12)))
    return {"cutoff": float(cuts[best]), "sensitivity": float(sens[best]), "specificity": float(spec[best]),
            "j": float(j[best])}


def bootstrap_cutoff_ci(
    y_true: Any,
    score: Any,
    *,
    clusters: Any = None,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
) -> StatResult:
    """Percentile bootstrap CI of the Youden cut-off (optionally resampling patients).

    Parameters
    ----------
    y_true, score : array-like
        As for :func:`youden`.
    clusters : array-like, optional
        Patient ids: resample patients with replacement (cluster bootstrap) instead of observations.
    n_boot, seed : int
        Resamples and seed (reproducible).
    alpha : float
        1 - confidence level.

    Returns
    -------
    StatResult
        ``estimate`` = Youden cut-off on the full data, percentile CI of the resampled cut-offs,
        ``statistic`` = J on the full data; resamples with one class only are skipped (count in notes).
    """
    alpha = _check_alpha(alpha)
    yt = _binary(y_true, "y_true")
    sc = _as_float_array(score, "score")
    ca = None if clusters is None else np.asarray(clusters)
    _check_same_length(y_true=yt, score=sc, clusters=ca)
    keep = np.isfinite(sc)
    yt, sc = yt[keep], sc[keep]
    ca = None if ca is None else ca[keep]
    n = int(sc.size)
    kind = "cluster bootstrap (patients resampled)" if ca is not None else "bootstrap"
    label = f"Youden cut-off (score >= cutoff), {kind} percentile CI, seed {seed}"
    full = youden(yt, sc)
    if not np.isfinite(full["cutoff"]):
        return _nan_result(n, label, "one class only: cut-off undefined")
    resamples: Iterator[np.ndarray]
    if ca is None:
        rng = np.random.default_rng(seed)
        resamples = (rng.integers(0, n, size=n) for _ in track(range(n_boot), "bootstrap", unit="resamples"))
    else:
        resamples = _cluster_resamples(ca, n_boot, seed)
    cuts = np.array([youden(yt[idx], sc[idx])["cutoff"] for idx in resamples])
    valid = int(np.isfinite(cuts).sum())
    low, high = _percentile_ci(cuts, alpha)
    notes = f"{valid}/{n_boot} valid resamples; exploratory (data-driven cut-off)"
    if ca is not None:
        notes = f"{np.unique(ca).size} patients, {n} observations; " + notes
    return StatResult(full["cutoff"], low, high, NAN, n, label, full["j"], notes)


def paired_delong(y_true: Any, score_a: Any, score_b: Any, *, alpha: float = 0.05) -> StatResult:
    """Difference of two correlated AUCs on the same cases (DeLong et al. 1988), e.g. two readers or tracers.

    With V10 and V01 per marker, S = cov(V10)/m + cov(V01)/n (ddof 1, 2 x 2), Var(A - B) = S_aa + S_bb - 2 S_ab.
    One case per patient (or patient-level scores); for lesions nested in patients compare with a patient
    bootstrap instead.

    Returns
    -------
    StatResult
        ``estimate`` = AUC_a - AUC_b with a Wald CI, two-sided p, ``statistic`` = z; both AUCs in ``notes``.
    """
    alpha = _check_alpha(alpha)
    y = _as_float_array(y_true, "y_true")
    a, b = _as_float_array(score_a, "score_a"), _as_float_array(score_b, "score_b")
    if not (y.size == a.size == b.size):
        raise InvalidInputError("y_true, score_a and score_b differ in length", attribute="score_b")
    keep = np.isfinite(y) & np.isfinite(a) & np.isfinite(b)
    y, a, b = y[keep], a[keep], b[keep]
    label = "difference of paired AUCs, DeLong covariance, Wald CI"
    pos, neg = y == 1, y == 0
    if pos.sum() < 2 or neg.sum() < 2:
        return _nan_result(int(y.size), label, "need >= 2 positives and >= 2 negatives")
    v10, v01, aucs = [], [], []
    for s in (a, b):
        d = s[pos][:, None] - s[neg][None, :]
        psi = (d > 0) + 0.5 * (d == 0)
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
        aucs.append(float(psi.mean()))
    cov = np.cov(np.vstack(v10)) / pos.sum() + np.cov(np.vstack(v01)) / neg.sum()
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    diff = aucs[0] - aucs[1]
    notes = f"AUC_a={aucs[0]:.5g}, AUC_b={aucs[1]:.5g}, n_pos={int(pos.sum())}, n_neg={int(neg.sum())}"
    if not var > 0:
        return StatResult(diff, NAN, NAN, NAN, int(y.size), label, notes=_join(notes, "zero variance"))
    se = math.sqrt(var)
    zq = float(stats.norm.ppf(1 - alpha / 2))
    z = diff / se
    return StatResult(diff, diff - zq * se, diff + zq * se, float(2 * stats.norm.sf(abs(z))), int(y.size), label, z,
                      _join(notes, f"SE={se:.6g}"))
