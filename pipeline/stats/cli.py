"""``petvoi stats``: the trial endpoints of the configuration's ``analyses`` section, with figures."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``stats`` command."""
    p = sub.add_parser(
        "stats", help="trial endpoint statistics of the cohort (config `analyses:`), with figures",
        description="One row per analysis: endpoint, analysis, variable, level, n_subjects, n_lesions, estimate, "
                    "ci_low, ci_high, p_value, p_adjusted (Benjamini-Hochberg within the endpoint), method, notes. "
                    "Also biodistribution.csv, stats.json and PNG/SVG figures.")
    p.add_argument("--config", required=True, metavar="CONFIG.yaml", help="configuration with the analyses section")
    p.add_argument("--uptake", required=True, metavar="uptake.parquet")
    p.add_argument("--deltas", metavar="deltas.parquet")
    p.add_argument("--bor", metavar="response_bor.csv", help="best overall response per subject")
    p.add_argument("--heterogeneity", metavar="heterogeneity.parquet")
    p.add_argument("--inter-lesion", metavar="inter_lesion.parquet")
    p.add_argument("--ihc", metavar="ihc.csv", help="default: the config's clinical.ihc")
    p.add_argument("--histology", metavar="histology.csv", help="default: the config's clinical.histology")
    p.add_argument("--outcomes", metavar="outcomes.csv", help="default: the config's clinical.outcomes")
    p.add_argument("--mri", metavar="mri.csv", help="the cohort MRI table (petvoi mri-cohort)")
    p.add_argument("--figures", metavar="DIR", help="figure folder (default: figures/ beside the output)")
    p.add_argument("-o", "--output", required=True, metavar="stats.csv")
    p.set_defaults(func=_stats)


def _stats(args: argparse.Namespace) -> None:
    from .stage import TABLES, run_stats

    tables = {name: getattr(args, name) for name in TABLES}
    table = run_stats(Path(args.config), Path(args.output), tables,
                      Path(args.figures) if args.figures else None, policy=args.policy)
    log.info("%d result rows (%d endpoints) -> %s", len(table), table["endpoint"].nunique(), args.output)
