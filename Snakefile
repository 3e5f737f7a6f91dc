# petvoi workflow: includes and the targets. Thin rules, each calling one `petvoi` subcommand; the logic lives in
# the package, the shared helpers in rules/common.smk, the results layout in pipeline/outputs/layout.py.
# Run: snakemake --configfile configs/config.yaml --cores 2 --workflow-profile configs/profiles/local
import os

from snakemake.utils import min_version

min_version("8.0")


# The default configuration; --configfile FILE overrides its keys.
configfile: os.path.join(workflow.basedir, "configs", "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/commands.smk"


onerror:
    explain_cluster_failures(log)  # a SLURM job killed for memory or time: rule, studies, resource
    explain_failed_studies()  # studies whose stage failed: run again to build the cohort without them


onstart:
    check_slurm_submission()  # with the SLURM executor: sbatch is there, the partition asked for exists
    write_resolved_config()


# Inside a cluster job (snakemake's remote mode: the job's snakemake and the one it starts through srun) one job
# runs: do not wait at exit for the job rate limiter's re-evaluation timer (pipeline.workflow.no_exit_wait).
if workflow.remote_exec:
    no_exit_wait()


rule all:
    input:
        path("series_index"),
        per_study("suv"),
        per_study("ct"),
        per_study("uptake"),
        [per_study(name) for name in EXPORT_OUTPUTS],
        [path("archive_pushed")] if CFG["archive"]["push"] else [],
        [path("cohort_table", table=t) for t in ("uptake", "texture", "heterogeneity", "inter_lesion", "deltas")],
        path("response"),
        path("stats"),
        [path("patient_report_pdf", subject=s) for s in SUBJECTS],
        path("cohort_report_pdf"),
        path("failed_studies"),
        per_study("kinetics", DYNAMIC),
        [path("parametric_map", subject=s, timepoint=t, map=m) for s, t in DYNAMIC_WITH_BLOOD
         for m in CFG["kinetics"]["parametric"]],
        [path("dicom_map", subject=s, timepoint=t, map=m) for s, t in DYNAMIC_WITH_BLOOD
         for m in CFG["kinetics"]["parametric"]] if EXPORT else [],
        [path("cohort_table", table="kinetics")] if DYNAMIC else [],
        [path("pk")] if MULTI_SCAN_SUBJECTS else [],
        [path("mri_table")] if MRI_STUDIES else [],
        [path("mri_texture_table")] if MRI_STUDIES and CFG["mri"]["texture"]["enabled"] else [],
        [path("mri_dicom_map", subject=s, timepoint=t, map=m) for s, t in MRI_STUDIES
         for m in MRI_DCE_MAPS + MRI_DWI_MAPS] if EXPORT else [],


include: "rules/synth.smk"
include: "rules/index.smk"
include: "rules/failures.smk"
include: "rules/suv.smk"
include: "rules/vois.smk"
include: "rules/texture.smk"
include: "rules/study.smk"
include: "rules/export.smk"
include: "rules/archive.smk"
include: "rules/response.smk"
include: "rules/report.smk"
include: "rules/kinetics.smk"
include: "rules/mri.smk"


# Second-long table rules run on the host of the snakemake run (the login node of a cluster), not as SLURM jobs:
# a job's start would cost more than the rule.
localrules:
    recist,
    cohort_table,
    inter_lesion,
    cohort_deltas,
    cohort_kinetics,
    pk,
    mri_cohort,


# every jobs.resources key names a rule (checked once all rules exist)
check_job_resources()
