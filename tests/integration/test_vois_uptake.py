"""`petvoi vois` + `petvoi uptake` end to end on a synthetic study: RTSTRUCT drawn on the CT, a sphere and a
threshold VOI, uptake against the phantom's truth; bad input exits 2 with one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from pipeline.cli import main
from pipeline.voi.catalogue import read_voiset


@pytest.fixture(scope="module")
def study(cohort_1: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("vois")
    dicom = cohort_1 / "dicom" / "P01" / "baseline"
    truth = json.loads((dicom / "truth.json").read_text())
    assert main(["suv", str(dicom / "PT"), "-o", str(work / "suv.nii.gz")]) == 0
    return {"work": work, "dicom": dicom, "truth": truth}


def _aorta_centre(truth: dict) -> list[float]:
    (aorta,) = [v for v in truth["vois"] if v["name"] == "aorta"]
    return aorta["geometry"]["centre_lps_mm"]


def test_vois_and_uptake_match_truth(study: dict) -> None:
    work, dicom, truth = study["work"], study["dicom"], study["truth"]
    x, y, z = _aorta_centre(truth)
    lesion = next(v for v in truth["vois"] if v["kind"] == "tumour" and v["malignant"])
    assert main(["vois", "--pet", str(work / "suv.nii.gz"), "--rtstruct", str(dicom / "RTSTRUCT"),
                 "--spheres", f"blood_pool:{x},{y},{z}:10:reference",
                 "--threshold", f"{lesion['name']}_50:50%max:within={lesion['name']}",
                 "-o", str(work / "vois.nii.gz")]) == 0
    voiset = read_voiset(work / "vois.nii.gz")
    names = [v.name for v in voiset.vois]
    assert names[: len(truth["vois"])] == [v["name"] for v in truth["vois"]]
    assert names[-2:] == ["blood_pool", f"{lesion['name']}_50"]
    kinds = {v.name: v.kind for v in voiset.vois}
    assert kinds["liver"] == "reference" and kinds[lesion["name"]] == "tumour" and kinds["body"] == "body"

    assert main(["uptake", "--suv", str(work / "suv.nii.gz"), "--vois", str(work / "vois.nii.gz"),
                 "-o", str(work / "uptake.csv")]) == 0
    table = pd.read_csv(work / "uptake.csv").set_index("name")
    assert (work / "uptake.json").is_file()
    for voi in truth["vois"]:
        row = table.loc[voi["name"]]
        # RTSTRUCT drawn on 3 mm CT planes, rasterised on 4 mm PET slices: volumes of 10 mL and more agree
        # with the analytic shapes within 10 % (a 1 mL focus is 15-18 voxels of 0.064 mL)
        if voi["volume_ml_analytic"] >= 10:
            assert row["volume_ml"] == pytest.approx(voi["volume_ml_analytic"], rel=0.10), voi["name"]
        if voi["kind"] == "tumour" and min(voi["geometry"]["semi_axes_mm"]) > 10:
            assert row["suv_peak"] == pytest.approx(voi["suv_true"], rel=0.01), voi["name"]
            assert row["suv_max"] == pytest.approx(voi["suv_true"], rel=0.001), voi["name"]
    # the blood-pool sphere lies inside the aorta: its mean is the aorta's SUV
    (aorta,) = [v for v in truth["vois"] if v["name"] == "aorta"]
    assert table.loc["blood_pool", "suv_mean"] == pytest.approx(aorta["suv_true"], rel=1e-3)
    # SUL columns are filled (height and sex recorded by the SUV stage even for SUVbw)
    assert table.loc[lesion["name"], "sul_max"] < table.loc[lesion["name"], "suv_max"]
    # 50 % of max within the lesion recovers the uniform lesion
    assert table.loc[f"{lesion['name']}_50", "suv_min"] == pytest.approx(lesion["suv_true"], rel=1e-3)
    # byte-identical on a second run
    first = (work / "uptake.csv").read_bytes()
    assert main(["uptake", "--suv", str(work / "suv.nii.gz"), "--vois", str(work / "vois.nii.gz"),
                 "-o", str(work / "uptake.csv")]) == 0
    assert (work / "uptake.csv").read_bytes() == first


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--threshold", "hot:suv>>2"], "hot:suv>>2"),
        (["--threshold", "hot:suv>=2.5"], "--threshold: a whole-image threshold needs an explicit kind in "
                                          "'hot:suv>=2.5'; add :kind=tumour"),
        (["--spheres", "ref:1,2:30"], "ref:1,2:30"),
        ([], "no VOI source given"),
    ],
)
def test_bad_specs_exit_2(study: dict, args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = study["work"] / "bad" / "vois.nii.gz"
    assert main(["vois", "--pet", str(study["work"] / "suv.nii.gz"), *args, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]
    assert not out.exists()


def test_a_whole_image_threshold_leaves_the_organs_unchanged(study: dict) -> None:
    work, dicom = study["work"], study["dicom"]
    tables = {}
    for label, extra in (("plain", []), ("hot", ["--threshold", "hot:suv>=2.5:kind=tumour"]),
                         ("carved", ["--threshold", "hot:suv>=2.5:kind=tumour:exclude_from_organs=yes"])):
        vois = work / label / "vois.nii.gz"
        assert main(["vois", "--pet", str(work / "suv.nii.gz"), "--rtstruct", str(dicom / "RTSTRUCT"), *extra,
                     "-o", str(vois)]) == 0
        assert main(["uptake", "--suv", str(work / "suv.nii.gz"), "--vois", str(vois),
                     "-o", str(work / label / "uptake.csv")]) == 0
        tables[label] = pd.read_csv(work / label / "uptake.csv").set_index("name")
    plain, hot, carved = tables["plain"], tables["hot"], tables["carved"]
    assert hot.loc["hot", "kind"] == "tumour" and hot.loc["hot", "n_voxels"] > 0
    organs = plain.index[plain["kind"].isin(["organ", "reference"])]
    for column in ("n_voxels", "n_voxels_excluded", "suv_mean", "suv_max"):
        assert hot.loc[organs, column].equals(plain.loc[organs, column]), column
    assert hot.loc["spleen", "suv_mean"] > 2.5  # a hot organ, wholly above the threshold
    assert carved.loc["spleen", "n_voxels"] < 0.1 * plain.loc["spleen", "n_voxels"]  # opted in: emptied
    record = json.loads((work / "hot" / "uptake.json").read_text())["tumour_exclusion"]
    assert record["tumours_kept_in_organs"] == ["hot"]


def test_rtstruct_of_another_frame_of_reference(study: dict, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    rs_path = next((study["dicom"] / "RTSTRUCT").glob("*.dcm"))
    ds = pydicom.dcmread(rs_path)
    other = "1.2.3.4.5.6.7.8.9"
    ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = other
    for roi in ds.StructureSetROISequence:
        roi.ReferencedFrameOfReferenceUID = other
    bad = tmp_path / "RS.dcm"
    ds.save_as(bad)
    shutil.copy(study["work"] / "suv.json", tmp_path / "suv.json")
    shutil.copy(study["work"] / "suv.nii.gz", tmp_path / "suv.nii.gz")
    assert main(["vois", "--pet", str(tmp_path / "suv.nii.gz"), "--rtstruct", str(bad),
                 "-o", str(tmp_path / "vois.nii.gz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "FrameOfReferenceUID" in err and "RS.dcm" in err
    assert not (tmp_path / "vois.nii.gz").exists()
