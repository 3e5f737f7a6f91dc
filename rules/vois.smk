# VOI set per study (RTSTRUCT from the index, plus configured spheres and thresholds), uptake per VOI,
# and the cohort uptake table. A dynamic study takes its SEG (or RTSTRUCT) only.


def _voi_sources(wc):
    """`petvoi vois` source options of a study: static as configured; dynamic its SEG, else its RTSTRUCT."""
    if (wc.subject, wc.timepoint) not in DYNAMIC:
        sources = []
        if CFG["vois"]["rtstruct"]:
            sources.append("--rtstruct " + shlex.quote(
                _study_series("RTSTRUCT", CFG["vois"]["rtstruct_description"])(wc)))
        if CFG["vois"]["spheres"]:
            sources.append(f"--spheres {shlex.quote(CFG['vois']['spheres'])}")
        if CFG["vois"]["thresholds"]:
            sources.append(f"--threshold {shlex.quote(CFG['vois']['thresholds'])}")
        return " ".join(sources)
    index_csv = checkpoints.index.get().output[0]
    table = pd.read_csv(index_csv, dtype=str, keep_default_na=False)
    study = table[(table["subject_id"] == wc.subject) & (table["timepoint"] == wc.timepoint)]
    modality = "SEG" if (study["modality"] == "SEG").any() else "RTSTRUCT"
    option = "--seg" if modality == "SEG" else "--rtstruct"
    return f"{option} " + shlex.quote(select_series(table, wc.subject, wc.timepoint, modality, "", source=index_csv))


rule vois:
    input:
        suv=RESULTS / "{subject}" / "{timepoint}" / "suv.nii.gz",
        index=RESULTS / "index" / "series.csv",
        rules=[CFG["vois"]["name_rules"]] if CFG["vois"]["name_rules"] else [],
    output:
        vois=RESULTS / "{subject}" / "{timepoint}" / "vois.nii.gz",
        catalogue=RESULTS / "{subject}" / "{timepoint}" / "vois.json",
    params:
        sources=_voi_sources,
        rules=lambda wc, input: f"--name-rules {input.rules[0]}" if input.rules else "",
        inclusion=CFG["vois"]["inclusion"],
        resample="--allow-resample" if CFG["vois"]["allow_resample"] else "",
    log:
        RESULTS / "logs" / "vois" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "vois" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} vois --pet {input.suv} {params.sources} {params.rules}"
        " --inclusion {params.inclusion} {params.resample} -o {output.vois} > {log} 2>&1"


rule uptake:
    input:
        suv=RESULTS / "{subject}" / "{timepoint}" / "suv.nii.gz",
        vois=RESULTS / "{subject}" / "{timepoint}" / "vois.nii.gz",
    output:
        RESULTS / "{subject}" / "{timepoint}" / "uptake.csv",
    params:
        peak=CFG["uptake"]["peak"],
        keep="" if CFG["uptake"]["exclude_tumours_from_organs"] else "--keep-tumours-in-organs",
        min_voxels=CFG["uptake"]["min_voxels"],
    log:
        RESULTS / "logs" / "uptake" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "uptake" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} uptake --suv {input.suv} --vois {input.vois} --peak {params.peak} {params.keep}"
        " --min-voxels {params.min_voxels} -o {output} > {log} 2>&1"


rule cohort_table:
    input:
        samples=CFG["samples"],
        tables=lambda wc: per_study(f"{wc.table}.csv"),
    output:
        RESULTS / "cohort" / "{table}.parquet",
    wildcard_constraints:
        table="uptake|texture|heterogeneity",
    params:
        template=lambda wc: str(RESULTS / "{subject}" / "{timepoint}" / f"{wc.table}.csv"),  # filled by petvoi
    log:
        RESULTS / "logs" / "cohort_{table}.log",
    benchmark:
        RESULTS / "benchmarks" / "cohort_{table}.tsv"
    shell:
        "{PETVOI} collect --samples {input.samples} --template {params.template:q} -o {output} > {log} 2>&1"
