"""``petvoi collect``, ``petvoi failures``, ``petvoi check`` and ``petvoi resources``: the workflow's own commands
(cohort tables, the studies that failed, configuration check, job resources measured by a run)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from ..options import add_policy_shorthand

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``collect``, ``failures``, ``check`` and ``resources`` commands."""
    p = sub.add_parser("collect", help="stack per-study tables into a cohort table (CSV or Parquet)")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--template", required=True, help="e.g. results/{subject}/{timepoint}/uptake.csv")
    add_policy_shorthand(p, "cohort.missing_tables")
    p.add_argument("--acquisition", choices=["static", "dynamic"], default="static",
                   help="which studies of the sheet (default static)")
    p.add_argument("-o", "--output", required=True, metavar="cohort.parquet")
    p.set_defaults(func=_collect)

    p = sub.add_parser("failures", help="the cohort's sample sheet without the studies that failed, and "
                                        "failed_studies.csv",
                       description="Reads the failure records the workflow's study chains write for a study whose "
                                   "stage failed, and writes the sample sheet without those studies (what the "
                                   "cohort tables, statistics and reports are built from) and failed_studies.csv "
                                   "(subject_id, timepoint, rule, reason, log).")
    p.add_argument("records", nargs="*", metavar="RECORD.json", help="failure records (results/failed/*.json)")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--samples-out", required=True, metavar="samples.tsv",
                   help="the sheet without the failed studies")
    p.add_argument("-o", "--output", required=True, metavar="failed_studies.csv")
    p.set_defaults(func=_failures)

    p = sub.add_parser("check", help="validate a configuration file and its sample sheet",
                       description="Validates the configuration (every key, the policy and the analyses), the "
                                   "sample sheet and the dynamic studies against the kinetics settings. With "
                                   "--schema, prints the complete JSON Schema of the configuration instead.")
    p.add_argument("config", metavar="CONFIG.yaml", nargs="?")
    p.add_argument("--samples", metavar="samples.tsv", help="sample sheet (default: the config's `samples`)")
    p.add_argument("--schema", action="store_true", help="print the configuration's JSON Schema and exit")
    p.set_defaults(func=_check)

    p = sub.add_parser("resources", help="memory and time per rule measured by a run, as a jobs.resources block",
                       description="Reads a completed run's results/benchmarks and prints, per rule, the largest "
                                   "memory and run time its jobs used and a config `jobs.resources` block with "
                                   "headroom (SLURM --mem and --time of the next, larger run).")
    p.add_argument("benchmarks", metavar="BENCHMARKS_DIR", help="e.g. results/benchmarks")
    p.add_argument("--memory-factor", type=float, default=3.0, help="mem_mb = factor x largest RSS (default 3)")
    p.add_argument("--runtime-factor", type=float, default=10.0,
                   help="runtime = factor x longest run (default 10)")
    p.set_defaults(func=_resources)


def _collect(args: argparse.Namespace) -> None:
    from ..cohort import run_collect

    table, warnings = run_collect(Path(args.samples), args.template, Path(args.output),
                                  acquisition=args.acquisition, policy=args.policy)
    for warning in warnings:
        log.warning("%s", warning)
    log.info("%d rows -> %s", len(table), args.output)


def _failures(args: argparse.Namespace) -> None:
    from ..failures import run_failures

    failed = run_failures(Path(args.samples), [Path(r) for r in args.records], Path(args.samples_out),
                          Path(args.output))
    for row in failed.itertuples():
        log.warning("study %s/%s failed in %s and is left out of the cohort: %s", row.subject_id, row.timepoint,
                    row.rule, row.reason)
    log.info("%d failed studies -> %s", len(failed), args.output)


def _check(args: argparse.Namespace) -> None:
    from ..errors import InvalidInputError
    from ..workflow import check_workflow, config_schema

    if args.schema:
        print(json.dumps(config_schema(), indent=2))
        return
    if not args.config:
        raise InvalidInputError("no configuration given", attribute="CONFIG.yaml", remedy="give the YAML file")
    print(check_workflow(Path(args.config), Path(args.samples) if args.samples else None))


def _resources(args: argparse.Namespace) -> None:
    import yaml

    from ..workflow import measured_resources, suggested_resources

    measured = measured_resources(Path(args.benchmarks))
    for rule, m in sorted(measured.items()):
        log.info("%s: %d job(s), largest RSS %.0f MB, longest %.1f s", rule, m["jobs"], m["max_rss_mb"], m["max_s"])
    block = {"jobs": {"resources": suggested_resources(measured, memory_factor=args.memory_factor,
                                                        runtime_factor=args.runtime_factor)}}
    print(yaml.safe_dump(block, sort_keys=False, default_flow_style=None).rstrip())
