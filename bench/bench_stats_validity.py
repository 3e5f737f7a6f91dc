"""Benchmark: statistical validity of the trial endpoints on virtual trials with known effects.

Run:  .venv/bin/python bench/bench_stats_validity.py [--trials 1000] [--range-trials 300]
      [--homogeneous-trials 300] [--workers 2] [--patients 30] [--csv out.csv]

Each virtual trial (``pipeline/stats/simulate.py``: 2-6 lesions and 0-2 benign foci per patient, patient
random effect with ICC 0.5, baseline/on-treatment/IA/retest scans, IHC, histology, survival) goes through
``run_analyses`` exactly as ``petvoi stats`` runs it. Printed per validated row of ``stats.csv``: the truth,
the relative bias, the 95 % CI coverage (Monte Carlo SE in brackets) and the fraction of failed fits,
against the targets of issue 15: |bias| <= 5 %, coverage 0.92-0.98, failed fits <= 1 %.

Scenarios: ``typical`` (ICC 0.5, patients differ in their response to treatment and route), ``icc0.3`` and
``icc0.7`` (the ends of the realistic range; ``--range-trials`` each), all held to the targets; and
``homogeneous`` (ICC 0.02, no patient-level differences in response), a stress test outside the realistic
range where the mixed models sit at the boundary and their fallbacks run: held to the failed-fit target only
(its intervals are conservative, since the t(I - 1) interval and the bias-reduced sandwich assume
patient-level variation).

The reference in the same run is the analysis petvoi did before issue 15 on the same trials (lesions
treated as independent, IV scans of every visit averaged for IA/IV, stacked lesions for on/baseline), so
the table shows what the cluster-aware models change.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.stats import methods as st  # noqa: E402
from pipeline.stats.simulate import TrialDesign, simulate_trial, summarise, true_values, validate  # noqa: E402

TARGET_BIAS, TARGET_COVERAGE, TARGET_FAILED = 0.05, (0.92, 0.98), 0.01


def _naive(design: TrialDesign, seed: int) -> list[dict[str, object]]:
    """The pre-issue-15 analyses of the same trial (the reference)."""
    data = simulate_trial(design, seed)
    u = data.uptake
    out: list[dict[str, object]] = []
    # on/baseline: log SUV ~ on_treatment + (1|patient) on stacked lesions
    stacked = u[u["timepoint"].isin(["baseline", "on_treatment"])].copy()
    stacked["y"] = np.log(stacked["suv_max"])
    stacked["on"] = (stacked["timepoint"] == "on_treatment").astype(float)
    fit = st.mixed_model(stacked, "y ~ on", "subject_id", "on")  # coefficient on the log scale
    res = st.StatResult(math.exp(fit.estimate), math.exp(fit.ci_low), math.exp(fit.ci_high), fit.p_value, fit.n,
                        fit.method)
    out.append({"key": ("treatment_change", "paired_log_ratio", "suv_max", "tumour:lesions"), "res": res})
    # IA/IV: every IV scan of the lesion averaged
    iv = u[u["route"] == "iv"].groupby(["subject_id", "lesion_id"])["suv_max"].mean()
    ia = u[u["route"] == "ia"].set_index(["subject_id", "lesion_id"])["suv_max"]
    both = pd.concat([iv.rename("iv"), ia.rename("ia")], axis=1, join="inner")
    res = st.geometric_mean_ratio(np.log(both["ia"] / both["iv"]).to_numpy(),
                                  both.index.get_level_values(0).to_numpy())
    out.append({"key": ("route", "geometric_mean_ratio", "suv_max", "lesion"), "res": res})
    # diagnostic: lesions as independent units
    assert data.histology is not None
    lesions = data.histology.merge(u[u["timepoint"] == "baseline"][["subject_id", "lesion_id", "suv_max"]],
                                   on=["subject_id", "lesion_id"])
    y, s = lesions["malignant"].to_numpy(int), lesions["suv_max"].to_numpy(float)
    acc = st.diagnostic_accuracy(y, (s >= design.threshold).astype(int), method="wilson")
    out.append({"key": ("diagnostic", "sensitivity", "suv_max", "lesion"), "res": acc["sensitivity"]})
    out.append({"key": ("diagnostic", "specificity", "suv_max", "lesion"), "res": acc["specificity"]})
    out.append({"key": ("diagnostic", "roc_auc", "suv_max", "lesion"), "res": st.roc_auc_delong(y, s)})
    return out


def _chunk(args: tuple[TrialDesign, list[int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    design, seeds = args
    reps = validate(design, seeds)
    naive = []
    for seed in seeds:
        for item in _naive(design, seed):
            key, res = item["key"], item["res"]
            assert isinstance(key, tuple) and isinstance(res, st.StatResult)
            naive.append({"key": key, "estimate": res.estimate, "ci_low": res.ci_low, "ci_high": res.ci_high})
    return reps, pd.DataFrame(naive)


def _scenario(name: str, design: TrialDesign, trials: int, workers: int, csv: Path | None,
              failures_only: bool = False) -> bool:
    seeds = list(range(trials))
    chunks = [(design, seeds[i::workers * 4]) for i in range(min(workers * 4, trials))]
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(_chunk, chunks))
    elapsed = time.perf_counter() - start
    reps = pd.concat([p[0] for p in parts], ignore_index=True)
    naive = pd.concat([p[1] for p in parts], ignore_index=True)
    table = summarise(reps, design)
    truth = true_values(design)
    reference = {}
    for key, group in naive.groupby("key"):
        t = truth[key]
        ok = np.isfinite(group["ci_low"]) & np.isfinite(group["ci_high"])
        reference[key] = float(((group["ci_low"] <= t) & (t <= group["ci_high"]))[ok].mean())
    table["coverage_before"] = [reference.get((r.endpoint, r.analysis, r.variable, r.level), math.nan)
                                for r in table.itertuples()]
    table["coverage_mcse"] = np.sqrt(table["coverage"] * (1 - table["coverage"]) / trials)
    table["meets_targets"] = ((table["relative_bias"].abs() <= TARGET_BIAS)
                              & (table["coverage"].isna() | table["coverage"].between(*TARGET_COVERAGE))
                              & (table["failed"] <= TARGET_FAILED))
    if failures_only:
        table["meets_targets"] = table["failed"] <= TARGET_FAILED
    print(f"\n== scenario {name}: {trials} virtual trials of {design.n_patients} patients (ICC {design.icc}, "
          f"treatment SD {design.treatment_sd}, route SD {design.route_sd}) in {elapsed:.0f} s "
          f"({elapsed / trials:.2f} s per trial, {workers} workers)")
    shown = table[["endpoint", "analysis", "level", "truth", "mean_estimate", "relative_bias", "coverage",
                   "coverage_mcse", "coverage_before", "failed", "meets_targets"]]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.4f}".format):
        print(shown.to_string(index=False))
    print("methods used:")
    for r in table.itertuples():
        print(f"  {r.endpoint}/{r.analysis}: {r.methods}")
    if csv:
        table.assign(scenario=name).to_csv(csv, index=False, mode="a", header=not csv.exists())
    return bool(table["meets_targets"].all())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000, help="trials of the typical scenario")
    parser.add_argument("--range-trials", type=int, default=300, help="trials of the icc0.3 and icc0.7 scenarios")
    parser.add_argument("--homogeneous-trials", type=int, default=300, help="trials of the homogeneous scenario")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--patients", type=int, default=30)
    parser.add_argument("--csv", type=Path, help="also write the per-row summaries here (appended)")
    args = parser.parse_args()
    print(f"targets: |relative bias| <= {TARGET_BIAS:.0%}, coverage {TARGET_COVERAGE[0]}-{TARGET_COVERAGE[1]}, "
          f"failed fits <= {TARGET_FAILED:.0%}; coverage_before = the pre-issue-15 analysis of the same trials")
    typical = TrialDesign(n_patients=args.patients)
    homogeneous = TrialDesign(n_patients=args.patients, icc=0.02, treatment_sd=(0.0, 0.1), route_sd=(0.0, 0.08))
    ok = _scenario("typical", typical, args.trials, args.workers, args.csv)
    if args.range_trials:
        for icc in (0.3, 0.7):
            ok &= _scenario(f"icc{icc}", TrialDesign(n_patients=args.patients, icc=icc), args.range_trials,
                            args.workers, args.csv)
    if args.homogeneous_trials:
        ok &= _scenario("homogeneous", homogeneous, args.homogeneous_trials, args.workers, args.csv,
                        failures_only=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
