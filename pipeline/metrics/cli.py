"""``petvoi uptake``, ``texture``, ``heterogeneity`` and ``spread``: the metrics of each VOI and study."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from ..parallel import DaskOptions
from .options import HeterogeneityOptions, SpreadOptions, TextureOptions, UptakeOptions

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``uptake``, ``texture``, ``heterogeneity`` and ``spread`` commands."""
    p = sub.add_parser("uptake", help="SUVmax/mean/median/min/SD/peak, MTV, TLG, SUL and ratios per VOI",
                       description="One row per VOI: label, name, kind, n_voxels, volume_ml, n_voxels_excluded "
                                   "(organ and reference VOIs leave out the tumour VOIs grown by a margin), "
                                   "suv_max, suv_mean, suv_median, suv_min, suv_sd, suv_peak (1 cm3 sphere), tlg, "
                                   "SUL columns when height and sex are known, ratios to liver and blood-pool "
                                   "references, reference_role (the liver: the 3 cm sphere when there is one, "
                                   "else the whole liver with a warning), warnings.")
    p.add_argument("--suv", required=True, metavar="suv.nii.gz")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz")
    UptakeOptions.add_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="uptake.csv")
    p.set_defaults(func=_uptake)

    p = sub.add_parser("texture", help="IBSI-coded texture and intensity features per VOI (pyradiomics + petvoi)",
                       description="A long table: one row per VOI and feature (label, name, feature, family, "
                                   "ibsi_code, value); VOIs too small or empty get one row with the reason. The "
                                   "settings go to texture.json beside the table.")
    p.add_argument("--image", required=True, metavar="IMG.nii.gz", help="SUV or CT (HU) volume on the VOI grid")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz")
    p.add_argument("--params", required=True, metavar="PARAMS.yaml",
                   help="extraction settings, e.g. configs/radiomics_pet.yaml")
    TextureOptions.add_arguments(p)
    DaskOptions.add_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="texture.csv")
    p.set_defaults(func=_texture)

    p = sub.add_parser("heterogeneity", help="per-VOI CoV, area under the cumulative SUV-volume histogram, entropy")
    p.add_argument("--suv", required=True, metavar="suv.nii.gz")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz")
    HeterogeneityOptions.add_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="heterogeneity.csv")
    p.set_defaults(func=_heterogeneity)

    p = sub.add_parser("spread", help="inter-lesion spread of lesion SUVmax/SUVmean per subject and timepoint")
    p.add_argument("--uptake", required=True, metavar="uptake.parquet", help="cohort uptake table")
    SpreadOptions.add_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="inter_lesion.parquet")
    p.set_defaults(func=_spread)


def _uptake(args: argparse.Namespace) -> None:
    from .stage import run_uptake

    table = run_uptake(Path(args.suv), Path(args.vois), Path(args.output), UptakeOptions.from_args(args))
    log.info("uptake of %d VOIs -> %s", len(table), args.output)


def _texture(args: argparse.Namespace) -> None:
    from .texture_stage import run_texture

    table = run_texture(Path(args.image), Path(args.vois), Path(args.params), Path(args.output),
                        TextureOptions.from_args(args, dask=DaskOptions.from_args(args)))
    skipped = table[table["reason"].fillna("") != ""]
    log.info("%d feature values for %d VOIs (%d skipped) -> %s", int(table["value"].notna().sum()),
             table["label"].nunique(), skipped["label"].nunique(), args.output)
    for row in skipped.itertuples():
        log.warning("%s: texture skipped: %s", row.name, row.reason)


def _heterogeneity(args: argparse.Namespace) -> None:
    from .stage import run_heterogeneity

    table = run_heterogeneity(Path(args.suv), Path(args.vois), Path(args.output), HeterogeneityOptions.from_args(args))
    log.info("heterogeneity of %d VOIs -> %s", len(table), args.output)


def _spread(args: argparse.Namespace) -> None:
    from .stage import run_spread

    table = run_spread(Path(args.uptake), Path(args.output), SpreadOptions.from_args(args))
    log.info("inter-lesion spread of %d studies -> %s", len(table), args.output)
