"""De-identification (issue 17, item 9): UIDs pseudonymised by HMAC, dates shifted by a per-subject number of days,
consistently across commands; the CLI's logs and errors carry no raw UID."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path

import pydicom
import pytest

from pipeline.cli import main
from pipeline.deid import Deidentifier, ensure_secret_file, load_secret
from pipeline.errors import InvalidInputError

SECRET = b"0123456789abcdef0123456789abcdef"


def test_offsets_are_whole_days_stable_per_subject_and_keyed_by_the_secret() -> None:
    deid = Deidentifier(SECRET, "P01")
    offsets = {Deidentifier(SECRET).offset(f"P{i:03d}") for i in range(200)}
    assert all(o.seconds == 0 and o.microseconds == 0 and 30 <= o.days <= 395 for o in offsets)
    assert len(offsets) > 100  # spread over the year
    assert deid.offset() == deid.offset("P01") == Deidentifier(SECRET, "P01").offset()
    other = Deidentifier(b"another secret, 16+ chars")
    assert sum(other.offset(f"P{i:03d}") != Deidentifier(SECRET).offset(f"P{i:03d}") for i in range(50)) > 40
    with pytest.raises(InvalidInputError, match="--as-subject"):
        Deidentifier(SECRET).offset()


def test_uids_become_stable_2_25_pseudonyms_and_standard_uids_stay() -> None:
    deid = Deidentifier(SECRET)
    raw = "1.2.826.0.1.3680043.8.498.82654542107374747973352982864078244098"
    pseudo = deid.uid(raw)
    assert re.fullmatch(r"2\.25\.[1-9]\d*", pseudo) and len(pseudo) <= 64 and pseudo == deid.uid(raw)
    assert deid.uid("1.2.840.10008.5.1.4.1.1.128") == "1.2.840.10008.5.1.4.1.1.128"
    assert deid.uids_in(f"folder [series {raw}] v 10.500.1612.2002 f 0.000611") == (
        f"folder [series {pseudo}] v 10.500.1612.2002 f 0.000611")
    assert deid.match_uid(pseudo, ["1.2.3.4.5.6", raw]) == raw
    assert deid.match_uid("9.9", ["1.2.3.4.5.6"]) == "9.9"


def test_dates_in_text_json_and_dicom_form_move_by_the_offset() -> None:
    deid = Deidentifier(SECRET, "P01")
    days = deid.offset().days
    when = dt.datetime(2025, 3, 5, 12, 10, 31, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    moved = (when - dt.timedelta(days=days)).isoformat()
    assert deid.dates_in(f"reference time {when.isoformat()} from ge") == f"reference time {moved} from ge"
    assert deid.dates_in("2025-03-05") == (dt.date(2025, 3, 5) - dt.timedelta(days=days)).isoformat()
    assert deid.dates_in("2025-01-01T10:59:59.905592") == (
        dt.datetime(2025, 1, 1, 10, 59, 59, 905592) - dt.timedelta(days=days)).isoformat()
    assert deid.dates_in("uptake 3600 s, version 1.2025") == "uptake 3600 s, version 1.2025"
    assert deid.dicom_datetime("20250313094137") == (dt.datetime(2025, 3, 13, 9, 41, 37)
                                                     - dt.timedelta(days=days)).strftime("%Y%m%d%H%M%S")
    record = deid.scrub({"a": [when], "b": {"uid": "1.2.826.0.1.3680043.8.498.1"}, "n": 1.5})
    assert record["a"] == [when - dt.timedelta(days=days)] and record["b"]["uid"].startswith("2.25.")
    assert record["n"] == 1.5


def test_secret_from_environment_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PETVOI_DEID_SECRET", raising=False)
    secret = ensure_secret_file(tmp_path / "s" / "secret")
    assert (secret.stat().st_mode & 0o777) == 0o600 and len(load_secret(secret)) == 64
    assert ensure_secret_file(secret).read_text() == secret.read_text()  # kept
    monkeypatch.setenv("PETVOI_DEID_SECRET", "x" * 20)
    assert load_secret(secret) == b"x" * 20
    monkeypatch.setenv("PETVOI_DEID_SECRET", "short")
    with pytest.raises(InvalidInputError, match="shorter than 16"):
        load_secret(None)


def test_suv_with_deidentify_writes_no_raw_uid_or_date(cohort_1: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PETVOI_DEID_SECRET", SECRET.decode())
    pt = cohort_1 / "dicom" / "P01" / "baseline" / "PT"
    ds = pydicom.dcmread(next(pt.glob("*.dcm")), stop_before_pixels=True)
    plain, deid = tmp_path / "plain", tmp_path / "deid"
    assert main(["suv", str(pt), "-o", str(plain / "suv.nii.gz")]) == 0
    assert main(["--deidentify", "-", "--as-subject", "P01", "suv", str(pt), "-o", str(deid / "suv.nii.gz")]) == 0
    a = json.loads((plain / "suv.json").read_text())
    b = json.loads((deid / "suv.json").read_text())
    text = (deid / "suv.json").read_text()
    for raw in (ds.SeriesInstanceUID, ds.FrameOfReferenceUID, ds.StudyInstanceUID, str(ds.SeriesDate),
                f"{ds.SeriesDate[:4]}-{ds.SeriesDate[4:6]}-{ds.SeriesDate[6:]}"):
        assert str(raw) not in text
    assert b["suv_factor"] == a["suv_factor"] and b["uptake_time_s"] == a["uptake_time_s"]
    days = Deidentifier(SECRET, "P01").offset()
    assert dt.datetime.fromisoformat(a["reference_datetime"]) - dt.datetime.fromisoformat(
        b["reference_datetime"]) == days
    # VOIs from the RTSTRUCT still match the PET's (pseudonymised) frame of reference
    rt = cohort_1 / "dicom" / "P01" / "baseline" / "RTSTRUCT"
    assert main(["--deidentify", "-", "--as-subject", "P01", "vois", "--pet", str(deid / "suv.nii.gz"),
                 "--rtstruct", str(rt), "-o", str(deid / "vois.nii.gz")]) == 0
    assert ds.FrameOfReferenceUID not in (deid / "vois.json").read_text()
    # without --as-subject, a command whose output has dates is refused; errors carry no raw UID
    capsys.readouterr()
    assert main(["--deidentify", "-", "suv", str(pt), "-o", str(tmp_path / "x" / "suv.nii.gz")]) == 2
    assert "--as-subject" in capsys.readouterr().err
    broken = tmp_path / "broken"
    shutil.copytree(pt, broken)
    for f in broken.glob("*.dcm"):
        d = pydicom.dcmread(f)
        d.DecayFactor = "1e-30"
        d.save_as(f)
    assert main(["--deidentify", "-", "--as-subject", "P01", "suv", str(broken), "-o",
                 str(tmp_path / "y" / "suv.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert "DecayFactor" in err and ds.SeriesInstanceUID not in err and "[series 2.25." in err
