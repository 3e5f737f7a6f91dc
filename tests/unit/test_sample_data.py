"""The committed sample cohort tables are exactly what `petvoi synth sample_data --subjects 6 --seed 0` writes
(the six trial subjects and the multi-day PK subject P07)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import load_config, load_sample_sheet
from pipeline.io import write_table
from pipeline.synthetic import cohort_tables
from pipeline.synthetic.clinical import TABLE_FILES


@pytest.fixture(scope="module")
def default_config(repo: Path) -> dict:
    return load_config(repo / "configs" / "config.yaml")


def test_committed_tables_match_generator(repo: Path, default_config: dict, tmp_path: Path) -> None:
    synth = default_config["synth"]
    tables = cohort_tables(synth["subjects"], synth["seed"], multiday=True)  # `petvoi synth` writes P07 too
    assert sorted(tables) == sorted(TABLE_FILES)
    for name, frame in tables.items():
        committed = repo / default_config["data_root"] / TABLE_FILES[name]
        fresh = write_table(tmp_path / TABLE_FILES[name], frame)
        assert committed.read_bytes() == fresh.read_bytes(), f"{committed} differs; rerun petvoi synth"


def test_sample_sheet_is_valid(repo: Path, default_config: dict) -> None:
    sheet = load_sample_sheet(repo / default_config["samples"])
    assert len(sheet) == 17
    assert sorted(sheet["nuclide"].unique()) == ["F18", "Ga68", "Zr89"]
    assert set(sheet["timepoint"]) == {"baseline", "on_treatment", "dynamic", "day2", "day4", "day7"}
    static = load_sample_sheet(repo / default_config["samples"], acquisition="static")
    assert len(static) == 15 and set(static["timepoint"]) == {"baseline", "on_treatment", "day2", "day4", "day7"}
    pk = static[static["subject_id"] == "P07"]
    assert list(pk["timepoint"]) == ["day2", "day4", "day7"] and set(pk["nuclide"]) == {"Zr89"}
    dynamic = load_sample_sheet(repo / default_config["samples"], acquisition="dynamic")
    assert list(dynamic["subject_id"]) == ["P01", "P04"]  # the IL-2R (18F) subjects
    assert list(dynamic["blood"]) == ["dicom/P01/dynamic/blood.csv", "dicom/P04/dynamic/blood.csv"]


def test_profiles_parse(repo: Path) -> None:
    local = yaml.safe_load((repo / "configs" / "profiles" / "local" / "config.yaml").read_text())
    slurm = yaml.safe_load((repo / "configs" / "profiles" / "slurm" / "config.yaml").read_text())
    assert local["cores"] == 2
    assert slurm["executor"] == "slurm"
