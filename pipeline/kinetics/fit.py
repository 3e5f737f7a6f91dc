"""Non-linear least-squares fits of compartment models (plasma input) and SRTM (reference input).

Units: times in **minutes**, rate constants in min⁻¹, K1 in mL·cm⁻³·min⁻¹, concentrations kBq/mL.
Blood-volume convention: ``models.VB_CONVENTION`` (whole blood in the vB term).

Objective: ``Σ w_i·(y_i − f_i(θ))²`` with ``f`` the model **frame average** (fine grid, see
:mod:`pipeline.kinetics.models`), minimised by ``scipy.optimize.least_squares`` (method "trf",
box bounds) from several starts; the lowest-cost converged run is kept.

Uncertainty: ``cov = σ²·(JᵀJ)⁻¹`` with J the Jacobian of the weighted residuals at the solution
and ``σ² = WRSS/(n − p)``. Macro-parameter SEs by the delta method (numerical gradient).

Information criteria (Gaussian likelihood, σ² profiled out, p = number of fitted model
parameters, σ² not counted — the PMOD/Akaike PET convention):
``AIC = n·ln(WRSS/n) + 2p``; small-sample corrected ``AICc = AIC + 2p(p + 1)/(n − p − 1)``.
Compare models with ``aicc`` (the default recommendation) on the same data and weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import OptimizeResult, least_squares

from pipeline.kinetics.models import (
    DEFAULT_DT,
    MODEL_PARAMS,
    VB_CONVENTION,
    BloodInput,
    frame_average,
    make_grid,
    pet_curve,
    sample_blood,
    srtm_curve,
    unphysical,
)

FloatArray = NDArray[np.float64]

#: Default bounds per parameter (kinfitr 2TCM defaults, reference §1.1).
DEFAULT_BOUNDS: dict[str, tuple[float, float]] = {
    "K1": (1e-4, 0.5), "k2": (1e-4, 0.5), "k3": (1e-4, 0.5), "k4": (1e-4, 0.5), "vB": (0.0, 0.1),
}
#: Default starting points (several starts; the best is kept).
DEFAULT_STARTS: dict[str, list[dict[str, float]]] = {
    "1tcm": [{"K1": 0.1, "k2": 0.1, "vB": 0.05}, {"K1": 0.2, "k2": 0.05, "vB": 0.02},
             {"K1": 0.05, "k2": 0.02, "vB": 0.05}],
    "2tcm": [{"K1": 0.1, "k2": 0.1, "k3": 0.1, "k4": 0.1, "vB": 0.05},
             {"K1": 0.2, "k2": 0.2, "k3": 0.02, "k4": 0.05, "vB": 0.02},
             {"K1": 0.05, "k2": 0.05, "k3": 0.05, "k4": 0.01, "vB": 0.05}],
    "2tcm_irr": [{"K1": 0.1, "k2": 0.1, "k3": 0.1, "vB": 0.05},
                 {"K1": 0.2, "k2": 0.2, "k3": 0.02, "vB": 0.02},
                 {"K1": 0.05, "k2": 0.05, "k3": 0.01, "vB": 0.05}],
    "srtm": [{"R1": 1.0, "k2": 0.1, "BPND": 1.0}, {"R1": 0.5, "k2": 0.3, "BPND": 3.0},
             {"R1": 1.5, "k2": 0.05, "BPND": 0.3}],
}
SRTM_BOUNDS: dict[str, tuple[float, float]] = {"R1": (1e-3, 10.0), "k2": (1e-4, 2.0), "BPND": (-0.9, 20.0)}


@dataclass
class FitResult:
    """Outcome of a kinetic fit.

    Attributes
    ----------
    model : str
        "1tcm", "2tcm", "2tcm_irr" or "srtm".
    params, se : dict
        Estimates and standard errors (NaN if the covariance is singular). Units: min⁻¹ for
        rate constants, mL·cm⁻³·min⁻¹ for K1, unitless for vB, R1, BPND.
    macro, macro_se : dict
        VT, VND, BPND, VS, Ki (as applicable) with delta-method SEs.
    converged : bool
        True only if the optimiser reported convergence, the covariance is finite, no parameter
        other than vB lies at a bound and the estimates are physical (rate constants, K1 and R1
        > 0, vB >= 0, BPND > −1, every macro-parameter finite: only bounds wider than the defaults
        can break this).
    message : str
        Optimiser message plus warnings (parameters at bounds, singular covariance).
    wrss : float
        Weighted residual sum of squares.
    n, n_params : int
        Number of frames used and of fitted parameters.
    aic, aicc : float
        Akaike information criterion and its small-sample correction (see module docstring).
    fitted, residuals : ndarray
        Model frame averages and unweighted residuals (kBq/mL).
    at_bounds : list of str
        Parameters within 1e-6 (relative to the range) of a bound.
    starts_tried, starts_converged : int
        Multistart bookkeeping.
    vb_convention : str
        The blood-volume equation used.
    """

    model: str
    params: dict[str, float]
    se: dict[str, float]
    macro: dict[str, float]
    macro_se: dict[str, float]
    converged: bool
    message: str
    wrss: float
    n: int
    n_params: int
    aic: float
    aicc: float
    fitted: FloatArray
    residuals: FloatArray
    cov: FloatArray
    at_bounds: list[str] = field(default_factory=list)
    starts_tried: int = 0
    starts_converged: int = 0
    vb_convention: str = VB_CONVENTION


def compartment_macro(model: str, p: dict[str, float]) -> dict[str, float]:
    """Macro-parameters: VND = K1/k2; VT = VND·(1 + k3/k4); VS = K1·k3/(k2·k4); BPND = k3/k4;
    Ki = K1·k3/(k2 + k3) (irreversible)."""
    K1, k2 = p["K1"], p["k2"]
    out = {"VND": K1 / k2}
    if model == "1tcm":
        out["VT"] = K1 / k2
    elif model == "2tcm":
        k3, k4 = p["k3"], p["k4"]
        out.update(VT=K1 / k2 * (1 + k3 / k4), VS=K1 * k3 / (k2 * k4), BPND=k3 / k4, Ki=K1 * k3 / (k2 + k3))
    elif model == "2tcm_irr":
        k3 = p["k3"]
        out["Ki"] = K1 * k3 / (k2 + k3)
    return out


def _frames(frame_mid: ArrayLike, frame_durations: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    mid = np.asarray(frame_mid, dtype=float)
    dur = np.asarray(frame_durations, dtype=float)
    if mid.shape != dur.shape or mid.ndim != 1:
        raise ValueError("frame_mid and frame_durations must be 1-D of equal length")
    if np.any(dur <= 0):
        raise ValueError("frame durations must be > 0")
    return mid, mid - dur / 2.0, mid + dur / 2.0


def _run(residual_fn: Callable[[FloatArray], FloatArray], names: Sequence[str], starts: Sequence[dict[str, float]],
         bounds: dict[str, tuple[float, float]], max_nfev: int | None,
         ) -> tuple[OptimizeResult | None, int, int]:
    lo = np.array([bounds[k][0] for k in names])
    hi = np.array([bounds[k][1] for k in names])
    best, best_key, n_conv = None, None, 0
    for s in starts:
        x0 = np.clip(np.array([s[k] for k in names], dtype=float), lo, hi)
        x0 = np.where(x0 <= lo, lo + 1e-6 * (hi - lo), np.where(x0 >= hi, hi - 1e-6 * (hi - lo), x0))
        try:
            r = least_squares(residual_fn, x0, bounds=(lo, hi), method="trf", x_scale="jac",
                              xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=max_nfev)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            continue
        if not np.all(np.isfinite(r.fun)):
            continue
        ok = bool(r.success and r.status > 0)
        n_conv += ok
        key = (not ok, float(r.cost))
        if best_key is None or key < best_key:
            best, best_key = r, key
    return best, len(starts), n_conv


def _finish(model: str, names: Sequence[str], r: OptimizeResult, sw: FloatArray, y: FloatArray,
            model_fn: Callable[[FloatArray], FloatArray], macro_fn: Callable[[dict[str, float]], dict[str, float]],
            bounds: dict[str, tuple[float, float]], n_tried: int, n_conv: int) -> FitResult:
    x = np.asarray(r.x, dtype=float)
    n, p = y.size, x.size
    fitted = model_fn(x)
    wres = sw * (y - fitted)
    wrss = float(np.sum(wres**2))
    msgs = [str(r.message)]
    converged = bool(r.success and r.status > 0)
    dof = n - p
    J = np.asarray(r.jac, dtype=float)
    cov = np.full((p, p), np.nan)
    if dof > 0:
        sigma2 = wrss / dof
        jtj = J.T @ J
        if np.all(np.isfinite(jtj)) and np.linalg.matrix_rank(jtj) == p:
            cov = sigma2 * np.linalg.inv(jtj)
        else:
            msgs.append("singular Jacobian: standard errors undefined")
    else:
        msgs.append("no residual degrees of freedom")
    if not np.all(np.isfinite(cov)):
        converged = False
    params = dict(zip(names, map(float, x), strict=True))
    se = dict(zip(names, map(float, np.sqrt(np.abs(np.diag(cov)))), strict=True))
    at_bounds = [k for k in names if min(params[k] - bounds[k][0], bounds[k][1] - params[k])
                 <= 1e-6 * (bounds[k][1] - bounds[k][0])]
    if at_bounds:
        msgs.append(f"parameters at bounds: {', '.join(at_bounds)}")
    if set(at_bounds) - {"vB"}:  # vB = 0 is a physical limit; a rate or BPND at its bound is no optimum
        converged = False
    with np.errstate(divide="ignore", invalid="ignore"):
        macro = {k: float(v) for k, v in macro_fn(params).items()}
    problems = unphysical({**params, **macro}, positive=("K1", "k2", "k3", "k4", "R1"), non_negative=("vB",),
                          above={"BPND": -1.0})
    if problems:
        msgs.append(f"unphysical {', '.join(problems)}")
        converged = False
    macro_se: dict[str, float] = {}
    for key, val in macro.items():
        g = np.zeros(p)
        for i in range(p):
            h = 1e-6 * max(abs(x[i]), 1e-8)
            xp = x.copy()
            xp[i] += h
            g[i] = (macro_fn(dict(zip(names, xp, strict=True)))[key] - val) / h
        macro_se[key] = float(np.sqrt(abs(g @ cov @ g))) if np.all(np.isfinite(cov)) else float("nan")
    rss_n = max(wrss / n, np.finfo(float).tiny)
    aic = n * np.log(rss_n) + 2 * p
    aicc = aic + (2 * p * (p + 1) / (n - p - 1) if n - p - 1 > 0 else np.inf)
    if not converged and "not converged" not in msgs:
        msgs.insert(0, "not converged")
    return FitResult(model=model, params=params, se=se, macro=macro, macro_se=macro_se, converged=converged,
                     message="; ".join(msgs), wrss=wrss, n=n, n_params=p, aic=float(aic), aicc=float(aicc),
                     fitted=fitted, residuals=y - fitted, cov=cov, at_bounds=at_bounds, starts_tried=n_tried,
                     starts_converged=n_conv)


def _weights(weights: ArrayLike | None, n: int) -> FloatArray:
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite, non-negative, one per frame")
    return np.sqrt(w)


def fit_compartment(model: str, frame_mid: ArrayLike, frame_durations: ArrayLike, tac: ArrayLike,
                    plasma: BloodInput, whole_blood: BloodInput | None = None, *,
                    weights: ArrayLike | None = None, starts: Sequence[dict[str, float]] | None = None,
                    bounds: dict[str, tuple[float, float]] | None = None, fit_vb: bool = True,
                    vb: float = 0.0, dt: float = DEFAULT_DT, max_nfev: int | None = None) -> FitResult:
    """Fit a plasma-input compartment model to a frame-averaged TAC.

    Parameters
    ----------
    model : {"1tcm", "2tcm", "2tcm_irr"}
        Model; parameters ``MODEL_PARAMS[model]``.
    frame_mid, frame_durations : array_like
        Frame mid-times and durations (min). Frames are [mid − dur/2, mid + dur/2].
    tac : array_like
        Decay-corrected VOI frame averages (kBq/mL).
    plasma : callable or (times, values)
        Metabolite-corrected arterial plasma input (kBq/mL; times in min).
    whole_blood : callable or (times, values), optional
        Whole-blood curve for the vB term; defaults to ``plasma``.
    weights : array_like, optional
        Frame weights (e.g. frame duration); default 1.
    starts : sequence of dict, optional
        Starting points (default ``DEFAULT_STARTS[model]``); the best converged run is kept.
    bounds : dict, optional
        Per-parameter (low, high); missing entries from ``DEFAULT_BOUNDS``.
    fit_vb : bool
        If False, vB is fixed at ``vb``.
    dt : float
        Fine-grid step (min) for the convolution.
    max_nfev : int, optional
        Evaluation limit per start (a low value forces ``converged = False``).

    Returns
    -------
    FitResult
    """
    if model not in MODEL_PARAMS:
        raise ValueError(f"unknown model {model!r}")
    mid, fs, fe = _frames(frame_mid, frame_durations)
    y = np.asarray(tac, dtype=float)
    if y.shape != mid.shape:
        raise ValueError("tac must have one value per frame")
    sw = _weights(weights, y.size)
    tg = make_grid(float(fe.max()), dt)
    cp = sample_blood(plasma, tg)
    cwb = cp if whole_blood is None else sample_blood(whole_blood, tg)
    names = [k for k in MODEL_PARAMS[model] if fit_vb or k != "vB"]
    bnd = {**DEFAULT_BOUNDS, **(bounds or {})}

    def model_fn(x: FloatArray) -> FloatArray:
        p = dict(zip(names, x, strict=True))
        p.setdefault("vB", vb)
        return frame_average(tg, pet_curve(model, p, tg, cp, cwb), fs, fe)

    def resid(x: FloatArray) -> FloatArray:
        return sw * (model_fn(x) - y)

    st = list(starts) if starts is not None else DEFAULT_STARTS[model]
    r, n_tried, n_conv = _run(resid, names, st, bnd, max_nfev)
    if r is None:
        raise RuntimeError("all starts failed")
    res = _finish(model, names, r, sw, y, model_fn, lambda p: compartment_macro(model, p), bnd, n_tried, n_conv)
    if not fit_vb:
        res.params["vB"] = vb
        res.se["vB"] = 0.0
    return res


def fit_srtm(frame_mid: ArrayLike, durations: ArrayLike, target: ArrayLike, reference: ArrayLike, *,
             weights: ArrayLike | None = None, starts: Sequence[dict[str, float]] | None = None,
             bounds: dict[str, tuple[float, float]] | None = None, dt: float = DEFAULT_DT,
             max_nfev: int | None = None, sampling: str = "mid") -> FitResult:
    """Fit SRTM (Lammertsma & Hume 1996) → R1, k2 (min⁻¹), BPND.

    The reference TAC (frame averages) is treated as point values at the frame mid-times and
    interpolated linearly from (0, 0) onto a fine grid (step ``dt`` min), held constant after
    the last mid-point; the model is convolved exactly on that grid. ``sampling="mid"``
    (default) compares the model at the frame mid-times — consistent with that interpolation
    and with reference §1.5 (KAT4: R1 1.2005, k2 0.12033, BPND 1.9962); ``sampling="average"``
    frame-averages the model instead (KAT4: BPND 1.9910, k2 0.1211). ``macro`` holds
    k2a = k2/(1 + BPND) and k2_ref = k2/R1 (min⁻¹). Other arguments as for
    :func:`fit_compartment`.
    """
    if sampling not in ("mid", "average"):
        raise ValueError("sampling must be 'mid' or 'average'")
    mid, fs, fe = _frames(frame_mid, durations)
    y = np.asarray(target, dtype=float)
    cref = np.asarray(reference, dtype=float)
    if y.shape != mid.shape or cref.shape != mid.shape:
        raise ValueError("target and reference need one value per frame")
    sw = _weights(weights, y.size)
    tg = make_grid(float(fe.max()), dt)
    cr = sample_blood((mid, cref), tg)
    names = ["R1", "k2", "BPND"]
    bnd = {**SRTM_BOUNDS, **(bounds or {})}

    def model_fn(x: FloatArray) -> FloatArray:
        curve = srtm_curve(tg, cr, *x)
        return np.interp(mid, tg, curve) if sampling == "mid" else frame_average(tg, curve, fs, fe)

    def resid(x: FloatArray) -> FloatArray:
        return sw * (model_fn(x) - y)

    def macro(p: dict[str, float]) -> dict[str, float]:
        return {"k2a": p["k2"] / (1 + p["BPND"]), "k2_ref": p["k2"] / p["R1"], "BPND": p["BPND"]}

    st = list(starts) if starts is not None else DEFAULT_STARTS["srtm"]
    r, n_tried, n_conv = _run(resid, names, st, bnd, max_nfev)
    if r is None:
        raise RuntimeError("all starts failed")
    return _finish("srtm", names, r, sw, y, model_fn, macro, bnd, n_tried, n_conv)


__all__ = ["FitResult", "fit_compartment", "fit_srtm", "compartment_macro", "DEFAULT_BOUNDS", "DEFAULT_STARTS"]
