# Header-only index of the cohort's DICOM: one row per series, labelled with the sheet's subject IDs. What is
# indexed are the sheet's study folders (column dicom); with more than jobs.index_studies_per_job of them, in
# parts (rules index_1, index_2, ...: jobs that run side by side, on a cluster on different nodes), which the
# checkpoint merges - a second-long job, so the cohort's index does not grow the serial part of a run.
# The checkpoint is a local rule (on a cluster it runs where snakemake runs): the merge, or for a cohort of up to
# jobs.index_studies_per_job studies the whole index - seconds of header reading, less than a job's start.
INDEX_FOLDERS = study_folders(SHEET_ALL, DATA_ROOT)  # failed studies too: the index stays as it was
INDEX_PARTS = batches(INDEX_FOLDERS, CFG["jobs"]["index_studies_per_job"])
_INDEX_INPUTS = dict(samples=CFG["samples"], synth=[str(SYNTH_DONE)] if CFG["synth"]["generate"] else [],
                     fetched=[path("archive_fetched")] if CFG["archive"]["fetch"] else [])
_INDEX_COMMAND = (
    "{PETVOI} index {params.folders} -o {output.index:q} --samples {input.samples:q} --data-root {params.data_root:q}"
    " --workers {threads} > {log:q} 2>&1"
)

if len(INDEX_PARTS) == 1:

    checkpoint index:
        input:
            **_INDEX_INPUTS,
        output:
            index=path("series_index"),
            skipped=path("series_index_skipped"),
        params:
            folders=" ".join(shlex.quote(f) for f in INDEX_FOLDERS),
            data_root=str(DATA_ROOT),
        threads: CFG["index"]["workers"]  # header readers (processes for large trees); capped by --cores
        resources:
            **job_resources("index"),
        log:
            log_file("index"),
        benchmark:
            benchmark_file("index")
        shell:
            _INDEX_COMMAND

    localrules:
        index,

else:
    for _number, _folders in enumerate(INDEX_PARTS, 1):

        rule:
            name:
                f"index_{_number}"
            input:
                **_INDEX_INPUTS,
            output:
                index=path("series_index_part", part=_number),
                skipped=path("series_index_part_skipped", part=_number),
            params:
                folders=" ".join(shlex.quote(f) for f in _folders),
                data_root=str(DATA_ROOT),
            threads: CFG["index"]["workers"]
            resources:
                **job_resources("index"),
            log:
                log_file(f"index/part_{_number}"),
            benchmark:
                benchmark_file(f"index/part_{_number}")
            shell:
                _INDEX_COMMAND

    checkpoint index:
        input:
            parts=[path("series_index_part", part=n) for n in range(1, len(INDEX_PARTS) + 1)],
            skipped=[path("series_index_part_skipped", part=n) for n in range(1, len(INDEX_PARTS) + 1)],
        output:
            index=path("series_index"),
            skipped=path("series_index_skipped"),
        resources:
            **job_resources("index"),
        log:
            log_file("index"),
        benchmark:
            benchmark_file("index")
        shell:
            "{PETVOI} index --merge {input.parts:q} -o {output.index:q} > {log:q} 2>&1"

    localrules:
        index,
