"""CLI contract: version, help, one-line errors with exit status 2, tracebacks only with --debug."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import __version__
from pipeline.cli import main


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"petvoi {__version__}"


def test_help_lists_stages() -> None:
    proc = run("--help")
    assert proc.returncode == 0
    for stage in ("synth", "index", "check"):
        assert stage in proc.stdout


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    proc = run("index", str(tmp_path / "missing"), "-o", str(tmp_path / "s.csv"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [f"petvoi index: error: {tmp_path / 'missing'}: not a folder; give the root folder of a DICOM tree"
                     " (sample sheet: column dicom, relative to data_root)"]
    assert not (tmp_path / "s.csv").exists()


def test_debug_shows_traceback(tmp_path: Path) -> None:
    proc = run("--debug", "index", str(tmp_path / "missing"), "-o", str(tmp_path / "s.csv"))
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "InvalidInputError" in proc.stderr


def test_bad_config_key_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("synth:\n  seeed: 1\n")
    proc = run("check", str(cfg))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"petvoi check: error: {cfg}: synth.seeed: unknown key; remove it or check its "
                                   "spelling against configs/config.schema.yaml")


def test_main_returns_exit_code_without_exiting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_unknown_option_is_usage_error() -> None:
    proc = run("index", "--bogus")
    assert proc.returncode == 2
    # one line, like every other refusal (argparse would print the usage first)
    assert proc.stderr.splitlines() == [
        "petvoi index: error: the following arguments are required: DICOM_ROOT, -o/--output "
        "(see petvoi index --help)"] or proc.stderr.splitlines() == [
        "petvoi index: error: unrecognized arguments: --bogus (see petvoi index --help)"]


@pytest.mark.parametrize("output", ["out", "suv.nii.gz.tmp", ".nii.gz"])
def test_nifti_output_must_be_named_nii_gz(tmp_path: Path, output: str) -> None:
    """`petvoi suv -o out` was a traceback from nibabel after the whole SUV had been computed."""
    proc = run("suv", str(tmp_path), "-o", str(tmp_path / output))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"petvoi suv: error: argument -o/--output: {str(tmp_path / output)!r}: a NIfTI output is named *.nii.gz "
        "(or *.nii) (see petvoi suv --help)"]


def test_synth_cli_and_bad_subject_count(tmp_path: Path) -> None:
    assert main(["synth", str(tmp_path / "c"), "--subjects", "1", "--seed", "3", "--no-multiday"]) == 0
    assert len(list((tmp_path / "c" / "dicom" / "P01" / "baseline" / "PT").glob("*.dcm"))) == 80
    assert not (tmp_path / "c" / "dicom" / "P02").exists()  # the multi-day PK subject only when asked for
    proc = run("synth", str(tmp_path / "d"), "--subjects", "0")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "petvoi synth: error: --subjects: n_subjects must be an integer in 1..999, got 0"


HEAVY_MODULES = ("scipy", "pandas", "nibabel", "SimpleITK", "radiomics", "matplotlib", "weasyprint", "statsmodels",
                 "lifelines", "numpy", "pydicom", "dask", "sklearn", "highdicom", "jsonschema")


def test_cli_start_up_imports_no_heavy_module() -> None:
    """`petvoi --version` and `petvoi COMMAND --help` build the whole parser; none of them may import a heavy module."""
    code = ("import sys\nfrom pipeline.cli import build_parser\nbuild_parser()\n"
            f"print(' '.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []


def test_every_command_has_help() -> None:
    proc = run("--help")
    commands = ("synth", "index", "suv", "ct", "vois", "uptake", "texture", "heterogeneity", "spread", "deltas",
                "recist", "stats", "report", "tacs", "kinetics", "parametric", "pk", "collect", "check")
    for command in commands:
        assert command in proc.stdout
        assert run(command, "--help").returncode == 0, command


def test_check_validates_policy_and_endpoint_settings_and_prints_the_schema(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("analyses:\n  diagnostic: {threshhold: 3}\n")
    proc = run("check", str(cfg))
    assert proc.returncode == 2
    assert f"{cfg}: analyses.diagnostic.threshhold: unknown key" in proc.stderr
    cfg.write_text("policy:\n  voi: {resample: ignore}\n")
    proc = run("check", str(cfg))
    assert proc.returncode == 2 and "policy.voi.resample" in proc.stderr and "'warn', 'raise'" in proc.stderr
    import json

    schema = json.loads(run("check", "--schema").stdout)
    assert schema["properties"]["analyses"]["properties"]["diagnostic"]["properties"]["threshold"]["default"] == 3.0
    assert schema["properties"]["policy"]["properties"]["voi"]["properties"]["resample"]["default"] == "raise"


def test_check_of_a_synthetic_cohort_checks_the_sheet_the_workflow_will_write(tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture[str]
                                                                              ) -> None:
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "config.yaml").read_text())
    config["synth"]["subjects"] = 120
    config["data_root"] = str(tmp_path / "data")  # nothing there yet: the sheet is not on disk
    config["samples"] = str(tmp_path / "data" / "samples.tsv")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    assert main(["check", str(tmp_path / "c.yaml")]) == 0
    out = capsys.readouterr().out
    assert "synthetic cohort (synth.subjects 120, seed 0)" in out and "121 subjects" in out
    assert not (tmp_path / "data").exists()  # checking writes nothing


def test_check_names_a_missing_study_folder_and_survives_a_long_blood_path(cohort_1: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """`petvoi check` never looked at the dicom folders, and a 300-character blood path was a traceback."""
    import pandas as pd
    import yaml

    sheet = pd.read_csv(cohort_1 / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    cfg = tmp_path / "c.yaml"

    def check(table: pd.DataFrame, data_root: Path) -> tuple[int, list[str]]:
        table.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
        base = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "config.yaml").read_text())
        cfg.write_text(yaml.safe_dump({**base, "samples": str(tmp_path / "samples.tsv"), "data_root": str(data_root),
                                       "synth": {"generate": False}}))
        capsys.readouterr()
        status = main(["check", str(cfg)])
        return status, [line for line in capsys.readouterr().err.splitlines() if line.strip()]

    assert check(sheet, cohort_1)[0] == 0
    status, lines = check(sheet, tmp_path)
    assert status == 2 and len(lines) == 1
    assert "row 1, column dicom: DICOM folder of P01/baseline not found" in lines[0] and "data_root" in lines[0]
    long_blood = sheet.copy()
    long_blood.loc[long_blood["acquisition"] == "dynamic", "blood"] = "x" * 300
    status, lines = check(long_blood, cohort_1)
    assert status == 2 and len(lines) == 1 and "blood table of P01/dynamic not found" in lines[0]


def test_check_refuses_line_breaks_in_config_values_and_subject_ids(cohort_1: Path, tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A line break in a path or id would split a shell command line (issue 17); Python's `$` matched before a
    trailing newline, so "P01\\n" passed the sample-sheet pattern."""
    import pandas as pd
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"results": "res\nults", "clinical": {"ihc": "a\x00b"}}))
    capsys.readouterr()
    assert main(["check", str(cfg)]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "clinical.ihc" in line or "results" in line
    assert "holds a line break or NUL" in line
    sheet = pd.read_csv(cohort_1 / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    sheet.loc[0, "subject_id"] = "P01\n"
    sheet.to_csv(tmp_path / "samples.tsv", sep="\t", index=False)
    base = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "config.yaml").read_text())
    cfg.write_text(yaml.safe_dump({**base, "samples": str(tmp_path / "samples.tsv"), "data_root": str(cohort_1),
                                   "synth": {"generate": False}}))
    assert main(["check", str(cfg)]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "row 1, column subject_id" in line and "does not match" in line
