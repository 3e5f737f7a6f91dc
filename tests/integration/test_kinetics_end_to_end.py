"""End to end: synthetic dynamic DICOM + SEG + blood samples with known parameters -> suv -> vois -> tacs -> kinetics.

The blood table is what a laboratory reports: not decay-corrected, whole blood every 1-5 s for 15 min
and 14 manual samples (plasma, whole blood, parent fraction) to 90 min. The fits see the input as
the piecewise-linear curve through those samples, so they cannot be exact; measured on seed 0
(noiseless, each VOI on its own slices):

* TACs vs the simulated frame averages: max relative error 5.2e-8 (tolerance 1e-5).
* Input function at the samples after decay, ratio and Hill parent fraction: exact to 5e-16.
* 2TCM VT: -0.16 %, -0.17 %, -0.18 % (tolerance 0.5 %); K1 within 1 %; BPND = k3/k4 -4.3 %, -2.2 %,
  -1.6 % (tolerance 5 %).
* SRTM BPND (muscle reference, frame-duration weights): -6.8 %, -3.5 %, -2.3 % (tolerance 10 %:
  the targets are two-tissue and carry blood volume, which SRTM ignores).
* Logan VT (t* = 30 min): +1.5 %, +3.9 %, +3.8 % (tolerance 10 %: vB is not removed by Logan).
* Blood 8 s late, delay fitted on the spleen (1TCM, first 10 min): -5.9 s (on data without delay
  it gives +2.1 s: the bias of a 1TCM fit to a 2TCM region). 2TCM VT then -0.4 %, -0.7 %, -0.7 %
  (tolerance 1 %), against -0.9 %, -2.0 %, -1.8 % without delay correction.
* Image-derived input from the aorta VOI scaled to the samples from 10 min: scale 0.9986 (frame
  averages against point samples), 2TCM VT -0.1 %, -0.4 %, -0.3 % (tolerance 1 %).
* Logan VT map: every voxel of a VOI equals the VOI-level Logan VT to 1e-5 (uniform VOIs).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.synthetic.kinetic import write_kinetic_study

BLOOD = ["--blood-not-decay-corrected", "--nuclide", "F18", "--exclude", "aorta"]


def _prepare(out: Path, delay_s: float) -> dict:
    truth = write_kinetic_study(out, seed=0, blood_delay_s=delay_s)
    assert main(["suv", str(out / "PT"), "-o", str(out / "suv.nii.gz")]) == 0
    assert main(["vois", "--pet", str(out / "suv.nii.gz"), "--seg", str(out / "SEG" / "SEG_0001.dcm"),
                 "-o", str(out / "vois_set.nii.gz")]) == 0
    assert main(["tacs", "--pet4d", str(out / "suv.nii.gz"), "--vois", str(out / "vois_set.nii.gz"),
                 "-o", str(out / "tacs.csv")]) == 0
    return truth


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("kinetic")
    truth = _prepare(out, 0.0)
    assert main(["kinetics", "--tacs", str(out / "tacs.csv"), "--model", "2tcm", "--model", "1tcm", "--model", "logan",
                 "--model", "srtm", "--reference", "muscle", "--blood", str(out / "blood.csv"), *BLOOD,
                 "--t-star", "30", "-o", str(out / "kinetics.csv")]) == 0
    return out, truth


@pytest.fixture(scope="module")
def delayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("kinetic_delay")
    return out, _prepare(out, 8.0)


def _value(table: pd.DataFrame, name: str, model: str, parameter: str) -> float:
    row = table[(table["name"] == name) & (table["model"] == model) & (table["parameter"] == parameter)]
    assert len(row) == 1 and bool(row["converged"].iloc[0]), row.to_string()
    return float(row["value"].iloc[0])


def _targets(truth: dict) -> dict:
    return {name: voi for name, voi in truth["vois"].items() if "BPND" in voi}


def test_tacs_equal_simulated_frames(study: tuple[Path, dict]) -> None:
    out, truth = study
    tac = pd.read_csv(out / "tacs.csv")
    assert set(tac["name"]) == set(truth["vois"]) == {"lesion_01", "lesion_02", "spleen", "muscle", "aorta"}
    for name, voi in truth["vois"].items():
        rows = tac[tac["name"] == name].sort_values("frame")
        np.testing.assert_allclose(rows["start_s"], truth["frames"]["start_s"], atol=1e-3)
        np.testing.assert_allclose(rows["duration_s"], truth["frames"]["duration_s"], atol=1e-3)
        np.testing.assert_allclose(rows["activity_kbq_ml"], voi["tac_kbq_ml"], rtol=1e-5)


def test_2tcm_recovers_truth_from_sampled_blood(study: tuple[Path, dict]) -> None:
    out, truth = study
    table = pd.read_csv(out / "kinetics.csv")
    assert set(table["name"]) == {"lesion_01", "lesion_02", "spleen"}  # reference and blood pool not fitted
    for name, voi in _targets(truth).items():
        assert _value(table, name, "2tcm", "VT") == pytest.approx(voi["VT"], rel=5e-3)
        assert _value(table, name, "2tcm", "K1") == pytest.approx(voi["params"]["K1"], rel=1e-2)
        assert _value(table, name, "2tcm", "BPND") == pytest.approx(voi["BPND"], rel=5e-2)
    # AICc prefers the true model (2TCM) over 1TCM for every target
    chosen = table[table["chosen"].astype(bool)]
    assert set(chosen["model"]) == {"2tcm"} and set(chosen["name"]) == set(_targets(truth))


def test_srtm_bpnd_against_the_reference_region(study: tuple[Path, dict]) -> None:
    out, truth = study
    table = pd.read_csv(out / "kinetics.csv")
    for name, voi in _targets(truth).items():
        assert _value(table, name, "srtm", "BPND") == pytest.approx(voi["BPND"], rel=0.10)


def test_logan_vt_and_sidecar(study: tuple[Path, dict]) -> None:
    out, truth = study
    table = pd.read_csv(out / "kinetics.csv")
    for name, voi in _targets(truth).items():
        assert _value(table, name, "logan", "VT") == pytest.approx(voi["VT"], rel=0.10)
    sidecar = json.loads((out / "kinetics.json").read_text())
    input_function = sidecar["input_function"]
    assert input_function["kind"] == "parent_plasma" and input_function["decay_corrected_input"] is False
    assert input_function["plasma_blood_ratio"]["intercept"] == pytest.approx(truth["blood"]["plasma_blood_ratio"])
    for key in ("a", "b"):
        assert input_function["parent_fraction"][key] == pytest.approx(truth["blood"]["parent_hill"][key], rel=1e-6)


def test_fitted_delay_corrects_late_blood(delayed: tuple[Path, dict]) -> None:
    out, truth = delayed
    args = ["kinetics", "--tacs", str(out / "tacs.csv"), "--model", "2tcm", "--blood", str(out / "blood.csv"), *BLOOD,
            "--reference", "muscle"]
    assert main([*args, "--delay", "fit", "--delay-voi", "spleen", "-o", str(out / "fitted.csv")]) == 0
    assert main([*args, "-o", str(out / "uncorrected.csv")]) == 0
    delay = json.loads((out / "fitted.json").read_text())["delay_fit"]
    assert -9.0 < delay["delay_s"] < -4.0  # blood 8 s late: moved earlier
    fitted, uncorrected = pd.read_csv(out / "fitted.csv"), pd.read_csv(out / "uncorrected.csv")
    for name, voi in _targets(truth).items():
        assert _value(fitted, name, "2tcm", "VT") == pytest.approx(voi["VT"], rel=1e-2)
    errors = [abs(_value(t, "lesion_01", "2tcm", "VT") / truth["vois"]["lesion_01"]["VT"] - 1)
              for t in (fitted, uncorrected)]
    assert errors[0] < errors[1]


def test_image_derived_input(study: tuple[Path, dict]) -> None:
    out, truth = study
    assert main(["kinetics", "--tacs", str(out / "tacs.csv"), "--model", "2tcm", "--blood", str(out / "blood.csv"),
                 *BLOOD, "--idif", "aorta", "--idif-min-time", "10", "-o", str(out / "idif.csv")]) == 0
    sidecar = json.loads((out / "idif.json").read_text())["input_function"]
    assert sidecar["image_derived"] is True and sidecar["scale"] == pytest.approx(1.0, abs=2e-3)
    table = pd.read_csv(out / "idif.csv")
    for name, voi in _targets(truth).items():
        assert _value(table, name, "2tcm", "VT") == pytest.approx(voi["VT"], rel=1e-2)


def test_bad_delay_and_missing_delay_voi_are_refused(study: tuple[Path, dict], capsys: pytest.CaptureFixture) -> None:
    out, _ = study
    args = ["kinetics", "--tacs", str(out / "tacs.csv"), "--model", "2tcm", "--blood", str(out / "blood.csv"), *BLOOD,
            "-o", str(out / "bad.csv")]
    assert main([*args, "--delay", "soon"]) == 2
    assert main([*args, "--delay", "fit"]) == 2
    assert main([*args, "--delay", "fit", "--delay-voi", "liver"]) == 2
    err = capsys.readouterr().err
    assert "--delay 'soon' is neither seconds nor 'fit'" in err and "--delay-voi" in err and "'liver'" in err
    assert not (out / "bad.csv").exists()


def test_parametric_logan_map_equals_the_voi_fit(study: tuple[Path, dict]) -> None:
    """Each VOI is uniform, so every voxel of the Logan VT map equals the VOI-level Logan VT (same t*)."""
    import nibabel as nib

    out, truth = study
    assert main(["parametric", "--pet4d", str(out / "suv.nii.gz"), "--map", "logan_vt", "--map", "patlak_ki",
                 "--t-star", "30", "--blood", str(out / "blood.csv"), "--blood-not-decay-corrected", "--nuclide",
                 "F18", "--workers", "2", "-o", str(out / "maps")]) == 0
    vt = np.asanyarray(nib.load(out / "maps" / "logan_vt.nii.gz").dataobj)
    labels = np.asanyarray(nib.load(out / "vois.nii.gz").dataobj)
    table = pd.read_csv(out / "kinetics.csv")
    for name in _targets(truth):
        values = vt[labels == truth["vois"][name]["label"]]
        np.testing.assert_allclose(values, _value(table, name, "logan", "VT"), rtol=1e-5)
    assert np.isnan(vt[labels == 0]).all()  # no activity: no value
    provenance = json.loads((out / "maps" / "parametric.json").read_text())
    assert provenance["logan_vt"]["n_voxels"] == int((labels > 0).sum())
    assert (out / "maps" / "patlak_ki.nii.gz").is_file()
