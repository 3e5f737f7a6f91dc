# The workflow against a DICOM archive (config archive:): with archive.fetch the sample sheet's studies are
# retrieved into data_root before the index (rule fetch: resumable, verified against the archive's instance
# counts); with archive.push every study's DICOM outputs are stored back (rule push). Local rules: network-bound,
# and the archive is reached from where snakemake runs. Credentials come from where the config says (environment
# variable or file), never from the command line.
if CFG["archive"]["fetch"]:

    rule fetch:
        input:
            samples=CFG["samples"],
        output:
            path("archive_fetched"),
        resources:
            **job_resources("fetch"),
        log:
            log_file("fetch"),
        benchmark:
            benchmark_file("fetch")
        shell:
            "{PETVOI} fetch --config {RESOLVED_CONFIG:q} --samples {input.samples:q} --data-root {DATA_ROOT:q}"
            " --record {output:q} > {log:q} 2>&1"

    localrules:
        fetch,


if CFG["archive"]["push"]:

    rule push:
        input:
            [per_study(name) for name in EXPORT_OUTPUTS],
        output:
            path("archive_pushed"),
        resources:
            **job_resources("push"),
        log:
            log_file("push"),
        benchmark:
            benchmark_file("push")
        shell:
            "{PETVOI} push --config {RESOLVED_CONFIG:q} {input:q} --record {output:q} > {log:q} 2>&1"

    localrules:
        push,
