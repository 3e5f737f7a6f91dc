"""Workflow: snakemake dry run and a real run on a small synthetic cohort: one trial subject (P01, with its
dynamic study) and the multi-day PK subject (P02: three 89Zr scans after one injection, exact uptake curves)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.workflow

SNAKEMAKE = Path(sys.executable).with_name("snakemake")


@pytest.fixture(scope="module")
def cohort_pk(tmp_path_factory: pytest.TempPathFactory, cohort_1: Path) -> Path:
    """The one-subject cohort (P01, seed 7) with its multi-day PK subject P02 added (same seed: P01 unchanged)."""
    from pipeline.io import write_table
    from pipeline.synthetic import cohort_tables, generate_cohort
    from pipeline.synthetic.clinical import TABLE_FILES

    out = tmp_path_factory.mktemp("cohort_pk") / "data"
    shutil.copytree(cohort_1, out)
    generate_cohort(out, n_subjects=1, seed=7, multiday=True, subjects_filter=["P02"])
    for name, frame in cohort_tables(1, 7, multiday=True).items():  # the tables of both subjects
        write_table(out / TABLE_FILES[name], frame)
    return out


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, cohort_pk: Path) -> Path:
    work = tmp_path_factory.mktemp("workflow")
    (work / "config.yaml").write_text(yaml.safe_dump(cohort_config(cohort_pk, work / "results")))
    return work


def cohort_config(cohort: Path, results: Path) -> dict[str, object]:
    """The workflow configuration of a synthetic cohort folder (its sheet and tables), results in ``results``."""
    return {"samples": str(cohort / "samples.tsv"), "data_root": str(cohort), "results": str(results),
            "threads": 1, "synth": {"generate": False}, "suv": {"dosing": str(cohort / "dosing.csv")},
            "recist": {"measurements": str(cohort / "recist.csv")}, "mri": {"samples": str(cohort / "mri.tsv")},
            "clinical": {name: str(cohort / f"{name}.csv") for name in ("ihc", "histology", "outcomes")}}


def snakemake(repo: Path, work: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [str(SNAKEMAKE), "--snakefile", str(repo / "Snakefile"), "--configfile", str(work / "config.yaml"),
           "--directory", str(work), "--cores", "2", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def test_dry_run_plans_every_stage(repo: Path, workdir: Path) -> None:
    proc = snakemake(repo, workdir, "--dry-run", "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    jobs = _planned(out)
    # studies in batches of 8 (a static study's suv, ct, vois, uptake, texture, heterogeneity, the dynamic study's
    # suv, vois, tacs, kinetics, parametric - one petvoi chain): 5 static + 1 dynamic studies, 1 job; deltas and
    # reports one batch; the index one job (3 study folders, fewer than jobs.index_studies_per_job)
    assert jobs["studies_1"] == 1 and "studies_2" not in jobs and "dynamic_study" not in jobs
    assert jobs["report_1"] == 1 and jobs["index"] == 1 and "index_1" not in jobs
    for rule in ("index", "cohort_table", "inter_lesion", "cohort_deltas", "recist", "stats", "cohort_report",
                 "cohort_kinetics", "pk"):
        assert rule in jobs
    assert not {"study", "suv", "ct", "vois", "uptake", "texture", "heterogeneity", "deltas", "tacs", "kinetics",
                "parametric", "synth"} & set(jobs)  # synth: a user cohort


def test_dry_run_batches_of_studies_and_index_parts(repo: Path, workdir: Path, tmp_path: Path) -> None:
    """4 studies per job: 6 studies (sheet order, the dynamic one among them) in 2 batches of 3; 2 study folders per
    index job: 6 folders in 3 index parts, merged by the index checkpoint."""
    config = {**yaml.safe_load((workdir / "config.yaml").read_text()),
              "jobs": {"studies_per_job": 4, "index_studies_per_job": 2}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(repo, tmp_path, "--dry-run", "--printshellcmds")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    jobs = _planned(out)
    assert jobs["studies_1"] == jobs["studies_2"] == 1 and "studies_3" not in jobs and "dynamic_study" not in jobs
    assert jobs["index_1"] == jobs["index_2"] == jobs["index_3"] == jobs["index"] == 1 and "index_4" not in jobs
    commands = [line for line in out.splitlines() if " index " in line and "petvoi" in line]
    assert sum("--merge" in c for c in commands) == 1 and len(commands) == 4


def test_dry_run_one_job_per_study_when_configured(repo: Path, workdir: Path, tmp_path: Path) -> None:
    config = {**yaml.safe_load((workdir / "config.yaml").read_text()), "jobs": {"studies_per_job": 1}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(repo, tmp_path, "--dry-run", "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = _planned(proc.stdout + proc.stderr)
    assert jobs["study"] == 5 and jobs["dynamic_study"] == 1 and "studies_1" not in jobs


def test_dry_run_one_job_per_stage_when_configured(repo: Path, workdir: Path, tmp_path: Path) -> None:
    config = {**yaml.safe_load((workdir / "config.yaml").read_text()),
              "jobs": {"study_chain": False, "reports_per_job": 1}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(repo, tmp_path, "--dry-run", "--quiet", "rules")
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = _planned(proc.stdout + proc.stderr)
    assert not {"study", "studies_1"} & set(jobs) and jobs["report_1"] == jobs["report_2"] == 1
    for rule in ("suv", "ct", "vois", "uptake", "texture", "heterogeneity"):
        assert jobs[rule] >= 5, rule
    for rule in ("tacs", "kinetics", "parametric"):
        assert jobs[rule] == 1, rule


def test_resources_of_an_unknown_rule_are_refused(repo: Path, workdir: Path, tmp_path: Path) -> None:
    config = {**yaml.safe_load((workdir / "config.yaml").read_text()),
              "jobs": {"resources": {"studdy": {"mem_mb": 8000}}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(repo, tmp_path, "--dry-run", "--quiet", "rules")
    assert proc.returncode != 0
    assert "jobs.resources.studdy: no rule is named 'studdy'" in proc.stdout + proc.stderr


def _planned(text: str) -> dict[str, int]:
    """The job counts of a dry run's 'Job stats' table."""
    counts: dict[str, int] = {}
    for line in text.split("Job stats:", 1)[-1].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts


def test_dry_run_from_nothing_plans_synth_before_kinetics(repo: Path, tmp_path: Path) -> None:
    """`make demo` on a fresh clone: the synth rule must produce every input, blood tables included."""
    sample = repo / "sample_data"
    config = {"samples": str(sample / "samples.tsv"), "data_root": str(tmp_path / "data"),
              "results": str(tmp_path / "results"), "suv": {"dosing": str(sample / "dosing.csv")},
              "recist": {"measurements": str(sample / "recist.csv")}, "mri": {"samples": str(sample / "mri.tsv")},
              "clinical": {name: str(sample / f"{name}.csv") for name in ("ihc", "histology", "outcomes")}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(repo, tmp_path, "--dry-run", "--quiet", "rules")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    out = proc.stdout + proc.stderr
    jobs = _planned(out)
    for rule in ("synth", "index", "studies_1", "cohort_kinetics", "pk"):  # the dynamic study is in studies_1
        assert jobs[rule] == 1, rule


def test_bad_config_is_reported_by_path(repo: Path, workdir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**yaml.safe_load((workdir / "config.yaml").read_text()), "threds": 2}))
    cmd = [str(SNAKEMAKE), "--snakefile", str(repo / "Snakefile"), "--configfile", str(bad), "--directory",
           str(tmp_path), "--cores", "1", "--dry-run"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "threds: unknown key" in proc.stdout + proc.stderr


def test_real_run_indexes_the_cohort(repo: Path, workdir: Path, cohort_pk: Path, dciodvfy: str) -> None:
    cohort_1 = cohort_pk
    proc = snakemake(repo, workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    series = pd.read_csv(workdir / "results" / "index" / "series.csv", dtype=str, keep_default_na=False)
    p01 = series[series["subject_id"] == "P01"]
    assert sorted(p01["modality"]) == ["CT", "CT", "PT", "PT", "PT", "RTSTRUCT", "RTSTRUCT", "SEG"]
    assert sorted(series.loc[series["subject_id"] == "P02", "modality"]) == ["CT"] * 3 + ["PT"] * 3 + ["RTSTRUCT"] * 3
    assert set(series["subject_id"]) == {"P01", "P02"}
    assert (series["problems"] == "").all()
    # every rule leaves a log and a benchmark
    assert (workdir / "results" / "logs" / "index.log").is_file()
    assert (workdir / "results" / "benchmarks" / "index.tsv").is_file()
    # SUV and CT per study, the SUV factor equal to the synthetic truth
    import json

    for timepoint in ("baseline", "on_treatment"):
        study = workdir / "results" / "P01" / timepoint
        truth = json.loads((cohort_1 / "dicom" / "P01" / timepoint / "truth.json").read_text())
        sidecar = json.loads((study / "suv.json").read_text())
        assert sidecar["suv_factor"] == pytest.approx(truth["suv_factor"], rel=1e-6)
        assert (study / "ct.nii.gz").is_file() and (study / "ct.json").is_file()
        assert (workdir / "results" / "logs" / "suv" / f"P01_{timepoint}.log").is_file()
        uptake = pd.read_csv(study / "uptake.csv")
        assert sorted(uptake["name"]) == sorted(v["name"] for v in truth["vois"])
    cohort = pd.read_parquet(workdir / "results" / "cohort" / "uptake.parquet")
    assert list(cohort.columns[:6]) == ["subject_id", "timepoint", "tracer", "nuclide", "arm", "route"]
    assert set(cohort["timepoint"]) == {"baseline", "on_treatment", "day2", "day4", "day7"}
    deltas = pd.read_parquet(workdir / "results" / "cohort" / "deltas.parquet")
    patient = deltas[deltas["level"] == "patient"]
    assert set(patient["percist"]) <= {"CMR", "PMR", "SMD", "PMD", "NA"} and len(patient) > 0
    stats = pd.read_csv(workdir / "results" / "cohort" / "stats.csv")
    assert {"suv_vs_ihc", "diagnostic", "survival"} <= set(stats["endpoint"])  # one subject: rows say n, no crash
    assert (workdir / "results" / "cohort" / "figures" / "biodistribution.png").is_file()
    # the DICOM outputs of every static study, listed in the patient report (issue 18)
    for timepoint in ("baseline", "on_treatment"):
        for name in ("seg.dcm", "sr.dcm", "suv_pm.dcm"):
            assert (workdir / "results" / "P01" / timepoint / "dicom" / name).is_file()
    html = (workdir / "results" / "reports" / "P01.html").read_text()
    assert 'id="dicom-files"' in html and "on_treatment/dicom/sr.dcm" in html
    # the dynamic study's Logan VT map as a Parametric Map in mL/mL, the NIfTI map's values at each plane position
    import pydicom

    from pipeline.dicom.geometry import read_nifti

    dynamic = workdir / "results" / "P01" / "dynamic"
    pm = pydicom.dcmread(dynamic / "dicom" / "logan_vt_pm.dcm")
    mapping = pm.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    assert mapping.MeasurementUnitsCodeSequence[0].CodeValue == "ml/ml" and mapping.LUTLabel == "Logan VT"
    vt, grid = read_nifti(dynamic / "parametric" / "logan_vt.nii.gz")
    z = [grid.lps_to_index(np.asarray(f.PlanePositionSequence[0].ImagePositionPatient, float))[2]
         for f in pm.PerFrameFunctionalGroupsSequence]
    np.testing.assert_array_equal(pm.pixel_array.astype(np.float32)[np.argsort(z)], np.asarray(vt, np.float32))
    check = subprocess.run([dciodvfy, str(dynamic / "dicom" / "logan_vt_pm.dcm")], capture_output=True, text=True,
                           timeout=120, check=False)
    assert [line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")] == []
    for name in ("P01", "P02", "cohort"):
        assert (workdir / "results" / "reports" / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
        assert "data:image/png;base64," in (workdir / "results" / "reports" / f"{name}.html").read_text()
    # the dynamic study (18F subject): SEG VOIs, TACs, kinetic models with a fitted delay, Logan VT map
    truth = json.loads((cohort_1 / "dicom" / "P01" / "dynamic" / "truth.json").read_text())
    kinetics = pd.read_parquet(workdir / "results" / "cohort" / "kinetics.parquet")
    assert set(kinetics["timepoint"]) == {"dynamic"} and set(kinetics["name"]) == {"lesion_01", "lesion_02", "spleen"}
    for name in ("lesion_01", "lesion_02", "spleen"):
        row = kinetics[(kinetics["name"] == name) & (kinetics["model"] == "2tcm") & (kinetics["parameter"] == "VT")]
        assert bool(row["converged"].iloc[0]) and bool(row["chosen"].iloc[0])
        assert float(row["value"].iloc[0]) == pytest.approx(truth["vois"][name]["VT"], rel=1e-2)
    sidecar = json.loads((workdir / "results" / "P01" / "dynamic" / "kinetics.json").read_text())
    assert sidecar["delay_fit"]["delay_s"] == pytest.approx(-truth["blood"]["delay_s"], abs=3.0)
    assert (workdir / "results" / "P01" / "dynamic" / "parametric" / "logan_vt.nii.gz").is_file()
    assert not (workdir / "results" / "P01" / "dynamic" / "uptake.csv").exists()  # static stages skip it
    response = pd.read_csv(workdir / "results" / "cohort" / "response.csv")
    assert list(response["timepoint"]) == ["baseline", "on_treatment"]
    # deidentify: true (the default): no name, ID, birth date, accession number, institution, UID or scan date
    # of the DICOM in any output, log, report or file name (issue 17, item 9)
    identifiers = _dicom_identifiers(cohort_1 / "dicom")
    assert len(identifiers["uid"]) > 50 and identifiers["date"]
    for path in [workdir / "results", *(workdir / "results").rglob("*")]:
        name = str(path.relative_to(workdir))
        assert not any(value in name for values in identifiers.values() for value in values), name
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                data = gzip.decompress(data)
            text = data.decode("latin-1")
            for kind, values in identifiers.items():
                found = sorted(v for v in values if v in text)
                assert not found, (name, kind, found[:3])
    # dates moved by the subject's offset: uptake times and intervals unchanged, the SUV factor exact (above)
    sidecar = json.loads((workdir / "results" / "P01" / "baseline" / "suv.json").read_text())
    assert sidecar["series_instance_uid"].startswith("2.25.")
    assert sidecar["uptake_time_s"] == pytest.approx(truth_baseline_uptake(cohort_1), abs=1.0)


def _dicom_identifiers(root: Path) -> dict[str, set[str]]:
    """The identifying values of every DICOM file below ``root``: names, IDs, birth dates, accession numbers,
    institutions, UIDs (not the standard ones) and study/series/acquisition dates (as written and in ISO form)."""
    import pydicom

    found: dict[str, set[str]] = {"id": set(), "uid": set(), "date": set()}
    for f in root.rglob("*.dcm"):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        for element in ds.iterall():
            value = str(element.value).strip() if element.value is not None else ""
            if len(value) < 4:
                continue
            if element.VR == "UI" and not value.startswith("1.2.840.10008."):
                found["uid"].add(value)
            elif element.keyword in ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber",
                                     "InstitutionName", "OtherPatientIDs"):
                found["id"].add(value)
                if element.keyword == "PatientName":
                    found["id"].add(value.replace("^", " "))
            elif element.keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
                found["date"] |= {value, f"{value[:4]}-{value[4:6]}-{value[6:8]}"}
    return found


def truth_baseline_uptake(cohort: Path) -> float:
    """P01's baseline uptake time (s) from the synthetic truth."""
    truth = json.loads((cohort / "dicom" / "P01" / "baseline" / "truth.json").read_text())
    return float(truth["uptake_time_s"])


#: Relative errors of petvoi pk (from DICOM) against the analytic AUC (first scan to infinity) and T_eff of the exact
#: curves in pk_truth.json. The aorta VOI equals its structure (a vertical cylinder): int16 quantisation only
#: (measured: AUC -8e-6, T_eff -3e-6). Organ and reference VOIs take in boundary voxels of their neighbours in
#: the uptake stage, so their level is off by that partial-volume error (measured: AUC up to -1.45 %, spleen;
#: T_eff up to +1.1 %, bladder); small lesions more so (AUC -4 % to -13 %, T_eff within 0.41 %). The AUC error
#: equals the VOI's level error (mean over the scans of measured / true activity) within 0.35 %: the PK itself is
#: exact. The body VOI (the whole-body contour, every organ inside) is not compared.
PK_PURE, PK_ORGAN, PK_LESION_T_EFF, PK_LEVEL = 1e-4, 0.02, 0.01, 0.01


def test_real_run_multiday_pk_has_the_known_answer(workdir: Path, cohort_pk: Path) -> None:
    """After the real run: `petvoi pk` found the scans after one injection and its AUC is the analytic one."""
    results = workdir / "results"
    assert (results / "logs" / "pk.log").is_file() and (results / "benchmarks" / "pk.tsv").is_file()
    pk = pd.read_csv(results / "cohort" / "pk.csv")
    notes = pk[pk["note"].notna()]
    assert set(notes["subject_id"]) == {"P01"} and len(notes) == 2  # baseline and on_treatment: one scan each
    curves = pk[pk["note"].isna()]
    truth = json.loads((cohort_pk / "dicom" / "P02" / "pk_truth.json").read_text())
    assert set(curves["subject_id"]) == {"P02"} and set(curves["voi"]) == set(truth["vois"])
    assert set(curves["auc_method"]) == {"log"} and set(curves["n_scans"]) == {3}
    assert curves["injection"].nunique() == 1 and json.loads((results / "cohort" / "pk.json").read_text())[
        "auc_method"] == "log"
    points = pd.read_csv(results / "cohort" / "pk_points.csv")
    for row in curves.itertuples():
        voi = truth["vois"][row.voi]
        if voi["kind"] == "body":
            continue
        auc_error = row.auc_first_inf / voi["auc_first_inf_kbq_day_ml"] - 1
        measured = points[points["voi"] == row.voi].sort_values("time_days")["activity_at_scan_kbq_ml"].to_numpy()
        level_error = float(np.mean(measured / np.asarray(voi["activity_at_scan_kbq_ml"]))) - 1
        assert abs(auc_error - level_error) < PK_LEVEL, (row.voi, auc_error, level_error)
        assert row.suv_auc_first_inf / voi["suv_auc_first_inf"] - 1 == pytest.approx(auc_error, abs=1e-6)
        if row.voi == "aorta":
            assert abs(auc_error) < PK_PURE
            assert row.t_eff_days == pytest.approx(voi["t_eff_days"], rel=PK_PURE)
            assert row.t_bio_days == pytest.approx(voi["t_bio_days"], rel=1e-3)
        elif voi["kind"] in ("organ", "reference"):
            assert abs(auc_error) < PK_ORGAN, (row.voi, auc_error)
            assert row.t_eff_days == pytest.approx(voi["t_eff_days"], rel=PK_ORGAN)
        else:
            assert row.t_eff_days == pytest.approx(voi["t_eff_days"], rel=PK_LESION_T_EFF)
            if voi["t_bio_days"] is None:  # malignant lesion accumulating: no biological clearance
                assert math.isinf(row.t_bio_days)
    assert list(points.loc[points["voi"] == "aorta", "timepoint"]) == ["day2", "day4", "day7"]
    aorta = points[points["voi"] == "aorta"]["activity_at_scan_kbq_ml"].to_numpy()
    assert aorta == pytest.approx(truth["vois"]["aorta"]["activity_at_scan_kbq_ml"], rel=PK_PURE)
    # the patient report of P02 has the section: the points, the values and the method
    html = (results / "reports" / "P02.html").read_text()
    assert 'id="pk"' in html and 'data-auc-method="log"' in html and "linear-up/log-down" in html
    auc = float(curves.loc[curves["voi"] == "aorta", "auc_first_inf"].iloc[0])
    assert f'data-value="{auc!r}"' in html
    assert 'id="pk"' not in (results / "reports" / "P01.html").read_text()


def test_rerun_after_a_complete_run_plans_nothing(repo: Path, workdir: Path) -> None:
    """After the real run (tests in this module run in order) a dry run plans 0 jobs, with every rerun trigger of
    Snakemake (mtime, params, input, code, software-env): nothing changes between runs (the checkpoint's index is
    an input through the checkpoint, see series_index in rules/common.smk)."""
    proc = snakemake(repo, workdir, "--dry-run")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Nothing to be done" in out, out[-3000:]
    assert "Job stats" not in out  # the table of planned jobs


def test_snakemake_report(repo: Path, workdir: Path) -> None:
    # after the real run (tests in this module run in order): the run's provenance as a Snakemake report
    proc = snakemake(repo, workdir, "--report", str(workdir / "report.zip"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    import zipfile

    with zipfile.ZipFile(workdir / "report.zip") as archive:
        names = archive.namelist()
    assert any(n.endswith("stats.csv") for n in names)
    assert any(n.endswith("biodistribution.png") for n in names)


def test_dry_run_of_a_synthetic_cohort_follows_synth_subjects(repo: Path, tmp_path: Path) -> None:
    """synth.subjects sets the cohort: 120 subjects (ids P001..P121 with the multi-day one) are planned, sheet and
    tables written into data_root before planning; the committed sample sheet plays no part."""
    data = tmp_path / "data"
    config = {"samples": str(data / "samples.tsv"), "data_root": str(data), "results": str(tmp_path / "results"),
              "synth": {"generate": True, "subjects": 120}, "suv": {"dosing": str(data / "dosing.csv")},
              "recist": {"measurements": str(data / "recist.csv")}, "mri": {"samples": str(data / "mri.tsv")},
              "clinical": {name: str(data / f"{name}.csv") for name in ("ihc", "histology", "outcomes")}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(repo, tmp_path, "--dry-run", "--quiet", "rules")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    samples = pd.read_csv(data / "samples.tsv", sep="\t", dtype=str)
    assert samples["subject_id"].nunique() == 121 and samples["subject_id"].iloc[-1] == "P121"
    jobs = _planned(proc.stdout + proc.stderr)
    assert jobs["synth"] == 1 and jobs["index"] == 1
    # the index is a checkpoint: the study jobs are planned once it has run; the reports are known already
    assert sum(v for k, v in jobs.items() if k.startswith("report_")) == 16  # 121 subjects in batches of 8


def test_results_path_with_spaces_quotes_and_command_substitution(repo: Path, cohort_1: Path,
                                                                 tmp_path: Path) -> None:
    """Paths from the config reach shell commands quoted (issue 17): a results folder named with a space, a quote
    and `$(touch ...)` gets every output, and nothing runs or is written outside it."""
    work = tmp_path / "work"
    work.mkdir()
    results = work / "res ults 'q' $(touch PWNED)"
    (work / "config.yaml").write_text(yaml.safe_dump(cohort_config(cohort_1, results)))
    proc = snakemake(repo, work)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert not list(tmp_path.rglob("PWNED")) and not (repo / "PWNED").exists() and not Path("PWNED").exists()
    # the working folder holds the run state, the config, the results and the de-identification secret
    assert sorted(p.name for p in work.iterdir()) == [".petvoi", ".snakemake", "config.yaml", results.name]
    assert (results / "P01" / "baseline" / "uptake.csv").is_file()
    assert (results / "reports" / "cohort.pdf").is_file() and (results / "reports" / "P01.pdf").is_file()
    assert (results / "logs" / "study" / "batch_1.log").is_file()


def test_one_failed_study_does_not_cost_the_cohort(repo: Path, cohort_1: Path, tmp_path: Path) -> None:
    """Issue 17, item 8: with one study's PET corrupted, the run names it (a failure record: stage and one-line
    reason); the same command run again builds the cohort tables, statistics and reports from the other studies,
    with failed_studies.csv that the cohort report shows on its first page; deleting the record runs it again."""
    import pydicom

    data = tmp_path / "data"
    shutil.copytree(cohort_1, data)
    for f in sorted((data / "dicom" / "P01" / "on_treatment" / "PT").glob("*.dcm")):
        ds = pydicom.dcmread(f)
        ds.Units = "PROPCPS"
        ds.save_as(f)
    work = tmp_path / "work"
    work.mkdir()
    results = work / "results"
    (work / "config.yaml").write_text(yaml.safe_dump(cohort_config(data, results)))
    first = snakemake(repo, work, "--keep-going")
    assert first.returncode != 0
    record = json.loads((results / "failed" / "P01_on_treatment.json").read_text())
    assert record["rule"] == "suv" and "Units (0054,1001): PROPCPS cannot be converted to SUV" in record["reason"]
    assert "\n" not in record["reason"]
    assert "P01/on_treatment failed in suv" in first.stderr and "run the same command again" in first.stderr
    # the batch's other studies ran (their outputs are removed with the failed job's: they run again next time)
    assert "petvoi chain: uptake took" in (results / "logs" / "uptake" / "P01_baseline.log").read_text()
    second = snakemake(repo, work)
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    assert "P01/on_treatment left out: its suv failed in an earlier run" in second.stderr
    failed = pd.read_csv(results / "cohort" / "failed_studies.csv", dtype=str)
    assert failed[["subject_id", "timepoint", "rule"]].values.tolist() == [["P01", "on_treatment", "suv"]]
    uptake = pd.read_parquet(results / "cohort" / "uptake.parquet")
    assert set(uptake["timepoint"]) == {"baseline"}
    assert (results / "cohort" / "stats.csv").is_file() and (results / "reports" / "P01.pdf").is_file()
    html = (results / "reports" / "cohort.html").read_text()
    first_section = html.index('id="failed-studies"')
    assert first_section < html.index("<section", first_section + 1) and "PROPCPS" in html[first_section:]
    assert (results / "reports" / "cohort.pdf").read_bytes()[:5] == b"%PDF-"
    assert "Nothing to be done" in snakemake(repo, work, "--dry-run").stdout
    (results / "failed" / "P01_on_treatment.json").unlink()
    again = snakemake(repo, work, "--dry-run")
    assert again.returncode == 0 and "P01/on_treatment left out" not in again.stderr
    assert "studies_" in again.stdout and "cohort_samples" in again.stdout
