# petvoi workflow. Thin rules: each calls one `petvoi` subcommand; the logic lives in the package.
# Run: snakemake --configfile configs/config.yaml --cores 2 --workflow-profile configs/profiles/local
import os
import re
import shlex
import sys

import yaml
from pathlib import Path

from snakemake.utils import min_version

from pipeline.config import check_dynamic_studies, load_sample_sheet, validate_config

min_version("8.0")


# The default configuration; --configfile FILE overrides its keys.
configfile: os.path.join(workflow.basedir, "configs", "config.yaml")


report: "report/workflow.rst"


# Validated exactly as the CLI validates it: a bad key or value is reported by its YAML path.
CFG = validate_config(config, source="snakemake config")
DATA_ROOT = Path(CFG["data_root"])
RESULTS = Path(CFG["results"])
SHEET = load_sample_sheet(CFG["samples"])
# generated blood tables appear with the synth rule
check_dynamic_studies(CFG, SHEET, source=CFG["samples"], check_files=not CFG["synth"]["generate"])

# The validated, merged configuration as one file (provenance, and what `petvoi stats --config` reads);
# rewritten only when it changes so that Snakemake's mtime checks stay quiet.
STATS_CONFIG = RESULTS / "config.resolved.yaml"
_resolved = yaml.safe_dump(CFG, sort_keys=True)
if not STATS_CONFIG.is_file() or STATS_CONFIG.read_text() != _resolved:
    STATS_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    STATS_CONFIG.write_text(_resolved)
CONFIG_FILES = [str(STATS_CONFIG)]
_static = SHEET[SHEET["acquisition"] == "static"]
_dynamic = SHEET[SHEET["acquisition"] == "dynamic"]
STUDIES = list(zip(_static["subject_id"], _static["timepoint"]))  # static studies: uptake, texture, response
DYNAMIC = list(zip(_dynamic["subject_id"], _dynamic["timepoint"]))  # dynamic studies: tacs, kinetics
ALL_STUDIES = list(zip(SHEET["subject_id"], SHEET["timepoint"]))
SUBJECTS = sorted(_static["subject_id"].unique())  # reports are per subject with static studies

# The console script of the interpreter running Snakemake (works without an activated venv and on SLURM nodes).
_exe = Path(sys.executable).with_name("petvoi")
PETVOI = str(_exe) if _exe.exists() else f"{sys.executable} -m pipeline.cli"


wildcard_constraints:
    subject="|".join(re.escape(s) for s in sorted(SHEET["subject_id"].unique())),
    timepoint="|".join(re.escape(t) for t in sorted(SHEET["timepoint"].unique())),


SYNTH_DONE = DATA_ROOT / "dicom" / ".synth.complete"
BLOOD = {(r.subject_id, r.timepoint): r.blood for r in _dynamic.itertuples() if r.blood}
NUCLIDE = {(r.subject_id, r.timepoint): r.nuclide for r in SHEET.itertuples()}
DYNAMIC_WITH_BLOOD = [study for study in DYNAMIC if study in BLOOD]


def repo_path(path):
    """A config path as given, or relative to the workflow folder (for files shipped in configs/)."""
    p = Path(path)
    return str(p if p.is_absolute() or p.exists() else Path(workflow.basedir) / p)


def per_study(name, studies=None):
    """One output path per static (subject, timepoint) of the sample sheet, or per study of ``studies``."""
    return [str(RESULTS / s / t / name) for s, t in (STUDIES if studies is None else studies)]


rule all:
    input:
        RESULTS / "index" / "series.csv",
        per_study("suv.nii.gz"),
        per_study("ct.nii.gz"),
        per_study("uptake.csv"),
        [RESULTS / "cohort" / f"{t}.parquet" for t in ("uptake", "texture", "heterogeneity", "inter_lesion",
                                                       "deltas")],
        RESULTS / "cohort" / "response.csv",
        RESULTS / "cohort" / "stats.csv",
        [RESULTS / "reports" / f"{s}.pdf" for s in SUBJECTS],
        RESULTS / "reports" / "cohort.pdf",
        per_study("kinetics.csv", DYNAMIC),
        [RESULTS / s / t / "parametric" / f"{m}.nii.gz" for s, t in DYNAMIC_WITH_BLOOD
         for m in CFG["kinetics"]["parametric"]],
        [RESULTS / "cohort" / "kinetics.parquet"] if DYNAMIC else [],


include: "rules/synth.smk"
include: "rules/index.smk"
include: "rules/suv.smk"
include: "rules/vois.smk"
include: "rules/texture.smk"
include: "rules/response.smk"
include: "rules/report.smk"
include: "rules/kinetics.smk"
