"""``petvoi deltas`` and ``petvoi recist``: PET changes with PERCIST/EORTC, and RECIST 1.1 / iRECIST."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..options import add_policy_shorthand
from .options import DeltaOptions, PercistOptions, RecistOptions

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``deltas`` and ``recist`` commands."""
    p = sub.add_parser(
        "deltas", help="baseline vs on-treatment changes per VOI, PERCIST 1.0 and EORTC categories of one subject",
        description="Matches VOIs across the subject's timepoints (lesion_id, organ; --mapping overrides), flags new "
                    "and disappeared lesions, and writes one row per follow-up timepoint, VOI and metric (baseline, "
                    "follow-up, absolute and % change), plus patient rows with the hottest-lesion SULpeak, the sum of "
                    "the five hottest, PERCIST 1.0 and EORTC 1999 categories and the comparability checks.")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--subject", required=True)
    p.add_argument("--template", required=True,
                   help="folder of each study's uptake.csv and suv.json, e.g. results/{subject}/{timepoint}")
    DeltaOptions.add_arguments(p)
    p.add_argument("--mapping", metavar="map.csv",
                   help="explicit matches: subject_id, timepoint, name, matches_baseline_name (empty = new)")
    PercistOptions.add_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="deltas.csv")
    p.set_defaults(func=_deltas)

    p = sub.add_parser(
        "recist", help="RECIST 1.1 and iRECIST responses from lesion measurements",
        description="One row per subject and timepoint (sum of diameters, change from baseline and nadir, target, "
                    "non-target, new-lesion and overall response, iRECIST category) and the best overall response "
                    "per subject (written to OUTPUT_bor.csv unless --bor-output). A table that already holds "
                    "response categories (overall_response[, irecist_response] and no lesion_id) is validated.")
    p.add_argument("measurements", metavar="MEASUREMENTS.csv",
                   help="subject_id, timepoint, assessment_date, lesion_id, lesion_type, organ, is_lymph_node, "
                        "diameter_mm, non_target_status [, assessed, too_small]")
    RecistOptions.add_arguments(p)
    add_policy_shorthand(p, "response.target_limits")
    p.add_argument("--bor-output", metavar="bor.csv")
    p.add_argument("-o", "--output", required=True, metavar="response.csv")
    p.set_defaults(func=_recist)


def _deltas(args: argparse.Namespace) -> None:
    from .stage import run_deltas

    options = DeltaOptions.from_args(args, percist=PercistOptions.from_args(args))
    table = run_deltas(Path(args.samples), args.subject, args.template, Path(args.output), options,
                       mapping=Path(args.mapping) if args.mapping else None)
    for row in table[table["level"] == "patient"].drop_duplicates("timepoint").itertuples():
        log.info("%s %s: PERCIST %s%s", args.subject, row.timepoint, row.percist or "NA",
                 "" if row.comparable in (True, "True") else " (scans not comparable)")


def _recist(args: argparse.Namespace) -> None:
    from .stage import bor_path, run_recist

    bor_output = Path(args.bor_output) if args.bor_output else bor_path(Path(args.output))
    _, bor = run_recist(Path(args.measurements), Path(args.output), RecistOptions.from_args(args), bor_output)
    log.info("time-point responses -> %s; best overall response of %d subjects -> %s", args.output, len(bor),
             bor_output)
