"""petvoi chain: several commands in one process, one log each, the first failure stops the chain."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_chain_runs_each_step_with_its_own_log(tmp_path: Path) -> None:
    out1, out2 = tmp_path / "a" / "response.csv", tmp_path / "b" / "response.csv"
    status = main(["chain", "--step", str(tmp_path / "logs" / "one.log"), f"recist {SAMPLE / 'recist.csv'} -o {out1}",
                   "--step", str(tmp_path / "logs" / "two.log"), f"recist --confirm {SAMPLE / 'recist.csv'} -o {out2}"])
    assert status == 0
    assert out1.is_file() and out2.is_file()
    # the same command run alone gives the same table
    alone = tmp_path / "alone.csv"
    assert main(["recist", str(SAMPLE / "recist.csv"), "-o", str(alone)]) == 0
    assert out1.read_bytes() == alone.read_bytes()
    assert not pd.read_csv(out2).empty
    for log in ("one.log", "two.log"):
        text = (tmp_path / "logs" / log).read_text()
        assert "petvoi chain: recist took" in text and "CPU-s" in text


def test_chain_stops_at_the_first_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a\nrecist,table\n")
    never = tmp_path / "never.csv"
    status = main(["chain", "--step", str(tmp_path / "1.log"), f"recist {bad} -o {tmp_path / 'x.csv'}",
                   "--step", str(tmp_path / "2.log"), f"recist {SAMPLE / 'recist.csv'} -o {never}"])
    assert status == 2
    assert not never.exists() and not (tmp_path / "2.log").exists()
    err = capsys.readouterr().err
    assert "petvoi chain: step recist failed (petvoi recist: error:" in err and "1.log" in err
    assert "petvoi recist: error:" in (tmp_path / "1.log").read_text()


def test_a_bad_command_line_is_a_failed_step(tmp_path: Path) -> None:
    status = main(["chain", "--step", str(tmp_path / "1.log"), "recist --no-such-option x.csv -o y.csv"])
    assert status == 2
    assert "unrecognized arguments: --no-such-option" in (tmp_path / "1.log").read_text()


def test_keep_going_runs_every_group_and_returns_the_first_failure(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli.chain import run_chain

    steps = [(tmp_path / "1.log", "recist --no-such-option"), None,
             (tmp_path / "2.log", "--strict --version-of-nothing"), None,
             (tmp_path / "3.log", "--policy header.fallback=raise check --help")]
    assert run_chain(steps, keep_going=True) == 2
    assert all((tmp_path / f"{i}.log").is_file() for i in (1, 2, 3))  # every step ran
    assert "took" in (tmp_path / "3.log").read_text()
    err = capsys.readouterr().err
    assert err.count("failed") == 2 and "step recist failed" in err
    assert run_chain(steps[:1] + steps[3:], keep_going=False) == 2


def test_groups_keep_going_skips_the_rest_of_a_failed_group_only(tmp_path: Path) -> None:
    ok = f"recist {SAMPLE / 'recist.csv'} -o {tmp_path / 'x.csv'}"
    status = main(["chain", "--keep-going",
                   "--step", str(tmp_path / "a1.log"), "recist --no-such-option",
                   "--step", str(tmp_path / "a2.log"), ok,  # after a failure in its group: skipped
                   "--group", "--step", str(tmp_path / "b1.log"), ok])
    assert status == 2
    assert (tmp_path / "a1.log").is_file() and not (tmp_path / "a2.log").exists() and (tmp_path / "b1.log").is_file()


def test_append_adds_arguments_to_every_step_of_a_command(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert main(["chain", "--append", "recist --confirm", "--step", str(tmp_path / "1.log"),
                 f"recist {SAMPLE / 'recist.csv'} -o {out}"]) == 0
    plain = tmp_path / "plain.csv"
    assert main(["recist", str(SAMPLE / "recist.csv"), "-o", str(plain)]) == 0
    confirmed = tmp_path / "confirmed.csv"
    assert main(["recist", "--confirm", str(SAMPLE / "recist.csv"), "-o", str(confirmed)]) == 0
    assert out.read_bytes() == confirmed.read_bytes()


def test_a_chain_without_steps_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["chain", "--keep-going"]) == 2
    assert "--step" in capsys.readouterr().err


def test_a_failing_study_gets_a_failure_record_and_a_succeeding_one_loses_it(tmp_path: Path) -> None:
    """Issue 17: with --failures, the study whose step fails gets DIR/SUBJECT_TIMEPOINT.json (stage, one-line
    reason, log); the next study still runs with --keep-going; a study that succeeds loses a stale record."""
    import json

    from pipeline.failures import read_failures, run_failures, write_failure

    bad = tmp_path / "bad.csv"
    bad.write_text("not,a\nrecist,table\n")
    failures = tmp_path / "failed"
    write_failure(failures, "P02", "baseline", rule="suv", reason="old\nsecond line")  # stale: P02 succeeds now
    status = main(["chain", "--keep-going", "--failures", str(failures),
                   "--study", "P01", "baseline",
                   "--step", str(tmp_path / "1.log"), f"recist {bad} -o {tmp_path / 'x.csv'}",
                   "--step", str(tmp_path / "2.log"), f"recist {SAMPLE / 'recist.csv'} -o {tmp_path / 'y.csv'}",
                   "--study", "P02", "baseline", "--step", str(tmp_path / "3.log"),
                   f"recist {SAMPLE / 'recist.csv'} -o {tmp_path / 'z.csv'}"])
    assert status == 2
    assert not (tmp_path / "2.log").exists() and (tmp_path / "z.csv").is_file()
    assert sorted(p.name for p in failures.iterdir()) == ["P01_baseline.json"]
    record = json.loads((failures / "P01_baseline.json").read_text())
    assert record["rule"] == "recist" and record["reason"].startswith("petvoi recist: error:")
    assert record["log"] == str(tmp_path / "1.log")
    # the cohort's sheet without the failed study, and failed_studies.csv
    sheet = tmp_path / "samples.tsv"
    sheet.write_text("subject_id\ttimepoint\ttracer\nP01\tbaseline\tx\nP01\ton_treatment\tx\nP02\tbaseline\tx\n")
    failed = run_failures(sheet, sorted(failures.glob("*.json")), tmp_path / "cohort.tsv", tmp_path / "failed.csv")
    assert failed[["subject_id", "timepoint", "rule"]].values.tolist() == [["P01", "baseline", "recist"]]
    assert (tmp_path / "cohort.tsv").read_text() == (
        "subject_id\ttimepoint\ttracer\nP01\ton_treatment\tx\nP02\tbaseline\tx\n")
    assert run_failures(sheet, [], tmp_path / "all.tsv", tmp_path / "none.csv").empty
    assert (tmp_path / "all.tsv").read_text() == sheet.read_text()
    (failures / "junk.json").write_text("{")
    with pytest.raises(Exception, match="cannot be read as a failure record"):
        read_failures([failures / "junk.json"])


def test_the_layout_names_failure_records_where_the_chain_writes_them() -> None:
    from pipeline.failures import failure_record_path
    from pipeline.outputs.layout import TEMPLATES

    assert TEMPLATES["failure_record"] == failure_record_path(
        TEMPLATES["failures"], "{subject}", "{timepoint}").as_posix()
