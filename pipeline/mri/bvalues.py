"""The diffusion b-value of an MR image, from the standard attribute or the vendor's private one (issue 19; where
each vendor puts it: ``shared/reference/mri.md`` section 7, after dcm2niix).

Order: Diffusion b-value (0018,9087) at the top level or in the MR Diffusion Sequence (0018,9117) of the shared or
first per-frame functional groups; then, only with the matching Manufacturer and private creator, Siemens
(0019,100C) or the CSA header's ``B_value``, GE (0043,1039) first value modulo 10^9 (newer software adds 10^9),
Philips (2001,1003), United Imaging (0065,1009). A private value is never read by position alone.
"""

from __future__ import annotations

import math
from typing import Any

from pydicom.dataset import Dataset

from ..errors import DicomError

__all__ = ["b_value", "PRIVATE_B_VALUES"]

#: (vendor prefix of Manufacturer, group, private creator, element offset, label).
PRIVATE_B_VALUES = (
    ("SIEMENS", 0x0019, "SIEMENS MR HEADER", 0x0C, "Siemens (0019,100C)"),
    ("GE", 0x0043, "GEMS_PARM_01", 0x39, "GE (0043,1039)"),
    ("PHILIPS", 0x2001, "Philips Imaging DD 001", 0x03, "Philips (2001,1003)"),
    ("UIH", 0x0065, "Image Private Header", 0x09, "United Imaging (0065,1009)"),
)
_GE_OFFSET = 1_000_000_000


def _number(value: Any, label: str, source: str) -> float | None:
    if value is None or value == "" or (isinstance(value, (list, tuple)) and not value):
        return None
    first = value[0] if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else value
    if isinstance(first, bytes):
        import struct

        first = struct.unpack("<f", first[:4])[0] if len(first) >= 4 else None
    try:
        number = float(first)
    except (TypeError, ValueError):
        raise DicomError(f"b-value {value!r} is not a number", source=source, attribute=label,
                         remedy="correct the header value") from None
    if not math.isfinite(number) or number < 0:
        raise DicomError(f"b-value {number!r} is not a finite non-negative number", source=source,
                         attribute=label, remedy="the header is corrupt; re-export the series")
    return number


def _standard(ds: Dataset) -> Any:
    if "DiffusionBValue" in ds:
        return ds.DiffusionBValue
    for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for item in (ds.get(groups) or [])[:1]:
            for diffusion in item.get("MRDiffusionSequence") or []:
                if "DiffusionBValue" in diffusion:
                    return diffusion.DiffusionBValue
    return None


def _siemens_csa(ds: Dataset) -> Any:
    try:
        from nibabel.nicom import csareader

        csa = csareader.get_csa_header(ds, "image")
    except Exception:  # noqa: BLE001 - no or unreadable CSA header: not this source
        return None
    if not csa:
        return None
    return csareader.get_scalar(csa, "B_value")


def b_value(ds: Dataset, *, source: str = "") -> tuple[float, str]:
    """The b-value (s/mm²) of one MR image and the attribute it came from.

    Raises
    ------
    DicomError
        No b-value in any known place, or a value that is not a finite non-negative number.
    """
    value = _number(_standard(ds), "DiffusionBValue (0018,9087)", source)
    if value is not None:
        return value, "DiffusionBValue (0018,9087)"
    manufacturer = str(ds.get("Manufacturer", "")).strip().upper()
    for vendor, group, creator, offset, label in PRIVATE_B_VALUES:
        if not manufacturer.startswith(vendor):
            continue
        try:
            element = ds.get_private_item(group, offset, creator)
        except KeyError:
            element = None
        if element is not None:
            number = _number(element.value, label, source)
            if number is not None:
                return (number % _GE_OFFSET if vendor == "GE" else number), label
        if vendor == "SIEMENS":
            number = _number(_siemens_csa(ds), "Siemens CSA B_value (0029,1010)", source)
            if number is not None:
                return number, "Siemens CSA B_value (0029,1010)"
    raise DicomError("no diffusion b-value", source=source,
                     attribute="DiffusionBValue (0018,9087) / vendor private b-value",
                     remedy="export the DWI with its b-values (or as one series per b-value with the standard tag)")
