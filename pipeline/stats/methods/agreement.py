"""Agreement and repeatability of two readers or two scans of the same VOIs (test-retest).

* :func:`icc` — intraclass correlations from the two-way ANOVA of an n-targets x k-raters table
  (Shrout & Fleiss 1979; McGraw & Wong 1996): ICC(1,1), ICC(2,1) = ICC(A,1) absolute agreement with the
  Satterthwaite-df interval, ICC(3,1) = ICC(C,1) consistency with its F interval.
* :func:`bland_altman` — bias and 95 % limits of agreement with the CI of each limit (Bland & Altman 1999).
* :func:`repeatability` — within-subject SD, repeatability coefficient RC = 1.96 sqrt(2) wSD, and on the log
  scale the within-subject CV and the asymmetric RC % limits (the form for SUV).

Lesions nested in patients: pass one target per patient (or per lesion when lesions are the reported unit and
say so); the within-subject SD of lesions pooled over patients is not a patient-level repeatability.
Known answers: ``../shared/reference/clustered_statistics.md`` section 7 (``tests/unit/test_agreement.py``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from ...errors import InvalidInputError
from .core import NAN, StatResult, _as_float_array, _check_alpha, _check_same_length

__all__ = ["icc", "bland_altman", "repeatability"]


def icc(table: Any, *, form: str = "2,1", alpha: float = 0.05) -> StatResult:
    """Intraclass correlation of an n x k table (targets x raters/scans), complete rows only.

    Parameters
    ----------
    table : array-like, shape (n, k)
        One row per target (VOI), one column per rater or scan.
    form : {"1,1", "2,1", "3,1"}
        Shrout-Fleiss form: one-way random; two-way random, absolute agreement (test-retest); two-way
        mixed, consistency.

    Returns
    -------
    StatResult
        ``estimate`` = ICC with its CI; ``p_value`` of the F test of ICC = 0; mean squares in ``notes``.
    """
    alpha = _check_alpha(alpha)
    if form not in ("1,1", "2,1", "3,1"):
        raise InvalidInputError(f"unknown ICC form {form!r}", attribute="form", remedy="use 1,1, 2,1 or 3,1")
    x = np.asarray(table, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise InvalidInputError("the table must have one row per target and >= 2 columns", attribute="table")
    x = x[np.isfinite(x).all(axis=1)]
    n, k = x.shape
    label = f"ICC({form}) (Shrout & Fleiss), " + {"1,1": "one-way random", "2,1": "absolute agreement, two-way "
                                                   "random (McGraw-Wong A,1), Satterthwaite CI",
                                                   "3,1": "consistency, two-way mixed (McGraw-Wong C,1), F CI"}[form]
    if n < 3:
        return StatResult(NAN, NAN, NAN, NAN, n, label, notes=f"{n} complete targets: too few")
    grand = x.mean()
    ssr = k * float(((x.mean(axis=1) - grand) ** 2).sum())
    ssc = n * float(((x.mean(axis=0) - grand) ** 2).sum())
    sse = float(((x - grand) ** 2).sum()) - ssr - ssc
    msr, msc = ssr / (n - 1), ssc / (k - 1)
    mse = sse / ((n - 1) * (k - 1))
    msw = (ssc + sse) / (n * (k - 1))
    notes = f"n={n} targets, k={k}; MSR={msr:.6g}, MSC={msc:.6g}, MSE={mse:.6g}, MSW={msw:.6g}"
    if form == "1,1":
        value = (msr - msw) / (msr + (k - 1) * msw)
        f = msr / msw
        df1, df2 = n - 1, n * (k - 1)
        fl, fu = f / stats.f.ppf(1 - alpha / 2, df1, df2), f * stats.f.ppf(1 - alpha / 2, df2, df1)
        low, high = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
    elif form == "3,1":
        value = (msr - mse) / (msr + (k - 1) * mse)
        f = msr / mse
        df1, df2 = n - 1, (n - 1) * (k - 1)
        fl, fu = f / stats.f.ppf(1 - alpha / 2, df1, df2), f * stats.f.ppf(1 - alpha / 2, df2, df1)
        low, high = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
    else:
        value = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        f = msr / mse
        df1, df2 = n - 1, (n - 1) * (k - 1)
        a, b = k * value / (n * (1 - value)), 1 + k * value * (n - 1) / (n * (1 - value))
        v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / (k - 1) + (b * mse) ** 2 / ((n - 1) * (k - 1)))
        fs, fi = stats.f.ppf(1 - alpha / 2, n - 1, v), stats.f.ppf(1 - alpha / 2, v, n - 1)
        low = n * (msr - fs * mse) / (fs * (k * msc + (k * n - k - n) * mse) + n * msr)
        high = n * (fi * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fi * msr)
        notes += f", Satterthwaite v={v:.4g}"
    p = float(stats.f.sf(f, df1, df2))
    return StatResult(float(value), float(low), float(high), p, n, label, float(f), notes)


def bland_altman(first: Any, second: Any, *, alpha: float = 0.05) -> dict[str, Any]:
    """Bias and limits of agreement of paired measurements (d = second - first).

    Returns
    -------
    dict
        ``bias``, ``sd``, ``loa_low``, ``loa_high`` (bias -/+ 1.96 SD), ``loa_se`` (SD sqrt(1/n + 1.96^2/(2(n-1)))),
        ``loa_low_ci`` and ``loa_high_ci`` as (low, high) pairs with t(n-1), ``n``.
    """
    alpha = _check_alpha(alpha)
    a, b = _as_float_array(first, "first"), _as_float_array(second, "second")
    _check_same_length(first=a, second=b)
    keep = np.isfinite(a) & np.isfinite(b)
    d = b[keep] - a[keep]
    n = int(d.size)
    if n < 3:
        raise InvalidInputError(f"{n} complete pairs: too few for limits of agreement", attribute="first")
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    z = float(stats.norm.ppf(0.975))
    se = sd * math.sqrt(1 / n + z**2 / (2 * (n - 1)))
    tq = float(stats.t.ppf(1 - alpha / 2, n - 1))
    low, high = bias - z * sd, bias + z * sd
    return {"bias": bias, "sd": sd, "loa_low": low, "loa_high": high, "loa_se": se,
            "loa_low_ci": (low - tq * se, low + tq * se), "loa_high_ci": (high - tq * se, high + tq * se), "n": n}


def repeatability(first: Any, second: Any) -> dict[str, float]:
    """Test-retest repeatability of two replicates per target.

    Returns
    -------
    dict
        ``wsd`` = sqrt(sum d^2 / (2n)); ``rc`` = 1.96 sqrt(2) wSD; on the log scale (positive values only)
        ``wsd_log``, ``wcv_pct`` = 100 sqrt(exp(wSD_log^2) - 1) and ``rc_pct_low``/``rc_pct_high`` =
        100 (exp(-/+ 1.96 sqrt(2) wSD_log) - 1); ``n``.
    """
    a, b = _as_float_array(first, "first"), _as_float_array(second, "second")
    _check_same_length(first=a, second=b)
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n < 2:
        raise InvalidInputError(f"{n} complete pairs: too few for repeatability", attribute="first")
    d = b - a
    wsd = math.sqrt(float((d**2).sum()) / (2 * n))
    out = {"wsd": wsd, "rc": 1.96 * math.sqrt(2) * wsd, "n": float(n)}
    if (a > 0).all() and (b > 0).all():
        wsd_log = math.sqrt(float((np.log(b / a) ** 2).sum()) / (2 * n))
        out.update({"wsd_log": wsd_log, "wcv_pct": 100 * math.sqrt(math.exp(wsd_log**2) - 1),
                    "rc_pct_low": 100 * (math.exp(-1.96 * math.sqrt(2) * wsd_log) - 1),
                    "rc_pct_high": 100 * (math.exp(1.96 * math.sqrt(2) * wsd_log) - 1)})
    return out
