"""Graphical (linearised) kinetic analyses: Logan, Patlak, reference Logan, MRTM, MRTM2.

Units: times in **minutes**, concentrations in kBq/mL, k2' in min⁻¹. VT and DVR are in
mL·cm⁻³ (unitless ratio for DVR), Ki in mL·cm⁻³·min⁻¹.

Discretisation: unless integrals are passed explicitly, running integrals ``∫0^t C`` are computed
by the trapezoid rule over the sample times with an added point (0, 0). With frame-averaged TACs
placed at frame mid-times this gives a small bias (KAT1 Logan: VT 1.99704 instead of 2 with
t* = 20 min; reference §1.5). Pass exact integrals (``tac_integral`` etc.) for exact maths.

Equations (reference ``kinetics_recist_stats.md`` §1.1):

* Logan (plasma input): ``∫C/C = VT·∫Cp/C + b`` for t ≥ t*.
* Patlak: ``C/Cp = Ki·∫Cp/Cp + V0`` for t ≥ t*.
* Reference Logan: ``∫CT/CT = DVR·(∫Cref + Cref/k2')/CT + b'``; BPND = DVR − 1. Without k2' the
  ``Cref/k2'`` term is dropped (valid when the reference curve ratio has settled).
* MRTM (Ichise 2003): ``CT = γ1·∫Cref + γ2·∫CT + γ3·Cref`` → BPND = −(γ1/γ2 + 1), k2' = γ1/γ3,
  R1 = γ3.
* MRTM2: ``CT = γ1·(∫Cref + Cref/k2') + γ2·∫CT`` → BPND = −(γ1/γ2 + 1), k2 = γ1.

Physical bounds (:data:`PHYSICAL_BOUNDS`): a regression always returns numbers, even where the
model's assumptions fail (MRTM at t* = 0 on a two-tissue target with a blood-volume term gives
k2 < 0 and a biased BPND). Each result is checked: rate constants (k2, k2', R1), VT and DVR must be
> 0, Ki >= 0, BPND > −1 (DVR > 0) and every output finite. A result that fails is returned with
``converged = False`` and the reasons in ``problems`` (and ``message``), never as a silent number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .models import unphysical

FloatArray = NDArray[np.float64]

#: Per method, the bounds its outputs must respect (:func:`~pipeline.kinetics.models.unphysical` arguments).
PHYSICAL_BOUNDS: dict[str, dict[str, Any]] = {
    "logan": {"positive": ("VT",)},
    "patlak": {"non_negative": ("Ki",)},
    "logan_ref": {"positive": ("DVR",), "above": {"BPND": -1.0}},
    "mrtm": {"positive": ("k2", "k2_ref", "R1"), "above": {"BPND": -1.0}},
    "mrtm2": {"positive": ("k2", "k2_ref", "R1"), "above": {"BPND": -1.0}},
}


@dataclass
class GraphicalResult:
    """Result of a graphical analysis.

    Attributes
    ----------
    method : str
        "logan", "patlak", "logan_ref", "mrtm" or "mrtm2".
    slope, intercept : float
        Regression slope and intercept (NaN for MRTM-type fits where they do not apply).
    t_star : float
        Start of the fitted window (min); the earliest frame time used.
    t_star_mode : str
        "fixed" or "auto" (earliest t* at which the plot is linear within ``tolerance``).
    n_points : int
        Number of points in the regression.
    r2 : float
        Coefficient of determination of the regression.
    max_rel_residual : float
        Largest |residual| / |fitted y| within the window.
    params : dict
        Derived outputs: VT (Logan), Ki and V0 (Patlak), DVR and BPND (reference Logan),
        BPND, k2_ref, R1, k2 (MRTM/MRTM2).
    x, y : ndarray
        The plotted abscissa and ordinate (all points; ``used`` marks the window).
    converged : bool
        False when an output breaks its physical bounds (:data:`PHYSICAL_BOUNDS`).
    problems : list of str
        Why (e.g. ``"k2 = -0.0191 <= 0"``); empty when ``converged``.
    """

    method: str
    slope: float
    intercept: float
    t_star: float
    t_star_mode: str
    n_points: int
    r2: float
    max_rel_residual: float
    params: dict[str, float] = field(default_factory=dict)
    x: FloatArray | None = None
    y: FloatArray | None = None
    used: NDArray[np.bool_] | None = None
    converged: bool = True
    problems: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        """The window and, when not converged, the reasons (a line of ``kinetics.csv``)."""
        text = f"t* {self.t_star_mode}, {self.n_points} points"
        if not self.converged:
            text = f"not converged: unphysical {', '.join(self.problems)}; {text}"
        return text

    def check(self) -> GraphicalResult:
        """Set ``converged`` and ``problems`` from the physical bounds of the method; returns self."""
        self.problems = unphysical(self.params, **PHYSICAL_BOUNDS.get(self.method, {}))
        self.converged = not self.problems
        return self


def running_integral(t: ArrayLike, c: ArrayLike) -> FloatArray:
    """Trapezoid ``∫0^t c`` at each sample time, with an added point (0, 0) (t in min)."""
    tt = np.r_[0.0, np.asarray(t, dtype=float)]
    cc = np.r_[0.0, np.asarray(c, dtype=float)]
    if tt[1] == 0.0:
        tt, cc = tt[1:], cc[1:]
        return np.r_[0.0, np.cumsum(0.5 * (cc[1:] + cc[:-1]) * np.diff(tt))]
    return np.cumsum(0.5 * (cc[1:] + cc[:-1]) * np.diff(tt))


def _line_fit(x: FloatArray, y: FloatArray) -> tuple[float, float, float, float]:
    A = np.column_stack([x, np.ones_like(x)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    fit = A @ coef
    res = y - fit
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - float(np.sum(res**2)) / ss_tot if ss_tot > 0 else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        mrr = float(np.max(np.abs(res) / np.abs(fit)))
    return float(coef[0]), float(coef[1]), r2, mrr


def _windowed_line(method: str, t: FloatArray, x: FloatArray, y: FloatArray, t_star: float | None,
                   tolerance: float, min_points: int) -> GraphicalResult:
    if not (t.size == x.size == y.size):
        raise ValueError("t, x and y must have the same length")
    finite = np.isfinite(x) & np.isfinite(y)
    used: NDArray[np.bool_] | None
    if t_star is not None:
        used = finite & (t >= t_star - 1e-12)
        if used.sum() < 2:
            raise ValueError(f"fewer than 2 valid points at t >= t* = {t_star}")
        mode = "fixed"
    else:
        mode = "auto"
        used = None
        for ts in t[finite]:
            cand = finite & (t >= ts)
            if cand.sum() < max(min_points, 2):
                break
            *_, mrr = _line_fit(x[cand], y[cand])
            if mrr <= tolerance:
                used = cand
                break
        if used is None:
            raise ValueError(f"no t* gives a plot linear within tolerance {tolerance} with >= {min_points} points")
    slope, icpt, r2, mrr = _line_fit(x[used], y[used])
    return GraphicalResult(method, slope, icpt, float(t[used].min()), mode, int(used.sum()), r2, mrr,
                           x=x, y=y, used=used)


def logan_plasma(t: ArrayLike, tac: ArrayLike, plasma: ArrayLike, *, t_star: float | None = None,
                 tac_integral: ArrayLike | None = None, plasma_integral: ArrayLike | None = None,
                 tolerance: float = 0.01, min_points: int = 3) -> GraphicalResult:
    """Logan plot with plasma input → VT (slope).

    Parameters
    ----------
    t : array_like
        Sample (frame mid) times, min.
    tac : array_like
        VOI concentration at ``t`` (kBq/mL).
    plasma : array_like
        Metabolite-corrected plasma concentration at ``t`` (kBq/mL).
    t_star : float, optional
        Fixed start of the linear window (min). If None, the earliest sample time from which the
        plot is linear (max |residual|/|fit| ≤ ``tolerance``, ≥ ``min_points`` points) is used;
        the chosen value is reported in ``t_star``.
    tac_integral, plasma_integral : array_like, optional
        ``∫0^t`` of the curves (kBq·min/mL); default trapezoid from (0, 0).

    Returns
    -------
    GraphicalResult
        ``params["VT"]`` = slope (mL·cm⁻³).
    """
    tt = np.asarray(t, dtype=float)
    c = np.asarray(tac, dtype=float)
    cp = np.asarray(plasma, dtype=float)
    ic = running_integral(tt, c) if tac_integral is None else np.asarray(tac_integral, dtype=float)
    ip = running_integral(tt, cp) if plasma_integral is None else np.asarray(plasma_integral, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = ip / c, ic / c
    res = _windowed_line("logan", tt, x, y, t_star, tolerance, min_points)
    res.params = {"VT": res.slope}
    return res.check()


def patlak(t: ArrayLike, tac: ArrayLike, plasma: ArrayLike, *, t_star: float | None = None,
           plasma_integral: ArrayLike | None = None, tolerance: float = 0.01,
           min_points: int = 3) -> GraphicalResult:
    """Patlak plot → Ki (slope, mL·cm⁻³·min⁻¹) and V0 (intercept).

    ``C_PET`` includes the (1 − vB) scaling, so the slope is ≈ (1 − vB)·Ki. Arguments as for
    :func:`logan_plasma`.
    """
    tt = np.asarray(t, dtype=float)
    c = np.asarray(tac, dtype=float)
    cp = np.asarray(plasma, dtype=float)
    ip = running_integral(tt, cp) if plasma_integral is None else np.asarray(plasma_integral, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = ip / cp, c / cp
    res = _windowed_line("patlak", tt, x, y, t_star, tolerance, min_points)
    res.params = {"Ki": res.slope, "V0": res.intercept}
    return res.check()


def logan_reference(t: ArrayLike, target: ArrayLike, reference: ArrayLike, *, k2_ref: float | None = None,
                    t_star: float | None = None, tolerance: float = 0.01, min_points: int = 3) -> GraphicalResult:
    """Reference-tissue Logan (Logan 1996) → DVR (slope), BPND = DVR − 1.

    Parameters
    ----------
    t : array_like
        Frame mid-times (min).
    target, reference : array_like
        TACs (kBq/mL); integrals by trapezoid from (0, 0).
    k2_ref : float, optional
        Reference efflux rate k2' (min⁻¹); if None the ``Cref/k2'`` term is omitted.
    """
    tt = np.asarray(t, dtype=float)
    ct = np.asarray(target, dtype=float)
    cr = np.asarray(reference, dtype=float)
    ict, icr = running_integral(tt, ct), running_integral(tt, cr)
    num = icr + (cr / k2_ref if k2_ref is not None else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x, y = num / ct, ict / ct
    res = _windowed_line("logan_ref", tt, x, y, t_star, tolerance, min_points)
    res.params = {"DVR": res.slope, "BPND": res.slope - 1.0}
    return res.check()


def _lstsq_result(method: str, t: FloatArray, A: FloatArray, y: FloatArray, used: NDArray[np.bool_]
                  ) -> tuple[NDArray[np.floating], float, float]:
    coef, *_ = np.linalg.lstsq(A[used], y[used], rcond=None)
    fit = A[used] @ coef
    res = y[used] - fit
    ss_tot = float(np.sum((y[used] - y[used].mean()) ** 2))
    r2 = 1.0 - float(np.sum(res**2)) / ss_tot if ss_tot > 0 else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        mrr = float(np.nanmax(np.abs(res) / np.abs(fit)))
    return coef, r2, mrr


def mrtm(t: ArrayLike, target: ArrayLike, reference: ArrayLike, *, t_star: float = 0.0) -> GraphicalResult:
    """MRTM (Ichise 2003, 3 parameters) → BPND, k2' (min⁻¹), R1.

    Multilinear regression ``CT = γ1·∫Cref + γ2·∫CT + γ3·Cref`` over samples with t ≥ ``t_star``
    (min; default all frames). Integrals by trapezoid from (0, 0). With t* = 0 the early frames, where
    a two-tissue target or a blood-volume term breaks the model, can drive k2 = γ1 below 0: the result
    is then ``converged = False`` (see :data:`PHYSICAL_BOUNDS`); a later t* usually fixes it.
    """
    tt = np.asarray(t, dtype=float)
    ct = np.asarray(target, dtype=float)
    cr = np.asarray(reference, dtype=float)
    A = np.column_stack([running_integral(tt, cr), running_integral(tt, ct), cr])
    used = tt >= t_star - 1e-12
    (g1, g2, g3), r2, mrr = _lstsq_result("mrtm", tt, A, ct, used)
    params = {"BPND": -(g1 / g2 + 1.0), "k2_ref": g1 / g3, "R1": g3, "k2": g1, "gamma1": g1, "gamma2": g2,
              "gamma3": g3}
    return GraphicalResult("mrtm", float("nan"), float("nan"), float(tt[used].min()), "fixed", int(used.sum()),
                           r2, mrr, params=params, used=used).check()


def mrtm2(t: ArrayLike, target: ArrayLike, reference: ArrayLike, k2_ref: float, *,
          t_star: float = 0.0) -> GraphicalResult:
    """MRTM2 (Ichise 2003, k2' fixed, min⁻¹) → BPND and k2 (min⁻¹)."""
    tt = np.asarray(t, dtype=float)
    ct = np.asarray(target, dtype=float)
    cr = np.asarray(reference, dtype=float)
    A = np.column_stack([running_integral(tt, cr) + cr / k2_ref, running_integral(tt, ct)])
    used = tt >= t_star - 1e-12
    (g1, g2), r2, mrr = _lstsq_result("mrtm2", tt, A, ct, used)
    params = {"BPND": -(g1 / g2 + 1.0), "k2": g1, "R1": g1 / k2_ref, "k2_ref": k2_ref}
    return GraphicalResult("mrtm2", float("nan"), float("nan"), float(tt[used].min()), "fixed", int(used.sum()),
                           r2, mrr, params=params, used=used).check()
