# Texture (IBSI-coded, pyradiomics + petvoi) and heterogeneity per study; inter-lesion spread per cohort.
from pipeline.parallel import dask_arguments, local_workers

# The config's dask scheduler (pipeline/parallel.py). Not a param: tables are identical on every scheduler, so
# switching it reruns nothing; a rule whose tasks run elsewhere (tcp://, slurm) needs one local core.
DASK_ARGS = dask_arguments(CFG)


rule texture:
    input:
        suv=path("suv"),
        vois=path("vois"),
        params=repo_path(CFG["texture"]["params"]),
    output:
        path("texture"),
    params:
        kinds=CFG["texture"]["kinds"],
    threads: local_workers(CFG, CFG["texture"]["workers"])
    log:
        log_file("texture/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("texture/{subject}_{timepoint}")
    shell:
        "{PETVOI} texture --image {input.suv:q} --vois {input.vois:q} --params {input.params:q}"
        " --kinds {params.kinds:q} --workers {threads} {DASK_ARGS} -o {output:q} > {log} 2>&1"


rule heterogeneity:
    input:
        suv=path("suv"),
        vois=path("vois"),
    output:
        path("heterogeneity"),
    params:
        bin_width=CFG["heterogeneity"]["bin_width"],
    log:
        log_file("heterogeneity/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("heterogeneity/{subject}_{timepoint}")
    shell:
        "{PETVOI} heterogeneity --suv {input.suv:q} --vois {input.vois:q} --bin-width {params.bin_width}"
        " -o {output:q} > {log} 2>&1"


rule inter_lesion:
    input:
        path("cohort_table", table="uptake"),
    output:
        path("cohort_table", table="inter_lesion"),
    params:
        positivity=CFG["heterogeneity"]["positivity_threshold"],
    log:
        log_file("inter_lesion"),
    benchmark:
        benchmark_file("inter_lesion")
    shell:
        "{PETVOI} spread --uptake {input:q} --positivity {params.positivity} -o {output:q} > {log} 2>&1"
