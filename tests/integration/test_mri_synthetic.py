"""The synthetic mpMRI study (issue 19, item 4) in each vendor's header flavour, decoded and fitted by the MR
stages from DICOM: the exact truth of every tumour lesion comes back (VOI fits, relative 1e-3; the quantisation of
the stored pixels is about 1e-5), the volume from the RTSTRUCT within a voxel's partial volume, and the b-values
and phase times from where each vendor keeps them."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from pipeline.cli import main
from pipeline.synthetic.cohort import _records, _subjects
from pipeline.synthetic.mri import MR_VENDORS, mri_subject, mri_vendor, write_mri_study

B_SOURCE = {"siemens": "Siemens (0019,100C)", "ge": "GE (0043,1039)", "philips": "Philips (2001,1003)"}
TIME_SOURCE = {"siemens": "AcquisitionDateTime", "ge": "TriggerTime", "philips": "TriggerTime"}


@pytest.fixture(scope="module")
def cd8_record():  # type: ignore[no-untyped-def]
    subjects, extra = _subjects(3, 11, False)
    return next(r for r in _records(subjects, 11, extra) if mri_subject(r))


def test_vendors_take_turns_over_the_cohorts_mr_studies() -> None:
    subjects, extra = _subjects(6, 0, True)
    records = [r for r in _records(subjects, 0, extra) if mri_subject(r)]
    keys = [mri_vendor(r, tp).key for r in records for tp in ("baseline", "on_treatment")]
    assert [r.subject.subject_id for r in records] == ["P03", "P06"]
    assert keys == ["siemens", "ge", "philips", "siemens"]


@pytest.mark.parametrize("vendor", MR_VENDORS, ids=lambda v: v.key)
def test_mr_stages_recover_the_synthetic_truth(tmp_path: Path, cd8_record, vendor) -> None:  # type: ignore[no-untyped-def]
    study = write_mri_study(tmp_path, cd8_record, "baseline", vendor)
    truth = json.loads((study / "truth.json").read_text())
    out = tmp_path / "out"
    headers = pydicom.dcmread(next((study / "DWI").iterdir()), stop_before_pixels=True)
    assert "DiffusionBValue" not in headers and headers.Manufacturer == vendor.manufacturer
    assert float(headers.MagneticFieldStrength) == vendor.field_t
    assert (study / "VFA").is_dir() and all(p.is_dir() for p in (study / "VFA").iterdir()) \
        == vendor.vfa_series_per_angle
    assert main(["-q", "mri-vois", "--series", str(study / "DCE"), "--rtstruct", str(study / "RTSTRUCT"),
                 "-o", str(out / "mr_vois.nii.gz")]) == 0
    assert main(["-q", "mri-t1", "--vfa", str(study / "VFA"), "-o", str(out / "t1.nii.gz")]) == 0
    assert main(["-q", "mri-dce", "--dce", str(study / "DCE"), "--vois", str(out / "mr_vois.nii.gz"), "--t10-map",
                 str(out / "t1.nii.gz"), "--agent", "gadoterate", "--bolus-arrival", "30", "--no-maps",
                 "-o", str(out / "dce")]) == 0
    assert main(["-q", "mri-dwi", "--dwi", str(study / "DWI"), "--vois", str(out / "mr_vois.nii.gz"),
                 "--ivim-method", "ivim-dki", "--no-maps", "-o", str(out / "dwi")]) == 0
    dce_json = json.loads((out / "dce" / "dce.json").read_text())
    assert dce_json["time_source"].startswith(TIME_SOURCE[vendor.key])
    assert dce_json["r1_per_mm_s"] == pytest.approx(truth["r1_per_mm_s"]) and dce_json["field_t"] == vendor.field_t
    assert json.loads((out / "dwi" / "dwi.json").read_text())["b_source"] == B_SOURCE[vendor.key]
    dce = pd.read_csv(out / "dce" / "dce.csv").set_index("voi")
    dwi = pd.read_csv(out / "dwi" / "dwi.csv").set_index("voi")
    catalogue = {v["name"]: v for v in json.loads((out / "mr_vois.json").read_text())["vois"]}
    tumours = {k: v for k, v in truth["structures"].items() if v["kind"] == "tumour"}
    assert tumours and set(tumours) <= set(dce.index)
    for name, t in tumours.items():
        assert dce.loc[name, ["ktrans_per_min", "ve", "vp"]].tolist() == pytest.approx(
            [t["ktrans_per_min"], t["ve"], t["vp"]], rel=1e-3), name
        assert dwi.loc[name, ["ivim_f", "ivim_d_mm2_per_s", "ivim_dstar_mm2_per_s", "dki_k_app"]].tolist() == \
            pytest.approx([t["f"], t["d_mm2_per_s"], t["dstar_mm2_per_s"], t["k"]], rel=1e-3), name
        assert bool(dce.loc[name, "converged"]) and bool(dwi.loc[name, "ivim_converged"])
        # RTSTRUCT polygons (64 vertices, voxel centres inside) against the analytic raster: within a few voxels
        assert abs(catalogue[name]["n_voxels"] - t["n_voxels"]) <= max(3, 0.05 * t["n_voxels"]), name


def test_a_dwi_series_without_b0_is_refused(tmp_path: Path, cd8_record, capsys) -> None:  # type: ignore[no-untyped-def]
    """The b = 0 frames removed (a scanner exporting them as another series): one line naming the series, the
    attribute and the fix, exit 2 - not an IVIM whose S0 is a diffusion-weighted signal."""
    from pipeline.mri.bvalues import b_value

    study = write_mri_study(tmp_path, cd8_record, "baseline", MR_VENDORS[0])
    for path in sorted((study / "DWI").iterdir()):
        if b_value(pydicom.dcmread(path, stop_before_pixels=True), source=str(path))[0] == 0:
            path.unlink()
    assert main(["-q", "mri-vois", "--series", str(study / "DCE"), "--rtstruct", str(study / "RTSTRUCT"),
                 "-o", str(tmp_path / "v.nii.gz")]) == 0
    capsys.readouterr()
    assert main(["mri-dwi", "--dwi", str(study / "DWI"), "--vois", str(tmp_path / "v.nii.gz"), "--no-maps",
                 "-o", str(tmp_path / "dwi")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no b = 0 image" in err and "DWI" in err
