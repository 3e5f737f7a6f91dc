"""Benchmark: how the workflow scales with the cohort, and what a 500-patient trial would cost (issue 16).

Run:  .venv/bin/python bench/bench_cohort.py [--subjects 3 6 12 24] [--cores 2] [--slurm [--slurm-subjects 3 6]]
      [--slot-overhead S] [--keep DIR]

Measured
--------
For each cohort size N, ``petvoi synth --subjects N --no-multiday`` writes a synthetic trial cohort (two static
studies per subject, a dynamic study every few subjects, no multi-day PK subject), and the workflow runs on it
from nothing with ``--cores`` through ``configs/profiles/local``. Every number comes from the run's
``results/benchmarks`` (snakemake benchmark files, one per job; the ``all`` target has none):

* jobs: benchmark files; rule CPU: the sum of their ``cpu_time``;
* study+report CPU per subject (the metric of issue 16, target <= 8 CPU-s): the ``cpu_time`` of the jobs that
  do the per-subject work - the two static studies (``benchmarks/study/*``, or with ``study_chain: false`` the
  six stage rules suv, ct, vois, uptake, texture, heterogeneity of the static studies) and the deltas + patient
  report (``benchmarks/report/*``) - over N;
* cohort CPU: the rules that see the whole cohort and cannot spread over nodes (index, recist, cohort_*, stats,
  inter_lesion, pk, cohort_report).

Reference, same run: the smallest cohort again with ``jobs: {study_chain: false, reports_per_job: 1}`` (a job
per stage and per subject's report, as before the change), and the ratio of its study+report CPU per subject to
the batched workflow's.

With ``--slurm`` (loopback cluster up: ``tools/ci/slurm.sh up``) the cohorts of ``--slurm-subjects`` (default:
all) run again through ``configs/profiles/slurm``. Slot time is EndTime - StartTime of each SLURM job the run
printed (``sched: Allocate JobId=`` or backfill's ``Started JobId=`` to ``_job_complete: JobId= done`` in the
slurmctld log); work is the sum of the benchmark ``s`` (wall of the rule's command) of the rules that ran as SLURM
jobs (all but the Snakefile's localrules, the second-long cohort tables). Slot overhead = 1 - work / slot time
(target <= 20 %), and per job (slot time - work) / SLURM jobs in seconds. The SLURM run's tables (csv/parquet
under results, benchmarks and logs aside) must equal the local ones.

Projection model (500 patients x 2 timepoints = N 500)
------------------------------------------------------
Least-squares lines in N over the batched local runs: jobs(N), wall(N), CPU(N) (all rules), and for every cohort
rule its own wall s(N) (the rules that see the whole cohort). Per-study and per-subject work is per unit: the
study batches' wall per study (static and dynamic), the report batches' wall per subject, the index's wall per
study folder.

* one node of ``--cores`` cores: T1 = wall(500) (CPU(500) / cores is printed alongside: the bound on an
  otherwise idle node);
* 100 such nodes (200 job slots): T100 = the longest path through the workflow's DAG at N = 500 with the
  configured batch sizes (config defaults):
  index parts -> index merge -> study batches -> max(pk -> report batches -> cohort_deltas, cohort tables ->
  inter_lesion) -> stats -> cohort_report.
  A level of batches takes max(the slowest batch measured with the same batch size - its CPU-s, its wall on
  a slot of its own -, the level's wall / 200 slots); each SLURM job level on the path (index parts, study
  batches, report batches, the stats + cohort_report job) adds the slot overhead o per wave of 200 jobs (o:
  seconds per job, measured with ``--slurm``, else ``--slot-overhead``).
  Measured at N = 500, not fitted: the index merge (the largest run's index replicated to 500 subjects in
  parts of ``jobs.index_studies_per_job`` folders, merged by ``petvoi index --merge``) and the cohort rules
  (recist, pk, cohort tables, cohort_deltas, inter_lesion, stats, cohort_report: the largest run's clinical
  tables, cohort tables and per-subject deltas replicated to 500 subjects, its study folders linked, each
  rule's command line as that run's snakemake printed it). The local rules (index merge, recist, pk, cohort
  tables, inter_lesion, cohort_deltas) run on the host of snakemake, on the path with their wall.
* speed-up T1 / T100, target >= 50x.

Issue 16's starting point: 15.7 jobs and 25.4 rule CPU-s per subject; 500 patients = 7,850 jobs, 2 h on one
node, 42-60 min on 100 nodes (2-9x).
Wall times depend on what else runs on the machine (and on the SLURM node); CPU-s much less.
"""

from __future__ import annotations

import argparse
import csv
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import yaml

if TYPE_CHECKING:
    import pandas as pd

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SLURMCTLD_LOG = Path("/var/tmp/petvoi-ci-slurm/slurmctld.log")
COHORT_RULES = ("index", "recist", "stats", "inter_lesion", "pk", "cohort_report")  # and every cohort_*
STATIC_STAGES = ("suv", "ct", "vois", "uptake", "texture", "heterogeneity")
N_TRIAL = 500
NODES = 100
DEFAULTS = yaml.safe_load((REPO / "configs" / "config.yaml").read_text())["jobs"]
ISSUE_BEFORE = "before (issue 16): 15.7 jobs and 25.4 CPU-s per subject; 500 patients: 7,850 jobs, 2 h on one " \
               "node, 42-60 min on 100 nodes (2-9x)"


@dataclass
class Run:
    """One workflow run from nothing: its wall time, jobs and rule CPU from results/benchmarks."""

    subjects: int
    wall_s: float
    jobs: int
    cpu_s: float  # every rule
    subject_cpu_s: float  # static studies + deltas/patient reports
    cohort_cpu_s: float  # cohort rules
    work_s: float  # sum of benchmark s
    output: str  # snakemake's stdout + stderr
    rule_wall: dict[str, float]  # cohort rule (benchmark path without suffix) -> wall s
    studies: int  # studies in the study batches (static, and dynamic with blood)
    study_wall_s: float  # wall of the study batches (or study/dynamic_study jobs)
    report_wall_s: float  # wall of the report batches
    index_wall_s: float  # wall of the index (or of its parts)
    index_folders: int
    study_batch_max_s: float  # CPU-s of the slowest study batch (or study job): its wall on a slot of its own
    report_batch_max_s: float  # CPU-s of the slowest report batch

    @property
    def per_subject(self) -> float:
        return self.subject_cpu_s / self.subjects


def _synth(n: int, root: Path) -> Path:
    """A trial cohort of n subjects without the multi-day PK subject (whatever the flag is called now)."""
    data = root / f"data_{n}"
    petvoi = str(BIN / "petvoi")
    helptext = subprocess.run([petvoi, "synth", "--help"], check=True, capture_output=True, text=True).stdout
    flags = ["--no-multiday"] if "--no-multiday" in helptext else []  # else the multi-day subject is opt-in
    subprocess.run([petvoi, "-q", "synth", str(data), "--subjects", str(n), "--workers", "2", *flags],
                   check=True, capture_output=True)
    with open(data / "samples.tsv", newline="") as handle:
        subjects = {row["subject_id"] for row in csv.DictReader(handle, delimiter="\t")}
    if len(subjects) != n:
        raise SystemExit(f"petvoi synth --subjects {n} {' '.join(flags)} wrote {len(subjects)} subjects")
    return data


def _static_studies(data: Path) -> set[str]:
    """``SUBJECT_TIMEPOINT`` of the static studies of the sample sheet (benchmark file stems)."""
    with open(data / "samples.tsv", newline="") as handle:
        return {f"{r['subject_id']}_{r['timepoint']}" for r in csv.DictReader(handle, delimiter="\t")
                if r["acquisition"] == "static"}


def _config(data: Path, work: Path, jobs: dict[str, object] | None) -> Path:
    config: dict[str, object] = {
        "samples": str(data / "samples.tsv"), "data_root": str(data), "results": str(work / "results"),
        "synth": {"generate": False}, "suv": {"dosing": str(data / "dosing.csv")},
        "recist": {"measurements": str(data / "recist.csv")},
        "clinical": {name: str(data / f"{name}.csv") for name in ("ihc", "histology", "outcomes")},
        "mri": {"samples": ""},  # the PET cohort's scaling (MRI: its own stages)
        # one de-identification secret for every run: the same pseudonymised UIDs locally and on SLURM
        "deidentify_secret": str(data.parent / "deid_secret")}
    if jobs:
        config["jobs"] = jobs
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _run(n: int, data: Path, work: Path, profile: str, cores: int, jobs: dict[str, object] | None = None) -> Run:
    """Run the workflow from nothing in ``work`` and read its benchmarks."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--configfile",
           str(_config(data, work, jobs)), "--directory", str(work),
           "--workflow-profile", str(REPO / "configs" / "profiles" / profile), "all"]
    if profile == "local":
        cmd[1:1] = ["--cores", str(cores)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    (work / "snakemake.log").write_text(output)
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake ({profile}) failed in {work} after {wall:.0f} s:\n{output[-3000:]}")
    static = _static_studies(data)
    jobs_n, cpu, subject_cpu, cohort_cpu, work_s = 0, 0.0, 0.0, 0.0, 0.0
    # what ran on the host of snakemake (the Snakefile's localrules, the index checkpoint), as the run printed it:
    # under the SLURM profile not SLURM jobs, so not the slots' work (the index parts, rules index_N, are)
    local = set(re.findall(r"^local(?:rule|checkpoint) (\w+):", output, re.MULTILINE))
    rule_wall: dict[str, float] = {}
    study_wall = report_wall = index_wall = study_max = report_max = 0.0
    bench = work / "results" / "benchmarks"
    for tsv in sorted(bench.rglob("*.tsv")):
        with open(tsv, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        seconds, cpu_time = float(rows[-1]["s"]), float(rows[-1]["cpu_time"])
        parts = tsv.relative_to(bench).with_suffix("").parts
        jobs_n += 1
        cpu += cpu_time
        if parts[0] not in local or (parts[0] == "index" and parts[-1].startswith("part_")):
            work_s += seconds
        if parts[0] in ("study", "report") or (parts[0] in STATIC_STAGES and parts[-1] in static):
            subject_cpu += cpu_time
        elif parts[0] in COHORT_RULES or parts[0].startswith("cohort"):
            cohort_cpu += cpu_time
        if parts[0] in ("study", "dynamic_study"):
            study_wall += seconds
            study_max = max(study_max, cpu_time)  # the local run's wall includes waiting for a core
        elif parts[0] == "report":
            report_wall += seconds
            report_max = max(report_max, cpu_time)
        elif parts[0] == "index" and (len(parts) == 1 or parts[1].startswith("part_")):
            index_wall += seconds  # the whole index, or its parts (the merge is a cohort rule below)
        if parts[0] in COHORT_RULES or parts[0].startswith("cohort"):
            rule_wall["/".join(parts)] = seconds
    if "index/part_1" not in {"/".join(t.relative_to(bench).with_suffix("").parts) for t in bench.rglob("*.tsv")}:
        rule_wall.pop("index", None)  # one part: the index is per-study work, no merge
    sheet = _sheet(data)
    studies = sum(1 for r in sheet if r["acquisition"] == "static" or r.get("blood"))
    return Run(n, wall, jobs_n, cpu, subject_cpu, cohort_cpu, work_s, output, rule_wall, studies, study_wall,
               report_wall, index_wall, len({r["dicom"] for r in sheet}), study_max, report_max)


def _sheet(data: Path) -> list[dict[str, str]]:
    with open(data / "samples.tsv", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _merge_seconds(index_csv: Path, subjects: int, per_part: int, root: Path) -> tuple[float, int]:
    """Wall seconds of ``petvoi index --merge`` on the index of ``index_csv`` replicated to ``subjects`` subjects,
    cut into parts of ``per_part`` study folders (as rules index_1, index_2, ... would write them)."""
    import pandas as pd

    cohort = _replicate(pd.read_csv(index_csv, dtype=str, keep_default_na=False), subjects)
    folders = list(dict.fromkeys(cohort["subject_id"] + "/" + cohort["timepoint"]))
    part_of = {f: i // per_part for i, f in enumerate(folders)}
    keys = (cohort["subject_id"] + "/" + cohort["timepoint"]).map(part_of)
    out = root / f"merge_{subjects}"
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for number, part in cohort.groupby(keys):
        parts.append(out / f"series_{number + 1}.csv")
        part.to_csv(parts[-1], index=False)
    start = time.perf_counter()
    subprocess.run([str(BIN / "petvoi"), "-q", "index", "--merge", *map(str, parts), "-o", str(out / "series.csv")],
                   check=True, capture_output=True)
    return time.perf_counter() - start, len(parts)


def _tables(results: Path) -> dict[str, bytes]:
    return {str(p.relative_to(results)): p.read_bytes() for p in sorted(results.rglob("*"))
            if p.suffix in (".csv", ".parquet") and not {"benchmarks", "logs"} & set(p.relative_to(results).parts)}


def _slot_times(job_ids: list[int]) -> dict[int, float]:
    """EndTime - StartTime of each SLURM job, from slurmctld's log (the latest lines of each job id)."""
    start: dict[int, datetime] = {}
    end: dict[int, datetime] = {}
    # started by the main scheduler ("sched: Allocate JobId=N") or by backfill ("_start_job: Started JobId=N")
    pattern = re.compile(r"^\[([0-9T:.-]+)\] (?:sched: Allocate JobId=(\d+)|sched/backfill: _start_job: Started "
                         r"JobId=(\d+)|_job_complete: JobId=(\d+) done)")
    for line in SLURMCTLD_LOG.read_text(errors="replace").splitlines():
        match = pattern.match(line)
        if match:
            stamp = datetime.fromisoformat(match[1])
            if match[4]:
                end[int(match[4])] = stamp
            else:
                start[int(match[2] or match[3])] = stamp
    missing = [j for j in job_ids if j not in start or j not in end]
    if missing:
        raise RuntimeError(f"slurmctld log {SLURMCTLD_LOG} lacks start or end of SLURM jobs {missing}")
    return {j: (end[j] - start[j]).total_seconds() for j in job_ids}


#: The cohort rules, run again at N_TRIAL on the largest run's results replicated (in DAG order; the marker finds the
#: rule's command line in the run's snakemake output).
TAIL_RULES = {"recist": "recist", "pk": "pk",
              "cohort_table/uptake": "/uptake.csv' -o ", "cohort_table/texture": "/texture.csv' -o ",
              "cohort_table/heterogeneity": "/heterogeneity.csv' -o ", "cohort_deltas": "/deltas.csv' -o ",
              "inter_lesion": "spread", "stats": "stats", "cohort_report": "report --cohort"}


def _is_rule(command: str, marker: str) -> bool:
    """Whether a printed shell command is the tail rule of ``marker``: a petvoi command name (after the global
    options, e.g. ``--deidentify FILE``; ``report --cohort``: with that option), or a text in the command."""
    from pipeline.cli.chain import _command

    if "/" in marker:
        return marker in command
    name, *option = marker.split()
    argv = shlex.split(command.split(" > ", 1)[0])[1:]
    return _command(argv) == name and all(o in argv for o in option)


def _replicate(frame: pd.DataFrame, subjects: int) -> pd.DataFrame:
    """The rows of ``frame`` for ``subjects`` subjects: subject i is a copy of the run's subject i mod n, renamed
    ``P0001``, ``P0002``, ... (lesion ids stay: the clinical tables are replicated the same way)."""
    import pandas as pd

    originals = sorted(frame["subject_id"].astype(str).unique())
    copies = []
    for i in range(subjects):
        rows = frame[frame["subject_id"].astype(str) == originals[i % len(originals)]].copy()
        rows["subject_id"] = f"P{i + 1:04d}"
        for column in ("study_uid", "series_uid", "path"):  # unique per copy where the table has them
            if column in rows:
                rows[column] = rows[column].astype(str) + f".{i}"
        copies.append(rows)
    return pd.concat(copies, ignore_index=True)


def _cohort_tail_at(run: Run, data: Path, subjects: int, root: Path) -> dict[str, float]:
    """Wall seconds of the cohort rules (:data:`TAIL_RULES`) at ``subjects`` subjects: the run's clinical tables,
    cohort tables and per-subject deltas replicated (:func:`_replicate`), its study folders linked (subject i's
    studies are those of the run's subject i mod n), and the command lines the run's snakemake printed (paths
    moved to the copy, ``--subject`` lists extended)."""
    import pandas as pd

    results = root / f"local_{run.subjects}" / "results"
    new_data, new_results = root / f"data_{subjects}x", root / f"tail_{subjects}" / "results"
    for folder in (new_data, new_results / "cohort"):
        folder.mkdir(parents=True, exist_ok=True)
    for name in ("samples.tsv", "dosing.csv", "ihc.csv", "recist.csv", "histology.csv", "outcomes.csv"):
        sep = "\t" if name.endswith(".tsv") else ","
        table = pd.read_csv(data / name, sep=sep, dtype=str, keep_default_na=False)
        _replicate(table, subjects).to_csv(new_data / name, sep=sep, index=False)
    # the sheet the cohort rules read (rule cohort_samples: the sample sheet less the studies that failed)
    sheet = pd.read_csv(results / "cohort" / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    _replicate(sheet, subjects).to_csv(new_results / "cohort" / "samples.tsv", sep="\t", index=False)
    for table_path in sorted((results / "cohort").glob("*.parquet")):
        _replicate(pd.read_parquet(table_path), subjects).to_parquet(new_results / "cohort" / table_path.name)
    originals = sorted(pd.read_csv(data / "samples.tsv", sep="\t", dtype=str)["subject_id"].unique())
    for i in range(subjects):
        source, target = results / originals[i % len(originals)], new_results / f"P{i + 1:04d}"
        target.mkdir(parents=True, exist_ok=True)
        for study in (f for f in source.iterdir() if f.is_dir()):
            if not (target / study.name).exists():
                (target / study.name).symlink_to(study)
        if (source / "deltas.csv").is_file():
            deltas = pd.read_csv(source / "deltas.csv", dtype=str, keep_default_na=False)
            deltas.assign(subject_id=target.name).to_csv(target / "deltas.csv", index=False)
    subject_args = " ".join(f"--subject P{i + 1:04d}" for i in range(subjects))
    config = (results / "config.resolved.yaml").read_text()
    (new_results / "config.resolved.yaml").write_text(config.replace(str(results), str(new_results))
                                                      .replace(str(data), str(new_data)))
    commands = {line.split("Shell command: ", 1)[1] for line in run.output.splitlines() if "Shell command: " in line}
    seconds: dict[str, float] = {}
    for rule, marker in TAIL_RULES.items():  # in DAG order
        command = next((c for c in commands if _is_rule(c, marker)), None)
        if command is None:
            continue
        command = command.replace(str(results), str(new_results)).replace(str(data), str(new_data))
        command = re.sub(r"(?: --subject \S+)+", " " + subject_args, command)
        log = re.search(r"> (\S+) 2>&1$", command)
        if log:
            Path(log.group(1)).parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        proc = subprocess.run(command, shell=True, capture_output=True, text=True)
        seconds[rule] = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"{rule} at N {subjects} failed: {command}\n{proc.stderr[-2000:]}")
    return seconds


def _fit(n: list[int], values: list[float]) -> tuple[float, float]:
    """Least-squares line: (intercept, slope)."""
    slope, intercept = np.polyfit(np.asarray(n, dtype=float), np.asarray(values, dtype=float), 1)
    return float(intercept), float(slope)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, nargs="+", default=[3, 6, 12, 24])
    parser.add_argument("--cores", type=int, default=2, help="cores of the local runs and of a node (default 2)")
    parser.add_argument("--slurm", action="store_true", help="also run through configs/profiles/slurm")
    parser.add_argument("--slurm-subjects", type=int, nargs="+", help="cohorts run on SLURM (default: --subjects)")
    parser.add_argument("--slot-overhead", type=float, default=10.0,
                        help="seconds per cluster job assumed when --slurm does not measure it (default 10)")
    parser.add_argument("--keep", type=Path, help="keep the cohorts and results here")
    args = parser.parse_args()
    sizes = sorted(set(args.subjects))
    if len(sizes) < 2:
        parser.error("--subjects needs two sizes at least (the projection fits lines)")
    root = Path(tempfile.mkdtemp(prefix="bench_cohort_")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()

    data = {n: _synth(n, root) for n in sizes}
    runs = []
    for n in sizes:
        runs.append(_run(n, data[n], root / f"local_{n}", "local", args.cores))
        print(f"  local N={n}: {runs[-1].wall_s:.0f} s", file=sys.stderr, flush=True)
    n_ref = sizes[0]
    ref = _run(n_ref, data[n_ref], root / f"reference_{n_ref}", "local", args.cores,
               jobs={"study_chain": False, "reports_per_job": 1})
    print(f"  reference N={n_ref}: {ref.wall_s:.0f} s", file=sys.stderr, flush=True)

    print(f"Local runs (--cores {args.cores}, configs/profiles/local); study+report = CPU-s of the static studies "
          f"and deltas/patient reports per subject (target <= 8)")
    print(f"{'N':>4} {'jobs':>5} {'jobs/subj':>9} {'wall s':>7} {'rule CPU s':>10} {'CPU/subj':>8} "
          f"{'study+report/subj':>17} {'cohort CPU s':>12}")
    for r in runs:
        print(f"{r.subjects:>4} {r.jobs:>5} {r.jobs / r.subjects:>9.2f} {r.wall_s:>7.1f} {r.cpu_s:>10.1f} "
              f"{r.cpu_s / r.subjects:>8.2f} {r.per_subject:>17.2f} {r.cohort_cpu_s:>12.1f}")
    same = next(r for r in runs if r.subjects == n_ref)
    print(f"reference N={n_ref}, jobs: {{study_chain: false, reports_per_job: 1}}: {ref.jobs} jobs, wall "
          f"{ref.wall_s:.1f} s, rule CPU {ref.cpu_s:.1f} s ({ref.cpu_s / n_ref:.2f}/subject), study+report "
          f"{ref.per_subject:.2f} CPU-s/subject; batched/reference: jobs {same.jobs / ref.jobs:.2f}, study+report "
          f"CPU {same.per_subject / ref.per_subject:.2f}, rule CPU {same.cpu_s / ref.cpu_s:.2f}")

    overheads: list[float] = []
    if args.slurm:
        print("\nSLURM runs (configs/profiles/slurm); overhead = 1 - work / slot time (target <= 20 %)")
        print(f"{'N':>4} {'SLURM jobs':>10} {'SLURM wall s':>12} {'slot s':>8} {'work s':>8} {'overhead':>8} "
              f"{'s/job':>6} {'identical':>9}")
        for n in sorted(set(args.slurm_subjects or sizes)):
            if n not in data:
                data[n] = _synth(n, root)
            try:
                srun = _run(n, data[n], root / f"slurm_{n}", "slurm", args.cores)
                ids = [int(j) for j in re.findall(r"has been submitted with SLURM jobid (\d+)", srun.output)]
                slot = sum(_slot_times(ids).values())
            except RuntimeError as error:
                print(f"{n:>4} SLURM run failed: {error}", flush=True)
                continue
            local = next((r for r in runs if r.subjects == n), None)
            identical = "n/a" if local is None else (
                "yes" if _tables(root / f"local_{n}" / "results") == _tables(root / f"slurm_{n}" / "results")
                else "NO")
            per_job = (slot - srun.work_s) / len(ids)
            overheads.append(per_job)
            print(f"{n:>4} {len(ids):>10} {srun.wall_s:>12.1f} {slot:>8.1f} {srun.work_s:>8.1f} "
                  f"{100 * (1 - srun.work_s / slot):>7.1f}% {per_job:>6.2f} {identical:>9}", flush=True)

    n_runs = [r.subjects for r in runs]
    jobs_fit = _fit(n_runs, [r.jobs for r in runs])
    wall_fit = _fit(n_runs, [r.wall_s for r in runs])
    cpu_fit = _fit(n_runs, [r.cpu_s for r in runs])

    def at(fit: tuple[float, float]) -> float:
        return max(fit[0] + fit[1] * N_TRIAL, 0.0)

    measured = _cohort_tail_at(runs[-1], data[runs[-1].subjects], N_TRIAL, root)

    def rule_at(name: str) -> float:
        """Wall of one cohort rule at N_TRIAL: measured on replicated tables, else projected (0 when no run had it)."""
        if name in measured:
            return measured[name]
        have = [(r.subjects, r.rule_wall[name]) for r in runs if name in r.rule_wall]
        if not have:
            return 0.0
        if len(have) == 1:
            return have[0][1]
        return at(_fit([n for n, _ in have], [w for _, w in have]))

    largest = runs[-1]
    one_node = at(wall_fit)
    cpu500 = at(cpu_fit)
    slots = NODES * args.cores
    studies500 = largest.studies / largest.subjects * N_TRIAL
    folders500 = largest.index_folders / largest.subjects * N_TRIAL
    per_study = sum(r.study_wall_s for r in runs) / sum(r.studies for r in runs)
    per_report = sum(r.report_wall_s for r in runs) / sum(r.subjects for r in runs)
    per_folder = sum(r.index_wall_s for r in runs) / sum(r.index_folders for r in runs)
    spj, rpj, ipj = DEFAULTS["studies_per_job"], DEFAULTS["reports_per_job"], DEFAULTS["index_studies_per_job"]
    n_study_jobs, n_report_jobs = -(-int(studies500) // spj), -(-N_TRIAL // rpj)
    n_index_jobs = -(-int(folders500) // ipj)
    merge_s, n_parts = _merge_seconds(root / f"local_{largest.subjects}" / "results" / "index" / "series.csv",
                                      N_TRIAL, ipj, root)
    overhead = float(np.mean(overheads)) if overheads else args.slot_overhead

    def level(batch: float, unit_wall: float, units: float, n_jobs: int) -> float:
        """One level of batch jobs: max(the slowest batch, all of it over the slots) plus o per wave of jobs."""
        return max(batch, unit_wall * units / slots) + overhead * -(-n_jobs // slots)

    # the slowest batch measured with the same batch size (its mix of static and dynamic studies included); the
    # index was one job in the runs: its wall per folder times the folders of a part
    study_batch = max(r.study_batch_max_s for r in runs)
    report_batch = max(r.report_batch_max_s for r in runs)
    index_level = level(per_folder * ipj, per_folder, folders500, n_index_jobs)
    study_level = level(study_batch, per_study, studies500, n_study_jobs)
    report_level = level(report_batch, per_report, N_TRIAL, n_report_jobs)
    tables = max(rule_at(f"cohort_table/{t}") for t in ("uptake", "texture", "heterogeneity")) + rule_at("inter_lesion")
    via_reports = rule_at("pk") + report_level + rule_at("cohort_deltas")
    tail = rule_at("stats") + rule_at("cohort_report") + overhead  # one SLURM job (group cohort_tail)
    hundred = index_level + merge_s + study_level + max(via_reports, tables) + tail
    jobs500 = n_index_jobs + n_study_jobs + n_report_jobs + 1
    print(f"\nProjection to {N_TRIAL} patients x 2 timepoints (lines over N = {', '.join(map(str, n_runs))}; batch "
          f"sizes of configs/config.yaml: {spj} studies, {rpj} reports, {ipj} index folders per job)")
    print(f"  local jobs = {jobs_fit[0]:.1f} + {jobs_fit[1]:.2f} N; wall = {wall_fit[0]:.1f} + {wall_fit[1]:.2f} N s; "
          f"rule CPU = {cpu_fit[0]:.1f} + {cpu_fit[1]:.2f} N s -> {cpu500:.0f} CPU-s")
    print(f"  one {args.cores}-core node: T1 = wall({N_TRIAL}) = {one_node:.0f} s = {one_node / 60:.1f} min "
          f"(CPU / {args.cores} cores: {cpu500 / args.cores / 60:.1f} min)")
    print(f"  {NODES} nodes x {args.cores} cores ({slots} slots), SLURM jobs at N {N_TRIAL}: {n_index_jobs} index "
          f"parts, {n_study_jobs} study batches, {n_report_jobs} report batches, 1 stats + cohort report = {jobs500} "
          f"(before: 7,850); slot overhead o = {overhead:.1f} s/job ({'measured' if overheads else 'assumed'})")
    print(f"  longest path: index parts {index_level:.1f} s ({per_folder:.2f} s/folder) + merge {merge_s:.1f} s "
          f"({n_parts} parts, measured) + study batches {study_level:.1f} s (slowest batch {study_batch:.1f} s) + "
          f"max(pk {rule_at('pk'):.1f} + report batches {report_level:.1f} (slowest {report_batch:.1f} s) + "
          f"cohort_deltas {rule_at('cohort_deltas'):.1f}, cohort tables + inter_lesion {tables:.1f}) + stats "
          f"{rule_at('stats'):.1f} + cohort report {rule_at('cohort_report'):.1f} + o -> T100 = {hundred:.0f} s = "
          f"{hundred / 60:.1f} min")
    print(f"  measured at N {N_TRIAL} on the largest run's tables replicated: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in measured.items()))
    print(f"  speed-up T1 / T100 = {one_node / hundred:.1f}x (target >= 50x)")
    print(f"  {ISSUE_BEFORE}")
    print(f"bench time {time.perf_counter() - began:.0f} s (cohorts and results in {root}"
          f"{'' if args.keep else ', removed'})")
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
