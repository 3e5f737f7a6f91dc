# PET decoding + SUV, and CT to HU, per subject and timepoint; the series of each study is chosen from the index.
rule suv:
    input:
        index=series_index,  # through the checkpoint: see series_index
        dosing=[CFG["suv"]["dosing"]] if CFG["suv"]["dosing"] else [],
    output:
        suv=path("suv"),
        sidecar=path("suv_json"),
    params:
        args=stage_command("suv"),
    threads: 2
    resources:
        **job_resources("suv"),
    log:
        log_file("suv/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("suv/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule ct:
    input:
        index=series_index,  # through the checkpoint: see series_index
    output:
        ct=path("ct"),
        sidecar=path("ct_json"),
    params:
        args=stage_command("ct"),
    threads: 2
    resources:
        **job_resources("ct"),
    log:
        log_file("ct/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("ct/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"
