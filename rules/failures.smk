# The cohort's sample sheet: the sheet without the studies whose stage failed in an earlier run (their failure
# records in results/failed, written by the study chains; see FAILED in rules/common.smk), and
# failed_studies.csv (subject, timepoint, rule, reason), which the cohort report shows on its first page. Every
# rule built from the cohort reads this sheet, so its tables, statistics and reports come from the studies that
# succeeded. A local rule: a second-long table.
rule cohort_samples:
    input:
        samples=CFG["samples"],
        records=FAILURE_RECORDS,
    output:
        samples=COHORT_SAMPLES,
        failed=path("failed_studies"),
    params:
        records=" ".join(shlex.quote(r) for r in FAILURE_RECORDS),
    resources:
        **job_resources("cohort_samples"),
    log:
        log_file("cohort_samples"),
    benchmark:
        benchmark_file("cohort_samples")
    shell:
        "{PETVOI} failures {params.records} --samples {input.samples:q} --samples-out {output.samples:q}"
        " -o {output.failed:q} > {log:q} 2>&1"


localrules:
    cohort_samples,
