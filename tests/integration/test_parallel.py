"""Where dask tasks run (pipeline/parallel.py) and how long work reports progress (pipeline/progress.py).

Local schedulers, a ``tcp://`` scheduler of a :class:`distributed.LocalCluster` started here (threads and
processes), an unreachable one, and ``petvoi texture`` giving the same bytes whatever the scheduler. The
SLURM scheduler is tested in ``test_dask_slurm.py``.
"""

from __future__ import annotations

import functools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import pytest

from pipeline import parallel
from pipeline import progress as progress_module
from pipeline.cli import main
from pipeline.errors import InvalidInputError, PipelineError
from pipeline.parallel import DaskOptions, dask_arguments, executor, local_workers, recording
from pipeline.progress import Progress, choose_mode, track

LOCAL = ("synchronous", "threads", "processes")


def _slow_square(i: int, delay: float) -> int:
    time.sleep(delay)
    return i * i


def _fail(i: int) -> int:
    raise ValueError(f"task {i} failed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(**dask: Any) -> dict[str, Any]:
    return {"dask": dask}


# -- options -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("section", "key"), [
    ({"scheduler": "cluster"}, "dask.scheduler"),
    ({"scheduler": "tcp://localhost"}, "dask.scheduler"),
    ({"scheduler": "tcp://localhost:99999"}, "dask.scheduler"),
    ({"scheduler": "http://localhost:8786"}, "dask.scheduler"),
    ({"slurm": {"memory": "lots"}}, "dask.slurm.memory"),
    ({"slurm": {"memory": "4"}}, "dask.slurm.memory"),
    ({"slurm": {"walltime": "ten minutes"}}, "dask.slurm.walltime"),
    ({"slurm": {"walltime": "1:2:3:4"}}, "dask.slurm.walltime"),
    ({"slurm": {"cores": 2, "processes": 4}}, "dask.slurm.processes"),
    ({"slurm": {"processes": 0}}, "dask.slurm.processes"),
    ({"slurm": {"cores": 0}}, "dask.slurm.cores"),
    ({"slurm": {"cores": True}}, "dask.slurm.cores"),
    ({"slurm": {"max_jobs": 0}}, "dask.slurm.max_jobs"),
    ({"slurm": {"queue": "debug; rm -rf /"}}, "dask.slurm.queue"),
    ({"slurm": {"account": "a b"}}, "dask.slurm.account"),
    ({"slurm": {"start_timeout_s": 0}}, "dask.slurm.start_timeout_s"),
    ({"slurm": {"start_timeout_s": float("inf")}}, "dask.slurm.start_timeout_s"),
])
def test_invalid_option_names_its_config_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        DaskOptions.from_config(_config(**section))
    assert info.value.attribute == key
    assert str(info.value).startswith(f"{key}: ")


def test_invalid_option_on_the_command_line_names_the_flag() -> None:
    with pytest.raises(InvalidInputError, match="^--scheduler: unknown dask scheduler 'cluster'"):
        DaskOptions(scheduler="cluster")
    with pytest.raises(InvalidInputError, match="^--slurm-processes: .*1..cores \\(1\\), got 2"):
        DaskOptions(slurm_processes=2)


@pytest.mark.parametrize("scheduler", ["auto", "processes", "threads", "synchronous", "slurm", "tcp://10.0.0.1:8786",
                                       "tls://scheduler.example.org:8786"])
def test_valid_schedulers(scheduler: str) -> None:
    options = DaskOptions.from_config(_config(scheduler=scheduler))
    assert options.scheduler == scheduler
    assert options.distributed == (scheduler not in parallel.LOCAL_SCHEDULERS)


def test_dask_arguments_and_local_workers() -> None:
    assert dask_arguments(_config(scheduler="threads")) == "--scheduler threads"
    assert dask_arguments({}) == "--scheduler auto"
    slurm = _config(scheduler="slurm", slurm={"cores": 2, "memory": "2GB", "queue": "short"})
    args = dask_arguments(slurm)
    assert args.startswith("--scheduler slurm ")
    assert "--slurm-cores 2" in args and "--slurm-memory 2GB" in args and "--slurm-queue short" in args
    assert "--slurm-account" not in args  # None: the cluster's default, not given
    assert dask_arguments(_config(scheduler="tcp://h:1", slurm={"cores": 2})) == "--scheduler tcp://h:1"
    assert local_workers({}, 4) == 4
    assert local_workers(_config(scheduler="tcp://h:1"), 4) == 1
    assert local_workers(slurm, 4) == 1


def test_auto_and_one_worker_choose_the_local_scheduler() -> None:
    assert executor(workers=2, local="processes").scheduler == "processes"
    assert executor(workers=2, local="threads").scheduler == "threads"
    assert executor(DaskOptions(scheduler="threads"), workers=1).scheduler == "synchronous"
    assert executor(DaskOptions(scheduler="processes"), workers=0).scheduler == "synchronous"
    with pytest.raises(ValueError, match="local"):
        executor(local="slurm")


# -- local schedulers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scheduler", LOCAL)
def test_map_returns_results_in_item_order(scheduler: str) -> None:
    # the first items take longest: they finish last on 2 workers, their results must still come first
    items = [(i, 0.02 * (6 - i)) for i in range(6)]
    with recording() as records, executor(DaskOptions(scheduler=scheduler), workers=2) as ex:
        assert ex.map(_slow_square, items, label="squares", unit="numbers") == [i * i for i in range(6)]
        assert ex.map(_slow_square, [], label="none") == []
    assert [(r.label, r.scheduler, r.n_tasks, r.tasks_per_worker) for r in records] == [
        ("squares", scheduler, 6, {})]


@pytest.mark.parametrize("scheduler", LOCAL)
def test_compute_array_equals_numpy(scheduler: str) -> None:
    values = np.arange(5 * 6 * 7, dtype=np.float64).reshape(5, 6, 7)
    lazy = da.from_array(values, chunks=(2, 3, 7)).map_blocks(lambda b: np.sqrt(b) * 2.0 + 1.0)
    with recording() as records, executor(DaskOptions(scheduler=scheduler), workers=2, local="threads") as ex:
        result = ex.compute_array(lazy, label="sqrt")
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, np.sqrt(values) * 2.0 + 1.0)
    assert [(r.label, r.scheduler, r.n_tasks) for r in records] == [("sqrt", scheduler, 6)]


@pytest.mark.parametrize("scheduler", LOCAL)
def test_a_task_error_reaches_the_caller(scheduler: str) -> None:
    with executor(DaskOptions(scheduler=scheduler), workers=2) as ex, pytest.raises(ValueError, match="failed"):
        ex.map(_fail, [(1,), (2,)], label="fail")


class _Spy:
    """Replaces pipeline.parallel.progress: keeps the Progress objects the executor makes."""

    def __init__(self) -> None:
        self.bars: list[Progress] = []

    def __call__(self, label: str, total: int | None = None, **kwargs: Any) -> Progress:
        bar = progress_module.progress(label, total, **kwargs)
        self.bars.append(bar)
        return bar


@pytest.mark.parametrize("scheduler", LOCAL)
def test_the_executor_advances_progress_once_per_task(scheduler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _Spy()
    monkeypatch.setattr(parallel, "progress", spy)
    lazy = da.ones((8, 8), chunks=(2, 8)).map_blocks(lambda b: b + 1.0)
    with executor(DaskOptions(scheduler=scheduler), workers=2) as ex:
        ex.map(_slow_square, [(i, 0.0) for i in range(5)], label="squares", unit="numbers")
        ex.compute_array(lazy, label="ones")
    assert [(b.label, b.unit, b.total, b.done) for b in spy.bars] == [("squares", "numbers", 5, 5),
                                                                       ("ones", "blocks", 4, 4)]


# -- a tcp:// scheduler --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", params=[False, True], ids=["threads", "processes"])
def cluster(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A two-worker dask cluster on this machine (worker threads of this process, or worker processes).

    Worker processes are spawned with this process's sys.path: they import this module's task functions.
    """
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=request.param, protocol="tcp",
                      dashboard_address=None, worker_dashboard_address=None) as local:
        yield local


def _workers(cluster: Any) -> set[str]:
    return set(cluster.scheduler_info["workers"])


def test_tcp_map_runs_on_the_cluster_workers(cluster: Any) -> None:
    options = DaskOptions.from_config(_config(scheduler=cluster.scheduler_address))
    n = 8
    with recording() as records, executor(options, workers=4) as ex:
        assert ex.map(_slow_square, [(i, 0.05) for i in range(n)], label="squares") == [i * i for i in range(n)]
    (record,) = records
    assert (record.label, record.scheduler, record.n_tasks) == ("squares", cluster.scheduler_address, n)
    assert sum(record.tasks_per_worker.values()) == n
    assert set(record.tasks_per_worker) <= _workers(cluster)
    assert len(record.tasks_per_worker) == 2  # 8 tasks of 50 ms: both workers take some
    assert set(record.worker_jobs) == set(record.tasks_per_worker)


def test_tcp_compute_array_equals_numpy(cluster: Any) -> None:
    options = DaskOptions(scheduler=cluster.scheduler_address)
    values = np.linspace(0.0, 1.0, 4 * 8 * 8).reshape(4, 8, 8)
    lazy = da.from_array(values, chunks=(4, 2, 8)).map_blocks(np.exp)
    with recording() as records, executor(options) as ex:
        np.testing.assert_array_equal(ex.compute_array(lazy, label="exp"), np.exp(values))
        # a second call on the open executor uses the same client
        np.testing.assert_array_equal(ex.compute_array(lazy * 2.0, label="exp2"), 2.0 * np.exp(values))
    assert [(r.label, r.n_tasks) for r in records] == [("exp", 4), ("exp2", 4)]
    for record in records:
        assert sum(record.tasks_per_worker.values()) == record.n_tasks  # the blocks, not the helper tasks
        assert set(record.tasks_per_worker) <= _workers(cluster)


def test_tcp_a_task_error_reaches_the_caller(cluster: Any) -> None:
    with executor(DaskOptions(scheduler=cluster.scheduler_address)) as ex, pytest.raises(ValueError, match="failed"):
        ex.map(_fail, [(1,), (2,)], label="fail")


def test_tcp_counts_only_its_own_tasks_on_a_shared_scheduler(cluster: Any) -> None:
    """Another client's tasks that finish meanwhile (a concurrent command on the same scheduler) are not counted."""
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as other:
        theirs = [other.submit(_slow_square, i, 0.3, pure=False) for i in range(4)]
        with recording() as records, executor(DaskOptions(scheduler=cluster.scheduler_address)) as ex:
            ex.map(_slow_square, [(i, 0.05) for i in range(4)], label="mine")
        assert other.gather(theirs) == [0, 1, 4, 9]
    assert sum(records[0].tasks_per_worker.values()) == 4


def test_unreachable_scheduler_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    options = DaskOptions.from_config(_config(scheduler=address))
    start = time.monotonic()
    with executor(options) as ex, pytest.raises(PipelineError) as info:
        ex.map(_slow_square, [(1, 0.0), (2, 0.0)], label="squares")
    assert time.monotonic() - start < 10
    assert info.value.attribute == "dask.scheduler"
    assert address in str(info.value) and "not reachable" in str(info.value)


# -- petvoi texture ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def study(p01_baseline: Path) -> Path:
    return p01_baseline  # suv.nii.gz, vois.nii.gz (tests/conftest.py)


def _texture(study: Path, repo: Path, out: Path, *options: str) -> list[str]:
    return ["texture", "--image", str(study / "suv.nii.gz"), "--vois", str(study / "vois.nii.gz"),
            "--params", str(repo / "configs" / "radiomics_pet.yaml"), "--kinds", "tumour,organ", "-o", str(out),
            *options]


def test_texture_is_the_same_on_a_tcp_scheduler(study: Path, repo: Path, cluster: Any, tmp_path: Path) -> None:
    assert main(_texture(study, repo, tmp_path / "sync.csv", "--scheduler", "synchronous")) == 0
    with recording() as records:
        assert main(_texture(study, repo, tmp_path / "tcp.csv", "--scheduler", cluster.scheduler_address)) == 0
    assert (tmp_path / "sync.csv").read_bytes() == (tmp_path / "tcp.csv").read_bytes()
    (record,) = records
    assert record.label == "texture" and record.scheduler == cluster.scheduler_address
    computed = json.loads((tmp_path / "tcp.json").read_text())["n_vois"]
    assert 1 <= record.n_tasks <= computed  # empty VOIs are not sent
    assert sum(record.tasks_per_worker.values()) == record.n_tasks
    assert set(record.tasks_per_worker) <= _workers(cluster)


def test_texture_with_an_unreachable_scheduler_names_the_flag(study: Path, repo: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(parallel, "CONNECT_TIMEOUT_S", 1.0)
    address = f"tcp://127.0.0.1:{_free_port()}"
    assert main(_texture(study, repo, tmp_path / "t.csv", "--scheduler", address)) == 2
    err = capsys.readouterr().err
    assert f"--scheduler: dask scheduler {address} not reachable" in err
    assert not (tmp_path / "t.csv").exists()


# -- progress ------------------------------------------------------------------------------------------------------

class _Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


Lines = Callable[[], list[str]]


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> Lines:
    """The INFO lines of pipeline.progress so far (after a ``petvoi`` command the pipeline logger does not
    propagate: it is reset here)."""
    pipeline_log = logging.getLogger("pipeline")
    monkeypatch.setattr(pipeline_log, "propagate", True)
    monkeypatch.setattr(pipeline_log, "handlers", [])
    caplog.set_level(logging.INFO, logger="pipeline")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "pipeline.progress"]


def test_log_mode_writes_a_line_every_tenth(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETVOI_PROGRESS", "log")
    clock = _Clock()
    with Progress("texture", 10, unit="VOIs", clock=clock) as bar:
        assert bar.mode == "log"
        for _ in range(10):
            clock.advance(1.0)
            bar.advance()
    text = lines()
    # nothing in the first 2 s; then one line per 10 % until done, then the last line
    assert text[:2] == ["texture: 2/10 VOIs (20 %) after 2.0 s, about 8.0 s left",
                        "texture: 3/10 VOIs (30 %) after 3.0 s, about 7.0 s left"]
    assert len(text) == 9 and text[-1] == "texture: done, 10/10 VOIs in 10.0 s"


def test_log_mode_writes_a_line_every_interval_while_nothing_finishes(lines: Lines,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETVOI_PROGRESS", "log")
    clock = _Clock()
    with Progress("maps", 4, unit="blocks", clock=clock, delay_s=0.05, interval_s=30.0):
        for expected in (1, 2, 3):
            clock.advance(31.0)  # no block done for 31 s: the background thread writes a line
            deadline = time.monotonic() + 5
            while len(lines()) < expected and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(lines()) == expected
    assert lines()[0] == "maps: 0/4 blocks (0 %) after 31.0 s"
    assert lines()[-1] == "maps: done, 0/4 blocks in 1 min 33 s"


def test_the_executor_writes_progress_lines(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETVOI_PROGRESS", "log")
    monkeypatch.setattr(parallel, "progress", functools.partial(progress_module.progress, delay_s=0.0))
    with executor(DaskOptions(scheduler="synchronous")) as ex:
        ex.map(_slow_square, [(i, 0.0) for i in range(10)], label="squares", unit="numbers")
    text = lines()
    assert text[0].startswith("squares: 1/10 numbers (10 %) after ")
    assert len(text) == 10 and text[-1].startswith("squares: done, 10/10 numbers in ")


def test_off_mode_is_silent(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETVOI_PROGRESS", "off")
    clock = _Clock()
    with Progress("texture", 10, clock=clock, delay_s=0.0, interval_s=0.01) as bar:
        assert bar.mode == "off"
        for _ in range(10):
            clock.advance(100.0)
            bar.advance()
        time.sleep(0.05)
    assert len(lines()) == 0


def test_short_work_is_silent(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETVOI_PROGRESS", "log")
    with Progress("bootstrap", 1000, unit="resamples") as bar:  # real clock: far under the 2 s delay
        assert bar.mode == "log"
        for _ in range(1000):
            bar.advance()
    assert sum(1 for _ in track(range(50), "loop")) == 50
    assert len(lines()) == 0


def test_nested_progress_is_silent(lines: Lines, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PETVOI_PROGRESS", "log")
    clock = _Clock()
    with Progress("outer", 2, clock=clock):
        with Progress("inner", 2, clock=clock, delay_s=0.0) as inner:
            assert inner.mode == "off"
            clock.advance(10.0)
            inner.advance(2)
    assert not any(line.startswith("inner") for line in lines())
    assert lines() == ["outer: done, 0/2 tasks in 10.0 s"]


def test_choose_mode(monkeypatch: pytest.MonkeyPatch, lines: Lines) -> None:
    class _Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("PETVOI_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert choose_mode(stream=_Tty()) == "bar"  # type: ignore[arg-type]
    monkeypatch.setenv("PETVOI_PROGRESS", "nonsense")  # an unknown value: as if unset
    assert choose_mode(stream=_Tty()) == "bar"  # type: ignore[arg-type]
    monkeypatch.setenv("PETVOI_PROGRESS", "LOG")
    assert choose_mode(stream=_Tty()) == "log"  # type: ignore[arg-type]
    assert choose_mode("off", stream=_Tty()) == "off"  # type: ignore[arg-type]
    logging.getLogger("pipeline").setLevel(logging.WARNING)  # petvoi -q
    assert choose_mode("log") == "off"
    with pytest.raises(ValueError, match="progress mode"):
        choose_mode("fancy")
