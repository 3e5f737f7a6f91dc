# Per-patient and cohort reports (HTML + PDF).
rule report:
    input:
        samples=CFG["samples"],
        studies=subject_report_inputs,
    output:
        html=report(path("patient_report"), category="Reports", labels={"subject": "{subject}"}),
        pdf=path("patient_report_pdf"),
    params:
        config=RESOLVED_CONFIG,
        digest=CONFIG_DIGEST,  # reruns when the configuration changes
    log:
        log_file("report/{subject}"),
    benchmark:
        benchmark_file("report/{subject}")
    shell:
        "{PETVOI} report {wildcards.subject} --config {params.config:q} --samples {input.samples:q}"
        " --results {RESULTS:q} > {log} 2>&1"


rule cohort_report:
    input:
        samples=CFG["samples"],
        stats=path("stats"),
        deltas=path("cohort_table", table="deltas"),
        uptake=path("cohort_table", table="uptake"),
        response=path("response"),  # swimmer plot
    output:
        html=report(path("cohort_report"), category="Reports", labels={"subject": "cohort"}),
        pdf=path("cohort_report_pdf"),
    params:
        config=RESOLVED_CONFIG,
        digest=CONFIG_DIGEST,
    log:
        log_file("cohort_report"),
    benchmark:
        benchmark_file("cohort_report")
    shell:
        "{PETVOI} report --cohort --config {params.config:q} --samples {input.samples:q} --results {RESULTS:q}"
        " > {log} 2>&1"
