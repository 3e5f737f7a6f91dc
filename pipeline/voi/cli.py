"""``petvoi vois``: the VOI set of a study on its PET grid."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..options import add_policy_shorthand, nifti_output
from .options import SPEC_HELP, VoiSources

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``vois`` command."""
    p = sub.add_parser(
        "vois", help="build the VOI set on the PET grid from RTSTRUCT, SEG, masks, spheres, thresholds",
        description="Write vois.nii.gz (one mask per VOI, overlapping VOIs kept whole) and vois.json (label, name, "
                    "kind, lesion_id, organ, source, n_voxels). Sources combine, in the order RTSTRUCT, SEG, mask, "
                    "spheres, thresholds.",
        epilog=SPEC_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pet", required=True, metavar="suv.nii.gz", help="SUV image whose grid the VOIs are built on")
    VoiSources.add_arguments(p)
    add_policy_shorthand(p, "voi.resample")
    p.add_argument("-o", "--output", required=True, metavar="vois.nii.gz", type=nifti_output)
    p.set_defaults(func=_vois)


def _vois(args: argparse.Namespace) -> None:
    from .stage import run_vois

    voiset = run_vois(Path(args.pet), Path(args.output), VoiSources.from_args(args))
    kinds = {k: len(voiset.by_kind(k)) for k in ("tumour", "organ", "reference", "body")}
    log.info("%d VOIs (%s) -> %s", len(voiset), ", ".join(f"{n} {k}" for k, n in kinds.items() if n), args.output)
    for voi in voiset.vois:
        for warning in voi.warnings:
            log.warning("%s: %s", voi.name, warning)
