# Dynamic studies (sample sheet acquisition: dynamic): TACs per VOI, kinetic models, parametric maps and the
# cohort kinetics table. The SUV volume (4D) and the VOI set come from the rules `suv` and `vois`; with blood
# samples and jobs.study_chain, rule dynamic_study (rules/study.smk) runs all five as one job. Command lines:
# rules/commands.smk.
# Multi-day PK (rule pk): static scans of a subject after one injection form a curve per VOI.
rule tacs:
    input:
        suv=path("suv"),
        vois=path("vois"),
    output:
        path("tacs"),
    params:
        args=dynamic_command("tacs"),
    resources:
        **job_resources("tacs"),
    log:
        log_file("tacs/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("tacs/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule kinetics:
    input:
        tacs=path("tacs"),
        blood=blood_table,
    output:
        table=path("kinetics"),
        sidecar=path("kinetics_json"),
    params:
        args=dynamic_command("kinetics"),
    resources:
        **job_resources("kinetics"),
    log:
        log_file("kinetics/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("kinetics/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} > {log:q} 2>&1"


rule parametric:
    input:
        suv=path("suv"),
        tacs=path("tacs"),
        blood=blood_table,
    output:
        maps=[path("parametric_map", map=m) for m in CFG["kinetics"]["parametric"]],
        sidecar=path("parametric_json"),
    params:
        args=dynamic_command("parametric"),
    threads: local_workers(CFG, 2)  # local_workers, DASK_ARGS: rules/commands.smk
    resources:
        **job_resources("parametric"),
    log:
        log_file("parametric/{subject}_{timepoint}"),
    benchmark:
        benchmark_file("parametric/{subject}_{timepoint}")
    shell:
        "{PETVOI} {params.args} {DASK_ARGS} > {log:q} 2>&1"


rule cohort_kinetics:
    input:
        samples=COHORT_SAMPLES,
        tables=per_study("kinetics", DYNAMIC),
    output:
        path("cohort_table", table="kinetics"),
    params:
        template=lambda wc: path("kinetics"),  # {subject}/{timepoint} filled by petvoi
    resources:
        **job_resources("cohort_kinetics"),
    log:
        log_file("cohort_kinetics"),
    benchmark:
        benchmark_file("cohort_kinetics")
    shell:
        "{PETVOI} collect --samples {input.samples:q} --acquisition dynamic --template {params.template:q}"
        " -o {output:q} > {log:q} 2>&1"


# Which scans share an injection is known from their suv.json (injection datetime), so one job reads every
# static study with several scans per subject: a curve per subject and injection with two or more scans, a note
# for the others.
rule pk:
    input:
        samples=COHORT_SAMPLES,
        uptake=per_study("uptake", MULTI_SCAN_STUDIES),
        sidecars=per_study("suv_json", MULTI_SCAN_STUDIES),
    output:
        table=path("pk"),
        points=path("pk_points"),
        sidecar=path("pk_json"),
    params:
        template=lambda wc: str(RESULTS / STUDY_FOLDER),  # filled by petvoi per study
        subjects=lambda wc: " ".join(f"--subject {shlex.quote(s)}" for s in MULTI_SCAN_SUBJECTS),
        method=CFG["pk"]["auc_method"],
        n_terminal=f"--n-terminal {CFG['pk']['n_terminal']}" if CFG["pk"]["n_terminal"] is not None else "",
    resources:
        **job_resources("pk"),
    log:
        log_file("pk"),
    benchmark:
        benchmark_file("pk")
    shell:
        "{PETVOI} pk --samples {input.samples:q} {params.subjects} --template {params.template:q}"
        " --auc-method {params.method} {params.n_terminal} -o {output.table:q} --points {output.points:q} > {log:q} 2>&1"
