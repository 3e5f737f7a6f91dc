"""``petvoi export``: a study's VOIs, uptake and SUV as DICOM SEG, TID 1500 SR and Parametric Map."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``export`` command."""
    p = sub.add_parser("export", help="a study's VOIs, uptake and SUV as DICOM SEG, TID 1500 SR and Parametric Map",
                       description="Writes STUDY/dicom/seg.dcm (every VOI a segment on the PET grid), sr.dcm (a "
                                   "TID 1500 measurement group per VOI with SUVmax/mean/peak/SD, volume, TLG and "
                                   "SUL) and suv_pm.dcm (the SUV volume with a Real World Value Mapping), each "
                                   "referencing the PET series. With petvoi --deidentify, of a de-identified copy "
                                   "of the PET (subject id, pseudonymised UIDs, shifted dates).")
    p.add_argument("--pet", required=True, metavar="SERIES_DIR", help="the PET series the SUV was computed from")
    p.add_argument("--study", required=True, metavar="STUDY_DIR",
                   help="the study's results folder (suv.nii.gz, vois.nii.gz, uptake.csv)")
    p.add_argument("--subject", required=True, help="the sample sheet's subject id")
    p.add_argument("--timepoint", required=True, help="the sample sheet's timepoint")
    p.add_argument("--timepoint-order", type=int, default=1, help="1 for the baseline, 2 for the next... (default 1)")
    p.add_argument("--no-parametric-map", action="store_true", help="do not write suv_pm.dcm")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> None:
    from ..outputs import StudyPaths
    from .stage import run_export

    written = run_export(Path(args.pet), StudyPaths(Path(args.study)), subject=args.subject,
                         timepoint=args.timepoint, timepoint_order=args.timepoint_order,
                         parametric_map=not args.no_parametric_map)
    log.info("DICOM outputs: %s", ", ".join(str(p) for p in written.values()))
