"""SPECT stored as a PET object (issue 17): recognised, refused for SUV unless allowed, then labelled.

Quantitative SPECT (xSPECT Quant, Q.Metrix...) is often exported as PET Image Storage with Units BQML, so a
PT object may be a gamma-camera image of 177Lu, 131I or 99mTc. Its Bq/mL can be normalised like a PET, but
its numbers are not PET SUVs (other resolution, scatter and attenuation physics) and must never be pooled
with them silently. The evidence is the camera (an ``NM`` manufacturer, a SPECT/CT model), the series
description (``SPECT``) and the radionuclide (a gamma emitter by code meaning or by header half-life).
"""

from __future__ import annotations

import re

from .header import SeriesHeader, label
from .nuclides import NUCLIDES, Nuclide, nuclide_from_code

__all__ = ["spect_evidence", "SPECT_MODELS"]

#: ManufacturerModelName fragments of SPECT and SPECT/CT systems (lower case).
SPECT_MODELS = ("symbia", "intevo", "encore", "e.cam", "ecam", "infinia", "discovery nm", "optima nm", "nm/ct",
                "brightview", "precedence", "forte", "skylight", "d-spect", "veriton", "starguide", "anyscan",
                "ventri", "millennium")

_NM_MANUFACTURER = re.compile(r"(^|[\s_-])NM($|[\s_-])", re.IGNORECASE)
_SPECT_WORD = re.compile(r"spect", re.IGNORECASE)


def _gamma_by_half_life(half_life_s: float | None) -> Nuclide | None:
    """The gamma emitter whose half-life is within 1 % of the header's, when no PET nuclide's is."""
    if not half_life_s or half_life_s <= 0:
        return None
    near = [n for n in NUCLIDES.values() if abs(half_life_s / n.half_life_s - 1.0) <= 0.01]
    if any(n.pet for n in near):
        return None
    return near[0] if near else None


def spect_evidence(header: SeriesHeader, nuclide: Nuclide | None = None) -> list[str]:
    """Why this PT series looks like a SPECT, one reason per item; empty for a PET.

    Parameters
    ----------
    header : SeriesHeader
        Series attributes.
    nuclide : Nuclide, optional
        The nuclide the SUV would use (``--nuclide`` or the header's); a gamma emitter is evidence.

    Returns
    -------
    list of str
        E.g. ``["Manufacturer (0008,0070) 'SIEMENS NM'", "radionuclide 177Lu (a gamma emitter)"]``.
    """
    reasons = []
    if header.manufacturer and _NM_MANUFACTURER.search(header.manufacturer):
        reasons.append(f"{label('Manufacturer')} {header.manufacturer!r}")
    model = (header.model or "").lower()
    if any(m in model for m in SPECT_MODELS):
        reasons.append(f"{label('ManufacturerModelName')} {header.model!r} (a SPECT system)")
    if header.series_description and _SPECT_WORD.search(header.series_description):
        reasons.append(f"{label('SeriesDescription')} {header.series_description!r}")
    coded = nuclide_from_code(header.code_value, header.code_meaning)
    gamma = next((n for n in (nuclide, coded) if n is not None and not n.pet), None)
    if gamma is None and nuclide is None and coded is None:
        gamma = _gamma_by_half_life(header.half_life_s)
    if gamma is not None:
        reasons.append(f"radionuclide {gamma.label} (a gamma emitter, half-life {gamma.half_life_s / 86400:.3g} d)")
    return reasons
