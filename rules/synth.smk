# Synthetic sample cohort (only when config synth.generate is true): DICOM + truth under data_root.
if CFG["synth"]["generate"]:

    rule synth:
        output:
            done=touch(SYNTH_DONE),
            truth=[str(DATA_ROOT / "dicom" / s / t / "truth.json") for s, t in ALL_STUDIES],
            blood=[str(DATA_ROOT / value) for value in BLOOD.values()],  # blood tables of the dynamic studies
        params:
            out=str(DATA_ROOT),
            subjects=CFG["synth"]["subjects"],
            seed=CFG["synth"]["seed"],
            noise=CFG["synth"]["noise_sd"],
        log:
            log_file("synth"),
        benchmark:
            benchmark_file("synth")
        shell:
            "{PETVOI} synth {params.out:q} --subjects {params.subjects} --seed {params.seed}"
            " --noise {params.noise} > {log} 2>&1"
