# Dynamic studies (sample sheet acquisition: dynamic): TACs per VOI, kinetic models, parametric maps and the
# cohort kinetics table. The SUV volume (4D) and the VOI set come from the rules `suv` and `vois`.


def _blood(wc):
    """The study's blood table (sample sheet column `blood`, relative to data_root), or nothing."""
    path = BLOOD.get((wc.subject, wc.timepoint))
    return [str(Path(path) if Path(path).is_absolute() else DATA_ROOT / path)] if path else []


def _blood_options(wc, input):
    """The blood-input options of `petvoi kinetics`/`parametric` from the config (empty without a blood table)."""
    k = CFG["kinetics"]
    if not input.blood:
        return ""
    opts = [f"--blood {shlex.quote(input.blood[0])}", f"--input-kind {k['input_kind']}",
            f"--nuclide {NUCLIDE[(wc.subject, wc.timepoint)]}", f"--parent-model {k['parent_model']}",
            f"--ratio-model {k['ratio_model']}", f"--dispersion-tau {k['dispersion_tau_s']}", f"--delay {k['delay']}"]
    if not k["blood_decay_corrected"]:
        opts.append("--blood-not-decay-corrected")
    if k["delay"] == "fit":
        opts.append(f"--delay-voi {shlex.quote(k['delay_voi'] or '')}")
    if k["idif_voi"]:
        opts += [f"--idif {shlex.quote(k['idif_voi'])}", f"--idif-min-time {k['idif_min_time_min']}"]
    return " ".join(opts)


rule tacs:
    input:
        suv=RESULTS / "{subject}" / "{timepoint}" / "suv.nii.gz",
        vois=RESULTS / "{subject}" / "{timepoint}" / "vois.nii.gz",
    output:
        RESULTS / "{subject}" / "{timepoint}" / "tacs.csv",
    log:
        RESULTS / "logs" / "tacs" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "tacs" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} tacs --pet4d {input.suv} --vois {input.vois} -o {output} > {log} 2>&1"


rule kinetics:
    input:
        tacs=RESULTS / "{subject}" / "{timepoint}" / "tacs.csv",
        blood=_blood,
    output:
        table=RESULTS / "{subject}" / "{timepoint}" / "kinetics.csv",
        sidecar=RESULTS / "{subject}" / "{timepoint}" / "kinetics.json",
    params:
        models=" ".join(f"--model {m}" for m in CFG["kinetics"]["models"]),
        reference=f"--reference {shlex.quote(CFG['kinetics']['reference'])}" if CFG["kinetics"]["reference"] else "",
        exclude=" ".join(f"--exclude {shlex.quote(v)}" for v in CFG["kinetics"]["exclude"]),
        t_star=f"--t-star {CFG['kinetics']['t_star_min']}" if CFG["kinetics"]["t_star_min"] is not None else "",
        blood=_blood_options,
    log:
        RESULTS / "logs" / "kinetics" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "kinetics" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} kinetics --tacs {input.tacs} {params.models} {params.reference} {params.exclude} {params.t_star}"
        " {params.blood} -o {output.table} > {log} 2>&1"


rule parametric:
    input:
        suv=RESULTS / "{subject}" / "{timepoint}" / "suv.nii.gz",
        tacs=RESULTS / "{subject}" / "{timepoint}" / "tacs.csv",
        blood=_blood,
    output:
        maps=[RESULTS / "{subject}" / "{timepoint}" / "parametric" / f"{m}.nii.gz"
              for m in CFG["kinetics"]["parametric"]],
        sidecar=RESULTS / "{subject}" / "{timepoint}" / "parametric" / "parametric.json",
    params:
        maps=" ".join(f"--map {m}" for m in CFG["kinetics"]["parametric"]),
        t_star=CFG["kinetics"]["parametric_t_star_min"],
        blood=_blood_options,
        out=lambda wc, output: str(Path(output.sidecar).parent),
    threads: 2
    log:
        RESULTS / "logs" / "parametric" / "{subject}_{timepoint}.log",
    benchmark:
        RESULTS / "benchmarks" / "parametric" / "{subject}_{timepoint}.tsv"
    shell:
        "{PETVOI} parametric --pet4d {input.suv} --tacs {input.tacs} {params.maps} --t-star {params.t_star}"
        " {params.blood} --workers {threads} -o {params.out} > {log} 2>&1"


rule cohort_kinetics:
    input:
        samples=CFG["samples"],
        tables=per_study("kinetics.csv", DYNAMIC),
    output:
        RESULTS / "cohort" / "kinetics.parquet",
    params:
        template=lambda wc: str(RESULTS / "{subject}" / "{timepoint}" / "kinetics.csv"),  # filled by petvoi
    log:
        RESULTS / "logs" / "cohort_kinetics.log",
    benchmark:
        RESULTS / "benchmarks" / "cohort_kinetics.tsv"
    shell:
        "{PETVOI} collect --samples {input.samples} --acquisition dynamic --template {params.template:q}"
        " -o {output} > {log} 2>&1"
