"""Two readers, thresholds or tracers compared on the same lesions nested in patients.

* :func:`clustered_auc_difference` — AUC_a - AUC_b with Obuchowski's (1997) clustered covariance of the
  two AUCs (patients are the independent units); with one lesion per patient it equals the paired
  DeLong test (:func:`~.roc.paired_delong`), which the tests assert.
* :func:`clustered_mcnemar` — Durkalski et al. (2003, Stat Med 22:2417) McNemar test for clustered
  matched-pair data: chi2 = (sum_k (b_k - c_k))^2 / sum_k (b_k - c_k)^2 over patients k, b_k and c_k the
  lesions positive by a only and by b only; with one lesion per patient it equals the uncorrected
  McNemar chi-square (b - c)^2 / (b + c).

Neither exists in statsmodels or scikit-learn; both are a few lines over per-patient sums.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import InvalidInputError
from .clustered import MIN_CLUSTERS
from .core import NAN, StatResult, _as_float_array, _check_alpha, _join, _nan_result

__all__ = ["clustered_auc_difference", "clustered_mcnemar"]


def _components(score: np.ndarray, y: np.ndarray, cl: np.ndarray, ids: list[str]
                ) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and the per-patient structural sums V10_i, V01_i (Obuchowski 1997)."""
    pos_all, neg_all = score[y == 1], score[y == 0]

    def psi(x: np.ndarray, z: np.ndarray) -> np.ndarray:
        d = x[:, None] - z[None, :]
        return (d > 0) + 0.5 * (d == 0)

    theta = float(psi(pos_all, neg_all).mean())
    v10 = np.array([psi(score[(cl == c) & (y == 1)], neg_all).mean(axis=1).sum() for c in ids])
    v01 = np.array([psi(pos_all, score[(cl == c) & (y == 0)]).mean(axis=0).sum() for c in ids])
    return theta, v10, v01


def clustered_auc_difference(y_true: Any, score_a: Any, score_b: Any, clusters: Any, *, alpha: float = 0.05,
                             min_clusters: int = MIN_CLUSTERS) -> StatResult:
    """Difference of two AUCs measured on the same lesions nested in patients (Obuchowski covariance).

    Parameters
    ----------
    y_true : array-like of 0/1
        Reference standard per lesion.
    score_a, score_b : array-like
        The two scores of each lesion (higher = more likely positive).
    clusters : array-like
        Patient of each lesion.

    Returns
    -------
    StatResult
        ``estimate`` = AUC_a - AUC_b with a Wald CI and two-sided p, ``statistic`` = z; both AUCs in
        ``notes``. Fewer than ``min_clusters`` patients: paired DeLong on lesions, marked UNADJUSTED.
    """
    from .roc import paired_delong

    alpha = _check_alpha(alpha)
    y = _as_float_array(y_true, "y_true")
    a, b = _as_float_array(score_a, "score_a"), _as_float_array(score_b, "score_b")
    cl = np.asarray(clusters, dtype=object)
    if not (y.size == a.size == b.size == cl.size):
        raise InvalidInputError("y_true, score_a, score_b and clusters differ in length", attribute="clusters")
    keep = np.isfinite(y) & np.isfinite(a) & np.isfinite(b) & ~pd.isna(cl)
    y, a, b, cl = y[keep], a[keep], b[keep], cl[keep].astype(str)
    if not set(np.unique(y)) <= {0.0, 1.0}:
        raise InvalidInputError("y_true must be 0/1", attribute="y_true")
    ids = sorted(set(cl))
    n = int(y.size)
    if len(ids) < min_clusters:
        res = paired_delong(y, a, b, alpha=alpha)
        return StatResult(res.estimate, res.ci_low, res.ci_high, res.p_value, res.n,
                          "difference of paired AUCs, DeLong on lesions UNADJUSTED for clustering, Wald CI",
                          res.statistic, _join(res.notes, f"{len(ids)} patients: fewer than {min_clusters}, "
                                                          "no cluster method"))
    label = "difference of paired AUCs, Obuchowski clustered (patient) covariance, Wald CI"
    m, nn = int((y == 1).sum()), int((y == 0).sum())
    if m < 2 or nn < 2:
        return _nan_result(n, label, "fewer than two positive or two negative lesions")
    mi = np.array([((cl == c) & (y == 1)).sum() for c in ids], dtype=float)
    ni = np.array([((cl == c) & (y == 0)).sum() for c in ids], dtype=float)
    i, i10, i01 = len(ids), int((mi > 0).sum()), int((ni > 0).sum())
    ta, v10a, v01a = _components(a, y, cl, ids)
    tb, v10b, v01b = _components(b, y, cl, ids)
    r10a, r10b = v10a - mi * ta, v10b - mi * tb
    r01a, r01b = v01a - ni * ta, v01b - ni * tb

    def cov(u10: np.ndarray, u01: np.ndarray, w10: np.ndarray, w01: np.ndarray) -> float:
        s10 = i10 / ((i10 - 1) * m) * float((u10 * w10).sum())
        s01 = i01 / ((i01 - 1) * nn) * float((u01 * w01).sum())
        s11 = i / (i - 1) * float((u10 * w01).sum() + (w10 * u01).sum()) / 2
        return s10 / m + s01 / nn + 2 * s11 / (m * nn)

    if i10 < 2 or i01 < 2:
        return _nan_result(n, label, "positives or negatives in fewer than two patients")
    var = cov(r10a, r01a, r10a, r01a) + cov(r10b, r01b, r10b, r01b) - 2 * cov(r10a, r01a, r10b, r01b)
    diff = ta - tb
    notes = f"AUC_a={ta:.4f}, AUC_b={tb:.4f}; {i} patients, {m} positive and {nn} negative lesions"
    if not (math.isfinite(var) and var > 0):
        return StatResult(diff, NAN, NAN, NAN, n, label, notes=_join(notes, "variance not estimable"))
    se = math.sqrt(var)
    zq = float(stats.norm.ppf(1 - alpha / 2))
    z = diff / se
    return StatResult(diff, diff - zq * se, diff + zq * se, float(2 * stats.norm.sf(abs(z))), n, label, z,
                      _join(notes, f"SE={se:.6g}"))


def clustered_mcnemar(call_a: Any, call_b: Any, clusters: Any, *, min_clusters: int = MIN_CLUSTERS) -> StatResult:
    """McNemar test of two binary calls on the same lesions nested in patients (Durkalski et al. 2003).

    Parameters
    ----------
    call_a, call_b : array-like of 0/1
        The two calls (readers, thresholds, tracers) of each lesion.
    clusters : array-like
        Patient of each lesion.

    Returns
    -------
    StatResult
        ``estimate`` = (b - c) / n, the difference of the two positive rates over lesions; ``statistic`` =
        chi-square with 1 df, ``p_value`` two-sided; no CI. Fewer than ``min_clusters`` patients: the
        ordinary McNemar test on lesions, marked UNADJUSTED.
    """
    from .accuracy import mcnemar

    xa, xb = _as_float_array(call_a, "call_a"), _as_float_array(call_b, "call_b")
    cl = np.asarray(clusters, dtype=object)
    if not (xa.size == xb.size == cl.size):
        raise InvalidInputError("call_a, call_b and clusters differ in length", attribute="clusters")
    keep = np.isfinite(xa) & np.isfinite(xb) & ~pd.isna(cl)
    xa, xb, cl = xa[keep], xb[keep], cl[keep].astype(str)
    if not (set(np.unique(xa)) | set(np.unique(xb))) <= {0.0, 1.0}:
        raise InvalidInputError("calls must be 0/1", attribute="call_a")
    n = int(xa.size)
    only_a, only_b = (xa == 1) & (xb == 0), (xa == 0) & (xb == 1)
    ids, inverse = np.unique(cl, return_inverse=True)
    if ids.size < min_clusters:
        res = mcnemar(int(((xa == 1) & (xb == 1)).sum()), int(only_a.sum()), int(only_b.sum()),
                      int(((xa == 0) & (xb == 0)).sum()))
        return StatResult(res.estimate, NAN, NAN, res.p_value, res.n, res.method + " on lesions UNADJUSTED for "
                          "clustering", res.statistic, _join(res.notes, f"{ids.size} patients: fewer than "
                                                                        f"{min_clusters}, no cluster method"))
    label = "McNemar test for clustered matched pairs (Durkalski 2003), chi-square 1 df"
    d = np.bincount(inverse, weights=only_a.astype(float), minlength=ids.size) - np.bincount(
        inverse, weights=only_b.astype(float), minlength=ids.size)
    notes = f"discordant: {int(only_a.sum())} (a only) vs {int(only_b.sum())} (b only) in {ids.size} patients"
    denominator = float((d**2).sum())
    if denominator == 0:
        return StatResult(0.0, NAN, NAN, 1.0, n, label, notes=_join(notes, "no discordant lesions"))
    chi2 = float(d.sum()) ** 2 / denominator
    return StatResult(float(d.sum()) / n, NAN, NAN, float(stats.chi2.sf(chi2, 1)), n, label, chi2, notes)
