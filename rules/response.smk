# Baseline vs on-treatment changes with PERCIST/EORTC: the cohort table, RECIST 1.1/iRECIST, and the
# trial statistics.
# The deltas of each subject are written by its patient-report batch (rules report_N, rules/report.smk).
rule cohort_deltas:
    input:
        samples=COHORT_SAMPLES,
        tables=[path("deltas", subject=s) for s in SUBJECTS],
    output:
        path("cohort_table", table="deltas"),
    params:
        template=lambda wc: path("deltas"),  # {subject} filled by petvoi
    resources:
        **job_resources("cohort_deltas"),
    log:
        log_file("cohort_deltas"),
    benchmark:
        benchmark_file("cohort_deltas")
    shell:
        "{PETVOI} collect --samples {input.samples:q} --template {params.template:q} -o {output:q} > {log:q} 2>&1"


rule recist:
    input:
        repo_path(CFG["recist"]["measurements"]),
    output:
        timepoints=path("response"),
        bor=path("response_bor"),
    params:
        confirm="--confirm" if CFG["recist"]["confirm"] else "",
        confirm_days=CFG["recist"]["confirm_days"],
        sd_min_days=CFG["recist"]["sd_min_days"],
    resources:
        **job_resources("recist"),
    log:
        log_file("recist"),
    benchmark:
        benchmark_file("recist")
    shell:
        "{PETVOI} recist {input:q} {params.confirm} --confirm-days {params.confirm_days}"
        " --sd-min-days {params.sd_min_days} --bor-output {output.bor:q} -o {output.timepoints:q} > {log:q} 2>&1"


rule stats:
    input:
        uptake=path("cohort_table", table="uptake"),
        deltas=path("cohort_table", table="deltas"),
        bor=path("response_bor"),
        heterogeneity=path("cohort_table", table="heterogeneity"),
        inter_lesion=path("cohort_table", table="inter_lesion"),
        clinical=[repo_path(p) for p in CFG["clinical"].values() if p],
        mri=[path("mri_table")] if MRI_STUDIES else [],
    output:
        stats=report(path("stats"), caption="../report/stats.rst", category="Statistics"),
        biodistribution=[report(path("biodistribution"), category="Statistics")]
        if CFG["analyses"]["biodistribution"]["enabled"] else [],
        figures=report(directory(path("figures")), patterns=["{name}.png"], caption="../report/figure.rst",
                       category="Figures"),
    params:
        config=RESOLVED_CONFIG,
        digest=CONFIG_DIGEST,  # reruns when the configuration changes
        clinical=" ".join(f"--{k} {shlex.quote(repo_path(v))}" for k, v in CFG["clinical"].items() if v),
        mri=f" --mri {shlex.quote(path('mri_table'))}" if MRI_STUDIES else "",
    resources:
        **job_resources("stats"),
    log:
        log_file("stats"),
    benchmark:
        benchmark_file("stats")
    shell:
        "{PETVOI} stats --config {params.config:q} --uptake {input.uptake:q} --deltas {input.deltas:q}"
        " --bor {input.bor:q} --heterogeneity {input.heterogeneity:q} --inter-lesion {input.inter_lesion:q}"
        " {params.clinical}{params.mri} --figures {output.figures:q} -o {output.stats:q} > {log:q} 2>&1"
