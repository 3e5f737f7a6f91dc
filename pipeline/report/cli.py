"""``petvoi report``: the per-patient report (HTML + PDF), or the cohort report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add the ``report`` command."""
    p = sub.add_parser(
        "report", help="per-patient report (HTML + PDF), or the cohort report with --cohort",
        description="Writes REPORTS/SUBJECT.html (self-contained) and SUBJECT.pdf (A4): header with the SUV "
                    "provenance, QC panel with every warning, coronal and sagittal MIPs on a common SUV window, "
                    "lesion and organ tables and their changes, uptake over time (more than one scan), PERCIST/EORTC, "
                    "RECIST 1.1/iRECIST, heterogeneity, IHC and histology. With --cohort: REPORTS/cohort.html and "
                    "cohort.pdf: overview, biodistribution, waterfall, swimmer and spider plots, forest plots of every "
                    "endpoint's estimates with a compact table, the stats figures, and the full stats.csv table in an "
                    "appendix. Prints the paths.")
    p.add_argument("subject", metavar="SUBJECT", nargs="?", help="subject_id of the sample sheet")
    p.add_argument("--cohort", action="store_true", help="write the cohort report instead")
    p.add_argument("--config", required=True, metavar="CONFIG.yaml", help="e.g. results/config.resolved.yaml")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--results", default="results", metavar="DIR", help="results folder (default results)")
    p.add_argument("--output-dir", metavar="DIR", help="reports folder (default RESULTS/reports)")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> None:
    from .stage import run_report

    if not (args.subject or args.cohort):
        raise InvalidInputError("no subject given", attribute="SUBJECT", remedy="give a subject_id or --cohort")
    written = run_report(Path(args.config), Path(args.samples), Path(args.results),
                         subject=None if args.cohort else args.subject,
                         output_dir=Path(args.output_dir) if args.output_dir else None)
    print("\n".join(str(path) for path in written if path))
