"""Radioactive decay: the one kernel every SUV path shares.

All times are in seconds, activities in Bq, half-lives in seconds. Functions
accept scalars or numpy arrays (element-wise) and return the same kind.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "decay_constant",
    "decay_fraction",
    "activity_at",
    "average_count_time",
    "frame_decay_correction",
    "seconds_between",
]

Number = TypeVar("Number", float, NDArray[np.float64])


def decay_constant(half_life_s: float) -> float:
    """Decay constant λ = ln 2 / T½ (1/s).

    Parameters
    ----------
    half_life_s : float
        Half-life (s), > 0.
    """
    if not half_life_s > 0:
        raise ValueError(f"half-life must be > 0 s, got {half_life_s!r}")
    return math.log(2.0) / half_life_s


def decay_fraction(elapsed_s: Number, half_life_s: float) -> Number:
    """Fraction of activity left after ``elapsed_s`` seconds: exp(-λ·Δt).

    Negative ``elapsed_s`` gives the growth factor back in time (> 1).

    Parameters
    ----------
    elapsed_s : float or ndarray
        Elapsed time (s).
    half_life_s : float
        Half-life (s).
    """
    lam = decay_constant(half_life_s)
    if isinstance(elapsed_s, np.ndarray):
        return np.exp(-lam * elapsed_s)
    return math.exp(-lam * float(elapsed_s))


def activity_at(activity_bq: float, measured: datetime, when: datetime, half_life_s: float) -> float:
    """Activity (Bq) at ``when`` of a source measured as ``activity_bq`` at ``measured``.

    Parameters
    ----------
    activity_bq : float
        Activity at ``measured`` (Bq).
    measured, when : datetime
        Both naive or both aware.
    half_life_s : float
        Half-life (s).
    """
    return activity_bq * decay_fraction(seconds_between(measured, when), half_life_s)


def average_count_time(duration_s: Number, half_life_s: float) -> Number:
    """T_ave (s): time after frame start at which the frame's mean count rate occurs.

    ``T_ave = ln(λT / (1 - exp(-λT))) / λ`` (DICOM PS3.3 C.8.9.4.1.5); 0 for T = 0.
    Computed with ``expm1``/``log1p``-stable terms so that short frames are exact.

    Parameters
    ----------
    duration_s : float or ndarray
        Frame duration T (s), >= 0 (ActualFrameDuration (0018,1242) / 1000).
    half_life_s : float
        Half-life (s).
    """
    lam = decay_constant(half_life_s)
    x = lam * np.asarray(duration_s, dtype=np.float64)
    if np.any(x < 0):
        raise ValueError("frame duration must be >= 0 s")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(x > 0, x / -np.expm1(-np.where(x > 0, x, 1.0)), 1.0)
    t_ave = np.log(ratio) / lam
    return t_ave if isinstance(duration_s, np.ndarray) else float(t_ave)


def frame_decay_correction(duration_s: Number, half_life_s: float) -> Number:
    """Decay during a frame, λT / (1 - exp(-λT)) = exp(λ·T_ave) (dimensionless, >= 1).

    Multiplying a frame's mean activity by this factor refers it to the frame start.

    Parameters
    ----------
    duration_s : float or ndarray
        Frame duration (s).
    half_life_s : float
        Half-life (s).
    """
    lam = decay_constant(half_life_s)
    t_ave = average_count_time(duration_s, half_life_s)
    if isinstance(t_ave, np.ndarray):
        return np.exp(lam * t_ave)
    return math.exp(lam * t_ave)


def seconds_between(start: datetime, end: datetime) -> float:
    """``end - start`` in seconds, days included (never ``timedelta.seconds``, rule R24)."""
    return (end - start).total_seconds()
