# The petvoi command line of each per-study stage (static: suv, ct, vois, uptake, texture, heterogeneity; dynamic:
# suv, vois, tacs, kinetics, parametric) and of each subject's deltas and report, from the wildcards and the
# configuration: one owner for the stage rules (a job per stage) and the chain rules (study, studies_N,
# dynamic_study, report_N: the same command lines as one `petvoi chain`). Every path is shell-quoted here; the
# rules add only the log redirection.
# The config's dask scheduler is not part of a command (DASK_ARGS below).
from pipeline.parallel import dask_arguments, local_workers

# The config's dask scheduler (pipeline/parallel.py). Not a param: tables are identical on every scheduler, so
# switching it reruns nothing; a rule whose tasks run elsewhere (tcp://, slurm) needs one local core.
DASK_ARGS = dask_arguments(CFG)
TEXTURE_WORKERS = local_workers(CFG, CFG["texture"]["workers"])
EXPORT = CFG["export"]["dicom"]  # DICOM outputs (petvoi export) as the last stage of every static study
STATIC_STAGES = ("suv", "ct", "vois", "uptake", "texture", "heterogeneity") + (("export",) if EXPORT else ())
EXPORT_OUTPUTS = (("dicom_seg", "dicom_sr") + (("dicom_pm",) if CFG["export"]["parametric_map"] else ())
                  if EXPORT else ())
_q = shlex.quote


def _stage_args(stage, wc, threads):
    """``petvoi`` arguments (after the global options) of one stage of the study ``wc``."""
    return study_subject(wc.subject) + _static_stage_args(stage, wc, threads)


def _static_stage_args(stage, wc, threads):
    s, t = wc.subject, wc.timepoint
    out = lambda name: _q(path(name, subject=s, timepoint=t))
    if stage == "suv":
        dosing = CFG["suv"]["dosing"]
        opts = f" --dosing {_q(dosing)} --subject {_q(s)} --timepoint {_q(t)}" if dosing else ""
        series = study_series("PT", CFG["series"]["pt_description"])(wc)
        return (f"suv {_q(series)} -o {out('suv')} --kind {_q(CFG['suv']['kind'])}"
                f" --lbm-formula {_q(CFG['suv']['lbm_formula'])}{opts} --workers {threads}")
    if stage == "ct":
        series = study_series("CT", CFG["series"]["ct_description"])(wc)
        return f"ct {_q(series)} -o {out('ct')} --workers {threads}"
    if stage == "vois":
        v = CFG["vois"]
        rules = f" --name-rules {_q(v['name_rules'])}" if v["name_rules"] else ""
        return (f"vois --pet {out('suv')} {voi_sources(wc)}{rules} --inclusion {_q(v['inclusion'])}"
                f" -o {out('vois')}")
    if stage == "uptake":
        u = CFG["uptake"]
        keep = "" if u["exclude_tumours_from_organs"] else " --keep-tumours-in-organs"
        margin = "" if u["tumour_margin_mm"] is None else f" --tumour-margin-mm {u['tumour_margin_mm']}"
        return (f"uptake --suv {out('suv')} --vois {out('vois')} --peak {_q(u['peak'])}{keep}"
                f" --min-voxels {u['min_voxels']}{margin} --liver-reference {_q(u['liver_reference'])}"
                f" -o {out('uptake')}")
    if stage == "texture":
        params = repo_path(CFG["texture"]["params"])
        return (f"texture --image {out('suv')} --vois {out('vois')} --params {_q(params)}"
                f" --kinds {_q(CFG['texture']['kinds'])} --workers {min(threads, TEXTURE_WORKERS)}"
                f" -o {out('texture')}")
    if stage == "heterogeneity":
        return (f"heterogeneity --suv {out('suv')} --vois {out('vois')}"
                f" --bin-width {CFG['heterogeneity']['bin_width']} -o {out('heterogeneity')}")
    if stage == "export":
        series = study_series("PT", CFG["series"]["pt_description"])(wc)
        order = [tp for subject, tp in STUDIES if subject == s].index(t) + 1
        pm = "" if CFG["export"]["parametric_map"] else " --no-parametric-map"
        folder = _q(str(Path(path("suv", subject=s, timepoint=t)).parent))
        return (f"export --pet {_q(series)} --study {folder} --subject {_q(s)} --timepoint {_q(t)}"
                f" --timepoint-order {order}{pm}")
    raise ValueError(f"not a static-study stage: {stage}")


def stage_command(stage):
    """The params function of one stage's command line (its arguments: a param, so a change reruns the stage)."""
    return lambda wildcards, threads: _stage_args(stage, wildcards, threads)


def study_steps(wildcards, threads):
    """The params function of the ``petvoi chain`` steps of one static study: ``--study SUBJECT TIMEPOINT`` (its
    failure record names it) and ``--step LOG COMMAND`` per stage."""
    return _study_marker(wildcards) + " ".join(chain_step(log_file(f"{st}/{wildcards.subject}_{wildcards.timepoint}"),
                               _stage_args(st, wildcards, threads)) for st in STATIC_STAGES)


def _study_marker(wc):
    """``--study SUBJECT TIMEPOINT``: the chain steps after it are this study's (a new group of the chain)."""
    return f"--study {_q(wc.subject)} {_q(wc.timepoint)} "


# Where a study chain writes the failure record of a study whose stage fails (pipeline/failures.py).
CHAIN_FAILURES = f"--failures {_q(str(FAILURES))}"


def batch_steps(studies):
    """The params function of the chain steps of several studies (static, or dynamic with blood), each study a
    ``--study``."""

    def steps(wildcards, threads):
        return " ".join((dynamic_steps if (s, t) in DYNAMIC else study_steps)(
            SimpleNamespace(subject=s, timepoint=t), threads) for s, t in studies)

    return steps


# The config's dask options, appended by `petvoi chain` to its texture and parametric steps: not part of a param
# (see DASK_ARGS).
CHAIN_APPEND = f"--append {_q('texture ' + DASK_ARGS)} --append {_q('parametric ' + DASK_ARGS)}"


def deltas_args(subject):
    """``petvoi deltas`` arguments of one subject (baseline vs on-treatment changes, PERCIST/EORTC)."""
    d = CFG["deltas"]
    mapping = f" --mapping {_q(d['mapping'])}" if d["mapping"] else ""
    one_cycle = " --eortc-after-one-cycle" if d["eortc_after_one_cycle"] else ""
    return (f"deltas --samples {_q(COHORT_SAMPLES)} --subject {_q(subject)} --template {_q(str(RESULTS / STUDY_FOLDER))}"
            f" --reference {_q(d['reference'])}{mapping}{one_cycle} -o {_q(path('deltas', subject=subject))}")


def report_args(subject):
    """``petvoi report`` arguments of one subject's patient report."""
    return (f"report {_q(subject)} --config {_q(RESOLVED_CONFIG)} --samples {_q(COHORT_SAMPLES)}"
            f" --results {_q(str(RESULTS))}")


def chain_step(log, args):
    """One ``--step LOG COMMAND`` of ``petvoi chain`` (the configuration's global options first)."""
    return f"--step {_q(log)} {_q(' '.join(filter(None, [GLOBAL_OPTIONS, args])))}"


# with export.dicom, a dynamic study with blood ends with its parametric maps as DICOM Parametric Maps
DYNAMIC_STAGES = ("suv", "vois", "tacs", "kinetics", "parametric") + (("export",) if EXPORT else ())


def _dynamic_args(stage, wc, threads):
    """``petvoi`` arguments of one stage of the dynamic study ``wc`` (suv and vois as for a static study)."""
    if stage in ("suv", "vois"):
        return _stage_args(stage, wc, threads)
    return study_subject(wc.subject) + _kinetics_stage_args(stage, wc, threads)


def _kinetics_stage_args(stage, wc, threads):
    s, t = wc.subject, wc.timepoint
    if stage == "export":
        series = study_series("PT", CFG["series"]["pt_description"])(wc)
        folder = _q(str(Path(path("suv", subject=s, timepoint=t)).parent))
        return f"export --pet {_q(series)} --study {folder} --subject {_q(s)} --timepoint {_q(t)}"
    out = lambda name, **more: _q(path(name, subject=s, timepoint=t, **more))
    k = CFG["kinetics"]
    blood = blood_options(wc)
    if stage == "tacs":
        return f"tacs --pet4d {out('suv')} --vois {out('vois')} -o {out('tacs')}"
    if stage == "kinetics":
        opts = [f"--model {_q(m)}" for m in k["models"]]
        if k["reference"]:
            opts.append(f"--reference {_q(k['reference'])}")
        opts += [f"--exclude {_q(v)}" for v in k["exclude"]]
        if k["t_star_min"] is not None:
            opts.append(f"--t-star {k['t_star_min']}")
        return " ".join(["kinetics", f"--tacs {out('tacs')}", *opts, blood, f"-o {out('kinetics')}"])
    if stage == "parametric":
        maps = " ".join(f"--map {_q(m)}" for m in k["parametric"])
        folder = _q(str(Path(path("parametric_json", subject=s, timepoint=t)).parent))
        return (f"parametric --pet4d {out('suv')} --tacs {out('tacs')} {maps} --t-star {k['parametric_t_star_min']}"
                f" {blood} --workers {threads} -o {folder}")
    raise ValueError(f"not a dynamic-study stage: {stage}")


def dynamic_command(stage):
    """The params function of one dynamic stage's command line (a param: a change reruns the stage)."""
    return lambda wildcards, threads: _dynamic_args(stage, wildcards, threads)


def dynamic_steps(wildcards, threads):
    """The params function of the ``petvoi chain`` steps of one dynamic study with blood (suv ... parametric)."""
    return _study_marker(wildcards) + " ".join(chain_step(log_file(f"{st}/{wildcards.subject}_{wildcards.timepoint}"),
                               _dynamic_args(st, wildcards, threads)) for st in DYNAMIC_STAGES)


# MR studies (rules/mri.smk; the MR sample sheet, config mri.samples): the command line of each MR stage, for the
# stage rules (a job per stage) and the mri_studies_N chains alike.
MRI = CFG["mri"]
MRI_TEXTURE = MRI["texture"]["enabled"]
MRI_STAGES = (("mri_vois", "mri_t1", "mri_dce", "mri_dwi") + (("mri_normalise", "mri_texture") if MRI_TEXTURE else ())
              + (("mri_export_dce", "mri_export_dwi") if EXPORT else ()))


def mri_folder(s, t, series=None):
    """The folder of the MR study (subject ``s``, timepoint ``t``), or of its ``series`` (config mri.series)."""
    row = MRI_ROW[(s, t)]
    folder = Path(row["dicom"]) if Path(row["dicom"]).is_absolute() else DATA_ROOT / row["dicom"]
    return str(folder / MRI["series"][series]) if series else str(folder)


def _mri_args(stage, wc, threads):
    """``petvoi`` arguments (after the global options) of one stage of the MR study ``wc``."""
    s, t = wc.subject, wc.timepoint
    out = lambda name, **more: _q(path(name, subject=s, timepoint=t, **more))
    # an output's folder (a {map} placeholder left in the file name does not matter)
    folder = lambda name: _q(str(Path(path(name, subject=s, timepoint=t)).parent))
    series = lambda kind: _q(mri_folder(s, t, kind))
    if stage == "mri_vois":
        return (f"{study_subject(s)}mri-vois --series {series('dce')} --rtstruct {series('rtstruct')}"
                f" -o {out('mri_vois')}")
    if stage == "mri_t1":
        return f"{study_subject(s)}mri-t1 --vfa {series('vfa')} -o {out('mri_t1')}"
    if stage == "mri_dce":
        row, dce = MRI_ROW[(s, t)], MRI["dce"]
        aif = (f"--bolus-arrival {dce['bolus_arrival_s']}" if dce["aif"] == "parker"
               else f"--aif-voi {_q(dce['aif'])}")
        return (f"{study_subject(s)}mri-dce --dce {series('dce')} --vois {out('mri_vois')} --t10-map {out('mri_t1')}"
                f" --agent {_q(row.get('agent') or dce['agent'])} --hct {row.get('hct') or dce['hct']}"
                f" --model {dce['model']} --baseline-phases {dce['baseline_phases']} {aif}"
                f" --map-kinds {' '.join(_q(k) for k in dce['map_kinds'])} --workers {threads} -o {folder('mri_dce')}")
    if stage == "mri_dwi":
        dwi = MRI["dwi"]
        return (f"{study_subject(s)}mri-dwi --dwi {series('dwi')} --vois {out('mri_vois')}"
                f" --ivim-method {dwi['ivim_method']} --b-threshold {dwi['b_threshold']}"
                f" --adc-range {' '.join(str(v) for v in dwi['adc_range'])}"
                f" --map-kinds {' '.join(_q(k) for k in dwi['map_kinds'])} --workers {threads}"
                f" -o {folder('mri_dwi')}")
    if stage == "mri_normalise":
        return (f"mri-normalise --image {out('mri_precontrast')} --vois {out('mri_vois')}"
                f" --reference {_q(MRI['texture']['reference'])} -o {out('mri_precontrast_z')}")
    if stage == "mri_texture":
        return (f"texture --image {out('mri_precontrast_z')} --vois {out('mri_vois')}"
                f" --params {_q(repo_path(MRI['texture']['params']))} --kinds {_q(MRI['texture']['kinds'])}"
                f" -o {out('mri_texture')}")
    if stage in ("mri_export_dce", "mri_export_dwi"):
        kind = stage.rsplit("_", 1)[1]
        maps = " ".join(out(f"mri_{kind}_map", map=m) for m in MRI_MAPS[kind])
        return f"{study_subject(s)}mri-export --series {series(kind)} --map {maps} -o {folder('mri_dicom_map')}"
    raise ValueError(f"not an MR stage: {stage}")


def mri_command(stage):
    """The params function of one MR stage's command line (a param: a change reruns the stage)."""
    return lambda wildcards, threads: _mri_args(stage, wildcards, threads)


def mri_steps(studies):
    """The params function of the ``petvoi chain`` steps of several MR studies, each study a ``--group``."""

    def steps(wildcards, threads):
        return " ".join("--group " + " ".join(chain_step(log_file(f"{st}/{s}_{t}"),
                                                         _mri_args(st, SimpleNamespace(subject=s, timepoint=t),
                                                                   threads)) for st in MRI_STAGES)
                        for s, t in studies)

    return steps
