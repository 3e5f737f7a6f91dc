"""`petvoi recist` and `petvoi deltas` from the command line: outputs and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.cli import main


def test_recist_on_the_sample_table(repo: Path, tmp_path: Path) -> None:
    out = tmp_path / "response.csv"
    assert main(["recist", str(repo / "sample_data" / "recist.csv"), "-o", str(out)]) == 0
    timepoints = pd.read_csv(out, keep_default_na=False)
    bor = pd.read_csv(tmp_path / "response_bor.csv", keep_default_na=False).set_index("subject_id")
    on_treatment = timepoints[timepoints["timepoint"] == "on_treatment"].set_index("subject_id")
    assert on_treatment["overall_response"].to_dict() == {"P01": "PR", "P02": "PD", "P03": "SD", "P04": "PD",
                                                         "P05": "PD", "P06": "PR"}
    assert bor.loc["P01", "bor"] == "PR" and bor.loc["P02", "ibor"] == "iUPD"
    assert bor.loc["P03", "bor"] == "NE"  # SD at day 13 is before the 42-day minimum


def test_recist_duplicate_lesion_is_one_line(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table = pd.read_csv(repo / "sample_data" / "recist.csv", dtype=str, keep_default_na=False)
    bad = pd.concat([table, table.iloc[[0]]])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    assert main(["recist", str(tmp_path / "bad.csv"), "-o", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    first = table.iloc[0]
    assert len(err) == 1
    assert first["subject_id"] in err[0] and first["lesion_id"] in err[0] and first["timepoint"] in err[0]
    assert not (tmp_path / "r.csv").exists()


def test_deltas_unknown_subject(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["deltas", "--samples", str(repo / "sample_data" / "samples.tsv"), "--subject", "P99",
                 "--template", str(tmp_path / "{subject}" / "{timepoint}"), "-o", str(tmp_path / "d.csv")]) == 2
    assert "subject P99 is not in the sample sheet" in capsys.readouterr().err
