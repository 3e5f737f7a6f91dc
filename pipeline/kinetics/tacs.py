"""Time-activity curves (TACs): mean activity concentration per VOI and time frame.

Units. Times are seconds from injection (the ``frames`` list of a dynamic
``suv.json``: ``start_s``, ``duration_s``, ``mid_s``, ``end_s``). Activity
concentrations are kBq/mL, SUV in g/mL (reported unitless).

SUV to activity. The SUV stage writes ``SUV = A_c x N / D`` with ``N`` the
normaliser (body weight in g for SUVbw, LBM in g, BSA in cm²) and ``D`` the
dose decayed to the image reference time (or, for DecayCorrection NONE, to
each frame). Hence ``SUV x D_inj / N`` is the activity concentration
decay-corrected **to the injection time** whatever the image's own decay
correction was, which is what kinetic models and blood samples decay-corrected
to injection need. :func:`suv_to_kbq_ml_factor` returns that multiplier
(``reference="injection"``, the default), or ``activity_scale / suv_factor``
(``reference="image"``: the activity as the image holds it, i.e.
``activity_bq_ml = SUV / suv_factor`` for BQML images and SUVbw).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InvalidInputError
from ..voi.catalogue import VoiSet

__all__ = ["TAC_COLUMNS", "validate_frames", "suv_to_kbq_ml_factor", "extract_tacs"]

TAC_COLUMNS = ("label", "name", "frame", "start_s", "duration_s", "mid_s", "activity_kbq_ml", "suv_mean",
               "n_voxels")
#: Two frames may touch with this much rounding overlap (s) (DICOM times are to the millisecond or coarser).
FRAME_TOLERANCE_S = 1e-3


def validate_frames(frames: Sequence[Mapping[str, Any]], *, source: str = "frames") -> pd.DataFrame:
    """Check and tabulate frame timing (seconds from injection).

    Parameters
    ----------
    frames : sequence of mapping
        One entry per frame in image order, with ``start_s`` and ``duration_s`` (s);
        ``frame`` (number) and ``mid_s`` are optional (``mid_s`` defaults to start + duration / 2).
    source : str
        Named in errors (e.g. the ``suv.json`` path).

    Returns
    -------
    DataFrame
        Columns frame, start_s, duration_s, mid_s, end_s.

    Raises
    ------
    InvalidInputError
        Missing times, negative start, non-positive duration, mid-time outside the frame,
        frames out of order or overlapping (the frame is named).
    """
    rows = []
    for i, f in enumerate(frames):
        number = int(f.get("frame", i + 1)) if f.get("frame") is not None else i + 1
        start, duration = f.get("start_s"), f.get("duration_s")
        if start is None or duration is None:
            raise InvalidInputError(f"frame {number} has no start_s/duration_s", source=source,
                                    attribute=f"frames[{i}]", remedy="give the injection time so frames are timed")
        start, duration = float(start), float(duration)
        if not np.isfinite(start) or start < 0:
            raise InvalidInputError(f"frame {number} starts at {start} s, before the injection", source=source,
                                    attribute=f"frames[{i}].start_s", remedy="check the injection time")
        if not np.isfinite(duration) or duration <= 0:
            raise InvalidInputError(f"frame {number} has duration {duration} s (must be > 0)", source=source,
                                    attribute=f"frames[{i}].duration_s")
        mid = float(f["mid_s"]) if f.get("mid_s") is not None else start + duration / 2.0
        if not start <= mid <= start + duration:
            raise InvalidInputError(f"frame {number} mid-time {mid} s is outside [{start}, {start + duration}] s",
                                    source=source, attribute=f"frames[{i}].mid_s")
        rows.append((number, start, duration, mid, start + duration))
    if not rows:
        raise InvalidInputError("no frames", source=source, attribute="frames")
    for i in range(1, len(rows)):
        prev, cur = rows[i - 1], rows[i]
        if cur[1] < prev[1]:
            raise InvalidInputError(f"frame {cur[0]} (start {cur[1]} s) is out of order: it starts before frame "
                                    f"{prev[0]} (start {prev[1]} s)", source=source, attribute=f"frames[{i}]",
                                    remedy="sort the frames by start time")
        if cur[1] < prev[4] - FRAME_TOLERANCE_S:
            raise InvalidInputError(f"frame {cur[0]} (start {cur[1]} s) overlaps frame {prev[0]} "
                                    f"(end {prev[4]} s)", source=source, attribute=f"frames[{i}]",
                                    remedy="check frame start times and durations")
    return pd.DataFrame(rows, columns=["frame", "start_s", "duration_s", "mid_s", "end_s"])


def suv_to_kbq_ml_factor(sidecar: Mapping[str, Any], *, reference: str = "injection") -> float | np.ndarray:
    """Multiplier from SUV to activity concentration (kBq/mL), from a ``suv.json`` sidecar.

    Parameters
    ----------
    sidecar : mapping
        ``suv.json`` content.
    reference : {"injection", "image"}
        ``injection``: ``D_inj / normaliser / 1000`` (activity decay-corrected to the injection time;
        needs ``injected_dose_bq`` and ``normaliser_value``). ``image``: ``activity_scale / suv_factor / 1000``
        per frame (activity as stored in the image, decay-corrected as the image was).

    Returns
    -------
    float or ndarray
        One factor, or one per frame (``image`` with per-frame ``suv_factors``).

    Raises
    ------
    InvalidInputError
        When the sidecar lacks the values needed.
    """
    if reference == "injection":
        dose, norm = sidecar.get("injected_dose_bq"), sidecar.get("normaliser_value")
        if not dose or not norm or float(dose) <= 0 or float(norm) <= 0:
            raise InvalidInputError("injected_dose_bq and normaliser_value are needed to convert SUV to kBq/mL",
                                    source="suv.json", attribute="injected_dose_bq/normaliser_value",
                                    remedy="give --dose and --weight to petvoi suv, or pass suv_to_kbq")
        return float(dose) / float(norm) / 1000.0
    if reference == "image":
        scale = sidecar.get("activity_scale")
        factors = sidecar.get("suv_factor")
        if factors is None:
            factors = sidecar.get("suv_factors")
        if scale is None or factors is None:
            raise InvalidInputError("activity_scale and suv_factor(s) are needed for reference='image'",
                                    source="suv.json", attribute="activity_scale/suv_factor",
                                    remedy="use reference='injection'")
        f = np.asarray(factors, dtype=np.float64)
        out = float(scale) / f / 1000.0
        return float(out) if out.ndim == 0 else out
    raise ValueError(f"reference must be 'injection' or 'image', got {reference!r}")


def extract_tacs(pet4d: np.ndarray, voiset: VoiSet, frames: Sequence[Mapping[str, Any]], *,
                 suv_to_kbq: float | Sequence[float] | np.ndarray | None) -> pd.DataFrame:
    """Mean activity concentration and SUV per VOI and frame.

    Parameters
    ----------
    pet4d : ndarray, shape (t, z, y, x)
        SUV (g/mL) when ``suv_to_kbq`` is given, else activity concentration (kBq/mL).
    voiset : VoiSet
        VOIs on the same (z, y, x) grid.
    frames : sequence of mapping
        Frame timing from injection (``suv.json`` ``frames``), one per volume, in order; see
        :func:`validate_frames`.
    suv_to_kbq : float, sequence of float or None
        Multiplier from SUV to kBq/mL (one, or one per frame), e.g. :func:`suv_to_kbq_ml_factor`.
        None: ``pet4d`` already holds kBq/mL and ``suv_mean`` is NaN.

    Returns
    -------
    DataFrame
        One row per (VOI, frame), columns :data:`TAC_COLUMNS`; times in s from injection,
        ``activity_kbq_ml`` in kBq/mL. Empty VOIs give NaN means and ``n_voxels`` 0.

    Raises
    ------
    InvalidInputError
        Bad frame timing, a frame count or grid that does not match, bad conversion factors.
    """
    data = np.asarray(pet4d)
    if data.ndim != 4:
        raise InvalidInputError(f"expected a 4D (t, z, y, x) PET volume, got shape {data.shape}", attribute="pet")
    table = validate_frames(frames)
    n_t = data.shape[0]
    if len(table) != n_t:
        raise InvalidInputError(f"{len(table)} frames listed for {n_t} volumes", attribute="frames",
                                remedy="use the suv.json written with this volume")
    if tuple(data.shape[1:]) != tuple(voiset.masks.shape[1:]):
        raise InvalidInputError(f"VOI grid {tuple(voiset.masks.shape[1:])} differs from PET grid "
                                f"{tuple(data.shape[1:])}", attribute="vois", remedy="build VOIs on the PET grid")
    if suv_to_kbq is None:
        factor = None
    else:
        factor = np.broadcast_to(np.asarray(suv_to_kbq, dtype=np.float64), (n_t,)) if np.ndim(suv_to_kbq) == 0 \
            else np.asarray(suv_to_kbq, dtype=np.float64)
        if factor.shape != (n_t,) or not np.all(np.isfinite(factor)) or np.any(factor <= 0):
            raise InvalidInputError(f"suv_to_kbq must be one positive factor or one per frame ({n_t})",
                                    attribute="suv_to_kbq")
    flat = data.reshape(n_t, -1)
    rows = []
    for voi, mask in zip(voiset.vois, voiset.masks, strict=True):
        idx = np.flatnonzero(mask.ravel())
        n = int(idx.size)
        means = flat[:, idx].astype(np.float64).mean(axis=1) if n else np.full(n_t, np.nan)
        if factor is None:
            activity, suv = means, np.full(n_t, np.nan)
        else:
            activity, suv = means * factor, means
        for k, fr in enumerate(table.itertuples(index=False)):
            rows.append((voi.label, voi.name, int(fr.frame), float(fr.start_s), float(fr.duration_s),
                         float(fr.mid_s), float(activity[k]), float(suv[k]), n))
    return pd.DataFrame(rows, columns=list(TAC_COLUMNS))
