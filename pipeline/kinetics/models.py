"""Compartment-model time-activity curves (TACs): 1TCM, reversible/irreversible 2TCM, SRTM.

Units and conventions
---------------------
* Times are in **minutes**, rate constants (k2, k3, k4, k2a) in min⁻¹, K1 in mL·cm⁻³·min⁻¹.
* Concentrations are in kBq/mL (any consistent unit works; outputs are in the input's unit).
* Blood-volume convention ``VB_CONVENTION`` (PMOD / TPCCLIB vvm=1 with fA = 1):
  ``C_PET(t) = (1 − vB)·CT(t) + vB·Cwb(t)`` with Cwb the **whole-blood** curve.

Numerical method and discretisation error
-----------------------------------------
The plasma input is sampled on a fine uniform grid (default ``DEFAULT_DT`` = 1/600 min = 0.1 s)
and treated as piecewise linear between grid points. Its convolution with each exponential of
the impulse response is then computed **exactly** (closed-form integral per grid step, applied
as a first-order recursion), so the only error is the linear interpolation of the input:
|ΔCp| ≤ Δt²/8·max|Cp''| per step. For the Feng FDG input (peak curvature ≈ 7·10³ kBq/mL/min²)
this is ≤ 2.5·10⁻³ kBq/mL at the peak with 0.1-s steps; the resulting tissue-curve error is
< 1·10⁻⁵ relative after the first frame (checked against the analytic Feng solution in the unit
tests). Frame averages integrate the piecewise-linear fine-grid curve exactly over each frame.

The analytic Feng-input oracle (``feng_input``, ``feng_convolve``, ``tissue_feng``) is exact and
is used for known-answer tests (reference ``kinetics_recist_stats.md`` §1.4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.signal import lfilter

FloatArray = NDArray[np.float64]

VB_CONVENTION = "C_PET = (1 - vB)*CT + vB*Cwb (whole blood)"
DEFAULT_DT = 1.0 / 600.0  # min (0.1 s)

MODEL_PARAMS: dict[str, tuple[str, ...]] = {
    "1tcm": ("K1", "k2", "vB"),
    "2tcm": ("K1", "k2", "k3", "k4", "vB"),
    "2tcm_irr": ("K1", "k2", "k3", "vB"),
}

# Feng et al. 1993 input (reference §1.4), t in min.
FENG_A = (851.1225, 21.8798, 20.8113)
FENG_LAMBDA = (-4.133859, -0.01043449, -0.1190996)

BloodInput = Callable[[FloatArray], FloatArray] | tuple[ArrayLike, ArrayLike]


# --------------------------------------------------------------------------------------------
# Physical bounds of estimated parameters
# --------------------------------------------------------------------------------------------
def unphysical(values: Mapping[str, float], *, positive: Iterable[str] = (), non_negative: Iterable[str] = (),
               above: Mapping[str, float] | None = None) -> list[str]:
    """Why a set of estimates is not physical (empty when it is).

    Parameters
    ----------
    values : mapping
        Estimates by name (rate constants in min⁻¹, VT, BPND, Ki...).
    positive : iterable of str
        Names that must be > 0 (rate constants, VT, DVR, R1).
    non_negative : iterable of str
        Names that must be >= 0 (Ki, vB).
    above : mapping, optional
        Name -> lower limit the value must exceed (BPND > -1, i.e. DVR > 0).

    Returns
    -------
    list of str
        One phrase per problem, e.g. ``"k2 = -0.0191 <= 0"``, ``"VT not finite"``; names absent from
        ``values`` are skipped.
    """
    problems = [f"{k} not finite" for k, v in values.items() if not math.isfinite(float(v))]

    def finite(name: str) -> float | None:
        v = values.get(name)
        return float(v) if v is not None and math.isfinite(float(v)) else None

    for name in positive:
        v = finite(name)
        if v is not None and v <= 0:
            problems.append(f"{name} = {v:.4g} <= 0")
    for name in non_negative:
        v = finite(name)
        if v is not None and v < 0:
            problems.append(f"{name} = {v:.4g} < 0")
    for name, low in (above or {}).items():
        v = finite(name)
        if v is not None and v <= low:
            problems.append(f"{name} = {v:.4g} <= {low:g}")
    return problems


# --------------------------------------------------------------------------------------------
# Impulse responses
# --------------------------------------------------------------------------------------------
def impulse_response(model: str, params: Sequence[float] | dict[str, float]) -> tuple[FloatArray, FloatArray]:
    """Amplitudes φ and rates θ of the impulse response ``Σ φ_i·exp(−θ_i·t)``.

    Parameters
    ----------
    model : {"1tcm", "2tcm", "2tcm_irr"}
        Compartment model.
    params : sequence or dict
        Rate constants in the order of ``MODEL_PARAMS[model]`` (vB may be omitted; it is not
        used here). K1 in mL·cm⁻³·min⁻¹, k's in min⁻¹.

    Returns
    -------
    phi : ndarray
        Amplitudes (mL·cm⁻³·min⁻¹).
    theta : ndarray
        Rates (min⁻¹), ≥ 0.
    """
    p = _as_dict(model, params)
    K1, k2 = p["K1"], p["k2"]
    if model == "1tcm":
        return np.array([K1]), np.array([k2])
    k3 = p["k3"]
    k4 = p["k4"] if model == "2tcm" else 0.0
    s = k2 + k3 + k4
    delta = np.sqrt(max(s * s - 4.0 * k2 * k4, 0.0))
    th1, th2 = (s + delta) / 2.0, (s - delta) / 2.0
    if delta == 0.0:
        raise ValueError("degenerate 2TCM (repeated eigenvalue): Δ = 0")
    phi1 = K1 * (th1 - k3 - k4) / delta
    phi2 = K1 * (k3 + k4 - th2) / delta
    return np.array([phi1, phi2]), np.array([th1, max(th2, 0.0)])


def _as_dict(model: str, params: Sequence[float] | dict[str, float]) -> dict[str, float]:
    if model not in MODEL_PARAMS:
        raise ValueError(f"unknown model {model!r}; expected one of {sorted(MODEL_PARAMS)}")
    if isinstance(params, dict):
        return {k: float(v) for k, v in params.items()}
    names = MODEL_PARAMS[model]
    vals = [float(v) for v in params]
    if len(vals) not in (len(names), len(names) - 1):
        raise ValueError(f"{model} needs parameters {names} (vB optional), got {len(vals)} values")
    out = dict(zip(names, vals, strict=False))
    out.setdefault("vB", 0.0)
    return out


# --------------------------------------------------------------------------------------------
# Fine-grid convolution (piecewise-linear input, exact exponential integration)
# --------------------------------------------------------------------------------------------
def make_grid(t_end: float, dt: float = DEFAULT_DT) -> FloatArray:
    """Uniform grid 0, dt, …, ≥ t_end (minutes)."""
    n = int(np.ceil(t_end / dt - 1e-9)) + 1
    return np.arange(n, dtype=float) * dt


def sample_blood(blood: BloodInput, t: FloatArray) -> FloatArray:
    """Evaluate a blood curve on ``t`` (min).

    ``blood`` is a callable ``f(t) -> kBq/mL`` or a tuple ``(times_min, values)``; a tuple is
    interpolated linearly, with 0 at t = 0 if the first sample is later and the last value held
    constant after the last sample.
    """
    if callable(blood):
        return np.asarray(blood(t), dtype=float)
    ts, vs = (np.asarray(a, dtype=float) for a in blood)
    if ts[0] > 0:
        ts, vs = np.r_[0.0, ts], np.r_[0.0, vs]
    return np.interp(t, ts, vs)


def exp_convolve(t_grid: FloatArray, c_grid: FloatArray, rate: float) -> FloatArray:
    """``∫0^t c(u)·exp(−rate·(t−u)) du`` on a uniform grid starting at 0 (c piecewise linear).

    Exact for a piecewise-linear ``c``; ``rate`` in min⁻¹ (≥ 0), ``t_grid`` in min.
    """
    dt = float(t_grid[1] - t_grid[0])
    x = rate * dt
    if x < 1e-3:  # series avoids cancellation; truncation error < x⁴/100
        w0 = dt * (0.5 - x / 3.0 + x * x / 8.0 - x**3 / 30.0)
        w1 = dt * (0.5 - x / 6.0 + x * x / 24.0 - x**3 / 120.0)
    else:
        e = np.exp(-x)
        w0 = (1.0 - e * (1.0 + x)) / (rate * x)
        w1 = -np.expm1(-x) / rate - w0
    r = np.exp(-x)
    c = np.asarray(c_grid, dtype=float)
    z = lfilter([w1, w0], [1.0, -r], c)
    # lfilter starts with z[0] = w1·c[0]; the true value at t = 0 is 0.
    return z - w1 * c[0] * r ** np.arange(c.size)


def tissue_curve(model: str, params: Sequence[float] | dict[str, float], t_grid: FloatArray,
                 cp_grid: FloatArray) -> FloatArray:
    """Tissue concentration CT(t) (kBq/mL, blood excluded) on the fine grid ``t_grid`` (min)."""
    phi, theta = impulse_response(model, params)
    out = np.zeros_like(np.asarray(t_grid, dtype=float))
    for ph, th in zip(phi, theta, strict=True):
        out += ph * exp_convolve(t_grid, cp_grid, th)
    return out


def pet_curve(model: str, params: Sequence[float] | dict[str, float], t_grid: FloatArray,
              cp_grid: FloatArray, cwb_grid: FloatArray | None = None) -> FloatArray:
    """Measured VOI concentration ``(1 − vB)·CT + vB·Cwb`` on the fine grid (kBq/mL).

    ``cwb_grid`` (whole blood) defaults to ``cp_grid`` when None.
    """
    p = _as_dict(model, params)
    vb = p.get("vB", 0.0)
    ct = tissue_curve(model, p, t_grid, cp_grid)
    cwb = cp_grid if cwb_grid is None else cwb_grid
    return (1.0 - vb) * ct + vb * np.asarray(cwb, dtype=float)


def cumulative_integral(t_grid: FloatArray, y_grid: FloatArray, t: ArrayLike) -> FloatArray:
    """``∫0^t y`` of the piecewise-linear curve (t_grid, y_grid), evaluated at arbitrary ``t``."""
    tg = np.asarray(t_grid, dtype=float)
    yg = np.asarray(y_grid, dtype=float)
    cum = np.r_[0.0, np.cumsum(0.5 * (yg[1:] + yg[:-1]) * np.diff(tg))]
    tq = np.clip(np.asarray(t, dtype=float), tg[0], tg[-1])
    i = np.clip(np.searchsorted(tg, tq, side="right") - 1, 0, tg.size - 2)
    yq = np.interp(tq, tg, yg)
    return cum[i] + 0.5 * (yg[i] + yq) * (tq - tg[i])


def frame_average(t_grid: FloatArray, y_grid: FloatArray, frame_start: ArrayLike,
                  frame_end: ArrayLike) -> FloatArray:
    """Frame averages ``(1/Δt)·∫_start^end y dt`` of the piecewise-linear fine-grid curve."""
    fs = np.asarray(frame_start, dtype=float)
    fe = np.asarray(frame_end, dtype=float)
    if np.any(fe <= fs):
        raise ValueError("frame_end must be > frame_start")
    if fe.max() > t_grid[-1] + 1e-9:
        raise ValueError("grid does not cover the last frame")
    return (cumulative_integral(t_grid, y_grid, fe) - cumulative_integral(t_grid, y_grid, fs)) / (fe - fs)


def simulate_frames(model: str, params: Sequence[float] | dict[str, float], frame_start: ArrayLike,
                    frame_end: ArrayLike, plasma: BloodInput, whole_blood: BloodInput | None = None,
                    dt: float = DEFAULT_DT) -> FloatArray:
    """Frame-averaged PET TAC (kBq/mL) for a compartment model; frame times in min.

    ``whole_blood`` defaults to ``plasma`` (used only in the vB term).
    """
    fe = np.asarray(frame_end, dtype=float)
    tg = make_grid(float(fe.max()), dt)
    cp = sample_blood(plasma, tg)
    cwb = None if whole_blood is None else sample_blood(whole_blood, tg)
    return frame_average(tg, pet_curve(model, params, tg, cp, cwb), frame_start, fe)


def srtm_curve(t_grid: FloatArray, cref_grid: FloatArray, R1: float, k2: float, bpnd: float) -> FloatArray:
    """SRTM target curve (Lammertsma & Hume 1996) on the fine grid (kBq/mL).

    ``CT = R1·Cref + (k2 − R1·k2a)·Cref ⊗ exp(−k2a·t)``, ``k2a = k2/(1 + BPND)``; k2 in min⁻¹.
    """
    k2a = k2 / (1.0 + bpnd)
    return R1 * cref_grid + (k2 - R1 * k2a) * exp_convolve(t_grid, cref_grid, k2a)


# --------------------------------------------------------------------------------------------
# Analytic Feng-input oracle
# --------------------------------------------------------------------------------------------
def _feng_terms(mu: float = 0.0) -> list[tuple[float, float, float]]:
    A1, A2, A3 = FENG_A
    l1, l2, l3 = (lam - mu for lam in FENG_LAMBDA)
    return [(-A2 - A3, A1, l1), (A2, 0.0, l2), (A3, 0.0, l3)]


def feng_input(t: ArrayLike, delay: float = 0.0) -> FloatArray:
    """Feng 1993 FDG-like plasma input (kBq/mL), t in min, 0 before ``delay``."""
    tt = np.asarray(t, dtype=float) - delay
    out = np.zeros_like(tt)
    pos = tt >= 0
    s = tt[pos]
    out[pos] = sum((a + b * s) * np.exp(lam * s) for a, b, lam in _feng_terms())
    return out


def feng_convolve(t: ArrayLike, alpha: float) -> FloatArray:
    """Exact ``∫0^t Cp_Feng(u)·exp(−α(t−u)) du`` (α in min⁻¹; α = 0 gives ∫0^t Cp)."""
    tt = np.asarray(t, dtype=float)
    out = np.zeros_like(tt)
    for a, b, lam in _feng_terms():
        beta = lam + alpha
        el, ea = np.exp(lam * tt), np.exp(-alpha * tt)
        out += a * (el - ea) / beta + b * (el * (beta * tt - 1.0) + ea) / beta**2
    return out


def tissue_feng(model: str, params: Sequence[float] | dict[str, float], t: ArrayLike) -> FloatArray:
    """Exact tissue curve CT(t) (blood excluded) for the Feng input."""
    phi, theta = impulse_response(model, params)
    return sum(ph * feng_convolve(t, th) for ph, th in zip(phi, theta, strict=True))


def standard_frames() -> tuple[FloatArray, FloatArray]:
    """The 28-frame, 90-min schedule of reference §1.4 (start, end) in min."""
    durs = np.array([10 / 60] * 6 + [0.5] * 4 + [1.0] * 4 + [2.0] * 4 + [5.0] * 5 + [10.0] * 5)
    ends = np.cumsum(durs)
    return ends - durs, ends
