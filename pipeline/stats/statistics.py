"""Statistics for the trial endpoints: correlation, rank tests, ROC, diagnostic accuracy, survival, mixed models.

Every test returns a :class:`StatResult` (estimate, confidence interval, p-value, n, method, statistic,
notes) unless stated otherwise. Library code raises :class:`~pipeline.errors.InvalidInputError` only for
programming misuse (mismatched lengths, unknown options, a non-binary outcome, a missing model term); too
few observations, a single class, no events or a model that does not converge give a result with NaNs
and the reason in ``notes``, never an exception.

Conventions:

* Missing values (NaN) are dropped pairwise (or row-wise) before a test; the number dropped is in
  ``notes``. ``n`` is the number of observations (pairs, subjects, lesions) actually used.
* Confidence intervals are two-sided at level ``1 - alpha`` (default 95%).
* Groups for :func:`kruskal_wallis` and :func:`jonckheere_terpstra` are a sequence (or mapping, in
  insertion order) of array-likes; for Jonckheere-Terpstra the order is the hypothesised order.
* Cluster (patient) ids, where accepted, switch confidence intervals to a cluster bootstrap that
  resamples patients with replacement, so per-lesion data are not treated as independent.

Scipy, statsmodels, lifelines and scikit-learn do the standard work; implemented here are only what
they lack: the DeLong variance of an AUC, the Jonckheere-Terpstra test (tie-corrected variance, exact
null distribution without ties, permutation p-value with ties), the Bonett-Wright and Fieller standard
errors of Fisher's z for Spearman's rho, the Hodges-Lehmann interval and the cluster bootstrap. Each is
checked against published known answers in ``tests/unit/test_statistics.py``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import InvalidInputError

__all__ = [
    "StatResult",
    "spearman",
    "kruskal_wallis",
    "jonckheere_terpstra_statistic",
    "jonckheere_terpstra",
    "mann_whitney",
    "wilcoxon_paired",
    "paired_t_log",
    "roc_auc_delong",
    "youden",
    "bootstrap_cutoff_ci",
    "proportion_ci",
    "diagnostic_accuracy",
    "kaplan_meier_logrank",
    "cox_hr",
    "mixed_model",
    "benjamini_hochberg",
    "geometric_mean_ratio",
]

NAN = float("nan")


@dataclass(frozen=True)
class StatResult:
    """Result of one estimate or test.

    Attributes
    ----------
    estimate : float
        Point estimate (see each function for what it is).
    ci_low, ci_high : float
        Two-sided confidence interval of ``estimate`` (NaN when not available).
    p_value : float
        P-value of the test (NaN when not available).
    n : int
        Number of observations used.
    method : str
        Human-readable name of the method, including the CI method.
    statistic : float
        Test statistic (NaN when not applicable).
    notes : str
        Why something is NaN, counts, caveats.
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    method: str
    statistic: float = NAN
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (for tables)."""
        return {
            "estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
            "n": self.n, "method": self.method, "statistic": self.statistic, "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------------------
# helpers


def _nan_result(n: int, method: str, notes: str, statistic: float = NAN) -> StatResult:
    return StatResult(NAN, NAN, NAN, NAN, int(n), method, statistic, notes)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _as_float_array(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric", attribute=name) from exc
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise InvalidInputError(f"{name} must be one-dimensional", attribute=name)
    return arr


def _check_alpha(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}", attribute="alpha")
    return float(alpha)


def _check_same_length(**arrays: Sequence[Any] | np.ndarray) -> None:
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        text = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise InvalidInputError(f"inputs must have the same length ({text})")


def _dropped_note(n_dropped: int) -> str:
    return f"{n_dropped} observation(s) with missing values dropped" if n_dropped else ""


def _binary(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(int)
    arr = _as_float_array(arr, name)
    if not np.all(np.isin(arr, (0.0, 1.0))):
        raise InvalidInputError(f"{name} must contain only 0/1 (or booleans)", attribute=name)
    return arr.astype(int)


def _groups_list(groups: Sequence[Any] | Mapping[Any, Any], name: str = "groups") -> tuple[list[np.ndarray], str]:
    """Convert groups to a list of finite float arrays (empty groups dropped); return (arrays, note)."""
    items = list(groups.values()) if isinstance(groups, Mapping) else list(groups)
    if not items:
        raise InvalidInputError(f"{name} is empty", attribute=name)
    arrays, dropped, empty = [], 0, 0
    for item in items:
        arr = _as_float_array(item, name)
        keep = np.isfinite(arr)
        dropped += int((~keep).sum())
        arr = arr[keep]
        if arr.size:
            arrays.append(arr)
        else:
            empty += 1
    note = _join(_dropped_note(dropped), f"{empty} empty group(s) ignored" if empty else "")
    return arrays, note


def _fisher_z_ci(rho: float, se: float, alpha: float) -> tuple[float, float]:
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        center = np.arctanh(rho)
        return float(np.tanh(center - z * se)), float(np.tanh(center + z * se))


def _percentile_ci(values: np.ndarray, alpha: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size < 2:
        return NAN, NAN
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def _cluster_resamples(clusters: np.ndarray, n_boot: int, seed: int):
    """Yield index arrays of cluster-bootstrap resamples (patients drawn with replacement)."""
    rng = np.random.default_rng(seed)
    labels, codes = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(codes == k) for k in range(labels.size)]
    for _ in range(n_boot):
        chosen = rng.integers(0, labels.size, size=labels.size)
        yield np.concatenate([members[k] for k in chosen])


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


# ---------------------------------------------------------------------------------------------------------
# correlation


def spearman(
    x: Any,
    y: Any,
    *,
    alpha: float = 0.05,
    ci: str = "bonett-wright",
    clusters: Any = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> StatResult:
    """Spearman rank correlation with a confidence interval.

    Parameters
    ----------
    x, y : array-like
        Paired observations (NaN pairs dropped).
    alpha : float
        1 - confidence level.
    ci : {"bonett-wright", "fieller", "bootstrap"}
        Interval when ``clusters`` is None: Fisher z = atanh(rho) +/- z_(1-alpha/2) SE with the
        Bonett-Wright SE sqrt((1 + rho^2 / 2) / (n - 3)) or the Fieller SE sqrt(1.06 / (n - 3)), or a
        percentile bootstrap of pairs (``n_boot`` resamples, ``seed``).
    clusters : array-like, optional
        Patient id of each pair. The interval is then a percentile **cluster bootstrap** (patients
        resampled with replacement) whatever ``ci`` says, and the
        p-value is the bootstrap test 2 min(#{rho* <= 0} + 1, #{rho* >= 0} + 1) / (B + 1) (the scipy
        p-value would treat lesions as independent).
    n_boot, seed : int
        Bootstrap resamples and random seed (results are reproducible for a given seed).

    Returns
    -------
    StatResult
        ``estimate`` = rho, ``statistic`` = rho, ``p_value`` two-sided (scipy's t approximation without
        clusters). Fewer than 3 pairs or constant input give NaN with a note; the Fisher-z interval needs
        n >= 4 (NaN otherwise).
    """
    alpha = _check_alpha(alpha)
    ci = ci.lower()
    if ci not in ("bonett-wright", "fieller", "bootstrap"):
        raise InvalidInputError(f"unknown Spearman CI method {ci!r}", attribute="ci",
                                remedy="use 'bonett-wright', 'fieller' or 'bootstrap'")
    xa, ya = _as_float_array(x, "x"), _as_float_array(y, "y")
    ca = None if clusters is None else np.asarray(clusters)
    _check_same_length(x=xa, y=ya, clusters=ca)
    keep = np.isfinite(xa) & np.isfinite(ya)
    if ca is not None:
        keep &= ~pd.isna(ca)
    dropped = _dropped_note(int((~keep).sum()))
    xa, ya = xa[keep], ya[keep]
    ca = None if ca is None else ca[keep]
    n = int(xa.size)
    label = "Spearman rho"
    if n < 3:
        return _nan_result(n, label, _join(f"too few pairs (n={n}, need >= 3)", dropped))
    if np.ptp(xa) == 0 or np.ptp(ya) == 0:
        return _nan_result(n, label, _join("constant input: rho undefined", dropped))
    res = stats.spearmanr(xa, ya)
    rho, p = float(res.statistic), float(res.pvalue)
    notes = [dropped]

    def boot_rho(idx_iter) -> np.ndarray:
        out = []
        for idx in idx_iter:
            xb, yb = xa[idx], ya[idx]
            if np.ptp(xb) == 0 or np.ptp(yb) == 0:
                out.append(NAN)
                continue
            out.append(float(stats.spearmanr(xb, yb).statistic))
        return np.asarray(out)

    if ca is not None:
        n_clusters = int(np.unique(ca).size)
        if n_clusters < 3:
            return StatResult(rho, NAN, NAN, NAN, n, f"{label}, cluster bootstrap CI", rho,
                              _join(f"too few patients for a cluster bootstrap ({n_clusters})", dropped))
        reps = boot_rho(_cluster_resamples(ca, n_boot, seed))
        low, high = _percentile_ci(reps, alpha)
        finite = reps[np.isfinite(reps)]
        if finite.size:
            below, above = int((finite <= 0).sum()), int((finite >= 0).sum())
            p = min(1.0, 2 * (min(below, above) + 1) / (finite.size + 1))
        else:
            p = NAN
        notes.append(f"{n_clusters} patients, {n} observations; {finite.size}/{n_boot} valid bootstrap replicates; "
                     "p = 2 min(P*(rho* <= 0), P*(rho* >= 0)) from the cluster bootstrap")
        method = f"{label}, cluster bootstrap (patients resampled) percentile CI, seed {seed}"
        return StatResult(rho, low, high, p, n, method, rho, _join(*notes))

    if ci == "bootstrap":
        rng = np.random.default_rng(seed)
        reps = boot_rho(rng.integers(0, n, size=n) for _ in range(n_boot))
        low, high = _percentile_ci(reps, alpha)
        notes.append(f"{int(np.isfinite(reps).sum())}/{n_boot} valid bootstrap replicates")
        method = f"{label}, percentile bootstrap CI, seed {seed}"
        return StatResult(rho, low, high, p, n, method, rho, _join(*notes))

    if n < 4:
        return StatResult(rho, NAN, NAN, p, n, label, rho, _join("Fisher-z CI needs n >= 4", dropped))
    se = math.sqrt((1.0 + rho**2 / 2.0) / (n - 3)) if ci == "bonett-wright" else math.sqrt(1.06 / (n - 3))
    low, high = _fisher_z_ci(rho, se, alpha)
    if abs(rho) == 1.0:
        notes.append("|rho| = 1: degenerate interval")
    name = "Bonett-Wright" if ci == "bonett-wright" else "Fieller"
    return StatResult(rho, low, high, p, n, f"{label}, Fisher-z CI with {name} SE", rho, _join(*notes))


# ---------------------------------------------------------------------------------------------------------
# rank tests


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


def wilcoxon_paired(before: Any, after: Any) -> StatResult:
    """Wilcoxon signed-rank test of paired values (after - before) with the median % change.

    Parameters
    ----------
    before, after : array-like
        Paired values per subject (pairs with NaN dropped).

    Returns
    -------
    StatResult
        ``statistic`` = W = min(R+, R-) (zero differences dropped, Wilcoxon's convention);
        ``p_value`` two-sided: exact null distribution when n <= 50 without ties or zeros, exact
        permutation of the signed mid-ranks when n <= 13 with ties/zeros, else normal approximation
        (scipy ``method="auto"``; the method says which). ``estimate`` = median of
        100 (after - before) / before (%), pairs with before <= 0 excluded from it; CI = interquartile
        range of the % changes (not a confidence interval, said in ``method``).
    """
    b, a = _as_float_array(before, "before"), _as_float_array(after, "after")
    _check_same_length(before=b, after=a)
    keep = np.isfinite(b) & np.isfinite(a)
    dropped = _dropped_note(int((~keep).sum()))
    b, a = b[keep], a[keep]
    n = int(b.size)
    d = a - b
    nz = int((d != 0).sum())
    label = "Wilcoxon signed-rank test; estimate = median % change [IQR]"
    pos = b > 0
    pct = 100.0 * d[pos] / b[pos]
    notes = [dropped]
    if (~pos).any():
        notes.append(f"{int((~pos).sum())} pair(s) with baseline <= 0 excluded from % change")
    med = float(np.median(pct)) if pct.size else NAN
    q1, q3 = (float(v) for v in np.percentile(pct, [25, 75])) if pct.size else (NAN, NAN)
    if nz < 1 or n < 2:
        return StatResult(med, q1, q3, NAN, n, label, NAN,
                          _join(f"too few non-zero differences ({nz})", *notes))
    _, t = np.unique(np.abs(d[d != 0]), return_counts=True)
    has_ties, has_zeros = bool((t > 1).any()), nz < n
    if n <= 50 and not (has_ties or has_zeros):
        kind = "exact p"
    elif n <= 13:
        kind = "exact permutation p (ties/zeros)"
    else:
        kind = "normal-approximation p"
    res = stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided", method="auto")
    if has_zeros:
        notes.append(f"{n - nz} zero difference(s) dropped from the ranks")
    return StatResult(med, q1, q3, float(res.pvalue), n, f"{label}, {kind}", float(res.statistic), _join(*notes))


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


# ---------------------------------------------------------------------------------------------------------
# ROC


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
    if ca is None:
        rng = np.random.default_rng(seed)
        resamples = (rng.integers(0, n, size=n) for _ in range(n_boot))
    else:
        resamples = _cluster_resamples(ca, n_boot, seed)
    cuts = np.array([youden(yt[idx], sc[idx])["cutoff"] for idx in resamples])
    valid = int(np.isfinite(cuts).sum())
    low, high = _percentile_ci(cuts, alpha)
    notes = f"{valid}/{n_boot} valid resamples; exploratory (data-driven cut-off)"
    if ca is not None:
        notes = f"{np.unique(ca).size} patients, {n} observations; " + notes
    return StatResult(full["cutoff"], low, high, NAN, n, label, full["j"], notes)


# ---------------------------------------------------------------------------------------------------------
# proportions and diagnostic accuracy

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


# ---------------------------------------------------------------------------------------------------------
# survival


def _survival_frame(time: Any, event: Any, group: Any, name: str) -> tuple[pd.DataFrame, str]:
    t = _as_float_array(time, "time")
    e = _binary(event, "event")
    g = pd.Series(np.asarray(group, dtype=object) if not isinstance(group, pd.Series) else group.to_numpy())
    _check_same_length(time=t, event=e, **{name: g})
    df = pd.DataFrame({"time": t, "event": e, name: g.to_numpy()})
    keep = np.isfinite(t) & ~pd.isna(df[name]).to_numpy()
    if np.any(t[np.isfinite(t)] < 0):
        raise InvalidInputError("survival times must be >= 0", attribute="time")
    return df[keep].reset_index(drop=True), _dropped_note(int((~keep).sum()))


def kaplan_meier_logrank(
    time: Any, event: Any, group: Any
) -> tuple[StatResult, dict[Any, float], dict[Any, Any]]:
    """Kaplan-Meier curves per group and the log-rank test (lifelines).

    Parameters
    ----------
    time : array-like
        Follow-up times (>= 0).
    event : array-like of 0/1
        1 = event (progression/death), 0 = censored.
    group : array-like
        Group label of each subject (2 or more groups; k > 2 uses the multivariate log-rank test).

    Returns
    -------
    result : StatResult
        ``statistic`` = log-rank chi-square (k - 1 df), ``p_value``; ``estimate`` NaN.
    medians : dict
        Group -> KM median survival time (inf when not reached, NaN when the group is empty).
    fitters : dict
        Group -> fitted :class:`lifelines.KaplanMeierFitter` (``.plot_survival_function()``).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test, multivariate_logrank_test

    df, dropped = _survival_frame(time, event, group, "group")
    levels = sorted(pd.unique(df["group"]), key=str)
    fitters: dict[Any, Any] = {}
    medians: dict[Any, float] = {}
    for level in levels:
        sub = df[df["group"] == level]
        kmf = KaplanMeierFitter(label=str(level))
        kmf.fit(sub["time"], sub["event"])
        fitters[level] = kmf
        medians[level] = float(kmf.median_survival_time_)
    n = int(len(df))
    label = "log-rank test"
    sizes = df.groupby("group", sort=False)["event"].agg(["size", "sum"])
    counts = ", ".join(f"{lv}: n={int(sizes.loc[lv, 'size'])}, events={int(sizes.loc[lv, 'sum'])}" for lv in levels)
    if len(levels) < 2:
        return _nan_result(n, label, _join("need >= 2 groups", counts, dropped)), medians, fitters
    if int(df["event"].sum()) == 0:
        return _nan_result(n, label, _join("no events", counts, dropped)), medians, fitters
    if len(levels) == 2:
        a, b = (df[df["group"] == lv] for lv in levels)
        res = logrank_test(a["time"], b["time"], event_observed_A=a["event"], event_observed_B=b["event"])
    else:
        res = multivariate_logrank_test(df["time"], df["group"], df["event"])
    result = StatResult(NAN, NAN, NAN, float(res.p_value), n, label, float(res.test_statistic),
                        _join(f"df={len(levels) - 1}", counts, dropped))
    return result, medians, fitters


def cox_hr(
    time: Any,
    event: Any,
    covariate: Any,
    *,
    ties: str = "efron",
    reference: Any = None,
    alpha: float = 0.05,
) -> StatResult:
    """Univariable Cox proportional-hazards hazard ratio (lifelines ``CoxPHFitter``, Efron ties).

    Parameters
    ----------
    time, event : array-like
        As for :func:`kaplan_meier_logrank`.
    covariate : array-like
        Numeric: HR per unit (rescale beforehand for per-SD or per-log2 HRs). Categorical (strings,
        booleans, pandas categoricals) with exactly two levels: indicator of the non-reference level.
    ties : {"efron"}
        Tie handling; lifelines implements Efron's method only.
    reference : optional
        Reference level of a categorical covariate (default: the first level in sorted order;
        ``False`` for booleans).
    alpha : float
        1 - confidence level.

    Returns
    -------
    StatResult
        ``estimate`` = HR = exp(coef), Wald CI exp(coef +/- z SE), Wald p, ``statistic`` = Wald z.
        No events, a constant covariate or a convergence failure give NaN with a note.
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    alpha = _check_alpha(alpha)
    if ties.lower() != "efron":
        raise InvalidInputError(f"ties={ties!r} is not supported", attribute="ties",
                                remedy="lifelines implements Efron ties only: use ties='efron'")
    cov = covariate.to_numpy() if isinstance(covariate, pd.Series) else np.asarray(covariate)
    df, dropped = _survival_frame(time, event, cov, "x")
    label = "Cox proportional hazards (Efron ties), Wald CI"
    categorical = not (np.issubdtype(cov.dtype, np.number) and cov.dtype != bool)
    note_level = ""
    if categorical:
        levels = sorted(pd.unique(df["x"]), key=lambda v: (str(type(v)), v if isinstance(v, bool) else str(v)))
        if len(levels) > 2:
            raise InvalidInputError(f"categorical covariate has {len(levels)} levels; cox_hr handles 2",
                                    attribute="covariate", remedy="pass a numeric coding or a two-level subset")
        if reference is None:
            reference = levels[0] if levels else None
        elif reference not in levels:
            raise InvalidInputError(f"reference level {reference!r} not in {levels}", attribute="reference")
        other = [lv for lv in levels if lv != reference]
        note_level = f"HR of {other[0]!s} vs {reference!s}" if other else ""
        df["x"] = (df["x"] != reference).astype(float)
        label = f"{label}; {note_level}" if note_level else label
    else:
        df["x"] = df["x"].astype(float)
    n = int(len(df))
    events = int(df["event"].sum())
    counts = f"n={n}, events={events}"
    if events == 0:
        return _nan_result(n, label, _join("no events", counts, dropped))
    if df["x"].nunique() < 2:
        return _nan_result(n, label, _join("covariate is constant", counts, dropped))
    cph = CoxPHFitter(alpha=alpha)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph.fit(df[["time", "event", "x"]], duration_col="time", event_col="event")
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
        return _nan_result(n, label, _join(f"Cox model did not converge: {exc}".splitlines()[0], counts, dropped))
    summary = cph.summary.loc["x"]
    coef, se = float(summary["coef"]), float(summary["se(coef)"])
    zq = stats.norm.ppf(1 - alpha / 2)
    if not (math.isfinite(coef) and math.isfinite(se)) or abs(coef) + zq * se > 700:
        # monotone likelihood (complete separation): the estimate runs to infinity
        return _nan_result(n, label, _join(f"Cox estimate not finite (coef={coef:.3g}, SE={se:.3g}): complete "
                                           "separation of events by the covariate", counts, dropped))
    hr = math.exp(coef)
    notes = _join(counts, f"coef={coef:.6g}, SE={se:.6g}", dropped)
    return StatResult(hr, math.exp(coef - zq * se), math.exp(coef + zq * se), float(summary["p"]), n, label,
                      float(summary["z"]), notes)


# ---------------------------------------------------------------------------------------------------------
# mixed models and multiplicity


def _fit_mixedlm(df: pd.DataFrame, formula: str, groups: str):
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


def benjamini_hochberg(p_values: Any) -> np.ndarray:
    """Benjamini-Hochberg FDR-adjusted p-values (statsmodels ``multipletests(method="fdr_bh")``).

    Parameters
    ----------
    p_values : array-like
        Raw p-values; NaN entries are ignored (not counted among the tests) and stay NaN.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.
    """
    from statsmodels.stats.multitest import multipletests

    p = _as_float_array(p_values, "p_values")
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise InvalidInputError("p-values must lie in [0, 1]", attribute="p_values")
    out = np.full(p.shape, np.nan)
    if finite.any():
        out[finite] = multipletests(p[finite], method="fdr_bh")[1]
    return out


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
