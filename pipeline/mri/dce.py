"""DCE-MRI tracer-kinetic fits of tissue concentration curves (issue 19): standard Tofts, extended Tofts, the
two-compartment exchange model (2CXM) and Patlak, with dcmri's forward models.

Every model is written in the plasma convention of the OSIPI lexicon (``shared/reference/mri.md`` section 3): the
arterial input is the plasma concentration Cp (a blood AIF is divided by 1 - Hct), and dcmri's blood-based models
are called with H = 0, so that their blood volume and flow are the plasma vp and Fp. Internally time is in s and
flows in mL/s/mL; the table reports Ktrans and PS in /min (x 60) and Fp in mL/100 mL/min (x 6000). dcmri's forward
models equal the exact recursive convolution to machine precision (the reference's known-answer checks).

Fits are nonlinear least squares (scipy, trust-region reflective, bounded) with standard errors from the Jacobian
(s^2 (J^T J)^-1) and the small-sample AIC (AICc) for model comparison; an optional delay of the AIF (0-30 s) is
fitted with the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import least_squares

__all__ = ["MODELS", "POPULATION_AIFS", "DceFit", "population_aif", "plasma_input", "fit_curve", "model_curve",
           "table_curve", "MAX_DELAY_S"]

FloatArray = NDArray[np.float64]
MAX_DELAY_S = 30.0


@dataclass(frozen=True)
class _Model:
    names: tuple[str, ...]  # parameters fitted (internal units: /s, mL/s/mL, fractions)
    start: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    forward: Callable[[FloatArray, FloatArray, FloatArray], FloatArray]  # (cp, t, params) -> ct


def _dcmri(kinetics: str, cp: FloatArray, t: FloatArray, **params: float) -> FloatArray:
    import dcmri

    return np.asarray(dcmri.conc_tissue(cp, t=t, kinetics=kinetics, H=0.0, **params), dtype=float)


MODELS: dict[str, _Model] = {
    "tofts": _Model(("ktrans", "ve"), (0.1 / 60, 0.2), (0.0, 1e-4), (5.0 / 60, 1.0),
                    lambda cp, t, p: _dcmri("WV", cp, t, vi=p[1], Ktrans=p[0])),
    "etm": _Model(("ktrans", "ve", "vp"), (0.1 / 60, 0.2, 0.02), (0.0, 1e-4, 0.0), (5.0 / 60, 1.0, 1.0),
                  lambda cp, t, p: _dcmri("HF", cp, t, vb=p[2], vi=p[1], PS=p[0])),
    "2cxm": _Model(("fp", "ps", "vp", "ve"), (50.0 / 6000, 10.0 / 6000, 0.05, 0.2), (1e-6, 0.0, 1e-4, 1e-4),
                   (500.0 / 6000, 300.0 / 6000, 1.0, 1.0),
                   lambda cp, t, p: _dcmri("2CX", cp, t, vb=p[2], vi=p[3], Fb=p[0], PS=p[1])),
    "patlak": _Model(("ps", "vp"), (0.05 / 60, 0.02), (0.0, 0.0), (5.0 / 60, 1.0),
                     lambda cp, t, p: _dcmri("HFU", cp, t, vb=p[1], PS=p[0])),
}


@dataclass(frozen=True)
class DceFit:
    """One curve's fit: parameters in the table's units (None where the model lacks them), their standard errors,
    the delay (s), AICc and whether the optimiser converged to a finite, interior solution."""

    model: str
    ktrans_per_min: float | None
    ve: float | None
    vp: float | None
    fp_ml_per_100ml_per_min: float | None
    ps_per_min: float | None
    delay_s: float
    converged: bool
    se: dict[str, float | None]
    aicc: float
    rss: float


#: Population AIFs of dcmri (blood concentration) and their source.
POPULATION_AIFS = {"parker": "Parker et al. 2006, 0.1 mmol/kg (dcmri.aif_parker)",
                   "tristan": "TRISTAN whole-body circulation model, Min et al. 2024 (dcmri.aif_tristan)"}


@lru_cache(maxsize=16)
def _tristan(t_max: float, agent: str, dose: float, bat: float, weight: float) -> tuple[FloatArray, FloatArray]:
    """dcmri's TRISTAN AIF (mM) on a 0.1 s grid up to ``t_max`` (its injection needs steps well below 1 s; 0.25 s
    already moves the curve by 1 %); a few seconds each, so cached."""
    import dcmri

    fine = np.arange(0.0, t_max, 0.1)
    values = dcmri.aif_tristan(fine, agent=agent, dose=dose, BAT=bat, weight=weight)
    return fine, np.asarray(values, dtype=float) * 1000.0


def population_aif(name: str, t: FloatArray, *, bolus_arrival_s: float = 0.0, agent: str = "gadoterate",
                   dose_ml_per_kg: float = 0.2, weight_kg: float = 73.0) -> FloatArray:
    """A population arterial input (blood concentration, mM) on ``t`` (s) with its onset at ``bolus_arrival_s``.

    ``parker``: Parker et al. 2006 (a fixed 0.1 mmol/kg bolus); ``tristan``: dcmri's whole-body model for the
    agent, dose (mL/kg, injected at 3 mL/s) and weight (its defaults are those of young healthy volunteers).

    Raises
    ------
    InvalidInputError
        An unknown AIF name or agent.
    """
    import dcmri

    from ..errors import InvalidInputError

    t = np.asarray(t, dtype=float)
    if name == "parker":
        return np.asarray(dcmri.aif_parker(t, BAT=bolus_arrival_s), dtype=float) * 1000.0
    if name == "tristan":
        if not (dose_ml_per_kg > 0 and weight_kg > 0):
            raise InvalidInputError(f"dose {dose_ml_per_kg:g} mL/kg and weight {weight_kg:g} kg must be positive",
                                    attribute="--dose/--weight", remedy="give the injected dose and the weight")
        try:
            fine, values = _tristan(round(float(t.max()) + 0.2, 1), agent, dose_ml_per_kg, bolus_arrival_s, weight_kg)
        except Exception as exc:  # noqa: BLE001 - dcmri raises several kinds (an unknown agent, a bad dose)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInputError(f"dcmri's TRISTAN AIF for {agent!r}, {dose_ml_per_kg:g} mL/kg: {first}",
                                    attribute="--agent/--dose",
                                    remedy="give a gadolinium agent of dcmri's table and a dose in mL/kg, or "
                                           "--population-aif parker") from None
        return np.interp(t, fine, values)
    raise InvalidInputError(f"unknown population AIF {name!r}", attribute="--population-aif",
                            remedy=f"use {', '.join(POPULATION_AIFS)}")


def plasma_input(concentration: FloatArray, *, kind: str = "plasma", hct: float = 0.45) -> FloatArray:
    """The arterial plasma concentration: a blood AIF divided by (1 - Hct), a plasma one as it is."""
    values = np.asarray(concentration, dtype=float)
    return values / (1.0 - hct) if kind == "blood" else values


def _shifted(cp: FloatArray, t: FloatArray, delay_s: float) -> FloatArray:
    """Cp(t - delay), zero before the first sample."""
    if delay_s == 0.0:
        return cp
    return np.interp(t - delay_s, t, cp, left=0.0)


def model_curve(model: str, cp: FloatArray, t: FloatArray, params: FloatArray, delay_s: float = 0.0) -> FloatArray:
    """The tissue curve of ``model`` with internal-unit ``params`` for the plasma input ``cp`` on ``t`` (s)."""
    return MODELS[model].forward(_shifted(cp, t, delay_s), t, np.asarray(params, dtype=float))


def table_curve(model: str, row: dict[str, object], cp: FloatArray, t: FloatArray) -> FloatArray:
    """The tissue curve (mM) of a fitted row in the table's units (``petvoi dce`` columns) for ``cp`` on ``t``."""
    def value(name: str) -> float:
        v = row.get(name)
        return float(v) if v is not None and v == v else math.nan  # type: ignore[arg-type]

    flow = value("ktrans_per_min") if math.isfinite(value("ktrans_per_min")) else value("ps_per_min")
    params = {"tofts": [flow / 60, value("ve")], "etm": [flow / 60, value("ve"), value("vp")],
              "2cxm": [value("fp_ml_per_100ml_per_min") / 6000, value("ps_per_min") / 60, value("vp"), value("ve")],
              "patlak": [flow / 60, value("vp")]}[model]
    delay = value("delay_s")
    return model_curve(model, cp, t, np.array(params), delay_s=delay if math.isfinite(delay) else 0.0)


def _interior(spec: _Model, x: FloatArray) -> bool:
    """Whether the model parameters of ``x`` lie inside their bounds by more than 1e-6 of the bounds' range (a
    parameter closer than that is on its bound: e.g. Ktrans 3e-9 /s of a vessel without leakage, whose ve is then
    not identifiable)."""
    return all(lo + 1e-6 * (hi - lo) < v < hi - 1e-6 * (hi - lo)
               for v, lo, hi in zip(x[: len(spec.names)], spec.low, spec.high, strict=True) if hi > lo)


def _linear_start(model: str, t: FloatArray, ct: FloatArray, cp: FloatArray) -> FloatArray | None:
    """The linearised least-squares solution (Murase 2004) of Tofts, ETM or Patlak, in internal units; None for
    the 2CXM or when the linear system gives no usable start.

    ETM: C(t) = vp Cp(t) + (Ktrans + kep vp) int Cp - kep int C; Tofts without the vp term; Patlak: C(t) =
    Ktrans int Cp + vp Cp (exactly linear). Integrals by the cumulative trapezoid on ``t``.
    """
    if model not in ("tofts", "etm", "patlak"):
        return None
    from scipy.integrate import cumulative_trapezoid

    int_cp = cumulative_trapezoid(cp, t, initial=0.0)
    int_ct = cumulative_trapezoid(ct, t, initial=0.0)
    columns = {"tofts": [int_cp, -int_ct], "etm": [int_cp, -int_ct, cp], "patlak": [int_cp, cp]}[model]
    coef, *_ = np.linalg.lstsq(np.column_stack(columns), ct, rcond=None)
    if not np.all(np.isfinite(coef)):
        return None
    if model == "patlak":
        return np.array([coef[0], coef[1]])
    kep = coef[1]
    vp = coef[2] if model == "etm" else 0.0
    ktrans = coef[0] - kep * vp
    if kep <= 0 or ktrans <= 0:
        return None
    return np.array([ktrans, ktrans / kep] + ([vp] if model == "etm" else []))


def fit_curve(model: str, t: FloatArray, ct: FloatArray, cp: FloatArray, *, fit_delay: bool = False) -> DceFit:
    """Fit one tissue curve ``ct`` (mM) on ``t`` (s) to ``model`` with the plasma input ``cp`` (mM)."""
    spec = MODELS[model]
    t, ct, cp = (np.asarray(a, dtype=float) for a in (t, ct, cp))
    n_params = len(spec.names) + (1 if fit_delay else 0)
    start = list(spec.start) + ([0.0] if fit_delay else [])
    low = list(spec.low) + ([0.0] if fit_delay else [])
    high = list(spec.high) + ([MAX_DELAY_S] if fit_delay else [])

    def residuals(x: FloatArray) -> FloatArray:
        delay = float(x[-1]) if fit_delay else 0.0
        return model_curve(model, cp, t, x[: len(spec.names)], delay) - ct

    def solve(x0: FloatArray) -> object:
        x0 = np.clip(x0, np.array(low) + 1e-12, np.array(high) - 1e-12)
        return least_squares(residuals, x0, bounds=(low, high), method="trf", x_scale="jac", max_nfev=2000)

    best: Any = None
    linear = None if fit_delay else _linear_start(model, t, ct, cp)
    if linear is not None:  # Tofts, ETM, Patlak: one fit from the linearised solution (Murase 2004)
        best = solve(linear)
        if not (best.success and _interior(spec, best.x)):
            best = None
    if best is None:
        for start_scale in (1.0, 0.3, 3.0):  # a few starts: the 2CXM surface has local minima
            res: Any = solve(np.array(start) * np.array([start_scale] * len(spec.names)
                                                        + ([1.0] if fit_delay else [])))
            if best is None or res.cost < best.cost:
                best = res
    n = len(ct)
    rss = float(2.0 * best.cost)
    dof = max(n - n_params, 1)
    se_internal: list[float | None] = [None] * n_params
    try:
        cov = np.linalg.inv(best.jac.T @ best.jac) * (rss / dof)
        se_internal = [float(math.sqrt(v)) if v >= 0 and math.isfinite(v) else None for v in np.diag(cov)]
    except np.linalg.LinAlgError:
        pass
    interior = _interior(spec, best.x) or model == "patlak"
    converged = bool(best.success and math.isfinite(rss) and interior)
    aicc = (n * math.log(rss / n) + 2 * n_params + 2 * n_params * (n_params + 1) / max(n - n_params - 1, 1)
            if rss > 0 else -math.inf)
    values = dict(zip(spec.names, best.x[: len(spec.names)], strict=True))
    errors = dict(zip(spec.names, se_internal[: len(spec.names)], strict=True))
    factor = {"ktrans": 60.0, "ps": 60.0, "fp": 6000.0, "ve": 1.0, "vp": 1.0}

    def out(name: str) -> float | None:
        return float(values[name] * factor[name]) if name in values else None

    def err(name: str) -> float | None:
        e = errors.get(name)
        return None if e is None else float(e * factor[name])

    ktrans = out("ktrans")
    if model == "2cxm":  # Ktrans = E Fp with E = PS / (Fp + PS)
        fp, ps = values["fp"], values["ps"]
        ktrans = float(60.0 * fp * ps / (fp + ps)) if fp + ps > 0 else None
    if model == "patlak":  # Patlak's Ki is its Ktrans
        ktrans = out("ps")
    return DceFit(model=model, ktrans_per_min=ktrans, ve=out("ve"), vp=out("vp"),
                  fp_ml_per_100ml_per_min=out("fp"), ps_per_min=out("ps") if model != "patlak" else None,
                  delay_s=float(best.x[-1]) if fit_delay else 0.0, converged=converged,
                  se={"ktrans_per_min": err("ktrans") if model in ("tofts", "etm") else
                      (err("ps") if model == "patlak" else None),
                      "ve": err("ve"), "vp": err("vp"), "fp_ml_per_100ml_per_min": err("fp"),
                      "ps_per_min": err("ps") if model == "2cxm" else None,
                      "delay_s": se_internal[-1] if fit_delay else None},
                  aicc=float(aicc), rss=rss)
