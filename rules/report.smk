# Per-patient and cohort reports (HTML + PDF).
def _subject_inputs(wc):
    files = [str(RESULTS / wc.subject / "deltas.csv"), str(RESULTS / "cohort" / "response_bor.csv")]
    for s, t in STUDIES:
        if s == wc.subject:
            files += [str(RESULTS / s / t / n) for n in ("suv.nii.gz", "vois.nii.gz", "uptake.csv",
                                                        "heterogeneity.csv")]
    for s, t in DYNAMIC:  # the kinetics section
        if s == wc.subject:
            files += [str(RESULTS / s / t / n) for n in ("tacs.csv", "kinetics.csv", "kinetics.json")]
    return files


rule report:
    input:
        config=CONFIG_FILES,
        samples=CFG["samples"],
        studies=_subject_inputs,
    output:
        html=report(RESULTS / "reports" / "{subject}.html", category="Reports", labels={"subject": "{subject}"}),
        pdf=RESULTS / "reports" / "{subject}.pdf",
    log:
        RESULTS / "logs" / "report" / "{subject}.log",
    benchmark:
        RESULTS / "benchmarks" / "report" / "{subject}.tsv"
    shell:
        "{PETVOI} report {wildcards.subject} --config {input.config} --samples {input.samples}"
        " --results {RESULTS} > {log} 2>&1"


rule cohort_report:
    input:
        config=CONFIG_FILES,
        samples=CFG["samples"],
        stats=RESULTS / "cohort" / "stats.csv",
        deltas=RESULTS / "cohort" / "deltas.parquet",
        uptake=RESULTS / "cohort" / "uptake.parquet",
    output:
        html=report(RESULTS / "reports" / "cohort.html", category="Reports", labels={"subject": "cohort"}),
        pdf=RESULTS / "reports" / "cohort.pdf",
    log:
        RESULTS / "logs" / "cohort_report.log",
    benchmark:
        RESULTS / "benchmarks" / "cohort_report.tsv"
    shell:
        "{PETVOI} report --cohort --config {input.config} --samples {input.samples} --results {RESULTS} > {log} 2>&1"
