"""Plausibility as a rule (issue 17): headers that would give a plausible wrong SUV are refused with one line and
exit 2, unless the bad-value policy says warn (then the warning is in the sidecar)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest

from pipeline.cli import main


@pytest.fixture()
def pet_copy(cohort_1: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(cohort_1 / "dicom" / "P01" / "baseline" / "PT", tmp_path / "PT"))


def _rewrite_all(folder: Path, **attributes: object) -> None:
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        for keyword, value in attributes.items():
            setattr(ds, keyword, value)
        ds.save_as(f)


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_unmutated_series_has_a_plausible_balance(pet_copy: Path, tmp_path: Path) -> None:
    assert main(["suv", str(pet_copy), "-o", str(tmp_path / "suv.nii.gz")]) == 0
    balance = json.loads((tmp_path / "suv.json").read_text())["activity_balance"]
    assert 0.001 < balance < 1.05


@pytest.mark.parametrize(("attribute", "value", "message"), [
    ("RescaleSlope", "0", "RescaleSlope (0028,1053): value 0 is outside the physical range >= 1e-20"),
    ("RescaleSlope", "1e-30", "RescaleSlope (0028,1053): value 1e-30 is outside the physical range >= 1e-20"),
    ("DecayFactor", "nan", "DecayFactor (0054,1321): value nan is not a finite number"),
    ("FrameReferenceTime", "1e30", "FrameReferenceTime (0054,1300): value 1e+30 ms is outside the physical range"),
    ("ActualFrameDuration", "-5", "ActualFrameDuration (0018,1242): value -5 ms is outside the physical range 0 to"),
    ("PixelSpacing", ["nan", "nan"], "PixelSpacing (0028,0030): value nan is not a finite number"),
    ("PixelSpacing", ["1e30", "1e30"], "PixelSpacing (0028,0030): value 1e+30 mm is outside the physical range 0.1"),
])
def test_header_values_outside_their_physical_range_are_refused(
        pet_copy: Path, tmp_path: Path, attribute: str, value: object, message: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    """NaN, infinite and absurd frame values were tracebacks or plausible wrong SUVs (issue 17)."""
    _rewrite_all(pet_copy, **{attribute: value})
    capsys.readouterr()
    assert main(["suv", str(pet_copy), "-o", str(tmp_path / "suv.nii.gz")]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith("petvoi suv: error: ") and message in line
    assert not (tmp_path / "suv.nii.gz").exists() and not (tmp_path / "suv.json").exists()


def test_activity_balance_near_zero_is_refused(pet_copy: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """RescaleSlope 1e-12 on every slice (within its range): every SUV about 0, the activity balance about 1e-10
    (was a silent SUV of 0); with the policy at warn, the SUV is kept and the problem is in the sidecar."""
    _rewrite_all(pet_copy, RescaleSlope="1e-12")
    capsys.readouterr()
    out = tmp_path / "suv.nii.gz"
    assert main(["suv", str(pet_copy), "-o", str(out)]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert line.startswith("petvoi suv: error: ") and "activity balance" in line and "< 0.001" in line
    assert "RescaleSlope" in line and "--policy suv.activity_balance=warn" in line
    assert not out.exists() and not (tmp_path / "suv.json").exists()
    assert main(["--policy", "suv.activity_balance=warn", "suv", str(pet_copy), "-o", str(out)]) == 0
    sidecar = json.loads((tmp_path / "suv.json").read_text())
    assert any("activity balance" in w and "policy suv.activity_balance: warn" in w for w in sidecar["warnings"])
    assert sidecar["policy"]["checks"]["suv.activity_balance"] == "warn"


@pytest.mark.parametrize("change", [{"BitsAllocated": 8, "BitsStored": 8, "HighBit": 7}, {"Rows": 32}])
def test_header_not_describing_its_pixels_exits_2(pet_copy: Path, tmp_path: Path, change: dict[str, object],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _rewrite_all(pet_copy, **change)
    capsys.readouterr()
    assert main(["suv", str(pet_copy), "-o", str(tmp_path / "suv.nii.gz")]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "Pixel Data holds" in line and "Rows/Columns/BitsAllocated/NumberOfFrames" in line
    assert not (tmp_path / "suv.nii.gz").exists()


def test_series_missing_its_last_files_is_refused(pet_copy: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Two files missing at the top of the volume: no gap to see, but NumberOfSlices says 2 more (was accepted)."""
    files = sorted(pet_copy.glob("*.dcm"), key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))
    for f in files[-2:]:
        f.unlink()
    capsys.readouterr()
    out = tmp_path / "suv.nii.gz"
    assert main(["suv", str(pet_copy), "-o", str(out)]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert f"found {len(files) - 2} slice positions but NumberOfSlices is {len(files)}" in line
    assert "NumberOfSlices (0054,0081)" in line and "--policy header.incomplete_series=warn" in line
    assert not out.exists()
    assert main(["--policy", "header.incomplete_series=warn", "suv", str(pet_copy), "-o", str(out)]) == 0
    warnings = json.loads((tmp_path / "suv.json").read_text())["warnings"]
    assert any("NumberOfSlices" in w and "policy header.incomplete_series: warn" in w for w in warnings)


def _set_dose(folder: Path, value: str) -> None:
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = value
        ds.save_as(f)


def test_infinite_dose_is_refused_with_nothing_written(pet_copy: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """RadionuclideTotalDose Inf failed while writing the sidecar and left suv.nii.gz without suv.json."""
    _set_dose(pet_copy, "inf")
    capsys.readouterr()
    assert main(["suv", str(pet_copy), "-o", str(tmp_path / "suv.nii.gz")]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "RadionuclideTotalDose (0018,1074): value inf is not a finite number" in line
    assert list(tmp_path.glob("suv.*")) == []


def test_absurd_dose_is_refused_unless_the_policy_warns(pet_copy: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    _set_dose(pet_copy, "1e30")
    capsys.readouterr()
    out = tmp_path / "suv.nii.gz"
    assert main(["suv", str(pet_copy), "-o", str(out)]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "RadionuclideTotalDose (0018,1074): RadionuclideTotalDose (0018,1074) 1e+30 Bq is above 5e+10 Bq" in line
    assert "refused by the policy header.implausible_value" in line and list(tmp_path.glob("suv.*")) == []
    both = ["--policy", "header.implausible_value=warn", "--policy", "suv.activity_balance=warn"]
    assert main([*both, "suv", str(pet_copy), "-o", str(out)]) == 0
    warnings = json.loads((tmp_path / "suv.json").read_text())["warnings"]
    assert any("1e+30 Bq is above 5e+10 Bq" in w for w in warnings)


def test_implausible_weight_override_is_refused(pet_copy: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["suv", str(pet_copy), "-o", str(tmp_path / "suv.nii.gz"), "--weight", "5000"]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "weight 5000 kg from --weight is outside 1-400 kg" in line and "header.implausible_value" in line


@pytest.mark.parametrize(("change", "evidence"), [
    ({"Manufacturer": "SIEMENS NM"}, "Manufacturer (0008,0070) 'SIEMENS NM'"),
    ({"ManufacturerModelName": "Symbia Intevo 16"}, "(a SPECT system)"),
    ({"SeriesDescription": "xSPECT Quant AC"}, "SeriesDescription (0008,103E) 'xSPECT Quant AC'"),
    ({"code": "^99m^Technetium"}, "radionuclide 99mTc (a gamma emitter"),
    ({"half_life": "574300"}, "radionuclide 177Lu (a gamma emitter"),
])
def test_spect_stored_as_pt_is_refused_unless_allowed(pet_copy: Path, tmp_path: Path, change: dict[str, str],
                                                       evidence: str, capsys: pytest.CaptureFixture[str]) -> None:
    """SPECT stored as PT (issue 17, item 3): any one piece of evidence refuses it with one line; --allow-spect
    converts it labelled SPECT in the sidecar's modality and rule and in uptake.json."""
    for f in sorted(pet_copy.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        rp = ds.RadiopharmaceuticalInformationSequence[0]
        for key, value in change.items():
            if key == "code":
                rp.RadionuclideCodeSequence[0].CodeMeaning = value
                rp.RadionuclideCodeSequence[0].CodeValue = "99SPECT"
            elif key == "half_life":
                rp.RadionuclideHalfLife = value
                del rp.RadionuclideCodeSequence
            else:
                setattr(ds, key, value)
        ds.save_as(f)
    out = tmp_path / "suv.nii.gz"
    capsys.readouterr()
    assert main(["suv", str(pet_copy), "-o", str(out)]) == 2
    (line,) = _error_lines(capsys.readouterr().err)
    assert "a SPECT stored as PET (PT)" in line and evidence in line and "--allow-spect" in line
    assert not out.exists()
    allowed = ["--policy", "suv.activity_balance=warn", "--policy", "header.half_life_mismatch=warn"]
    assert main([*allowed, "suv", "--allow-spect", str(pet_copy), "-o", str(out)]) == 0
    sidecar = json.loads((tmp_path / "suv.json").read_text())
    assert sidecar["modality"] == "SPECT" and sidecar["rule"].startswith("SPECT/")


def test_nuclide_option_names_a_spect_nuclide(pet_copy: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """--nuclide covers Lu177; choosing it makes the series a SPECT (refused unless allowed)."""
    capsys.readouterr()
    assert main(["suv", str(pet_copy), "-o", str(tmp_path / "suv.nii.gz"), "--nuclide", "Lu177"]) == 2
    assert "radionuclide 177Lu (a gamma emitter" in capsys.readouterr().err


def test_pet_sidecar_says_pet(pet_copy: Path, tmp_path: Path) -> None:
    assert main(["suv", str(pet_copy), "-o", str(tmp_path / "suv.nii.gz")]) == 0
    assert json.loads((tmp_path / "suv.json").read_text())["modality"] == "PET"
