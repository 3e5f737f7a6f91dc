# Texture (IBSI-coded, pyradiomics + petvoi) and heterogeneity per study; inter-lesion spread per cohort.
rule texture:
    input:
        suv=RESULTS / "{subject}" / "{timepoint}" / "suv.nii.gz",
        vois=RESULTS / "{subject}" / "{timepoint}" / "vois.nii.gz",
        params=repo_path(CFG["texture"]["params"]),
    output:
        RESULTS / "{subject}" / "{timepoint}" / "texture.csv",
    params:
        kinds=CFG["texture"]["kinds"],
    threads: CFG["texture"]["workers"]
    log:
        RESULTS / "logs" / "texture" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "texture" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} texture --image {input.suv} --vois {input.vois} --params {input.params} --kinds {params.kinds}"
        " --workers {threads} -o {output} > {log} 2>&1"


rule heterogeneity:
    input:
        suv=RESULTS / "{subject}" / "{timepoint}" / "suv.nii.gz",
        vois=RESULTS / "{subject}" / "{timepoint}" / "vois.nii.gz",
    output:
        RESULTS / "{subject}" / "{timepoint}" / "heterogeneity.csv",
    params:
        bin_width=CFG["heterogeneity"]["bin_width"],
    log:
        RESULTS / "logs" / "heterogeneity" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "heterogeneity" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} heterogeneity --suv {input.suv} --vois {input.vois} --bin-width {params.bin_width}"
        " -o {output} > {log} 2>&1"


rule inter_lesion:
    input:
        RESULTS / "cohort" / "uptake.parquet",
    output:
        RESULTS / "cohort" / "inter_lesion.parquet",
    params:
        positivity=CFG["heterogeneity"]["positivity_threshold"],
    log:
        RESULTS / "logs" / "inter_lesion.log",
    benchmark:
        RESULTS / "benchmarks" / "inter_lesion.tsv"
    shell:
        "{PETVOI} spread --uptake {input} --positivity {params.positivity} -o {output} > {log} 2>&1"
