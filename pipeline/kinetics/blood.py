"""Blood data: from sampled whole blood / plasma / parent fraction to an input function.

Order of operations (reference §1.2; PMOD PKIN, Turku TPCCLIB), as applied by
:func:`build_input_function`:

1. **Decay correction** of every sample to the injection time, unless the table says the
   samples are already corrected: ``C_corr(t) = C(t) * exp(lambda * t)``, ``lambda = ln 2 / T_half``,
   ``t`` = sample time from injection (s).
2. **Plasma-to-blood ratio** ``r(t) = C_plasma / C_whole_blood`` fitted on the samples that have
   both (``constant``: mean ratio; ``linear``: least-squares line in time). Total plasma is the
   measured plasma where present, else ``r(t) * C_whole_blood``; whole blood likewise ``C_plasma / r(t)``.
3. **Parent fraction** model fitted to the measured fractions and applied at the original
   sample times: ``C_parent = C_plasma,total * f_p(t)``. Models: Hill
   ``f_p(t) = 1 - a t^b / (c + t^b)`` (t in s, so ``c`` in s^b; ``f_p(0) = 1``) and bi-exponential
   ``f_p(t) = A exp(-k1 t) + (1 - A) exp(-k2 t)`` (k in 1/s).
4. **Delay**: :func:`shift` moves the curve later by ``delay_s`` (``C'(t) = C(t - delay)``); a
   fitted delay comes from the kinetic model fit, which calls :func:`shift`.
5. **Dispersion** (given ``tau``): ``C_true = C + tau dC/dt`` (Iida 1986) computed on the curve
   optionally smoothed by a centred moving average; the result is not smoothed again.

Venous samples (the trials here) should scale an image-derived input rather than be the input
themselves: :func:`image_derived_input` scales a blood-pool VOI TAC to the late venous samples.

Units: times in s from injection; concentrations in kBq/mL; half-lives in s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares

from ..errors import InvalidInputError
from ..suv.decay import decay_constant

__all__ = ["KINDS", "UNIT_TO_KBQ_ML", "InputFunction", "PlasmaBloodRatio", "ParentFractionModel",
           "normalise_blood_table", "decay_correct_samples", "fit_plasma_blood_ratio", "hill_parent_fraction",
           "biexp_parent_fraction", "fit_parent_fraction", "shift", "correct_dispersion", "build_input_function",
           "image_derived_input", "image_derived_input_function"]

KINDS = ("parent_plasma", "total_plasma", "whole_blood")
UNIT_TO_KBQ_ML = {"bq/ml": 1e-3, "kbq/ml": 1.0, "mbq/ml": 1e3, "bq/cc": 1e-3, "kbq/cc": 1.0, "mbq/cc": 1e3}
_CONC = ("whole_blood", "plasma")
FloatArray = NDArray[np.float64]


# ------------------------------------------------------------------------------------------------- table
def normalise_blood_table(table: pd.DataFrame, *, units: str | Mapping[str, str] | None = None,
                          source: str = "blood table") -> pd.DataFrame:
    """Blood table with columns time_s, whole_blood_kbq_ml, plasma_kbq_ml, parent_fraction (NaN = not measured).

    Parameters
    ----------
    table : DataFrame
        ``time_s`` (s from injection) and any of ``whole_blood``, ``plasma`` (units from ``units``)
        or ``whole_blood_kbq_ml``, ``plasma_kbq_ml``; optional ``parent_fraction`` (0..1).
    units : str or mapping, optional
        Units of the bare ``whole_blood``/``plasma`` columns (``Bq/mL``, ``kBq/mL``, ``MBq/mL``), one for
        both or per column. Required when bare columns are present.
    source : str
        Named in errors.

    Raises
    ------
    InvalidInputError
        Missing time or concentration columns, undeclared units, negative or unordered times,
        negative concentrations, parent fractions outside [0, 1].
    """
    if "time_s" not in table.columns:
        raise InvalidInputError("no time_s column", source=source, attribute="time_s",
                                remedy="give sample times in s from injection")
    out = pd.DataFrame({"time_s": pd.to_numeric(table["time_s"], errors="raise").astype(float)})
    for name in _CONC:
        col = f"{name}_kbq_ml"
        if col in table.columns:
            out[col] = pd.to_numeric(table[col]).astype(float)
        elif name in table.columns:
            unit = units.get(name) if isinstance(units, Mapping) else units
            if unit is None:
                raise InvalidInputError(f"units of column {name!r} not declared", source=source, attribute=name,
                                        remedy="pass units='kBq/mL' (or Bq/mL, MBq/mL) or name it "
                                               f"{name}_kbq_ml")
            key = unit.replace(" ", "").lower()
            if key not in UNIT_TO_KBQ_ML:
                raise InvalidInputError(f"unknown unit {unit!r}", source=source, attribute=name,
                                        remedy=f"use one of {sorted(UNIT_TO_KBQ_ML)}")
            out[col] = pd.to_numeric(table[name]).astype(float) * UNIT_TO_KBQ_ML[key]
        else:
            out[col] = np.nan
    out["parent_fraction"] = (pd.to_numeric(table["parent_fraction"]).astype(float)
                              if "parent_fraction" in table.columns else np.nan)
    t = out["time_s"].to_numpy()
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InvalidInputError("sample times must be finite and >= 0 s from injection", source=source,
                                attribute="time_s")
    if np.any(np.diff(t) <= 0):
        raise InvalidInputError("sample times must be strictly increasing", source=source, attribute="time_s",
                                remedy="sort the samples and merge duplicates")
    if out[["whole_blood_kbq_ml", "plasma_kbq_ml"]].isna().all(axis=None):
        raise InvalidInputError("neither whole blood nor plasma concentrations given", source=source,
                                attribute="whole_blood/plasma")
    if (out[["whole_blood_kbq_ml", "plasma_kbq_ml"]] < 0).any(axis=None):
        raise InvalidInputError("negative concentration", source=source, attribute="whole_blood/plasma")
    pf = out["parent_fraction"].dropna()
    if ((pf < 0) | (pf > 1)).any():
        raise InvalidInputError("parent fraction outside [0, 1]", source=source, attribute="parent_fraction")
    return out


def decay_correct_samples(times_s: ArrayLike, values: ArrayLike, half_life_s: float) -> FloatArray:
    """Decay-correct sample concentrations to the injection time: ``C * exp(ln2 / T_half * t)``.

    Parameters
    ----------
    times_s : array_like
        Sample (measurement) times from injection (s).
    values : array_like
        Concentrations measured at those times (any unit; NaN kept).
    half_life_s : float
        Physical half-life (s).
    """
    t = np.asarray(times_s, dtype=np.float64)
    return np.asarray(values, dtype=np.float64) * np.exp(decay_constant(half_life_s) * t)


# ------------------------------------------------------------------------------------- plasma / blood ratio
@dataclass(frozen=True)
class PlasmaBloodRatio:
    """Plasma-to-whole-blood concentration ratio model ``r(t) = intercept + slope * t`` (t in s).

    ``model`` is ``constant`` (slope 0) or ``linear``; ``n_samples`` samples were fitted.
    """

    model: str
    intercept: float
    slope: float = 0.0
    n_samples: int = 0

    def __call__(self, t: ArrayLike) -> FloatArray:
        """Ratio at times ``t`` (s)."""
        return self.intercept + self.slope * np.asarray(t, dtype=np.float64)


def fit_plasma_blood_ratio(times_s: ArrayLike, plasma: ArrayLike, whole_blood: ArrayLike, *,
                           model: str = "constant") -> PlasmaBloodRatio:
    """Fit the plasma-to-blood ratio on the samples where both were measured.

    ``constant``: the mean of the per-sample ratios; ``linear``: ordinary least squares of the
    ratios on time. With Hct known and a tracer excluded from red cells the ratio is 1 / (1 - Hct).

    Raises
    ------
    InvalidInputError
        Too few paired samples (1 for constant, 2 for linear) or a non-positive ratio.
    """
    t = np.asarray(times_s, dtype=np.float64)
    p, b = np.asarray(plasma, dtype=np.float64), np.asarray(whole_blood, dtype=np.float64)
    ok = np.isfinite(p) & np.isfinite(b) & (b > 0)
    r, t = p[ok] / b[ok], t[ok]
    need = {"constant": 1, "linear": 2}.get(model)
    if need is None:
        raise ValueError(f"plasma/blood ratio model must be 'constant' or 'linear', got {model!r}")
    if r.size < need:
        raise InvalidInputError(f"{r.size} paired plasma/whole-blood samples, {need} needed for a {model} ratio",
                                attribute="plasma/whole_blood", remedy="measure both, or give the haematocrit")
    if model == "constant":
        fit = PlasmaBloodRatio("constant", float(r.mean()), 0.0, int(r.size))
    else:
        slope, intercept = np.polyfit(t, r, 1)
        fit = PlasmaBloodRatio("linear", float(intercept), float(slope), int(r.size))
    if np.any(fit(t) <= 0):
        raise InvalidInputError("fitted plasma/blood ratio is not positive", attribute="plasma/whole_blood")
    return fit


# ---------------------------------------------------------------------------------------- parent fraction
def hill_parent_fraction(t: ArrayLike, a: float, b: float, c: float) -> FloatArray:
    """Hill parent fraction ``1 - a t^b / (c + t^b)`` (t in s, c in s^b)."""
    tb = np.power(np.maximum(np.asarray(t, dtype=np.float64), 0.0), b)
    return 1.0 - a * tb / (c + tb)


def biexp_parent_fraction(t: ArrayLike, amp: float, k1: float, k2: float) -> FloatArray:
    """Bi-exponential parent fraction ``A exp(-k1 t) + (1 - A) exp(-k2 t)`` (t in s, k in 1/s)."""
    t = np.maximum(np.asarray(t, dtype=np.float64), 0.0)
    return amp * np.exp(-k1 * t) + (1.0 - amp) * np.exp(-k2 * t)


@dataclass(frozen=True)
class ParentFractionModel:
    """A fitted parent-fraction model.

    Attributes
    ----------
    model : str
        ``hill`` (params a, b, c), ``biexp`` (params amp, k1, k2) or ``none`` (f_p = 1).
    params : dict
        Fitted parameters (t in s).
    rmse : float
        Root-mean-square residual of the fit (fraction units).
    """

    model: str
    params: dict[str, float] = field(default_factory=dict)
    rmse: float = 0.0

    def __call__(self, t: ArrayLike) -> FloatArray:
        """Parent fraction at ``t`` (s), clipped to [0, 1]."""
        t = np.asarray(t, dtype=np.float64)
        if self.model == "hill":
            f = hill_parent_fraction(t, self.params["a"], self.params["b"], self.params["c"])
        elif self.model == "biexp":
            f = biexp_parent_fraction(t, self.params["amp"], self.params["k1"], self.params["k2"])
        else:
            f = np.ones_like(t)
        return np.clip(f, 0.0, 1.0)


def fit_parent_fraction(times_s: ArrayLike, fractions: ArrayLike, *, model: str = "hill") -> ParentFractionModel:
    """Fit a parent-fraction model by least squares.

    Hill is fitted as (a, b, log t50) with ``c = t50^b`` (t50: the time of the half-way point,
    well scaled in s), bounds 0 <= a <= 1, 0.05 <= b <= 20. Bi-exponential: 0 <= A <= 1, k >= 0.

    Raises
    ------
    InvalidInputError
        Fewer samples than parameters (3).
    """
    t = np.asarray(times_s, dtype=np.float64)
    f = np.asarray(fractions, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(f)
    t, f = t[ok], f[ok]
    if t.size < 3:
        raise InvalidInputError(f"{t.size} parent-fraction samples, at least 3 needed for a {model} fit",
                                attribute="parent_fraction")
    pos = t[t > 0]
    span = float(np.median(pos)) if pos.size else 60.0
    if model == "hill":
        def resid(x: FloatArray) -> FloatArray:
            return hill_parent_fraction(t, x[0], x[1], np.exp(x[1] * x[2])) - f

        best = None
        for b0 in (1.0, 2.0, 3.0):
            for a0 in (0.5, 0.9, 1.0):
                sol = least_squares(resid, [a0, b0, np.log(span)], bounds=([0.0, 0.05, -10.0], [1.0, 20.0, 30.0]),
                                    xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
                if best is None or sol.cost < best.cost:
                    best = sol
        assert best is not None  # the loops run at least once
        a, b, log_t50 = best.x
        params = {"a": float(a), "b": float(b), "c": float(np.exp(b * log_t50))}
    elif model == "biexp":
        def resid(x: FloatArray) -> FloatArray:
            return biexp_parent_fraction(t, x[0], x[1], x[2]) - f

        best = None
        for k1 in (1.0 / span, 0.1 / span):
            sol = least_squares(resid, [0.5, k1, 0.01 / span], bounds=([0.0, 0.0, 0.0], [1.0, np.inf, np.inf]),
                                xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
            if best is None or sol.cost < best.cost:
                best = sol
        assert best is not None  # the loop runs at least once
        params = {"amp": float(best.x[0]), "k1": float(best.x[1]), "k2": float(best.x[2])}
    else:
        raise ValueError(f"parent fraction model must be 'hill' or 'biexp', got {model!r}")
    return ParentFractionModel(model, params, float(np.sqrt(2.0 * best.cost / t.size)))


# ----------------------------------------------------------------------------------------- input function
@dataclass(frozen=True)
class InputFunction:
    """Sampled input curves (kBq/mL) at ``times_s`` (s from injection, decay-corrected to injection).

    Attributes
    ----------
    times_s : ndarray
        Strictly increasing sample times (s).
    parent_plasma, total_plasma, whole_blood : ndarray
        Curves at ``times_s`` (NaN where not available).
    kind : str
        Which curve is the model input: one of :data:`KINDS`.
    tolerance_s : float
        How far past the last sample :meth:`at` may be asked (the last value is held there).
    provenance : dict
        Models and parameters applied.
    """

    times_s: FloatArray
    parent_plasma: FloatArray
    total_plasma: FloatArray
    whole_blood: FloatArray
    kind: str
    tolerance_s: float = 0.0
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InvalidInputError(f"input function kind {self.kind!r} unknown", attribute="kind",
                                    remedy=f"use one of {', '.join(KINDS)}")
        t = np.asarray(self.times_s, dtype=np.float64)
        if t.ndim != 1 or t.size < 1 or np.any(np.diff(t) <= 0):
            raise InvalidInputError("input function times must be strictly increasing", attribute="times_s")
        for name in KINDS:
            if np.asarray(getattr(self, name)).shape != t.shape:
                raise ValueError(f"{name} has a shape different from times_s")

    @property
    def values(self) -> FloatArray:
        """The curve named by :attr:`kind`."""
        return np.asarray(getattr(self, self.kind), dtype=np.float64)

    @property
    def last_sample_s(self) -> float:
        """Time of the last sample (s)."""
        return float(self.times_s[-1])

    def check_covers(self, scan_end_s: float) -> None:
        """Raise unless the samples reach ``scan_end_s`` (s) within :attr:`tolerance_s`.

        Raises
        ------
        InvalidInputError
            "blood samples do not cover the scan (last sample X s, scan end Y s)".
        """
        if float(scan_end_s) > self.last_sample_s + self.tolerance_s:
            raise InvalidInputError(f"blood samples do not cover the scan (last sample {self.last_sample_s:g} s, "
                                    f"scan end {float(scan_end_s):g} s)", attribute="time_s",
                                    remedy="add later samples or shorten the modelled scan")

    def at(self, t: ArrayLike, kind: str | None = None) -> FloatArray:
        """Linear interpolation at ``t`` (s): 0 before the first sample, the last value held up to
        :attr:`tolerance_s` after the last sample, an error beyond.

        Parameters
        ----------
        t : array_like
            Times (s from injection).
        kind : str, optional
            Curve to interpolate (default :attr:`kind`).
        """
        t = np.asarray(t, dtype=np.float64)
        if t.size:
            self.check_covers(float(np.max(t)))
        y = np.asarray(getattr(self, kind or self.kind), dtype=np.float64)
        return np.interp(t, self.times_s, y, left=0.0, right=float(y[-1]))


def shift(curve: InputFunction, delay_s: float) -> InputFunction:
    """The curve delayed by ``delay_s`` (s): ``C'(t) = C(t - delay_s)`` (negative = earlier).

    Exact: the sample times move, the values do not; before the first (shifted) sample the curve is 0.
    Moving the curve earlier ends it ``-delay_s`` seconds sooner; the tolerance past the last sample
    (:attr:`InputFunction.tolerance_s`) grows by as much, so the last value is held over that gap.
    """
    prov = {**curve.provenance, "delay_s": float(curve.provenance.get("delay_s", 0.0)) + float(delay_s)}
    return replace(curve, times_s=np.asarray(curve.times_s, dtype=np.float64) + float(delay_s), provenance=prov,
                   tolerance_s=curve.tolerance_s + max(0.0, -float(delay_s)))


def _moving_average(y: FloatArray, window: int) -> FloatArray:
    if window <= 1:
        return y
    half = window // 2
    out = np.empty_like(y)
    for i in range(y.size):
        lo, hi = max(0, i - half), min(y.size, i + half + 1)
        out[i] = y[lo:hi].mean()
    return out


def correct_dispersion(times_s: ArrayLike, values: ArrayLike, tau_s: float, *, smooth_points: int = 1) -> FloatArray:
    """First-order dispersion correction ``C + tau dC/dt`` (Iida 1986).

    Parameters
    ----------
    times_s : array_like
        Sample times (s), strictly increasing (dense, e.g. automated sampling).
    values : array_like
        Measured (dispersed) concentration.
    tau_s : float
        Dispersion time constant (s) of the kernel ``(1/tau) exp(-t/tau)``; 0 returns the input.
    smooth_points : int
        Centred moving-average window (samples) applied before both terms (1 = none).
        The corrected curve is not smoothed afterwards.

    Returns
    -------
    ndarray
        Corrected curve; dC/dt by second-order finite differences (``numpy.gradient``) on the
        non-uniform grid. Accuracy is limited by the sampling interval h (error ~ tau h² C''').
    """
    t = np.asarray(times_s, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if tau_s < 0:
        raise InvalidInputError(f"dispersion tau {tau_s} s < 0", attribute="dispersion_tau_s")
    if tau_s == 0:
        return y.copy()
    if t.size < 3:
        raise InvalidInputError("at least 3 samples needed for dispersion correction", attribute="time_s")
    ys = _moving_average(y, int(smooth_points))
    return ys + tau_s * np.gradient(ys, t)


def _decay_corrected_samples(table: pd.DataFrame, *, decay_corrected: bool, half_life_s: float | None,
                             units: str | Mapping[str, str] | None, source: str
                             ) -> tuple[pd.DataFrame, FloatArray, FloatArray, FloatArray, dict]:
    """Step 1: the normalised table, times (s), whole blood and plasma decay-corrected to injection, provenance."""
    df = normalise_blood_table(table, units=units, source=source)
    t = df["time_s"].to_numpy(dtype=np.float64)
    wb = df["whole_blood_kbq_ml"].to_numpy(dtype=np.float64)
    pl = df["plasma_kbq_ml"].to_numpy(dtype=np.float64)
    prov: dict = {"decay_corrected_input": bool(decay_corrected)}
    if not decay_corrected:
        if half_life_s is None:
            raise InvalidInputError("samples are not decay-corrected and no half-life was given", source=source,
                                    attribute="half_life_s", remedy="give the nuclide")
        wb, pl = decay_correct_samples(t, wb, half_life_s), decay_correct_samples(t, pl, half_life_s)
        prov["half_life_s"] = float(half_life_s)
    return df, t, wb, pl, prov


def build_input_function(table: pd.DataFrame, *, decay_corrected: bool, half_life_s: float | None = None,
                         units: str | Mapping[str, str] | None = None, kind: str = "parent_plasma",
                         ratio_model: str = "constant", parent_model: str | None = "hill", delay_s: float = 0.0,
                         dispersion_tau_s: float = 0.0, smooth_points: int = 1, tolerance_s: float = 0.0,
                         source: str = "blood table") -> InputFunction:
    """Process a blood table in the documented order (module docstring) into an :class:`InputFunction`.

    Parameters
    ----------
    table : DataFrame
        See :func:`normalise_blood_table`.
    decay_corrected : bool
        True if the concentrations are already decay-corrected to injection.
    half_life_s : float, optional
        Physical half-life (s); required when ``decay_corrected`` is False.
    units : str or mapping, optional
        Units of bare concentration columns.
    kind : str
        Model input: ``parent_plasma``, ``total_plasma`` or ``whole_blood``.
    ratio_model : str
        Plasma/blood ratio model (``constant`` or ``linear``), used when a column is incomplete.
    parent_model : str or None
        ``hill``, ``biexp``, or None for no metabolite correction (f_p = 1; refused for
        ``kind='parent_plasma'``).
    delay_s : float
        Delay applied with :func:`shift` (s).
    dispersion_tau_s, smooth_points : float, int
        Dispersion correction (see :func:`correct_dispersion`), 0 = none.
    tolerance_s : float
        Allowed extrapolation past the last sample (s).
    source : str
        Named in errors.
    """
    # 1. decay
    df, t, wb, pl, prov = _decay_corrected_samples(table, decay_corrected=decay_corrected, half_life_s=half_life_s,
                                                   units=units, source=source)
    prov["order"] = ["decay", "plasma/blood ratio", "parent fraction", "delay", "dispersion"]
    # 2. plasma / blood
    if np.isnan(wb).any() or np.isnan(pl).any():
        ratio = fit_plasma_blood_ratio(t, pl, wb, model=ratio_model)
        prov["plasma_blood_ratio"] = {"model": ratio.model, "intercept": ratio.intercept, "slope": ratio.slope}
        pl = np.where(np.isnan(pl), ratio(t) * wb, pl)
        wb = np.where(np.isnan(wb), pl / ratio(t), wb)
    # 3. parent fraction at the original sample times
    pf = df["parent_fraction"].to_numpy(dtype=np.float64)
    if parent_model is None:
        if kind == "parent_plasma":
            raise InvalidInputError("kind='parent_plasma' needs a parent fraction model", source=source,
                                    attribute="parent_model", remedy="give parent fractions and parent_model")
        fp_model = ParentFractionModel("none")
    elif kind != "parent_plasma" and not np.isfinite(pf).any():
        fp_model = ParentFractionModel("none")  # no fractions measured and none needed for this kind
    else:
        fp_model = fit_parent_fraction(t, pf, model=parent_model)
    prov["parent_fraction"] = {"model": fp_model.model, **fp_model.params, "rmse": fp_model.rmse}
    parent = pl * fp_model(t)
    curve = InputFunction(t, parent, pl, wb, kind, float(tolerance_s), prov)
    # 4. delay
    if delay_s:
        curve = shift(curve, delay_s)
    # 5. dispersion
    if dispersion_tau_s:
        ct = curve.times_s
        curve = replace(curve, parent_plasma=correct_dispersion(ct, curve.parent_plasma, dispersion_tau_s,
                                                                smooth_points=smooth_points),
                        total_plasma=correct_dispersion(ct, curve.total_plasma, dispersion_tau_s,
                                                        smooth_points=smooth_points),
                        whole_blood=correct_dispersion(ct, curve.whole_blood, dispersion_tau_s,
                                                       smooth_points=smooth_points),
                        provenance={**curve.provenance, "dispersion_tau_s": float(dispersion_tau_s),
                                    "smooth_points": int(smooth_points)})
    return curve


def image_derived_input(tac_times_s: ArrayLike, tac_kbq_ml: ArrayLike, sample_times_s: ArrayLike,
                        sample_kbq_ml: ArrayLike, *, min_time_s: float = 0.0, kind: str = "whole_blood",
                        tolerance_s: float = 0.0) -> tuple[InputFunction, float]:
    """Scale a blood-pool VOI TAC (image-derived input) to venous samples.

    The scale is the least-squares factor ``s = sum(I_i C_i) / sum(I_i^2)`` with ``I_i`` the TAC linearly
    interpolated at the sample times ``t_i`` that lie within the TAC's time range and at or after
    ``min_time_s`` (use late samples, after arterio-venous equilibrium), ``C_i`` the samples.

    Parameters
    ----------
    tac_times_s, tac_kbq_ml : array_like
        Blood-pool TAC: frame mid-times (s from injection) and mean concentration (kBq/mL).
    sample_times_s, sample_kbq_ml : array_like
        Venous samples, decay-corrected to injection like the TAC (kBq/mL).
    min_time_s : float
        Earliest sample time used for scaling (s).
    kind : str
        What the scaled curve represents: ``whole_blood`` (scaled to whole-blood samples) or
        ``total_plasma`` (scaled to plasma samples). The other curves are NaN.
    tolerance_s : float
        As :attr:`InputFunction.tolerance_s`.

    Returns
    -------
    (InputFunction, float)
        The scaled curve at the TAC times, and the scale factor.

    Raises
    ------
    InvalidInputError
        No sample overlaps the TAC, or the TAC is zero there.
    """
    tt, tv = np.asarray(tac_times_s, dtype=np.float64), np.asarray(tac_kbq_ml, dtype=np.float64)
    st, sv = np.asarray(sample_times_s, dtype=np.float64), np.asarray(sample_kbq_ml, dtype=np.float64)
    use = np.isfinite(sv) & (st >= tt[0]) & (st <= tt[-1]) & (st >= min_time_s)
    if not use.any():
        raise InvalidInputError(f"no venous sample between {max(tt[0], min_time_s):g} s and {tt[-1]:g} s "
                                "to scale the image-derived input", attribute="time_s",
                                remedy="lower min_time_s or use samples taken during the scan")
    idif = np.interp(st[use], tt, tv)
    denom = float(np.dot(idif, idif))
    if denom <= 0:
        raise InvalidInputError("image-derived input is zero at the sample times", attribute="tac")
    scale = float(np.dot(idif, sv[use])) / denom
    nan = np.full(tt.shape, np.nan)
    curves = {k: nan for k in KINDS}
    if kind not in ("whole_blood", "total_plasma"):
        raise InvalidInputError(f"image-derived input kind must be whole_blood or total_plasma, got {kind!r}",
                                attribute="kind")
    curves[kind] = tv * scale
    prov = {"image_derived": True, "scale": scale, "n_samples_used": int(use.sum()), "min_time_s": min_time_s}
    return InputFunction(tt, curves["parent_plasma"], curves["total_plasma"], curves["whole_blood"], kind,
                         float(tolerance_s), prov), scale



def image_derived_input_function(tac_times_s: ArrayLike, tac_kbq_ml: ArrayLike, table: pd.DataFrame, *,
                                 decay_corrected: bool, half_life_s: float | None = None,
                                 kind: str = "parent_plasma", ratio_model: str = "constant",
                                 parent_model: str | None = "hill", min_time_s: float = 0.0,
                                 units: str | Mapping[str, str] | None = None, tolerance_s: float = 0.0,
                                 source: str = "blood table") -> InputFunction:
    """An image-derived whole-blood curve scaled to the samples, then converted like sampled blood.

    1. The samples are decay-corrected (step 1 of the module docstring).
    2. The blood-pool TAC is scaled to the whole-blood samples at or after ``min_time_s``
       (:func:`image_derived_input`).
    3. Total plasma = ``r(t)`` x scaled TAC, ``r`` fitted on the samples with both plasma and whole
       blood; parent plasma = total plasma x ``f_p(t)``, ``f_p`` fitted on the sampled fractions.

    Parameters
    ----------
    tac_times_s, tac_kbq_ml : array_like
        Blood-pool VOI: frame mid-times (s from injection) and mean activity (kBq/mL, decay-corrected).
    table : DataFrame
        Blood samples (see :func:`normalise_blood_table`).
    decay_corrected, half_life_s, kind, ratio_model, parent_model, units, tolerance_s, source
        As for :func:`build_input_function`; ``kind='whole_blood'`` needs neither ratio nor fractions.
    min_time_s : float
        Earliest sample used for scaling (s): after arterio-venous equilibrium for venous samples.
    """
    if kind not in KINDS:
        raise InvalidInputError(f"input kind must be one of {', '.join(KINDS)}, got {kind!r}", attribute="kind")
    df, t, wb, pl, prov = _decay_corrected_samples(table, decay_corrected=decay_corrected, half_life_s=half_life_s,
                                                   units=units, source=source)
    curve, _ = image_derived_input(tac_times_s, tac_kbq_ml, t, wb, min_time_s=min_time_s, kind="whole_blood",
                                   tolerance_s=tolerance_s)
    tt, blood = curve.times_s, curve.whole_blood
    prov.update(curve.provenance, order=["decay", "scale to samples", "plasma/blood ratio", "parent fraction"])
    total = np.full(tt.shape, np.nan)
    parent = np.full(tt.shape, np.nan)
    if kind != "whole_blood":
        ratio = fit_plasma_blood_ratio(t, pl, wb, model=ratio_model)
        prov["plasma_blood_ratio"] = {"model": ratio.model, "intercept": ratio.intercept, "slope": ratio.slope}
        total = ratio(tt) * blood
    if kind == "parent_plasma":
        if parent_model is None:
            raise InvalidInputError("kind='parent_plasma' needs a parent fraction model", source=source,
                                    attribute="parent_model", remedy="give parent fractions and parent_model")
        fp_model = fit_parent_fraction(t, df["parent_fraction"].to_numpy(dtype=np.float64), model=parent_model)
        prov["parent_fraction"] = {"model": fp_model.model, **fp_model.params, "rmse": fp_model.rmse}
        parent = total * fp_model(tt)
    return InputFunction(tt, parent, total, blood, kind, float(tolerance_s), prov)
