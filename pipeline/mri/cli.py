"""``petvoi dce``, ``petvoi ivim``, ``petvoi dki``: MRI fits of tables of curves (issue 19)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``dce``, ``ivim`` and ``dki`` commands."""
    p = sub.add_parser("dce", help="DCE-MRI tracer-kinetic fits (Tofts, extended Tofts, 2CXM, Patlak) of curves",
                       description="Fits tissue concentration curves (curves.csv: curve_id,time_s,concentration_mM, "
                                   "on the AIF's time grid) with the arterial input (aif.csv: time_s,"
                                   "concentration_mM, plasma unless --aif-kind blood); dcmri's models. Writes "
                                   "curve_id,model,ktrans_per_min,ve,vp,fp_ml_per_100ml_per_min,ps_per_min,delay_s,"
                                   "converged, standard errors and AICc.")
    p.add_argument("--curves", required=True, metavar="curves.csv")
    aif = p.add_mutually_exclusive_group(required=True)
    aif.add_argument("--aif", metavar="aif.csv", help="measured arterial input (time_s,concentration_mM)")
    aif.add_argument("--population-aif", choices=["parker"],
                     help="population AIF (Parker 2006, blood, 0.1 mmol/kg) on the curves' time grid")
    p.add_argument("--bolus-arrival", type=float, default=0.0, metavar="S",
                   help="bolus arrival time of the population AIF (s from the first sample; default 0)")
    p.add_argument("--model", required=True, choices=["tofts", "etm", "2cxm", "patlak"])
    p.add_argument("--fit-delay", action="store_true", help="fit a delay of the AIF (0-30 s) with the parameters")
    p.add_argument("--aif-kind", choices=["plasma", "blood"], default="plasma",
                   help="blood: divided by (1 - Hct) into plasma")
    p.add_argument("--hct", type=float, default=0.45, help="haematocrit for --aif-kind blood (default 0.45)")
    p.add_argument("-o", "--output", required=True, metavar="fit.csv")
    p.set_defaults(func=_dce)
    for name, helptext in (("ivim", "IVIM fits (f, D, D*) of trace-weighted multi-b signals"),
                           ("dki", "diffusion-kurtosis fits (D, K; Jensen) of trace-weighted multi-b signals")):
        p = sub.add_parser(name, help=helptext,
                           description=f"{helptext}: signals.csv has curve_id,b_s_per_mm2,signal; the table adds "
                                       "the mono-exponential ADC over --adc-range.")
        p.add_argument("--signals", required=True, metavar="signals.csv")
        if name == "ivim":
            p.add_argument("--method", default="segmented", choices=["segmented", "full", "bayesian"],
                           help="segmented (default), full (all four, started from segmented)")
            p.add_argument("--b-threshold", type=float, default=200.0,
                           help="segmented: b (s/mm²) from which perfusion is ignored (default 200)")
        p.add_argument("--adc-range", nargs=2, type=float, default=[0.0, 1000.0], metavar=("B_MIN", "B_MAX"),
                       help="b-values (s/mm²) of the ADC (default 0 1000)")
        p.add_argument("-o", "--output", required=True, metavar="fit.csv")
        p.set_defaults(func=_ivim if name == "ivim" else _dki)


def _dce(args: argparse.Namespace) -> None:
    from .tables import run_dce

    table = run_dce(Path(args.curves), Path(args.aif) if args.aif else None, Path(args.output), model=args.model,
                    fit_delay=args.fit_delay, aif_kind=args.aif_kind, hct=args.hct,
                    population_aif=args.population_aif, bolus_arrival_s=args.bolus_arrival)
    log.info("%d curves fitted (%s, %d converged) -> %s", len(table), args.model, int(table["converged"].sum()),
             args.output)


def _ivim(args: argparse.Namespace) -> None:
    from .tables import run_ivim

    table = run_ivim(Path(args.signals), Path(args.output), method=args.method, b_threshold=args.b_threshold,
                     adc_range=(args.adc_range[0], args.adc_range[1]))
    log.info("%d curves fitted (IVIM %s) -> %s", len(table), args.method, args.output)


def _dki(args: argparse.Namespace) -> None:
    from .tables import run_dki

    table = run_dki(Path(args.signals), Path(args.output), adc_range=(args.adc_range[0], args.adc_range[1]))
    log.info("%d curves fitted (DKI) -> %s", len(table), args.output)
