# Synthetic cohort (only when config synth.generate is true): DICOM + truth under data_root. Its sample sheet and
# clinical tables are already there: common.smk writes them when the workflow starts (ensure_workflow_sheets), as
# the rules are planned from the sheet. `petvoi synth` removes the studies of another synthetic cohort under
# data_root/dicom and refuses anything else there that is not part of this one.
if CFG["synth"]["generate"]:

    rule synth:
        output:
            done=touch(SYNTH_DONE),
            truth=[str(DATA_ROOT / "dicom" / s / t / "truth.json") for s, t in ALL_STUDIES],
            blood=[str(DATA_ROOT / value) for value in BLOOD.values()],  # blood tables of the dynamic studies
            mri=[str(DATA_ROOT / row["dicom"] / "truth.json") for row in MRI_ROW.values()],  # the MR studies
        params:
            out=str(DATA_ROOT),
            subjects=CFG["synth"]["subjects"],
            seed=CFG["synth"]["seed"],
            noise=CFG["synth"]["noise_sd"],
        threads: CFG["threads"]  # subjects written in parallel (about 0.7 GB each)
        resources:
            **job_resources("synth"),
        log:
            log_file("synth"),
        benchmark:
            benchmark_file("synth")
        shell:
            "{PETVOI} synth {params.out:q} --subjects {params.subjects} --seed {params.seed}"
            " --noise {params.noise} --multiday --workers {threads} > {log:q} 2>&1"
