"""The ``slurm`` dask scheduler (pipeline/parallel.py) on a real single-node SLURM.

The cluster is the CI one of ``tools/ci/slurm.sh up`` (installed and started when missing; root and apt-get
needed). It is left up at the end: another part of the session may use it, CI calls ``down`` itself.
Worker jobs have 1 core each (the CI machine has 2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline import parallel
from pipeline.cli import main
from pipeline.errors import InvalidInputError
from pipeline.parallel import DaskOptions, executor, recording

SMALL = {"cores": 1, "memory": "1GB", "walltime": "00:10:00", "max_jobs": 2, "start_timeout_s": 60}

# The worker jobs do not import this test module (not on their sys.path): tasks are builtins (pow, os.system).


@pytest.fixture(scope="module")
def slurm(slurm_cluster: None) -> None:
    """A SLURM cluster answering sbatch (tests/conftest.py), and dask-jobqueue to use it."""
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError:
        pytest.fail('dask-jobqueue is not installed: pip install -e ".[slurm]"')


def _options(tmp_path: Path | None = None, **slurm: Any) -> DaskOptions:
    settings = {**SMALL, **slurm}
    if tmp_path is not None:
        settings["log_directory"] = str(tmp_path / "logs")
    return DaskOptions.from_config({"dask": {"scheduler": "slurm", "slurm": settings}})


def _queue() -> dict[str, tuple[str, str]]:
    """The petvoi-dask jobs squeue lists: job id -> (state, stdout file)."""
    out = subprocess.run(["squeue", "-h", "--name=petvoi-dask", "-O", "JobID:20,State:20,StdOut:1000"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    jobs = {}
    for line in out.splitlines():
        job, state, stdout = line.split(None, 2)
        jobs[job] = (state, stdout.strip())
    return jobs


def _jobs_of(logs: Path) -> dict[str, str]:
    """This test's jobs (their logs go to ``logs``) in squeue: job id -> state."""
    return {job: state for job, (state, stdout) in _queue().items() if stdout.startswith(str(logs))}


def _gone(jobs: set[str], timeout: float = 20.0) -> dict[str, str]:
    """Wait until none of ``jobs`` is in squeue; those still there at the timeout (id -> state)."""
    deadline = time.monotonic() + timeout
    while True:
        left = {job: state for job, (state, _) in _queue().items() if job in jobs}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_map_runs_every_task_on_slurm_workers(slurm: None, tmp_path: Path) -> None:
    n = 6
    items = [(i, 2) for i in range(n)]
    with executor(DaskOptions(scheduler="synchronous")) as ex:
        expected = ex.map(pow, items, label="squares")
    submitted: dict[str, str] = {}
    with recording() as records, executor(_options(tmp_path)) as ex:
        assert ex.map(pow, items, label="squares") == expected == [i * i for i in range(n)]
        # the worker jobs run this interpreter (the venv's), whatever python is first on the PATH
        script = ex._cluster.job_script()
        assert f"{sys.executable} -m distributed.cli.dask_worker" in script
        assert "#SBATCH --cpus-per-task=1" in script and "#SBATCH -t 00:10:00" in script
        assert "#SBATCH -p" not in script and "#SBATCH -A" not in script  # the cluster's defaults
        submitted = _jobs_of(tmp_path / "logs")
    (record,) = records
    assert (record.label, record.scheduler, record.n_tasks) == ("squares", "slurm", n)
    assert sum(record.tasks_per_worker.values()) == n
    assert set(record.worker_jobs) == set(record.tasks_per_worker)
    jobs = set(record.worker_jobs.values())
    assert all(job.isdigit() for job in jobs), record.worker_jobs
    assert 1 <= len(submitted) <= 2 and jobs <= set(submitted)
    # closed: the jobs are cancelled and leave the queue (a moment in COMPLETING)
    assert _gone(set(submitted)) == {}
    assert list((tmp_path / "logs").glob("petvoi-dask-*.err"))  # a given log directory is kept


@pytest.fixture(scope="module")
def study(p01_baseline: Path) -> Path:
    return p01_baseline  # suv.nii.gz, vois.nii.gz (tests/conftest.py)


def test_texture_on_slurm_is_the_same(slurm: None, study: Path, repo: Path, tmp_path: Path) -> None:
    def texture(out: Path, *options: str) -> list[str]:
        return ["texture", "--image", str(study / "suv.nii.gz"), "--vois", str(study / "vois.nii.gz"),
                "--params", str(repo / "configs" / "radiomics_pet.yaml"), "--kinds", "tumour,organ",
                "-o", str(out), *options]

    assert main(texture(tmp_path / "sync.csv", "--scheduler", "synchronous")) == 0
    with recording() as records:
        assert main(texture(tmp_path / "slurm.csv", "--scheduler", "slurm", "--slurm-cores", "1", "--slurm-memory",
                            "1GB", "--slurm-walltime", "00:10:00", "--slurm-max-jobs", "2",
                            "--slurm-start-timeout", "60")) == 0
    assert (tmp_path / "sync.csv").read_bytes() == (tmp_path / "slurm.csv").read_bytes()
    (record,) = records
    assert record.label == "texture" and record.scheduler == "slurm"
    assert 1 <= record.n_tasks <= json.loads((tmp_path / "slurm.json").read_text())["n_vois"]
    assert sum(record.tasks_per_worker.values()) == record.n_tasks
    assert record.worker_jobs and all(record.worker_jobs[w].isdigit() for w in record.tasks_per_worker)
    assert _gone(set(record.worker_jobs.values())) == {}


def test_the_executor_can_be_used_again_after_close(slurm: None, tmp_path: Path) -> None:
    ex = executor(_options(tmp_path, max_jobs=1, start_timeout_s=20))
    try:
        assert ex.map(pow, [(2, 2)], label="first") == [4]
        ex.close()
        # a new cluster, scaled from 0 jobs again (not scaled at all, no worker would come in the timeout)
        assert ex.map(pow, [(3, 2)], label="second") == [9]
    finally:
        ex.close()


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder of this test (where the executor makes its worker log folder)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_unknown_partition_is_refused_at_once(slurm: None, temp_dir: Path) -> None:
    start = time.monotonic()
    with pytest.raises(InvalidInputError) as info, executor(_options(queue="nosuchpartition")) as ex:
        ex.map(pow, [(1, 2), (2, 2)], label="squares")
    assert time.monotonic() - start < 10
    assert info.value.attribute == "dask.slurm.queue"
    assert "partition nosuchpartition" in str(info.value) and "Invalid partition" in str(info.value)
    assert not list(temp_dir.glob("petvoi-dask-*"))  # no job ran: no (empty) log folder is left behind


@pytest.mark.parametrize(("setting", "key"), [
    ({"memory": "100TB"}, "dask.slurm.memory"),
    ({"cores": 512}, "dask.slurm.cores"),
])
def test_a_job_larger_than_any_node_names_the_setting(slurm: None, temp_dir: Path, setting: dict[str, Any],
                                                      key: str) -> None:
    with pytest.raises(InvalidInputError) as info, executor(_options(**setting)) as ex:
        ex.map(pow, [(1, 2)], label="one")
    assert info.value.attribute == key
    assert "node configuration is not available" in str(info.value)
    assert not list(temp_dir.glob("petvoi-dask-*"))


def test_unknown_interface_names_the_setting(slurm: None, temp_dir: Path) -> None:
    with pytest.raises(InvalidInputError) as info, executor(_options(interface="nosuchif0")) as ex:
        ex.map(pow, [(1, 2)], label="one")
    assert info.value.attribute == "dask.slurm.interface"
    assert "'nosuchif0'" in str(info.value)
    assert not list(temp_dir.glob("petvoi-dask-*"))


def test_without_sbatch_the_error_names_the_scheduler(slurm: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel.shutil, "which", lambda name: None)
    with pytest.raises(parallel.PipelineError, match="sbatch is not on the PATH") as info, \
            executor(_options()) as ex:
        ex.map(pow, [(1, 2)], label="one")
    assert info.value.attribute == "dask.scheduler"


def test_jobs_that_all_end_do_not_leave_the_executor_waiting(slurm: None, temp_dir: Path) -> None:
    """A worker job killed with tasks left (here it cancels itself; on a cluster: memory, walltime) is an error."""
    start = time.monotonic()
    with pytest.raises(parallel.PipelineError, match="every dask worker job ended") as info, \
            executor(_options(max_jobs=1, start_timeout_s=4)) as ex:
        ex.map(os.system, [("scancel $SLURM_JOB_ID; sleep 60",), ("true",)], label="doomed")
    assert time.monotonic() - start < 30
    assert info.value.attribute == "dask.scheduler"
    (logs,) = temp_dir.glob("petvoi-dask-*")  # kept after the error, named in it
    assert str(logs) in str(info.value) and list(logs.glob("petvoi-dask-*.err"))
