"""How work is parallelised: the dask scheduler of every stage that uses dask, chosen by the configuration.

The ``dask:`` section of the configuration (flags ``--scheduler`` and ``--slurm-*`` of the commands that
use dask) chooses where the tasks of ``petvoi texture`` (one per VOI) and ``petvoi parametric`` (one per
block of voxels) run:

``auto`` (default)
    each stage's local choice: worker processes for texture (pyradiomics holds the GIL), threads for
    the parametric maps (numpy releases it);
``processes``, ``threads``
    dask's local schedulers with the stage's ``--workers``; ``--workers 1`` runs in this process;
``synchronous``
    every task in this process, one after the other (debugging, profiling);
``tcp://host:port``
    a running dask scheduler (``dask scheduler``, a cluster started by hand);
``slurm``
    a :class:`dask_jobqueue.SLURMCluster` started for this command: jobs of ``dask.slurm.cores`` cores,
    ``memory`` and ``walltime`` (``queue`` and ``account`` only when given: the cluster's defaults
    otherwise), scaled to the work (one job per ``processes`` tasks, at most ``max_jobs``), closed (its
    jobs cancelled) when the command ends. Needs the ``slurm`` extra (``pip install -e ".[slurm]"``).

The scheduler changes where a task runs, never what it computes: every task is a pure function of its
inputs and results are put back in task order, so tables are byte-identical whatever the scheduler
(``tests/integration/test_parallel.py``, ``tests/integration/test_dask_slurm.py``).

Stages use it as::

    with executor(options.dask, workers=options.workers, local="processes") as ex:
        results = ex.map(one_voi, items, label="texture", unit="VOIs")   # list, in item order
        array = ex.compute_array(lazy, label="logan_vt", unit="blocks")   # numpy array

The executor reports progress through :mod:`pipeline.progress` and, on a distributed scheduler, which
worker ran how many tasks (an INFO line, and :func:`recording` for tests).

Light: dask, distributed and dask-jobqueue are imported only when work runs.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from .errors import InvalidInputError, PipelineError
from .options import Options, option
from .progress import progress

__all__ = ["DaskOptions", "Executor", "RunRecord", "executor", "recording", "dask_arguments", "local_workers",
           "SCHEDULERS", "LOCAL_SCHEDULERS"]

log = logging.getLogger(__name__)

#: Named schedulers; a ``tcp://host:port`` (or ``tls://``) address is accepted too.
SCHEDULERS = ("auto", "processes", "threads", "synchronous", "slurm")
#: Schedulers that run in this process or its children (the stage's ``--workers`` applies).
LOCAL_SCHEDULERS = ("auto", "processes", "threads", "synchronous")

_ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+:(\d{1,5})$")
_WALLTIME = re.compile(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$")
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([kKMGTP]i?B|B)$")
_NAME = re.compile(r"^[\w.,@+-]+$")

#: Seconds to wait for a ``tcp://`` scheduler to answer (distributed retries a refused connection until then).
CONNECT_TIMEOUT_S = 30.0


def _optional(text: str | None) -> str | None:
    return text if text not in (None, "") else None


@dataclass(frozen=True)
class DaskOptions(Options):
    """Where the dask tasks of a command run (configuration section ``dask``).

    Attributes
    ----------
    scheduler : str
        ``auto``, ``processes``, ``threads``, ``synchronous``, ``tcp://host:port`` or ``slurm``.
    slurm_cores, slurm_processes : int
        Cores of one SLURM worker job and dask worker processes in it (None: one single-threaded
        process per core).
    slurm_memory, slurm_walltime : str
        Memory (``4GB``) and time limit (``01:00:00``) of one job.
    slurm_queue, slurm_account : str or None
        Partition and account of the jobs; None: the cluster's default (nothing is hard-coded).
    slurm_max_jobs : int
        At most this many jobs; fewer when there are fewer tasks.
    slurm_interface : str or None
        Network interface of the scheduler and workers (e.g. ``ib0``); None: the host's address.
    slurm_start_timeout_s : float
        How long to wait for the first worker job to start (s) before giving up; also how long tasks wait
        for a worker once every worker job has ended (jobs that end are not replaced).
    slurm_log_directory : str or None
        Folder of the worker jobs' SLURM logs; None: a temporary folder, removed after a successful run.
    """

    section = "dask"

    scheduler: str = option("auto", flag="--scheduler", key="dask.scheduler", metavar="SCHEDULER",
                            help="where dask tasks run: auto (the stage's local default), processes, threads, "
                                 "synchronous, tcp://HOST:PORT (a running dask scheduler) or slurm (a dask-jobqueue "
                                 "SLURMCluster started for this command; see the --slurm-* options)")
    slurm_cores: int = option(1, flag="--slurm-cores", key="dask.slurm.cores", type=int, metavar="N",
                              help="slurm scheduler: cores per worker job (default 1)")
    slurm_processes: int | None = option(None, flag="--slurm-processes", key="dask.slurm.processes", type=int,
                                         metavar="N", help="slurm scheduler: dask worker processes per job "
                                                           "(default: one per core)")
    slurm_memory: str = option("4GB", flag="--slurm-memory", key="dask.slurm.memory", metavar="SIZE",
                               help="slurm scheduler: memory per worker job (default 4GB)")
    slurm_walltime: str = option("01:00:00", flag="--slurm-walltime", key="dask.slurm.walltime", metavar="TIME",
                                 help="slurm scheduler: time limit per worker job (default 01:00:00)")
    slurm_queue: str | None = option(None, flag="--slurm-queue", key="dask.slurm.queue", type=_optional,
                                     metavar="PARTITION", help="slurm scheduler: partition of the worker jobs "
                                                               "(default: the cluster's default partition)")
    slurm_account: str | None = option(None, flag="--slurm-account", key="dask.slurm.account", type=_optional,
                                       metavar="ACCOUNT", help="slurm scheduler: account of the worker jobs "
                                                               "(default: none given)")
    slurm_max_jobs: int = option(4, flag="--slurm-max-jobs", key="dask.slurm.max_jobs", type=int, metavar="N",
                                 help="slurm scheduler: at most this many worker jobs (default 4)")
    slurm_interface: str | None = option(None, flag="--slurm-interface", key="dask.slurm.interface",
                                         type=_optional, metavar="IFACE",
                                         help="slurm scheduler: network interface of scheduler and workers, e.g. "
                                              "ib0 (default: the host's address)")
    slurm_start_timeout_s: float = option(300.0, flag="--slurm-start-timeout", key="dask.slurm.start_timeout_s",
                                          type=float, metavar="S",
                                          help="slurm scheduler: seconds to wait for the first worker job, and for a "
                                               "worker when every job has ended with tasks left (default 300)")
    slurm_log_directory: str | None = option(None, flag="--slurm-log-directory", key="dask.slurm.log_directory",
                                             type=_optional, metavar="DIR",
                                             help="slurm scheduler: folder of the worker jobs' logs (default: a "
                                                  "temporary folder, removed after a successful run)")

    def validate(self) -> None:
        """Refuse an unknown scheduler and SLURM settings sbatch would refuse."""
        s = self.scheduler
        address = _ADDRESS.match(s) if isinstance(s, str) else None
        if not isinstance(s, str) or (s not in SCHEDULERS and not (address and 1 <= int(address[2]) <= 65535)):
            raise self.invalid("scheduler", f"unknown dask scheduler {s!r}",
                               remedy=f"use one of {', '.join(SCHEDULERS)} or tcp://HOST:PORT")
        for name in ("slurm_cores", "slurm_max_jobs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise self.invalid(name, f"{self.name(name)} must be an integer >= 1, got {value!r}")
        p = self.slurm_processes
        if p is not None and (isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= self.slurm_cores):
            raise self.invalid("slurm_processes", f"{self.name('slurm_processes')} must be 1..cores "
                                                  f"({self.slurm_cores}), got {p!r}")
        if not isinstance(self.slurm_memory, str) or not _MEMORY.match(self.slurm_memory.strip()):
            raise self.invalid("slurm_memory", f"memory {self.slurm_memory!r} is not a size",
                               remedy="give e.g. 4GB or 500MB")
        if not isinstance(self.slurm_walltime, str) or not _WALLTIME.match(self.slurm_walltime.strip()):
            raise self.invalid("slurm_walltime", f"walltime {self.slurm_walltime!r} is not a SLURM time",
                               remedy="give HH:MM:SS, e.g. 01:00:00, or D-HH:MM:SS")
        for name in ("slurm_queue", "slurm_account", "slurm_interface"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _NAME.match(value)):
                raise self.invalid(name, f"{self.name(name)} {value!r} is not a name")
        t = self.slurm_start_timeout_s
        if isinstance(t, bool) or not isinstance(t, int | float) or not (math.isfinite(t) and t > 0):
            raise self.invalid("slurm_start_timeout_s", f"start timeout must be > 0 s, got {t!r}")

    @property
    def distributed(self) -> bool:
        """True when tasks run on a dask.distributed cluster (``tcp://`` or ``slurm``)."""
        return self.scheduler not in LOCAL_SCHEDULERS

    @property
    def processes_per_job(self) -> int:
        """dask worker processes in one SLURM job."""
        return int(self.slurm_processes or self.slurm_cores)


def dask_arguments(config: Mapping[str, Any]) -> str:
    """The ``--scheduler`` (and, for ``slurm``, ``--slurm-*``) options of a validated configuration's ``dask`` section.

    The workflow appends them to the commands that use dask.
    """
    options = DaskOptions.from_config(config)
    args = [f"--scheduler {shlex.quote(options.scheduler)}"]
    if options.scheduler == "slurm":
        for name, spec in DaskOptions.specs().items():
            value = getattr(options, name)
            if name != "scheduler" and spec.flag and value is not None:
                args.append(f"{spec.flag} {shlex.quote(str(value))}")
    return " ".join(args)


def local_workers(config: Mapping[str, Any], workers: int) -> int:
    """Cores a workflow job needs for ``workers`` dask workers: ``workers`` locally, 1 when tasks run elsewhere."""
    return int(workers) if not DaskOptions.from_config(config).distributed else 1


@dataclass
class RunRecord:
    """What one :meth:`Executor.map` or :meth:`Executor.compute_array` call did.

    Attributes
    ----------
    label : str
        What ran (``texture``, ``logan_vt``).
    scheduler : str
        The scheduler used (``processes``, ``threads``, ``synchronous``, ``tcp://...``, ``slurm``).
    n_tasks : int
        Tasks submitted (VOIs, blocks).
    tasks_per_worker : dict of str to int
        On a distributed scheduler: how many of the ``n_tasks`` tasks each worker ran, by worker address
        (from the task stream; neither the graph's helper tasks nor other clients' tasks on a shared
        scheduler; a task run again after its worker was lost counts twice).
    worker_jobs : dict of str to str
        On a distributed scheduler: each worker's ``SLURM_JOB_ID`` (empty when not a SLURM job).
    """

    label: str
    scheduler: str
    n_tasks: int
    tasks_per_worker: dict[str, int] = field(default_factory=dict)
    worker_jobs: dict[str, str] = field(default_factory=dict)


_RECORDS: contextvars.ContextVar[list[RunRecord] | None] = contextvars.ContextVar("petvoi_dask_records",
                                                                                  default=None)


@contextlib.contextmanager
def recording() -> Iterator[list[RunRecord]]:
    """Collect the :class:`RunRecord` of every executor call made inside the block (tests, benchmarks)."""
    records: list[RunRecord] = []
    token = _RECORDS.set(records)
    try:
        yield records
    finally:
        _RECORDS.reset(token)


def _keep(record: RunRecord) -> None:
    records = _RECORDS.get()
    if records is not None:
        records.append(record)
    if record.tasks_per_worker:
        jobs = sorted({j for j in record.worker_jobs.values() if j})
        log.info("%s: %d tasks on %d dask workers (%s)%s", record.label, sum(record.tasks_per_worker.values()),
                 len(record.tasks_per_worker),
                 ", ".join(f"{w}: {n}" for w, n in sorted(record.tasks_per_worker.items())),
                 f"; SLURM jobs {', '.join(jobs)}" if jobs else "")


class Executor:
    """Runs a stage's dask work on the configured scheduler; a context manager (see the module docstring).

    Parameters
    ----------
    options : DaskOptions, optional
        The scheduler (default ``auto``).
    workers : int
        Local workers (processes or threads); 1 runs in this process. Not used on a cluster.
    local : {"processes", "threads"}
        What ``auto`` means for this stage.
    """

    def __init__(self, options: DaskOptions | None = None, *, workers: int = 1, local: str = "processes") -> None:
        if local not in ("processes", "threads"):
            raise ValueError(f"local must be processes or threads, got {local!r}")
        self.options = options or DaskOptions()
        self.workers = max(1, int(workers))
        scheduler = self.options.scheduler
        self.scheduler = local if scheduler == "auto" else scheduler
        if self.scheduler in ("processes", "threads") and self.workers <= 1:
            self.scheduler = "synchronous"
        self._client: Any = None
        self._cluster: Any = None
        self._stack = contextlib.ExitStack()
        self._log_dir: Path | None = None
        self._log_dir_is_temp = False
        self._jobs = 0

    # -- context
    def __enter__(self) -> Executor:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(keep_logs=exc_type is not None)

    def close(self, *, keep_logs: bool = False) -> None:
        """Close the client and the cluster (cancelling its jobs)."""
        self._stack.close()
        self._client = self._cluster = None
        self._jobs = 0  # the jobs are cancelled: a later call scales a new cluster from 0
        if self._log_dir is not None and self._log_dir_is_temp:
            if keep_logs and self._log_dir.is_dir() and any(self._log_dir.iterdir()):
                log.warning("dask worker job logs kept in %s", self._log_dir)
            else:  # a run that failed before any job was submitted has no log to keep
                shutil.rmtree(self._log_dir, ignore_errors=True)
        self._log_dir, self._log_dir_is_temp = None, False

    # -- work
    def map(self, fn: Callable[..., Any], items: Sequence[tuple[Any, ...]], *, label: str,
            unit: str = "tasks") -> list[Any]:
        """``[fn(*item) for item in items]``, the calls spread over the scheduler; results in item order.

        ``fn`` must be importable by the workers (a module-level function) for ``processes`` and clusters.
        """
        items = list(items)
        record = RunRecord(label, self.scheduler, len(items))
        if not items:
            return []
        with progress(label, len(items), unit=unit) as bar:
            if self.scheduler == "synchronous" or (not self.options.distributed and len(items) == 1):
                results = []
                for item in items:
                    results.append(fn(*item))
                    bar.advance()
            elif not self.options.distributed:
                import dask

                tasks = [dask.delayed(fn, pure=False)(*item) for item in items]
                keys = {t.key for t in tasks}
                with self._local_config(), _ProgressCallback(bar, keys):
                    # chunksize 1: tasks differ a lot in cost; batches would leave a worker idle at the end
                    results = list(dask.compute(*tasks, scheduler=self.scheduler, num_workers=self.workers,
                                                chunksize=1))
            else:
                client = self._connect(len(items))
                from distributed import get_task_stream

                with get_task_stream(client=client) as stream:
                    futures = [client.submit(fn, *item, pure=False) for item in items]
                    self._wait(futures, bar)
                    results = client.gather(futures)
                self._record_workers(record, stream.data, {f.key for f in futures})
        _keep(record)
        return results

    def compute_array(self, array: Any, *, label: str, unit: str = "blocks") -> Any:
        """The numpy value of a :class:`dask.array.Array`, its blocks computed on the scheduler."""
        import numpy as np

        n_blocks = int(array.npartitions)
        record = RunRecord(label, self.scheduler, n_blocks)
        with progress(label, n_blocks, unit=unit) as bar:
            if not self.options.distributed:
                with self._local_config(), _ProgressCallback(bar, name=array.name):
                    value = array.compute(scheduler=self.scheduler, num_workers=self.workers)
            else:
                client = self._connect(n_blocks)
                from distributed import futures_of, get_task_stream

                with get_task_stream(client=client) as stream:
                    persisted = client.persist(array)
                    blocks = futures_of(persisted)
                    self._wait(blocks, bar)
                    whole = client.compute(persisted)
                    self._wait([whole])
                    value = whole.result()
                self._record_workers(record, stream.data, {f.key for f in blocks})
        _keep(record)
        return np.asarray(value)

    # -- internals
    def _local_config(self) -> Any:
        import dask

        settings: dict[str, Any] = {}
        if self.scheduler == "processes" and os.name == "posix":
            # fork: workers inherit the imported modules (spawn would re-import pyradiomics in every worker)
            settings["multiprocessing.context"] = "fork"
        return dask.config.set(settings)

    def _connect(self, n_tasks: int) -> Any:
        """The distributed client (started on first use); a SLURM cluster is scaled to ``n_tasks``."""
        if self._client is None:
            from distributed import Client

            if self.options.scheduler == "slurm":
                self._cluster = self._stack.enter_context(self._slurm_cluster())
                self._client = self._stack.enter_context(Client(self._cluster, set_as_default=False))
            else:
                try:
                    self._client = self._stack.enter_context(
                        Client(self.options.scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT_S))
                except (OSError, TimeoutError) as exc:
                    raise PipelineError(f"dask scheduler {self.options.scheduler} not reachable: {exc}",
                                        attribute=self.options.name("scheduler"),
                                        remedy="start it (dask scheduler), or use processes or threads to run "
                                               "locally") from None
        if self._cluster is not None:
            self._scale(n_tasks)
        return self._client

    def _wait(self, futures: list[Any], bar: Any = None) -> None:
        """Wait for ``futures`` (advancing ``bar`` as each one ends, whether it succeeded or failed).

        On a SLURM cluster, give up when no worker was left for ``dask.slurm.start_timeout_s``: worker jobs
        that all ended (killed for memory or time, cancelled, a worker that crashed) are not replaced, and
        the tasks would wait for a worker forever.
        """
        from distributed import as_completed

        # the client is not the default one (set_as_default=False): as_completed needs its loop
        done = as_completed(futures, loop=self._client.loop)
        if self._cluster is None:  # a tcp:// scheduler: its workers come and go as its owner decides
            for _ in done:
                if bar is not None:
                    bar.advance()
            return
        limit = self.options.slurm_start_timeout_s
        checked = time.monotonic()
        alone_since: float | None = None
        while not done.is_empty():
            batch = done.next_batch(block=False)
            if batch:
                if bar is not None:
                    bar.advance(len(batch))
                continue
            time.sleep(0.05)
            now = time.monotonic()
            if now - checked < min(1.0, limit / 4):
                continue
            checked = now
            if self._client.nthreads():
                alone_since = None
                continue
            alone_since = now if alone_since is None else alone_since
            if now - alone_since >= limit:
                where = f"; worker job logs in {self._log_dir}" if self._log_dir else ""
                raise PipelineError(
                    f"every dask worker job ended with {done.count()} of {len(futures)} tasks left (no worker for "
                    f"{limit:g} s){where}", attribute=self.options.name("scheduler"),
                    remedy=f"see the logs and sacct: a job killed for memory or time needs more "
                           f"{self.options.name('slurm_memory')} or {self.options.name('slurm_walltime')}")

    def _scale(self, n_tasks: int) -> None:
        o = self.options
        jobs = min(o.slurm_max_jobs, max(1, math.ceil(n_tasks / o.processes_per_job)))
        if jobs > self._jobs:
            self._cluster.scale(jobs=jobs)
            self._jobs = jobs
            log.info("dask slurm: %d worker job(s) of %d core(s), %s, %s for %d tasks", jobs, o.slurm_cores,
                     o.slurm_memory, o.slurm_walltime, n_tasks)
        try:
            self._client.wait_for_workers(1, timeout=o.slurm_start_timeout_s)
        except TimeoutError:
            where = f"; worker job logs in {self._log_dir}" if self._log_dir else ""
            raise PipelineError(
                f"no dask worker job started within {o.slurm_start_timeout_s:g} s{where}",
                attribute=o.name("slurm_start_timeout_s"),
                remedy=f"check the jobs with squeue (partition {o.name('slurm_queue')}, account "
                       f"{o.name('slurm_account')}), raise the timeout, or use processes or threads to run "
                       "locally") from None

    @contextlib.contextmanager
    def _slurm_cluster(self) -> Iterator[Any]:
        o = self.options
        if shutil.which("sbatch") is None:
            raise PipelineError("SLURM is not reachable: sbatch is not on the PATH",
                                attribute=o.name("scheduler"),
                                remedy="run on a SLURM login node, or use processes or threads to run locally")
        try:
            from dask_jobqueue import SLURMCluster
        except ImportError:
            raise PipelineError("the slurm dask scheduler needs dask-jobqueue", attribute=o.name("scheduler"),
                                remedy='pip install -e ".[slurm]", or use processes or threads') from None
        if o.slurm_log_directory:
            self._log_dir = Path(o.slurm_log_directory)
            self._log_dir.mkdir(parents=True, exist_ok=True)
        else:
            self._log_dir = Path(tempfile.mkdtemp(prefix="petvoi-dask-"))
            self._log_dir_is_temp = True
        kwargs: dict[str, Any] = {
            "cores": o.slurm_cores, "processes": o.processes_per_job, "memory": o.slurm_memory,
            "walltime": o.slurm_walltime, "log_directory": str(self._log_dir), "job_name": "petvoi-dask",
            "scheduler_options": {"dashboard": False},
            # one thread per worker process, and single-threaded ITK/BLAS inside it: n processes use n cores
            "job_script_prologue": ["export OMP_NUM_THREADS=1 ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=1"],
        }
        if o.slurm_queue:
            kwargs["queue"] = o.slurm_queue
        if o.slurm_account:
            kwargs["account"] = o.slurm_account
        if o.slurm_interface:
            kwargs["interface"] = o.slurm_interface
        try:
            cluster = SLURMCluster(**kwargs)
        except (ValueError, RuntimeError) as exc:
            if o.slurm_interface and "interface" in str(exc):
                # distributed: "'ib1' is not a valid network interface. Valid network interfaces are: [...]"
                raise InvalidInputError(f"no network interface {o.slurm_interface!r} for the dask scheduler: {exc}",
                                        attribute=o.name("slurm_interface"),
                                        remedy="name an interface of this host (ip link), or leave it unset") \
                    from None
            raise
        try:
            self._test_submission(cluster.job_script())
            yield cluster
        finally:
            cluster.close()

    def _test_submission(self, script: str) -> None:
        """``sbatch --test-only`` of the worker job: a bad partition, account, size or time is refused at once.

        The error names the setting(s) SLURM refused and the job asked for (partition, cores, memory, walltime).
        """
        o = self.options
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as handle:
            handle.write(script)
        try:
            done = subprocess.run(["sbatch", "--test-only", handle.name], capture_output=True, text=True,
                                  timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PipelineError(f"SLURM is not reachable: sbatch --test-only failed: {exc}",
                                attribute=o.name("scheduler"), remedy="use processes or threads to run locally") \
                from None
        finally:
            os.unlink(handle.name)
        if done.returncode == 0:
            return
        message = (done.stderr or done.stdout).strip().splitlines()
        text = message[-1] if message else f"exit status {done.returncode}"
        fields, remedy = self._refused(text.lower())
        request = (f"partition {o.slurm_queue or '(the default)'}, "
                   + (f"account {o.slurm_account}, " if o.slurm_account else "")
                   + f"{o.slurm_cores} core(s), {o.slurm_memory}, walltime {o.slurm_walltime}")
        raise InvalidInputError(f"SLURM refuses the dask worker job ({request}): {text}",
                                attribute=", ".join(o.name(f) for f in fields), remedy=remedy)

    def _refused(self, text: str) -> tuple[list[str], str]:
        """The settings an sbatch refusal ``text`` (lower case) is about, and what to do."""
        if "partition" in text and "account" in text:  # "Invalid account or account/partition combination"
            return ["slurm_queue", "slurm_account"], "name an account allowed on the partition (sacctmgr show assoc)"
        if "partition" in text:
            return ["slurm_queue"], ("name a partition sinfo lists, or leave it unset for the cluster's default "
                                     "partition")
        if "account" in text or "association" in text:
            return ["slurm_account"], "name an account sacctmgr lists for you, or leave it unset"
        if "time limit" in text:
            return ["slurm_walltime"], "ask for a walltime within the partition's limit (sinfo -o %l)"
        if "memory" in text or "node configuration" in text or "cpu" in text:
            # "Requested node configuration is not available": more cores or memory than any node has
            fields = self._too_large()
            return fields, "ask for at most the cores and memory of one node (sinfo -N -o '%c %m', in MB)"
        return ["scheduler"], "check the worker job with sbatch --test-only, or use processes or threads"

    def _too_large(self) -> list[str]:
        """Which of cores and memory exceed the largest node of the partition (both when it is not known)."""
        from dask.utils import parse_bytes

        o = self.options
        command = ["sinfo", "-h", "-N", "-o", "%c %m"] + (["-p", o.slurm_queue] if o.slurm_queue else [])
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True).stdout
            nodes = [(int(c.rstrip("+")), int(m.rstrip("+"))) for c, m in (line.split() for line in out.splitlines())]
        except (OSError, ValueError, subprocess.SubprocessError):
            nodes = []
        if not nodes:
            return ["slurm_cores", "slurm_memory"]
        fields = []
        if o.slurm_cores > max(c for c, _ in nodes):
            fields.append("slurm_cores")
        if parse_bytes(o.slurm_memory.replace(" ", "")) / 2**20 > max(m for _, m in nodes):
            fields.append("slurm_memory")
        if not fields:  # neither alone: together on no node
            fields = ["slurm_cores", "slurm_memory"]
        return fields

    def _record_workers(self, record: RunRecord, stream: list[dict[str, Any]], keys: set[Any]) -> None:
        """Count the tasks of ``keys`` per worker: the task stream holds every task the scheduler ran meanwhile
        (another command's on a shared ``tcp://`` scheduler, the graph's helper tasks)."""
        counts: dict[str, int] = {}
        for event in stream:
            if event.get("key") not in keys:
                continue
            worker = str(event.get("worker", ""))
            counts[worker] = counts.get(worker, 0) + 1
        record.tasks_per_worker = counts
        try:
            jobs = self._client.run(_slurm_job_id, workers=list(counts)) if counts else {}
        except Exception as exc:  # noqa: BLE001 - a worker that left: the counts stay
            log.debug("SLURM job ids of the workers not read: %s", exc)
            jobs = {}
        record.worker_jobs = {str(w): str(j or "") for w, j in jobs.items()}


def _slurm_job_id() -> str:
    return os.environ.get("SLURM_JOB_ID", "")


class _ProgressCallback:
    """Advance a progress bar as dask's local scheduler finishes tasks (``keys``, or the blocks of ``name``)."""

    def __init__(self, bar: Any, keys: set[Any] | None = None, *, name: str | None = None) -> None:
        from dask.callbacks import Callback

        outer = self

        class _CB(Callback):
            def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
                outer._done(key)

        self._bar, self._keys, self._name = bar, keys, name
        self._cb = _CB()

    def _done(self, key: Any) -> None:
        if self._keys is not None:
            if key in self._keys:
                self._bar.advance()
        elif isinstance(key, tuple) and key and key[0] == self._name:
            self._bar.advance()

    def __enter__(self) -> _ProgressCallback:
        self._cb.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._cb.__exit__(*exc)


def executor(options: DaskOptions | None = None, *, workers: int = 1, local: str = "processes") -> Executor:
    """An :class:`Executor` (use it in a ``with`` block)."""
    return Executor(options, workers=workers, local=local)
