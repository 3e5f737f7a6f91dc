"""T1 mapping, signal to concentration and semi-quantitative DCE parameters (issue 19, item 2; formulas and test
vectors of ``shared/reference/mri.md`` sections 1 and 3.1).

* Spoiled gradient echo (SPGR) steady state: S(a) = S0 sin a (1 - E1) / (1 - cos a E1), E1 = exp(-TR / T1), TR and
  T1 in s, a the actual flip angle (nominal x B1).
* Variable flip angle T1 (DESPOT1): S / sin a = E1 (S / tan a) + S0 (1 - E1), a linear regression; T1 = -TR / ln
  slope. Without the B1 scale the flip angles are wrong and so is T1 (10 % low angles: T1 -19 %).
* Concentration: the exact SPGR inversion with S0 from the pre-contrast frames and T10: q = S / (S0 sin a),
  E1 = (1 - q) / (1 - q cos a), R1 = -ln E1 / TR, C = (R1 - R10) / r1 (mM with r1 in /mM/s). The linear shortcut
  C ~ relative enhancement / (T10 r1) underestimates by up to 80 % and is not offered.
* Semi-quantitative: IAUGC60 (mM s, trapezoid from the onset), time to peak (s from the onset), initial slope
  (mM/s: the peak over the time to peak), washout (% of the peak at the last time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import InvalidInputError

__all__ = ["spgr_signal", "vfa_t1", "t1_map", "concentration", "SemiQuantitative", "semi_quantitative"]

FloatArray = NDArray[np.float64]


def spgr_signal(s0: float, t1_s: ArrayLike, tr_s: float, flip_deg: ArrayLike) -> FloatArray:
    """SPGR steady-state signal (TR and T1 in s, flip angle in degrees)."""
    a = np.deg2rad(np.asarray(flip_deg, dtype=float))
    e1 = np.exp(-tr_s / np.asarray(t1_s, dtype=float))
    return np.asarray(s0 * np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1), dtype=float)


def vfa_t1(signals: ArrayLike, flip_deg: ArrayLike, tr_s: float, *, b1: float = 1.0) -> tuple[float, float]:
    """T1 (s) and S0 from variable-flip-angle signals (DESPOT1 linear fit); ``b1`` scales the nominal angles.

    Raises
    ------
    InvalidInputError
        Fewer than two distinct flip angles, or signals that give no T1 (slope outside (0, 1)).
    """
    s = np.asarray(signals, dtype=float)
    a = np.deg2rad(np.asarray(flip_deg, dtype=float) * b1)
    if np.unique(a).size < 2:
        raise InvalidInputError("variable flip angle T1 needs at least two flip angles", attribute="FlipAngle",
                                remedy="give the series of every flip angle")
    slope, intercept = np.polyfit(s / np.tan(a), s / np.sin(a), 1)
    if not 0.0 < slope < 1.0:
        raise InvalidInputError(f"the flip-angle signals give no T1 (slope {slope:.4g})", attribute="FlipAngle",
                                remedy="check the flip angles, TR and the B1 scale")
    return float(-tr_s / math.log(slope)), float(intercept / (1.0 - slope))


def concentration(signal: ArrayLike, *, tr_s: float, flip_deg: float, t10_s: ArrayLike, r1_per_mm_s: float,
                  n_baseline: int = 1) -> FloatArray:
    """Contrast concentration (mM) of SPGR signal: exact inversion with S0 from the first ``n_baseline``
    (pre-contrast) frames and the native T10 (s); ``r1_per_mm_s`` is the relaxivity in /mM/s.

    ``signal`` is (t,) for a curve or (t, z, y, x) for a volume, with ``t10_s`` a number or a (z, y, x) map; values
    where the inversion has no solution (signal above the fully relaxed one) are NaN.
    """
    s = np.asarray(signal, dtype=float)
    t10 = np.asarray(t10_s, dtype=float)
    a = math.radians(flip_deg)
    e10 = np.exp(-tr_s / t10)
    s0 = np.mean(s[:n_baseline], axis=0) * (1 - math.cos(a) * e10) / (math.sin(a) * (1 - e10))
    with np.errstate(invalid="ignore", divide="ignore"):
        q = s / (s0 * math.sin(a))
        e1 = (1 - q) / (1 - q * math.cos(a))
        r1 = -np.log(e1) / tr_s
        return np.asarray((r1 - 1.0 / t10) / r1_per_mm_s, dtype=float)


def t1_map(signals: ArrayLike, flip_deg: ArrayLike, tr_s: float, *, b1: ArrayLike = 1.0,
           mask: ArrayLike | None = None) -> tuple[FloatArray, FloatArray]:
    """Voxel-wise DESPOT1: T1 (s) and S0 maps of (n_flip, z, y, x) signals; NaN outside ``mask`` and where the
    regression gives no T1. ``b1`` is a number or a (z, y, x) map scaling the nominal angles."""
    s = np.asarray(signals, dtype=float)
    angles = np.deg2rad(np.asarray(flip_deg, dtype=float)).reshape((-1,) + (1,) * (s.ndim - 1))
    a = angles * np.asarray(b1, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        x, y = s / np.tan(a), s / np.sin(a)
        xm, ym = x.mean(axis=0), y.mean(axis=0)
        slope = ((x - xm) * (y - ym)).sum(axis=0) / ((x - xm) ** 2).sum(axis=0)
        intercept = ym - slope * xm
        valid = (slope > 0) & (slope < 1)
        t1 = np.where(valid, -tr_s / np.log(np.where(valid, slope, 0.5)), np.nan)
        s0 = np.where(valid, intercept / (1 - slope), np.nan)
    if mask is not None:
        keep = np.asarray(mask, dtype=bool)
        t1, s0 = np.where(keep, t1, np.nan), np.where(keep, s0, np.nan)
    return np.asarray(t1, dtype=float), np.asarray(s0, dtype=float)


@dataclass(frozen=True)
class SemiQuantitative:
    """IAUGC60 (mM s), time to peak (s), initial slope (mM/s), peak (mM) and washout (% of the peak)."""

    iaugc60_mm_s: float
    time_to_peak_s: float
    initial_slope_mm_per_s: float
    peak_mm: float
    washout_percent: float


def semi_quantitative(t_s: ArrayLike, c_mm: ArrayLike, onset_s: float) -> SemiQuantitative:
    """Semi-quantitative DCE parameters of a concentration curve from the bolus onset ``onset_s`` (s)."""
    t, c = np.asarray(t_s, dtype=float), np.asarray(c_mm, dtype=float)
    after = t >= onset_s
    window = after & (t <= onset_s + 60.0)
    tw, cw = t[window], c[window]
    iaugc = float(np.sum((cw[1:] + cw[:-1]) / 2 * np.diff(tw))) if tw.size > 1 else math.nan
    k = int(np.argmax(np.where(after, c, -np.inf)))
    ttp = float(t[k] - onset_s)
    peak = float(c[k])
    return SemiQuantitative(iaugc60_mm_s=iaugc, time_to_peak_s=ttp,
                            initial_slope_mm_per_s=peak / ttp if ttp > 0 else math.nan, peak_mm=peak,
                            washout_percent=float(100.0 * (c[-1] - peak) / peak) if peak > 0 else math.nan)
