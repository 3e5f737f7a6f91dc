"""A real archive (issue 18): Orthanc on loopback. petvoi fetch retrieves a study of the sample sheet by DICOMweb
and by DIMSE (C-FIND + C-GET), verified and resumable; the workflow runs from the archive and pushes its SEG and SR
back; bad archives are one-line errors with nothing half-written in the data root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
import yaml

from pipeline.cli import main

pytestmark = pytest.mark.workflow

PASSWORD_ENV = "PETVOI_TEST_ARCHIVE_PASSWORD"


@pytest.fixture(scope="module")
def uploaded(orthanc: object, cohort_1: Path) -> Path:
    """P01's baseline (PT, CT, RTSTRUCT) stored on the test Orthanc."""
    files = sorted((cohort_1 / "dicom" / "P01" / "baseline").rglob("*.dcm"))
    orthanc.upload(files)  # type: ignore[attr-defined]
    return cohort_1 / "dicom" / "P01" / "baseline"


def _sheet(cohort: Path, out: Path, *, study_uid: str | None = None) -> Path:
    lines = (cohort / "samples.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    rows = [line.split("\t") for line in lines[1:]]
    keep = [r for r in rows if r[0] == "P01" and r[1] == "baseline"]
    if study_uid is not None:
        keep[0][header.index("study_uid")] = study_uid
    out.write_text("\n".join(["\t".join(header), *("\t".join(r) for r in keep)]) + "\n")
    return out


def _config(tmp: Path, cohort: Path, archive: dict[str, object], **extra: object) -> Path:
    config = {"samples": str(_sheet(cohort, tmp / "samples.tsv")), "data_root": str(tmp / "data"),
              "results": str(tmp / "results"), "synth": {"generate": False}, "archive": archive, **extra}
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _dicomweb(orthanc: object, **more: object) -> dict[str, object]:
    return {"protocol": "dicomweb", "url": orthanc.dicomweb, "username": orthanc.USER,  # type: ignore[attr-defined]
            "password_env": PASSWORD_ENV, **more}


def _dimse(orthanc: object, **more: object) -> dict[str, object]:
    return {"protocol": "dimse", "host": "127.0.0.1", "port": orthanc.dicom_port,  # type: ignore[attr-defined]
            "called_ae": orthanc.AET, "calling_ae": "PETVOI", **more}  # type: ignore[attr-defined]


def _counts(folder: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in folder.rglob("*.dcm"):
        uid = str(pydicom.dcmread(f, stop_before_pixels=True).SeriesInstanceUID)
        counts[uid] = counts.get(uid, 0) + 1
    return counts


def _holds(fetched: dict[str, int], uploaded: Path) -> bool:
    """Every uploaded series fetched whole (the session's Orthanc may hold more series of the study: outputs
    other tests pushed)."""
    return all(fetched.get(uid) == n for uid, n in _counts(uploaded).items())


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_fetch_retrieves_the_study_verified_and_resumable(orthanc: object, uploaded: Path, cohort_1: Path,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str], protocol: str) -> None:
    monkeypatch.setenv(PASSWORD_ENV, orthanc.PASSWORD)  # type: ignore[attr-defined]
    archive = _dicomweb(orthanc) if protocol == "dicomweb" else _dimse(orthanc)
    config = _config(tmp_path, cohort_1, archive)
    assert main(["fetch", "--config", str(config), "--record", str(tmp_path / "fetched.json")]) == 0
    study = tmp_path / "data" / "dicom" / "P01" / "baseline"
    fetched = _counts(study)
    assert _holds(fetched, uploaded)
    record = json.loads((study / ".petvoi-fetch.json").read_text())
    assert record["n_instances"] == sum(fetched.values()) and record["n_series"] == len(fetched)
    assert [p.name for p in study.parent.iterdir()] == ["baseline"]  # no partial folder left
    assert PASSWORD_ENV not in capsys.readouterr().err and orthanc.PASSWORD not in (  # type: ignore[attr-defined]
        tmp_path / "fetched.json").read_text()
    # a rerun fetches nothing
    capsys.readouterr()
    assert main(["fetch", "--config", str(config)]) == 0
    assert "0 fetched now" in capsys.readouterr().err


def test_an_interrupted_fetch_goes_on_from_the_complete_series(orthanc: object, uploaded: Path, cohort_1: Path,
                                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.archive import clients

    monkeypatch.setenv(PASSWORD_ENV, orthanc.PASSWORD)  # type: ignore[attr-defined]
    config = _config(tmp_path, cohort_1, _dicomweb(orthanc))
    calls: list[str] = []
    original = clients.DicomWebArchive.retrieve_series

    def fail_on_second(self: object, series: clients.SeriesInfo, folder: Path) -> int:
        calls.append(series.series_uid)
        if len(calls) == 2:
            raise clients.ArchiveError("connection lost", source="test")
        return original(self, series, folder)  # type: ignore[arg-type]

    monkeypatch.setattr(clients.DicomWebArchive, "retrieve_series", fail_on_second)
    assert main(["fetch", "--config", str(config)]) == 2
    study = tmp_path / "data" / "dicom" / "P01" / "baseline"
    assert not study.exists()  # nothing half-written where the workflow reads
    monkeypatch.setattr(clients.DicomWebArchive, "retrieve_series", original)
    assert main(["fetch", "--config", str(config)]) == 0
    assert _holds(_counts(study), uploaded)


@pytest.mark.parametrize(("case", "message"), [
    ("password", "HTTP 401 (wrong credentials)"), ("unreachable", "unreachable"), ("missing", "not found"),
    ("dimse_unreachable", "no association"),
])
def test_bad_archives_are_one_line_errors(orthanc: object, uploaded: Path, cohort_1: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                          case: str, message: str) -> None:
    password = "not-the-password-7319" if case == "password" else orthanc.PASSWORD  # type: ignore[attr-defined]
    monkeypatch.setenv(PASSWORD_ENV, password)
    if case == "unreachable":
        archive = _dicomweb(orthanc, url="http://127.0.0.1:9/dicom-web")
    elif case == "dimse_unreachable":
        archive = _dimse(orthanc, port=9)
    else:
        archive = _dicomweb(orthanc)
    config = _config(tmp_path, cohort_1, archive)
    if case == "missing":
        _sheet(cohort_1, tmp_path / "samples.tsv", study_uid="1.2.3.4.5.6.7.8.9")
    capsys.readouterr()
    assert main(["fetch", "--config", str(config)]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert line.startswith("petvoi fetch: error: ") and message in line
    assert "127.0.0.1" in line and password not in line  # the server named, never a credential
    data = tmp_path / "data"
    assert not data.exists() or not any(p for p in data.rglob("*") if p.is_file())


def test_workflow_from_the_archive_pushes_its_seg_and_sr(orthanc: object, uploaded: Path, cohort_1: Path,
                                                         repo: Path, tmp_path: Path) -> None:
    """fetch -> workflow on the fetched study -> push: Orthanc then holds the SEG and SR petvoi wrote, referencing
    the archive's PET (deidentify: false, as for a clinical archive)."""
    archive = _dimse(orthanc, fetch=True, push=True)
    config = _config(tmp_path, cohort_1, archive, deidentify=False, threads=1,
                     suv={"dosing": str(cohort_1 / "dosing.csv")},
                     recist={"measurements": str(cohort_1 / "recist.csv")}, mri={"samples": ""},
                     clinical={name: str(cohort_1 / f"{name}.csv") for name in ("ihc", "histology", "outcomes")})
    snakemake = Path(sys.executable).with_name("snakemake")
    proc = subprocess.run([str(snakemake), "--snakefile", str(repo / "Snakefile"), "--configfile", str(config),
                           "--directory", str(tmp_path), "--cores", "2"], capture_output=True, text=True,
                          timeout=1200, env={**os.environ})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    results = tmp_path / "results"
    pushed = json.loads((results / "archive" / "pushed.json").read_text())
    assert pushed["n_stored"] == 3
    for name, modality in (("seg.dcm", "SEG"), ("sr.dcm", "SR")):
        written = pydicom.dcmread(results / "P01" / "baseline" / "dicom" / name)
        found = orthanc.rest("POST", "/tools/find", json.dumps(  # type: ignore[attr-defined]
            {"Level": "Instance", "Query": {"SOPInstanceUID": str(written.SOPInstanceUID)}}).encode())
        assert isinstance(found, list) and len(found) == 1
        stored = orthanc.rest("GET", f"/instances/{found[0]}/simplified-tags")  # type: ignore[attr-defined]
        assert stored["Modality"] == modality and stored["StudyInstanceUID"] == str(  # type: ignore[index]
            pydicom.dcmread(next((uploaded / "PT").glob("*.dcm")), stop_before_pixels=True).StudyInstanceUID)
        # the file Orthanc holds is the one written (every element equal)
        import urllib.request
        from io import BytesIO

        request = urllib.request.Request(f"{orthanc.url}/instances/{found[0]}/file")  # type: ignore[attr-defined]
        request.add_header("Authorization", "Basic " + __import__("base64").b64encode(
            f"{orthanc.USER}:{orthanc.PASSWORD}".encode()).decode())  # type: ignore[attr-defined]
        with urllib.request.urlopen(request, timeout=60) as answer:
            held = pydicom.dcmread(BytesIO(answer.read()))
        assert held == written
    shutil.rmtree(tmp_path / "data", ignore_errors=True)


@pytest.mark.parametrize("protocol", ["dicomweb", "dimse"])
def test_fetch_by_patient_id_and_study_date(orthanc: object, uploaded: Path, cohort_1: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, protocol: str) -> None:
    """Without a study_uid, the sheet's patient_id and study_date find the one study."""
    monkeypatch.setenv(PASSWORD_ENV, orthanc.PASSWORD)  # type: ignore[attr-defined]
    config = _config(tmp_path, cohort_1, _dicomweb(orthanc) if protocol == "dicomweb" else _dimse(orthanc))
    first = pydicom.dcmread(next((uploaded / "PT").glob("*.dcm")), stop_before_pixels=True)
    lines = (tmp_path / "samples.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    row = dict(zip(header, lines[1].split("\t"), strict=True))
    row.update(study_uid="", patient_id=str(first.PatientID), study_date=str(first.StudyDate))
    (tmp_path / "samples.tsv").write_text("\t".join(row) + "\n" + "\t".join(row.values()) + "\n")
    assert main(["fetch", "--config", str(config)]) == 0
    assert _holds(_counts(tmp_path / "data" / "dicom" / "P01" / "baseline"), uploaded)


def test_push_by_stow_rs_stores_the_files(orthanc: object, uploaded: Path, cohort_1: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from pydicom.uid import generate_uid

    monkeypatch.setenv(PASSWORD_ENV, orthanc.PASSWORD)  # type: ignore[attr-defined]
    config = _config(tmp_path, cohort_1, _dicomweb(orthanc))
    ds = pydicom.dcmread(next((uploaded / "CT").glob("*.dcm")))
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(tmp_path / "one.dcm")
    assert main(["push", "--config", str(config), str(tmp_path / "one.dcm"), "--record",
                 str(tmp_path / "pushed.json")]) == 0
    found = orthanc.rest("POST", "/tools/find", json.dumps(  # type: ignore[attr-defined]
        {"Level": "Instance", "Query": {"SOPInstanceUID": str(ds.SOPInstanceUID)}}).encode())
    assert isinstance(found, list) and len(found) == 1
    assert json.loads((tmp_path / "pushed.json").read_text())["n_stored"] == 1


def test_credentials_come_from_the_environment_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.archive.settings import ArchiveSettings
    from pipeline.errors import ConfigError

    monkeypatch.delenv("PETVOI_TEST_TOKEN", raising=False)
    settings = ArchiveSettings.from_config({"protocol": "dicomweb", "url": "http://x/dicom-web",
                                            "token_env": "PETVOI_TEST_TOKEN"})
    with pytest.raises(ConfigError, match="PETVOI_TEST_TOKEN"):
        settings.token()
    monkeypatch.setenv("PETVOI_TEST_TOKEN", " abc \n")
    assert settings.token() == "abc"
    (tmp_path / "token").write_text("from-file\n")
    assert ArchiveSettings.from_config({"protocol": "dicomweb", "url": "http://x/dicom-web",
                                        "token_file": str(tmp_path / "token")}).token() == "from-file"
    with pytest.raises(ConfigError, match="archive.url"):
        ArchiveSettings.from_config({"protocol": "dicomweb"})
    with pytest.raises(ConfigError, match="archive.protocol"):
        ArchiveSettings.from_config({})
