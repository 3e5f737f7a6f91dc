"""``petvoi synth``: the synthetic sample cohort (or one dynamic study) with exact truth."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``synth`` command."""
    p = sub.add_parser("synth", help="generate the synthetic PET/CT cohort with exact truth",
                       description="Write deterministic PET, CT and RTSTRUCT DICOM, truth.json per study, a sample "
                                   "sheet and clinical tables (ihc, recist, histology, outcomes, dosing) under OUT; "
                                   "after the trial subjects, one 89Zr subject scanned at days 2, 4 and 7 after one "
                                   "injection with exact uptake curves (pk_truth.json), unless --no-multiday. "
                                   "Subject and study folders of another synthetic cohort under OUT/dicom are "
                                   "removed first; anything else there that is not part of the cohort is an error.")
    p.add_argument("out", metavar="OUT", help="output folder (DICOM goes to OUT/dicom)")
    p.add_argument("--subjects", dest="n_subjects", type=int, default=6,
                   help="number of trial subjects, 1-999 (default 6); ids P01.. (P001.. beyond 99 subjects)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, identical bytes (default 0)")
    p.add_argument("--noise", dest="noise_sd", type=float, default=0.0, metavar="SD",
                   help="relative Gaussian noise SD on PET activity (default 0: noiseless)")
    p.add_argument("--multiday", action=argparse.BooleanOptionalAction, default=True,
                   help="also write the multi-day PK subject P{SUBJECTS+1} (default: yes)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="subjects written in parallel processes (default 1); the files do not depend on it")
    p.add_argument("--dynamic", action="store_true",
                   help="write one dynamic PET study (28 frames, 90 min) with VOIs of known 2TCM rates, a blood "
                        "table and truth.json instead of the cohort")
    p.set_defaults(func=_synth)


def _synth(args: argparse.Namespace) -> None:
    from .cohort import run_synth

    log.info("%s", run_synth(Path(args.out), n_subjects=args.n_subjects, seed=args.seed, noise_sd=args.noise_sd,
                             dynamic=args.dynamic, multiday=args.multiday, workers=args.workers))
