"""True Enhanced PET Image Storage (1.2.840.10008.5.1.4.1.1.130) in petvoi's classic terms (issue 18).

An Enhanced PET has no Units, DecayCorrection or CorrectedImage: its stored values become real-world values through
the **Real World Value Mapping** functional group (0040,9096), shared or per frame, whose items each carry a unit
(MeasurementUnitsCodeSequence) and a slope and intercept; corrections are the flags of the Enhanced PET Corrections
module (DecayCorrected, AttenuationCorrected...) and the reference time of the decay is DecayCorrectionDateTime
(0018,9701). :func:`classic_view` chooses the mapping **by its unit, never by position**:

* an item in ``Bq/ml``: the values are activity concentrations (classic Units BQML), slope and intercept of each
  frame's item become its rescale, and the SUV follows the classic rules (decay from DecayCorrectionDateTime);
* else an item in an SUV body-weight unit (``g/ml{SUVbw}`` or the older ``{SUVbw}g/ml``): the values are the
  scanner's SUVbw (classic Units GML, SUVType BW);
* else the series is refused, naming the functional group.

The choice (unit, label, slope and intercept range, shared or per frame) is returned for the sidecar.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydicom.dataset import Dataset

from ..errors import DicomError

__all__ = ["ENHANCED_PET_SOP_CLASS", "classic_view", "rwvm_items", "mapping_record"]

ENHANCED_PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.130"
RWVM = "RealWorldValueMappingSequence (0040,9096)"
_ACTIVITY_UNITS = ("bq/ml",)
_SUV_BW_UNITS = ("g/ml{suvbw}", "{suvbw}g/ml")
_FLAGS = (("AttenuationCorrected", "ATTN"), ("DecayCorrected", "DECY"), ("ScatterCorrected", "SCAT"),
          ("DeadTimeCorrected", "DTIM"), ("RandomsCorrected", "RAN"), ("GantryMotionCorrected", "MOTN"),
          ("PatientMotionCorrected", "PMOT"), ("CountLossNormalizationCorrected", "CLN"))


def rwvm_items(group: Dataset | None) -> list[Dataset]:
    """The Real World Value Mapping items of a functional-group item (shared or one frame's)."""
    if group is None or "RealWorldValueMappingSequence" not in group:
        return []
    return list(group.RealWorldValueMappingSequence)


def _unit(item: Dataset) -> str:
    codes = item.get("MeasurementUnitsCodeSequence") or []
    return str(codes[0].get("CodeValue", "")).strip() if codes else ""


def _choose(items: Sequence[Dataset]) -> tuple[str, Dataset] | None:
    """("BQML" or "GML", the item) of the first item in activity units, else in SUVbw units."""
    for kind, units in (("BQML", _ACTIVITY_UNITS), ("GML", _SUV_BW_UNITS)):
        for item in items:
            if _unit(item).lower() in units:
                return kind, item
    return None


def _slope_intercept(item: Dataset, where: str) -> tuple[float, float]:
    if "RealWorldValueSlope" not in item:
        raise DicomError("a mapping by LUT (RealWorldValueLUTData) is not read; a slope is needed", source=where,
                         attribute=f"{RWVM} RealWorldValueSlope (0040,9225)",
                         remedy="export the series with a linear Real World Value Mapping")
    return float(item.RealWorldValueSlope), float(item.get("RealWorldValueIntercept", 0.0) or 0.0)


def classic_view(ds: Dataset, shared: Dataset, per_frame: Sequence[Dataset], *, source: str) -> dict[str, Any]:
    """Give an Enhanced PET header (in place) the classic attributes petvoi's SUV rules read.

    Sets, where absent at the top level: Units (BQML or GML), SUVType (BW for GML), DecayCorrection (START with
    DecayCorrected YES, else NONE) and CorrectedImage (from the correction flags); sets in every frame's flattened
    functional groups RescaleSlope and RescaleIntercept from the chosen mapping item.

    Parameters
    ----------
    ds : Dataset
        The multi-frame header (top level).
    shared : Dataset
        Its shared functional groups, flattened.
    per_frame : sequence of Dataset
        Each frame's functional groups, flattened (modified).
    source : str
        File name for messages.

    Returns
    -------
    dict
        The mapping used: ``units`` (its code), ``lut_label``, ``kind`` (BQML/GML), ``scope`` (shared or per
        frame), ``slope_min``, ``slope_max``, ``intercept_min``, ``intercept_max``.

    Raises
    ------
    DicomError
        No Real World Value Mapping item in Bq/ml or SUVbw units (the functional group named), or mappings of
        different units in different frames.
    """
    shared_items = rwvm_items(_group(ds, "SharedFunctionalGroupsSequence", 0))
    frames_items = [rwvm_items(_group(ds, "PerFrameFunctionalGroupsSequence", k)) for k in range(len(per_frame))]
    per_frame_scope = any(frames_items)
    if not shared_items and not per_frame_scope:
        raise DicomError("an Enhanced PET without a Real World Value Mapping: the stored values have no unit (R34)",
                         source=source, attribute=f"{RWVM} functional group",
                         remedy="export the series with a Real World Value Mapping in Bq/ml, or as classic PET")
    choices = []
    for k in range(len(per_frame)):
        items = frames_items[k] or shared_items
        choice = _choose(items)
        if choice is None:
            found = ", ".join(sorted({_unit(i) or "no unit" for i in items})) or "no item"
            raise DicomError(f"no Real World Value Mapping in Bq/ml or SUVbw units for frame {k + 1} ({found}): the "
                             "stored values have no known unit", source=source, attribute=f"{RWVM} functional group",
                             remedy="export the series with a Real World Value Mapping in Bq/ml (or SUVbw)")
        choices.append(choice)
    if not choices:
        raise DicomError("no frames", source=source, attribute="PerFrameFunctionalGroupsSequence (5200,9230)",
                         remedy="the file is corrupt; re-export the series")
    kinds = {kind for kind, _ in choices}
    if len(kinds) > 1:
        raise DicomError(f"frames map to different units ({', '.join(sorted(kinds))})", source=source,
                         attribute=f"{RWVM} functional group", remedy="export the series with one unit")
    kind = kinds.pop()
    pairs = [_slope_intercept(item, f"{source} frame {k + 1}") for k, (_, item) in enumerate(choices)]
    for flat, (slope, intercept) in zip(per_frame, pairs, strict=True):
        flat.RescaleSlope = slope
        flat.RescaleIntercept = intercept
    if "Units" not in ds:
        ds.Units = kind
    if kind == "GML" and "SUVType" not in ds:
        ds.SUVType = "BW"
    decayed = str(ds.get("DecayCorrected", "")).upper()
    if "DecayCorrection" not in ds:
        ds.DecayCorrection = "START" if decayed == "YES" else "NONE"
    if "CorrectedImage" not in ds:
        ds.CorrectedImage = [code for keyword, code in _FLAGS if str(ds.get(keyword, "")).upper() == "YES"]
    item = choices[0][1]
    return {"units": _unit(item), "lut_label": str(item.get("LUTLabel", "")), "kind": kind,
            "scope": "per frame" if per_frame_scope else "shared",
            "slope_min": min(p[0] for p in pairs), "slope_max": max(p[0] for p in pairs),
            "intercept_min": min(p[1] for p in pairs), "intercept_max": max(p[1] for p in pairs)}


def mapping_record(ds: Dataset) -> dict[str, Any] | None:
    """The mapping :func:`classic_view` chose for an Enhanced PET header (None for other SOP classes)."""
    if str(ds.get("SOPClassUID", "")) != ENHANCED_PET_SOP_CLASS:
        return None
    n = len(ds.get("PerFrameFunctionalGroupsSequence") or [])
    return classic_view(ds.copy(), Dataset(), [Dataset() for _ in range(n)], source="")


def _group(ds: Dataset, keyword: str, index: int) -> Dataset | None:
    seq = ds.get(keyword) or []
    return seq[index] if index < len(seq) else None
