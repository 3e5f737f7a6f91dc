"""Atomic output sets (issue 17, item 6): a stage that fails while writing leaves none of its outputs - no image
without its sidecar, no table without its JSON, no HTML without its PDF - and an old set is not left half
replaced."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pipeline.io import output_set, write_csv


class _Boom(OSError):
    pass


def _boom(*args: Any, **kwargs: Any) -> None:
    raise _Boom("disk full")


def test_output_set_removes_every_file_on_any_exception(tmp_path: Path) -> None:
    import pandas as pd

    a, b = tmp_path / "a.csv", tmp_path / "b.json"
    b.write_text("old")
    with pytest.raises(_Boom), output_set(a, b):
        write_csv(a, pd.DataFrame({"x": [1]}))
        raise _Boom
    assert not a.exists() and not b.exists()
    with output_set(a, b):
        write_csv(a, pd.DataFrame({"x": [1]}))
        b.write_text("new")
    assert a.exists() and b.read_text() == "new"


def test_uptake_table_without_its_json_is_not_left(p01_baseline: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.metrics import stage

    out = tmp_path / "uptake.csv"
    monkeypatch.setattr(stage, "write_provenance", _boom)
    with pytest.raises(_Boom):
        stage.run_uptake(p01_baseline / "suv.nii.gz", p01_baseline / "vois.nii.gz", out)
    assert not out.exists() and not (tmp_path / "uptake.json").exists()


def test_suv_image_without_its_sidecar_is_not_left(cohort_1: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.outputs import SuvSidecar
    from pipeline.suv.options import SuvOptions
    from pipeline.suv.stage import run_suv

    out = tmp_path / "suv.nii.gz"
    run_suv(cohort_1 / "dicom" / "P01" / "baseline" / "PT", out, SuvOptions())
    assert out.exists() and (tmp_path / "suv.json").exists()
    monkeypatch.setattr(SuvSidecar, "write", _boom)
    with pytest.raises(_Boom):
        run_suv(cohort_1 / "dicom" / "P01" / "baseline" / "PT", out, SuvOptions())
    assert not out.exists() and not (tmp_path / "suv.json").exists()  # not the old sidecar beside a new image


def test_voi_masks_without_their_catalogue_are_not_left(p01_baseline: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.outputs import VoiCatalogue
    from pipeline.voi.catalogue import read_voiset, write_voiset

    voiset = read_voiset(p01_baseline / "vois.nii.gz")
    monkeypatch.setattr(VoiCatalogue, "write", _boom)
    with pytest.raises(_Boom):
        write_voiset(tmp_path / "vois.nii.gz", voiset)
    assert list(tmp_path.iterdir()) == []


def test_report_html_without_its_pdf_is_not_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import weasyprint

    from pipeline.report.render import write_report

    monkeypatch.setattr(weasyprint.Document, "write_pdf", _boom)
    with pytest.raises(_Boom):
        write_report("<html><body><p>x</p></body></html>", tmp_path / "r.html", tmp_path / "r.pdf")
    assert list(tmp_path.iterdir()) == []


def test_index_without_its_skipped_table_is_not_left(cohort_1: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.dicom import index

    calls = []

    def second_fails(path: Any, table: Any, **kwargs: Any) -> Path:
        calls.append(path)
        if len(calls) == 2:
            raise _Boom
        return write_csv(path, table, **kwargs)

    monkeypatch.setattr("pipeline.io.write_csv", second_fails)
    folder = tmp_path / "pt"
    shutil.copytree(cohort_1 / "dicom" / "P01" / "baseline" / "PT", folder)
    with pytest.raises(_Boom):
        index.run_index(folder, tmp_path / "index" / "series.csv", workers=1)
    assert list((tmp_path / "index").iterdir()) == []
