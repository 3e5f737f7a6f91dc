# Header-only index of the cohort's DICOM tree: one row per series, labelled with the sheet's subject IDs.
checkpoint index:
    input:
        samples=CFG["samples"],
        synth=[str(SYNTH_DONE)] if CFG["synth"]["generate"] else [],
    output:
        RESULTS / "index" / "series.csv",
    params:
        root=str(DATA_ROOT / "dicom"),
        data_root=str(DATA_ROOT),
        workers=CFG["index"]["workers"],
    threads: 2
    log:
        RESULTS / "logs" / "index.log",
    benchmark:
        RESULTS / "benchmarks" / "index.tsv"
    shell:
        "{PETVOI} index {params.root} -o {output} --samples {input.samples} --data-root {params.data_root}"
        " --workers {params.workers} > {log} 2>&1"
