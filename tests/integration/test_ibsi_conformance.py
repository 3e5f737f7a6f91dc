"""IBSI-1 digital phantom conformance of pipeline.metrics.texture (and pipeline.metrics.ibsi when present).

Reference values: tests/data/ibsi1_digital_phantom_reference.csv (IBSI reference manual; see tests/data/README.md).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest

from pipeline.metrics.ibsi_codes import ALL_IBSI_3D_CODES, all_ibsi_3d_codes
from pipeline.metrics.texture import FeatureValue, TextureParams, extract_texture

REPO = Path(__file__).resolve().parents[2]
REFERENCE_CSV = REPO / "tests" / "data" / "ibsi1_digital_phantom_reference.csv"
PARAMS = REPO / "configs" / "radiomics_ibsi.yaml"

# The target: at least 85 % of the IBSI 3D feature codes reported, every one within IBSI's tolerance.
# pyradiomics alone reports 105 of the 172 codes (61.0 %); pipeline.metrics.ibsi adds the families it lacks.
COVERAGE_TARGET = 0.85
PYRADIOMICS_ONLY_COVERAGE = 105 / 172
# IBSI features with a digital-phantom value that petvoi does not compute (oriented minimum bounding box)
NOT_COMPUTED = {"morphology_area_density_ombb_3D", "morphology_volume_density_ombb_3D"}



def _reference() -> dict[str, dict[str, str]]:
    with REFERENCE_CSV.open(newline="", encoding="utf-8") as fh:
        return {f"{r['family']}_{r['feature']}_{r['aggregation']}": r for r in csv.DictReader(fh)}


REFERENCE = _reference()
_AGG = re.compile(r"_(3D_comb|3D_avg|3D)$")


def _aggregation(name: str) -> str:
    match = _AGG.search(name)
    return match.group(1) if match else "3D"


def _reference_keys(value: FeatureValue) -> list[str]:
    """Reference rows a reported value is checked against: its own name, else its IBSI code and aggregation.

    pipeline.metrics.ibsi names features its own way (e.g. ``ih_p10``), so matching falls back to the code; where two
    rows share a code (IVH V10/V90 = BC2M, I10/I90 = GBPN) the number in the name picks the row.
    """
    if value.feature in REFERENCE:
        return [value.feature]
    if not value.ibsi_code:
        return []
    keys = [k for k, r in REFERENCE.items()
            if r["ibsi_code"] == value.ibsi_code and r["aggregation"] == _aggregation(value.feature)]
    if len(keys) > 1:
        digits = set(re.findall(r"\d+", value.feature))
        keys = [k for k in keys if set(re.findall(r"\d+", REFERENCE[k]["feature"])) & digits]
    return keys


@pytest.fixture(scope="module")
def phantom_values(shared_data: Path) -> dict[str, FeatureValue]:
    import SimpleITK as sitk

    root = shared_data / "ibsi" / "ibsi_1_digital_phantom" / "nifti"
    image = sitk.ReadImage(str(root / "image" / "phantom.nii.gz"))
    mask = sitk.ReadImage(str(root / "mask" / "mask.nii.gz"))
    array = sitk.GetArrayFromImage(image).astype(np.float64)  # (z, y, x)
    roi = sitk.GetArrayFromImage(mask) > 0
    assert array.shape == (4, 4, 5) and int(roi.sum()) == 74
    values = extract_texture(array, roi, image.GetSpacing(), TextureParams.from_yaml(PARAMS))
    return {v.feature: v for v in values}


def test_reference_table_is_complete() -> None:
    families = {}
    for row in REFERENCE.values():
        families[row["family"]] = families.get(row["family"], 0) + 1
    assert families == {"morphology": 27, "local_intensity": 2, "intensity_statistics": 18, "intensity_histogram": 23,
                        "ivh": 7, "glcm": 50, "glrlm": 32, "glszm": 16, "gldzm": 16, "ngtdm": 5, "ngldm": 17}
    for key, row in REFERENCE.items():
        assert row["ibsi_code"] in ALL_IBSI_3D_CODES[row["family"]], key
        assert float(row["tolerance"]) > 0, key


@pytest.mark.parametrize("feature", sorted(REFERENCE))
def test_feature_within_ibsi_tolerance(phantom_values: dict[str, FeatureValue], feature: str) -> None:
    matches = [v for v in phantom_values.values() if feature in _reference_keys(v)]
    if feature in NOT_COMPUTED:
        assert not matches, f"{feature} is now computed: remove it from NOT_COMPUTED"
        return
    assert matches, f"{feature} is not reported"
    ref = REFERENCE[feature]
    target, tol = float(ref["value"]), float(ref["tolerance"])
    wrong = [f"{v.feature}={v.value:.6g} ({v.source})" for v in matches if not abs(v.value - target) <= tol]
    assert not wrong, f"{feature} ({ref['ibsi_code']}): IBSI {ref['value']} +/- {ref['tolerance']}, got {wrong}"


def test_every_coded_value_has_a_reference(phantom_values: dict[str, FeatureValue]) -> None:
    coded = [v for v in phantom_values.values() if v.ibsi_code]
    missing = [v.feature for v in coded if not _reference_keys(v)]
    # features without a digital-phantom value in the manual (MVEE densities SWZ1/BRI8) are reported unchecked
    unchecked = {v.feature for v in coded if v.ibsi_code in {"SWZ1", "BRI8"}}
    assert set(missing) <= unchecked, missing
    assert len(coded) >= 146


def test_coverage(phantom_values: dict[str, FeatureValue]) -> None:
    reported = {v.ibsi_code for v in phantom_values.values() if v.ibsi_code}
    denominator = all_ibsi_3d_codes()
    assert len(denominator) == 172
    assert reported <= denominator
    coverage = len(reported) / len(denominator)
    print(f"IBSI 3D coverage: {len(reported)}/{len(denominator)} = {coverage:.1%}")
    assert coverage >= COVERAGE_TARGET
    assert len(reported) == 168  # all but the OMBB (ZH1A, IQYR) and MVEE (SWZ1, BRI8) densities
