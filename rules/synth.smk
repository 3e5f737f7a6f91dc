# Synthetic sample cohort (only when config synth.generate is true): DICOM + truth under data_root.
if CFG["synth"]["generate"]:

    rule synth:
        output:
            done=touch(SYNTH_DONE),
            truth=expand(str(DATA_ROOT / "dicom" / "{s}" / "{t}" / "truth.json"), zip,
                         s=[s for s, _ in ALL_STUDIES], t=[t for _, t in ALL_STUDIES]),
            blood=[str(DATA_ROOT / path) for path in BLOOD.values()],  # blood tables of the dynamic studies
        params:
            out=str(DATA_ROOT),
            subjects=CFG["synth"]["subjects"],
            seed=CFG["synth"]["seed"],
            noise=CFG["synth"]["noise_sd"],
        log:
            RESULTS / "logs" / "synth.log",
        benchmark:
            RESULTS / "benchmarks" / "synth.tsv"
        shell:
            "{PETVOI} synth {params.out} --subjects {params.subjects} --seed {params.seed}"
            " --noise {params.noise} > {log} 2>&1"
