"""``petvoi index``: a header-only index of a DICOM tree, one row per series."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``index`` command."""
    p = sub.add_parser("index", help="index a DICOM tree: one row per series",
                       description="Header-only scan of DICOM folders; writes one row per series. With --merge, "
                                   "the arguments are index parts (series.csv of disjoint folders) merged into one.")
    p.add_argument("dicom_root", metavar="DICOM_ROOT", nargs="+",
                   help="folder(s) to scan (a folder inside another one given is read once)")
    p.add_argument("--merge", action="store_true",
                   help="DICOM_ROOT are series.csv index parts: merge them (a series split across parts is one row)")
    p.add_argument("-o", "--output", required=True, metavar="series.csv")
    p.add_argument("--workers", type=int, default=8, help="header-reading threads (default 8)")
    p.add_argument("--samples", metavar="samples.tsv",
                   help="sample sheet: subject_id is taken from it (by study UID or folder) instead of a pseudonym")
    p.add_argument("--data-root", metavar="DIR", help="folder the sample sheet's dicom paths are relative to")
    p.set_defaults(func=_index)


def _index(args: argparse.Namespace) -> None:
    from .index import run_index, run_merge_index, skipped_table_path

    if args.merge:
        merged = run_merge_index([Path(p) for p in args.dicom_root], Path(args.output))
        log.info("%d series from %d index parts -> %s", len(merged), len(args.dicom_root), args.output)
        return
    result = run_index([Path(p) for p in args.dicom_root], Path(args.output), workers=args.workers,
                       samples=Path(args.samples) if args.samples else None,
                       data_root=Path(args.data_root) if args.data_root else None)
    log.info("%d series from %d DICOM files (%d non-DICOM skipped, %d unreadable: listed in %s) -> %s",
             len(result.series), result.n_dicom, result.n_skipped, len(result.unreadable),
             skipped_table_path(Path(args.output)), args.output)
    for path, reason in result.unreadable:
        log.warning("unreadable DICOM %s: %s", path, reason)
