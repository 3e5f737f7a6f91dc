# mpMRI (config mri:, one row per MR study in its sample sheet mri.samples): VOIs on the MR grid from the study's
# RTSTRUCT, the VFA T1 map, DCE (model fit, semi-quantitative parameters, maps of mri.dce.map_kinds) and DWI
# (IVIM, kurtosis, ADC), a job each; the cohort MRI table joins them (pipeline/mri/cohort.py). Results under
# {subject}/mri_{timepoint}/ (pipeline.outputs.TEMPLATES).
MRI = CFG["mri"]


def _mri_folder(wc, series=None):
    row = MRI_ROW[(wc.subject, wc.timepoint)]
    folder = Path(row["dicom"]) if Path(row["dicom"]).is_absolute() else DATA_ROOT / row["dicom"]
    return str(folder / MRI["series"][series]) if series else str(folder)


def _mri_dce_args(wc, threads):
    row, dce = MRI_ROW[(wc.subject, wc.timepoint)], MRI["dce"]
    aif = (f"--bolus-arrival {dce['bolus_arrival_s']}" if dce["aif"] == "parker"
           else f"--aif-voi {shlex.quote(dce['aif'])}")
    return (f"--agent {shlex.quote(row.get('agent') or dce['agent'])} --hct {row.get('hct') or dce['hct']}"
            f" --model {dce['model']} --baseline-phases {dce['baseline_phases']} {aif}"
            f" --map-kinds {' '.join(shlex.quote(k) for k in dce['map_kinds'])} --workers {threads}")


def _mri_synth(wc):
    """The synthetic MR study's truth.json (written by the synth rule) when synth.generate, else nothing."""
    return [str(Path(_mri_folder(wc)) / "truth.json")] if CFG["synth"]["generate"] else []


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
        series=lambda wc: _mri_folder(wc, "dce"),
        rtstruct=lambda wc: _mri_folder(wc, "rtstruct"),
        subject=lambda wc: study_subject(wc.subject),
    log:
        log_file("mri_vois/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_vois/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.subject}mri-vois --series {params.series:q} --rtstruct {params.rtstruct:q}"
        " -o {output.vois:q} > {log:q} 2>&1"


rule mri_t1:
    input:
        _mri_synth,
    output:
        path("mri_t1"),
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        vfa=lambda wc: _mri_folder(wc, "vfa"),
        subject=lambda wc: study_subject(wc.subject),
    log:
        log_file("mri_t1/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_t1/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.subject}mri-t1 --vfa {params.vfa:q} -o {output:q} > {log:q} 2>&1"


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
        series=lambda wc: _mri_folder(wc, "dce"),
        args=_mri_dce_args,
        subject=lambda wc: study_subject(wc.subject),
    threads: MRI["workers"]
    resources:
        **job_resources("mri_dce"),
    log:
        log_file("mri_dce/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_dce/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.subject}mri-dce --dce {params.series:q} --vois {input.vois:q} --t10-map {input.t1:q}"
        " {params.args} -o $(dirname {output.table:q}) > {log:q} 2>&1"


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
        series=lambda wc: _mri_folder(wc, "dwi"),
        method=MRI["dwi"]["ivim_method"],
        b_threshold=MRI["dwi"]["b_threshold"],
        adc=" ".join(str(v) for v in MRI["dwi"]["adc_range"]),
        kinds=" ".join(shlex.quote(k) for k in MRI["dwi"]["map_kinds"]),
        subject=lambda wc: study_subject(wc.subject),
    threads: MRI["workers"]
    resources:
        **job_resources("mri_dwi"),
    log:
        log_file("mri_dwi/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_dwi/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.subject}mri-dwi --dwi {params.series:q} --vois {input.vois:q} --ivim-method {params.method}"
        " --b-threshold {params.b_threshold} --adc-range {params.adc} --map-kinds {params.kinds} --workers {threads}"
        " -o $(dirname {output.table:q}) > {log:q} 2>&1"


rule mri_normalise:
    input:
        image=path("mri_precontrast"),
        vois=path("mri_vois"),
    output:
        path("mri_precontrast_z"),
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        reference=MRI["texture"]["reference"],
    log:
        log_file("mri_normalise/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_normalise/{subject}_{timepoint}")
    shell:
        "{PETVOI} mri-normalise --image {input.image:q} --vois {input.vois:q} --reference {params.reference:q}"
        " -o {output:q} > {log:q} 2>&1"


rule mri_texture:
    input:
        image=path("mri_precontrast_z"),
        vois=path("mri_vois"),
    output:
        path("mri_texture"),
    wildcard_constraints:
        **_MRI_CONSTRAINTS,
    params:
        settings=repo_path(MRI["texture"]["params"]),
        kinds=MRI["texture"]["kinds"],
    log:
        log_file("mri_texture/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("mri_texture/{subject}_{timepoint}")
    shell:
        "{PETVOI} texture --image {input.image:q} --vois {input.vois:q} --params {params.settings:q}"
        " --kinds {params.kinds:q} -o {output:q} > {log:q} 2>&1"


_MRI_TEXTURE = MRI["texture"]["enabled"]


rule mri_cohort:
    input:
        sheet=MRI["samples"] or [],
        studies=[path(name, subject=s, timepoint=t) for s, t in MRI_STUDIES
                 for name in ("mri_vois", "mri_t1", "mri_dce", "mri_dwi") + (("mri_texture",) if _MRI_TEXTURE else ())],
    output:
        table=path("mri_table"),
        texture=[path("mri_texture_table")] if _MRI_TEXTURE else [],
    params:
        texture=f" --texture-output {shlex.quote(path('mri_texture_table'))}" if _MRI_TEXTURE else "",
    log:
        log_file("mri_cohort"),
    benchmark:
        benchmark_file("mri_cohort")
    shell:
        "{PETVOI} mri-cohort --mri-samples {input.sheet:q} --results {RESULTS:q}{params.texture}"
        " -o {output.table:q} > {log:q} 2>&1"


# The maps as DICOM Parametric Maps referencing their MR series (config export.dicom), one job per series.
for _kind, _maps in (("dce", MRI_DCE_MAPS), ("dwi", MRI_DWI_MAPS)):

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
            series=lambda wc, kind=_kind: _mri_folder(wc, kind),
            subject=lambda wc: study_subject(wc.subject),
        log:
            log_file(f"mri_export_{_kind}/{{subject}}_{{timepoint}}"),
        benchmark:
            benchmark_file(f"mri_export_{_kind}/{{subject}}_{{timepoint}}")
        shell:
            "{PETVOI} {params.subject}mri-export --series {params.series:q} --map {input:q} -o $(dirname {output[0]:q})"
            " > {log:q} 2>&1"
