# Studies as chains (config jobs.study_chain, default): a static study's suv, ct, vois, uptake, texture and
# heterogeneity, and a dynamic study's suv, vois, tacs, kinetics and parametric, run as one `petvoi chain` - one
# process, the libraries imported once, each stage's command line (rules/commands.smk) and log exactly as when it
# runs as its own job; static studies in batches of jobs.studies_per_job. The stage rules stay: they run every
# stage when jobs.study_chain is false, and a dynamic study without blood samples.


def _study_constraint(studies):
    """A `subject` wildcard pattern matching only ``studies``: each subject followed by one of its timepoints.

    The lookahead makes a rule match `results/P01/baseline/...` but not `results/P01/dynamic/...` without a
    wildcard of its own for the pair.
    """
    by_subject = {}
    for s, t in studies:
        by_subject.setdefault(s, []).append(t)
    return "|".join(f"{re.escape(s)}(?=/(?:{'|'.join(re.escape(t) for t in ts)})/)"
                    for s, ts in sorted(by_subject.items())) or "(?!)"


STUDY_OUTPUTS = ("suv", "suv_json", "ct", "ct_json", "vois", "vois_json", "uptake", "texture", "heterogeneity",
                 *EXPORT_OUTPUTS)
DYNAMIC_OUTPUTS = ("suv", "suv_json", "vois", "vois_json", "tacs", "kinetics", "kinetics_json", "parametric_json")
STUDIES_PER_JOB = CFG["jobs"]["studies_per_job"]

if CFG["jobs"]["study_chain"] and STUDIES_PER_JOB == 1:

    rule study:
        input:
            index=series_index,  # through the checkpoint: see series_index
            dosing=[CFG["suv"]["dosing"]] if CFG["suv"]["dosing"] else [],
            rules=[CFG["vois"]["name_rules"]] if CFG["vois"]["name_rules"] else [],
            params=repo_path(CFG["texture"]["params"]),
        output:
            **{name: path(name) for name in STUDY_OUTPUTS},
        wildcard_constraints:
            subject=_study_constraint(STUDIES),
        params:
            steps=study_steps,
        threads: max(2, TEXTURE_WORKERS)
        resources:
            **job_resources("study"),
        log:
            log_file("study/{subject}_{timepoint}"),
        benchmark:
            benchmark_file("study/{subject}_{timepoint}")
        shell:
            "{PETVOI} chain {CHAIN_FAILURES} {CHAIN_APPEND} {params.steps} > {log:q} 2>&1"

    for _stage in STATIC_STAGES:
        workflow.ruleorder("study", _stage)

elif CFG["jobs"]["study_chain"]:
    # Batches of jobs.studies_per_job studies in sample-sheet order (a subject's studies together; dynamic studies
    # with blood samples among them), each one chain: the libraries imported once per batch, and on a cluster one
    # SLURM job (and one snakemake start inside it) per batch. Rules studies_1, studies_2, ...: a batch has fixed
    # outputs, not wildcards. With --keep-going a failing study skips only its own remaining stages; the batch job
    # fails, and its studies run again next time.
    _BATCHED = set(STUDIES) | set(DYNAMIC_WITH_BLOOD)
    STUDY_BATCHES = batches([st for st in ALL_STUDIES if st in _BATCHED], STUDIES_PER_JOB)

    def _batch_outputs(batch):
        static = [st for st in batch if st not in DYNAMIC]
        dynamic = [st for st in batch if st in DYNAMIC]
        outputs = {name: [path(name, subject=s, timepoint=t) for s, t in static] for name in STUDY_OUTPUTS}
        for name in DYNAMIC_OUTPUTS:
            outputs.setdefault(name, [])
            outputs[name] += [path(name, subject=s, timepoint=t) for s, t in dynamic]
        outputs["maps"] = [path("parametric_map", subject=s, timepoint=t, map=m) for s, t in dynamic
                           for m in CFG["kinetics"]["parametric"]]
        if EXPORT:
            outputs["dicom_maps"] = [path("dicom_map", subject=s, timepoint=t, map=m) for s, t in dynamic
                                     for m in CFG["kinetics"]["parametric"]]
        return {name: files for name, files in outputs.items() if files}

    for _number, _batch in enumerate(STUDY_BATCHES, 1):

        rule:
            name:
                f"studies_{_number}"
            input:
                index=series_index,  # through the checkpoint: see series_index
                dosing=[CFG["suv"]["dosing"]] if CFG["suv"]["dosing"] else [],
                rules=[CFG["vois"]["name_rules"]] if CFG["vois"]["name_rules"] else [],
                params=repo_path(CFG["texture"]["params"]),
                blood=[f for s, t in _batch for f in blood_table(SimpleNamespace(subject=s, timepoint=t))],
            output:
                **_batch_outputs(_batch),
            params:
                steps=batch_steps(_batch),
            threads: max(2, TEXTURE_WORKERS)
            resources:
                **job_resources("study"),  # a batch's, dynamic studies in it or not
            log:
                log_file(f"study/batch_{_number}"),
            benchmark:
                benchmark_file(f"study/batch_{_number}")
            shell:
                "{PETVOI} chain --keep-going {CHAIN_FAILURES} {CHAIN_APPEND} {params.steps} > {log:q} 2>&1"

        for _stage in dict.fromkeys(STATIC_STAGES + DYNAMIC_STAGES
                                    + (("export_maps",) if EXPORT and DYNAMIC_WITH_BLOOD else ())):
            workflow.ruleorder(f"studies_{_number}", _stage)


if CFG["jobs"]["study_chain"] and STUDIES_PER_JOB == 1 and DYNAMIC_WITH_BLOOD:
    # With a job per study, a dynamic study with blood samples as one job too: suv, vois, tacs, kinetics,
    # parametric in one chain (the same command lines as their rules in rules/suv.smk, vois.smk, kinetics.smk).
    # Without blood: stage rules. (With batches, dynamic studies are in the studies_N batches.)

    rule dynamic_study:
        input:
            index=series_index,  # through the checkpoint: see series_index
            dosing=[CFG["suv"]["dosing"]] if CFG["suv"]["dosing"] else [],
            rules=[CFG["vois"]["name_rules"]] if CFG["vois"]["name_rules"] else [],
            blood=blood_table,
        output:
            suv=path("suv"),
            suv_json=path("suv_json"),
            vois=path("vois"),
            vois_json=path("vois_json"),
            tacs=path("tacs"),
            kinetics=path("kinetics"),
            kinetics_json=path("kinetics_json"),
            maps=[path("parametric_map", map=m) for m in CFG["kinetics"]["parametric"]],
            parametric_json=path("parametric_json"),
            dicom_maps=[path("dicom_map", map=m) for m in CFG["kinetics"]["parametric"]] if EXPORT else [],
        wildcard_constraints:
            subject=_study_constraint(DYNAMIC_WITH_BLOOD),
        params:
            steps=dynamic_steps,
        threads: local_workers(CFG, 2)
        resources:
            **job_resources("dynamic_study"),
        log:
            log_file("dynamic_study/{subject}_{timepoint}"),
        benchmark:
            benchmark_file("dynamic_study/{subject}_{timepoint}")
        shell:
            "{PETVOI} chain {CHAIN_FAILURES} {CHAIN_APPEND} {params.steps} > {log:q} 2>&1"

    for _stage in DYNAMIC_STAGES + (("export_maps",) if EXPORT else ()):
        workflow.ruleorder("dynamic_study", _stage)
