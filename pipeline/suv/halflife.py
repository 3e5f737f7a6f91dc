"""Which half-life to decay with: header value cross-checked with the coded nuclide (rules R31, R32).

The header RadionuclideHalfLife (0018,1075) is what the scanner used and is kept when it
agrees within 1 % with the nuclide named by the RadionuclideCodeSequence (0054,0300),
matched on CodeValue *and* CodeMeaning. A larger disagreement is refused unless allowed;
a missing half-life is taken from the table (warning) or from ``--nuclide``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import DicomError, InvalidInputError, MissingAttributeError
from .header import SeriesHeader, label
from .nuclides import NUCLIDES, OTHER_CODES, Nuclide, get_nuclide, nuclide_from_code
from .options import Notes, SuvOptions

__all__ = ["HalfLife", "MISMATCH_TOLERANCE", "resolve_half_life"]

#: Relative half-life disagreement above which header and nuclide are inconsistent (R31).
MISMATCH_TOLERANCE = 0.01

HL = label("RadionuclideHalfLife")
CODE = label("RadionuclideCodeSequence")


@dataclass(frozen=True)
class HalfLife:
    """The half-life used and where it came from.

    Attributes
    ----------
    seconds : float
        Half-life (s).
    source : str
        E.g. ``RadionuclideHalfLife (0018,1075)``.
    nuclide : Nuclide or None
        The nuclide, when known.
    """

    seconds: float
    source: str
    nuclide: Nuclide | None


def _off(a: float, b: float) -> float:
    return abs(a / b - 1.0)


def _coded_nuclide(header: SeriesHeader, notes: Notes) -> Nuclide | None:
    """Nuclide of the code sequence, CodeValue and CodeMeaning cross-checked (R32)."""
    value, meaning = header.code_value, header.code_meaning
    by_meaning = nuclide_from_code(None, meaning) if meaning else None
    by_value = nuclide_from_code(value, None) if value else None
    if by_meaning and value and value not in (by_meaning.code_srt, by_meaning.code_sct):
        named = by_value.code_meaning if by_value else OTHER_CODES.get(value, "not a CID 4020 code of the table")
        notes.warn(f"{CODE}: CodeValue {value} ({named}) does not match CodeMeaning {meaning}; "
                   f"the nuclide is taken from the code meaning and checked against the half-life (R32)")
        hl = header.half_life_s
        if by_value and hl and _off(hl, by_value.half_life_s) <= MISMATCH_TOLERANCE < _off(hl, by_meaning.half_life_s):
            return by_value
    nuclide = by_meaning or by_value
    if nuclide is None and (value or meaning):
        notes.warn(f"{CODE}: {meaning or value} is not in the nuclide table; the header half-life is used")
    return nuclide


def resolve_half_life(header: SeriesHeader, options: SuvOptions, notes: Notes,
                      overrides: dict[str, dict[str, Any]]) -> HalfLife:
    """Choose the half-life (s) for decay correction.

    Parameters
    ----------
    header : SeriesHeader
        Parsed series attributes.
    options : SuvOptions
        ``nuclide`` and ``allow_half_life_mismatch`` are used.
    notes : Notes
        Receives warnings.
    overrides : dict
        Receives ``nuclide`` / ``half_life_s`` entries when ``--nuclide`` decides.

    Returns
    -------
    HalfLife

    Raises
    ------
    MissingAttributeError
        No half-life and no identifiable nuclide.
    DicomError
        Header half-life and coded nuclide disagree by more than 1 % (not allowed).
    InvalidInputError
        Unknown ``--nuclide``.
    """
    src = header.source
    hl = header.half_life_s if header.half_life_s and header.half_life_s > 0 else None
    coded = _coded_nuclide(header, notes)
    if options.nuclide:
        try:
            chosen = get_nuclide(options.nuclide)
        except KeyError as exc:
            raise InvalidInputError(str(exc.args[0]), attribute=options.name("nuclide"),
                                    remedy=f"use one of {', '.join(NUCLIDES)}") from None
        overrides["nuclide"] = {"value": chosen.key, "source": options.name("nuclide"),
                                "dicom": coded.key if coded else None}
        if coded and coded.key != chosen.key:
            notes.warn(f"{CODE} names {coded.label} but {options.name('nuclide')} {chosen.key} is used")
        if hl and _off(hl, chosen.half_life_s) <= MISMATCH_TOLERANCE:
            return HalfLife(hl, HL, chosen)
        if hl:
            notes.warn(f"header half-life {hl:g} s differs {100 * _off(hl, chosen.half_life_s):.1f} % from "
                       f"{chosen.label} ({chosen.half_life_s:g} s): the table value for {options.name('nuclide')} "
                       "is used (R31)")
        overrides["half_life_s"] = {"value": chosen.half_life_s, "source": options.name("nuclide"), "dicom": hl}
        return HalfLife(chosen.half_life_s, f"nuclide table {chosen.key} ({options.name('nuclide')})", chosen)
    if hl is None:
        if coded is None:
            raise MissingAttributeError("missing or zero, and no known nuclide in the header", source=src,
                                        attribute=HL, remedy=f"give {options.name('nuclide')}")
        notes.fallback(f"{HL} missing: half-life {coded.half_life_s:g} s of {coded.label} taken from the nuclide "
                       f"table ({CODE}) (R31)", attribute=HL, remedy=f"give {options.name('nuclide')}")
        return HalfLife(coded.half_life_s, f"nuclide table {coded.key} (from {CODE})", coded)
    if coded is None:
        matches = [n for n in NUCLIDES.values() if _off(hl, n.half_life_s) <= MISMATCH_TOLERANCE]
        return HalfLife(hl, HL, matches[0] if len(matches) == 1 else None)
    off = _off(hl, coded.half_life_s)
    if off > MISMATCH_TOLERANCE:
        text = (f"header half-life {hl:g} s differs {100 * off:.1f} % from {coded.label} "
                f"({coded.half_life_s:g} s) named by {CODE} (R31)")
        check = "header.half_life_mismatch"
        error = DicomError(text, source=src, attribute=HL,
                           remedy=f"give {options.name('nuclide')} to choose the nuclide, or keep the header value "
                                  f"with {options.policy.how_to_allow(check)}")
        options.policy.apply(check, f"{text}: header half-life kept (policy {check}: warn)", error, notes.warnings)
    return HalfLife(hl, HL, coded)
