"""The outputs contract: one table of results paths, typed paths, and sidecars validated when read or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.errors import InvalidInputError
from pipeline.outputs import (
    TEMPLATES,
    KineticsSidecar,
    ResultsLayout,
    StudyPaths,
    SuvSidecar,
    VoiCatalogue,
    sidecar_path,
)


def test_layout_paths_follow_the_template_table(tmp_path: Path) -> None:
    layout = ResultsLayout(tmp_path)
    study = layout.study("P01", "baseline")
    assert study.suv == tmp_path / "P01" / "baseline" / "suv.nii.gz"
    assert study.suv_json == layout.path("suv_json", subject="P01", timepoint="baseline")
    assert layout.subject("P01").deltas == tmp_path / "P01" / "deltas.csv"
    assert layout.cohort.table("uptake") == tmp_path / "cohort" / "uptake.parquet"
    assert layout.cohort.response_bor == tmp_path / TEMPLATES["response_bor"]
    assert layout.reports.patient("P01") == tmp_path / "reports" / "P01.html"
    assert StudyPaths.from_template(str(tmp_path / "{subject}" / "{timepoint}"), "P02", "t1").uptake == \
        tmp_path / "P02" / "t1" / "uptake.csv"
    assert sidecar_path("x/suv.nii.gz") == Path("x/suv.json") and sidecar_path("x/uptake.csv") == Path("x/uptake.json")


def test_suv_sidecar_types_are_checked_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "suv.json").write_text(json.dumps({"suv_kind": "bw", "weight_kg": "heavy"}))
    with pytest.raises(InvalidInputError) as info:
        SuvSidecar.read(tmp_path / "suv.nii.gz")
    assert str(info.value) == (f"{tmp_path / 'suv.json'}: weight_kg: weight_kg must be a number, got 'heavy'; "
                               "rewrite it with `petvoi suv`")
    (tmp_path / "suv.json").write_text(json.dumps({"suv_kind": "sul"}))
    with pytest.raises(InvalidInputError, match="unknown suv_kind 'sul'"):
        SuvSidecar.read(tmp_path / "suv.nii.gz")
    sidecar = SuvSidecar({"suv_kind": "bw", "frames": [{"start_s": 0.0, "duration_s": 10.0}]})
    written = sidecar.write(tmp_path / "out.nii.gz")
    assert written == tmp_path / "out.json" and SuvSidecar.read(written).frames[0]["duration_s"] == 10.0
    with pytest.raises(InvalidInputError, match="uptake_time_s missing from the SUV sidecar"):
        sidecar.require("uptake_time_s")


def test_catalogue_and_kinetics_sidecars(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"vois\[0\]\.kind: unknown kind 'lesion'"):
        VoiCatalogue({"vois": [{"label": 1, "name": "l1", "kind": "lesion", "n_voxels": 3}]})
    with pytest.raises(InvalidInputError, match="vois missing"):
        VoiCatalogue({"n_vois": 0})
    kinetics = KineticsSidecar({"delay_fit": {"delay_s": -4.2}, "input_function": {"kind": "parent_plasma"}})
    assert kinetics.delay_fit == {"delay_s": -4.2} and kinetics.input_function["kind"] == "parent_plasma"
    assert KineticsSidecar.read_optional(tmp_path / "kinetics.csv") is None
