"""The sample workflow on a real SLURM cluster through configs/profiles/slurm, unmodified.

The cluster is tools/ci/slurm.sh's: one node on loopback, no accounting (sacct has nothing to say, so the profile's
status check must cope), started for the session by the ``slurm_cluster`` fixture. The one-subject cohort (P01:
baseline, on-treatment and a dynamic study) runs once locally and once as SLURM jobs; every table is byte-identical.
Bad SLURM settings are refused before any job is submitted, in one line naming the setting.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.workflow

SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def _config(cohort: Path, results: Path, **extra: object) -> dict[str, object]:
    return {"samples": str(cohort / "samples.tsv"), "data_root": str(cohort), "results": str(results),
            "threads": 1, "synth": {"generate": False}, "suv": {"dosing": str(cohort / "dosing.csv")},
            "recist": {"measurements": str(cohort / "recist.csv")}, "mri": {"samples": str(cohort / "mri.tsv")},
            "clinical": {name: str(cohort / f"{name}.csv") for name in ("ihc", "histology", "outcomes")},
            # one de-identification secret for the local and the SLURM run (the pytest session folder): the same
            # pseudonymised UIDs and shifted dates in both
            "deidentify_secret": str(results.parent.parent / "deid_secret"), **extra}


def _run(repo: Path, work: Path, profile: str, *extra: str, env: dict[str, str] | None = None,
         timeout: int = 1200) -> subprocess.CompletedProcess[str]:
    cmd = [str(SNAKEMAKE), "--snakefile", str(repo / "Snakefile"), "--configfile", str(work / "config.yaml"),
           "--directory", str(work), "--workflow-profile", str(repo / "configs" / "profiles" / profile), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _tables(results: Path) -> dict[str, bytes]:
    return {str(p.relative_to(results)): p.read_bytes() for p in sorted(results.rglob("*"))
            if p.suffix in (".csv", ".parquet", ".tsv") and "benchmarks" not in p.parts}


@pytest.fixture(scope="module")
def local_run(repo: Path, cohort_1: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("local")
    (work / "config.yaml").write_text(yaml.safe_dump(_config(cohort_1, work / "results")))
    proc = _run(repo, work, "local", "--cores", "2")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return work / "results"


def test_the_slurm_profile_gives_the_local_tables(repo: Path, cohort_1: Path, local_run: Path, slurm_cluster: None,
                                                  tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(cohort_1, tmp_path / "results")))
    proc = _run(repo, tmp_path, "slurm")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    # three SLURM jobs: the studies (static and dynamic, one batch), the report batch, and stats + cohort report
    # (the profile's group cohort_tail); the index (one part) and the second-long cohort tables are localrules
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    assert len(submitted) == 3
    for job in ("rule_studies_1", "rule_report_1", "group_cohort_tail_cohort_report_stats"):
        assert f"/slurm_logs/{job}/" in out, job
    local, cluster = _tables(local_run), _tables(tmp_path / "results")
    assert len(local) >= 20 and set(cluster) == set(local)
    assert [name for name in local if cluster[name] != local[name]] == []
    # the studies ran as batches: one chain per batch, each stage with its own log
    assert (tmp_path / "results" / "logs" / "texture" / "P01_baseline.log").read_text().count("petvoi chain:") == 1
    # nothing is left in the queue
    queue = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(submitted)], capture_output=True, text=True,
                           check=False).stdout.split()
    states = subprocess.run(["squeue", "-h", "-t", "PENDING,RUNNING", "-o", "%i"], capture_output=True, text=True,
                            check=False).stdout.split()
    assert not set(queue) & set(states)


def test_an_unknown_partition_is_refused_before_any_job(repo: Path, cohort_1: Path, slurm_cluster: None,
                                                        tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(cohort_1, tmp_path / "results",
                                                                 jobs={"partition": "nosuch"})))
    proc = _run(repo, tmp_path, "slurm", timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "jobs.partition: SLURM has no partition 'nosuch' (sinfo lists: " in out
    assert "has been submitted" not in out
    env = {**os.environ, "SBATCH_PARTITION": "gpu-nosuch"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(cohort_1, tmp_path / "results")))
    proc = _run(repo, tmp_path, "slurm", env=env, timeout=300)
    assert proc.returncode != 0
    assert "$SBATCH_PARTITION: SLURM has no partition 'gpu-nosuch'" in proc.stdout + proc.stderr


def test_without_sbatch_the_slurm_profile_says_how_to_run_locally(repo: Path, cohort_1: Path,
                                                                  tmp_path: Path) -> None:
    # a PATH with the shell tools snakemake needs but no SLURM commands
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "sh", "env", "which", "cat", "rm", "mkdir"):
        found = subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True).stdout.strip()
        if found:
            (bin_dir / tool).symlink_to(found)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(cohort_1, tmp_path / "results")))
    proc = _run(repo, tmp_path, "slurm", env={**os.environ, "PATH": str(bin_dir)}, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "the SLURM executor needs sbatch, which is not on the PATH" in out
    assert "--workflow-profile configs/profiles/local" in out and "has been submitted" not in out


@pytest.mark.parametrize(("cohort", "key", "rule", "where"), [
    ("cohort_1", "study", "studies_1", "studies P01/baseline, P01/on_treatment, P01/dynamic"),
    ("cohort_3", "mri_study", "mri_studies_1", "MR studies P03/baseline, P03/on_treatment"),  # the MR chain
])
def test_a_job_killed_for_memory_is_named_with_its_resource(repo: Path, slurm_cluster: None, tmp_path: Path,
                                                            request: pytest.FixtureRequest, cohort: str, key: str,
                                                            rule: str, where: str) -> None:
    # 100 MB for a batch: SLURM kills the job (state FAILED without accounting; its log says why)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(
        request.getfixturevalue(cohort), tmp_path / "results", jobs={"resources": {key: {"mem_mb": 100}}})))
    proc = _run(repo, tmp_path, "slurm", "--until", rule, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    line = next(x for x in out.splitlines() if x.startswith(f"petvoi: SLURM job of rule {rule}"))
    assert f"({where}) ran out of memory: mem_mb=100 MB" in line
    assert f"jobs.resources.{key}.mem_mb" in line and f"--set-resources {rule}:mem_mb=200" in line
