"""The result of the SUV engine: one factor per frame and how it was obtained (``suv.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..dicom.datetimes import isoformat

__all__ = ["SuvResult"]


def _json_number(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, (np.integer, int)) and not isinstance(value, bool):
        return int(value)
    return value


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_number(v) for v in value.tolist()]
    return _json_number(value)


@dataclass
class SuvResult:
    """One SUV factor per frame and how it was obtained.

    Attributes
    ----------
    suv_kind : str
        bw, lbm, bsa or ibw.
    formula : str
        The formula applied, e.g. ``SUVbw = A_c * W[g] / D_ref``.
    factors : ndarray of float64, shape (n_frames,)
        Multiplier from the rescaled pixel value (stored*slope+intercept) of each frame to SUV
        (g/mL; cm²/mL for bsa), in the decoder's frame order.
    suv_factor : float or None
        The common factor when all frames share it, else None.
    decay_factor : float, list of float or None
        D_adm / D_ref (one per frame for DecayCorrection NONE); None where no decay is involved.
    half_life_s : float or None
        Half-life used (s).
    half_life_source : str or None
        Where it came from.
    nuclide : str or None
        Nuclide key.
    injected_dose_bq : float or None
        Activity at the injection time (Bq).
    injection_datetime, reference_datetime : datetime or None
        Administration time; decay-correction reference time (None for NONE: per frame).
    reference_candidates : list of dict
        name, datetime, used, note of every reference-time candidate considered.
    weight_kg, height_cm : float or None
        Body size used.
    sex : str or None
        M, F, or None (mean of M and F used).
    normaliser_value : float or None
        Mass (g) or BSA (cm²) the SUV is normalised by.
    normaliser_name : str or None
        E.g. ``LBM Janmahasatian (F)``.
    units : str or None
        Units (0054,1001) as found.
    activity_scale : float or None
        Multiplier from rescaled value to Bq/mL (1 for BQML, ACSF for CNTS); None for GML/CM2ML
        and the Philips SUV-scale-factor path.
    decay_correction : str or None
        DecayCorrection (0054,1102).
    rule : str
        Path taken, e.g. ``BQML/START/series-time``.
    overrides : dict
        Values taken from options or the dosing table instead of DICOM: name -> {value, source, dicom}.
    warnings : list of str
        Everything a reader should know (fallbacks, disagreements).
    uptake_time_s : float or None
        Reference (or first-frame) time minus injection time (s).
    modality : {"PET", "SPECT"}
        SPECT for a SPECT stored as PT converted under the policy ``suv.spect_as_pt: warn``.
    checks : dict
        Cross-checks made (e.g. Philips SUV Scale Factor against ACSF * W / D_ref).
    """

    suv_kind: str
    formula: str
    factors: NDArray[np.float64]
    rule: str
    units: str | None
    decay_correction: str | None = None
    decay_factor: float | list[float] | None = None
    half_life_s: float | None = None
    half_life_source: str | None = None
    nuclide: str | None = None
    injected_dose_bq: float | None = None
    injection_datetime: datetime | None = None
    reference_datetime: datetime | None = None
    reference_candidates: list[dict[str, Any]] = field(default_factory=list)
    weight_kg: float | None = None
    height_cm: float | None = None
    sex: str | None = None
    normaliser_value: float | None = None
    normaliser_name: str | None = None
    activity_scale: float | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    uptake_time_s: float | None = None
    checks: dict[str, Any] = field(default_factory=dict)
    modality: str = "PET"

    @property
    def suv_factor(self) -> float | None:
        """The common factor of all frames, or None when they differ."""
        f = np.asarray(self.factors, dtype=np.float64)
        return float(f[0]) if f.size and bool(np.all(f == f[0])) else None

    def sidecar(self) -> dict[str, Any]:
        """JSON-ready provenance (``suv.json``): datetimes as ISO text, per-frame lists where needed."""
        factor = self.suv_factor
        out: dict[str, Any] = {
            "suv_kind": self.suv_kind,
            "modality": self.modality,
            "suv_factor": factor,
            "decay_factor": self.decay_factor,
            "half_life_s": self.half_life_s,
            "nuclide": self.nuclide,
            "injected_dose_bq": self.injected_dose_bq,
            "injection_datetime": self.injection_datetime,
            "reference_datetime": self.reference_datetime,
            "weight_kg": self.weight_kg,
            "units": self.units,
            "decay_correction": self.decay_correction,
            "rule": self.rule,
            "warnings": list(self.warnings),
            "formula": self.formula,
            "half_life_source": self.half_life_source,
            "height_cm": self.height_cm,
            "sex": self.sex,
            "normaliser_value": self.normaliser_value,
            "normaliser_name": self.normaliser_name,
            "activity_scale": self.activity_scale,
            "uptake_time_s": self.uptake_time_s,
            "reference_candidates": self.reference_candidates,
            "overrides": self.overrides,
            "checks": self.checks,
        }
        if factor is None:
            out["suv_factors"] = np.asarray(self.factors, dtype=np.float64)
        return _json(out)
