"""Nuclide table: half-lives in seconds (suv.md section 6) and CID 4020 lookups (rule R32)."""

from __future__ import annotations

import pytest

from pipeline.suv.nuclides import NUCLIDES, get_nuclide, nuclide_from_code


@pytest.mark.parametrize(
    ("name", "half_life_s"),
    [("F18", 6586.2), ("18F", 6586.2), ("F-18", 6586.2), ("Ga68", 4062.6), ("68Ga", 4062.6),
     ("Zr89", 282276.0), ("Cu64", 45723.6), ("C11", 1223.1), ("O15", 122.24), ("N13", 597.9),
     ("I124", 360806.0), ("Rb82", 75.45), ("Ge68", 2.341e7), ("Y90", 230580.0)],
)
def test_half_lives(name: str, half_life_s: float) -> None:
    assert get_nuclide(name).half_life_s == pytest.approx(half_life_s, rel=1e-12)


def test_every_nuclide_has_a_source_and_codes() -> None:
    pet = [n for n in NUCLIDES.values() if n.pet]
    assert len(pet) == 11
    for n in pet:
        assert n.source and n.code_srt.startswith("C-") and n.code_sct.isdigit()
    for n in NUCLIDES.values():
        assert n.source.startswith("NNDC")


@pytest.mark.parametrize(("name", "days"), [("Lu177", 6.647), ("I131", 8.0252), ("Tc99m", 6.0067 / 24),
                                            ("In111", 2.8047), ("I123", 13.2234 / 24), ("Ga67", 3.2617),
                                            ("Tl201", 3.0421), ("Ho166", 26.80 / 24)])
def test_spect_nuclides(name: str, days: float) -> None:
    """Gamma emitters (NNDC half-lives): only to recognise SPECT stored as PT; no CID 4020 code, matched by meaning."""
    n = get_nuclide(name)
    assert not n.pet and n.positron_fraction == 0.0
    assert n.half_life_s == pytest.approx(days * 86400.0, rel=1e-5)
    assert nuclide_from_code("C-101ED", n.code_meaning.replace("^", " ").strip()) is n
    assert nuclide_from_code("", None) is None


def test_unknown_nuclide_raises() -> None:
    with pytest.raises(KeyError, match="unknown radionuclide 'F19'"):
        get_nuclide("F19")


def test_code_meaning_wins_over_code_value() -> None:
    # IBSI DRO_5_0: CodeValue C-131A1 (66Ga in CID 4020) with CodeMeaning ^68^Gallium -> 68Ga
    assert nuclide_from_code("C-131A1", "^68^Gallium").key == "Ga68"
    assert nuclide_from_code("C-111A1", None).key == "F18"
    assert nuclide_from_code("77004003", "").key == "F18"
    assert nuclide_from_code("C-999", "^99^Unobtainium") is None
