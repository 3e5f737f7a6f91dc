# Per-patient and cohort reports (HTML + PDF).
# Per subject: the deltas (baseline vs on-treatment, PERCIST/EORTC) and the patient report, in batches of
# jobs.reports_per_job subjects. A batch is one `petvoi chain --keep-going` (one process: weasyprint, matplotlib
# and pandas imported once, 2.5 of a lone report's 4.8 CPU-s), each step with its own log (logs/deltas/SUBJECT.log,
# logs/report/SUBJECT.log). Rules report_1, report_2, ...: a batch has fixed outputs, not wildcards.
REPORT_BATCHES = batches(SUBJECTS, CFG["jobs"]["reports_per_job"])
_DELTAS_MAPPING = [CFG["deltas"]["mapping"]] if CFG["deltas"]["mapping"] else []


def _subject_steps(batch):
    return " ".join(chain_step(log_file(f"{stage}/{s}"), args(s)) for s in batch
                    for stage, args in (("deltas", deltas_args), ("report", report_args)))


for _number, _batch in enumerate(REPORT_BATCHES, 1):

    rule:
        name:
            f"report_{_number}"
        input:
            samples=COHORT_SAMPLES,  # deltas and report read it (commands.smk)
            mapping=_DELTAS_MAPPING,
            studies=[f for s in _batch for f in subject_report_inputs(SimpleNamespace(subject=s))
                     if f != path("deltas", subject=s)],
        output:
            deltas=[path("deltas", subject=s) for s in _batch],
            html=[report(path("patient_report", subject=s), category="Reports", labels={"subject": s})
                  for s in _batch],
            pdf=[path("patient_report_pdf", subject=s) for s in _batch],
        params:
            steps=lambda wc, steps=_subject_steps(_batch): steps,  # a function: the text holds {subject}
            digest=CONFIG_DIGEST,  # reruns when the configuration changes
        resources:
            **job_resources("report"),
        log:
            log_file(f"report/batch_{_number}"),
        benchmark:
            benchmark_file(f"report/batch_{_number}")
        shell:
            "{PETVOI} chain --keep-going {params.steps} > {log:q} 2>&1"


rule cohort_report:
    input:
        samples=COHORT_SAMPLES,
        failed=path("failed_studies"),  # listed on the first page
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
    resources:
        **job_resources("cohort_report"),
    log:
        log_file("cohort_report"),
    benchmark:
        benchmark_file("cohort_report")
    shell:
        "{PETVOI} report --cohort --config {params.config:q} --samples {input.samples:q} --results {RESULTS:q}"
        " > {log:q} 2>&1"
