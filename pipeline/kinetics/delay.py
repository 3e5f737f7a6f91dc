"""Fitted delay between the sampled blood input and the tissue (PMOD PKIN / kinfitr convention).

Blood is sampled at the radial artery (or a vein), so its curve arrives later (or earlier) than the
input that reaches the tissue. The delay is estimated by fitting a one-tissue compartment model with
blood volume (K1, k2, vB) to the **early** part of a high-flow TAC for each candidate delay and keeping
the delay with the lowest weighted residual sum of squares (WRSS):

1. Frames whose end is at or before ``window_min`` are used (the short early frames carry the
   information on the timing of the bolus).
2. For each delay ``d`` on a grid over ``search_s`` (step ``step_s``), the input curves (model input
   and whole blood) are moved with :func:`pipeline.kinetics.blood.shift` (``C'(t) = C(t - d)``) and
   the model is fitted with :func:`pipeline.kinetics.fit.fit_compartment` (frame averages).
3. The best grid point is refined by bounded Brent minimisation
   (``scipy.optimize.minimize_scalar``) between its two neighbours.

The result is applied to the input with ``shift(blood, fit.delay_s)``. A positive delay moves the
sampled curve later. An optimum at an end of the search range (:attr:`DelayFit.at_bound`) means the
true delay may lie outside it: the caller must flag it.

Units: delays in s; frame times in min; concentrations in kBq/mL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize_scalar

from ..errors import InvalidInputError
from .blood import InputFunction, shift
from .fit import DEFAULT_BOUNDS, DEFAULT_STARTS, FitResult, fit_compartment
from .models import MODEL_PARAMS

__all__ = ["DELAY_BOUNDS", "DelayFit", "fit_delay"]

FloatArray = NDArray[np.float64]

#: Parameter bounds of the delay fits: wider than :data:`pipeline.kinetics.fit.DEFAULT_BOUNDS` because
#: the region is chosen for high flow and a large blood fraction (K1 in mL·cm⁻³·min⁻¹, k in min⁻¹).
DELAY_BOUNDS: dict[str, tuple[float, float]] = {
    **DEFAULT_BOUNDS, "K1": (1e-4, 5.0), "k2": (1e-4, 5.0), "vB": (0.0, 0.5),
}
_XATOL_S = 0.01  # refinement tolerance (s)


@dataclass(frozen=True)
class DelayFit:
    """A fitted input delay.

    Attributes
    ----------
    delay_s : float
        Delay (s) to apply to the sampled input with ``shift(blood, delay_s)``; positive = the input
        is moved later.
    wrss : float
        Weighted residual sum of squares ((kBq/mL)², times the weights) of the fit at ``delay_s``.
    grid_s : ndarray
        Candidate delays of the grid search (s).
    grid_wrss : ndarray
        WRSS at each candidate (inf where the fit failed).
    window_min : float
        End of the fitted window (min); frames ending at or before it were used.
    model : str
        Compartment model fitted (``"1tcm"`` by default).
    at_bound : bool
        True if the optimum lies at an end of the search range (within 0.05 s): the true delay may be
        outside it, and the result must be flagged.
    params : dict
        Model parameters at ``delay_s`` (K1 in mL·cm⁻³·min⁻¹, k in min⁻¹, vB unitless).
    converged : bool
        Whether the compartment fit at ``delay_s`` converged.
    n_frames : int
        Number of frames in the window.
    """

    delay_s: float
    wrss: float
    grid_s: FloatArray
    grid_wrss: FloatArray
    window_min: float
    model: str
    at_bound: bool
    params: dict[str, float] = field(default_factory=dict)
    converged: bool = True
    n_frames: int = 0


def _input_curves(blood: InputFunction, delay_s: float) -> tuple[tuple[FloatArray, FloatArray],
                                                                  tuple[FloatArray, FloatArray]]:
    """(times_min, model input) and (times_min, whole blood) of the blood curve delayed by ``delay_s`` (s)."""
    moved = shift(blood, delay_s)
    t_min = np.asarray(moved.times_s, dtype=np.float64) / 60.0
    plasma = (t_min, np.asarray(getattr(moved, moved.kind), dtype=np.float64))
    whole = (t_min, np.asarray(moved.whole_blood, dtype=np.float64))
    if not np.isfinite(whole[1]).all():
        whole = plasma
    return plasma, whole


def fit_delay(frame_mid_min: ArrayLike, frame_durations_min: ArrayLike, tac_kbq_ml: ArrayLike,
              blood: InputFunction, *, window_min: float = 10.0, search_s: tuple[float, float] = (-30.0, 60.0),
              step_s: float = 2.0, model: str = "1tcm", weights: ArrayLike | None = None) -> DelayFit:
    """Estimate the delay of the blood input relative to a (high-flow) tissue TAC.

    Parameters
    ----------
    frame_mid_min, frame_durations_min : array_like
        Frame mid-times and durations (min from injection), one per frame of the TAC.
    tac_kbq_ml : array_like
        Decay-corrected frame-average concentrations (kBq/mL) of a high-flow region (e.g. whole
        brain grey matter, a large vessel-rich VOI).
    blood : InputFunction
        Processed blood input; its ``kind`` curve is the model input and its whole-blood curve the vB
        term (the model input is used there if whole blood is not available everywhere).
    window_min : float
        End of the fitted window (min); frames with ``mid + duration/2 <= window_min`` are used.
    search_s : (float, float)
        Lowest and highest candidate delay (s).
    step_s : float
        Grid spacing (s) of the coarse search (the grid includes both ends, spacing at most ``step_s``).
    model : {"1tcm", "2tcm", "2tcm_irr"}
        Compartment model fitted at each candidate (with blood volume); ``"1tcm"`` is the convention.
    weights : array_like, optional
        Frame weights, one per frame of the whole TAC (only the window's are used); default 1.

    Returns
    -------
    DelayFit
        The delay minimising the WRSS, the grid profile and whether the optimum is at a bound.

    Raises
    ------
    InvalidInputError
        Fewer than 4 frames in the window, a non-finite TAC value in the window, an inverted or empty
        search range, a non-positive step or window, an unknown model, a non-finite input curve,
        blood samples that do not cover the window for the earliest candidate delay, or no candidate
        that could be fitted.

    Notes
    -----
    Each candidate is fitted with :func:`pipeline.kinetics.fit.fit_compartment`, started from the solution
    at the previous candidate (warm start; the default starts are used for the first candidate, whenever a
    warm-started fit does not converge, and again for the reported fit at the chosen delay). About 10 ms per
    candidate for the 15 frames of the first 10 min of the standard 28-frame schedule: the default search
    (46 grid points plus about 10 refinement fits) takes about 0.5 s.
    """
    mid = np.asarray(frame_mid_min, dtype=np.float64)
    dur = np.asarray(frame_durations_min, dtype=np.float64)
    tac = np.asarray(tac_kbq_ml, dtype=np.float64)
    if mid.ndim != 1 or mid.shape != dur.shape or mid.shape != tac.shape:
        raise InvalidInputError(f"frame mid-times {mid.shape}, durations {dur.shape} and TAC {tac.shape} must be "
                                "1-D with one value per frame", attribute="tac")
    if model not in MODEL_PARAMS:
        raise InvalidInputError(f"unknown delay model {model!r}", attribute="model",
                                remedy=f"use one of {', '.join(sorted(MODEL_PARAMS))}")
    lo, hi = (float(v) for v in search_s)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise InvalidInputError(f"delay search range ({lo:g}, {hi:g}) s is inverted or empty", attribute="search_s",
                                remedy="give (lowest, highest) delay in s with lowest < highest")
    if not (math.isfinite(step_s) and step_s > 0):
        raise InvalidInputError(f"delay grid step {step_s:g} s must be > 0", attribute="step_s")
    if not (math.isfinite(window_min) and window_min > 0):
        raise InvalidInputError(f"delay window {window_min:g} min must be > 0", attribute="window_min")
    if not (np.all(np.isfinite(dur)) and np.all(dur > 0) and np.all(np.isfinite(mid))):
        raise InvalidInputError("frame times must be finite with durations > 0", attribute="frame_durations")
    end = mid + dur / 2.0
    sel = end <= window_min + 1e-9
    n = int(sel.sum())
    if n < 4:
        raise InvalidInputError(f"{n} frames end within the first {window_min:g} min, at least 4 needed to fit the "
                                "input delay", attribute="window_min",
                                remedy="lengthen the window or use a schedule with short early frames")
    if not np.all(np.isfinite(tac[sel])):
        raise InvalidInputError(f"TAC has non-finite values in the first {window_min:g} min", attribute="tac",
                                remedy="use a region with valid early frames")
    w = None
    if weights is not None:
        w_all = np.asarray(weights, dtype=np.float64)
        if w_all.shape != tac.shape or not np.all(np.isfinite(w_all)) or np.any(w_all < 0):
            raise InvalidInputError("weights must be finite, non-negative, one per frame", attribute="weights")
        w = w_all[sel]
    if not np.all(np.isfinite(blood.values)):
        raise InvalidInputError(f"blood input curve {blood.kind!r} has non-finite values", attribute=blood.kind)
    shift(blood, lo).check_covers(float(end[sel].max()) * 60.0)
    mid_w, dur_w, tac_w = mid[sel], dur[sel], tac[sel]

    fits: dict[float, FitResult] = {}
    warm: list[dict[str, float]] = []  # solution of the previous candidate: the start of the next fit

    def wrss_at(delay_s: float, starts: Sequence[dict[str, float]] | None = None) -> float:
        plasma, whole = _input_curves(blood, delay_s)
        try:
            res = fit_compartment(model, mid_w, dur_w, tac_w, plasma, whole, weights=w, bounds=DELAY_BOUNDS,
                                  starts=starts if starts is not None else (warm[-1:] or None))
        except RuntimeError:  # every start failed
            return math.inf
        if not math.isfinite(res.wrss):
            return math.inf
        if not res.converged and starts is None and warm:  # warm start failed: retry from the default starts
            return wrss_at(delay_s, [warm[-1], *DEFAULT_STARTS[model]])
        fits[delay_s] = res
        warm[:] = [res.params]
        return float(res.wrss)

    n_steps = max(1, math.ceil((hi - lo) / float(step_s) - 1e-9))
    grid = np.linspace(lo, hi, n_steps + 1)
    grid_wrss = np.array([wrss_at(float(d)) for d in grid])
    if not np.isfinite(grid_wrss).any():
        raise InvalidInputError("no candidate delay could be fitted", attribute="tac",
                                remedy="check the TAC and blood input (units, timing)")
    i = int(np.argmin(grid_wrss))
    best_d, best_wrss = float(grid[i]), float(grid_wrss[i])
    a, b = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, grid.size - 1)])
    warm[:] = [fits[best_d].params]
    opt = minimize_scalar(wrss_at, bounds=(a, b), method="bounded", options={"xatol": _XATOL_S})
    if math.isfinite(float(opt.fun)) and float(opt.fun) < best_wrss and float(opt.x) in fits:
        best_d, best_wrss = float(opt.x), float(opt.fun)
    # the reported fit: the best of the warm start and the default starts at the chosen delay
    best_wrss = min(best_wrss, wrss_at(best_d, [fits[best_d].params, *DEFAULT_STARTS[model]]))
    res = fits[best_d]
    tol = max(5.0 * _XATOL_S, 1e-6 * (hi - lo))
    at_bound = (best_d - lo) <= tol or (hi - best_d) <= tol
    return DelayFit(delay_s=best_d, wrss=best_wrss, grid_s=grid, grid_wrss=grid_wrss, window_min=float(window_min),
                    model=model, at_bound=bool(at_bound), params=dict(res.params), converged=bool(res.converged),
                    n_frames=n)
