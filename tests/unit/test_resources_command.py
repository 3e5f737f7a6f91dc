"""petvoi resources: memory and time per rule from a run's benchmark files, as a jobs.resources block."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.cli import main
from pipeline.config import validate_config

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path: Path, seconds: float, rss: float | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t50\t1.0\n")


def test_maxima_per_rule_and_a_valid_config_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = tmp_path / "benchmarks"
    _bench(bench / "study" / "batch_1.tsv", 5.6, 406.0)
    _bench(bench / "study" / "batch_2.tsv", 70.0, 1200.0)  # the largest of the rule's jobs counts
    _bench(bench / "report" / "batch_1.tsv", 8.5, 399.0)
    _bench(bench / "index.tsv", 2.8, "-")  # not measured: left out
    _bench(bench / "stats.tsv", 3.6, 262.0)
    assert main(["resources", str(bench)]) == 0
    block = yaml.safe_load(capsys.readouterr().out)
    res = block["jobs"]["resources"]
    # 3 x 1200 MB = 3600 -> 4000 (500 MB steps); 10 x 70 s = 11.7 min -> 15 (5 min steps, at least 10)
    assert res["study"] == {"mem_mb": 4000, "runtime": 15}
    assert res["report"] == {"mem_mb": 1500, "runtime": 10} and res["stats"] == {"mem_mb": 1000, "runtime": 10}
    assert "index" not in res
    validate_config(block, source="test")  # the block is a valid configuration


def test_a_folder_without_benchmarks_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resources", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no Snakemake benchmark file found" in err and str(tmp_path) in err
