# VOI set per study (RTSTRUCT from the index, plus configured spheres and thresholds), uptake per VOI, and the
# cohort tables. A dynamic study takes its SEG (or RTSTRUCT) only.
rule vois:
    input:
        suv=path("suv"),
        index=series_index,  # through the checkpoint: see series_index
        rules=[CFG["vois"]["name_rules"]] if CFG["vois"]["name_rules"] else [],
    output:
        vois=path("vois"),
        catalogue=path("vois_json"),
    params:
        args=stage_command("vois"),
    resources:
        **job_resources("vois"),
    log:
        log_file("vois/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("vois/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule uptake:
    input:
        suv=path("suv"),
        vois=path("vois"),
    output:
        path("uptake"),
    params:
        args=stage_command("uptake"),
    resources:
        **job_resources("uptake"),
    log:
        log_file("uptake/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("uptake/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule cohort_table:
    input:
        samples=COHORT_SAMPLES,
        tables=lambda wc: per_study(wc.table),
    output:
        path("cohort_table"),
    wildcard_constraints:
        table="uptake|texture|heterogeneity",
    params:
        template=lambda wc: path(wc.table),  # {subject}/{timepoint} filled by petvoi
    resources:
        **job_resources("cohort_table"),
    log:
        log_file("cohort_table/{table}"),
    benchmark:
        benchmark_file("cohort_table/{table}")
    shell:
        "{PETVOI} collect --samples {input.samples:q} --template {params.template:q} -o {output:q} > {log:q} 2>&1"
