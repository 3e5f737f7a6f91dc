# Texture (IBSI-coded, pyradiomics + petvoi) and heterogeneity per study; inter-lesion spread per cohort.
rule texture:
    input:
        suv=path("suv"),
        vois=path("vois"),
        params=repo_path(CFG["texture"]["params"]),
    output:
        path("texture"),
    params:
        args=stage_command("texture"),
    threads: TEXTURE_WORKERS
    resources:
        **job_resources("texture"),
    log:
        log_file("texture/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("texture/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} {DASK_ARGS} > {log:q} 2>&1"


rule heterogeneity:
    input:
        suv=path("suv"),
        vois=path("vois"),
    output:
        path("heterogeneity"),
    params:
        args=stage_command("heterogeneity"),
    resources:
        **job_resources("heterogeneity"),
    log:
        log_file("heterogeneity/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("heterogeneity/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule inter_lesion:
    input:
        path("cohort_table", table="uptake"),
    output:
        path("cohort_table", table="inter_lesion"),
    params:
        positivity=CFG["heterogeneity"]["positivity_threshold"],
    resources:
        **job_resources("inter_lesion"),
    log:
        log_file("inter_lesion"),
    benchmark:
        benchmark_file("inter_lesion")
    shell:
        "{PETVOI} spread --uptake {input:q} --positivity {params.positivity} -o {output:q} > {log:q} 2>&1"
