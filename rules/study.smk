# A static study as one job (config jobs.study_chain, default): suv, ct, vois, uptake, texture and heterogeneity
# run as one `petvoi chain` - one process, the libraries imported once, each stage's command line (rules/
# commands.smk) and log exactly as when it runs as its own job. On a cluster this is one SLURM job per study
# instead of six. The stage rules stay: they make the dynamic studies' suv and vois, and every static stage
# when jobs.study_chain is false.


def _static_study_constraint():
    """A `subject` wildcard pattern matching only static studies: each subject followed by one of its timepoints.

    The lookahead makes the rule match `results/P01/baseline/...` but not `results/P01/dynamic/...` (a dynamic
    study keeps its stage rules), without a wildcard of its own for the pair.
    """
    by_subject = {}
    for s, t in STUDIES:
        by_subject.setdefault(s, []).append(t)
    alternatives = [f"{re.escape(s)}(?=/(?:{'|'.join(re.escape(t) for t in ts)})/)"
                    for s, ts in sorted(by_subject.items())]
    return "|".join(alternatives) or "(?!)"


if CFG["jobs"]["study_chain"]:

    rule study:
        input:
            index=series_index,  # through the checkpoint: see series_index
            dosing=[CFG["suv"]["dosing"]] if CFG["suv"]["dosing"] else [],
            rules=[CFG["vois"]["name_rules"]] if CFG["vois"]["name_rules"] else [],
            params=repo_path(CFG["texture"]["params"]),
        output:
            suv=path("suv"),
            suv_json=path("suv_json"),
            ct=path("ct"),
            ct_json=path("ct_json"),
            vois=path("vois"),
            vois_json=path("vois_json"),
            uptake=path("uptake"),
            texture=path("texture"),
            heterogeneity=path("heterogeneity"),
        wildcard_constraints:
            subject=_static_study_constraint(),
        params:
            head=study_steps("suv", "ct", "vois", "uptake"),
            texture_log=lambda wc: log_file(f"texture/{wc.subject}_{wc.timepoint}"),
            texture=study_step("texture"),
            tail=study_steps("heterogeneity"),
        threads: max(2, TEXTURE_WORKERS)
        resources:
            **job_resources("study"),
        log:
            log_file("study/{subject}_{timepoint}"),
        benchmark:
            benchmark_file("study/{subject}_{timepoint}")
        shell:
            "{PETVOI} chain {params.head} --step {params.texture_log:q} {params.texture:q}{DASK_WORD}"
            " {params.tail} > {log} 2>&1"

    ruleorder: study > suv
    ruleorder: study > ct
    ruleorder: study > vois
    ruleorder: study > uptake
    ruleorder: study > texture
    ruleorder: study > heterogeneity
