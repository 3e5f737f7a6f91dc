# PET decoding + SUV, and CT to HU, per subject and timepoint; the series of each study is chosen from the index.
rule suv:
    input:
        index=series_index,  # through the checkpoint: see series_index
        dosing=[CFG["suv"]["dosing"]] if CFG["suv"]["dosing"] else [],
    output:
        suv=path("suv"),
        sidecar=path("suv_json"),
    params:
        series=study_series("PT", CFG["series"]["pt_description"]),
        kind=CFG["suv"]["kind"],
        lbm=CFG["suv"]["lbm_formula"],
        dosing=lambda wc, input: f"--dosing {shlex.quote(input.dosing[0])} --subject {wc.subject}"
        f" --timepoint {wc.timepoint}" if input.dosing else "",
    threads: 2
    log:
        log_file("suv/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("suv/{subject}_{timepoint}")
    shell:
        "{PETVOI} suv {params.series:q} -o {output.suv:q} --kind {params.kind} --lbm-formula {params.lbm}"
        " {params.dosing} --workers {threads} > {log} 2>&1"


rule ct:
    input:
        index=series_index,  # through the checkpoint: see series_index
    output:
        ct=path("ct"),
        sidecar=path("ct_json"),
    params:
        series=study_series("CT", CFG["series"]["ct_description"]),
    threads: 2
    log:
        log_file("ct/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("ct/{subject}_{timepoint}")
    shell:
        "{PETVOI} ct {params.series:q} -o {output.ct:q} --workers {threads} > {log} 2>&1"
