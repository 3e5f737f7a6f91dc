"""The table-level MRI commands' contract: read the curve tables, fit each curve, write one row per curve.

``petvoi dce``: ``curves.csv`` (curve_id, time_s, concentration_mM; every curve on the AIF's time grid) and
``aif.csv`` (time_s, concentration_mM) -> ``curve_id, model, ktrans_per_min, ve, vp, fp_ml_per_100ml_per_min,
ps_per_min, delay_s, converged``, then the standard errors (``se_...``) and ``aicc``.
``petvoi ivim`` / ``petvoi dki``: ``signals.csv`` (curve_id, b_s_per_mm2, signal) -> IVIM or DKI parameters
and the ADC.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from ..io import write_csv
from .dce import MODELS, fit_curve, plasma_input
from .dce import population_aif as population_aif_curve
from .diffusion import IVIM_METHODS, fit_dki, fit_ivim, ivim_posterior, posterior_fit

log = logging.getLogger(__name__)

__all__ = ["DCE_COLUMNS", "IVIM_COLUMNS", "DKI_COLUMNS", "run_dce", "run_ivim", "run_dki", "warn_not_converged"]

DCE_COLUMNS = ["curve_id", "model", "ktrans_per_min", "ve", "vp", "fp_ml_per_100ml_per_min", "ps_per_min", "delay_s",
               "converged", "se_ktrans_per_min", "se_ve", "se_vp", "se_fp_ml_per_100ml_per_min", "se_ps_per_min",
               "se_delay_s", "aicc"]
IVIM_COLUMNS = ["curve_id", "f", "d_mm2_per_s", "dstar_mm2_per_s", "s0", "converged", "adc_mm2_per_s"]
DKI_COLUMNS = ["curve_id", "d_app_mm2_per_s", "k_app", "s0", "converged", "adc_mm2_per_s"]


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={"curve_id": str})
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot be read as CSV ({type(exc).__name__})", source=str(path),
                                remedy="give a comma-separated table") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InvalidInputError(f"missing column(s) {', '.join(missing)}", source=str(path), attribute=missing[0],
                                remedy=f"the table needs the columns {', '.join(columns)}")
    numeric = [c for c in columns if c != "curve_id"]
    bad = table[numeric].apply(pd.to_numeric, errors="coerce").isna().any(axis=1) | ~np.isfinite(
        table[numeric].apply(pd.to_numeric, errors="coerce").fillna(0)).all(axis=1)
    if bad.any():
        line = int(bad.idxmax()) + 2
        raise InvalidInputError("a value that is not a finite number", source=str(path), attribute=f"line {line}",
                                remedy="write plain numbers")
    return table


def warn_not_converged(table: pd.DataFrame, what: str, *, key: str = "curve_id",
                       column: str = "converged") -> list[str]:
    """Log one warning naming the rows of ``table`` whose fit did not converge (their numbers are not to be
    reported); returns their ``key`` values."""
    if column not in table or table.empty:
        return []
    failed = [str(v) for v in table.loc[~table[column].astype(bool), key]]
    if failed:
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        log.warning("%s: %d fit(s) did not converge or hit a bound (converged = False; not to be reported): %s",
                    what, len(failed), shown)
    return failed


def run_dce(curves: Path, aif: Path | None, output: Path, *, model: str, fit_delay: bool = False,
            aif_kind: str = "plasma", hct: float = 0.45, population_aif: str | None = None,
            bolus_arrival_s: float = 0.0) -> pd.DataFrame:
    """Fit every curve of ``curves`` to ``model`` with the AIF of ``aif`` (or the population AIF
    ``population_aif``: ``parker`` or ``tristan``, blood, from dcmri (:func:`~pipeline.mri.dce.population_aif`),
    starting at ``bolus_arrival_s``, on the curves' time grid); write and return the table."""
    if model not in MODELS:
        raise InvalidInputError(f"unknown model {model!r}", attribute="--model", remedy=f"use {', '.join(MODELS)}")
    if not 0.0 <= hct < 1.0:
        raise InvalidInputError(f"haematocrit {hct} is outside [0, 1)", attribute="--hct", remedy="give e.g. 0.45")
    c = _read(curves, ["curve_id", "time_s", "concentration_mM"])
    if (c["time_s"].astype(float) < 0).any():
        raise InvalidInputError("negative times", source=str(curves), attribute="time_s",
                                remedy="give times in s from the first sample (the AIF's time zero), none negative")
    if population_aif is not None:
        t = np.sort(c["time_s"].unique().astype(float))
        cp = plasma_input(population_aif_curve(population_aif, t, bolus_arrival_s=bolus_arrival_s), kind="blood",
                          hct=hct)
    elif aif is None:
        raise InvalidInputError("no arterial input", attribute="--aif", remedy="give --aif aif.csv or "
                                                                              "--population-aif parker")
    else:
        a = _read(aif, ["time_s", "concentration_mM"]).sort_values("time_s")
        t = a["time_s"].to_numpy(float)
        if np.any(np.diff(t) <= 0):
            raise InvalidInputError("times are not strictly increasing", source=str(aif), attribute="time_s",
                                    remedy="one row per time, increasing")
        if t[0] < 0:
            raise InvalidInputError("negative times", source=str(aif), attribute="time_s",
                                    remedy="give times in s from the first sample, none negative")
        cp = plasma_input(a["concentration_mM"].to_numpy(float), kind=aif_kind, hct=hct)
    rows = []
    for curve_id, group in c.groupby("curve_id", sort=False):
        group = group.sort_values("time_s")
        times = group["time_s"].to_numpy(float)
        if len(times) != len(t) or not np.allclose(times, t, atol=1e-6):
            raise InvalidInputError(f"curve {curve_id!r} is not on the AIF's time grid ({len(times)} times, the AIF "
                                    f"{len(t)})", source=str(curves), attribute="time_s",
                                    remedy="sample every curve at the AIF's times")
        fit = fit_curve(model, t, group["concentration_mM"].to_numpy(float), cp, fit_delay=fit_delay)
        rows.append({"curve_id": curve_id, "model": model, "ktrans_per_min": fit.ktrans_per_min, "ve": fit.ve,
                     "vp": fit.vp, "fp_ml_per_100ml_per_min": fit.fp_ml_per_100ml_per_min,
                     "ps_per_min": fit.ps_per_min, "delay_s": fit.delay_s if fit_delay else None,
                     "converged": fit.converged, **{f"se_{k}": v for k, v in fit.se.items()}, "aicc": fit.aicc})
    table = pd.DataFrame(rows, columns=DCE_COLUMNS)
    warn_not_converged(table, f"DCE {model}")
    write_csv(output, table)
    return table


def _signals(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    s = _read(path, ["curve_id", "b_s_per_mm2", "signal"])
    out = []
    for curve_id, group in s.groupby("curve_id", sort=False):
        if group["b_s_per_mm2"].nunique() < 3:
            raise InvalidInputError(f"curve {curve_id!r} has fewer than 3 b-values", source=str(path),
                                    attribute="b_s_per_mm2", remedy="give at least 3 b-values per curve")
        if float(group["b_s_per_mm2"].min()) != 0.0:
            raise InvalidInputError(f"curve {curve_id!r} has no b = 0 (its lowest b is "
                                    f"{float(group['b_s_per_mm2'].min()):g}): S0 and the perfusion fraction would "
                                    "be taken from a diffusion-weighted signal", source=str(path),
                                    attribute="b_s_per_mm2", remedy="include the b = 0 signal of every curve")
        out.append((str(curve_id), group["b_s_per_mm2"].to_numpy(float), group["signal"].to_numpy(float)))
    return out


def run_ivim(signals: Path, output: Path, *, method: str = "segmented", b_threshold: float = 200.0,
             adc_range: tuple[float, float] = (0.0, 1000.0)) -> pd.DataFrame:
    """IVIM of every curve of ``signals``; write and return the table."""
    if method not in IVIM_METHODS:
        raise InvalidInputError(f"IVIM method {method!r} is not available", attribute="--method",
                                remedy=f"use {' or '.join(IVIM_METHODS)}")
    rows = []
    extra: list[str] = []
    for curve_id, b, s in _signals(signals):
        post = ivim_posterior(b, s) if method == "bayesian" else None
        fit = (posterior_fit(post, b, s, adc_range) if post is not None
               else fit_ivim(b, s, method=method, b_threshold=b_threshold, adc_range=adc_range))
        row = {"curve_id": curve_id, "f": fit.f, "d_mm2_per_s": fit.d_mm2_per_s,
               "dstar_mm2_per_s": fit.dstar_mm2_per_s, "s0": fit.s0, "converged": fit.converged,
               "adc_mm2_per_s": fit.adc_mm2_per_s}
        if post is not None:  # the posterior's spread: SD and 95 % credible interval of each parameter
            for key, name in (("f", "f"), ("d", "d_mm2_per_s"), ("dstar", "dstar_mm2_per_s")):
                low, high = post.interval[key]
                row.update({f"{name}_sd": post.sd[key], f"{name}_ci_low": low, f"{name}_ci_high": high})
            extra = [k for k in row if k not in IVIM_COLUMNS]
        rows.append(row)
    table = pd.DataFrame(rows, columns=IVIM_COLUMNS + extra)
    warn_not_converged(table, f"IVIM {method}")
    write_csv(output, table)
    return table


def run_dki(signals: Path, output: Path, *, adc_range: tuple[float, float] = (0.0, 1000.0)) -> pd.DataFrame:
    """Jensen's kurtosis model of every curve of ``signals``; write and return the table."""
    rows = []
    for curve_id, b, s in _signals(signals):
        fit = fit_dki(b, s, adc_range=adc_range)
        rows.append({"curve_id": curve_id, "d_app_mm2_per_s": fit.d_app_mm2_per_s, "k_app": fit.k_app,
                     "s0": fit.s0, "converged": fit.converged, "adc_mm2_per_s": fit.adc_mm2_per_s})
    table = pd.DataFrame(rows, columns=DKI_COLUMNS)
    warn_not_converged(table, "DKI")
    write_csv(output, table)
    return table
