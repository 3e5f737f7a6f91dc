# Header-only index of the cohort's DICOM tree: one row per series, labelled with the sheet's subject IDs.
checkpoint index:
    input:
        samples=CFG["samples"],
        synth=[str(SYNTH_DONE)] if CFG["synth"]["generate"] else [],
    output:
        path("series_index"),
    params:
        root=str(DATA_ROOT / "dicom"),
        data_root=str(DATA_ROOT),
    threads: CFG["index"]["workers"]  # header readers (processes for large trees); capped by --cores
    resources:
        **job_resources("index"),
    log:
        log_file("index"),
    benchmark:
        benchmark_file("index")
    shell:
        "{PETVOI} index {params.root:q} -o {output:q} --samples {input.samples:q} --data-root {params.data_root:q}"
        " --workers {threads} > {log} 2>&1"
