"""``petvoi tacs``, ``kinetics``, ``parametric`` and ``pk``: dynamic PET and multi-day kinetics."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..parallel import DaskOptions
from .options import BloodOptions, KineticsOptions, ParametricOptions, PkOptions

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``tacs``, ``kinetics``, ``parametric`` and ``pk`` commands."""
    p = sub.add_parser("tacs", help="time-activity curves per VOI from a dynamic SUV volume")
    p.add_argument("--pet4d", required=True, metavar="suv.nii.gz", help="4D SUV volume with its suv.json frame table")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz")
    p.add_argument("-o", "--output", required=True, metavar="tacs.csv")
    p.set_defaults(func=_tacs)

    p = sub.add_parser("kinetics", help="kinetic models (1TCM, 2TCM, Logan, Patlak, SRTM, reference Logan, MRTM)",
                       description="One row per VOI, model and parameter with standard errors, macro-parameters "
                                   "(VT, VND, BPND, Ki), AIC/AICc, t* of graphical methods and convergence; a fit "
                                   "that did not converge or gave unphysical estimates (a negative rate constant, "
                                   "VT <= 0, BPND <= -1, Ki < 0) is flagged with its reason, never silent.")
    p.add_argument("--tacs", required=True, metavar="tacs.csv")
    KineticsOptions.add_arguments(p)
    BloodOptions.add_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="kinetics.csv")
    p.set_defaults(func=_kinetics)

    p = sub.add_parser("parametric", help="voxel-wise Logan VT and Patlak Ki maps of a dynamic SUV volume (dask)",
                       description="Maps as NIfTI (logan_vt.nii.gz, patlak_ki.nii.gz) with parametric.json; the "
                                   "blood input is processed as for `petvoi kinetics`.")
    p.add_argument("--pet4d", required=True, metavar="suv.nii.gz", help="4D SUV volume with its suv.json frame table")
    p.add_argument("--tacs", metavar="tacs.csv", help="TAC table (for --delay fit and --idif)")
    ParametricOptions.add_arguments(p)
    BloodOptions.add_arguments(p)
    DaskOptions.add_arguments(p)
    p.add_argument("-o", "--output-dir", required=True, metavar="DIR")
    p.set_defaults(func=_parametric)

    p = sub.add_parser("pk", help="multi-day PK from static scans (e.g. 89Zr): AUC, effective and biological half-life",
                       description="Scans of a subject after one injection (same injection datetime in suv.json) "
                                   "form a time-activity curve in days per VOI: AUC (linear-up/log-down trapezoid by "
                                   "default, the rule recorded in the auc_method column, plus the tail from the "
                                   "terminal effective half-life) and effective/biological half-lives. Injections "
                                   "with one scan are listed with a note.")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--subject", dest="subjects", action="append", metavar="ID",
                   help="only this subject's static studies (repeatable; default: every subject)")
    p.add_argument("--template", required=True, help="e.g. results/{subject}/{timepoint}")
    PkOptions.add_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="pk.csv")
    p.add_argument("--points", metavar="pk_points.csv",
                   help="the time-activity points (default: <output stem>_points.csv beside --output)")
    p.set_defaults(func=_pk)


def _tacs(args: argparse.Namespace) -> None:
    from .stage import run_tacs

    table = run_tacs(Path(args.pet4d), Path(args.vois), Path(args.output))
    log.info("TACs of %d VOIs x %d frames -> %s", table["name"].nunique(), table["frame"].nunique(), args.output)


def _kinetics(args: argparse.Namespace) -> None:
    from .stage import run_kinetics_stage

    table = run_kinetics_stage(Path(args.tacs), Path(args.output),
                               KineticsOptions.from_args(args, blood=BloodOptions.from_args(args)))
    failed = table.loc[~table["converged"].astype(bool), ["name", "model"]].drop_duplicates()
    for row in failed.itertuples():
        log.warning("%s %s: fit did not converge (flagged in the table)", row.name, row.model)
    log.info("%d parameter rows -> %s", len(table), args.output)


def _parametric(args: argparse.Namespace) -> None:
    from .stage import run_parametric_stage

    written = run_parametric_stage(Path(args.pet4d), Path(args.output_dir),
                                   ParametricOptions.from_args(args, blood=BloodOptions.from_args(args),
                                                               dask=DaskOptions.from_args(args)),
                                   tacs_path=Path(args.tacs) if args.tacs else None)
    for name, path in written.items():
        log.info("%s map -> %s", name, path)


def _pk(args: argparse.Namespace) -> None:
    from .stage import run_pk

    options = PkOptions.from_args(args)
    table = run_pk(Path(args.samples), args.template, Path(args.output), method=options.auc_method,
                   n_terminal=options.n_terminal, points_output=Path(args.points) if args.points else None,
                   subjects=args.subjects, policy=options.policy)
    curves = table[table["note"].isna()] if "note" in table.columns else table
    log.info("%d PK rows (%d subject(s) with a curve, AUC rule %s) -> %s", len(table),
             curves["subject_id"].nunique() if len(curves) else 0, options.auc_method, args.output)
