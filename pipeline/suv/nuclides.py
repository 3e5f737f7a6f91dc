"""Radionuclide table: half-lives in seconds with their sources and DICOM codes.

Half-lives are the recommended values of ``shared/reference/suv.md`` section 6
(NNDC/ENSDF as tabulated in Ph. Eur. 5.7 where marked there as verified).
Codes are from DICOM CID 4020 "PET Radionuclide" (SNOMED-RT legacy codes, scheme
``SRT``, and their SNOMED CT equivalents, scheme ``SCT``).  Matching a header's
RadionuclideCodeSequence must use the code value *and* the code meaning, because
real and reference data carry a 66Ga code value with a 68Ga meaning (rule R32).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Nuclide", "NUCLIDES", "OTHER_CODES", "get_nuclide", "nuclide_from_code"]


@dataclass(frozen=True)
class Nuclide:
    """One PET radionuclide.

    Attributes
    ----------
    key : str
        Short name used on the command line and in configs (``F18``).
    label : str
        Human-readable name (``18F``).
    half_life_s : float
        Recommended half-life in seconds.
    source : str
        Where the half-life comes from.
    code_srt : str
        CID 4020 SNOMED-RT code value (coding scheme ``SRT``).
    code_sct : str
        SNOMED CT code value (coding scheme ``SCT``).
    code_meaning : str
        CID 4020 code meaning, e.g. ``^18^Fluorine``.
    positron_fraction : float
        Branching ratio for positron emission (informational).
    pet : bool
        Imaged by PET (a positron emitter). False for the SPECT (gamma) nuclides of the table, which are
        there so that SPECT stored as PT is recognised and, when allowed, decays correctly; they have no
        CID 4020 code (matched by code meaning).
    """

    key: str
    label: str
    half_life_s: float
    source: str
    code_srt: str
    code_sct: str
    code_meaning: str
    positron_fraction: float
    pet: bool = True


NUCLIDES: dict[str, Nuclide] = {
    n.key: n
    for n in (
        Nuclide("F18", "18F", 6586.2, "NNDC 109.77(5) min via Ph. Eur. 5.7",
                "C-111A1", "77004003", "^18^Fluorine", 0.9673),
        Nuclide("Ga68", "68Ga", 4062.6, "NNDC 67.71(9) min",
                "C-131A3", "35337001", "^68^Gallium", 0.8891),
        Nuclide("Zr89", "89Zr", 282276.0, "NNDC 78.41(12) h",
                "C-168A4", "63360001", "^89^Zirconium", 0.2274),
        Nuclide("Cu64", "64Cu", 45723.6, "NNDC 12.701(2) h",
                "C-127A2", "3932008", "^64^Copper", 0.1752),
        Nuclide("C11", "11C", 1223.1, "NNDC 20.385(20) min via Ph. Eur.",
                "C-105A1", "40565003", "^11^Carbon", 0.9976),
        Nuclide("O15", "15O", 122.24, "NNDC 122.24(16) s via Ph. Eur.",
                "C-B1038", "129504001", "^15^Oxygen", 0.9990),
        Nuclide("N13", "13N", 597.9, "NNDC 9.965(4) min via Ph. Eur.",
                "C-107A1", "21576001", "^13^Nitrogen", 0.9982),
        Nuclide("I124", "124I", 360806.0, "NNDC 4.1760(3) d",
                "C-114A5", "40937006", "^124^Iodine", 0.2260),
        Nuclide("Rb82", "82Rb", 75.45, "NNDC 1.2575(2) min",
                "C-159A2", "79197006", "^82^Rubidium", 0.9545),
        Nuclide("Ge68", "68Ge", 2.341e7, "NNDC 270.95 d",
                "C-128A2", "53315004", "^68^Germanium", 0.0),
        Nuclide("Y90", "90Y", 230580.0, "NNDC 64.05 h",
                "C-162A7", "14691008", "^90^Yttrium", 3.2e-5),
        # SPECT nuclides (gamma emitters): recognised to refuse SPECT stored as PT unless allowed (issue 17)
        Nuclide("Lu177", "177Lu", 574300.8, "NNDC 6.647(4) d", "", "", "^177^Lutetium", 0.0, pet=False),
        Nuclide("I131", "131I", 693377.3, "NNDC 8.0252(6) d", "", "", "^131^Iodine", 0.0, pet=False),
        Nuclide("Tc99m", "99mTc", 21624.1, "NNDC 6.0067(10) h", "", "", "^99m^Technetium", 0.0, pet=False),
        Nuclide("In111", "111In", 242326.1, "NNDC 2.8047(4) d", "", "", "^111^Indium", 0.0, pet=False),
        Nuclide("I123", "123I", 47604.2, "NNDC 13.2234(37) h", "", "", "^123^Iodine", 0.0, pet=False),
        Nuclide("Ga67", "67Ga", 281810.9, "NNDC 3.2617(5) d", "", "", "^67^Gallium", 0.0, pet=False),
        Nuclide("Tl201", "201Tl", 262837.4, "NNDC 3.0421(17) d", "", "", "^201^Thallium", 0.0, pet=False),
        Nuclide("Ho166", "166Ho", 96480.0, "NNDC 26.80(2) h", "", "", "^166^Holmium", 0.0, pet=False),
    )
}

#: CID 4020 code values of nuclides outside the table, to name them in messages (rule R32).
OTHER_CODES: dict[str, str] = {"C-131A1": "^66^Gallium", "79477007": "^66^Gallium"}

_ALIASES = {re.sub(r"[^a-z0-9]", "", n.label.lower()): n.key for n in NUCLIDES.values()}
_ALIASES.update({k.lower(): k for k in NUCLIDES})


def get_nuclide(name: str) -> Nuclide:
    """Look a nuclide up by key (``F18``), label (``18F``) or spelling like ``F-18``.

    Parameters
    ----------
    name : str
        Nuclide name in any common spelling.

    Returns
    -------
    Nuclide

    Raises
    ------
    KeyError
        If the nuclide is not in the table.
    """
    token = re.sub(r"[^a-z0-9]", "", name.lower())
    if token in _ALIASES:
        return NUCLIDES[_ALIASES[token]]
    # "f18" vs "18f": try letters-then-digits swapped
    m = re.fullmatch(r"([a-z]+)(\d+)", token)
    if m and f"{m.group(2)}{m.group(1)}" in _ALIASES:
        return NUCLIDES[_ALIASES[f"{m.group(2)}{m.group(1)}"]]
    raise KeyError(f"unknown radionuclide {name!r}; known: {', '.join(NUCLIDES)}")


def nuclide_from_code(code_value: str | None, code_meaning: str | None) -> Nuclide | None:
    """Identify a nuclide from a RadionuclideCodeSequence item (rule R32).

    The code meaning wins when it names a known nuclide, because real headers
    pair code values and meanings inconsistently; the code value is used only
    when the meaning is absent or unknown.

    Parameters
    ----------
    code_value : str or None
        CodeValue (0008,0100).
    code_meaning : str or None
        CodeMeaning (0008,0104), e.g. ``^68^Gallium``.

    Returns
    -------
    Nuclide or None
        ``None`` when neither identifies a nuclide in the table.
    """
    if code_meaning:
        m = re.search(r"\^?(\d+m?)\^?\s*([A-Za-z]+)", code_meaning)
        if m:
            mass, element = m.group(1).lower(), m.group(2).lower()
            for n in NUCLIDES.values():
                n_mass_match = re.match(r"\d+m?", n.label)
                assert n_mass_match is not None  # every table label starts with its mass number
                n_mass = n_mass_match.group(0)
                if n_mass == mass and n.code_meaning.lower().endswith(element):
                    return n
    if code_value:
        for n in NUCLIDES.values():
            if code_value in (n.code_srt, n.code_sct) and code_value:
                return n
    return None
