"""Rank and paired tests: Kruskal-Wallis, Jonckheere-Terpstra (ordered alternatives), Mann-Whitney with the
Hodges-Lehmann shift, Wilcoxon signed-rank, the paired t-test on log values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from ...errors import InvalidInputError
from .core import (
    NAN,
    StatResult,
    _as_float_array,
    _check_alpha,
    _check_same_length,
    _dropped_note,
    _groups_list,
    _join,
    _nan_result,
)

__all__ = ["kruskal_wallis", "jonckheere_terpstra_statistic", "jonckheere_terpstra", "mann_whitney", "wilcoxon_paired",
           "paired_t_log", "hodges_lehmann"]


def _mwu_pmf(m: int, n: int) -> np.ndarray:
    """Exact null pmf of U = #{(x, y): y > x} for samples of sizes m (x) and n (y) without ties.

    Recurrence on the largest of the m + n observations: it is an x with probability i/(i+j) (adds 0)
    or a y with probability j/(i+j) (adds i): p(u; i, j) = i/(i+j) p(u; i-1, j) + j/(i+j) p(u-i; i, j-1).
    The pmf is the normalised Gaussian (q-)binomial coefficient [m+n choose m]_q.
    """
    prev = [np.ones(1) for _ in range(n + 1)]  # i = 0: U = 0 whatever j
    for i in range(1, m + 1):
        cur = [np.ones(1)]
        for j in range(1, n + 1):
            out = np.zeros(i * j + 1)
            out[: prev[j].size] += i / (i + j) * prev[j]
            out[i : i + cur[j - 1].size] += j / (i + j) * cur[j - 1]
            cur.append(out)
        prev = cur
    return prev[n]


def _jt_count(values: list[np.ndarray]) -> float:
    """J = sum over ordered group pairs i < j of #{y in g_j > x in g_i} + 0.5 #{ties}."""
    total = 0.0
    for a in range(len(values)):
        for b in range(a + 1, len(values)):
            diff = values[b][None, :] - values[a][:, None]
            total += float((diff > 0).sum() + 0.5 * (diff == 0).sum())
    return total


def kruskal_wallis(groups: Sequence[Any] | Mapping[Any, Any]) -> StatResult:
    """Kruskal-Wallis H test (tie-corrected, chi-square approximation) via :func:`scipy.stats.kruskal`.

    Parameters
    ----------
    groups : sequence or mapping of array-like
        One array per group (NaN dropped, empty groups ignored).

    Returns
    -------
    StatResult
        ``statistic`` = H, ``p_value`` from chi-square with k - 1 df, ``estimate`` = epsilon-squared
        effect size H / (n - 1) (no CI). Fewer than 2 non-empty groups or all values equal give NaN.
    """
    arrays, note = _groups_list(groups)
    n = int(sum(a.size for a in arrays))
    method = "Kruskal-Wallis H test"
    if len(arrays) < 2:
        return _nan_result(n, method, _join("need >= 2 non-empty groups", note))
    allv = np.concatenate(arrays)
    if np.ptp(allv) == 0:
        return _nan_result(n, method, _join("all values equal: H undefined", note))
    res = stats.kruskal(*arrays)
    h = float(res.statistic)
    sizes = ", ".join(str(a.size) for a in arrays)
    return StatResult(h / (n - 1), NAN, NAN, float(res.pvalue), n, method + " (estimate = epsilon-squared)", h,
                      _join(f"k={len(arrays)} groups, sizes {sizes}, df={len(arrays) - 1}", note))


def jonckheere_terpstra_statistic(groups: Sequence[Any] | Mapping[Any, Any]) -> dict[str, float]:
    """Jonckheere-Terpstra J with its null mean, variance and z.

    J = sum_{i<j} sum_{x in g_i, y in g_j} [1(y > x) + 0.5 1(y = x)]; E[J] = (N^2 - sum n_i^2) / 4.
    The variance is tie-corrected (Lehmann 1975; Hollander & Wolfe):
    Var = [N(N-1)(2N+5) - sum n_i(n_i-1)(2n_i+5) - sum t(t-1)(2t+5)] / 72
    + [sum n_i(n_i-1)(n_i-2)] [sum t(t-1)(t-2)] / (36 N(N-1)(N-2))
    + [sum n_i(n_i-1)] [sum t(t-1)] / (8 N(N-1)),  t = sizes of tied value groups.
    Without ties it equals (N^2 (2N+3) - sum n_i^2 (2n_i+3)) / 72.

    Parameters
    ----------
    groups : sequence or mapping of array-like
        Groups in the hypothesised order (NaN dropped, empty groups ignored).

    Returns
    -------
    dict
        ``j``, ``mean``, ``var`` (tie-corrected), ``var_no_ties``, ``z`` = (J - mean) / sqrt(var),
        ``j_max`` = sum_{i<j} n_i n_j, ``n``, ``k``, ``ties`` (1.0 if any tie, else 0.0).
    """
    arrays, _ = _groups_list(groups)
    sizes = np.array([a.size for a in arrays], dtype=float)
    big_n = float(sizes.sum())
    j = _jt_count(arrays) if len(arrays) >= 2 else NAN
    mean = (big_n**2 - float((sizes**2).sum())) / 4.0
    var0 = (big_n**2 * (2 * big_n + 3) - float((sizes**2 * (2 * sizes + 3)).sum())) / 72.0
    if big_n >= 3:
        _, t = np.unique(np.concatenate(arrays), return_counts=True)
        t = t.astype(float)
        var = (big_n * (big_n - 1) * (2 * big_n + 5) - float((sizes * (sizes - 1) * (2 * sizes + 5)).sum())
               - float((t * (t - 1) * (2 * t + 5)).sum())) / 72.0
        var += float((sizes * (sizes - 1) * (sizes - 2)).sum()) * float((t * (t - 1) * (t - 2)).sum()) / (
            36.0 * big_n * (big_n - 1) * (big_n - 2))
        var += float((sizes * (sizes - 1)).sum()) * float((t * (t - 1)).sum()) / (8.0 * big_n * (big_n - 1))
        ties = float(bool((t > 1).any()))
    else:
        var, ties = NAN, 0.0
    z = (j - mean) / math.sqrt(var) if var > 0 else NAN
    j_max = (big_n**2 - float((sizes**2).sum())) / 2.0
    return {"j": j, "mean": mean, "var": var, "var_no_ties": var0, "z": z, "j_max": j_max,
            "n": big_n, "k": float(len(arrays)), "ties": ties}


def jonckheere_terpstra(
    groups: Sequence[Any] | Mapping[Any, Any],
    *,
    alternative: str = "increasing",
    method: str = "auto",
    n_perm: int = 10_000,
    seed: int = 0,
    max_exact_n: int = 100,
) -> StatResult:
    """Jonckheere-Terpstra test for an ordered trend across groups.

    Parameters
    ----------
    groups : sequence or mapping of array-like
        Groups in the hypothesised order g1 < g2 < ... (e.g. IHC 0, 1+, 2+, 3+).
    alternative : {"increasing", "decreasing", "two-sided"}
        One-sided for a trend in the stated direction (default increasing).
    method : {"auto", "exact", "permutation", "normal"}
        ``exact``: exact null distribution of J (no ties only; the product of Mann-Whitney null
        distributions, i.e. the Gaussian multinomial coefficient). ``permutation``: Monte-Carlo
        permutation of the pooled values over the group labels (``n_perm`` permutations, ``seed``;
        p = (1 + #{J* at least as extreme}) / (1 + n_perm)). ``normal``: z with the tie-corrected
        variance. ``auto``: exact without ties and N <= ``max_exact_n``; permutation with ties and
        N <= 30; normal otherwise.
    n_perm, seed : int
        Permutations (>= 10,000 recommended) and seed for the permutation p-value.
    max_exact_n : int
        Largest total N for the exact distribution in ``auto``.

    Returns
    -------
    StatResult
        ``statistic`` = J; ``estimate`` = Kendall-type effect (2 J - J_max) / J_max in [-1, 1]
        (J_max = sum_{i<j} n_i n_j; +1 = perfect increasing order; no CI); ``p_value`` from the chosen
        method. ``notes`` always give E[J], Var[J], z and the normal-approximation p-value, so the
        exact/permutation and normal p-values can be reported side by side.
    """
    alternative = alternative.lower()
    if alternative not in ("increasing", "decreasing", "two-sided"):
        raise InvalidInputError(f"unknown alternative {alternative!r}", attribute="alternative",
                                remedy="use 'increasing', 'decreasing' or 'two-sided'")
    method = method.lower()
    if method not in ("auto", "exact", "permutation", "normal"):
        raise InvalidInputError(f"unknown Jonckheere-Terpstra method {method!r}", attribute="method",
                                remedy="use 'auto', 'exact', 'permutation' or 'normal'")
    arrays, note = _groups_list(groups)
    label = "Jonckheere-Terpstra trend test"
    n = int(sum(a.size for a in arrays))
    if len(arrays) < 2 or n < 3:
        return _nan_result(n, label, _join("need >= 2 non-empty groups and >= 3 observations", note))
    s = jonckheere_terpstra_statistic(arrays)
    j, mean, var, z = s["j"], s["mean"], s["var"], s["z"]
    ties = bool(s["ties"])
    if not var > 0:
        return _nan_result(n, label, _join("all values equal: J has no variance", note), statistic=j)

    def tail_normal(zv: float) -> float:
        if alternative == "increasing":
            return float(stats.norm.sf(zv))
        if alternative == "decreasing":
            return float(stats.norm.cdf(zv))
        return float(min(1.0, 2 * stats.norm.sf(abs(zv))))

    p_normal = tail_normal(z)
    chosen = method
    if method == "auto":
        chosen = "exact" if (not ties and n <= max_exact_n) else ("permutation" if n <= 30 else "normal")
    notes = [f"E[J]={mean:.6g}, Var[J]={var:.6g} (tie-corrected), z={z:.6g}, normal-approximation p={p_normal:.4g}"]
    if chosen == "exact" and ties:
        raise InvalidInputError("the exact Jonckheere-Terpstra distribution assumes no ties", attribute="method",
                                remedy="use method='permutation' or 'auto'")
    if chosen == "exact":
        pmf = np.ones(1)
        cum = arrays[0].size
        for a in arrays[1:]:
            pmf = np.convolve(pmf, _mwu_pmf(cum, a.size))
            cum += a.size
        jj = int(round(j))
        upper = float(pmf[jj:].sum())
        lower = float(pmf[: jj + 1].sum())
        p = {"increasing": upper, "decreasing": lower}.get(alternative, min(1.0, 2 * min(upper, lower)))
        p = min(1.0, p)
        method_text = f"{label}, exact null distribution"
    elif chosen == "permutation":
        if n_perm < 1:
            raise InvalidInputError("n_perm must be >= 1", attribute="n_perm")
        pooled = np.concatenate(arrays)
        labels = np.concatenate([np.full(a.size, i) for i, a in enumerate(arrays)])
        before = labels[:, None] < labels[None, :]  # pair (a, b): group(a) < group(b)
        rng = np.random.default_rng(seed)
        count, chunk, done = 0, 1000, 0
        dev_obs = j - mean
        while done < n_perm:
            m = min(chunk, n_perm - done)
            perm = np.argsort(rng.random((m, n)), axis=1)
            v = pooled[perm]
            diff = v[:, None, :] - v[:, :, None]  # v_b - v_a
            score = (diff > 0) + 0.5 * (diff == 0)
            jp = (score * before[None]).sum(axis=(1, 2))
            tol = 1e-9
            if alternative == "increasing":
                count += int((jp >= j - tol).sum())
            elif alternative == "decreasing":
                count += int((jp <= j + tol).sum())
            else:
                count += int((np.abs(jp - mean) >= abs(dev_obs) - tol).sum())
            done += m
        p = (count + 1) / (n_perm + 1)
        method_text = f"{label}, permutation p ({n_perm} permutations, seed {seed})"
    else:
        p = p_normal
        method_text = f"{label}, normal approximation (tie-corrected variance)"
    effect = (2 * j - s["j_max"]) / s["j_max"]
    notes.append(f"k={len(arrays)} groups, sizes {', '.join(str(a.size) for a in arrays)}; alternative {alternative}")
    if ties:
        notes.append("ties present")
    return StatResult(effect, NAN, NAN, p, n, method_text + " (estimate = Kendall-type effect (2J - Jmax)/Jmax)", j,
                      _join(*notes, note))


def mann_whitney(x: Any, y: Any, *, alpha: float = 0.05) -> StatResult:
    """Mann-Whitney U test with the Hodges-Lehmann shift and its distribution-free CI.

    Parameters
    ----------
    x, y : array-like
        Two independent samples (NaN dropped).
    alpha : float
        1 - confidence level of the shift interval.

    Returns
    -------
    StatResult
        ``estimate`` = Hodges-Lehmann shift of x relative to y, median of all x_i - y_j (as R's
        ``wilcox.test(x, y, conf.int=TRUE)``); CI from the order statistics of these differences with
        the exact U quantile (no ties, n_x + n_y <= 60) or the tie-corrected normal quantile otherwise
        (Hollander & Wolfe); ``statistic`` = U of x (pairs x > y, ties 1/2); ``p_value`` two-sided from
        :func:`scipy.stats.mannwhitneyu` (``method="auto"``).
    """
    alpha = _check_alpha(alpha)
    xa, ya = _as_float_array(x, "x"), _as_float_array(y, "y")
    n_drop = int((~np.isfinite(xa)).sum() + (~np.isfinite(ya)).sum())
    xa, ya = xa[np.isfinite(xa)], ya[np.isfinite(ya)]
    nx, ny = int(xa.size), int(ya.size)
    label = "Mann-Whitney U test, Hodges-Lehmann shift (x - y)"
    if nx < 1 or ny < 1 or nx + ny < 3:
        return _nan_result(nx + ny, label, _join(f"too few observations (n_x={nx}, n_y={ny})", _dropped_note(n_drop)))
    res = stats.mannwhitneyu(xa, ya, alternative="two-sided", method="auto")
    diffs = np.sort((xa[:, None] - ya[None, :]).ravel())
    hl = float(np.median(diffs))
    nm = nx * ny
    allv = np.concatenate([xa, ya])
    _, t = np.unique(allv, return_counts=True)
    ties = bool((t > 1).any())
    if not ties and nx + ny <= 60:
        cdf = np.cumsum(_mwu_pmf(nx, ny))
        # k = largest integer with P(U <= k - 1) <= alpha / 2; interval [D_(k), D_(nm + 1 - k)]
        k = int(np.searchsorted(cdf, alpha / 2.0, side="right"))
        ci_kind = "exact"
    else:
        nn = nx + ny
        var_u = nx * ny / 12.0 * ((nn + 1) - float((t**3 - t).sum()) / (nn * (nn - 1)))
        k = int(math.floor(nm / 2.0 - stats.norm.ppf(1 - alpha / 2.0) * math.sqrt(var_u)))
        ci_kind = "normal-approximation"
    if k >= 1 and nm + 1 - k >= k:
        low, high = float(diffs[k - 1]), float(diffs[nm - k])
        ci_note = ""
    else:
        low = high = NAN
        ci_note = "samples too small for a Hodges-Lehmann CI at this level"
    notes = _join(f"n_x={nx}, n_y={ny}; {ci_kind} CI", ci_note, _dropped_note(n_drop))
    return StatResult(hl, low, high, float(res.pvalue), nx + ny, label, float(res.statistic), notes)


def wilcoxon_paired(before: Any, after: Any, *, log_ratio: bool = True, alpha: float = 0.05) -> StatResult:
    """Wilcoxon signed-rank test of paired values with the Hodges-Lehmann estimate and its CI.

    Parameters
    ----------
    before, after : array-like
        Paired values per subject (pairs with NaN dropped; with ``log_ratio`` also pairs with a value
        <= 0, counted in ``notes``).
    log_ratio : bool
        Analyse d = log(after / before) and report the ratio exp(pseudo-median) with exp(CI) (uptake
        values); else d = after - before in the values' units.
    alpha : float
        1 - confidence level.

    Returns
    -------
    StatResult
        ``estimate`` = Hodges-Lehmann pseudo-median of d (as a ratio with ``log_ratio``), CI from the
        signed-rank test (:func:`hodges_lehmann`); ``statistic`` = W = min(R+, R-) (zero differences
        dropped, Wilcoxon's convention); ``p_value`` two-sided: exact null distribution when n <= 50
        without ties or zeros, exact permutation of the signed mid-ranks when n <= 13 with ties/zeros,
        else normal approximation (scipy ``method="auto"``; the method says which). The descriptive
        median % change and its IQR are in ``notes``, never in the CI columns.
    """
    b, a = _as_float_array(before, "before"), _as_float_array(after, "after")
    _check_same_length(before=b, after=a)
    keep = np.isfinite(b) & np.isfinite(a)
    dropped = _dropped_note(int((~keep).sum()))
    notes = [dropped]
    b, a = b[keep], a[keep]
    if log_ratio:
        positive = (b > 0) & (a > 0)
        if (~positive).any():
            notes.append(f"{int((~positive).sum())} pair(s) with a value <= 0 left out of the log ratio")
        b, a = b[positive], a[positive]
        d = np.log(a / b)
    else:
        d = a - b
    n = int(d.size)
    pct = 100.0 * (a[b > 0] - b[b > 0]) / b[b > 0]
    if pct.size:
        q1, med, q3 = (float(v) for v in np.percentile(pct, [25, 50, 75]))
        notes.append(f"descriptive: median % change {med:.4g} (IQR {q1:.4g} to {q3:.4g})")
    scale = "ratio after/before = exp(pseudo-median of log ratios)" if log_ratio else "pseudo-median of differences"
    label = f"Wilcoxon signed-rank test; estimate = Hodges-Lehmann {scale} with signed-rank CI"
    nz = int((d != 0).sum())
    hl = hodges_lehmann(d, alpha=alpha)
    f = math.exp if log_ratio else float
    est = f(hl.estimate) if math.isfinite(hl.estimate) else NAN
    low = f(hl.ci_low) if math.isfinite(hl.ci_low) else NAN
    high = f(hl.ci_high) if math.isfinite(hl.ci_high) else NAN
    notes.append(hl.notes)
    if nz < 1 or n < 2:
        return StatResult(est, low, high, NAN, n, label, NAN, _join(f"too few non-zero differences ({nz})", *notes))
    _, t = np.unique(np.abs(d[d != 0]), return_counts=True)
    has_ties, has_zeros = bool((t > 1).any()), nz < n
    if n <= 50 and not (has_ties or has_zeros):
        kind = "exact p"
    elif n <= 13:
        kind = "exact permutation p (ties/zeros)"
    else:
        kind = "normal-approximation p"
    res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided", method="auto")
    if has_zeros:
        notes.append(f"{n - nz} zero difference(s) dropped from the ranks")
    return StatResult(est, low, high, float(res.pvalue), n, f"{label}, {kind}", float(res.statistic), _join(*notes))


def paired_t_log(before: Any, after: Any, *, alpha: float = 0.05) -> StatResult:
    """Paired t test on log values: geometric-mean ratio after / before with CI.

    Parameters
    ----------
    before, after : array-like
        Paired positive values (pairs with NaN or values <= 0 dropped, noted).
    alpha : float
        1 - confidence level.

    Returns
    -------
    StatResult
        ``estimate`` = exp(mean(log(after / before))) with its t CI, ``statistic`` = t, two-sided p.
    """
    alpha = _check_alpha(alpha)
    b, a = _as_float_array(before, "before"), _as_float_array(after, "after")
    _check_same_length(before=b, after=a)
    keep = np.isfinite(b) & np.isfinite(a) & (b > 0) & (a > 0)
    n_drop = int((~keep).sum())
    d = np.log(a[keep]) - np.log(b[keep])
    n = int(d.size)
    label = "paired t test on log values; estimate = geometric-mean ratio after/before"
    note = f"{n_drop} pair(s) missing or <= 0 dropped" if n_drop else ""
    if n < 2:
        return _nan_result(n, label, _join(f"too few pairs (n={n}, need >= 2)", note))
    res = stats.ttest_1samp(d, 0.0)
    mean, se = float(d.mean()), float(d.std(ddof=1) / math.sqrt(n))
    tq = stats.t.ppf(1 - alpha / 2, n - 1)
    return StatResult(math.exp(mean), math.exp(mean - tq * se), math.exp(mean + tq * se), float(res.pvalue), n,
                      label, float(res.statistic), note)


def _signrank_cdf(n: int) -> np.ndarray:
    """Exact null cdf of the signed-rank statistic T+ for n non-zero, untied differences: cdf[t] = P(T+ <= t)."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for r in range(1, n + 1):
        counts[r:] = counts[r:] + counts[:-r].copy()
    return np.cumsum(counts) / 2.0**n


def hodges_lehmann(differences: Any, *, alpha: float = 0.05) -> StatResult:
    """Hodges-Lehmann pseudo-median of paired differences with the signed-rank confidence interval.

    Walsh averages A = {(d_i + d_j)/2, i <= j} (M = n(n+1)/2); estimate = median(A). Without ties or zeros
    the interval is exact: k = the largest integer with P(T+ <= k - 1) <= alpha/2 and CI = [A(k), A(M-k+1)]
    (Bauer 1972; R ``wilcox.test(conf.int=TRUE)``); with ties or zeros, k from the normal approximation
    with the tie-corrected variance. The achieved coverage is in ``notes``.

    Returns
    -------
    StatResult
        ``estimate`` = pseudo-median, CI, ``p_value`` NaN (the signed-rank p is computed by the caller).
    """
    alpha = _check_alpha(alpha)
    d = _as_float_array(differences, "differences")
    d = d[np.isfinite(d)]
    n = int(d.size)
    label = "Hodges-Lehmann pseudo-median, signed-rank CI"
    if n < 2:
        return _nan_result(n, label, "too few differences")
    i, j = np.triu_indices(n)
    walsh = np.sort((d[i] + d[j]) / 2.0)
    m = walsh.size
    estimate = float(np.median(walsh))
    nz = d[d != 0]
    _, ties = np.unique(np.abs(nz), return_counts=True)
    if nz.size == n and not (ties > 1).any():
        cdf = _signrank_cdf(n)
        k = int(np.searchsorted(cdf, alpha / 2, side="right"))  # cdf[k-1] <= alpha/2 < cdf[k]
        coverage = 1 - 2 * float(cdf[k - 1]) if k >= 1 else 1.0
        kind = "exact"
    else:
        var = n * (n + 1) * (2 * n + 1) / 24.0 - float((ties**3 - ties).sum()) / 48.0
        k = int(math.floor(m / 2.0 - float(stats.norm.ppf(1 - alpha / 2)) * math.sqrt(var)))
        coverage, kind = NAN, "normal approximation (ties or zeros)"
    if k < 1:
        return StatResult(estimate, NAN, NAN, NAN, n, label, notes=f"n={n}: too few pairs for a {1 - alpha:.0%} CI")
    cover = f", achieved coverage {coverage:.4f}" if math.isfinite(coverage) else ""
    return StatResult(estimate, float(walsh[k - 1]), float(walsh[m - k]), NAN, n, f"{label} ({kind})",
                      notes=f"n={n}, k={k}{cover}")
