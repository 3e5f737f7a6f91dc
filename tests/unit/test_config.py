"""Configuration and sample-sheet validation: good files load with defaults, bad ones name the path."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import check_dynamic_studies, config_hash, load_config, load_sample_sheet, validate_config
from pipeline.errors import ConfigError, SampleSheetError


def test_default_config_is_valid_and_filled(repo: Path) -> None:
    cfg = load_config(repo / "configs" / "config.yaml")
    assert cfg["samples"] == "sample_data/samples.tsv"
    assert cfg["synth"]["subjects"] == 6
    assert cfg["index"]["workers"] == 8


def test_defaults_fill_missing_sections() -> None:
    cfg = validate_config({})
    assert cfg["results"] == "results"
    assert cfg["synth"] == {"generate": False, "subjects": 6, "seed": 0, "noise_sd": 0.0}
    assert cfg["deidentify"] is True


@pytest.mark.parametrize(
    ("config", "path", "fragment"),
    [
        ({"resutls": "x"}, "resutls", "unknown key"),
        ({"synth": {"sed": 3}}, "synth.sed", "unknown key"),
        ({"synth": {"seed": -1}}, "synth.seed", "minimum"),
        ({"threads": "two"}, "threads", "not of type 'integer'"),
        ({"synth": {"noise_sd": 2}}, "synth.noise_sd", "maximum"),
    ],
)
def test_bad_config_names_yaml_path(config: dict, path: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(config, source="c.yaml")
    assert info.value.attribute == path
    assert fragment in info.value.one_line()
    assert info.value.one_line().startswith("c.yaml: " + path)


def test_invalid_yaml_reports_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("samples: a\nsynth: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert "not valid YAML" in str(info.value)
    assert info.value.attribute is not None and info.value.attribute.startswith("line ")


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_config_hash_is_stable_and_sensitive() -> None:
    a = validate_config({"synth": {"seed": 1}})
    b = validate_config({"synth": {"seed": 1}})
    c = validate_config({"synth": {"seed": 2}})
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash(c)
    assert len(config_hash(a)) == 12


def _sheet(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "samples.tsv"
    p.write_text(text)
    return p


def test_good_sample_sheet(tmp_path: Path) -> None:
    p = _sheet(tmp_path, "subject_id\ttimepoint\ttracer\tnuclide\tdicom\troute\n"
                         "P01\tbaseline\tFDG\tF18\tdicom/P01/b\tiv\nP01\tfollow\tFDG\tF18\tdicom/P01/f\t\n")
    sheet = load_sample_sheet(p)
    assert list(sheet["timepoint"]) == ["baseline", "follow"]
    assert sheet.loc[1, "route"] == ""


@pytest.mark.parametrize(
    ("text", "attribute", "fragment"),
    [
        ("subject_id\ttimepoint\ttracer\tdicom\tcolour\nP01\tb\tFDG\td\tred\n", "colour", "unknown column"),
        ("subject_id\ttimepoint\tdicom\nP01\tb\td\n", "tracer", "required column missing"),
        ("subject_id\ttimepoint\ttracer\tdicom\nP01\tb\tFDG\td\nP 02\tb\tFDG\td\n", "row 2, column subject_id",
         "does not match"),
        ("subject_id\ttimepoint\ttracer\tnuclide\tdicom\nP01\tb\tFDG\tF19\td\n", "row 1, column nuclide",
         "is not one of"),
        ("subject_id\ttimepoint\ttracer\tdicom\nP01\tb\tFDG\td\nP01\tb\tFDG\te\n", "subject_id, timepoint",
         "appears more than once"),
        ("subject_id\ttimepoint\ttracer\tdicom\tacquisition\nP01\tb\tFDG\td\tlist\n", "row 1, column acquisition",
         "is not one of"),
    ],
)
def test_bad_sample_sheet_names_row_and_column(tmp_path: Path, text: str, attribute: str, fragment: str) -> None:
    with pytest.raises(SampleSheetError) as info:
        load_sample_sheet(_sheet(tmp_path, text))
    assert info.value.attribute == attribute
    assert fragment in info.value.message


DYNAMIC_SHEET = ("subject_id\ttimepoint\ttracer\tnuclide\tdicom\tacquisition\tblood\n"
                 "P01\tbaseline\tX\tF18\tdicom/P01/b\t\t\n"
                 "P01\tdynamic\tX\tF18\tdicom/P01/d\tdynamic\t{blood}\n")


def test_acquisition_defaults_to_static_and_filters(tmp_path: Path) -> None:
    sheet = load_sample_sheet(_sheet(tmp_path, DYNAMIC_SHEET.format(blood="b.csv")))
    assert list(sheet["acquisition"]) == ["static", "dynamic"]
    assert list(load_sample_sheet(tmp_path / "samples.tsv", acquisition="static")["timepoint"]) == ["baseline"]
    assert list(load_sample_sheet(tmp_path / "samples.tsv", acquisition="dynamic")["blood"]) == ["b.csv"]


@pytest.mark.parametrize(
    ("kinetics", "blood", "error", "attribute", "fragment"),
    [
        ({"delay": "fit"}, "b.csv", ConfigError, "kinetics.delay_voi", "delay: fit needs the VOI"),
        ({"models": ["srtm"]}, "b.csv", ConfigError, "kinetics.reference", "need a reference region"),
        ({"models": ["2tcm"]}, "", SampleSheetError, "blood", "P01/dynamic has no blood table for 2tcm"),
        ({"models": ["2tcm"]}, "missing.csv", SampleSheetError, "blood", "blood table of P01/dynamic not found"),
    ],
)
def test_dynamic_studies_checked_against_the_kinetics_config(tmp_path: Path, kinetics: dict, blood: str,
                                                             error: type, attribute: str, fragment: str) -> None:
    (tmp_path / "b.csv").write_text("time_s,whole_blood_kbq_ml\n0,0\n")
    sheet = load_sample_sheet(_sheet(tmp_path, DYNAMIC_SHEET.format(blood=blood)))
    config = validate_config({"data_root": str(tmp_path), "kinetics": kinetics})
    with pytest.raises(error) as info:
        check_dynamic_studies(config, sheet)
    assert info.value.attribute == attribute and fragment in info.value.message


def test_dynamic_studies_pass_with_reference_models_only_and_no_blood(tmp_path: Path) -> None:
    sheet = load_sample_sheet(_sheet(tmp_path, DYNAMIC_SHEET.format(blood="")))
    config = validate_config({"data_root": str(tmp_path), "kinetics": {"models": ["srtm"], "reference": "muscle"}})
    check_dynamic_studies(config, sheet)  # raises nothing
    assert validate_config({})["kinetics"]["delay"] == 0
