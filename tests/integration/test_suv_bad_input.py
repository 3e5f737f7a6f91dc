"""Bad input to `petvoi suv`: one-line error naming file/series, attribute and remedy; exit 2; nothing written."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest

from pipeline.cli import main

Mutation = Callable[[list[Path]], None]


def _edit_all(edit: Callable[[pydicom.Dataset], None]) -> Mutation:
    def apply(files: list[Path]) -> None:
        for f in files:
            ds = pydicom.dcmread(f)
            edit(ds)
            ds.save_as(f)
    return apply


def _rp(ds: pydicom.Dataset) -> pydicom.Dataset:
    return ds.RadiopharmaceuticalInformationSequence[0]


def _delete(name: str) -> Callable[[pydicom.Dataset], None]:
    def edit(ds: pydicom.Dataset) -> None:
        if name in ds:
            delattr(ds, name)
    return edit


def _delete_rp(*names: str) -> Callable[[pydicom.Dataset], None]:
    def edit(ds: pydicom.Dataset) -> None:
        for name in names:
            if name in _rp(ds):
                delattr(_rp(ds), name)
    return edit


def _set(name: str, value: object) -> Callable[[pydicom.Dataset], None]:
    return lambda ds: setattr(ds, name, value)


def _duplicate_slice(files: list[Path]) -> None:
    ds = pydicom.dcmread(files[10])
    ds.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["dup"])
    ds.save_as(files[0].with_name("PT_dup.dcm"))


def _missing_slice(files: list[Path]) -> None:
    files[40].unlink()


def _tilted_orientation(files: list[Path]) -> None:
    ds = pydicom.dcmread(files[5])
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0.9848078, -0.1736482]
    ds.save_as(files[5])


def _second_series(files: list[Path]) -> None:
    for f in files[:3]:
        ds = pydicom.dcmread(f)
        ds.SeriesInstanceUID = pydicom.uid.generate_uid(entropy_srcs=["other series"])
        ds.save_as(f)


def _one_weight_differs(files: list[Path]) -> None:
    ds = pydicom.dcmread(files[20])
    ds.PatientWeight = str(float(ds.PatientWeight) + 1.0)
    ds.save_as(files[20])


def _truncate(files: list[Path]) -> None:
    files[7].write_bytes(files[7].read_bytes()[:2000])


def _injection_after_scan(ds: pydicom.Dataset) -> None:
    _rp(ds).RadiopharmaceuticalStartDateTime = f"{ds.SeriesDate}235900"
    _rp(ds).RadiopharmaceuticalStartTime = "235900"


def _cnts_without_factors(ds: pydicom.Dataset) -> None:
    ds.Units = "CNTS"


def _wrong_half_life(ds: pydicom.Dataset) -> None:
    _rp(ds).RadionuclideHalfLife = "4062.6"  # 68Ga half-life on an 18F series


CASES: dict[str, tuple[Mutation, str]] = {
    "missing weight": (_edit_all(_delete("PatientWeight")), "PatientWeight (0010,1030)"),
    "zero weight": (_edit_all(_set("PatientWeight", "0")), "PatientWeight (0010,1030)"),
    "missing dose": (_edit_all(_delete_rp("RadionuclideTotalDose")), "RadionuclideTotalDose (0018,1074)"),
    "missing injection time": (_edit_all(_delete_rp("RadiopharmaceuticalStartDateTime",
                                                    "RadiopharmaceuticalStartTime")),
                               "RadiopharmaceuticalStart"),
    "units missing": (_edit_all(_delete("Units")), "Units (0054,1001)"),
    "cnts without philips factors": (_edit_all(_cnts_without_factors), "(7053"),
    "decay correction missing": (_edit_all(_delete("DecayCorrection")), "DecayCorrection (0054,1102)"),
    "two series mixed": (_second_series, "SeriesInstanceUID"),
    "duplicate slice": (_duplicate_slice, "ImagePositionPatient (0020,0032)"),
    "missing slice": (_missing_slice, "ImagePositionPatient (0020,0032)"),
    "inconsistent orientation": (_tilted_orientation, "ImageOrientationPatient (0020,0037)"),
    "negative uptake time": (_edit_all(_injection_after_scan), "RadiopharmaceuticalStart"),
    "half-life mismatch": (_edit_all(_wrong_half_life), "RadionuclideHalfLife (0018,1075)"),
    "truncated file": (_truncate, "PT_0008.dcm"),
    "weight differs between instances (R33)": (_one_weight_differs, "PatientWeight (0010,1030)"),
}


@pytest.fixture(scope="module")
def pet_files(cohort_1: Path) -> Path:
    return cohort_1 / "dicom" / "P01" / "baseline" / "PT"


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_one_line_exit_2_nothing_written(case: str, pet_files: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "PT"
    shutil.copytree(pet_files, folder)
    mutate, attribute = CASES[case]
    mutate(sorted(folder.glob("*.dcm")))
    out = tmp_path / "out" / "suv.nii.gz"
    assert main(["suv", str(folder), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("petvoi suv: error: ")
    assert attribute in err[0], err[0]
    assert ";" in err[0]  # a remedy follows the problem
    assert not out.exists() and not out.with_name("suv.json").exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_half_life_mismatch_can_be_overridden(pet_files: Path, tmp_path: Path) -> None:
    folder = tmp_path / "PT"
    shutil.copytree(pet_files, folder)
    _edit_all(_wrong_half_life)(sorted(folder.glob("*.dcm")))
    out = tmp_path / "suv.nii.gz"
    assert main(["suv", str(folder), "-o", str(out), "--allow-half-life-mismatch"]) == 0
    import json

    sidecar = json.loads(out.with_name("suv.json").read_text())
    assert sidecar["half_life_s"] == pytest.approx(4062.6)
    assert any("half-life" in w.lower() for w in sidecar["warnings"])


def test_policy_from_the_command_line_is_applied_and_recorded(pet_files: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`--policy` does what the shorthand does; `--strict` refuses it again; suv.json records the policy."""
    import json

    folder = tmp_path / "PT"
    shutil.copytree(pet_files, folder)
    _edit_all(_wrong_half_life)(sorted(folder.glob("*.dcm")))
    out = tmp_path / "suv.nii.gz"
    assert main(["--policy", "header.half_life_mismatch=warn", "suv", str(folder), "-o", str(out)]) == 0
    policy = json.loads(out.with_name("suv.json").read_text())["policy"]
    assert policy["strict"] is False and policy["checks"]["header.half_life_mismatch"] == "warn"
    strict = tmp_path / "strict" / "suv.nii.gz"
    assert main(["--strict", "suv", str(folder), "-o", str(strict), "--allow-half-life-mismatch"]) == 2
    err = capsys.readouterr().err
    assert "RadionuclideHalfLife (0018,1075)" in err and "--allow-half-life-mismatch" in err
    assert not strict.exists()
