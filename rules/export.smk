# DICOM outputs of a static study (config export.dicom): the VOIs as SEG, the uptake as a TID 1500 SR and the SUV
# as a Parametric Map, each referencing the study's PET series. The last step of the study chains (rules/study.smk);
# this rule runs it when every stage is its own job (jobs.study_chain: false).
if EXPORT:

    rule export:
        input:
            index=series_index,  # through the checkpoint: see series_index
            suv=path("suv"),
            suv_json=path("suv_json"),
            vois=path("vois"),
            uptake=path("uptake"),
        output:
            **{name: path(name) for name in EXPORT_OUTPUTS},
        wildcard_constraints:
            subject=_study_constraint(STUDIES),
        params:
            args=stage_command("export"),
        resources:
            **job_resources("export"),
        log:
            log_file("export/{subject}_{timepoint}"),
        benchmark:
            benchmark_file("export/{subject}_{timepoint}")
        shell:
            "{PETVOI} {params.args} > {log:q} 2>&1"

    if DYNAMIC_WITH_BLOOD:

        rule export_maps:
            input:
                index=series_index,  # through the checkpoint: see series_index
                suv=path("suv"),
                maps=[path("parametric_map", map=m) for m in CFG["kinetics"]["parametric"]],
            output:
                [path("dicom_map", map=m) for m in CFG["kinetics"]["parametric"]],
            wildcard_constraints:
                subject=_study_constraint(DYNAMIC_WITH_BLOOD),
            params:
                args=dynamic_command("export"),
            resources:
                **job_resources("export"),
            log:
                log_file("export/{subject}_{timepoint}"),
            benchmark:
                benchmark_file("export/{subject}_{timepoint}")
            shell:
                "{PETVOI} {params.args} > {log:q} 2>&1"
