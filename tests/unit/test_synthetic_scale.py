"""Scaling the synthetic cohort (issue 16): more than 99 subjects, the sheets before the DICOM (what the
workflow reads when it starts), and a cohort folder that held another cohort."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.config import load_config, load_sample_sheet
from pipeline.errors import ConfigError, InvalidInputError
from pipeline.synthetic import cohort_tables, ensure_sheets, ensure_workflow_sheets, generate_cohort
from pipeline.synthetic.clinical import TABLE_FILES
from pipeline.synthetic.manifest import MANIFEST, CohortKey, read_manifest, remove_stale, write_manifest
from pipeline.synthetic.protocol import subject_id


def _ids(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["subject_id"]))


# ---------------------------------------------------------------- ids and tables of a large cohort


def test_ids_are_two_digits_up_to_99_subjects_then_one_wider_width() -> None:
    assert [subject_id(i, 99) for i in (0, 8, 98)] == ["P01", "P09", "P99"]
    assert [subject_id(i, 100) for i in (0, 98, 99)] == ["P001", "P099", "P100"]
    assert subject_id(999, 1000) == "P1000" and subject_id(0, 1000) == "P0001"
    # the multi-day subject counts: 98 trial subjects + P99 keep two digits, 99 + 1 need three
    assert _ids(cohort_tables(98, 0, multiday=True)["samples"])[-2:] == ["P98", "P99"]
    assert _ids(cohort_tables(99, 0, multiday=False)["samples"])[-1] == "P99"
    assert _ids(cohort_tables(99, 0, multiday=True)["samples"])[-2:] == ["P099", "P100"]


@pytest.mark.parametrize("multiday", [False, True])
def test_sheets_of_120_subjects_cover_exactly_those_subjects(multiday: bool) -> None:
    tables = cohort_tables(120, 0, multiday=multiday)
    samples = tables["samples"]
    ids = _ids(samples)
    trial = [f"P{i:03d}" for i in range(1, 121)]
    assert ids == sorted(ids) == trial + (["P121"] if multiday else [])
    assert len(set(samples["study_uid"])) == len(samples)  # every study its own UID
    studies = list(zip(samples["subject_id"], samples["timepoint"], strict=True))
    assert list(samples["dicom"]) == [f"dicom/{s}/{t}" for s, t in studies]
    # dynamic studies for the 18F subjects (every third), the multi-day subject's three scans last
    assert _ids(samples[samples["acquisition"] == "dynamic"]) == trial[::3]
    if multiday:
        assert list(samples.loc[samples["subject_id"] == "P121", "timepoint"]) == ["day2", "day4", "day7"]
    dosing = tables["dosing"]
    assert list(zip(dosing["subject_id"], dosing["timepoint"], strict=True)) == studies
    # the trial tables: every trial subject, none else (the multi-day subject has no trial rows)
    for name in ("ihc", "outcomes"):
        assert list(tables[name]["subject_id"]) == trial, name
    for name in ("recist", "histology"):
        assert _ids(tables[name]) == trial, name
    assert set(samples["arm"][samples["subject_id"].isin(trial)]) == {"A", "B"}


def test_small_cohorts_keep_the_committed_sample_ids(repo: Path) -> None:
    committed = _ids(load_sample_sheet(repo / "sample_data" / "samples.tsv"))
    assert committed == ["P01", "P02", "P03", "P04", "P05", "P06", "P07"]
    for n in range(1, 7):
        assert _ids(cohort_tables(n, 0, multiday=True)["samples"]) == committed[: n + 1]
    # the same trial subjects, byte for byte, whatever the multi-day subject
    six = cohort_tables(6, 0, multiday=True)["samples"]
    pd.testing.assert_frame_equal(cohort_tables(6, 0)["samples"], six[six["subject_id"] != "P07"])


# ---------------------------------------------------------------- the sheets before the DICOM


def test_ensure_sheets_writes_only_what_is_missing_or_different(tmp_path: Path, repo: Path) -> None:
    sheet = ensure_sheets(tmp_path, 6, 0)
    assert sheet == tmp_path / "samples.tsv"
    for name in TABLE_FILES.values():  # what petvoi synth sample_data --subjects 6 --seed 0 writes
        assert (tmp_path / name).read_bytes() == (repo / "sample_data" / name).read_bytes(), name
    assert not (tmp_path / "dicom").exists()  # never DICOM
    old = {name: (tmp_path / name).stat().st_mtime_ns for name in TABLE_FILES.values()}
    os.utime(tmp_path / "samples.tsv", ns=(1, 1))
    ensure_sheets(tmp_path, 6, 0)
    assert (tmp_path / "samples.tsv").stat().st_mtime_ns == 1  # unchanged content: not rewritten
    ensure_sheets(tmp_path, 120, 0)
    assert _ids(load_sample_sheet(tmp_path / "samples.tsv"))[-1] == "P121"
    assert all((tmp_path / name).stat().st_mtime_ns != old[name] for name in TABLE_FILES.values())
    with pytest.raises(InvalidInputError, match="n_subjects"):
        ensure_sheets(tmp_path, 1000, 0)


def test_ensure_sheets_invalidates_the_done_marker_of_another_cohort(tmp_path: Path) -> None:
    dicom = tmp_path / "dicom"
    marker = dicom / ".synth.complete"
    dicom.mkdir()
    marker.touch()
    write_manifest(dicom, CohortKey(6, 0, True, 0.0), {"P01": ["baseline"]})
    ensure_sheets(tmp_path, 6, 0, noise_sd=0.0, done_marker=marker)
    assert marker.exists()  # the DICOM is of this cohort
    ensure_sheets(tmp_path, 6, 0, noise_sd=0.1, done_marker=marker)
    assert not marker.exists()  # other noise: same files, other content; the synth rule must run again


def _config(tmp_path: Path, repo: Path, **synth: object) -> dict:
    cfg = load_config(repo / "configs" / "config.yaml")
    cfg["data_root"] = str(tmp_path / "data")
    cfg["synth"].update(synth)
    return cfg


def test_workflow_sheets_accept_the_committed_tables_for_the_default_cohort(tmp_path: Path, repo: Path) -> None:
    cfg = _config(tmp_path, repo)  # tables keys still name sample_data/, data_root elsewhere
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        assert ensure_workflow_sheets(cfg) == Path("sample_data/samples.tsv")
        with pytest.raises(ConfigError) as err:
            ensure_workflow_sheets(_config(tmp_path, repo, subjects=150))
    finally:
        os.chdir(cwd)
    assert err.value.attribute == "samples"
    assert f"set samples to {tmp_path / 'data' / 'samples.tsv'}" in str(err.value)


def test_workflow_sheets_of_150_subjects_under_data_root(tmp_path: Path, repo: Path) -> None:
    cfg = _config(tmp_path, repo, subjects=150)
    data = tmp_path / "data"
    cfg["samples"] = str(data / "samples.tsv")
    cfg["suv"]["dosing"] = str(data / "dosing.csv")
    cfg["recist"]["measurements"] = str(data / "recist.csv")
    cfg["clinical"] = {name: str(data / f"{name}.csv") for name in ("ihc", "histology", "outcomes")}
    cfg["mri"] = {**cfg.get("mri", {}), "samples": str(data / "mri.tsv")}
    sheet = load_sample_sheet(ensure_workflow_sheets(cfg))
    assert sheet["subject_id"].nunique() == 151 and sheet["subject_id"].iloc[-1] == "P151"
    cfg["synth"]["subjects"] = 1000  # past the schema's maximum: named by its key
    with pytest.raises(ConfigError, match="synth.subjects: n_subjects must be an integer in 1..999"):
        ensure_workflow_sheets(cfg)


# ---------------------------------------------------------------- a folder that held another cohort


def _study(root: Path, subject: str, timepoint: str, truth: bool = True) -> Path:
    study = root / subject / timepoint
    (study / "PT").mkdir(parents=True)
    (study / "PT" / "PT_0001.dcm").write_bytes(b"x")
    if truth:
        (study / "truth.json").write_text("{}")
    return study


def test_stale_studies_of_a_generated_cohort_are_removed(tmp_path: Path) -> None:
    dicom = tmp_path / "dicom"
    keep = _study(dicom, "P001", "baseline")
    old_subject = _study(dicom, "P01", "baseline")  # the 6-subject cohort's ids
    old_study = _study(dicom, "P001", "day2")  # P001 was the multi-day subject
    (dicom / "P001" / "pk_truth.json").write_text("{}")
    listed = _study(dicom, "P02", "baseline", truth=False)  # interrupted, but in the old manifest
    write_manifest(dicom, CohortKey(1, 0, True, 0.0), {"P02": ["baseline"]})
    removed = remove_stale(dicom, {"P001": ["baseline"]}, multiday_subject=None)
    assert sorted(removed) == sorted([old_subject.parent, old_study, dicom / "P001" / "pk_truth.json", listed.parent])
    assert keep.is_dir() and sorted(p.name for p in dicom.iterdir()) == [MANIFEST, "P001"]


def test_foreign_dicom_in_the_cohort_folder_is_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    foreign = _study(tmp_path / "dicom", "patient_x", "scan1", truth=False)
    with pytest.raises(InvalidInputError, match="holds patient_x, not part of the synthetic cohort and not written by"):
        generate_cohort(tmp_path, n_subjects=1, seed=7)
    assert foreign.is_dir() and not (tmp_path / "samples.tsv").exists() and not (tmp_path / "dicom" / "P01").exists()


def test_a_complete_cohort_has_its_manifest(cohort_1: Path) -> None:
    key, studies = read_manifest(cohort_1 / "dicom") or (None, None)
    assert key == CohortKey(1, 7, False, 0.0)
    assert studies == {"P01": ["baseline", "dynamic", "on_treatment"]}


# ---------------------------------------------------------------- DICOM of a subject past 99


def test_subject_past_99_is_indexed_and_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    summary = generate_cohort(out, n_subjects=120, seed=0, subjects_filter=["P101"])  # Ga68, Philips-like
    assert summary.subject_ids == ("P101",)
    assert sorted(p.name for p in (out / "dicom").iterdir()) == ["P101"]
    assert not (out / "dicom" / MANIFEST).exists()  # one subject is not the cohort
    sheet = load_sample_sheet(out / "samples.tsv")
    assert list(sheet["subject_id"]) == ["P101", "P101"]
    full = cohort_tables(120, 0)["samples"]
    assert list(sheet["study_uid"]) == list(full.loc[full["subject_id"] == "P101", "study_uid"])

    index = tmp_path / "series.csv"
    assert main(["index", str(out / "dicom"), "-o", str(index), "--samples", str(out / "samples.tsv"),
                 "--data-root", str(out)]) == 0
    series = pd.read_csv(index, dtype=str, keep_default_na=False)
    assert sorted(series["modality"]) == ["CT", "CT", "PT", "PT", "RTSTRUCT", "RTSTRUCT"]
    assert set(series["subject_id"]) == {"P101"} and set(series["timepoint"]) == {"baseline", "on_treatment"}
    assert (series["problems"] == "").all()

    config = tmp_path / "config.yaml"
    config.write_text(f"samples: {out / 'samples.tsv'}\ndata_root: {out}\nsynth:\n  generate: false\n")
    capsys.readouterr()
    assert main(["check", str(config)]) == 0
    assert "2 rows (0 dynamic), 1 subjects" in capsys.readouterr().out


def test_workers_write_the_same_files(tmp_path: Path) -> None:
    serial = generate_cohort(tmp_path / "a", n_subjects=3, seed=3, subjects_filter=["P02", "P03"])
    parallel = generate_cohort(tmp_path / "b", n_subjects=3, seed=3, subjects_filter=["P02", "P03"], workers=2)
    assert [p.relative_to(tmp_path / "b") for p in parallel.study_dirs] == \
        [p.relative_to(tmp_path / "a") for p in serial.study_dirs]
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
