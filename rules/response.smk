# Baseline vs on-treatment changes with PERCIST/EORTC per subject, their cohort table, RECIST 1.1/iRECIST, and the
# trial statistics.
rule deltas:
    input:
        samples=CFG["samples"],
        uptake=lambda wc: [path("uptake", subject=wc.subject, timepoint=t) for s, t in STUDIES if s == wc.subject],
        mapping=[CFG["deltas"]["mapping"]] if CFG["deltas"]["mapping"] else [],
    output:
        path("deltas"),
    params:
        template=lambda wc: str(RESULTS / STUDY_FOLDER),  # filled by petvoi per study
        reference=CFG["deltas"]["reference"],
        mapping=lambda wc, input: f"--mapping {shlex.quote(input.mapping[0])}" if input.mapping else "",
        one_cycle="--eortc-after-one-cycle" if CFG["deltas"]["eortc_after_one_cycle"] else "",
    log:
        log_file("deltas/{subject}"),
    benchmark:
        benchmark_file("deltas/{subject}")
    shell:
        "{PETVOI} deltas --samples {input.samples:q} --subject {wildcards.subject} --template {params.template:q}"
        " --reference {params.reference} {params.mapping} {params.one_cycle} -o {output:q} > {log} 2>&1"


rule cohort_deltas:
    input:
        samples=CFG["samples"],
        tables=[path("deltas", subject=s) for s in SUBJECTS],
    output:
        path("cohort_table", table="deltas"),
    params:
        template=lambda wc: path("deltas"),  # {subject} filled by petvoi
    log:
        log_file("cohort_deltas"),
    benchmark:
        benchmark_file("cohort_deltas")
    shell:
        "{PETVOI} collect --samples {input.samples:q} --template {params.template:q} -o {output:q} > {log} 2>&1"


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
    log:
        log_file("recist"),
    benchmark:
        benchmark_file("recist")
    shell:
        "{PETVOI} recist {input:q} {params.confirm} --confirm-days {params.confirm_days}"
        " --sd-min-days {params.sd_min_days} --bor-output {output.bor:q} -o {output.timepoints:q} > {log} 2>&1"


rule stats:
    input:
        uptake=path("cohort_table", table="uptake"),
        deltas=path("cohort_table", table="deltas"),
        bor=path("response_bor"),
        heterogeneity=path("cohort_table", table="heterogeneity"),
        inter_lesion=path("cohort_table", table="inter_lesion"),
        clinical=[repo_path(p) for p in CFG["clinical"].values() if p],
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
    log:
        log_file("stats"),
    benchmark:
        benchmark_file("stats")
    shell:
        "{PETVOI} stats --config {params.config:q} --uptake {input.uptake:q} --deltas {input.deltas:q}"
        " --bor {input.bor:q} --heterogeneity {input.heterogeneity:q} --inter-lesion {input.inter_lesion:q}"
        " {params.clinical} --figures {output.figures:q} -o {output.stats:q} > {log} 2>&1"
