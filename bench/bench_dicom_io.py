"""DICOM in and out (issue 18): export of one study (SEG + SR + Parametric Map) and fetch of a 400-slice series from
a loopback Orthanc, against a plain copy of the same files.

Run:  .venv/bin/python bench/bench_dicom_io.py [--repeats 5]

Prints, for the export, the median seconds of `run_export` (in process, libraries imported) with and without the
Parametric Map and the MB written per second (target: < 2 s per study); for the fetch, the median seconds of
`run_fetch` by DICOMweb (WADO-RS) and by DIMSE (C-GET) of one 400-slice PET series and their ratio to `cp -r` of the
same 400 files (the archive and the protocol are the limit). Orthanc is started by tools/orthanc_local.py (root
installs it with tools/ci/orthanc.sh).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _median_seconds(fn: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _study(work: Path) -> tuple[Path, Path]:
    from pipeline.cli import main
    from pipeline.synthetic import generate_cohort

    cohort = work / "cohort"
    generate_cohort(cohort, n_subjects=1, seed=7)
    dicom = cohort / "dicom" / "P01" / "baseline"
    study = work / "study"
    assert main(["-q", "suv", str(dicom / "PT"), "-o", str(study / "suv.nii.gz")]) == 0
    assert main(["-q", "vois", "--pet", str(study / "suv.nii.gz"), "--rtstruct", str(dicom / "RTSTRUCT"),
                 "-o", str(study / "vois.nii.gz")]) == 0
    assert main(["-q", "uptake", "--suv", str(study / "suv.nii.gz"), "--vois", str(study / "vois.nii.gz"),
                 "-o", str(study / "uptake.csv")]) == 0
    return dicom / "PT", study


def bench_export(pet: Path, study: Path, repeats: int) -> None:
    from pipeline.dicomout.stage import run_export
    from pipeline.outputs import StudyPaths

    paths = StudyPaths(study)
    for pm in (True, False):
        seconds = _median_seconds(lambda pm=pm: run_export(pet, paths, subject="P01", timepoint="baseline",
                                                          parametric_map=pm), repeats)
        files = [paths.dicom_seg, paths.dicom_sr] + ([paths.dicom_pm] if pm else [])
        mb = sum(f.stat().st_size for f in files) / 1e6
        label = "SEG + SR + PM" if pm else "SEG + SR"
        print(f"export {label:<14} {seconds:6.2f} s  {mb:6.2f} MB  {mb / seconds:6.1f} MB/s  "
              f"(target < 2 s per study: {'met' if seconds < 2 else 'MISSED'})")


def _series_of_400(pet: Path, out: Path) -> Path:
    """400 slices: the study's PET slices, repeated along z with new UIDs (one series)."""
    import pydicom
    from pydicom.uid import generate_uid

    slices = [pydicom.dcmread(f) for f in sorted(pet.glob("*.dcm"))]
    series_uid = generate_uid()
    step = float(slices[0].get("SliceThickness") or 4.0)
    out.mkdir(parents=True)
    for k in range(400):
        ds = slices[k % len(slices)]
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series_uid, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImagePositionPatient = [ds.ImagePositionPatient[0], ds.ImagePositionPatient[1], k * step]
        ds.InstanceNumber = k + 1
        ds.save_as(out / f"PT_{k:04d}.dcm")
    return out


def bench_fetch(pet: Path, work: Path, repeats: int) -> None:
    from pipeline.archive.settings import ArchiveSettings
    from pipeline.archive.stage import run_fetch

    spec = importlib.util.spec_from_file_location("orthanc_local", REPO / "tools" / "orthanc_local.py")
    assert spec is not None and spec.loader is not None
    orthanc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(orthanc)
    if shutil.which("Orthanc") is None:
        print("fetch: Orthanc is not installed (run tools/ci/orthanc.sh install as root); skipped")
        return
    import pydicom

    series = _series_of_400(pet, work / "series400")
    mb = sum(f.stat().st_size for f in series.iterdir()) / 1e6
    server = orthanc.start(work / "orthanc")
    try:
        server.upload(sorted(series.iterdir()))
        first = pydicom.dcmread(next(series.iterdir()), stop_before_pixels=True)
        sheet = work / "samples.tsv"
        sheet.write_text(f"subject_id\ttimepoint\tdicom\tstudy_uid\nP01\tbaseline\tdicom/P01/baseline\t"
                         f"{first.StudyInstanceUID}\n")

        def copy() -> None:
            target = work / "copy"
            shutil.rmtree(target, ignore_errors=True)
            subprocess.run(["cp", "-r", str(series), str(target)], check=True)

        cp_seconds = _median_seconds(copy, repeats)
        print(f"cp -r of the series     {cp_seconds:6.2f} s  {mb:6.1f} MB  {mb / cp_seconds:7.1f} MB/s")
        os.environ["PETVOI_BENCH_ARCHIVE_PASSWORD"] = server.PASSWORD
        for protocol in ("dicomweb", "dimse"):
            settings = ArchiveSettings.from_config(
                {"protocol": "dicomweb", "url": server.dicomweb, "username": server.USER,
                 "password_env": "PETVOI_BENCH_ARCHIVE_PASSWORD"} if protocol == "dicomweb" else
                {"protocol": "dimse", "host": "127.0.0.1", "port": server.dicom_port, "called_ae": server.AET,
                 "calling_ae": "PETVOI"})

            def fetch(settings: ArchiveSettings = settings) -> None:
                root = work / "data"
                shutil.rmtree(root, ignore_errors=True)
                studies = run_fetch(sheet, root, settings)
                assert studies[0].n_instances == 400

            seconds = _median_seconds(fetch, repeats)
            print(f"fetch {protocol:<9} 400 slices {seconds:6.2f} s  {mb / seconds:7.1f} MB/s  "
                  f"ratio to cp {seconds / cp_seconds:6.1f}x")
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dicom_io_") as tmp:
        work = Path(tmp)
        pet, study = _study(work)
        bench_export(pet, study, args.repeats)
        bench_fetch(pet, work, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
