"""``petvoi dce``, ``petvoi ivim``, ``petvoi dki``: MRI fits of tables of curves (issue 19)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``dce``, ``ivim``, ``dki``, ``mri-dce``, ``mri-dwi``, ``mri-normalise``, ``mri-t1``, ``mri-vois``
    and ``mri-export`` commands."""
    register_image(sub)
    register_dwi(sub)
    register_normalise(sub)
    register_t1(sub)
    register_export(sub)
    register_vois(sub)
    register_cohort(sub)
    p = sub.add_parser("dce", help="DCE-MRI tracer-kinetic fits (Tofts, extended Tofts, 2CXM, Patlak) of curves",
                       description="Fits tissue concentration curves (curves.csv: curve_id,time_s,concentration_mM, "
                                   "on the AIF's time grid) with the arterial input (aif.csv: time_s,"
                                   "concentration_mM, plasma unless --aif-kind blood); dcmri's models. Writes "
                                   "curve_id,model,ktrans_per_min,ve,vp,fp_ml_per_100ml_per_min,ps_per_min,delay_s,"
                                   "converged, standard errors and AICc.")
    p.add_argument("--curves", required=True, metavar="curves.csv")
    aif = p.add_mutually_exclusive_group(required=True)
    aif.add_argument("--aif", metavar="aif.csv", help="measured arterial input (time_s,concentration_mM)")
    aif.add_argument("--population-aif", choices=["parker", "tristan"],
                     help="population AIF of dcmri on the curves' time grid (blood): parker (Parker 2006, 0.1 "
                          "mmol/kg) or tristan (whole-body model, 0.2 mL/kg gadoterate, 73 kg)")
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
                           help="segmented (default), full (all four, started from segmented), bayesian (grid "
                                "posterior means, with SDs and 95 %% credible intervals)")
            p.add_argument("--b-threshold", type=float, default=200.0,
                           help="segmented: b (s/mm²) from which perfusion is ignored (default 200)")
        p.add_argument("--adc-range", nargs=2, type=float, default=[0.0, 1000.0], metavar=("B_MIN", "B_MAX"),
                       help="b-values (s/mm²) of the ADC (default 0 1000)")
        p.add_argument("-o", "--output", required=True, metavar="fit.csv")
        p.set_defaults(func=_ivim if name == "ivim" else _dki)


def register_image(sub: Any) -> None:
    """Add ``mri-dce``: the image-level DCE stage."""
    p = sub.add_parser("mri-dce", help="DCE-MRI from the DICOM series: concentration, AIF, parameter maps, VOI fits",
                       description="Decodes the dynamic series (phase times from TriggerTime, AcquisitionTime or "
                                   "ContentTime), converts signal to concentration (SPGR, native T1 and r1), takes "
                                   "the Parker AIF or an arterial VOI, and writes dce.csv (per VOI: the fit and "
                                   "semi-quantitative parameters), one NIfTI map per parameter and dce.json.")
    p.add_argument("--dce", required=True, metavar="SERIES_DIR")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz", help="a petvoi VOI set on the DCE grid")
    t10 = p.add_mutually_exclusive_group(required=True)
    t10.add_argument("--t10", type=float, metavar="S", help="native T1 (s) of every voxel")
    t10.add_argument("--t10-map", metavar="t1.nii.gz", help="native T1 map (s) on the DCE grid")
    r1 = p.add_mutually_exclusive_group(required=True)
    r1.add_argument("--r1", type=float, metavar="PER_MM_S", help="relaxivity (/mM/s)")
    r1.add_argument("--agent", help="contrast agent for dcmri's relaxivity table (e.g. gadobutrol), with --field")
    p.add_argument("--field", type=float, metavar="T",
                   help="field strength for --agent (default: the series' MagneticFieldStrength)")
    p.add_argument("--model", default="etm", choices=["tofts", "etm", "2cxm", "patlak"])
    p.add_argument("--aif-voi", help="the arterial VOI (blood) instead of a population AIF")
    p.add_argument("--population-aif", choices=["parker", "tristan"], default="parker",
                   help="population AIF of dcmri (blood; default parker); tristan uses --agent, --dose, --weight")
    p.add_argument("--dose", type=float, default=0.2, metavar="ML_PER_KG", help="tristan: agent dose (mL/kg)")
    p.add_argument("--weight", type=float, default=73.0, metavar="KG", help="tristan: the subject's weight (kg)")
    p.add_argument("--bolus-arrival", type=float, default=0.0, metavar="S", help="population AIF onset (s)")
    p.add_argument("--hct", type=float, default=0.45)
    p.add_argument("--baseline-phases", type=int, default=3, help="pre-contrast phases for S0 (default 3)")
    p.add_argument("--no-maps", action="store_true", help="VOI fits only")
    p.add_argument("--map-kinds", nargs="+", metavar="KIND", help="map the voxels of VOIs of these kinds only "
                   "(e.g. tumour; default: every VOI)")
    p.add_argument("--fit-delay", action="store_true")
    p.add_argument("--workers", type=int, default=1, help="processes fitting the voxels (default 1)")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR")
    p.set_defaults(func=_mri_dce)


def register_dwi(sub: Any) -> None:
    """Add ``mri-dwi``: the image-level diffusion stage."""
    p = sub.add_parser("mri-dwi", help="IVIM, kurtosis and ADC from a DWI series: maps and VOI fits",
                       description="Decodes the DWI series (b-values from (0018,9087) or the vendor's private tag; "
                                   "directions combined into the trace image), fits each VOI's mean signal (dwi.csv) "
                                   "and each VOI voxel (NIfTI maps), and writes dwi.json.")
    p.add_argument("--dwi", required=True, metavar="SERIES_DIR")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz", help="a petvoi VOI set on the DWI grid")
    p.add_argument("--ivim-method", default="segmented", choices=["segmented", "full", "bayesian", "ivim-dki"],
                   help="bayesian: grid posterior means; ivim-dki: IVIM with a kurtosis tissue term on every b "
                        "(b up to >= 1500)")
    p.add_argument("--b-threshold", type=float, default=200.0)
    p.add_argument("--adc-range", nargs=2, type=float, default=[0.0, 1000.0], metavar=("B_MIN", "B_MAX"))
    p.add_argument("--no-maps", action="store_true")
    p.add_argument("--map-kinds", nargs="+", metavar="KIND", help="map the voxels of VOIs of these kinds only")
    p.add_argument("--workers", type=int, default=1, help="processes fitting the voxels (default 1)")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR")
    p.set_defaults(func=_mri_dwi)


def register_normalise(sub: Any) -> None:
    """Add ``mri-normalise``: z-scoring an MR image for texture."""
    p = sub.add_parser("mri-normalise", help="z-score an MR image within a reference VOI (before texture)",
                       description="Writes (I - mean) / SD of the reference region (a VOI of the set, e.g. the body "
                                   "or muscle), the input of `petvoi texture --params configs/radiomics_mri.yaml`.")
    p.add_argument("--image", required=True, metavar="mr.nii.gz")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz", help="a petvoi VOI set on the image's grid")
    p.add_argument("--reference", required=True, metavar="VOI", help="the reference VOI's name (e.g. body, muscle)")
    p.add_argument("-o", "--output", required=True, metavar="mr_z.nii.gz")
    p.set_defaults(func=_mri_normalise)


def register_t1(sub: Any) -> None:
    """Add ``mri-t1``: a T1 map from variable-flip-angle series."""
    p = sub.add_parser("mri-t1", help="T1 map (s) from variable-flip-angle series (DESPOT1, optional B1 map)",
                       description="Reads one folder holding every flip angle or one folder per angle, fits DESPOT1 "
                                   "voxel by voxel (nominal angles x the B1 map when given) and writes the T1 map "
                                   "(s) with a JSON sidecar; the native T1 of petvoi mri-dce --t10-map.")
    p.add_argument("--vfa", required=True, nargs="+", metavar="SERIES_DIR",
                   help="the series folder(s); a folder holding only series folders stands for them")
    p.add_argument("--b1-map", metavar="b1.nii.gz", help="flip-angle scale map on the same grid (1 = nominal)")
    p.add_argument("-o", "--output", required=True, metavar="t1.nii.gz")
    p.set_defaults(func=_mri_t1)


def _mri_t1(args: argparse.Namespace) -> None:
    from ..dicom.geometry import read_nifti, write_nifti
    from ..errors import InvalidInputError
    from ..io import output_set, write_json
    from ..outputs.sidecars import sidecar_path
    from .relaxometry import t1_map
    from .series import load_vfa

    vfa = load_vfa([Path(f) for f in args.vfa])
    b1: Any = 1.0
    if args.b1_map:
        b1, grid = read_nifti(Path(args.b1_map))
        if not grid.same_grid(vfa.geometry):
            raise InvalidInputError("the B1 map is not on the grid of the flip-angle series", source=args.b1_map,
                                    remedy="resample the B1 map to the VFA grid")
    t1, _ = t1_map(vfa.volume, vfa.flip_deg, vfa.tr_s, b1=b1)
    output = Path(args.output)
    with output_set(output, sidecar_path(output)):
        write_nifti(output, t1.astype("float32"), vfa.geometry)
        write_json(sidecar_path(output), {"units": "s", "method": "DESPOT1 (linear)", "flip_deg": vfa.flip_deg.tolist(),
                                          "tr_s": vfa.tr_s, "b1_map": args.b1_map, "series": list(args.vfa)})
    log.info("T1 map from flip angles %s (TR %.4g s) -> %s", vfa.flip_deg.tolist(), vfa.tr_s, output)


def register_vois(sub: Any) -> None:
    """Add ``mri-vois``: VOIs on an MR series' grid."""
    from ..voi.options import VoiSources

    p = sub.add_parser("mri-vois", help="VOIs on an MR series' grid (RTSTRUCT, SEG, mask; PET VOIs resampled)",
                       description="Builds vois.nii.gz and vois.json on the grid of the MR series from an RTSTRUCT, "
                                   "SEG or mask drawn on the MR, and PET VOIs (a petvoi VOI set) resampled when PET "
                                   "and MR share their frame of reference or --registration is given.")
    p.add_argument("--series", required=True, metavar="SERIES_DIR", help="the MR series whose grid the VOIs take")
    VoiSources.add_arguments(p)
    p.add_argument("--pet-vois", metavar="vois.nii.gz", help="a PET VOI set to resample onto the MR grid")
    p.add_argument("--registration", metavar="T.tfm",
                   help="ITK transform mapping MR points to PET points (needed unless the frames of reference match)")
    p.add_argument("-o", "--output", required=True, metavar="vois.nii.gz")
    p.set_defaults(func=_mri_vois)


def _mri_vois(args: argparse.Namespace) -> None:
    from ..voi.options import VoiSources
    from .vois import run_mri_vois

    voiset = run_mri_vois(Path(args.series), Path(args.output), VoiSources.from_args(args),
                          pet_vois=Path(args.pet_vois) if args.pet_vois else None,
                          registration=Path(args.registration) if args.registration else None)
    log.info("%d VOIs on the MR grid -> %s", len(voiset), args.output)


def register_cohort(sub: Any) -> None:
    """Add ``mri-cohort``: the cohort MRI table."""
    p = sub.add_parser("mri-cohort", help="the cohort MRI table: one row per MR study and VOI (results/cohort/mri.csv)",
                       description="Stacks each MR study's VOI volumes, T1 medians, DCE and DWI fits (the results of "
                                   "mri-vois, mri-t1, mri-dce and mri-dwi under RESULTS) and adds the volume change "
                                   "from the subject's first MR timepoint.")
    p.add_argument("--mri-samples", required=True, metavar="mri.tsv", help="the MR sample sheet")
    p.add_argument("--results", required=True, metavar="RESULTS", help="the results folder of the MR stages")
    p.add_argument("--texture-output", metavar="mri_texture.csv",
                   help="also stack the studies' texture tables ({subject}/mri_{timepoint}/texture.csv) here")
    p.add_argument("-o", "--output", required=True, metavar="mri.csv")
    p.set_defaults(func=_mri_cohort)


def _mri_cohort(args: argparse.Namespace) -> None:
    from ..config import load_mri_sheet
    from ..io import output_set, write_csv
    from .cohort import build_mri_table, build_mri_texture_table

    sheet = load_mri_sheet(args.mri_samples)
    table = build_mri_table(sheet, Path(args.results))
    texture = build_mri_texture_table(sheet, Path(args.results)) if args.texture_output else None
    with output_set(Path(args.output), *([Path(args.texture_output)] if args.texture_output else [])):
        write_csv(Path(args.output), table)
        if texture is not None:
            write_csv(Path(args.texture_output), texture)
    log.info("%d MR studies, %d rows -> %s", table[["subject_id", "timepoint"]].drop_duplicates().shape[0],
             len(table), args.output)


def register_export(sub: Any) -> None:
    """Add ``mri-export``: MRI maps as DICOM Parametric Maps."""
    p = sub.add_parser("mri-export", help="MRI parameter maps (NIfTI) as DICOM Parametric Maps of their MR series",
                       description="Writes OUT_DIR/<map>_pm.dcm for each map (ktrans_per_min, ve, vp, "
                                   "fp_ml_per_100ml_per_min, ps_per_min, adc, ivim_f, ivim_d, ivim_dstar, dki_d, "
                                   "dki_k, t1: named by its file), float values with the unit in the Real World "
                                   "Value Mapping, referencing the series' first instance at each slice.")
    p.add_argument("--series", required=True, metavar="SERIES_DIR", help="the MR series the maps were computed on")
    p.add_argument("--map", required=True, nargs="+", metavar="MAP.nii.gz")
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR")
    p.set_defaults(func=_mri_export)


def _mri_export(args: argparse.Namespace) -> None:
    from ..deid import active
    from ..dicom.geometry import read_nifti
    from ..dicomout.sources import deidentified_sources, series_sources
    from ..dicomout.writers import MRI_MAP_UNITS, build_mri_pm
    from ..errors import InvalidInputError
    from ..io import atomic_path, output_set
    from .series import MR_SOP_CLASSES

    objects = []
    sources: list[Any] = []
    grid = None
    for path in (Path(m) for m in args.map):
        name = path.name.removesuffix(".nii.gz").removesuffix(".nii")
        if name not in MRI_MAP_UNITS:
            raise InvalidInputError(f"unknown map {name!r}", source=str(path), attribute="--map",
                                    remedy=f"name the file after its parameter: {', '.join(MRI_MAP_UNITS)}")
        values, geometry = read_nifti(path)
        if grid is None:  # the series' headers once, for every map on its grid
            grid = geometry
            sources = series_sources(Path(args.series), geometry, first_frame=True, sop_classes=MR_SOP_CLASSES)
            deid = active()
            if deid is not None:  # dates shifted by the subject's offset: refused without --as-subject
                sources = deidentified_sources(sources, deid, deid.subject)
        elif not geometry.same_grid(grid):
            raise InvalidInputError("the maps are on different grids", source=str(path), attribute="--map",
                                    remedy="give the maps of one series")
        objects.append((build_mri_pm(sources, values, name), Path(args.output) / f"{name}_pm.dcm"))
    with output_set(*(p for _, p in objects)):
        for dataset, target in objects:
            with atomic_path(target) as tmp:
                dataset.save_as(tmp, enforce_file_format=True)
    log.info("%d Parametric Maps -> %s", len(objects), args.output)


def _mri_normalise(args: argparse.Namespace) -> None:
    from ..dicom.geometry import read_nifti, write_nifti
    from ..errors import InvalidInputError
    from ..voi.catalogue import read_voiset
    from .normalise import zscore

    image, geometry = read_nifti(Path(args.image))
    voiset = read_voiset(Path(args.vois))
    names = [v.name for v in voiset.vois]
    if args.reference not in names:
        raise InvalidInputError(f"no VOI named {args.reference!r} (VOIs: {', '.join(names)})",
                                attribute="--reference", remedy="name a VOI of the set")
    if not voiset.geometry.same_grid(geometry):
        raise InvalidInputError("the VOIs are not on the image's grid", source=args.vois,
                                remedy="build the VOIs on this image")
    z = zscore(image, voiset.masks[names.index(args.reference)], region_name=args.reference)
    write_nifti(Path(args.output), z.astype("float32"), geometry)
    log.info("z-scored within %s -> %s", args.reference, args.output)


def _mri_dwi(args: argparse.Namespace) -> None:
    from .dwi import run_mri_dwi

    sidecar = run_mri_dwi(Path(args.dwi), Path(args.vois), Path(args.output), ivim_method=args.ivim_method,
                          b_threshold=args.b_threshold, adc_range=(args.adc_range[0], args.adc_range[1]),
                          maps=not args.no_maps, map_kinds=tuple(args.map_kinds) if args.map_kinds else None,
                          workers=args.workers)
    log.info("DWI: b-values %s (%s) -> %s", sidecar["b_values_s_per_mm2"], sidecar["b_source"], args.output)


def _mri_dce(args: argparse.Namespace) -> None:
    from .stage import run_mri_dce

    sidecar = run_mri_dce(Path(args.dce), Path(args.vois), Path(args.output),
                          t10=Path(args.t10_map) if args.t10_map else args.t10, r1_per_mm_s=args.r1, model=args.model,
                          bolus_arrival_s=args.bolus_arrival, aif_voi=args.aif_voi, hct=args.hct,
                          n_baseline=args.baseline_phases, maps=not args.no_maps, fit_delay=args.fit_delay,
                          agent=args.agent, field_t=args.field,
                          map_kinds=tuple(args.map_kinds) if args.map_kinds else None, workers=args.workers,
                          population_aif=args.population_aif, dose_ml_per_kg=args.dose, weight_kg=args.weight)
    log.info("DCE %s: %d phases (%s), maps %s -> %s", args.model, sidecar["n_phases"], sidecar["time_source"],
             ", ".join(sidecar["maps"].get("files", {})) or "none", args.output)


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
