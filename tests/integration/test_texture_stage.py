"""`petvoi texture` and `petvoi heterogeneity` on a synthetic study: IBSI codes, skipped VOIs, parallel = serial."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.metrics.texture_stage import TEXTURE_COLUMNS


@pytest.fixture(scope="module")
def study(cohort_1: Path, p01_baseline: Path) -> dict:
    truth = cohort_1 / "dicom" / "P01" / "baseline" / "truth.json"
    return {"work": p01_baseline, "truth": json.loads(truth.read_text())}


def test_texture_rows_and_codes(study: dict, repo: Path) -> None:
    work, truth = study["work"], study["truth"]
    params = repo / "configs" / "radiomics_pet.yaml"
    assert main(["texture", "--image", str(work / "suv.nii.gz"), "--vois", str(work / "vois.nii.gz"),
                 "--params", str(params), "-o", str(work / "texture.csv")]) == 0
    table = pd.read_csv(work / "texture.csv", keep_default_na=False)
    assert list(table.columns) == TEXTURE_COLUMNS
    tumours = [v for v in truth["vois"] if v["kind"] == "tumour"]
    assert sorted(table["name"].unique()) == sorted(v["name"] for v in tumours)
    computed = table[table["reason"] == ""]
    skipped = table[table["reason"] != ""]
    # VOIs under 64 voxels on the 4 mm grid get one row with the reason, not a crash
    small = {v["name"] for v in tumours if v["n_voxels_whole"] < 50}
    assert small <= set(skipped["name"])
    assert (skipped.groupby("name").size() == 1).all()
    assert skipped["reason"].str.contains("64").all()
    # every computed value is either IBSI-coded or a documented non-IBSI feature
    coded = computed[computed["ibsi_code"] != ""]
    assert len(coded) / len(computed) > 0.95
    # a uniform lesion: intensity-statistics CoV (7TET) is ~0 and the local intensity peak is its SUV
    big = max((v for v in tumours if v["name"] in set(computed["name"])), key=lambda v: v["n_voxels"])
    rows = computed[computed["name"] == big["name"]].set_index("ibsi_code")
    assert float(rows.loc["0F91", "value"]) == pytest.approx(big["suv_true"], rel=0.01)  # global intensity peak
    assert float(rows.loc["84IY", "value"]) == pytest.approx(big["suv_true"], rel=0.01)  # maximum
    settings = json.loads((work / "texture.json").read_text())
    assert settings["params"]["bin_width"] == 0.25 and settings["params"]["discretisation_method"] == "fbs"


def test_two_workers_give_the_same_table(study: dict, repo: Path) -> None:
    work = study["work"]
    params = str(repo / "configs" / "radiomics_pet.yaml")
    for workers in ("1", "2"):
        assert main(["texture", "--image", str(work / "suv.nii.gz"), "--vois", str(work / "vois.nii.gz"),
                     "--params", params, "--kinds", "tumour,organ", "--workers", workers,
                     "-o", str(work / f"texture_{workers}.csv")]) == 0
    assert (work / "texture_1.csv").read_bytes() == (work / "texture_2.csv").read_bytes()


def test_unknown_parameter_key_is_named(study: dict, repo: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "params.yaml"
    bad.write_text((repo / "configs" / "radiomics_pet.yaml").read_text().replace("bin_width:", "binwidth:"))
    assert main(["texture", "--image", str(study["work"] / "suv.nii.gz"), "--vois",
                 str(study["work"] / "vois.nii.gz"), "--params", str(bad), "-o", str(tmp_path / "t.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "binwidth" in err and str(bad) in err
    assert not (tmp_path / "t.csv").exists()


def test_heterogeneity_of_uniform_lesions(study: dict) -> None:
    work, truth = study["work"], study["truth"]
    assert main(["heterogeneity", "--suv", str(work / "suv.nii.gz"), "--vois", str(work / "vois.nii.gz"),
                 "-o", str(work / "heterogeneity.csv")]) == 0
    table = pd.read_csv(work / "heterogeneity.csv").set_index("name")
    for voi in truth["vois"]:
        if voi["kind"] == "tumour" and voi["n_voxels"] >= 100:
            # the RTSTRUCT mask of a uniform lesion holds a few boundary voxels of the background
            assert table.loc[voi["name"], "auc_csh"] > 0.9
