# PET decoding + SUV, and CT to HU, per subject and timepoint. The series of each study is chosen from the
# index (a checkpoint) by pipeline.dicom.select.select_series.
import pandas as pd

from pipeline.dicom.select import select_series


def _study_series(modality, pattern):
    def choose(wildcards):
        index_csv = checkpoints.index.get().output[0]
        table = pd.read_csv(index_csv, dtype=str, keep_default_na=False)
        return select_series(table, wildcards.subject, wildcards.timepoint, modality, pattern, source=index_csv)

    return choose


rule suv:
    input:
        index=RESULTS / "index" / "series.csv",
        dosing=[CFG["suv"]["dosing"]] if CFG["suv"]["dosing"] else [],
    output:
        suv=RESULTS / "{subject}" / "{timepoint}" / "suv.nii.gz",
        sidecar=RESULTS / "{subject}" / "{timepoint}" / "suv.json",
    params:
        series=_study_series("PT", CFG["series"]["pt_description"]),
        kind=CFG["suv"]["kind"],
        lbm=CFG["suv"]["lbm_formula"],
        dosing=lambda wc, input: f"--dosing {input.dosing[0]} --subject {wc.subject} --timepoint {wc.timepoint}"
        if input.dosing else "",
        half_life="--allow-half-life-mismatch" if CFG["suv"]["allow_half_life_mismatch"] else "",
    threads: 2
    log:
        RESULTS / "logs" / "suv" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "suv" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} suv {params.series:q} -o {output.suv} --kind {params.kind} --lbm-formula {params.lbm}"
        " {params.dosing} {params.half_life} --workers {threads} > {log} 2>&1"


rule ct:
    input:
        index=RESULTS / "index" / "series.csv",
    output:
        ct=RESULTS / "{subject}" / "{timepoint}" / "ct.nii.gz",
        sidecar=RESULTS / "{subject}" / "{timepoint}" / "ct.json",
    params:
        series=_study_series("CT", CFG["series"]["ct_description"]),
    threads: 2
    log:
        RESULTS / "logs" / "ct" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "ct" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} ct {params.series:q} -o {output.ct} --workers {threads} > {log} 2>&1"
