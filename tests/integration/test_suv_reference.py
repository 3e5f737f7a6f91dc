"""SUV end to end (decode + factors + NIfTI + sidecar) on reference data and on the synthetic cohort's truth.

- All 17 OncoRay/IBSI SUV digital reference objects: SUVbw min/median/max 0.20/1.00/4.00 inside
  the DRO mask (DRO_2_3 within 2.5 %, its stored values are quantised, suv.md erratum 1).
- MIRP soft-tissue sarcoma PET (GE, Units GML): pass-through, equal to MIRP's NIfTI export.
- MIRP Lu-177 SPECT stored as PT (DecayCorrection ADMIN, half-life from the header).
- Orthanc real slices: zero PatientWeight refused, compressed slices decode.
- Synthetic cohort: every VOI's SUV mean equals truth for three tracers and three vendor flavours.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from pipeline.cli import main
from pipeline.dicom.geometry import read_nifti
from pipeline.policy import Policy
from pipeline.suv.factors import SuvOptions
from pipeline.suv.stage import run_suv

DROS = ["DRO_0_0", "DRO_1_0", "DRO_2_0", "DRO_2_1", "DRO_2_2", "DRO_2_3", "DRO_2_4", "DRO_2_5", "DRO_3_0",
        "DRO_3_1", "DRO_3_2", "DRO_3_3", "DRO_3_4", "DRO_4_0", "DRO_4_1", "DRO_4_2", "DRO_5_0"]


# ------------------------------------------------------------------------------------------------ DROs
@pytest.mark.parametrize("dro", DROS)
def test_oncoray_dro_min_median_max(dro: str, shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / "oncoray_suv_dro" / dro
    out = tmp_path / "suv.nii.gz"
    sidecar = run_suv(folder / "PT", out, SuvOptions())
    suv, geometry = read_nifti(out)
    mask_img = nib.load(str(folder / "mask" / "DRO_mask.nii.gz"))
    mask = np.transpose(np.asanyarray(mask_img.dataobj), (2, 1, 0)) > 0
    # the mask is on the PET grid: same shape and the same voxel centres
    assert mask.shape == suv.shape
    assert np.allclose(mask_img.affine, geometry.affine_ras(), atol=1e-3)
    values = suv[mask].astype(np.float64)
    found = np.array([values.min(), np.median(values), values.max()])
    expected = np.array([0.20, 1.00, 4.00])
    if dro == "DRO_2_3":
        # stored values are quantised at slope 0.01 cm2/mL (suv.md erratum 1): 0.189/0.985/3.977 is exact
        assert found == pytest.approx([0.189, 0.985, 3.977], abs=6e-4)
        assert found[1:] == pytest.approx(expected[1:], rel=0.025)
    else:
        assert np.round(found, 2).tolist() == expected.tolist(), f"{dro}: {found} ({sidecar['rule']})"
    assert sidecar["suv_kind"] == "bw"


def test_dro_sidecars_record_the_path_taken(shared_data: Path, tmp_path: Path) -> None:
    rules = {}
    for dro in ("DRO_2_5", "DRO_3_0", "DRO_3_1", "DRO_3_2", "DRO_3_3", "DRO_4_2", "DRO_5_0"):
        rules[dro] = run_suv(shared_data / "oncoray_suv_dro" / dro / "PT", tmp_path / f"{dro}.nii.gz", SuvOptions())
    assert rules["DRO_2_5"]["units"] == "CNTS"
    assert any("MBq" in w for w in rules["DRO_3_0"]["warnings"])
    assert rules["DRO_3_1"]["decay_factor"] == pytest.approx(1.0)
    assert rules["DRO_3_1"]["decay_correction"] == "ADMIN"
    # DRO_3_2: back-computed reference 11:00:00 (within 0.1 s), not the re-created SeriesTime 11:30
    assert rules["DRO_3_2"]["reference_datetime"].startswith("2025-01-01T10:59:59") or \
        rules["DRO_3_2"]["reference_datetime"].startswith("2025-01-01T11:00:00")
    assert rules["DRO_3_3"]["reference_datetime"].startswith("2025-01-01T11:00:00")
    assert rules["DRO_4_2"]["injection_datetime"].startswith("2025-01-01T23:30:00")
    assert rules["DRO_5_0"]["nuclide"] == "Ga68"
    assert rules["DRO_5_0"]["half_life_s"] == pytest.approx(4057.7)


# ------------------------------------------------------------------------------------------------ MIRP
def test_mirp_gml_passthrough_matches_nifti(shared_data: Path, tmp_path: Path) -> None:
    case = shared_data / "mirp_sts_pet_ct" / "STS_001" / "PET"
    out = tmp_path / "suv.nii.gz"
    sidecar = run_suv(case / "dicom" / "image", out, SuvOptions())
    assert sidecar["units"] == "GML"
    assert sidecar["suv_factor"] == pytest.approx(1.0, rel=1e-12)  # already SUVbw: never re-apply dose/weight
    ours = sitk.ReadImage(str(out))
    (ref_path,) = list((case / "nifti" / "image").glob("*.nii*"))
    ref = sitk.ReadImage(str(ref_path))
    assert ours.GetSize() == ref.GetSize()
    assert np.allclose(ours.GetOrigin(), ref.GetOrigin(), atol=1e-3)
    assert np.allclose(ours.GetSpacing(), ref.GetSpacing(), atol=1e-4)
    a, b = sitk.GetArrayFromImage(ours), sitk.GetArrayFromImage(ref)
    assert float(np.abs(a - b).max()) < 1e-3 * float(b.max())
    assert float(a.max()) == pytest.approx(25.41, abs=0.01)


def test_mirp_lu177_spect_stored_as_pt_is_refused_unless_allowed(shared_data: Path, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A real 177Lu xSPECT (Siemens Symbia Intevo, 'SIEMENS NM') stored as PT: refused with one line naming the
    evidence (was converted to SUV with no modality warning, issue 17)."""
    folder = shared_data / "mirp_lu177_spect_pt" / "SCAN_001" / "image"
    capsys.readouterr()
    assert main(["suv", str(folder), "-o", str(tmp_path / "suv.nii.gz")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "Modality (0008,0060): a SPECT stored as PET (PT)" in line
    assert "'SIEMENS NM'" in line and "177Lu (a gamma emitter" in line and "--allow-spect" in line
    assert not (tmp_path / "suv.nii.gz").exists()


def test_mirp_lu177_admin_uses_header_half_life(shared_data: Path, tmp_path: Path) -> None:
    """Allowed (policy suv.spect_as_pt: warn), it is converted with the header half-life and labelled SPECT."""
    options = SuvOptions(policy=Policy({"suv.spect_as_pt": "warn"}))
    sidecar = run_suv(shared_data / "mirp_lu177_spect_pt" / "SCAN_001" / "image", tmp_path / "suv.nii.gz", options)
    assert sidecar["modality"] == "SPECT" and sidecar["rule"] == "SPECT/BQML/ADMIN"
    assert sidecar["nuclide"] == "Lu177"
    assert any("SPECT stored as PET" in w and "suv.spect_as_pt: warn" in w for w in sidecar["warnings"])
    assert sidecar["decay_correction"] == "ADMIN"
    assert sidecar["half_life_s"] == pytest.approx(574300.0)
    assert sidecar["decay_factor"] == pytest.approx(1.0)
    assert sidecar["suv_factor"] == pytest.approx(92.987 * 1000.0 / 7210425599.64, rel=1e-6)


# ------------------------------------------------------------------------------------------------ Orthanc
def test_orthanc_zero_weight_refused(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "cps"
    folder.mkdir()
    shutil.copy(shared_data / "orthanc_tests_pet_slices" / "cps1023_MalaterreCP246.dcm", folder)
    out = tmp_path / "suv.nii.gz"
    # one slice of a series: refused as incomplete (NumberOfSlices), unless the policy allows it
    assert main(["suv", str(folder), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NumberOfSlices (0054,0081)" in err
    one_slice = ["--policy", "header.incomplete_series=warn", "--policy", "suv.activity_balance=warn"]
    assert main([*one_slice, "suv", str(folder), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "PatientWeight (0010,1030)" in err and "--weight" in err
    assert not out.exists() and not out.with_name("suv.json").exists()
    # with the weight given, the JPEG-LS slice decodes and the override is recorded
    assert main([*one_slice, "suv", str(folder), "-o", str(out), "--weight", "70"]) == 0
    sidecar = json.loads(out.with_name("suv.json").read_text())
    assert sidecar["weight_kg"] == 70.0
    assert "weight_kg" in sidecar["overrides"]
    suv, _ = read_nifti(out)
    assert suv.shape[0] == 1 and float(suv.max()) > 0


# ------------------------------------------------------------------------------------------------ synthetic truth
def _labels(cohort: Path, subject: str, timepoint: str, seed: int, n_subjects: int) -> np.ndarray:
    from pipeline.synthetic.cohort import PET_GRID, _records
    from pipeline.synthetic.protocol import plan_subjects
    from pipeline.synthetic.raster import rasterise

    (record,) = [r for r in _records(plan_subjects(n_subjects, seed), seed) if r.subject.subject_id == subject]
    labels, _ = rasterise([s.shape for s in record.phantom.structures(timepoint)], PET_GRID)
    return labels


def test_synthetic_cohort_truth_all_vendors_and_tracers(cohort_3: Path, tmp_path: Path) -> None:
    seen = set()
    static = (s for s in cohort_3.glob("dicom/*/*") if s.name != "dynamic" and not s.name.startswith("mri_"))
    for study in sorted(static):  # static PET studies
        truth = json.loads((study / "truth.json").read_text())
        out = tmp_path / f"{study.parent.name}_{study.name}.nii.gz"
        sidecar = run_suv(study / "PT", out, SuvOptions())
        assert sidecar["suv_factor"] == pytest.approx(truth["suv_factor"], rel=1e-9)
        assert sidecar["decay_factor"] == pytest.approx(truth["decay_factor"], rel=1e-9)
        assert sidecar["reference_datetime"][:19] == truth["reference_datetime"][:19]
        suv, geometry = read_nifti(out)
        labels = _labels(cohort_3, study.parent.name, study.name, seed=11, n_subjects=3)
        for voi in truth["vois"]:
            mean = float(suv[labels == voi["label"]].astype(np.float64).mean())
            assert mean == pytest.approx(voi["suv_mean"], rel=1e-5), (study, voi["name"])
        seen.add((truth["nuclide"], truth["vendor"]))
        assert sidecar["manufacturer"] == truth["manufacturer"]  # the report header's scanner
        assert 0.1 < sidecar["activity_balance"] <= 1.05  # torso phantom: ~0.29 of the dose in the FOV
    assert {n for n, _ in seen} == {"F18", "Ga68", "Zr89"}
    assert {v for _, v in seen} == {"siemens", "ge", "philips"}


def test_dosing_table_override_gives_the_same_suv(cohort_1: Path, tmp_path: Path) -> None:
    study = cohort_1 / "dicom" / "P01" / "baseline"
    truth = json.loads((study / "truth.json").read_text())
    out = tmp_path / "suv.nii.gz"
    assert main(["suv", str(study / "PT"), "-o", str(out), "--dosing", str(cohort_1 / "dosing.csv"),
                 "--subject", "P01", "--timepoint", "baseline"]) == 0
    sidecar = json.loads(out.with_name("suv.json").read_text())
    assert sidecar["suv_factor"] == pytest.approx(truth["suv_factor"], rel=1e-6)
    assert "injected_dose_bq" in sidecar["overrides"]


def test_sul_and_bsa_kinds(cohort_1: Path, tmp_path: Path) -> None:
    study = cohort_1 / "dicom" / "P01" / "baseline"
    truth = json.loads((study / "truth.json").read_text())
    w, h, sex = truth["weight_kg"], truth["height_m"] * 100.0, truth["sex"]
    bmi = w / (h / 100.0) ** 2
    lbm = 9270.0 * w / ((6680.0 + 216.0 * bmi) if sex == "M" else (8780.0 + 244.0 * bmi))
    bsa_cm2 = 0.007184 * w**0.425 * h**0.725 * 1e4
    lbm_side = run_suv(study / "PT", tmp_path / "sul.nii.gz", SuvOptions(kind="lbm"))
    bsa_side = run_suv(study / "PT", tmp_path / "bsa.nii.gz", SuvOptions(kind="bsa"))
    assert lbm_side["suv_factor"] == pytest.approx(truth["suv_factor"] * lbm / w, rel=1e-9)
    assert bsa_side["suv_factor"] == pytest.approx(truth["suv_factor"] * bsa_cm2 / (w * 1000.0), rel=1e-9)
