"""Diffusion fits of trace-weighted multi-b signals (issue 19): IVIM (segmented and full), the diffusion-kurtosis
signal of Jensen et al. (2005) and the mono-exponential ADC (``shared/reference/mri.md`` sections 5 and 6).

b in s/mm², D, D* and ADC in mm²/s. A clinical trace-weighted DWI has one signal per b (no directions), so the
published signal equations are fitted with scipy rather than dipy's tensor models (which need gradient directions).

* IVIM: S(b) = S0 [f exp(-b D*) + (1 - f) exp(-b D)]. ``segmented``: D and the intercept from a log-linear fit of
  b >= ``b_threshold`` (200), f = 1 - intercept / S0, then D* with D and f fixed; ``full``: all four bounded,
  started from the segmented result.
  ``bayesian``: the posterior of (f, D, D*) on a grid (f uniform on [0, 1]; D and D* log-uniform on
  [1e-4, 4e-3] and [3e-3, 0.3] mm²/s, D* > D), S0 and the noise SD marginalised analytically (a flat prior on the
  amplitude, Jeffreys' on the SD: Bretthorst 1988; Neil and Bretthorst 1993 for IVIM), so that
  p(theta | S) ~ (g'g)^(-1/2) (S'S - (g'S)^2 / g'g)^(-(N-1)/2) for the model shape g of theta; the estimates are
  the posterior means, with the posterior SD and the 95 % equal-tailed credible interval of each parameter.
  Not converged when the posterior mode lies on the edge of the grid (the prior range is too narrow).
* DKI: S(b) = S0 exp(-b D + b² D² K / 6), bounded K in [0, 3].
* IVIM-kurtosis (``ivim-dki``; Lu et al. 2012): S(b) = S0 [f exp(-b D*) + (1 - f) exp(-b D + b² D² K / 6)] on every
  b-value, started from the segmented IVIM of b <= 1000 and the kurtosis of b >= ``b_threshold``: with b-values
  beyond 1000 neither the bi-exponential (kurtosis bends its tissue term) nor Jensen's model alone (the perfusion
  term lifts its low b) holds, and a fit of one to such data is biased.
* ADC: log-linear fit over the b-values in ``adc_range`` (default 0-1000).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

__all__ = ["IvimFit", "DkiFit", "IvimDkiFit", "IvimPosterior", "fit_ivim", "fit_dki", "fit_ivim_dki", "fit_adc",
           "ivim_posterior", "posterior_fit", "IVIM_METHODS", "DWI_METHODS"]

FloatArray = NDArray[np.float64]
IVIM_METHODS = ("segmented", "full", "bayesian")
#: The DWI stage's methods: the IVIM ones and the joint IVIM-kurtosis fit.
DWI_METHODS = (*IVIM_METHODS, "ivim-dki")
_DSTAR_BOUNDS = (3e-3, 0.3)  # mm²/s: D* is poorly conditioned; the reference's bounds


@dataclass(frozen=True)
class IvimFit:
    """f, D, D* (mm²/s), S0, the ADC of ``adc_range``, and whether the fit converged inside its bounds."""

    f: float
    d_mm2_per_s: float
    dstar_mm2_per_s: float
    s0: float
    adc_mm2_per_s: float
    converged: bool


@dataclass(frozen=True)
class DkiFit:
    """Apparent D (mm²/s) and K of Jensen's model, S0, the ADC, and convergence."""

    d_app_mm2_per_s: float
    k_app: float
    s0: float
    adc_mm2_per_s: float
    converged: bool


def fit_adc(b: FloatArray, s: FloatArray, adc_range: tuple[float, float] = (0.0, 1000.0)) -> float:
    """Mono-exponential ADC (mm²/s) from a log-linear fit of the b-values within ``adc_range`` (NaN if < 2)."""
    b, s = np.asarray(b, float), np.asarray(s, float)
    keep = (b >= adc_range[0]) & (b <= adc_range[1]) & (s > 0)
    if np.unique(b[keep]).size < 2:
        return math.nan
    slope = np.polyfit(b[keep], np.log(s[keep]), 1)[0]
    return float(-slope)


def _segmented(b: FloatArray, s: FloatArray, b_threshold: float) -> tuple[float, float, float, float]:
    high = (b >= b_threshold) & (s > 0)
    slope, intercept = np.polyfit(b[high], np.log(s[high]), 1)
    d = float(-slope)
    s0 = float(np.mean(s[b == b.min()]))
    f = float(1.0 - math.exp(intercept) / s0)

    def resid(x: FloatArray) -> FloatArray:
        return s0 * (f * np.exp(-b * x[0]) + (1 - f) * np.exp(-b * d)) - s

    dstar = float(least_squares(resid, [0.02], bounds=([_DSTAR_BOUNDS[0]], [_DSTAR_BOUNDS[1]])).x[0])
    return s0, f, dstar, d


def fit_ivim(b: FloatArray, s: FloatArray, *, method: str = "segmented", b_threshold: float = 200.0,
             adc_range: tuple[float, float] = (0.0, 1000.0)) -> IvimFit:
    """IVIM parameters of one signal curve (b in s/mm²); ``method`` one of :data:`IVIM_METHODS`."""
    if method not in IVIM_METHODS:
        raise ValueError(f"unknown IVIM method {method!r}")
    b, s = np.asarray(b, float), np.asarray(s, float)
    if method == "bayesian":
        return posterior_fit(ivim_posterior(b, s), b, s, adc_range)
    s0, f, dstar, d = _segmented(b, s, b_threshold)
    converged = all(math.isfinite(v) for v in (s0, f, dstar, d)) and 0 <= f <= 1 and d > 0
    if method == "full":
        def resid(x: FloatArray) -> FloatArray:
            return x[0] * (x[1] * np.exp(-b * x[2]) + (1 - x[1]) * np.exp(-b * x[3])) - s

        low = [0.0, 0.0, _DSTAR_BOUNDS[0], 0.0]
        high = [np.inf, 1.0, _DSTAR_BOUNDS[1], _DSTAR_BOUNDS[0]]
        x0 = np.clip([s0, min(max(f, 0.01), 0.99), dstar, d], np.array(low) + 1e-12, np.array(high) - 1e-12)
        res = least_squares(resid, x0, bounds=(low, high), method="trf", x_scale="jac")
        s0, f, dstar, d = (float(v) for v in res.x)
        converged = bool(res.success) and all(lo < v < hi for v, lo, hi in zip(res.x[1:], low[1:], high[1:],
                                                                             strict=True))
    return IvimFit(f=f, d_mm2_per_s=d, dstar_mm2_per_s=dstar, s0=s0, adc_mm2_per_s=fit_adc(b, s, adc_range),
                   converged=bool(converged))


@dataclass(frozen=True)
class IvimPosterior:
    """Posterior means of f, D, D* (mm²/s) and S0, the posterior SDs and 95 % credible intervals (low, high) of
    f, D and D*, and whether the posterior mode lies inside the prior grid."""

    f: float
    d_mm2_per_s: float
    dstar_mm2_per_s: float
    s0: float
    sd: dict[str, float]
    interval: dict[str, tuple[float, float]]
    converged: bool


#: The prior grid of the Bayesian IVIM: f uniform, D and D* log-uniform (mm²/s).
BAYES_F = np.linspace(0.0, 1.0, 51)
BAYES_D = np.geomspace(1e-4, 4e-3, 61)
BAYES_DSTAR = np.geomspace(_DSTAR_BOUNDS[0], _DSTAR_BOUNDS[1], 61)
_REFINE_POINTS, _REFINE_PASSES = 25, 5


_Grid = tuple[FloatArray, tuple[NDArray[np.intp], ...], tuple[FloatArray, ...]]


def posterior_fit(post: IvimPosterior, b: FloatArray, s: FloatArray,
                  adc_range: tuple[float, float] = (0.0, 1000.0)) -> IvimFit:
    """The :class:`IvimFit` of a posterior (its means), with the ADC of ``adc_range``."""
    return IvimFit(f=post.f, d_mm2_per_s=post.d_mm2_per_s, dstar_mm2_per_s=post.dstar_mm2_per_s, s0=post.s0,
                   adc_mm2_per_s=fit_adc(b, s, adc_range), converged=post.converged)


def _shapes(b: FloatArray, axes: tuple[FloatArray, FloatArray, FloatArray]) -> _Grid:
    """The model shapes g (grid points x b) with S0 = 1 on the Cartesian grid of the (f, D, D*) ``axes``, rows with
    D* > D only; each row's index on each axis; the axes."""
    index = [i.ravel() for i in np.meshgrid(*(np.arange(len(a)) for a in axes), indexing="ij")]
    f, d, dstar = (axis[i] for axis, i in zip(axes, index, strict=True))
    keep = dstar > d
    index = [i[keep] for i in index]
    f, d, dstar = f[keep], d[keep], dstar[keep]
    g = f[:, None] * np.exp(-np.outer(dstar, b)) + (1 - f)[:, None] * np.exp(-np.outer(d, b))
    return g, tuple(index), axes


@lru_cache(maxsize=8)
def _prior_grid(b_key: tuple[float, ...]) -> tuple[_Grid, FloatArray]:
    """:func:`_shapes` of the whole prior grid for one set of b-values, and g'g (cached: the maps reuse it)."""
    grid = _shapes(np.array(b_key), (BAYES_F, BAYES_D, BAYES_DSTAR))
    return grid, np.einsum("ij,ij->i", grid[0], grid[0])


def _posterior(g: FloatArray, gg: FloatArray, s: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Normalised posterior weights of the grid rows, and the amplitude S0 of each row (least squares)."""
    gs = g @ s
    ss = float(s @ s)
    rss = np.maximum(ss - gs ** 2 / gg, ss * 1e-14)
    log_post = -0.5 * np.log(gg) - 0.5 * (len(s) - 1) * np.log(rss)
    w = np.exp(log_post - log_post.max())
    return w / w.sum(), gs / gg


def _quantiles(axis: FloatArray, marginal: FloatArray, q: tuple[float, ...]) -> list[float]:
    """Quantiles of a discrete marginal posterior on the sorted ``axis``."""
    cdf = np.cumsum(marginal)
    cdf /= cdf[-1]
    return [float(axis[min(int(np.searchsorted(cdf, p)), len(axis) - 1)]) for p in q]


def _refined_axis(axis: FloatArray, marginal: FloatArray, *, log: bool) -> FloatArray:
    """A finer axis over the marginal posterior's support on ``axis`` (its 0.05-99.95 % range and one step of
    ``axis`` on each side, within the axis)."""
    low, high = _quantiles(axis, marginal, (0.0005, 0.9995))
    scale: tuple[Any, Any] = (np.log, np.exp) if log else (lambda v: v, lambda v: v)
    values = scale[0](axis)
    step = float(np.median(np.diff(values))) if len(axis) > 1 else 0.0
    lo = max(float(scale[0](low)) - step, float(values[0]))
    hi = min(float(scale[0](high)) + step, float(values[-1]))
    return np.asarray(scale[1](np.linspace(lo, hi, _REFINE_POINTS)), dtype=float)


def ivim_posterior(b: FloatArray, s: FloatArray) -> IvimPosterior:
    """The grid posterior of IVIM (see the module docstring) for one signal curve: the prior grid, then
    :data:`_REFINE_PASSES` finer grids over the posterior's support (the summaries come from the last)."""
    b, s = np.asarray(b, float), np.asarray(s, float)
    (g, index, axes), gg = _prior_grid(tuple(float(v) for v in b))
    w, amplitude = _posterior(g, gg, s)
    mode = int(np.argmax(w))
    edge = (index[1][mode] in (0, len(BAYES_D) - 1) or index[2][mode] in (0, len(BAYES_DSTAR) - 1)
            or index[0][mode] == len(BAYES_F) - 1)

    def marginals() -> list[FloatArray]:
        return [np.asarray(np.bincount(i, weights=w, minlength=len(a)), dtype=float)
                for i, a in zip(index, axes, strict=True)]

    for _ in range(_REFINE_PASSES):
        m = marginals()
        refined = (_refined_axis(axes[0], m[0], log=False), _refined_axis(axes[1], m[1], log=True),
                   _refined_axis(axes[2], m[2], log=True))
        g_new, index_new, axes_new = _shapes(b, refined)
        if not len(g_new):
            break
        g, index, axes = g_new, index_new, axes_new
        w, amplitude = _posterior(g, np.einsum("ij,ij->i", g, g), s)
    m = marginals()
    keys = ("f", "d", "dstar")
    means = {k: float(a @ mk) for k, a, mk in zip(keys, axes, m, strict=True)}
    sd = {k: float(math.sqrt(max(float(((a - means[k]) ** 2) @ mk), 0.0))) for k, a, mk in zip(keys, axes, m,
                                                                                              strict=True)}
    interval = {k: (lambda q: (q[0], q[1]))(_quantiles(a, mk, (0.025, 0.975))) for k, a, mk in zip(keys, axes, m,
                                                                                                     strict=True)}
    return IvimPosterior(f=means["f"], d_mm2_per_s=means["d"], dstar_mm2_per_s=means["dstar"],
                         s0=float(w @ amplitude), sd=sd, interval=interval,
                         converged=not edge and all(math.isfinite(v) for v in means.values()))


def fit_dki(b: FloatArray, s: FloatArray, *, adc_range: tuple[float, float] = (0.0, 1000.0)) -> DkiFit:
    """Jensen's kurtosis signal fitted to one curve; started from the ADC of all b-values."""
    b, s = np.asarray(b, float), np.asarray(s, float)
    s0 = float(np.mean(s[b == b.min()]))
    d0 = fit_adc(b, s, (float(b.min()), float(b.max())))
    d0 = d0 if math.isfinite(d0) and d0 > 0 else 1e-3

    def resid(x: FloatArray) -> FloatArray:
        return x[0] * np.exp(-b * x[1] + b ** 2 * x[1] ** 2 * x[2] / 6.0) - s

    low, high = [0.0, 1e-6, 0.0], [np.inf, 5e-3, 3.0]
    res = least_squares(resid, np.clip([s0, d0, 0.8], np.array(low) + 1e-12, np.array(high) - 1e-12),
                        bounds=(low, high), method="trf", x_scale="jac")
    s0, d, k = (float(v) for v in res.x)
    valid = b.max() < 3.0 / (d * k) if k > 0 else True  # below the signal minimum: the expansion holds
    converged = bool(res.success) and 0 < k < 3 and valid
    return DkiFit(d_app_mm2_per_s=d, k_app=k, s0=s0, adc_mm2_per_s=fit_adc(b, s, adc_range), converged=converged)


@dataclass(frozen=True)
class IvimDkiFit:
    """The IVIM-kurtosis fit of one curve: the IVIM parameters (its D is the kurtosis model's D) and K."""

    ivim: IvimFit
    k: float


def fit_ivim_dki(b: FloatArray, s: FloatArray, *, b_threshold: float = 200.0,
                 adc_range: tuple[float, float] = (0.0, 1000.0)) -> IvimDkiFit:
    """IVIM with a kurtosis tissue term (see the module docstring), all five parameters bounded."""
    b, s = np.asarray(b, float), np.asarray(s, float)
    low_b = b <= 1000.0
    start = fit_ivim(b[low_b], s[low_b], method="segmented", b_threshold=b_threshold)
    high = b >= b_threshold
    dki = fit_dki(b[high], s[high]) if np.unique(b[high]).size >= 3 else None
    k0 = dki.k_app if dki is not None and math.isfinite(dki.k_app) else 0.8
    d0 = dki.d_app_mm2_per_s if dki is not None and math.isfinite(dki.d_app_mm2_per_s) else start.d_mm2_per_s

    def resid(x: FloatArray) -> FloatArray:
        tissue = np.exp(-b * x[3] + (b * x[3]) ** 2 * x[4] / 6.0)
        return x[0] * (x[1] * np.exp(-b * x[2]) + (1 - x[1]) * tissue) - s

    low = np.array([0.0, 0.0, _DSTAR_BOUNDS[0], 1e-6, 0.0])
    high_bound = np.array([np.inf, 1.0, _DSTAR_BOUNDS[1], _DSTAR_BOUNDS[0], 3.0])
    x0 = np.array([start.s0, start.f, start.dstar_mm2_per_s, d0, k0], dtype=float)
    x0 = np.where(np.isfinite(x0), x0, [s.max(), 0.1, 0.02, 1e-3, 0.8])
    x0 = np.clip(x0, low + 1e-9, high_bound - 1e-9)
    res = least_squares(resid, x0, bounds=(low, high_bound), method="trf", x_scale="jac", xtol=1e-12, ftol=1e-12)
    s0, f, dstar, d, k = (float(v) for v in res.x)
    interior = all(lo < v < hi for v, lo, hi in zip(res.x[1:], low[1:], high_bound[1:], strict=True))
    valid = b.max() < 3.0 / (d * k) if k > 0 else True
    converged = bool(res.success) and interior and valid
    ivim = IvimFit(f=f, d_mm2_per_s=d, dstar_mm2_per_s=dstar, s0=s0, adc_mm2_per_s=fit_adc(b, s, adc_range),
                   converged=converged)
    return IvimDkiFit(ivim=ivim, k=k)
