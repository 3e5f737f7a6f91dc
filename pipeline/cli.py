"""Command-line interface: ``petvoi <stage> ...``.

Only this module prints and exits. Every stage is a subcommand taking its
inputs as options and one output path; errors from bad input are
:class:`~pipeline.errors.PipelineError` and are printed as one line with exit
status 2 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import PipelineError

if TYPE_CHECKING:
    from .kinetics.blood import InputFunction

__all__ = ["main", "build_parser"]

log = logging.getLogger("pipeline")


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callable; draws a rich progress bar only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


# --------------------------------------------------------------------------- stages


def _cmd_synth(args: argparse.Namespace) -> int:
    from .synthetic import generate_cohort

    if args.dynamic:
        from .synthetic.kinetic import write_kinetic_study

        truth = write_kinetic_study(Path(args.out), seed=args.seed)
        log.info("wrote a dynamic PET study (%d VOIs with known 2TCM rates), blood.csv and truth.json under %s",
                 len(truth.get("vois", [])), args.out)
        return 0
    summary = generate_cohort(Path(args.out), n_subjects=args.subjects, seed=args.seed, noise_sd=args.noise)
    log.info("wrote %d studies of %d subjects under %s", len(summary.study_dirs), len(summary.subject_ids), args.out)
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from .dicom.index import index_tree
    from .io import write_csv

    with progress_bar("indexing DICOM", None) as advance:
        result = index_tree(Path(args.dicom_root), workers=args.workers, progress=advance,
                            samples=Path(args.samples) if args.samples else None,
                            data_root=Path(args.data_root) if args.data_root else None)
    write_csv(args.output, result.series)
    log.info("%d series from %d DICOM files (%d non-DICOM skipped, %d unreadable) -> %s",
             len(result.series), result.n_dicom, result.n_skipped, len(result.unreadable), args.output)
    for path, reason in result.unreadable:
        log.warning("unreadable DICOM %s: %s", path, reason)
    return 0


def _suv_options(args: argparse.Namespace) -> Any:
    from datetime import datetime

    from .errors import InvalidInputError
    from .suv.factors import SuvOptions, load_dosing_table

    injection = None
    if args.injection:
        try:
            injection = datetime.fromisoformat(args.injection)
        except ValueError:
            raise InvalidInputError(f"not an ISO 8601 datetime: {args.injection!r}", attribute="--injection",
                                    remedy="write it like 2025-03-03T09:27:19+01:00") from None
    dosing = None
    if args.dosing:
        if not (args.subject and args.timepoint):
            raise InvalidInputError("--dosing needs --subject and --timepoint", attribute="--dosing",
                                    remedy="name the row of the dosing table to use")
        dosing = load_dosing_table(Path(args.dosing), args.subject, args.timepoint)
    return SuvOptions(
        kind=args.kind, lbm_formula=args.lbm_formula, weight_kg=args.weight, height_cm=args.height,
        sex=args.sex, dose_bq=None if args.dose is None else args.dose * 1e6, injection_datetime=injection,
        nuclide=args.nuclide, dosing=dosing, allow_half_life_mismatch=args.allow_half_life_mismatch,
    )


def _cmd_suv(args: argparse.Namespace) -> int:
    from .suv.stage import run_suv

    sidecar = run_suv(Path(args.series_dir), Path(args.output), _suv_options(args), workers=args.workers)
    factor = sidecar.get("suv_factor")
    log.info("SUV%s written to %s (factor %s, rule %s; sidecar %s)", sidecar["suv_kind"], args.output,
             "per frame" if factor is None else f"{factor:.6g}", sidecar.get("rule"), sidecar.path)
    for warning in sidecar.get("warnings", []):
        log.warning("%s", warning)
    return 0


def _cmd_ct(args: argparse.Namespace) -> int:
    from .suv.stage import run_ct

    sidecar = run_ct(Path(args.series_dir), Path(args.output), workers=args.workers)
    log.info("CT (%d slices, HU %.0f..%.0f) written to %s", sidecar["n_slices"], sidecar["hu_min"],
             sidecar["hu_max"], args.output)
    return 0


def _cmd_vois(args: argparse.Namespace) -> int:
    from .voi.stage import VoiSources, load_name_rules, run_vois

    sources = VoiSources(
        rtstruct=Path(args.rtstruct) if args.rtstruct else None, seg=Path(args.seg) if args.seg else None,
        mask=Path(args.mask) if args.mask else None, spheres=";".join(args.spheres or []),
        thresholds=";".join(args.threshold or []), inclusion=args.inclusion, allow_resample=args.allow_resample,
        name_rules=load_name_rules(Path(args.name_rules) if args.name_rules else None),
        frame_of_reference_uid=args.frame_of_reference)
    voiset = run_vois(Path(args.pet), Path(args.output), sources)
    kinds = {k: len(voiset.by_kind(k)) for k in ("tumour", "organ", "reference", "body")}
    log.info("%d VOIs (%s) -> %s", len(voiset), ", ".join(f"{n} {k}" for k, n in kinds.items() if n), args.output)
    for voi in voiset.vois:
        for warning in voi.warnings:
            log.warning("%s: %s", voi.name, warning)
    return 0


def _cmd_uptake(args: argparse.Namespace) -> int:
    from .metrics.stage import run_uptake

    table = run_uptake(Path(args.suv), Path(args.vois), Path(args.output),
                       exclude_tumours_from_organs=not args.keep_tumours_in_organs, peak_mode=args.peak,
                       min_voxels=args.min_voxels)
    log.info("uptake of %d VOIs -> %s", len(table), args.output)
    return 0


def _cmd_texture(args: argparse.Namespace) -> int:
    from .metrics.texture_stage import run_texture

    table = run_texture(Path(args.image), Path(args.vois), Path(args.params), Path(args.output),
                        kinds=tuple(args.kinds.split(",")), workers=args.workers)
    skipped = table[table["reason"].fillna("") != ""]
    log.info("%d feature values for %d VOIs (%d skipped) -> %s", int(table["value"].notna().sum()),
             table["label"].nunique(), skipped["label"].nunique(), args.output)
    for row in skipped.itertuples():
        log.warning("%s: texture skipped: %s", row.name, row.reason)
    return 0


def _cmd_heterogeneity(args: argparse.Namespace) -> int:
    from .metrics.stage import run_heterogeneity

    table = run_heterogeneity(Path(args.suv), Path(args.vois), Path(args.output), bin_width=args.bin_width)
    log.info("heterogeneity of %d VOIs -> %s", len(table), args.output)
    return 0


def _cmd_spread(args: argparse.Namespace) -> int:
    import pandas as pd

    from .io import write_table
    from .metrics.heterogeneity import inter_lesion_spread

    uptake = pd.read_parquet(args.uptake) if args.uptake.endswith(".parquet") else pd.read_csv(args.uptake)
    table = inter_lesion_spread(uptake, positivity_threshold=args.positivity)
    write_table(args.output, table)
    log.info("inter-lesion spread of %d studies -> %s", len(table), args.output)
    return 0


def _cmd_deltas(args: argparse.Namespace) -> int:
    import pandas as pd

    from .clinical.deltas import DeltaOptions, compute_deltas
    from .clinical.percist import PercistOptions
    from .config import load_sample_sheet
    from .errors import InvalidInputError
    from .io import write_csv
    from .outputs import StudyPaths, SuvSidecar

    sheet = load_sample_sheet(args.samples, acquisition="static")
    rows = sheet[sheet["subject_id"] == args.subject]
    if rows.empty:
        raise InvalidInputError(f"subject {args.subject} is not in the sample sheet", source=args.samples,
                                attribute="subject_id", remedy="use a subject_id of the sheet")
    studies, sidecars = {}, {}
    for timepoint in rows["timepoint"]:
        study = StudyPaths.from_template(args.template, args.subject, timepoint)
        if not study.uptake.is_file():
            raise InvalidInputError("uptake table missing", source=str(study.uptake),
                                    remedy="run `petvoi uptake` for this study first")
        studies[timepoint] = pd.read_csv(study.uptake)
        sidecar = SuvSidecar.read_optional(study.suv_json)
        if sidecar is not None:
            sidecars[timepoint] = sidecar
    mapping = pd.read_csv(args.mapping, dtype=str, keep_default_na=False) if args.mapping else None
    options = DeltaOptions(baseline=args.baseline, percist=PercistOptions(
        reference=args.reference, after_one_cycle=args.eortc_after_one_cycle))
    table = compute_deltas(studies, sidecars, subject_id=args.subject, mapping=mapping, options=options)
    write_csv(args.output, table)
    patient = table[table["level"] == "patient"].drop_duplicates("timepoint")
    for row in patient.itertuples():
        log.info("%s %s: PERCIST %s%s", args.subject, row.timepoint, row.percist or "NA",
                 "" if row.comparable in (True, "True") else " (scans not comparable)")
    return 0


def _cmd_recist(args: argparse.Namespace) -> int:
    import pandas as pd

    from .clinical import RecistOptions, best_overall_response, evaluate_recist, validate_response_table
    from .errors import InvalidInputError
    from .io import write_csv

    try:
        table = pd.read_csv(args.measurements, dtype=str, keep_default_na=False)
    except (OSError, pd.errors.ParserError) as exc:
        raise InvalidInputError(f"cannot be read as CSV ({exc})", source=args.measurements,
                                remedy="give a comma-separated table") from None
    options = RecistOptions(confirm=args.confirm, min_interval_days=args.confirm_days, sd_min_days=args.sd_min_days,
                            strict_target_limits=not args.lenient_target_limits)
    if "overall_response" in table.columns and "lesion_id" not in table.columns:
        bor = validate_response_table(table, source=args.measurements, **options.bor_kwargs())
        write_csv(args.output, table)
    else:
        timepoints = evaluate_recist(table, source=args.measurements, options=options)
        bor = best_overall_response(timepoints, source=args.measurements, **options.bor_kwargs())
        write_csv(args.output, timepoints)
    bor_path = Path(args.bor_output) if args.bor_output else Path(args.output).with_name(
        Path(args.output).stem + "_bor.csv")
    write_csv(bor_path, bor)
    log.info("time-point responses -> %s; best overall response of %d subjects -> %s", args.output, len(bor),
             bor_path)
    return 0


def _cmd_stats(args: argparse.Namespace) -> int:
    from .clinical.stats_stage import run_stats
    from .config import load_config

    config = load_config(args.config)
    clinical = config["clinical"]
    paths = {"uptake": args.uptake, "deltas": args.deltas, "bor": args.bor, "heterogeneity": args.heterogeneity,
             "inter_lesion": args.inter_lesion, "ihc": args.ihc if args.ihc is not None else clinical["ihc"],
             "histology": args.histology if args.histology is not None else clinical["histology"],
             "outcomes": args.outcomes if args.outcomes is not None else clinical["outcomes"]}
    table = run_stats(paths, config, Path(args.output), Path(args.figures) if args.figures else None)
    log.info("%d result rows (%d endpoints) -> %s", len(table), table["endpoint"].nunique(), args.output)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from .config import load_config
    from .errors import InvalidInputError
    from .io import sanitise_name

    config = load_config(args.config)
    results = Path(args.results)
    reports = Path(args.output_dir) if args.output_dir else results / "reports"
    if args.cohort:
        from .report.cohort import write_cohort_report

        html, pdf = write_cohort_report(results_dir=results, samples=Path(args.samples), config=config,
                                        output_html=reports / "cohort.html", deidentify=config["deidentify"])
    else:
        if not args.subject:
            raise InvalidInputError("no subject given", attribute="SUBJECT", remedy="give a subject_id or --cohort")
        from .report.patient import write_patient_report

        html, pdf = write_patient_report(args.subject, results_dir=results, samples=Path(args.samples),
                                         config=config, output_html=reports / f"{sanitise_name(args.subject)}.html",
                                         deidentify=config["deidentify"])
    print(html)
    if pdf:
        print(pdf)
    return 0


def _cmd_tacs(args: argparse.Namespace) -> int:
    from .kinetics.stage import run_tacs

    table = run_tacs(Path(args.pet4d), Path(args.vois), Path(args.output))
    log.info("TACs of %d VOIs x %d frames -> %s", table["name"].nunique(), table["frame"].nunique(), args.output)
    return 0


def _blood_input(args: argparse.Namespace) -> tuple[InputFunction | None, str | None]:
    """The processed model input of ``kinetics``/``parametric`` and the VOI to fit the delay on."""
    from .errors import InvalidInputError
    from .kinetics.stage import load_input
    from .suv.nuclides import get_nuclide

    if not args.blood:
        return None, None
    delay_s, delay_voi = 0.0, None
    if args.delay == "fit":
        delay_voi = args.delay_voi
        if not delay_voi:
            raise InvalidInputError("--delay fit needs the VOI to fit it on", attribute="--delay-voi",
                                    remedy="name a high-flow VOI of tacs.csv")
    else:
        try:
            delay_s = float(args.delay)
        except ValueError:
            raise InvalidInputError(f"--delay {args.delay!r} is neither seconds nor 'fit'", attribute="--delay",
                                    remedy="give seconds, e.g. --delay 8, or --delay fit") from None
    half_life = get_nuclide(args.nuclide).half_life_s if args.nuclide else None
    parent_model = None if args.parent_model == "none" else args.parent_model
    tacs = Path(args.tacs) if args.tacs else None
    blood = load_input(Path(args.blood), decay_corrected=not args.blood_not_decay_corrected, half_life_s=half_life,
                       kind=args.input_kind, parent_model=parent_model, ratio_model=args.ratio_model, delay_s=delay_s,
                       dispersion_tau_s=args.dispersion_tau, idif_voi=args.idif,
                       idif_min_time_s=args.idif_min_time * 60.0, tacs_path=tacs)
    return blood, delay_voi


def _cmd_kinetics(args: argparse.Namespace) -> int:
    from .kinetics.stage import run_kinetics

    blood, delay_voi = _blood_input(args)
    table = run_kinetics(Path(args.tacs), Path(args.output), models=args.model, blood=blood,
                         reference=args.reference, t_star_min=args.t_star, delay_voi=delay_voi, idif_voi=args.idif,
                         exclude=args.exclude or (), sidecar={"blood_table": args.blood, "nuclide": args.nuclide})
    failed = table.loc[~table["converged"].astype(bool), ["name", "model"]].drop_duplicates()
    for row in failed.itertuples():
        log.warning("%s %s: fit did not converge (flagged in the table)", row.name, row.model)
    log.info("%d parameter rows -> %s", len(table), args.output)
    return 0


def _cmd_parametric(args: argparse.Namespace) -> int:
    from .errors import InvalidInputError
    from .kinetics.stage import run_parametric

    if not args.blood:
        raise InvalidInputError("parametric maps need a plasma input", attribute="--blood",
                                remedy="give the blood table")
    if (args.delay == "fit" or args.idif) and not args.tacs:
        raise InvalidInputError("--delay fit and --idif need the TAC table", attribute="--tacs",
                                remedy="give tacs.csv of this study")
    blood, delay_voi = _blood_input(args)
    written = run_parametric(Path(args.pet4d), Path(args.output_dir), blood=blood, maps=args.map,
                             t_star_min=args.t_star, workers=args.workers, delay_voi=delay_voi,
                             tacs_path=Path(args.tacs) if args.tacs else None)
    for name, path in written.items():
        log.info("%s map -> %s", name, path)
    return 0


def _cmd_pk(args: argparse.Namespace) -> int:
    from .config import load_sample_sheet
    from .kinetics.stage import run_pk

    table = run_pk(load_sample_sheet(args.samples, acquisition="static"), args.template, Path(args.output))
    log.info("%d PK rows -> %s", len(table), args.output)
    return 0


def _cmd_collect(args: argparse.Namespace) -> int:
    from .cohort import collect_study_tables
    from .config import load_sample_sheet
    from .io import write_table

    table = collect_study_tables(load_sample_sheet(args.samples, acquisition=args.acquisition), args.template,
                                 allow_missing=args.allow_missing)
    write_table(args.output, table)
    log.info("%d rows -> %s", len(table), args.output)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .config import check_dynamic_studies, load_config, load_sample_sheet

    config = load_config(args.config)
    samples = args.samples or config["samples"]
    sheet = load_sample_sheet(samples)
    check_dynamic_studies(config, sheet, source=str(samples))
    n_dynamic = int((sheet["acquisition"] == "dynamic").sum())
    print(f"{args.config}: valid; sample sheet {samples}: {len(sheet)} rows ({n_dynamic} dynamic), "
          f"{sheet['subject_id'].nunique()} subjects")
    return 0


# --------------------------------------------------------------------------- parser


def _add_blood_options(p: argparse.ArgumentParser) -> None:
    """Blood-input options shared by ``kinetics`` and ``parametric``."""
    p.add_argument("--blood", metavar="blood.csv",
                   help="time_s, whole_blood, plasma, parent_fraction (kBq/mL columns *_kbq_ml)")
    p.add_argument("--input-kind", choices=["parent_plasma", "total_plasma", "whole_blood"], default="parent_plasma")
    p.add_argument("--blood-not-decay-corrected", action="store_true", help="decay-correct the samples to injection")
    p.add_argument("--nuclide", help="nuclide key for decay correction of the samples (e.g. F18)")
    p.add_argument("--parent-model", choices=["hill", "biexp", "none"], default="hill",
                   help="parent-fraction model (default hill; none: no metabolite correction)")
    p.add_argument("--ratio-model", choices=["constant", "linear"], default="constant",
                   help="plasma/whole-blood ratio model where a sample lacks one of them")
    p.add_argument("--delay", default="0", metavar="S|fit",
                   help="input delay in seconds (positive: blood later), or 'fit' (1TCM on --delay-voi's first 10 min)")
    p.add_argument("--delay-voi", metavar="VOI", help="high-flow VOI to fit the delay on")
    p.add_argument("--dispersion-tau", type=float, default=0.0, metavar="S",
                   help="dispersion time constant of sampled blood (s; 0 = none)")
    p.add_argument("--idif", metavar="VOI",
                   help="image-derived input: this blood-pool VOI's TAC scaled to the whole-blood samples")
    p.add_argument("--idif-min-time", type=float, default=0.0, metavar="MIN",
                   help="earliest sample used to scale the image-derived input (min; venous: after equilibrium)")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with one subcommand per stage."""
    parser = argparse.ArgumentParser(
        prog="petvoi",
        description="Quantitative PET/CT for immuno-PET and peptide-PET trials.",
        epilog="Errors from bad input are printed on one line with exit status 2; --debug shows the traceback.",
    )
    parser.add_argument("--version", action="version", version=f"petvoi {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("synth", help="generate the synthetic PET/CT cohort with exact truth",
                       description="Write deterministic PET, CT and RTSTRUCT DICOM, truth.json per study, a sample "
                                   "sheet and clinical tables (ihc, recist, histology, outcomes, dosing) under OUT.")
    p.add_argument("out", metavar="OUT", help="output folder (DICOM goes to OUT/dicom)")
    p.add_argument("--subjects", type=int, default=6, help="number of subjects (default 6)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, identical bytes (default 0)")
    p.add_argument("--noise", type=float, default=0.0, metavar="SD",
                   help="relative Gaussian noise SD on PET activity (default 0: noiseless)")
    p.add_argument("--dynamic", action="store_true",
                   help="write one dynamic PET study (28 frames, 90 min) with VOIs of known 2TCM rates, a blood "
                        "table and truth.json instead of the cohort")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("index", help="index a DICOM tree: one row per series",
                       description="Header-only scan of a DICOM tree; writes one row per series.")
    p.add_argument("dicom_root", metavar="DICOM_ROOT")
    p.add_argument("-o", "--output", required=True, metavar="series.csv")
    p.add_argument("--workers", type=int, default=8, help="header-reading threads (default 8)")
    p.add_argument("--samples", metavar="samples.tsv",
                   help="sample sheet: subject_id is taken from it (by study UID or folder) instead of a pseudonym")
    p.add_argument("--data-root", metavar="DIR", help="folder the sample sheet's dicom paths are relative to")
    p.set_defaults(func=_cmd_index)

    from .suv.nuclides import NUCLIDES

    nuclides = list(NUCLIDES)
    p = sub.add_parser(
        "suv", help="decode a PET series and convert it to SUV (NIfTI + JSON sidecar)",
        description="Decode one PET series folder and write the SUV volume (float32; 4D for dynamic series) and "
                    "suv.json beside it: how every number was obtained (rule, reference-time candidates, "
                    "overrides, warnings). Options override DICOM values and are recorded as overrides.")
    p.add_argument("series_dir", metavar="SERIES_DIR")
    p.add_argument("-o", "--output", required=True, metavar="suv.nii.gz")
    p.add_argument("--kind", choices=["bw", "lbm", "bsa", "ibw"], default="bw",
                   help="SUV normalisation: body weight, lean body mass (SUL), body surface area, ideal body weight")
    p.add_argument("--lbm-formula", choices=["janmahasatian", "james128"], default="janmahasatian",
                   help="lean-body-mass formula for --kind lbm (default janmahasatian)")
    p.add_argument("--weight", type=float, metavar="KG", help="patient weight in kg (overrides PatientWeight)")
    p.add_argument("--height", type=float, metavar="CM", help="patient height in cm (overrides PatientSize)")
    p.add_argument("--sex", choices=["M", "F"], help="patient sex (overrides PatientSex)")
    p.add_argument("--dose", type=float, metavar="MBQ", help="injected activity in MBq at the injection time")
    p.add_argument("--injection", metavar="ISO_DATETIME",
                   help="injection datetime, e.g. 2025-03-03T09:27:19+01:00 (overrides the DICOM start time)")
    p.add_argument("--nuclide", choices=nuclides, help="radionuclide (overrides/cross-checks the DICOM header)")
    p.add_argument("--dosing", metavar="dosing.csv",
                   help="dosing table (net dose from syringe and residual activity, weight, height, sex)")
    p.add_argument("--subject", help="subject_id of the dosing-table row")
    p.add_argument("--timepoint", help="timepoint of the dosing-table row")
    p.add_argument("--allow-half-life-mismatch", action="store_true",
                   help="accept a header half-life that differs > 1 %% from the nuclide's (warning instead of error)")
    p.add_argument("--workers", type=int, default=4, help="file-reading threads (default 4)")
    p.set_defaults(func=_cmd_suv)

    p = sub.add_parser("ct", help="decode a CT series to Hounsfield units (NIfTI + JSON sidecar)")
    p.add_argument("series_dir", metavar="SERIES_DIR")
    p.add_argument("-o", "--output", required=True, metavar="ct.nii.gz")
    p.add_argument("--workers", type=int, default=4, help="file-reading threads (default 4)")
    p.set_defaults(func=_cmd_ct)

    from .voi.specs import SPEC_HELP

    p = sub.add_parser(
        "vois", help="build the VOI set on the PET grid from RTSTRUCT, SEG, masks, spheres, thresholds",
        description="Write vois.nii.gz (one mask per VOI, overlapping VOIs kept whole) and vois.json (label, name, "
                    "kind, lesion_id, organ, source, n_voxels). Sources combine, in the order RTSTRUCT, SEG, mask, "
                    "spheres, thresholds.",
        epilog=SPEC_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pet", required=True, metavar="suv.nii.gz", help="SUV image whose grid the VOIs are built on")
    p.add_argument("--rtstruct", metavar="RS.dcm", help="RTSTRUCT file (or a folder holding only it)")
    p.add_argument("--seg", metavar="SEG.dcm", help="DICOM SEG file (binary or fractional)")
    p.add_argument("--mask", metavar="m.nii.gz", help="NIfTI binary mask or label map")
    p.add_argument("--spheres", action="append", metavar="SPEC", help="sphere VOIs (see below); repeatable")
    p.add_argument("--threshold", action="append", metavar="SPEC", help="threshold VOIs (see below); repeatable")
    p.add_argument("--inclusion", choices=["centre", "fraction"], default="centre",
                   help="RTSTRUCT voxel rule: centre inside the contour (default) or >= 50 %% of its area covered")
    p.add_argument("--allow-resample", action="store_true",
                   help="resample SEG/NIfTI masks on another grid (nearest neighbour, recorded as a warning)")
    p.add_argument("--name-rules", metavar="RULES.yaml",
                   help="YAML list of {pattern, kind, organ, lesion_id} tried before the default name rules")
    p.add_argument("--frame-of-reference", metavar="UID",
                   help="the PET's FrameOfReferenceUID (default: from suv.json beside --pet)")
    p.add_argument("-o", "--output", required=True, metavar="vois.nii.gz")
    p.set_defaults(func=_cmd_vois)

    p = sub.add_parser("uptake", help="SUVmax/mean/median/min/SD/peak, MTV, TLG, SUL and ratios per VOI",
                       description="One row per VOI: label, name, kind, n_voxels, volume_ml, suv_max, suv_mean, "
                                   "suv_median, suv_min, suv_sd, suv_peak (1 cm3 sphere), tlg, SUL columns when "
                                   "height and sex are known, ratios to liver and blood-pool references, warnings.")
    p.add_argument("--suv", required=True, metavar="suv.nii.gz")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz")
    p.add_argument("--peak", choices=["global", "local"], default="global",
                   help="SUVpeak: global (max over sphere centres in the VOI; PERCIST) or local (centred on the max)")
    p.add_argument("--keep-tumours-in-organs", action="store_true",
                   help="do not exclude tumour voxels from organ and reference statistics")
    p.add_argument("--min-voxels", type=int, default=8, help="warn for VOIs with fewer voxels (default 8)")
    p.add_argument("-o", "--output", required=True, metavar="uptake.csv")
    p.set_defaults(func=_cmd_uptake)

    p = sub.add_parser("texture", help="IBSI-coded texture and intensity features per VOI (pyradiomics + petvoi)",
                       description="A long table: one row per VOI and feature (label, name, feature, family, "
                                   "ibsi_code, value); VOIs too small or empty get one row with the reason. The "
                                   "settings go to texture.json beside the table.")
    p.add_argument("--image", required=True, metavar="IMG.nii.gz", help="SUV or CT (HU) volume on the VOI grid")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz")
    p.add_argument("--params", required=True, metavar="PARAMS.yaml",
                   help="extraction settings, e.g. configs/radiomics_pet.yaml")
    p.add_argument("--kinds", default="tumour", help="comma-separated VOI kinds to process (default tumour)")
    p.add_argument("--workers", type=int, default=1, help="parallel worker processes (dask; default 1)")
    p.add_argument("-o", "--output", required=True, metavar="texture.csv")
    p.set_defaults(func=_cmd_texture)

    p = sub.add_parser("heterogeneity", help="per-VOI CoV, area under the cumulative SUV-volume histogram, entropy")
    p.add_argument("--suv", required=True, metavar="suv.nii.gz")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz")
    p.add_argument("--bin-width", type=float, default=0.25, help="entropy bin size in SUV, from 0 (default 0.25)")
    p.add_argument("-o", "--output", required=True, metavar="heterogeneity.csv")
    p.set_defaults(func=_cmd_heterogeneity)

    p = sub.add_parser("spread", help="inter-lesion spread of lesion SUVmax/SUVmean per subject and timepoint")
    p.add_argument("--uptake", required=True, metavar="uptake.parquet", help="cohort uptake table")
    p.add_argument("--positivity", type=float, required=True, metavar="SUV",
                   help="SUVmax at or above which a lesion counts as positive")
    p.add_argument("-o", "--output", required=True, metavar="inter_lesion.parquet")
    p.set_defaults(func=_cmd_spread)

    p = sub.add_parser(
        "deltas", help="baseline vs on-treatment changes per VOI, PERCIST 1.0 and EORTC categories of one subject",
        description="Matches VOIs across the subject's timepoints (lesion_id, organ; --mapping overrides), flags new "
                    "and disappeared lesions, and writes one row per follow-up timepoint, VOI and metric (baseline, "
                    "follow-up, absolute and % change), plus patient rows with the hottest-lesion SULpeak, the sum of "
                    "the five hottest, PERCIST 1.0 and EORTC 1999 categories and the comparability checks.")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--subject", required=True)
    p.add_argument("--template", required=True,
                   help="folder of each study's uptake.csv and suv.json, e.g. results/{subject}/{timepoint}")
    p.add_argument("--baseline", help="baseline timepoint (default: the subject's first row in the sheet)")
    p.add_argument("--mapping", metavar="map.csv",
                   help="explicit matches: subject_id, timepoint, name, matches_baseline_name (empty = new)")
    p.add_argument("--reference", choices=["liver", "blood"], default="liver",
                   help="PERCIST reference region (blood when the liver is abnormal)")
    p.add_argument("--eortc-after-one-cycle", action="store_true", help="EORTC PMR threshold -15 %% instead of -25 %%")
    p.add_argument("-o", "--output", required=True, metavar="deltas.csv")
    p.set_defaults(func=_cmd_deltas)

    p = sub.add_parser(
        "recist", help="RECIST 1.1 and iRECIST responses from lesion measurements",
        description="One row per subject and timepoint (sum of diameters, change from baseline and nadir, target, "
                    "non-target, new-lesion and overall response, iRECIST category) and the best overall response "
                    "per subject (written to OUTPUT_bor.csv unless --bor-output). A table that already holds "
                    "response categories (overall_response[, irecist_response] and no lesion_id) is validated.")
    p.add_argument("measurements", metavar="MEASUREMENTS.csv",
                   help="subject_id, timepoint, assessment_date, lesion_id, lesion_type, organ, is_lymph_node, "
                        "diameter_mm, non_target_status [, assessed, too_small]")
    p.add_argument("--confirm", action="store_true", help="best overall response requires confirmation of CR/PR")
    p.add_argument("--confirm-days", type=int, default=28, help="minimum interval for confirmation (default 28)")
    p.add_argument("--sd-min-days", type=int, default=42,
                   help="minimum time from baseline for SD to count in the best response (default 42)")
    p.add_argument("--lenient-target-limits", action="store_true",
                   help="more than 5 targets or 2 per organ is a warning, not an error")
    p.add_argument("--bor-output", metavar="bor.csv")
    p.add_argument("-o", "--output", required=True, metavar="response.csv")
    p.set_defaults(func=_cmd_recist)

    p = sub.add_parser(
        "stats", help="trial endpoint statistics of the cohort (config `analyses:`), with figures",
        description="One row per analysis: endpoint, analysis, variable, level, n_subjects, n_lesions, estimate, "
                    "ci_low, ci_high, p_value, p_adjusted (Benjamini-Hochberg within the endpoint), method, notes. "
                    "Also biodistribution.csv, stats.json and PNG/SVG figures.")
    p.add_argument("--config", required=True, metavar="CONFIG.yaml", help="configuration with the analyses section")
    p.add_argument("--uptake", required=True, metavar="uptake.parquet")
    p.add_argument("--deltas", metavar="deltas.parquet")
    p.add_argument("--bor", metavar="response_bor.csv", help="best overall response per subject")
    p.add_argument("--heterogeneity", metavar="heterogeneity.parquet")
    p.add_argument("--inter-lesion", metavar="inter_lesion.parquet")
    p.add_argument("--ihc", metavar="ihc.csv", help="default: the config's clinical.ihc")
    p.add_argument("--histology", metavar="histology.csv", help="default: the config's clinical.histology")
    p.add_argument("--outcomes", metavar="outcomes.csv", help="default: the config's clinical.outcomes")
    p.add_argument("--figures", metavar="DIR", help="figure folder (default: figures/ beside the output)")
    p.add_argument("-o", "--output", required=True, metavar="stats.csv")
    p.set_defaults(func=_cmd_stats)

    p = sub.add_parser(
        "report", help="per-patient report (HTML + PDF), or the cohort report with --cohort",
        description="Writes REPORTS/SUBJECT.html (self-contained) and SUBJECT.pdf (A4): header with the SUV "
                    "provenance, QC panel with every warning, coronal and sagittal MIPs on a common SUV window, "
                    "lesion and organ tables and their changes, PERCIST/EORTC, RECIST 1.1/iRECIST, heterogeneity, "
                    "IHC and histology. With --cohort: REPORTS/cohort.html and cohort.pdf. Prints the paths.")
    p.add_argument("subject", metavar="SUBJECT", nargs="?", help="subject_id of the sample sheet")
    p.add_argument("--cohort", action="store_true", help="write the cohort report instead")
    p.add_argument("--config", required=True, metavar="CONFIG.yaml", help="e.g. results/config.resolved.yaml")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--results", default="results", metavar="DIR", help="results folder (default results)")
    p.add_argument("--output-dir", metavar="DIR", help="reports folder (default RESULTS/reports)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("tacs", help="time-activity curves per VOI from a dynamic SUV volume")
    p.add_argument("--pet4d", required=True, metavar="suv.nii.gz", help="4D SUV volume with its suv.json frame table")
    p.add_argument("--vois", required=True, metavar="vois.nii.gz")
    p.add_argument("-o", "--output", required=True, metavar="tacs.csv")
    p.set_defaults(func=_cmd_tacs)

    p = sub.add_parser("kinetics", help="kinetic models (1TCM, 2TCM, Logan, Patlak, SRTM, reference Logan, MRTM)",
                       description="One row per VOI, model and parameter with standard errors, macro-parameters "
                                   "(VT, VND, BPND, Ki), AIC/AICc, t* of graphical methods and convergence; a fit "
                                   "that did not converge is flagged, never silent.")
    p.add_argument("--tacs", required=True, metavar="tacs.csv")
    p.add_argument("--model", action="append", required=True,
                   choices=["1tcm", "2tcm", "2tcm_irr", "logan", "patlak", "srtm", "logan_ref", "mrtm"])
    _add_blood_options(p)
    p.add_argument("--reference", metavar="VOI", help="reference region for SRTM, reference Logan, MRTM")
    p.add_argument("--exclude", action="append", metavar="VOI", help="a VOI not to fit (e.g. a blood pool); repeatable")
    p.add_argument("--t-star", type=float, metavar="MIN", help="graphical methods: start of the fit window (min)")
    p.add_argument("-o", "--output", required=True, metavar="kinetics.csv")
    p.set_defaults(func=_cmd_kinetics)

    p = sub.add_parser("parametric", help="voxel-wise Logan VT and Patlak Ki maps of a dynamic SUV volume (dask)",
                       description="Maps as NIfTI (logan_vt.nii.gz, patlak_ki.nii.gz) with parametric.json; the "
                                   "blood input is processed as for `petvoi kinetics`.")
    p.add_argument("--pet4d", required=True, metavar="suv.nii.gz", help="4D SUV volume with its suv.json frame table")
    p.add_argument("--map", action="append", required=True, choices=["logan_vt", "patlak_ki"])
    p.add_argument("--t-star", type=float, required=True, metavar="MIN", help="start of the linear window (min)")
    p.add_argument("--tacs", metavar="tacs.csv", help="TAC table (for --delay fit and --idif)")
    _add_blood_options(p)
    p.add_argument("--workers", type=int, default=1, help="dask threads (default 1)")
    p.add_argument("-o", "--output-dir", required=True, metavar="DIR")
    p.set_defaults(func=_cmd_parametric)

    p = sub.add_parser("pk", help="multi-day PK from static scans (e.g. 89Zr): AUC, effective and biological half-life",
                       description="Scans of a subject after one injection (same injection datetime in suv.json) "
                                   "form a time-activity curve in days per VOI: AUC (trapezoid plus the tail from "
                                   "the terminal effective half-life) and effective/biological half-lives.")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--template", required=True, help="e.g. results/{subject}/{timepoint}")
    p.add_argument("-o", "--output", required=True, metavar="pk.csv")
    p.set_defaults(func=_cmd_pk)

    p = sub.add_parser("collect", help="stack per-study tables into a cohort table (CSV or Parquet)")
    p.add_argument("--samples", required=True, metavar="samples.tsv")
    p.add_argument("--template", required=True, help="e.g. results/{subject}/{timepoint}/uptake.csv")
    p.add_argument("--allow-missing", action="store_true", help="skip studies without a table")
    p.add_argument("--acquisition", choices=["static", "dynamic"], default="static",
                   help="which studies of the sheet (default static)")
    p.add_argument("-o", "--output", required=True, metavar="cohort.parquet")
    p.set_defaults(func=_cmd_collect)

    p = sub.add_parser("check", help="validate a configuration file and its sample sheet")
    p.add_argument("config", metavar="CONFIG.yaml")
    p.add_argument("--samples", metavar="samples.tsv", help="sample sheet (default: the config's `samples`)")
    p.set_defaults(func=_cmd_check)
    return parser


def _configure_logging(debug: bool, quiet: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("petvoi %(levelname)s: %(message)s"))
    root = logging.getLogger("pipeline")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 success, 2 bad input, 1 internal error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug, args.quiet)
    try:
        return int(args.func(args) or 0)
    except PipelineError as exc:
        if args.debug:
            raise
        print(f"petvoi {args.command}: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("petvoi: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
