"""Reference-time choices (issue 17, item 2): a single outlier loses to the majority of consistent candidates,
a date without a time of day is never read as midnight, ``--scan-time`` (or the dosing table's ``scan_datetime``)
supplies a reference time the header lacks, and warnings state durations in s/min/h/days."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from pipeline.cli import main
from pipeline.dicom.datetimes import format_duration, has_time_of_day
from pipeline.suv.options import Notes
from pipeline.suv.reftime import FrameTime, check_decay_factors


@pytest.fixture(scope="module")
def flavours(cohort_3: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, np.ndarray]]:
    """The baseline PET of each vendor flavour and its unmutated SUV."""
    out = tmp_path_factory.mktemp("reftime")
    series = {}
    for subject, vendor in (("P01", "siemens"), ("P02", "ge"), ("P03", "philips")):
        folder = cohort_3 / "dicom" / subject / "baseline" / "PT"
        assert main(["suv", str(folder), "-o", str(out / f"{vendor}.nii.gz")]) == 0
        series[vendor] = (folder, np.asarray(nib.load(out / f"{vendor}.nii.gz").dataobj))
    return series


def _mutate(src: Path, dst: Path, change: dict[str, object]) -> Path:
    shutil.copytree(src, dst)
    for f in sorted(dst.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        for keyword, value in change.items():
            item = ds.RadiopharmaceuticalInformationSequence[0] if keyword.startswith("Radiopharmaceutical") else ds
            if value is None:
                if keyword in item:
                    delattr(item, keyword)
            else:
                setattr(item, keyword, value)
        ds.save_as(f)
    return dst


def _shifted(tm: str, hours: float) -> str:
    t = datetime.strptime(tm.split(".")[0], "%H%M%S") + timedelta(hours=hours)
    return t.strftime("%H%M%S")


def _run(folder: Path, out: Path, *extra: str) -> tuple[int, dict, np.ndarray | None]:
    code = main(["suv", str(folder), "-o", str(out / "suv.nii.gz"), *extra])
    if code != 0:
        return code, {}, None
    return code, json.loads((out / "suv.json").read_text()), np.asarray(nib.load(out / "suv.nii.gz").dataobj)


def test_a_series_time_one_hour_early_loses_to_the_agreeing_candidates(flavours: dict, tmp_path: Path) -> None:
    """Siemens: SeriesTime 1 h early (was SUV -31.5 %, no warning); the acquisition start, the back-computation and
    the Siemens private time agree, so they give the reference and the SUV is the unmutated one."""
    folder, truth = flavours["siemens"]
    series_time = str(pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True).SeriesTime)
    bad = _mutate(folder, tmp_path / "PT", {"SeriesTime": _shifted(series_time, -1)})
    code, sidecar, suv = _run(bad, tmp_path)
    assert code == 0 and suv is not None
    np.testing.assert_allclose(suv, truth, rtol=1e-6)
    assert sidecar["rule"] == "BQML/START/majority-earliest-acquisition"
    (warning,) = [w for w in sidecar["warnings"] if "majority" in w]
    assert "series" in warning and "-1.00 h from 4 candidates" in warning
    series = next(c for c in sidecar["reference_candidates"] if c["name"] == "series")
    assert not series["used"] and "single outlier" in series["note"]


def test_a_ge_scan_datetime_one_day_late_loses_to_the_acquisition_start(flavours: dict, tmp_path: Path) -> None:
    """GE, series re-created (R15): the private scan datetime one day late (was SUV x 2.5 million with a warning)
    stands alone against the acquisition start and the DecayFactor."""
    folder, truth = flavours["ge"]
    ds = pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)
    scan = datetime.strptime(str(ds[0x0009, 0x100D].value)[:14], "%Y%m%d%H%M%S") + timedelta(days=1)
    bad = tmp_path / "PT"
    shutil.copytree(folder, bad)
    for f in sorted(bad.glob("*.dcm")):
        d = pydicom.dcmread(f)
        d[0x0009, 0x100D].value = scan.strftime("%Y%m%d%H%M%S")
        d.save_as(f)
    code, sidecar, suv = _run(bad, tmp_path)
    assert code == 0 and suv is not None
    np.testing.assert_allclose(suv, truth, rtol=1e-6)
    assert sidecar["rule"] == "BQML/START/majority-earliest-acquisition"
    assert any("+24.00 h from 2 candidates" in w for w in sidecar["warnings"])


@pytest.mark.parametrize("vendor", ["siemens", "philips"])
def test_one_agreeing_candidate_keeps_the_series_time(flavours: dict, tmp_path: Path, vendor: str) -> None:
    """A single mutated acquisition time on one slice does not outvote the series time (ties and lone outliers
    among the others keep the QIBA choice)."""
    folder, truth = flavours[vendor]
    files = sorted(folder.glob("*.dcm"))
    bad = tmp_path / "PT"
    shutil.copytree(folder, bad)
    target = bad / files[0].name
    d = pydicom.dcmread(target)
    d.AcquisitionTime = _shifted(str(d.AcquisitionTime), 1)
    d.save_as(target)
    code, sidecar, suv = _run(bad, tmp_path)
    assert code == 0 and suv is not None
    np.testing.assert_allclose(suv, truth, rtol=1e-6)
    assert sidecar["rule"].endswith("START/series-time")


@pytest.mark.parametrize("vendor", ["siemens", "ge"])
def test_a_date_only_injection_datetime_dates_the_injection_time(flavours: dict, tmp_path: Path,
                                                                 vendor: str) -> None:
    """RadiopharmaceuticalStartDateTime '20250303' was read as midnight and preferred over the start time (SUV x36
    on Siemens, x927 on GE); now it only dates RadiopharmaceuticalStartTime: the unmutated SUV, with a warning."""
    folder, truth = flavours[vendor]
    ds = pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)
    rp = ds.RadiopharmaceuticalInformationSequence[0]
    day = str(rp.RadiopharmaceuticalStartDateTime)[:8]
    change: dict[str, object] = {"RadiopharmaceuticalStartDateTime": day}
    if "RadiopharmaceuticalStartTime" not in rp:
        change["RadiopharmaceuticalStartTime"] = str(rp.RadiopharmaceuticalStartDateTime)[8:14]
    bad = _mutate(folder, tmp_path / "PT", change)
    code, sidecar, suv = _run(bad, tmp_path)
    assert code == 0 and suv is not None
    np.testing.assert_allclose(suv, truth, rtol=1e-6)
    assert any(f"'{day}' has a date but no time of day" in w and "not midnight" in w for w in sidecar["warnings"])


def test_a_date_only_injection_datetime_without_start_time_is_refused(
        flavours: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = flavours["siemens"]
    ds = pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)
    day = str(ds.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime)[:8]
    bad = _mutate(folder, tmp_path / "PT", {"RadiopharmaceuticalStartDateTime": day,
                                            "RadiopharmaceuticalStartTime": None})
    capsys.readouterr()
    assert _run(bad, tmp_path)[0] == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "RadiopharmaceuticalStartDateTime (0018,1078): has a date but no time of day" in line
    assert "--injection" in line


def test_a_date_only_ge_scan_datetime_is_not_a_time(flavours: dict, tmp_path: Path) -> None:
    """A date-only GE scan datetime was refused with a message blaming the injection time; it is now no candidate,
    and the acquisition start (agreeing with the DecayFactor) gives the unmutated SUV."""
    folder, truth = flavours["ge"]
    bad = tmp_path / "PT"
    shutil.copytree(folder, bad)
    for f in sorted(bad.glob("*.dcm")):
        d = pydicom.dcmread(f)
        d[0x0009, 0x100D].value = str(d[0x0009, 0x100D].value)[:8]
        d.save_as(f)
    code, sidecar, suv = _run(bad, tmp_path)
    assert code == 0 and suv is not None
    np.testing.assert_allclose(suv, truth, rtol=1e-6)
    assert any("has a date but no time of day: not used as a time" in w for w in sidecar["warnings"])


def test_scan_time_supplies_a_missing_reference(flavours: dict, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A header without series, acquisition or frame times could only be fixed by editing the DICOM; --scan-time
    gives the reference (recorded as an override) and restores the unmutated SUV."""
    folder, truth = flavours["siemens"]
    ds = pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)
    when = datetime.strptime(f"{ds.SeriesDate}{str(ds.SeriesTime)[:6]}", "%Y%m%d%H%M%S").isoformat()
    bad = _mutate(folder, tmp_path / "PT", {k: None for k in (
        "SeriesTime", "AcquisitionTime", "AcquisitionDateTime", "ContentTime", "FrameReferenceTime")})
    for f in sorted(bad.glob("*.dcm")):  # the Siemens private decay-correction time too
        d = pydicom.dcmread(f)
        for tag in [t for t in d.keys() if t.group == 0x0071]:
            del d[tag]
        d.save_as(f)
    capsys.readouterr()
    assert _run(bad, tmp_path)[0] == 2
    assert "no decay-correction reference time" in capsys.readouterr().err
    code, sidecar, suv = _run(bad, tmp_path, "--scan-time", when)
    assert code == 0 and suv is not None
    np.testing.assert_allclose(suv, truth, rtol=1e-6)
    assert sidecar["rule"] == "BQML/START/override"
    override = sidecar["overrides"]["reference_datetime"]
    assert override["source"] == "--scan-time" and override["value"].startswith(when)
    assert override["dicom"] is None


def test_scan_time_disagreeing_with_the_header_is_used_and_warned(flavours: dict, tmp_path: Path) -> None:
    folder, truth = flavours["siemens"]
    ds = pydicom.dcmread(next(folder.glob("*.dcm")), stop_before_pixels=True)
    when = (datetime.strptime(f"{ds.SeriesDate}{str(ds.SeriesTime)[:6]}", "%Y%m%d%H%M%S")
            + timedelta(minutes=30)).isoformat()
    code, sidecar, suv = _run(folder, tmp_path, "--scan-time", when)
    assert code == 0 and suv is not None
    ratio = float(np.max(suv) / np.max(truth))
    assert ratio == pytest.approx(2 ** (30 / 109.77), rel=2e-3)  # 18F decays for 30 more minutes
    assert any("disagree" in w and "series" in w and "-30.0 min" in w for w in sidecar["warnings"])
    assert sidecar["overrides"]["reference_datetime"]["dicom"] is not None


def test_dosing_table_scan_datetime_column(flavours: dict, tmp_path: Path) -> None:
    from pipeline.suv.dosing import DOSING_COLUMNS, load_dosing_table
    table = tmp_path / "dosing.csv"
    row = {c: "" for c in DOSING_COLUMNS} | {"subject_id": "P01", "timepoint": "baseline",
                                             "scan_datetime": "2025-03-03T08:38:21"}
    table.write_text(",".join(row) + "\n" + ",".join(row.values()) + "\n")
    assert load_dosing_table(table, "P01", "baseline").scan_datetime == datetime(2025, 3, 3, 8, 38, 21)
    plain = tmp_path / "plain.csv"
    plain.write_text(",".join(DOSING_COLUMNS) + "\nP01,baseline" + "," * (len(DOSING_COLUMNS) - 2) + "\n")
    assert load_dosing_table(plain, "P01", "baseline").scan_datetime is None


@pytest.mark.parametrize(("seconds", "text"), [(0.4, "+0.4 s"), (-720, "-12.0 min"), (3600, "+1.00 h"),
                                               (20 * 86400, "+20.0 days")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(("value", "timed"), [("20250303", False), ("2025030309", False), ("202503030930", True),
                                              ("20250303093015.5+0100", True), ("20250303+0100", False)])
def test_has_time_of_day(value: str, timed: bool) -> None:
    assert has_time_of_day(value) is timed


def test_decay_factor_warning_prints_days_not_a_huge_percentage() -> None:
    """A 20-day gap between DecayFactor's time and the reference printed '483610011...912.00 %'."""
    start = datetime(2025, 3, 3, 9, 0, 0)
    reference = start - timedelta(days=20)
    notes = Notes("series")
    half_life = 6586.2
    factor = 2.0 ** (10.0 / half_life)  # DecayFactor of a 10 s offset from the frame start (frame-start convention)
    check_decay_factors([FrameTime(0, start, 120.0, 0.0, factor)], half_life, reference, "frame-start", notes)
    (warning,) = notes.warnings
    assert "+20.0 days from the chosen" in warning and "more than 100 %" in warning
    assert "%" not in warning.split("more than 100 %")[0]
