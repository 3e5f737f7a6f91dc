"""Body-size normalisers of SUV: body weight, lean body mass, ideal body weight, body surface area.

Weights in kg, heights in cm (BMI uses m), BSA in m² (``Normaliser`` values are in g or cm²,
the units the SUV formulas use). Formulas as in ``reference/suv.md`` section 4. Sex is
``"M"``, ``"F"`` or ``None``; ``None`` gives the mean of the male and female values (rule R30:
the caller decides whether that is allowed and warns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "lbm_james128",
    "lbm_james120",
    "lbm_janmahasatian",
    "ideal_body_weight",
    "bsa_dubois",
    "Normaliser",
    "normaliser",
    "NORMALISER_NEEDS",
    "KIND_SUV_TYPE",
    "james_past_peak",
]


def _check(weight_kg: float | None = None, height_cm: float | None = None) -> None:
    if weight_kg is not None and not weight_kg > 0:
        raise ValueError(f"weight must be > 0 kg, got {weight_kg!r}")
    if height_cm is not None and not height_cm > 0:
        raise ValueError(f"height must be > 0 cm, got {height_cm!r}")


def lbm_james128(weight_kg: float, height_cm: float, sex: str) -> float:
    """Lean body mass (kg), James 1976 as in DICOM ``LBMJAMES128``.

    Male ``1.10 W - 128 (W/H)²``, female ``1.07 W - 148 (W/H)²`` (W kg, H cm).
    """
    _check(weight_kg, height_cm)
    r2 = (weight_kg / height_cm) ** 2
    return 1.10 * weight_kg - 128.0 * r2 if sex == "M" else 1.07 * weight_kg - 148.0 * r2


def lbm_james120(weight_kg: float, height_cm: float, sex: str) -> float:
    """Lean body mass (kg), the "120"/Morgan variant that DICOM SUVType ``LBM`` denotes.

    Male ``1.10 W - 120 (W/H)²``, female ``1.07 W - 148 (W/H)²`` (W kg, H cm).
    """
    _check(weight_kg, height_cm)
    r2 = (weight_kg / height_cm) ** 2
    return 1.10 * weight_kg - 120.0 * r2 if sex == "M" else 1.07 * weight_kg - 148.0 * r2


def lbm_janmahasatian(weight_kg: float, height_cm: float, sex: str) -> float:
    """Lean body mass (kg), Janmahasatian 2005 (DICOM ``LBMJANMA``; SUL default).

    Male ``9270 W / (6680 + 216 BMI)``, female ``9270 W / (8780 + 244 BMI)``, BMI = W / (H/100)².
    """
    _check(weight_kg, height_cm)
    bmi = weight_kg / (height_cm / 100.0) ** 2
    return 9270.0 * weight_kg / ((6680.0 + 216.0 * bmi) if sex == "M" else (8780.0 + 244.0 * bmi))


def ideal_body_weight(height_cm: float, sex: str) -> float:
    """Ideal body weight (kg), not capped at the actual weight (IBSI DRO_2_2).

    Male ``48.0 + 1.06 (H - 152)``, female ``45.5 + 0.91 (H - 152)`` (H cm).
    """
    _check(height_cm=height_cm)
    return 48.0 + 1.06 * (height_cm - 152.0) if sex == "M" else 45.5 + 0.91 * (height_cm - 152.0)


def bsa_dubois(weight_kg: float, height_cm: float) -> float:
    """Body surface area (m²), DuBois & DuBois: ``0.007184 W^0.425 H^0.725`` (W kg, H cm)."""
    _check(weight_kg, height_cm)
    return 0.007184 * weight_kg**0.425 * height_cm**0.725


@dataclass(frozen=True)
class Normaliser:
    """The body-size quantity an SUV is normalised by.

    Attributes
    ----------
    suv_type : str
        DICOM SUVType (0054,1006) term: BW, LBM, LBMJAMES128, LBMJANMA, IBW or BSA.
    value : float
        In g (mass) or cm² (BSA).
    unit : str
        ``"g"`` or ``"cm2"``.
    name : str
        Human-readable, e.g. ``"LBM Janmahasatian (F)"``.
    symbol : str
        Symbol used in formula texts, e.g. ``"LBM[g]"``.
    """

    suv_type: str
    value: float
    unit: str
    name: str
    symbol: str


#: What each SUVType needs: W weight, H height, S sex.
NORMALISER_NEEDS: dict[str, frozenset[str]] = {
    "BW": frozenset("W"),
    "LBM": frozenset("WHS"),
    "LBMJAMES128": frozenset("WHS"),
    "LBMJANMA": frozenset("WHS"),
    "IBW": frozenset("HS"),
    "BSA": frozenset("WH"),
}

#: SUVType of each ``--kind`` (``lbm`` depends on the formula).
KIND_SUV_TYPE: dict[str, str] = {"bw": "BW", "bsa": "BSA", "ibw": "IBW",
                                 "janmahasatian": "LBMJANMA", "james128": "LBMJAMES128"}

_LBM: dict[str, tuple[str, Callable[[float, float, str], float]]] = {
    "LBM": ("LBM James-120/Morgan", lbm_james120),
    "LBMJAMES128": ("LBM James-128", lbm_james128),
    "LBMJANMA": ("LBM Janmahasatian", lbm_janmahasatian),
}


def _by_sex(f: Callable[[str], float], sex: str | None) -> float:
    return f(sex) if sex in ("M", "F") else 0.5 * (f("M") + f("F"))


def normaliser(suv_type: str, weight_kg: float | None, height_cm: float | None, sex: str | None) -> Normaliser:
    """Compute the normaliser of a DICOM SUVType.

    Parameters
    ----------
    suv_type : str
        BW, LBM, LBMJAMES128, LBMJANMA, IBW or BSA.
    weight_kg : float or None
        Body weight (kg); required except for IBW.
    height_cm : float or None
        Height (cm); required except for BW.
    sex : {"M", "F", None}
        None: mean of the male and female values.

    Returns
    -------
    Normaliser

    Raises
    ------
    ValueError
        For an unknown SUVType, a missing input or a non-positive result (James LBM in obesity).
    """
    sex_text = sex if sex in ("M", "F") else "mean of M and F"
    if suv_type == "BW":
        _check(weight_kg)
        assert weight_kg is not None
        return Normaliser("BW", weight_kg * 1000.0, "g", "body weight", "W[g]")
    if suv_type == "BSA":
        if weight_kg is None or height_cm is None:
            raise ValueError("BSA needs weight and height")
        return Normaliser("BSA", bsa_dubois(weight_kg, height_cm) * 1e4, "cm2", "BSA DuBois", "BSA[cm2]")
    if suv_type == "IBW":
        if height_cm is None:
            raise ValueError("IBW needs height")
        kg = _by_sex(lambda s: ideal_body_weight(height_cm, s), sex)
        return Normaliser("IBW", kg * 1000.0, "g", f"IBW ({sex_text})", "IBW[g]")
    if suv_type in _LBM:
        if weight_kg is None or height_cm is None:
            raise ValueError(f"{suv_type} needs weight and height")
        label, formula = _LBM[suv_type]
        kg = _by_sex(lambda s: formula(weight_kg, height_cm, s), sex)
        if not kg > 0:
            raise ValueError(f"{label} gives {kg:.2f} kg for {weight_kg} kg / {height_cm} cm")
        return Normaliser(suv_type, kg * 1000.0, "g", f"{label} ({sex_text})", "LBM[g]")
    raise ValueError(f"unknown SUVType {suv_type!r}")


def james_past_peak(weight_kg: float, height_cm: float, sex: str | None) -> bool:
    """True when the James formula is past its maximum (LBM falls as weight rises; obesity)."""
    peaks = {"M": 1.10 / 256.0, "F": 1.07 / 296.0}  # d(LBM)/dW = 0 at W = 1.10 H²/256 resp. 1.07 H²/296
    return any(weight_kg > k * height_cm**2 for s, k in peaks.items() if sex in (s, None))
