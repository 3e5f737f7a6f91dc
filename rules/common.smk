# Shared by every rule module: the validated configuration, the studies of the sample sheet, the results paths
# (from pipeline.outputs.TEMPLATES, the one table the package uses too) and the small helpers the rules call.
import os
import re
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import yaml

from pipeline.config import check_dynamic_studies, config_hash, load_mri_sheet, load_sample_sheet
from pipeline.dicom.folders import study_folders
from pipeline.dicom.select import select_series
from pipeline.failures import read_failures
from pipeline.mri.maps import MAP_PARAMETERS
from pipeline.outputs import STUDY_FOLDER, TEMPLATES
from pipeline.workflow import deid_arguments, killed_jobs, load_workflow_config, no_exit_wait, policy_arguments

# Validated exactly as `petvoi check` validates it: a bad key or value is reported by its YAML path.
CFG = load_workflow_config(config, source="snakemake config")
DATA_ROOT = Path(CFG["data_root"])
RESULTS = Path(CFG["results"])
SYNTH_DONE = DATA_ROOT / "dicom" / ".synth.complete"
if CFG["synth"]["generate"]:
    # The synthetic cohort's sample sheet and clinical tables, written now when missing or of another cohort: the
    # rules are planned from the sheet. Its DICOM comes from the synth rule (rerun when it is of another cohort).
    from pipeline.synthetic import ensure_workflow_sheets

    ensure_workflow_sheets(CFG, done_marker=SYNTH_DONE)
SHEET_ALL = load_sample_sheet(CFG["samples"])
# generated blood tables appear with the synth rule
check_dynamic_studies(CFG, SHEET_ALL, source=CFG["samples"], check_files=not CFG["synth"]["generate"])
# Studies whose stage failed in an earlier run (a failure record each, written by their chain): left out of this
# run, so that the cohort tables, statistics and reports are built from the studies that succeeded; the rule
# cohort_samples writes the sheet without them and failed_studies.csv. Deleting a record runs the study again.
FAILURES = RESULTS / TEMPLATES["failures"]
FAILURE_RECORDS = sorted(str(p) for p in FAILURES.glob("*.json")) if FAILURES.is_dir() else []
_sheet_studies = set(zip(SHEET_ALL["subject_id"], SHEET_ALL["timepoint"]))
FAILED = {(r["subject_id"], r["timepoint"]): r for r in read_failures(FAILURE_RECORDS)
          if (r["subject_id"], r["timepoint"]) in _sheet_studies}
for (_s, _t), _r in sorted(FAILED.items()):
    print(f"petvoi: {_s}/{_t} left out: its {_r['rule']} failed in an earlier run ({_r['reason']}); delete "
          f"{FAILURES / (_s + '_' + _t + '.json')} to run it again", file=sys.stderr)
SHEET = SHEET_ALL[[(s, t) not in FAILED for s, t in zip(SHEET_ALL["subject_id"], SHEET_ALL["timepoint"])]]

_static = SHEET[SHEET["acquisition"] == "static"]
_dynamic = SHEET[SHEET["acquisition"] == "dynamic"]
STUDIES = list(zip(_static["subject_id"], _static["timepoint"]))  # static studies: uptake, texture, response
DYNAMIC = list(zip(_dynamic["subject_id"], _dynamic["timepoint"]))  # dynamic studies: tacs, kinetics
ALL_STUDIES = list(zip(SHEET["subject_id"], SHEET["timepoint"]))
SUBJECTS = sorted(_static["subject_id"].unique())  # reports are per subject with static studies
# the sample sheet of everything built from the cohort (the sheet without the failed studies: rule cohort_samples)
COHORT_SAMPLES = str(RESULTS / TEMPLATES["cohort_samples"])
# subjects with several static scans: the pk rule finds those taken after one injection (from suv.json)
MULTI_SCAN_SUBJECTS = sorted(s for s, n in _static["subject_id"].value_counts().items() if n >= 2)
MULTI_SCAN_STUDIES = [(s, t) for s, t in STUDIES if s in MULTI_SCAN_SUBJECTS]
BLOOD = {(r.subject_id, r.timepoint): r.blood for r in _dynamic.itertuples() if r.blood}
NUCLIDE = {(r.subject_id, r.timepoint): r.nuclide for r in SHEET.itertuples()}
DYNAMIC_WITH_BLOOD = [study for study in DYNAMIC if study in BLOOD]
# MR studies (config mri.samples; rules/mri.smk): their sheet rows by (subject, timepoint)
MRI_SHEET = load_mri_sheet(CFG["mri"]["samples"]) if CFG["mri"]["samples"] else None
MRI_ROW = {} if MRI_SHEET is None else {(r["subject_id"], r["timepoint"]): r for r in MRI_SHEET.to_dict("records")}
MRI_STUDIES = list(MRI_ROW)
# the voxel maps of each MR study: the DCE model's parameters, the ADC and IVIM maps, and the kurtosis maps of the
# joint IVIM-kurtosis fit (other methods add them only when the series reaches b = 1500, unknown when planning)
MRI_DCE_MAPS = list(MAP_PARAMETERS[CFG["mri"]["dce"]["model"]])
MRI_DWI_MAPS = ["adc", "ivim_f", "ivim_d", "ivim_dstar"] + (
    ["dki_d", "dki_k"] if CFG["mri"]["dwi"]["ivim_method"] == "ivim-dki" else [])
MRI_MAPS = {"dce": MRI_DCE_MAPS, "dwi": MRI_DWI_MAPS}  # by the series they come from (and are exported against)

# The console script of the interpreter running Snakemake (works without an activated venv and on SLURM nodes),
# with the configuration's bad-value policy as global options.
_exe = Path(sys.executable).with_name("petvoi")
# With deidentify: true, every command pseudonymises UIDs and shifts dates (pipeline/deid.py); per-study commands
# name their subject (--as-subject, study_subject below).
GLOBAL_OPTIONS = " ".join(filter(None, [policy_arguments(CFG), deid_arguments(CFG)]))
PETVOI = " ".join(filter(None, [shlex.quote(str(_exe)) if _exe.exists()
                                else f"{shlex.quote(sys.executable)} -m pipeline.cli", GLOBAL_OPTIONS]))


def study_subject(subject):
    """``--as-subject SUBJECT`` before a per-study command when de-identifying (its dates' shift), else nothing."""
    return f"--as-subject {shlex.quote(subject)} " if CFG["deidentify"] else ""
# The validated, merged configuration as one file (provenance, and what `petvoi stats`/`report` read), written
# when the run starts; the rules that read it rerun when CONFIG_DIGEST changes.
RESOLVED_CONFIG = str(RESULTS / TEMPLATES["config_resolved"])
CONFIG_DIGEST = config_hash(CFG)


def path(name, **fields):
    """The results path ``name`` of pipeline.outputs.TEMPLATES; placeholders not in ``fields`` stay wildcards."""
    return str(RESULTS / re.sub(r"\{(\w+)\}", lambda m: str(fields.get(m.group(1), m.group(0))), TEMPLATES[name]))


def batches(items, size):
    """``items`` in as few consecutive lists of at most ``size`` as possible, of sizes that differ by one at most
    (the studies or subjects of one batch rule's job: 14 studies at 8 per job are 7 + 7, not 8 + 6)."""
    n = -(-len(items) // size)
    bounds = [round(i * len(items) / n) for i in range(n + 1)] if n else [0]
    return [items[a:b] for a, b in zip(bounds, bounds[1:])]


def per_study(name, studies=None):
    """The results path ``name`` of every static (subject, timepoint), or of every study of ``studies``."""
    return [path(name, subject=s, timepoint=t) for s, t in (STUDIES if studies is None else studies)]


def log_file(job):
    """The log of one job: ``job`` is the rule, or ``rule/{subject}_{timepoint}`` for a per-study job."""
    return path("log", job=job)


def benchmark_file(job):
    """The benchmark (run time, memory) of one job, named like its log."""
    return path("benchmark", job=job)


def repo_path(value):
    """A config path as given, or relative to the workflow folder (for files shipped in configs/)."""
    p = Path(value)
    return str(p if p.is_absolute() or p.exists() else Path(workflow.basedir) / p)


def series_index(wildcards):
    """The input function of the series index (the checkpoint's output), for every rule whose params read it.

    The index must be an input *through the checkpoint*, not its plain path: Snakemake then knows that the
    job depends on the checkpoint and re-evaluates it once the checkpoint's output is known. With the plain
    path, the params that read the index (study_series, voi_sources) are still '<TBD>' in the first DAG pass,
    compare unequal to the recorded params, and mark suv, ct and vois as needing a run; the jobs re-created
    after the checkpoint update are up to date, but every job downstream keeps its reason ("Input files updated
    by another job") and reruns: 75 of 124 jobs after a complete demo run.
    """
    return checkpoints.index.get().output[0]


_INDEX_TABLES = {}


def read_index(index_csv):
    """The series index as a table, read once per version of the file (every study's params read it: reading it
    per call would cost O(studies^2) when snakemake builds the DAG of a large cohort)."""
    stat = os.stat(index_csv)
    key = (str(index_csv), stat.st_mtime_ns, stat.st_size)
    if key not in _INDEX_TABLES:
        _INDEX_TABLES.clear()
        _INDEX_TABLES[key] = pd.read_csv(index_csv, dtype=str, keep_default_na=False)
    return _INDEX_TABLES[key]


def study_series(modality, pattern):
    """The params function of a study's series folder of ``modality``, chosen from the index (a checkpoint)."""

    def choose(wildcards):
        index_csv = checkpoints.index.get().output[0]
        table = read_index(index_csv)
        return select_series(table, wildcards.subject, wildcards.timepoint, modality, pattern, source=index_csv)

    return choose


def voi_sources(wc):
    """`petvoi vois` source options of a study: static as configured; dynamic its SEG, else its RTSTRUCT."""
    if (wc.subject, wc.timepoint) not in DYNAMIC:
        sources = []
        if CFG["vois"]["rtstruct"]:
            sources.append("--rtstruct " + shlex.quote(study_series("RTSTRUCT", CFG["vois"]["rtstruct_description"])(wc)))
        if CFG["vois"]["spheres"]:
            sources.append(f"--spheres {shlex.quote(CFG['vois']['spheres'])}")
        if CFG["vois"]["thresholds"]:
            sources.append(f"--threshold {shlex.quote(CFG['vois']['thresholds'])}")
        return " ".join(sources)
    index_csv = checkpoints.index.get().output[0]
    table = read_index(index_csv)
    study = table[(table["subject_id"] == wc.subject) & (table["timepoint"] == wc.timepoint)]
    modality = "SEG" if (study["modality"] == "SEG").any() else "RTSTRUCT"
    option = "--seg" if modality == "SEG" else "--rtstruct"
    return f"{option} " + shlex.quote(select_series(table, wc.subject, wc.timepoint, modality, "", source=index_csv))


def blood_table(wc):
    """The study's blood table (sample sheet column `blood`, relative to data_root), or nothing."""
    value = BLOOD.get((wc.subject, wc.timepoint))
    return [str(Path(value) if Path(value).is_absolute() else DATA_ROOT / value)] if value else []


def blood_options(wc):
    """The blood-input options of `petvoi kinetics`/`parametric` from the config (empty without a blood table)."""
    k = CFG["kinetics"]
    blood = blood_table(wc)
    if not blood:
        return ""
    opts = [f"--blood {shlex.quote(blood[0])}", f"--input-kind {k['input_kind']}",
            f"--nuclide {NUCLIDE[(wc.subject, wc.timepoint)]}", f"--parent-model {k['parent_model']}",
            f"--ratio-model {k['ratio_model']}", f"--dispersion-tau {k['dispersion_tau_s']}", f"--delay {k['delay']}"]
    if not k["blood_decay_corrected"]:
        opts.append("--blood-not-decay-corrected")
    if k["delay"] == "fit":
        opts.append(f"--delay-voi {shlex.quote(k['delay_voi'] or '')}")
    if k["idif_voi"]:
        opts += [f"--idif {shlex.quote(k['idif_voi'])}", f"--idif-min-time {k['idif_min_time_min']}"]
    return " ".join(opts)


def subject_report_inputs(wc):
    """Every per-study file the patient report of one subject reads."""
    files = [path("deltas", subject=wc.subject), path("response_bor")]
    for s, t in STUDIES:
        if s == wc.subject:
            files += [path(n, subject=s, timepoint=t) for n in ("suv", "vois", "uptake", "heterogeneity",
                                                                *EXPORT_OUTPUTS)]  # listed in the report
    for s, t in DYNAMIC:  # the kinetics section
        if s == wc.subject:
            files += [path(n, subject=s, timepoint=t) for n in ("tacs", "kinetics", "kinetics_json")]
    if wc.subject in MULTI_SCAN_SUBJECTS:  # the multi-day PK section
        files += [path("pk"), path("pk_points")]
    for s, t in MRI_STUDIES:  # the MRI section
        if s == wc.subject:
            files += [path(n, subject=s, timepoint=t) for n in ("mri_vois", "mri_t1", "mri_dce", "mri_dce_curves",
                                                                "mri_dwi")]
    return files


wildcard_constraints:
    subject="|".join(re.escape(s) for s in sorted(SHEET_ALL["subject_id"].unique())),
    timepoint="|".join(re.escape(t) for t in sorted(SHEET_ALL["timepoint"].unique())),


def write_resolved_config():
    """Write the validated configuration to RESOLVED_CONFIG when the run starts (onstart), if it changed."""
    text = yaml.safe_dump(CFG, sort_keys=True)
    target = Path(RESOLVED_CONFIG)
    if not target.is_file() or target.read_text() != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def job_resources(rule):
    """The resources of one rule's jobs: config jobs.resources.<rule> over jobs.resources.default, and the
    configured SLURM partition and account (none requested when null: the cluster's defaults).

    mem_mb and runtime are what the SLURM executor requests (--mem, --time); override one rule's value with
    ``snakemake --set-resources RULE:mem_mb=N`` (``--default-resources`` would replace every default).
    """
    jobs = CFG["jobs"]
    res = {**jobs["resources"]["default"], **jobs["resources"].get(rule, {})}
    if jobs["partition"]:
        res["slurm_partition"] = jobs["partition"]
    if jobs["account"]:
        res["slurm_account"] = jobs["account"]
    return res


def check_job_resources():
    """Refuse a jobs.resources key that names no rule (a typo would silently leave the default in place)."""
    from pipeline.errors import ConfigError

    # and the rules a config may leave out, "report" for every report_N batch, "mri_study" for every mri_studies_N
    names = {r.name for r in workflow.rules} | {"synth", "study", "dynamic_study", "report", "mri_study", "export",
                                                "fetch", "push", "export_maps"}
    unknown = sorted(set(CFG["jobs"]["resources"]) - names - {"default"})
    if unknown:
        raise ConfigError(f"no rule is named {unknown[0]!r}", source="snakemake config",
                          attribute=f"jobs.resources.{unknown[0]}",
                          remedy=f"use default or a rule name: {', '.join(sorted(names))}")


def check_slurm_submission():
    """Before a run with the SLURM executor: sbatch is there, and the partition asked for exists.

    A missing sbatch, or a partition named in jobs.partition or $SBATCH_PARTITION that the cluster lacks, would
    otherwise fail every job's submission later (``sbatch: error: invalid partition specified``); each is
    refused here in one line naming the setting and the fix, before any job is submitted (called by onstart, once
    the executor is known; not in the snakemake started inside a job).
    """
    import os
    import shutil
    import subprocess

    from pipeline.errors import ConfigError

    plugin = workflow.executor_plugin
    if plugin is None or getattr(plugin, "name", "") != "slurm" or workflow.remote_exec:
        return
    if shutil.which("sbatch") is None:
        raise ConfigError("the SLURM executor needs sbatch, which is not on the PATH (not a SLURM login node)",
                          source="configs/profiles/slurm", attribute="executor",
                          remedy="run on the cluster's login node, or locally: snakemake --configfile "
                                 "configs/config.yaml --workflow-profile configs/profiles/local")
    asked = [(key, value) for key, value in (("jobs.partition", CFG["jobs"]["partition"]),
                                             ("$SBATCH_PARTITION", os.environ.get("SBATCH_PARTITION")))
             if value]
    if not asked:
        return
    try:
        listed = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigError(f"sinfo cannot list the partitions: {exc}", source="SLURM", attribute=asked[0][0],
                          remedy="check that slurmctld answers (sinfo)") from None
    partitions = sorted({p.strip().rstrip("*") for p in listed.stdout.split() if p.strip()})
    for key, value in asked:
        for name in str(value).split(","):
            if name and name not in partitions:
                raise ConfigError(f"SLURM has no partition {name!r} (sinfo lists: {', '.join(partitions)})",
                                  source="snakemake config" if key.startswith("jobs") else "environment",
                                  attribute=key,
                                  remedy="name one of those, or leave it unset (null) for the cluster's default "
                                         "partition")


def explain_cluster_failures(log):
    """After a failed run (onerror): one line per SLURM job killed for memory or time (pipeline.workflow.killed_jobs),
    naming the rule, its studies or subjects, the resource and how to raise it. ``log``: the run's snakemake log
    file(s)."""
    import sys

    logs = [log] if isinstance(log, (str, Path)) else list(log or [])  # snakemake passes a list
    try:
        text = "\n".join(Path(p).read_text(encoding="utf-8", errors="replace") for p in logs)
    except OSError:
        return
    batches = {"index": globals().get("INDEX_PARTS"), "study": globals().get("STUDY_BATCHES"),
               "mri_study": globals().get("MRI_BATCHES"), "report": globals().get("REPORT_BATCHES")}
    for job in killed_jobs(text):
        key, where = job.resource_key, job.wildcards
        if batches.get(key) and re.search(r"_\d+$", job.rule):  # a batch rule: what its job holds
            items = batches[key][int(job.rule.rsplit("_", 1)[1]) - 1]
            if key == "index":
                where = f"folders of {len(items)} studies"
            elif key == "report":
                where = "subjects " + ", ".join(items)
            else:
                where = ("MR studies " if key == "mri_study" else "studies ") + ", ".join(f"{s}/{t}" for s, t in items)
        value = job_resources(key).get(job.resource)
        print(job.message(where, value), file=sys.stderr)


def explain_failed_studies():
    """After a failed run (onerror): the studies whose stage failed in this run (new failure records), and that
    running the same command again builds the cohort tables, statistics and reports from the other studies."""
    records = sorted(FAILURES.glob("*.json")) if FAILURES.is_dir() else []
    new = [r for r in read_failures(records) if (r["subject_id"], r["timepoint"]) not in FAILED]
    for r in new:
        print(f"petvoi: {r['subject_id']}/{r['timepoint']} failed in {r['rule']}: {r['reason']}", file=sys.stderr)
    if new:
        print(f"petvoi: {len(new)} stud{'y' if len(new) == 1 else 'ies'} failed (records in {FAILURES}); run the "
              "same command again: the cohort tables, statistics and reports are then built from the other "
              f"studies, and {path('failed_studies')} lists the failed ones", file=sys.stderr)
