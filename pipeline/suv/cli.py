"""``petvoi suv`` and ``petvoi ct``: a PET series to SUV, a CT series to Hounsfield units."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..options import add_policy_shorthand, nifti_output
from .options import SuvOptions

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``suv`` and ``ct`` commands."""
    p = sub.add_parser(
        "suv", help="decode a PET series and convert it to SUV (NIfTI + JSON sidecar)",
        description="Decode one PET series folder and write the SUV volume (float32; 4D for dynamic series) and "
                    "suv.json beside it: how every number was obtained (rule, reference-time candidates, "
                    "overrides, warnings). Options override DICOM values and are recorded as overrides.")
    p.add_argument("series_dir", metavar="SERIES_DIR")
    p.add_argument("-o", "--output", required=True, metavar="suv.nii.gz", type=nifti_output)
    SuvOptions.add_arguments(p)
    p.add_argument("--dosing", metavar="dosing.csv",
                   help="dosing table (net dose from syringe and residual activity, weight, height, sex)")
    p.add_argument("--subject", help="subject_id of the dosing-table row")
    p.add_argument("--timepoint", help="timepoint of the dosing-table row")
    add_policy_shorthand(p, "header.half_life_mismatch")
    add_policy_shorthand(p, "suv.spect_as_pt")
    p.add_argument("--workers", type=int, default=4, help="file-reading threads (default 4)")
    p.set_defaults(func=_suv)

    p = sub.add_parser("ct", help="decode a CT series to Hounsfield units (NIfTI + JSON sidecar)")
    p.add_argument("series_dir", metavar="SERIES_DIR")
    p.add_argument("-o", "--output", required=True, metavar="ct.nii.gz", type=nifti_output)
    p.add_argument("--workers", type=int, default=4, help="file-reading threads (default 4)")
    p.set_defaults(func=_ct)


def _suv(args: argparse.Namespace) -> None:
    from .dosing import load_dosing_table
    from .stage import run_suv

    if args.dosing and not (args.subject and args.timepoint):
        raise InvalidInputError("--dosing needs --subject and --timepoint", attribute="--dosing",
                                remedy="name the row of the dosing table to use")
    dosing = load_dosing_table(Path(args.dosing), args.subject, args.timepoint) if args.dosing else None
    sidecar = run_suv(Path(args.series_dir), Path(args.output), SuvOptions.from_args(args, dosing=dosing),
                      workers=args.workers)
    factor = sidecar.get("suv_factor")
    log.info("SUV%s written to %s (factor %s, rule %s; sidecar %s)", sidecar["suv_kind"], args.output,
             "per frame" if factor is None else f"{factor:.6g}", sidecar.get("rule"), sidecar.path)
    for warning in sidecar.warnings:
        log.warning("%s", warning)


def _ct(args: argparse.Namespace) -> None:
    from .stage import run_ct

    sidecar = run_ct(Path(args.series_dir), Path(args.output), workers=args.workers, policy=args.policy)
    log.info("CT (%d slices, HU %.0f..%.0f) written to %s", sidecar["n_slices"], sidecar["hu_min"],
             sidecar["hu_max"], args.output)
