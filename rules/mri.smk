# mpMRI (config mri:, one row per MR study in its sample sheet mri.samples): VOIs on the MR grid from the study's
# RTSTRUCT, the VFA T1 map, DCE (model fit, semi-quantitative parameters, maps of mri.dce.map_kinds) and DWI
# (IVIM, kurtosis, ADC), a job each or one chain per batch of MR studies (below); the cohort MRI table joins them
# (pipeline/mri/cohort.py). Results under {subject}/mri_{timepoint}/ (pipeline.outputs.TEMPLATES). The stages'
# command lines: rules/commands.smk.
def _mri_synth(wc):
    """The synthetic MR study's truth.json (written by the synth rule) when synth.generate, else nothing."""
    return [str(Path(mri_folder(wc.subject, wc.timepoint)) / "truth.json")] if CFG["synth"]["generate"] else []


_MRI_CONSTRAINTS = {"subject": "[A-Za-z0-9][A-Za-z0-9_-]*", "timepoint": "[A-Za-z0-9][A-Za-z0-9_-]*"}


rule mri_vois:
    input:
        _mri_synth,
    output:
        vois=path("mri_vois"),
        catalogue=path("mri_vois_json"),
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        args=mri_command("mri_vois"),
    log:
        log_file("mri_vois/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_vois/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule mri_t1:
    input:
        _mri_synth,
    output:
        path("mri_t1"),
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        args=mri_command("mri_t1"),
    log:
        log_file("mri_t1/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_t1/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule mri_dce:
    input:
        vois=path("mri_vois"),
        t1=path("mri_t1"),
    output:
        table=path("mri_dce"),
        sidecar=path("mri_dce_json"),
        curves=path("mri_dce_curves"),
        precontrast=path("mri_precontrast"),
        maps=[path("mri_dce_map", map=m) for m in MRI_DCE_MAPS],
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        args=mri_command("mri_dce"),
    threads: MRI["workers"]
    resources:
        **job_resources("mri_dce"),
    log:
        log_file("mri_dce/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_dce/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule mri_dwi:
    input:
        vois=path("mri_vois"),
    output:
        table=path("mri_dwi"),
        sidecar=path("mri_dwi_json"),
        maps=[path("mri_dwi_map", map=m) for m in MRI_DWI_MAPS],
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        args=mri_command("mri_dwi"),
    threads: MRI["workers"]
    resources:
        **job_resources("mri_dwi"),
    log:
        log_file("mri_dwi/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_dwi/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule mri_normalise:
    input:
        image=path("mri_precontrast"),
        vois=path("mri_vois"),
    output:
        path("mri_precontrast_z"),
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        args=mri_command("mri_normalise"),
    log:
        log_file("mri_normalise/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_normalise/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule mri_texture:
    input:
        image=path("mri_precontrast_z"),
        vois=path("mri_vois"),
    output:
        path("mri_texture"),
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        args=mri_command("mri_texture"),
    log:
        log_file("mri_texture/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_texture/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule mri_cohort:
    input:
        sheet=MRI["samples"] or [],
        studies=[path(name, subject=s, timepoint=t) for s, t in MRI_STUDIES
                 for name in ("mri_vois", "mri_t1", "mri_dce", "mri_dwi") + (("mri_texture",) if MRI_TEXTURE else ())],
    output:
        table=path("mri_table"),
        texture=[path("mri_texture_table")] if MRI_TEXTURE else [],
    params:
        texture=f" --texture-output {shlex.quote(path('mri_texture_table'))}" if MRI_TEXTURE else "",
    log:
        log_file("mri_cohort"),
    benchmark:
        benchmark_file("mri_cohort")
    shell:
        "{PETVOI} mri-cohort --mri-samples {input.sheet:q} --results {RESULTS:q}{params.texture}"
        " -o {output.table:q} > {log:q} 2>&1"


# The maps as DICOM Parametric Maps referencing their MR series (config export.dicom), one job per series.
for _kind, _maps in MRI_MAPS.items():

    rule:
        name:
            f"mri_export_{_kind}"
        input:
            [path(f"mri_{_kind}_map", map=m) for m in _maps],
        output:
            [path("mri_dicom_map", map=m) for m in _maps],
        wildcard_constraints:
            **_MRI_CONSTRAINTS,
        params:
            args=mri_command(f"mri_export_{_kind}"),
        log:
            log_file(f"mri_export_{_kind}/{{subject}}_{{timepoint}}"),
        benchmark:
            benchmark_file(f"mri_export_{_kind}/{{subject}}_{{timepoint}}")
        shell:
            "{PETVOI} {params.args} > {log:q} 2>&1"


# With jobs.study_chain (the default), an MR study's stages (MRI_STAGES: vois, T1, DCE, DWI, normalise, texture,
# exports) run as one `petvoi chain`, MR studies in batches of jobs.studies_per_job (rules mri_studies_1, ...):
# one process and, on a cluster, one SLURM job per batch, like the PET study batches (rules/study.smk). The
# command lines are the stage rules' (rules/commands.smk). With --keep-going a failing MR study skips only its own
# remaining stages; the batch job fails, and its studies run again next time.
_MRI_OUTPUTS = {
    "vois": ("mri_vois", "mri_vois_json"),
    "t1": ("mri_t1",),
    "dce": ("mri_dce", "mri_dce_json", "mri_dce_curves", "mri_precontrast"),
    "dwi": ("mri_dwi", "mri_dwi_json"),
    "texture": ("mri_precontrast_z", "mri_texture") if MRI_TEXTURE else (),
}

if CFG["jobs"]["study_chain"] and MRI_STUDIES:
    MRI_BATCHES = batches(MRI_STUDIES, STUDIES_PER_JOB)
    for _number, _batch in enumerate(MRI_BATCHES, 1):

        rule:
            name:
                f"mri_studies_{_number}"
            input:
                [f for s, t in _batch for f in _mri_synth(SimpleNamespace(subject=s, timepoint=t))],
            output:
                **{key: [path(n, subject=s, timepoint=t) for s, t in _batch for n in names]
                   for key, names in _MRI_OUTPUTS.items() if names},
                maps=[path(f"mri_{kind}_map", subject=s, timepoint=t, map=m) for s, t in _batch
                      for kind, maps in MRI_MAPS.items() for m in maps],
                dicom_maps=[path("mri_dicom_map", subject=s, timepoint=t, map=m) for s, t in _batch
                            for m in MRI_DCE_MAPS + MRI_DWI_MAPS] if EXPORT else [],
            params:
                steps=mri_steps(_batch),
            threads: MRI["workers"]
            resources:
                **job_resources("mri_study"),
            log:
                log_file(f"mri_study/batch_{_number}"),
            benchmark:
                benchmark_file(f"mri_study/batch_{_number}")
            shell:
                "{PETVOI} chain --keep-going {params.steps} > {log:q} 2>&1"

        for _stage in MRI_STAGES:
            workflow.ruleorder(f"mri_studies_{_number}", _stage)
