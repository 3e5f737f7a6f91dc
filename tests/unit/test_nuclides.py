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
    assert len(NUCLIDES) == 11
    for n in NUCLIDES.values():
        assert n.source and n.code_srt.startswith("C-") and n.code_sct.isdigit()


def test_unknown_nuclide_raises() -> None:
    with pytest.raises(KeyError, match="unknown radionuclide 'F19'"):
        get_nuclide("F19")


def test_code_meaning_wins_over_code_value() -> None:
    # IBSI DRO_5_0: CodeValue C-131A1 (66Ga in CID 4020) with CodeMeaning ^68^Gallium -> 68Ga
    assert nuclide_from_code("C-131A1", "^68^Gallium").key == "Ga68"
    assert nuclide_from_code("C-111A1", None).key == "F18"
    assert nuclide_from_code("77004003", "").key == "F18"
    assert nuclide_from_code("C-999", "^99^Unobtainium") is None
