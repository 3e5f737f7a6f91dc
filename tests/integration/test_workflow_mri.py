"""The MRI stages of the workflow (issue 19, item 4) on a synthetic cohort with a CD8-trial subject: the mri rules
from the MR sample sheet to results/cohort/mri.csv, the truth of every tumour lesion recovered end to end (VOI fits
and voxel maps), volumes and their change, no raw UID in the de-identified outputs, and the patient report's MRI
section built from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_workflow import cohort_config, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def mri_run(repo: Path, cohort_3: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("workflow_mri")
    config = {**cohort_config(cohort_3, work / "results"), "deidentify_secret": str(work / "secret")}
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    sheet = pd.read_csv(cohort_3 / "mri.tsv", sep="\t", dtype=str)
    maps = [str(work / "results" / r.subject_id / f"mri_{r.timepoint}" / "dicom" / f"{m}_pm.dcm")
            for r in sheet.itertuples()
            for m in ("ktrans_per_min", "ve", "vp", "adc", "ivim_f", "ivim_d", "ivim_dstar", "dki_d", "dki_k")]
    proc = snakemake(repo, work, "mri_cohort", *maps)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_mri_rules_recover_the_truth_end_to_end(mri_run: Path, cohort_3: Path) -> None:
    sheet = pd.read_csv(cohort_3 / "mri.tsv", sep="\t", dtype=str)
    assert len(sheet) == 2 and set(sheet["timepoint"]) == {"baseline", "on_treatment"}
    table = pd.read_csv(mri_run / "results" / "cohort" / "mri.csv")
    results = mri_run / "results"
    for row in sheet.itertuples():
        truth = json.loads((cohort_3 / row.dicom / "truth.json").read_text())
        study = table[(table["subject_id"] == row.subject_id) & (table["timepoint"] == row.timepoint)]
        for name, t in truth["structures"].items():
            if t["kind"] != "tumour":
                continue
            got = study[study["voi"] == name].iloc[0]
            assert got["lesion_id"] == name and got["kind"] == "tumour"
            for column, key in (("ktrans_per_min", "ktrans_per_min"), ("ve", "ve"), ("vp", "vp"), ("ivim_f", "f"),
                                ("ivim_d_mm2_per_s", "d_mm2_per_s"), ("ivim_dstar_mm2_per_s", "dstar_mm2_per_s"),
                                ("dki_k_app", "k"), ("t1_median_s", "t1_s")):
                assert got[column] == pytest.approx(t[key], rel=1e-3), (row.timepoint, name, column)
            # the voxel maps: every voxel of the lesion's VOI fitted to the truth
            folder = results / row.subject_id / f"mri_{row.timepoint}"
            from pipeline.dicom.geometry import read_nifti
            from pipeline.voi.catalogue import read_voiset

            vois = read_voiset(folder / "mr_vois.nii.gz")
            mask = vois.masks[[v.name for v in vois.vois].index(name)]
            ktrans, _ = read_nifti(folder / "dce" / "ktrans_per_min.nii.gz")
            kurtosis, _ = read_nifti(folder / "dwi" / "dki_k.nii.gz")
            assert np.nanmedian(ktrans[mask]) == pytest.approx(t["ktrans_per_min"], rel=1e-3)
            assert np.nanmedian(kurtosis[mask]) == pytest.approx(t["k"], rel=1e-3)
            assert np.isnan(ktrans[~np.any(vois.masks[[v.kind == "tumour" for v in vois.vois]], axis=0)]).all()
    # volume change from baseline, per lesion
    tumours = table[table["kind"] == "tumour"].pivot(index="voi", columns="timepoint", values="volume_ml")
    change = table[(table["kind"] == "tumour") & (table["timepoint"] == "on_treatment")].set_index("voi")
    for voi in change.index:
        expected = 100 * (tumours.loc[voi, "on_treatment"] / tumours.loc[voi, "baseline"] - 1)
        assert change.loc[voi, "volume_change_pct"] == pytest.approx(expected)
    assert table.loc[table["timepoint"] == "baseline", "volume_change_pct"].isna().all()


def test_mri_outputs_are_deidentified(mri_run: Path, cohort_3: Path) -> None:
    import pydicom

    sheet = pd.read_csv(cohort_3 / "mri.tsv", sep="\t", dtype=str)
    raw = set()
    for row in sheet.itertuples():
        for series in ("DCE", "RTSTRUCT"):
            ds = pydicom.dcmread(next((cohort_3 / row.dicom / series).iterdir()), stop_before_pixels=True)
            raw |= {str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID), str(ds.FrameOfReferenceUID),
                    str(ds.SOPInstanceUID), str(ds.PatientID)}
    texts = [p.read_text(errors="ignore") for p in (mri_run / "results").rglob("*")
             if p.is_file() and p.suffix in (".json", ".csv", ".log")]
    assert texts and not any(uid in text for uid in raw for text in texts)
    # the maps as DICOM Parametric Maps: pseudonymised, referencing the pseudonymised MR series
    dicom = sorted((mri_run / "results").rglob("*_pm.dcm"))
    assert len(dicom) == 2 * 9
    for path in dicom:
        data = path.read_bytes()
        assert not any(uid.encode() in data for uid in raw), path.name
        ds = pydicom.dcmread(path)
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.30"  # Parametric Map (highdicom: Modality OT)


def test_patient_report_mri_section(mri_run: Path, cohort_3: Path) -> None:
    from pipeline.report.render import data_uri  # noqa: F401 - the section's images are data URIs
    from pipeline.report.sections import mri

    class Inputs:  # the section reads the subject and the results folder only
        subject_id = "P03"

        class layout:  # noqa: N801
            root = mri_run / "results"

    built = mri.build(Inputs())  # type: ignore[arg-type]
    assert [m["timepoint"] for m in built["mri"]] == ["baseline", "on_treatment"]
    first = built["mri"][0]
    assert first["curves"].startswith("data:image/png;base64,") and first["map"].startswith("data:image/png")
    assert first["rows"] and not first["not_converged"]
    table = pd.read_csv(mri_run / "results" / "cohort" / "mri.csv")
    lesion = first["rows"][0]
    ktrans = table[(table["timepoint"] == "baseline") & (table["voi"] == lesion["name"])]["ktrans_per_min"].iloc[0]
    assert float(lesion["cells"][2]["value"]) == pytest.approx(ktrans)
    assert mri.build(type("I", (), {"subject_id": "P01", "layout": Inputs.layout})())["mri"] == []  # type: ignore[arg-type]


def test_mri_texture_on_the_zscored_precontrast_image(mri_run: Path, cohort_3: Path) -> None:
    """The pre-contrast image z-scored in the body (mean 0, SD 1 there), each tumour lesion's z equal to its
    signal's distance from the body mean in body SDs, and IBSI-coded texture rows of every tumour lesion in
    results/cohort/mri_texture.csv."""
    from pipeline.dicom.geometry import read_nifti
    from pipeline.voi.catalogue import read_voiset

    results = mri_run / "results"
    texture = pd.read_csv(results / "cohort" / "mri_texture.csv")
    for row in pd.read_csv(cohort_3 / "mri.tsv", sep="\t", dtype=str).itertuples():
        folder = results / row.subject_id / f"mri_{row.timepoint}"
        image, _ = read_nifti(folder / "dce" / "precontrast.nii.gz")
        z, _ = read_nifti(folder / "precontrast_z.nii.gz")
        vois = read_voiset(folder / "mr_vois.nii.gz")
        names = [v.name for v in vois.vois]
        body = vois.masks[names.index("body")]
        assert float(z[body].mean()) == pytest.approx(0.0, abs=1e-5)
        assert float(z[body].std(ddof=1)) == pytest.approx(1.0, rel=1e-5)
        study = texture[(texture["subject_id"] == row.subject_id) & (texture["timepoint"] == row.timepoint)]
        for voi in (v for v in vois.vois if v.kind == "tumour"):
            mask = vois.masks[names.index(voi.name)]
            expected = (image[mask].mean() - image[body].mean()) / image[body].std(ddof=1)
            assert float(z[mask].mean()) == pytest.approx(float(expected), rel=1e-4, abs=1e-5)
            rows = study[study["name"] == voi.name]
            assert rows["ibsi_code"].notna().sum() > 50 and rows["value"].notna().all(), voi.name


def test_mri_studies_run_as_one_chain_with_the_stage_rules_tables(repo: Path, cohort_3: Path, mri_run: Path,
                                                                  tmp_path: Path) -> None:
    """jobs.study_chain (the default): the cohort's MR studies are one job (rule mri_studies_1: one petvoi chain,
    each stage with its own log, one benchmark); with study_chain false they are a job per stage. The tables are
    byte-identical."""
    batched = mri_run / "results"
    assert (batched / "benchmarks" / "mri_study" / "batch_1.tsv").is_file()
    assert not (batched / "benchmarks" / "mri_dce").exists()
    for stage in ("mri_vois", "mri_t1", "mri_dce", "mri_dwi", "mri_normalise", "mri_texture", "mri_export_dce"):
        log = (batched / "logs" / stage / "P03_baseline.log").read_text()
        assert log.count("petvoi chain: ") == 1, stage  # the chain's line: the step's CPU and wall seconds

    config = {**cohort_config(cohort_3, tmp_path / "results"), "deidentify_secret": str(mri_run / "secret"),
              "jobs": {"study_chain": False}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(repo, tmp_path, "mri_cohort")
    assert proc.returncode == 0, proc.stderr[-3000:]
    staged = tmp_path / "results"
    assert (staged / "benchmarks" / "mri_dce").is_dir() and not (staged / "benchmarks" / "mri_study").exists()
    tables = sorted(p.relative_to(staged) for p in staged.rglob("*.csv")
                    if "mri_" in str(p.parent) or p.name.startswith("mri"))
    assert len(tables) >= 2 * 4 + 2  # per MR study: dce, curves, dwi, texture; the two cohort tables
    assert [str(t) for t in tables if (staged / t).read_bytes() != (batched / t).read_bytes()] == []
