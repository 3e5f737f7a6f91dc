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
        sources=voi_sources,
        rules=lambda wc, input: f"--name-rules {shlex.quote(input.rules[0])}" if input.rules else "",
        inclusion=CFG["vois"]["inclusion"],
    log:
        log_file("vois/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("vois/{subject}_{timepoint}")
    shell:
        "{PETVOI} vois --pet {input.suv:q} {params.sources} {params.rules}"
        " --inclusion {params.inclusion} -o {output.vois:q} > {log} 2>&1"


rule uptake:
    input:
        suv=path("suv"),
        vois=path("vois"),
    output:
        path("uptake"),
    params:
        peak=CFG["uptake"]["peak"],
        keep="" if CFG["uptake"]["exclude_tumours_from_organs"] else "--keep-tumours-in-organs",
        min_voxels=CFG["uptake"]["min_voxels"],
        margin=""
        if CFG["uptake"]["tumour_margin_mm"] is None
        else f"--tumour-margin-mm {CFG['uptake']['tumour_margin_mm']}",
        liver=CFG["uptake"]["liver_reference"],
    log:
        log_file("uptake/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("uptake/{subject}_{timepoint}")
    shell:
        "{PETVOI} uptake --suv {input.suv:q} --vois {input.vois:q} --peak {params.peak} {params.keep}"
        " --min-voxels {params.min_voxels} {params.margin} --liver-reference {params.liver}"
        " -o {output:q} > {log} 2>&1"


rule cohort_table:
    input:
        samples=CFG["samples"],
        tables=lambda wc: per_study(wc.table),
    output:
        path("cohort_table"),
    wildcard_constraints:
        table="uptake|texture|heterogeneity",
    params:
        template=lambda wc: path(wc.table),  # {subject}/{timepoint} filled by petvoi
    log:
        log_file("cohort_{table}"),
    benchmark:
        benchmark_file("cohort_{table}")
    shell:
        "{PETVOI} collect --samples {input.samples:q} --template {params.template:q} -o {output:q} > {log} 2>&1"
