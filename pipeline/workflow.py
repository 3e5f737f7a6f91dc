"""What the Snakemake workflow and ``petvoi check`` share: the complete, validated configuration.

:func:`load_workflow_config` validates a configuration against the schema (with the policy's checks and
the endpoints' settings of :mod:`pipeline.stats.endpoints`); :func:`check_workflow` is ``petvoi check``:
that, the sample sheet, and the dynamic studies against the ``kinetics`` settings.
:func:`policy_arguments` turns the configuration's ``policy`` section into the global options every rule
passes to ``petvoi``.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import check_dynamic_studies, load_config, load_sample_sheet, schema, validate_config
from .policy import CHECKS, Policy

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["load_workflow_config", "check_workflow", "config_schema", "policy_arguments", "deid_arguments",
           "no_exit_wait", "KILLED_STATES", "KilledJob", "killed_jobs"]


def config_schema() -> dict[str, Any]:
    """The complete JSON Schema of the configuration (policy checks and endpoint settings included)."""
    from .stats.endpoints import analyses_schema

    full = dict(schema("config"))
    full["properties"] = {**full["properties"], "analyses": analyses_schema()}
    return full


def load_workflow_config(config: Mapping[str, Any] | Path, *, source: str = "config") -> dict[str, Any]:
    """A validated configuration with defaults, its policy checked (naming the YAML key of any error).

    Parameters
    ----------
    config : mapping or Path
        The parsed configuration (Snakemake's ``config``) or its YAML file.
    source : str
        Named in errors when ``config`` is a mapping.

    Raises
    ------
    ConfigError
        Naming the YAML path of the first offending key or value.
    """
    from .stats.endpoints import validate_analyses

    where = str(config) if isinstance(config, Path) else source
    cfg = load_config(config) if isinstance(config, Path) else validate_config(config, source=source)
    Policy.from_config(cfg.get("policy"), source=where)
    cfg["analyses"] = validate_analyses(cfg.get("analyses"), source=where)
    return cfg


def check_workflow(config_path: Path, samples: Path | None = None) -> str:
    """Validate a configuration, its sample sheet and its dynamic studies; return a one-line summary.

    Raises
    ------
    PipelineError
        The first problem found, naming the file and the key, row or column.
    """
    cfg = load_workflow_config(config_path)
    if samples is None and cfg["synth"]["generate"]:
        # the workflow writes this cohort's sheet when it starts (synth.subjects, synth.seed): check that one,
        # not whatever sheet is on disk now
        import tempfile

        from .io import write_table
        from .synthetic import cohort_tables

        synth = cfg["synth"]
        with tempfile.TemporaryDirectory() as tmp:
            generated = Path(tmp) / "samples.tsv"
            write_table(generated, cohort_tables(synth["subjects"], synth["seed"], multiday=True)["samples"])
            sheet = load_sample_sheet(generated)
        label = f"synthetic cohort (synth.subjects {synth['subjects']}, seed {synth['seed']})"
        check_dynamic_studies(cfg, sheet, source=label, check_files=False)  # blood tables come with the DICOM
    else:
        sheet_path = samples or Path(cfg["samples"])
        sheet = load_sample_sheet(sheet_path)
        fetched = cfg.get("archive", {}).get("fetch")
        if not cfg["synth"]["generate"] and not fetched:  # else the synth or the fetch rule writes them
            _check_study_folders(sheet, Path(cfg["data_root"]), source=str(sheet_path))
        check_dynamic_studies(cfg, sheet, source=str(sheet_path))
        label = f"sample sheet {sheet_path}"
    n_dynamic = int((sheet["acquisition"] == "dynamic").sum())
    return (f"{config_path}: valid; {label}: {len(sheet)} rows ({n_dynamic} dynamic), "
            f"{sheet['subject_id'].nunique()} subjects")


def _check_study_folders(sheet: pd.DataFrame, data_root: Path, *, source: str) -> None:
    """Every row's DICOM folder (column ``dicom``, relative to ``data_root``) is a folder."""
    from .errors import SampleSheetError

    for i, row in enumerate(sheet.itertuples(index=False), start=1):
        folder = data_root / str(row.dicom)
        try:
            found = folder.is_dir()
        except (OSError, ValueError):
            found = False
        if not found:
            raise SampleSheetError(f"DICOM folder of {row.subject_id}/{row.timepoint} not found: {folder}",
                                   source=source, attribute=f"row {i}, column dicom",
                                   remedy="give the study's folder relative to data_root (config data_root)")


def policy_arguments(config: Mapping[str, Any]) -> str:
    """The global ``petvoi`` options of the configuration's policy: ``--strict`` and the non-default checks."""
    policy = Policy.from_config(config.get("policy"))
    args = ["--strict"] if policy.strict else []
    args += [f"--policy {shlex.quote(f'{key}={action.value}')}" for key, action in sorted(policy.actions.items())
             if action is not CHECKS[key].default]
    return " ".join(args)


def deid_arguments(config: Mapping[str, Any]) -> str:
    """The global ``petvoi --deidentify SECRET_FILE`` option of ``deidentify: true`` (the secret file created when
    missing and ``$PETVOI_DEID_SECRET`` is unset), or nothing."""
    import os

    from .deid import SECRET_ENV, ensure_secret_file

    if not config.get("deidentify"):
        return ""
    path = Path(config.get("deidentify_secret") or ".petvoi/deid_secret").expanduser().resolve()
    if not os.environ.get(SECRET_ENV):
        ensure_secret_file(path)
    return f"--deidentify {shlex.quote(str(path))}"


def measured_resources(benchmarks: Path) -> dict[str, dict[str, float]]:
    """The largest memory and run time each rule's jobs used, from a run's ``results/benchmarks`` folder.

    Parameters
    ----------
    benchmarks : Path
        Snakemake benchmark files: ``<rule>.tsv`` or ``<rule>/<job>.tsv`` (a batch rule ``studies_N`` or
        ``report_N`` writes under ``study/`` and ``report/``, the keys of config ``jobs.resources``).

    Returns
    -------
    dict
        Per rule: ``max_rss_mb`` (MB), ``max_s`` (s) and ``jobs`` (number of benchmark files).

    Raises
    ------
    InvalidInputError
        If the folder holds no benchmark file.
    """
    import csv
    import math

    from .errors import InvalidInputError

    found: dict[str, dict[str, float]] = {}
    for tsv in sorted(Path(benchmarks).rglob("*.tsv")):
        parts = tsv.relative_to(benchmarks).parts
        rule = parts[0] if len(parts) > 1 else tsv.stem
        with open(tsv, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        for row in rows:
            try:
                rss, seconds = float(row["max_rss"]), float(row["s"])
            except (KeyError, TypeError, ValueError):
                continue  # a field Snakemake could not measure ("-"), or not a benchmark file
            entry = found.setdefault(rule, {"max_rss_mb": 0.0, "max_s": 0.0, "jobs": 0})
            entry["max_rss_mb"] = max(entry["max_rss_mb"], rss if math.isfinite(rss) else 0.0)
            entry["max_s"] = max(entry["max_s"], seconds if math.isfinite(seconds) else 0.0)
            entry["jobs"] += 1
    if not found:
        raise InvalidInputError("no Snakemake benchmark file found", source=str(benchmarks),
                                remedy="give the results/benchmarks folder of a completed run")
    return found


def suggested_resources(measured: Mapping[str, Mapping[str, float]], *, memory_factor: float = 3.0,
                        runtime_factor: float = 10.0) -> dict[str, dict[str, int]]:
    """Config ``jobs.resources`` entries from measured maxima, with headroom.

    ``mem_mb`` is ``memory_factor`` x the largest RSS, at least 1000 MB, rounded up to 500 MB; ``runtime`` is
    ``runtime_factor`` x the longest run, at least 10 min, rounded up to 5 min (a larger cohort's images, a
    busier file system).
    """
    import math

    out: dict[str, dict[str, int]] = {}
    for rule, m in sorted(measured.items()):
        mem = max(1000, int(math.ceil(memory_factor * m["max_rss_mb"] / 500.0)) * 500)
        minutes = max(10, int(math.ceil(runtime_factor * m["max_s"] / 60.0 / 5.0)) * 5)
        out[rule] = {"mem_mb": mem, "runtime": minutes}
    return out


def no_exit_wait() -> None:
    """Let this process exit as soon as its work is done, without waiting for pending ``threading.Timer`` s.

    For the snakemake processes inside a cluster job (remote mode: the job's own, and the one it starts through
    ``srun``), which run one job each. Snakemake's job rate limiter (``--max-jobs-per-timespan``, default 100/1s;
    a profile cannot change it there, the job's snakemake reads none) starts a 1 s re-evaluation timer after every
    scheduling round, a non-daemon thread that Python waits for at exit: the job's snakemake stayed up to 1.3 s
    after its job, a quarter of every SLURM job's start-up overhead (measured with bench/bench_cohort.py). The
    timers only wake the scheduler, which has nothing left to do; cancelling them at interpreter shutdown (before
    the threads are joined) changes nothing else.
    """
    import threading

    register = getattr(threading, "_register_atexit", None)  # CPython >= 3.9, as concurrent.futures uses it
    if register is None:
        return

    def cancel_timers() -> None:
        for thread in threading.enumerate():
            if isinstance(thread, threading.Timer):
                thread.cancel()

    register(cancel_timers)


#: SLURM states of a job killed for a resource: what happened, and the snakemake resource to raise.
KILLED_STATES = {"OUT_OF_MEMORY": ("ran out of memory", "mem_mb"), "TIMEOUT": ("ran out of time", "runtime")}


@dataclass(frozen=True)
class KilledJob:
    """A SLURM job of a failed run that SLURM killed for memory or time.

    Attributes
    ----------
    rule : str
        The rule of the job (a batch rule: ``studies_2``, ``mri_studies_1``, ``report_1``, ``index_3``).
    state : str
        ``OUT_OF_MEMORY`` or ``TIMEOUT`` (:data:`KILLED_STATES`).
    wildcards : str
        The job's wildcards as snakemake printed them (empty for a batch rule).
    """

    rule: str
    state: str
    wildcards: str = ""

    @property
    def resource_key(self) -> str:
        """The rule's key in config ``jobs.resources`` (``study`` for every ``studies_N``, ``mri_study`` for every
        ``mri_studies_N``, ``report`` for ``report_N``, ``index`` for ``index_N``)."""
        key = re.sub(r"_\d+$", "", self.rule)
        return {"studies": "study", "mri_studies": "mri_study"}.get(key, key)

    @property
    def resource(self) -> str:
        """The snakemake resource to raise: ``mem_mb`` or ``runtime``."""
        return KILLED_STATES[self.state][1]

    def message(self, where: str, value: float | None) -> str:
        """The one line naming the job, what it holds (``where``: e.g. "studies P01/baseline, ..."), the resource
        and its configured ``value`` (MB or min), and how to raise it."""
        what, resource = KILLED_STATES[self.state][0], self.resource
        unit = "MB" if resource == "mem_mb" else "min"
        held = f" ({where})" if where else ""
        return (f"petvoi: SLURM job of rule {self.rule}{held} {what}: {resource}={value} {unit} (config "
                f"jobs.resources.{self.resource_key}.{resource}); raise it in the config, or for this run: "
                f"snakemake ... --set-resources {self.rule}:{resource}={int(value or 0) * 2}")


def killed_jobs(log_text: str) -> list[KilledJob]:
    """The SLURM jobs of a failed run's snakemake log that SLURM killed for memory or time.

    The state is the one the SLURM executor printed (``SLURM status is: 'TIMEOUT'``, with accounting); without
    accounting a killed job's state is FAILED, and the job's SLURM log (named in the error block) says why:
    ``exceeded memory limit`` / ``oom-kill`` / ``OUT_OF_MEMORY``, or ``DUE TO TIME LIMIT`` / ``TIMEOUT``.

    Parameters
    ----------
    log_text : str
        The snakemake log (its ``Error in rule ...`` blocks).

    Returns
    -------
    list of KilledJob
        In the order of the log; jobs that failed for another reason are not listed.
    """
    jobs = []
    for block in re.split(r"\n(?=Error in rule )", log_text):
        match = re.match(r"Error in rule (\w+):", block)
        if not match or "SLURM-job" not in block:
            continue
        state = re.search(r"SLURM status is: '(\w+)'", block)
        kind = state.group(1) if state else ""
        if kind not in KILLED_STATES:
            for slurm_log in re.findall(r"(\S+/slurm_logs/\S+\.log)", block):
                try:
                    tail = Path(slurm_log).read_text(encoding="utf-8", errors="replace")[-20000:]
                except OSError:
                    continue
                if re.search(r"exceeded (job )?memory limit|oom[-_ ]kill|OUT_OF_MEMORY", tail, re.IGNORECASE):
                    kind = "OUT_OF_MEMORY"
                elif re.search(r"DUE TO TIME LIMIT|TIMEOUT", tail):
                    kind = "TIMEOUT"
        if kind in KILLED_STATES:
            wildcards = re.search(r"wildcards: ([^\n]+)", block)
            jobs.append(KilledJob(match.group(1), kind, wildcards.group(1).strip() if wildcards else ""))
    return jobs
