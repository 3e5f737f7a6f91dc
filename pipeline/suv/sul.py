"""SUL: the SUV volume's values normalised by lean body mass, from its ``suv.json`` (``reference/suv.md`` section 4).

Used by the uptake table (``sul_*`` columns) and by PERCIST threshold VOIs (1.5 x liver SULmean + 2 SD).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInputError
from .body import lbm_james128, lbm_janmahasatian
from .options import LBM_FORMULAS

__all__ = ["sul_factor"]


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def sul_factor(sidecar: Mapping[str, Any] | None, lbm_formula: str = "janmahasatian") -> tuple[float | None,
                                                                                             dict[str, Any]]:
    """Multiplier from the SUV volume's values to SUL (SUV normalised by lean body mass).

    ``SUL = SUV x LBM[g] / N``, N the normaliser of the SUV volume (``normaliser_value`` in the
    sidecar: body weight in g for SUVbw, IBW in g, BSA in cm²; weight_kg x 1000 for SUVbw when
    absent). LBM from the sidecar's ``weight_kg``, ``height_cm`` and ``sex`` (M or F). A volume of
    kind ``lbm`` is already SUL (factor 1).

    Parameters
    ----------
    sidecar : mapping or None
        The ``suv.json`` content (:class:`~pipeline.outputs.SuvSidecar`); body-size fields may be added by the caller.
    lbm_formula : {"janmahasatian", "james128"}
        LBM formula (``reference/suv.md`` section 4).

    Returns
    -------
    factor : float or None
        None when SUL cannot be computed.
    provenance : dict
        ``available``, ``factor``, ``formula`` or ``reason``, and the inputs used.

    Raises
    ------
    InvalidInputError
        For an unknown LBM formula.
    """
    if lbm_formula not in LBM_FORMULAS:
        raise InvalidInputError(f"unknown LBM formula {lbm_formula!r}", attribute="lbm_formula",
                                remedy=f"use one of {', '.join(LBM_FORMULAS)}")
    if sidecar is None:
        return None, {"available": False, "reason": "no SUV sidecar"}
    kind = sidecar.get("suv_kind")
    if kind == "lbm":
        name = sidecar.get("normaliser_name") or "LBM"
        return 1.0, {"available": True, "factor": 1.0, "suv_kind": "lbm",
                     "formula": f"SUL = SUV values (the volume is SUVlbm, {name})"}
    if kind not in ("bw", "ibw", "bsa"):
        return None, {"available": False, "reason": f"unknown suv_kind {kind!r} in the sidecar"}
    weight, height, sex = _number(sidecar.get("weight_kg")), _number(sidecar.get("height_cm")), sidecar.get("sex")
    missing = [n for n, v in (("weight_kg", weight), ("height_cm", height)) if v is None]
    if sex not in ("M", "F"):
        missing.append("sex (M or F)")
    if missing:
        return None, {"available": False, "reason": f"{', '.join(missing)} not in the SUV sidecar"}
    assert weight is not None and height is not None and sex is not None
    normaliser = _number(sidecar.get("normaliser_value"))
    if normaliser is None and kind == "bw":
        normaliser = weight * 1000.0
    if normaliser is None:
        return None, {"available": False, "reason": f"normaliser_value of the SUV{kind} volume not in the sidecar"}
    if lbm_formula == "janmahasatian":
        lbm_kg = lbm_janmahasatian(weight, height, sex)
        text = ("LBM Janmahasatian = 9270 W / (6680 + 216 BMI) (M), 9270 W / (8780 + 244 BMI) (F), "
                "BMI = W / (H/100)^2")
    else:
        lbm_kg = lbm_james128(weight, height, sex)
        text = "LBM James-128 = 1.10 W - 128 (W/H)^2 (M), 1.07 W - 148 (W/H)^2 (F)"
    if not lbm_kg > 0:
        return None, {"available": False, "reason": f"{lbm_formula} LBM is {lbm_kg:.2f} kg for {weight:g} kg / "
                                                    f"{height:g} cm"}
    unit = "cm2" if kind == "bsa" else "g"
    factor = lbm_kg * 1000.0 / normaliser
    formula = (f"SUL = SUV{kind} x LBM[g] / {sidecar.get('normaliser_name') or kind}[{unit}]; {text}; "
               f"W {weight:g} kg, H {height:g} cm, sex {sex}: LBM {lbm_kg:.3f} kg, N {normaliser:.6g} {unit}")
    return factor, {"available": True, "factor": factor, "suv_kind": kind, "lbm_formula": lbm_formula,
                    "lbm_kg": lbm_kg, "normaliser_value": normaliser, "normaliser_unit": unit, "weight_kg": weight,
                    "height_cm": height, "sex": sex, "formula": formula}
