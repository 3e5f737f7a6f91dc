"""Diagnostic accuracy at a fixed threshold: sensitivity, specificity, PPV, NPV, accuracy with binomial intervals."""

from __future__ import annotations

from typing import Any

from ...errors import InvalidInputError
from .core import NAN, StatResult, _binary, _check_alpha, _check_same_length, _nan_result

__all__ = ["proportion_ci", "diagnostic_accuracy", "mcnemar"]


_PROPORTION_METHODS = {"wilson": "wilson", "clopper-pearson": "beta"}


def proportion_ci(k: int, n: int, *, method: str = "wilson", alpha: float = 0.05) -> tuple[float, float]:
    """Confidence interval of a binomial proportion k / n via statsmodels ``proportion_confint``.

    Parameters
    ----------
    k, n : int
        Successes and trials (0 <= k <= n).
    method : {"wilson", "clopper-pearson"}
        Wilson score interval or exact Clopper-Pearson (statsmodels ``"beta"``).
    alpha : float
        1 - confidence level.

    Returns
    -------
    (low, high) : tuple of float
        Clipped to [0, 1]; (NaN, NaN) when n == 0.
    """
    from statsmodels.stats.proportion import proportion_confint

    alpha = _check_alpha(alpha)
    key = method.lower()
    if key not in _PROPORTION_METHODS:
        raise InvalidInputError(f"unknown proportion CI method {method!r}", attribute="method",
                                remedy="use 'wilson' or 'clopper-pearson'")
    if int(k) != k or int(n) != n or not 0 <= k <= n:
        raise InvalidInputError(f"need integers 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return NAN, NAN
    low, high = proportion_confint(int(k), int(n), alpha=alpha, method=_PROPORTION_METHODS[key])
    return float(min(max(low, 0.0), 1.0)), float(min(max(high, 0.0), 1.0))


def diagnostic_accuracy(
    y_true: Any, y_pred: Any, *, method: str = "wilson", alpha: float = 0.05
) -> dict[str, StatResult]:
    """Sensitivity, specificity, accuracy, PPV and NPV with binomial CIs.

    Parameters
    ----------
    y_true, y_pred : array-like of 0/1 (or bool)
        Reference standard and test result. Observations are treated as independent: for per-lesion
        data with several lesions per patient use patient-level data or a cluster bootstrap.
    method : {"wilson", "clopper-pearson"}
        Interval of each proportion (see :func:`proportion_ci`).
    alpha : float
        1 - confidence level.

    Returns
    -------
    dict of StatResult
        Keys ``sensitivity``, ``specificity``, ``accuracy``, ``ppv``, ``npv``; ``n`` = denominator,
        ``notes`` = "k/n" and the 2x2 counts; an empty denominator gives NaN with a note.
    """
    yt, yp = _binary(y_true, "y_true"), _binary(y_pred, "y_pred")
    _check_same_length(y_true=yt, y_pred=yp)
    tp = int(((yt == 1) & (yp == 1)).sum())
    fn = int(((yt == 1) & (yp == 0)).sum())
    tn = int(((yt == 0) & (yp == 0)).sum())
    fp = int(((yt == 0) & (yp == 1)).sum())
    table = f"TP={tp}, FP={fp}, FN={fn}, TN={tn}"
    name = "Wilson score" if method.lower() == "wilson" else "Clopper-Pearson exact"
    parts = {
        "sensitivity": (tp, tp + fn, "TP/(TP+FN)", "no reference-positive cases"),
        "specificity": (tn, tn + fp, "TN/(TN+FP)", "no reference-negative cases"),
        "accuracy": (tp + tn, tp + tn + fp + fn, "(TP+TN)/N", "no cases"),
        "ppv": (tp, tp + fp, "TP/(TP+FP)", "no test-positive cases"),
        "npv": (tn, tn + fn, "TN/(TN+FN)", "no test-negative cases"),
    }
    out: dict[str, StatResult] = {}
    for key, (k, n, formula, empty) in parts.items():
        low, high = proportion_ci(k, n, method=method, alpha=alpha)
        label = f"{key}, {name} CI"
        if n == 0:
            out[key] = _nan_result(0, label, f"undefined: {empty}; {table}")
        else:
            out[key] = StatResult(k / n, low, high, NAN, n, label, notes=f"{formula} = {k}/{n}; {table}")
    return out


def mcnemar(both: int, only_a: int, only_b: int, neither: int) -> StatResult:
    """McNemar test of two paired binary calls (two readers, thresholds or tracers on the same cases).

    Exact binomial test on the discordant cells when ``only_a + only_b < 25``, else the continuity-corrected
    chi-square (statsmodels). Cases must be independent (one per patient): with lesions nested in patients
    use a cluster bootstrap instead.

    Returns
    -------
    StatResult
        ``estimate`` = (only_a - only_b) / n, the difference of the two positive rates; ``p_value``;
        ``statistic`` = min(b, c) (exact) or chi-square; no CI.
    """
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    for name, value in (("both", both), ("only_a", only_a), ("only_b", only_b), ("neither", neither)):
        if int(value) != value or value < 0:
            raise InvalidInputError(f"{name} must be a count >= 0, got {value!r}", attribute=name)
    n = int(both + only_a + only_b + neither)
    discordant = int(only_a + only_b)
    exact = discordant < 25
    label = "McNemar test, " + ("exact binomial on the discordant pairs" if exact else "chi-square with continuity "
                                                                                       "correction")
    if discordant == 0:
        return StatResult(0.0, NAN, NAN, 1.0, n, label, notes="no discordant pairs")
    res = sm_mcnemar([[both, only_a], [only_b, neither]], exact=exact, correction=True)
    return StatResult((only_a - only_b) / n, NAN, NAN, float(res.pvalue), n, label, float(res.statistic),
                      f"discordant: {only_a} (a only) vs {only_b} (b only)")
