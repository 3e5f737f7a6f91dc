"""A SLURM job killed for memory or time, named after a failed run (issue 16, bad input): which jobs of a
snakemake log were killed and why (``pipeline.workflow.killed_jobs``), and the one line that names the rule, what
its job held, the resource and how to raise it. The memory path also runs for real on the loopback cluster
(tests/integration/test_workflow_slurm.py); a real time-limit kill needs a job of more than a minute, so the
TIMEOUT path is checked here on the logs SLURM writes."""

from __future__ import annotations

from pathlib import Path

from pipeline.workflow import KilledJob, killed_jobs


def _block(rule: str, job: int, state: str, slurm_logs: Path, wildcards: str = "") -> str:
    lines = [f"Error in rule {rule}:",
             f"    message: SLURM-job '{job}' failed, SLURM status is: '{state}'. For further error details see the "
             "cluster/cloud log and the log files of the involved rule(s).",
             "    jobid: 2"]
    if wildcards:
        lines.append(f"    wildcards: {wildcards}")
    lines.append(f"    external_jobid: {job}")
    lines.append(f"Logfile {slurm_logs}/rule_{rule}/{job}.log:")
    return "\n".join(lines)


def test_killed_jobs_read_the_state_or_the_jobs_slurm_log(tmp_path: Path) -> None:
    logs = tmp_path / ".snakemake" / "slurm_logs"
    for rule, job, text in (
            ("studies_2", 11, "slurmstepd: error: *** JOB 11 ON vm CANCELLED AT 2026-12-07T09:00:00 DUE TO TIME "
                              "LIMIT ***"),
            ("report_1", 12, "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=12.0."),
            ("mri_studies_1", 13, "petvoi chain: step mri-dce failed (petvoi mri-dce: error: ...)")):
        (logs / f"rule_{rule}").mkdir(parents=True)
        (logs / f"rule_{rule}" / f"{job}.log").write_text(f"...\n{text}\n")
    text = "\n".join([
        "Building DAG of jobs...",
        _block("studies_1", 10, "TIMEOUT", logs),  # with accounting: the state says it
        _block("studies_2", 11, "FAILED", logs),  # without: the job's SLURM log says it
        _block("report_1", 12, "FAILED", logs),
        _block("mri_studies_1", 13, "FAILED", logs),  # failed for another reason: not listed
        _block("dynamic_study", 14, "OUT_OF_MEMORY", logs, wildcards="subject=P01, timepoint=dynamic"),
        "Error in rule cohort_table:\n    message: a local rule failed",  # not a SLURM job
    ])
    assert killed_jobs(text) == [KilledJob("studies_1", "TIMEOUT"), KilledJob("studies_2", "TIMEOUT"),
                                 KilledJob("report_1", "OUT_OF_MEMORY"),
                                 KilledJob("dynamic_study", "OUT_OF_MEMORY", "subject=P01, timepoint=dynamic")]
    assert killed_jobs("Nothing to be done.") == []


def test_the_line_names_the_rule_its_studies_and_the_resource_to_raise() -> None:
    timeout = KilledJob("mri_studies_1", "TIMEOUT")
    assert timeout.resource_key == "mri_study" and timeout.resource == "runtime"
    assert timeout.message("MR studies P03/baseline, P03/on_treatment", 60) == (
        "petvoi: SLURM job of rule mri_studies_1 (MR studies P03/baseline, P03/on_treatment) ran out of time: "
        "runtime=60 min (config jobs.resources.mri_study.runtime); raise it in the config, or for this run: "
        "snakemake ... --set-resources mri_studies_1:runtime=120")
    memory = KilledJob("studies_12", "OUT_OF_MEMORY")
    assert memory.resource_key == "study"
    assert "studies_12 (studies P01/baseline) ran out of memory: mem_mb=6000 MB (config " \
           "jobs.resources.study.mem_mb)" in memory.message("studies P01/baseline", 6000)
    assert KilledJob("index_3", "TIMEOUT").resource_key == "index"
    assert KilledJob("report_2", "TIMEOUT").resource_key == "report"
    assert "rule dynamic_study ran out of memory" in KilledJob("dynamic_study", "OUT_OF_MEMORY").message("", 6000)
