"""Spearman's rank correlation with Fisher-z (Bonett-Wright, Fieller) or cluster-bootstrap confidence intervals."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ...errors import InvalidInputError
from ...progress import track
from .core import (
    NAN,
    StatResult,
    _as_float_array,
    _check_alpha,
    _check_same_length,
    _cluster_resamples,
    _dropped_note,
    _join,
    _nan_result,
    _percentile_ci,
)

__all__ = ["spearman"]


def _fisher_z_ci(rho: float, se: float, alpha: float) -> tuple[float, float]:
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        center = np.arctanh(rho)
        return float(np.tanh(center - z * se)), float(np.tanh(center + z * se))


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

    def boot_rho(idx_iter: Iterable[np.ndarray]) -> np.ndarray:
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
        reps = boot_rho(rng.integers(0, n, size=n) for _ in track(range(n_boot), "bootstrap", unit="resamples"))
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
