"""DICOM index: series grouping, subject IDs from the sample sheet, non-DICOM and unreadable files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main
from pipeline.dicom.index import index_tree, pseudonym


def test_index_groups_series_and_labels_subjects(cohort_1: Path) -> None:
    result = index_tree(cohort_1 / "dicom", workers=4, samples=cohort_1 / "samples.tsv", data_root=cohort_1)
    table = result.series
    assert len(table) == 8
    assert set(table["subject_id"]) == {"P01"}
    assert sorted(table["timepoint"]) == ["baseline"] * 3 + ["dynamic"] * 2 + ["on_treatment"] * 3
    dynamic = table[table["timepoint"] == "dynamic"]
    assert sorted(dynamic["modality"]) == ["PT", "SEG"]
    pet = table[(table["modality"] == "PT") & (table["timepoint"] != "dynamic")]
    n_pet_files = len(list((cohort_1 / "dicom" / "P01" / "baseline" / "PT").glob("*.dcm")))
    assert pet["n_instances"].tolist() == [n_pet_files, n_pet_files]
    assert [int(n) for n in dynamic.loc[dynamic["modality"] == "PT", "n_instances"]] == [28 * 20]  # frames x slices
    assert set(pet["units"]) <= {"BQML", "CNTS"}
    assert (table["problems"] == "").all()
    # truth.json of each study, and the dynamic study's blood.csv, vois.nii.gz and vois.tsv
    assert result.n_skipped == 3 + 3
    assert result.unreadable == []


def test_index_without_sheet_uses_pseudonym(cohort_1: Path) -> None:
    table = index_tree(cohort_1 / "dicom" / "P01" / "baseline", workers=2).series
    assert len(table) == 3
    (subject,) = set(table["subject_id"])
    assert subject.startswith("anon-") and len(subject) == 13


def test_pseudonym_is_stable() -> None:
    assert pseudonym("12345") == pseudonym("12345") != pseudonym("12346")


def test_non_dicom_skipped_and_truncated_reported(cohort_1: Path, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    shutil.copytree(cohort_1 / "dicom" / "P01" / "baseline" / "PT", root / "PT")
    (root / "notes.txt").write_text("not dicom")
    victim = sorted((root / "PT").glob("*.dcm"))[3]
    victim.write_bytes(victim.read_bytes()[:300])  # header cut inside the data set
    result = index_tree(root, workers=2)
    assert result.n_skipped == 1
    assert [Path(p).name for p, _ in result.unreadable] == [victim.name]
    n_pet_files = len(list((root / "PT").glob("*.dcm")))
    assert result.series["n_instances"].tolist() == [n_pet_files - 1]


def test_mixed_folders_flagged(cohort_1: Path, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    files = sorted((cohort_1 / "dicom" / "P01" / "baseline" / "PT").glob("*.dcm"))
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    for i, f in enumerate(files):
        shutil.copy(f, root / ("a" if i % 2 else "b") / f.name)
        if i == 0:
            shutil.copy(f, root / "a" / ("dup_" + f.name))
    table = index_tree(root, workers=2).series
    assert "instances in 2 folders" in table.loc[0, "problems"]
    assert "1 duplicate SOPInstanceUID" in table.loc[0, "problems"]


def test_cli_index_writes_csv(cohort_1: Path, tmp_path: Path) -> None:
    out = tmp_path / "series.csv"
    assert main(["index", str(cohort_1 / "dicom"), "-o", str(out), "--samples", str(cohort_1 / "samples.tsv"),
                 "--data-root", str(cohort_1)]) == 0
    table = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(table.columns)[:11] == ["subject_id", "timepoint", "study_uid", "series_uid", "modality",
                                        "series_description", "n_instances", "radionuclide", "acquisition_datetime",
                                        "manufacturer", "path"]
    assert len(table) == 8


@pytest.mark.parametrize("workers", [1, 8])
def test_index_is_deterministic(cohort_1: Path, workers: int) -> None:
    a = index_tree(cohort_1 / "dicom", workers=workers).series
    b = index_tree(cohort_1 / "dicom", workers=1).series
    pd.testing.assert_frame_equal(a, b)


def test_worker_processes_give_the_thread_index(cohort_1: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.dicom.index as index_module

    threads = index_tree(cohort_1 / "dicom", workers=2)
    monkeypatch.setattr(index_module, "PROCESS_POOL_MIN_FILES", 1)  # large-tree path on the small cohort
    pool = index_module._header_pool(2, 10)
    processes = index_tree(cohort_1 / "dicom", workers=2)
    assert pd.testing.assert_frame_equal(threads.series, processes.series) is None
    assert processes.n_dicom == threads.n_dicom > 0
    if len(os.sched_getaffinity(0)) > 1:
        assert type(pool).__name__ == "ProcessPoolExecutor"
    pool.shutdown()


def test_index_parts_merge_to_the_whole_index(cohort_1: Path, tmp_path: Path) -> None:
    """The workflow's index in parts (study folders of the sheet, merged) equals the index of the whole tree."""
    from pipeline.config import load_sample_sheet
    from pipeline.dicom.folders import study_folders

    folders = study_folders(load_sample_sheet(cohort_1 / "samples.tsv"), cohort_1)
    assert [Path(f).relative_to(cohort_1).as_posix() for f in folders] == [
        "dicom/P01/baseline", "dicom/P01/on_treatment", "dicom/P01/dynamic"]
    common = ["--samples", str(cohort_1 / "samples.tsv"), "--data-root", str(cohort_1), "--workers", "2"]
    assert main(["index", str(cohort_1 / "dicom"), "-o", str(tmp_path / "whole.csv"), *common]) == 0
    for number, part in enumerate((folders[:2], folders[2:]), 1):
        assert main(["index", *part, "-o", str(tmp_path / f"part{number}.csv"), *common]) == 0
    assert main(["index", "--merge", str(tmp_path / "part1.csv"), str(tmp_path / "part2.csv"),
                 "-o", str(tmp_path / "merged.csv")]) == 0
    assert (tmp_path / "merged.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    # a folder given twice, or inside another one given, is read once
    again = index_tree([cohort_1 / "dicom", Path(folders[0]), Path(folders[0])], workers=2).series
    assert again["n_instances"].astype(int).sum() == index_tree(cohort_1 / "dicom", workers=2).series[
        "n_instances"].astype(int).sum()


def test_series_split_across_index_parts_is_one_row(cohort_1: Path, tmp_path: Path) -> None:
    from pipeline.dicom.index import merge_index

    pet = sorted((cohort_1 / "dicom" / "P01" / "baseline" / "PT").glob("*.dcm"))
    for i, f in enumerate(pet):
        target = tmp_path / ("a" if i < 4 else "b") / "PT" / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, target)
    whole = index_tree(tmp_path, workers=2).series
    parts = [index_tree(tmp_path / name, workers=2).series.astype(str) for name in ("a", "b")]
    merged = merge_index(parts)
    assert len(merged) == 1 == len(whole)
    assert int(merged["n_instances"].iloc[0]) == len(pet)
    assert merged["path"].iloc[0] == str(tmp_path)
    assert merged["problems"].iloc[0] == "instances in folders of 2 index parts"
    assert whole["problems"].iloc[0] == "instances in 2 folders"


def test_index_refuses_a_missing_study_folder(cohort_1: Path, tmp_path: Path) -> None:
    assert main(["index", str(cohort_1 / "dicom"), str(tmp_path / "nowhere"), "-o", str(tmp_path / "x.csv")]) == 2
    assert not (tmp_path / "x.csv").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("subject_id,timepoint\nP01,baseline\n")
    assert main(["index", "--merge", str(bad), "-o", str(tmp_path / "y.csv")]) == 2


def test_index_reads_a_file_without_preamble_as_suv_does(shared_data: Path, tmp_path: Path) -> None:
    """The real Philips file without the 128-byte preamble and File Meta: `petvoi suv` decodes it, and the index
    lists its series (it was skipped as non-DICOM); a text file is still skipped."""
    src = shared_data / "orthanc_tests_pet_slices" / "philips_gemini_tf_PrivateMDNTags.dcm"
    assert src.read_bytes()[128:132] != b"DICM"
    shutil.copy(src, tmp_path / src.name)
    (tmp_path / "notes.txt").write_text("not dicom\n")
    result = index_tree(tmp_path, workers=1)
    assert result.n_dicom == 1 and result.n_skipped == 1 and result.unreadable == []
    (row,) = result.series.to_dict(orient="records")
    assert row["modality"] == "PT" and row["units"] == "BQML" and row["n_instances"] == 1


def test_index_lists_every_file_it_did_not_use(cohort_1: Path, tmp_path: Path) -> None:
    """Issue 17, item 4: the files the index did not use are a table beside series.csv, one row per file with the
    reason; a preamble-less data set with a SOP Class but no SeriesInstanceUID is unreadable, not silently
    skipped; index parts' tables are merged with the index."""
    import pydicom

    root = tmp_path / "tree"
    shutil.copytree(cohort_1 / "dicom" / "P01" / "baseline" / "PT", root / "PT")
    (root / "notes.txt").write_text("not dicom")
    pet = sorted((root / "PT").glob("*.dcm"))
    pet[3].write_bytes(pet[3].read_bytes()[:300])
    ds = pydicom.dcmread(pet[5])
    del ds.SeriesInstanceUID
    ds.save_as(root / "no_series.dcm", enforce_file_format=False)  # no preamble, no File Meta
    ds = pydicom.dcmread(pet[6])
    ds.save_as(root / "bare.dcm", enforce_file_format=False)  # a bare data set with a SOP Class: indexed
    out = tmp_path / "index" / "series.csv"
    assert main(["index", str(root), "-o", str(out), "--workers", "1"]) == 0
    skipped = pd.read_csv(tmp_path / "index" / "series_skipped.csv", dtype=str, keep_default_na=False)
    assert list(skipped.columns) == ["path", "status", "reason"]
    rows = {Path(p).name: (s, r) for p, s, r in skipped.itertuples(index=False)}
    assert set(rows) == {"notes.txt", pet[3].name, "no_series.dcm"}
    assert rows["notes.txt"][0] == "not DICOM" and "no DICM preamble" in rows["notes.txt"][1]
    assert rows[pet[3].name][0] == "unreadable"
    assert rows["no_series.dcm"] == ("unreadable", "no SeriesInstanceUID (0020,000E)")
    series = pd.read_csv(out)
    assert int(series["n_instances"].sum()) == len(pet) - 1 + 1  # one truncated, the bare copy of pet[6] added
    # parts: their tables merge beside the merged index
    part = tmp_path / "parts" / "series_1.csv"
    assert main(["index", str(root), "-o", str(part), "--workers", "1"]) == 0
    assert main(["index", "--merge", str(part), "-o", str(tmp_path / "merged" / "series.csv")]) == 0
    merged = pd.read_csv(tmp_path / "merged" / "series_skipped.csv", dtype=str, keep_default_na=False)
    assert merged.equals(skipped)


def test_the_layout_names_the_skipped_tables_where_the_index_writes_them() -> None:
    from pipeline.dicom.index import skipped_table_path
    from pipeline.outputs.layout import TEMPLATES as LAYOUT

    assert LAYOUT["series_index_skipped"] == skipped_table_path(Path(LAYOUT["series_index"])).as_posix()
    assert LAYOUT["series_index_part_skipped"] == skipped_table_path(
        Path(LAYOUT["series_index_part"])).as_posix()
