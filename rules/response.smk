# Baseline vs on-treatment changes with PERCIST/EORTC per subject, their cohort table, and RECIST 1.1/iRECIST.
rule deltas:
    input:
        samples=CFG["samples"],
        uptake=lambda wc: [str(RESULTS / wc.subject / t / "uptake.csv") for s, t in STUDIES if s == wc.subject],
        mapping=[CFG["deltas"]["mapping"]] if CFG["deltas"]["mapping"] else [],
    output:
        RESULTS / "{subject}" / "deltas.csv",
    params:
        template=lambda wc: str(RESULTS / "{subject}" / "{timepoint}"),  # filled by petvoi
        reference=CFG["deltas"]["reference"],
        mapping=lambda wc, input: f"--mapping {input.mapping[0]}" if input.mapping else "",
        one_cycle="--eortc-after-one-cycle" if CFG["deltas"]["eortc_after_one_cycle"] else "",
    log:
        RESULTS / "logs" / "deltas" / "{subject}.log",
    benchmark:
        RESULTS / "benchmarks" / "deltas" / "{subject}.tsv"
    shell:
        "{PETVOI} deltas --samples {input.samples} --subject {wildcards.subject} --template {params.template:q}"
        " --reference {params.reference} {params.mapping} {params.one_cycle} -o {output} > {log} 2>&1"


rule cohort_deltas:
    input:
        samples=CFG["samples"],
        tables=[str(RESULTS / s / "deltas.csv") for s in SUBJECTS],
    output:
        RESULTS / "cohort" / "deltas.parquet",
    params:
        template=lambda wc: str(RESULTS / "{subject}" / "deltas.csv"),  # filled by petvoi
    log:
        RESULTS / "logs" / "cohort_deltas.log",
    benchmark:
        RESULTS / "benchmarks" / "cohort_deltas.tsv"
    shell:
        "{PETVOI} collect --samples {input.samples} --template {params.template:q} -o {output} > {log} 2>&1"


rule recist:
    input:
        repo_path(CFG["recist"]["measurements"]),
    output:
        timepoints=RESULTS / "cohort" / "response.csv",
        bor=RESULTS / "cohort" / "response_bor.csv",
    params:
        confirm="--confirm" if CFG["recist"]["confirm"] else "",
        confirm_days=CFG["recist"]["confirm_days"],
        sd_min_days=CFG["recist"]["sd_min_days"],
    log:
        RESULTS / "logs" / "recist.log",
    benchmark:
        RESULTS / "benchmarks" / "recist.tsv"
    shell:
        "{PETVOI} recist {input} {params.confirm} --confirm-days {params.confirm_days}"
        " --sd-min-days {params.sd_min_days} --bor-output {output.bor} -o {output.timepoints} > {log} 2>&1"


rule stats:
    input:
        config=CONFIG_FILES,
        uptake=RESULTS / "cohort" / "uptake.parquet",
        deltas=RESULTS / "cohort" / "deltas.parquet",
        bor=RESULTS / "cohort" / "response_bor.csv",
        heterogeneity=RESULTS / "cohort" / "heterogeneity.parquet",
        inter_lesion=RESULTS / "cohort" / "inter_lesion.parquet",
        clinical=[repo_path(p) for p in CFG["clinical"].values() if p],
    output:
        stats=report(RESULTS / "cohort" / "stats.csv", caption="../report/stats.rst", category="Statistics"),
        biodistribution=report(RESULTS / "cohort" / "biodistribution.csv", category="Statistics"),
        figures=report(directory(RESULTS / "cohort" / "figures"), patterns=["{name}.png"],
                       caption="../report/figure.rst", category="Figures"),
    params:
        clinical=" ".join(f"--{k} {repo_path(v)}" for k, v in CFG["clinical"].items() if v),
    log:
        RESULTS / "logs" / "stats.log",
    benchmark:
        RESULTS / "benchmarks" / "stats.tsv"
    shell:
        "{PETVOI} stats --config {STATS_CONFIG} --uptake {input.uptake} --deltas {input.deltas} --bor {input.bor}"
        " --heterogeneity {input.heterogeneity} --inter-lesion {input.inter_lesion} {params.clinical}"
        " --figures {output.figures} -o {output.stats} > {log} 2>&1"
