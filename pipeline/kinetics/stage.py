"""The ``tacs`` and ``kinetics`` stages.

``run_tacs``: a dynamic SUV volume (4D ``suv.nii.gz`` with its ``suv.json`` frame table) and a VOI set
in, one row per VOI and frame out (activity in kBq/mL decay-corrected to injection, SUV, times from
injection in seconds).

``run_kinetics``: a TAC table and, for plasma-input models, a processed blood input in; one row per
VOI and model out: parameters with standard errors, macro-parameters (VT, VND, BPND, Ki, K1, R1),
fit quality (AIC, AICc, R², convergence) and, for graphical methods, the t* used. A fit that did not
converge, or whose estimates are unphysical (a negative rate constant such as MRTM's k2 or k2', VT or DVR
<= 0, BPND <= -1, Ki < 0, a non-finite value), is written with ``converged = False`` and the reason in
``message``, with a logged warning, never as a silent number.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..io import output_set, write_csv
from ..outputs import KineticsSidecar, StudyPaths, SuvSidecar, sidecar_path, write_provenance
from ..parallel import DaskOptions
from ..policy import Policy
from ..voi.catalogue import read_voiset
from .blood import InputFunction, build_input_function, image_derived_input_function, shift
from .fit import fit_compartment, fit_srtm
from .graphical import logan_plasma, logan_reference, mrtm, patlak
from .models import cumulative_integral
from .options import (
    COMPARTMENT_MODELS,
    MAPS,
    PLASMA_MODELS,
    REFERENCE_MODELS,
    BloodOptions,
    KineticsOptions,
    ParametricOptions,
)
from .tacs import extract_tacs, suv_to_kbq_ml_factor, validate_frames

__all__ = ["PLASMA_MODELS", "REFERENCE_MODELS", "run_tacs", "run_kinetics", "run_kinetics_stage",
           "run_parametric", "run_parametric_stage", "run_pk", "input_function", "KINETICS_COLUMNS"]

log = logging.getLogger(__name__)

KINETICS_COLUMNS = ["label", "name", "model", "parameter", "value", "se", "t_star_min", "aic", "aicc", "r2",
                    "converged", "chosen", "message"]


def read_dynamic(pet4d_path: Path) -> tuple[np.ndarray, Any, SuvSidecar]:
    """A dynamic SUV volume (t, z, y, x), its geometry and its ``suv.json``, one frame entry per volume.

    Raises
    ------
    InvalidInputError
        For a static volume, a missing sidecar, or a frame table of another length.
    """
    volume, geometry = read_nifti(pet4d_path)
    sidecar = SuvSidecar.read_optional(pet4d_path)
    if volume.ndim != 4 or sidecar is None:
        raise InvalidInputError("not a dynamic SUV volume with its suv.json", source=str(pet4d_path),
                                remedy="run `petvoi suv` on a dynamic PET series")
    if len(sidecar.frames) != volume.shape[0]:
        raise InvalidInputError(f"{len(sidecar.frames)} frames in suv.json for {volume.shape[0]} volumes",
                                source=str(sidecar.path), attribute="frames", remedy="rewrite both with `petvoi suv`")
    return volume, geometry, sidecar


def run_tacs(pet4d_path: Path, vois_path: Path, output: Path) -> pd.DataFrame:
    """Extract TACs of every VOI from a dynamic SUV volume and write ``tacs.csv``.

    Raises
    ------
    InvalidInputError
        For a static volume, a missing sidecar or frame table, or VOIs on another grid.
    """
    volume, geometry, sidecar = read_dynamic(pet4d_path)
    frames = sidecar.frames
    voiset = read_voiset(vois_path)
    if not voiset.geometry.same_grid(geometry):
        raise InvalidInputError("VOI set is not on the grid of the dynamic volume", source=str(vois_path),
                                remedy="build the VOIs with `petvoi vois --pet` on this volume")
    table = extract_tacs(np.asarray(volume), voiset, frames, suv_to_kbq=suv_to_kbq_ml_factor(sidecar))
    write_csv(output, table)
    return table


def _times(tac: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    first = tac[tac["name"] == tac["name"].iloc[0]].sort_values("frame")
    return first["mid_s"].to_numpy(float) / 60.0, first["duration_s"].to_numpy(float) / 60.0


def _rows(label: int, name: str, model: str, values: dict[str, float], ses: dict[str, float], **extra: Any
          ) -> list[dict[str, Any]]:
    return [{"label": label, "name": name, "model": model, "parameter": key, "value": value,
             "se": ses.get(key, math.nan), **extra} for key, value in values.items()]


def load_input(blood_path: Path, *, decay_corrected: bool, half_life_s: float | None, kind: str = "parent_plasma",
               parent_model: str | None = "hill", ratio_model: str = "constant", delay_s: float = 0.0,
               dispersion_tau_s: float = 0.0, idif_voi: str | None = None, idif_min_time_s: float = 0.0,
               tacs_path: Path | None = None) -> InputFunction:
    """The model input from a blood table, sampled or as an image-derived input scaled to it.

    Parameters
    ----------
    blood_path : Path
        Blood table (:func:`~pipeline.kinetics.blood.normalise_blood_table`).
    decay_corrected : bool
        Whether the samples are decay-corrected to injection.
    half_life_s : float or None
        Physical half-life (s), needed when they are not.
    kind : str
        ``parent_plasma``, ``total_plasma`` or ``whole_blood``.
    parent_model, ratio_model : str
        Parent-fraction (``hill``, ``biexp``, None) and plasma/blood ratio (``constant``, ``linear``) models.
    delay_s, dispersion_tau_s : float
        Given delay and dispersion time constant (s) of sampled blood.
    idif_voi : str, optional
        Blood-pool VOI of ``tacs_path`` whose TAC, scaled to the whole-blood samples at or after
        ``idif_min_time_s`` (s), replaces the sampled whole-blood curve.
    """
    if not Path(blood_path).is_file():
        raise InvalidInputError("blood table not found", source=str(blood_path), remedy="give the blood samples")
    table = pd.read_csv(blood_path)
    if idif_voi is None:
        return build_input_function(table, decay_corrected=decay_corrected, half_life_s=half_life_s, kind=kind,
                                    parent_model=parent_model, ratio_model=ratio_model, delay_s=delay_s,
                                    dispersion_tau_s=dispersion_tau_s, source=str(blood_path))
    tac = pd.read_csv(tacs_path) if tacs_path is not None else pd.DataFrame(columns=["name"])
    pool = tac[tac["name"] == idif_voi].sort_values("frame")
    if pool.empty:
        raise InvalidInputError(f"blood-pool VOI {idif_voi!r} is not in the TAC table", source=str(tacs_path),
                                attribute="idif_voi", remedy="name the blood-pool VOI of tacs.csv")
    return image_derived_input_function(
        pool["mid_s"].to_numpy(float), pool["activity_kbq_ml"].to_numpy(float), table,
        decay_corrected=decay_corrected, half_life_s=half_life_s, kind=kind, ratio_model=ratio_model,
        parent_model=parent_model, min_time_s=idif_min_time_s, tolerance_s=float(pool["duration_s"].iloc[-1]) / 2,
        source=str(blood_path))


def apply_fitted_delay(blood: InputFunction, tac: pd.DataFrame, delay_voi: str, *, source: str
                       ) -> tuple[InputFunction, dict[str, Any]]:
    """Fit the input delay on ``delay_voi``'s early frames and return the shifted input and a record.

    Raises
    ------
    InvalidInputError
        The VOI is not in the TAC table, or the optimum lies at the end of the search range.
    """
    from .delay import fit_delay

    if delay_voi not in set(tac["name"]):
        raise InvalidInputError(f"delay VOI {delay_voi!r} is not a VOI of the TAC table", source=source,
                                attribute="delay_voi", remedy="name a high-flow VOI of tacs.csv")
    mid, dur = _times(tac)
    early = tac[tac["name"] == delay_voi].sort_values("frame")["activity_kbq_ml"].to_numpy(float)
    delay = fit_delay(mid, dur, early, blood, weights=dur)
    if delay.at_bound:
        raise InvalidInputError(f"fitted input delay {delay.delay_s:+.1f} s is at the end of the search range",
                                source=source, attribute="delay",
                                remedy="check the blood and scan clocks, or give the delay in seconds")
    record = {"voi": delay_voi, "delay_s": delay.delay_s, "window_min": delay.window_min, "model": delay.model,
              "wrss": delay.wrss, "params": delay.params}
    return shift(blood, delay.delay_s), record


def plasma_at_frames(blood: InputFunction, mid_min: np.ndarray, end_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Model input at the frame mid-times and its integral from 0 (kBq/mL, kBq min/mL).

    The integral is taken on the samples' piecewise-linear curve (a 4001-point grid plus the sample
    times), not on the frame mid-times, which would miss the bolus peak.
    """
    blood.check_covers(end_s)
    t_min, values = blood.times_s / 60.0, np.asarray(getattr(blood, blood.kind), float)
    grid = np.union1d(np.linspace(0.0, end_s / 60.0, 4001), t_min[t_min <= end_s / 60.0])
    integral = cumulative_integral(grid, np.interp(grid, t_min, values, left=0.0), mid_min)
    return np.interp(mid_min, t_min, values, left=0.0), integral


def run_parametric(pet4d_path: Path, out_dir: Path, *, blood: InputFunction, maps: Sequence[str],
                   t_star_min: float, workers: int = 1, tacs_path: Path | None = None,
                   delay_voi: str | None = None, policy: Policy | None = None,
                   dask_options: DaskOptions | None = None) -> dict[str, Path]:
    """Voxel-wise Logan VT and/or Patlak Ki maps of a dynamic SUV volume, written as NIfTI.

    Parameters
    ----------
    pet4d_path : Path
        4D ``suv.nii.gz`` with its ``suv.json`` frame table (converted back to kBq/mL).
    out_dir : Path
        Folder of ``logan_vt.nii.gz`` / ``patlak_ki.nii.gz`` and ``parametric.json``.
    blood : InputFunction
        Processed model input.
    maps : sequence of str
        ``logan_vt`` and/or ``patlak_ki``.
    t_star_min : float
        Start of the linear window (min).
    workers : int
        Local dask threads.
    dask_options : DaskOptions, optional
        Where the blocks are computed (:mod:`pipeline.parallel`); one executor (one cluster) for all maps.
    tacs_path, delay_voi : optional
        Fit the input delay on this VOI of the TAC table first (as :func:`run_kinetics` does).
    """
    from ..parallel import executor
    from .parametric import logan_vt_map, patlak_ki_map, write_parametric

    unknown = [m for m in maps if m not in MAPS]
    if unknown:
        raise InvalidInputError(f"unknown map {unknown[0]!r}", attribute="maps", remedy=f"use {' or '.join(MAPS)}")
    volume, geometry, sidecar = read_dynamic(pet4d_path)
    frames = validate_frames(sidecar.frames, source=str(sidecar.path))
    provenance: dict[str, Any] = {"t_star_min": t_star_min, "maps": list(maps),
                                  "policy": (policy or Policy()).record()}
    if delay_voi is not None:
        if tacs_path is None:
            raise InvalidInputError("fitting the delay needs the TAC table", attribute="tacs",
                                    remedy="give tacs.csv of this study")
        blood, provenance["delay_fit"] = apply_fitted_delay(blood, pd.read_csv(tacs_path), delay_voi,
                                                            source=str(tacs_path))
    factor = np.asarray(suv_to_kbq_ml_factor(sidecar), float).reshape(-1, 1, 1, 1)
    kbq = np.asarray(volume, np.float32) * factor.astype(np.float32)
    mid_min = frames["mid_s"].to_numpy(float) / 60.0
    end_s = float((frames["start_s"] + frames["duration_s"]).max())
    cp, integral = plasma_at_frames(blood, mid_min, end_s)
    provenance["input_function"] = {"kind": blood.kind, **blood.provenance}
    body = (kbq[mid_min >= t_star_min] > 0).any(axis=0)  # voxels with no activity in the window are NaN
    provenance["mask"] = "voxels with activity > 0 in a frame of the window"
    written: dict[str, Path] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    with output_set(*(out_dir / f"{name}.nii.gz" for name in maps), out_dir / "parametric.json"), \
            executor(dask_options, workers=workers, local="threads") as ex:
        for name in maps:
            fn = logan_vt_map if name == "logan_vt" else patlak_ki_map
            values = fn(kbq, mid_min, cp, integral, t_star_min=t_star_min, mask=body, run_on=ex)
            written[name] = write_parametric(out_dir / f"{name}.nii.gz", values, geometry)
            finite = values[np.isfinite(values)]
            provenance[name] = {"n_voxels": int(finite.size),
                                "median": float(np.median(finite)) if finite.size else None}
        write_provenance(out_dir / "parametric.json", _finite(provenance))
    return written


def _finite(obj: Any) -> Any:
    """JSON-safe copy: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _choose_models(table: pd.DataFrame) -> pd.Series:
    """Per VOI, True on the rows of the converged compartment model with the lowest AICc."""
    chosen = pd.Series(False, index=table.index)
    fits = table[table["model"].isin(COMPARTMENT_MODELS) & table["converged"].astype(bool)]
    for _, group in fits.groupby("name"):
        best = group.loc[group["aicc"].idxmin(), "model"]
        chosen[group.index[group["model"] == best]] = True
    return chosen


def run_kinetics(tacs_path: Path, output: Path, *, models: Sequence[str], blood: InputFunction | None = None,
                 reference: str | None = None, t_star_min: float | None = None,
                 targets: Sequence[str] | None = None, delay_voi: str | None = None,
                 idif_voi: str | None = None, exclude: Sequence[str] = (),
                 sidecar: dict[str, Any] | None = None) -> pd.DataFrame:
    """Fit kinetic models to every target VOI of a TAC table and write ``kinetics.csv``.

    Parameters
    ----------
    tacs_path : Path
        ``tacs.csv`` from :func:`run_tacs` (times in s from injection, activity in kBq/mL).
    output : Path
        ``kinetics.csv``: one row per VOI, model and parameter (:data:`KINETICS_COLUMNS`).
    models : sequence of str
        From :data:`PLASMA_MODELS` (need ``blood``) and :data:`REFERENCE_MODELS` (need ``reference``).
    blood : InputFunction, optional
        Processed blood input; its model-input curve (``kind``) drives plasma-input models and its
        whole-blood curve the vB term.
    reference : str, optional
        Name of the reference-region VOI for SRTM, reference Logan and MRTM.
    t_star_min : float, optional
        Start of the linear window of graphical methods (min); None: chosen automatically and reported.
    targets : sequence of str, optional
        VOI names to fit (default: every VOI except the reference and ``idif_voi``).
    idif_voi : str, optional
        The blood-pool VOI of an image-derived input (not fitted).
    exclude : sequence of str
        VOI names not to fit (e.g. a blood pool).
    delay_voi : str, optional
        Fit the input delay on this VOI's early frames (:func:`~pipeline.kinetics.delay.fit_delay`)
        and shift the blood input by it before any plasma-input model; an optimum at the end of the
        search range is refused.
    sidecar : dict, optional
        Extra provenance for ``kinetics.json`` (written next to ``output``), which also records the
        input-function processing, the fitted delay, the models and the reference region.

    The ``chosen`` column marks, per VOI, the converged compartment model (1TCM, 2TCM, irreversible
    2TCM) with the lowest AICc.
    """
    tac = pd.read_csv(tacs_path)
    unknown = [m for m in models if m not in PLASMA_MODELS + REFERENCE_MODELS]
    if unknown:
        raise InvalidInputError(f"unknown model {unknown[0]!r}", attribute="models",
                                remedy=f"use {', '.join(PLASMA_MODELS + REFERENCE_MODELS)}")
    if any(m in PLASMA_MODELS for m in models) and blood is None:
        raise InvalidInputError("plasma-input models need a blood input", attribute="blood_table",
                                remedy="give the blood table (or use a reference-region model)")
    if any(m in REFERENCE_MODELS for m in models) and reference not in set(tac["name"]):
        raise InvalidInputError(f"reference region {reference!r} is not a VOI of the TAC table", source=str(tacs_path),
                                attribute="reference", remedy="name a VOI of tacs.csv")
    mid, dur = _times(tac)
    end_s = float((tac["mid_s"] + tac["duration_s"] / 2).max())
    provenance: dict[str, Any] = {"models": list(models), "reference": reference, "t_star_min": t_star_min,
                                  **(sidecar or {})}
    if blood is not None and delay_voi is not None:
        blood, provenance["delay_fit"] = apply_fitted_delay(blood, tac, delay_voi, source=str(tacs_path))
    if blood is not None:
        provenance["input_function"] = {"kind": blood.kind, **blood.provenance}
        plasma_at_mid, plasma_integral = plasma_at_frames(blood, mid, end_s)
        plasma = (blood.times_s / 60.0, np.asarray(getattr(blood, blood.kind), float))
        whole = (blood.times_s / 60.0, np.asarray(blood.whole_blood, float))
        if not np.isfinite(whole[1]).all():
            whole = plasma
    ref_curve = None
    if reference is not None and reference in set(tac["name"]):
        ref_curve = tac[tac["name"] == reference].sort_values("frame")["activity_kbq_ml"].to_numpy(float)
    rows: list[dict[str, Any]] = []
    for (label, name), group in tac.groupby(["label", "name"], sort=True):
        if name in (reference, idif_voi, *exclude) or (targets and name not in targets):
            continue
        y = group.sort_values("frame")["activity_kbq_ml"].to_numpy(float)
        for model in models:
            if model in ("1tcm", "2tcm", "2tcm_irr"):
                fit = fit_compartment(model, mid, dur, y, plasma, whole, weights=dur)
                rows += _rows(label, name, model, {**fit.params, **fit.macro}, {**fit.se, **fit.macro_se},
                              t_star_min=math.nan, aic=fit.aic, aicc=fit.aicc, r2=math.nan,
                              converged=fit.converged, message=fit.message)
            elif model == "srtm":
                assert ref_curve is not None  # reference models need the reference VOI (checked above)
                fit = fit_srtm(mid, dur, y, ref_curve, weights=dur)
                rows += _rows(label, name, model, {**fit.params, **fit.macro}, {**fit.se, **fit.macro_se},
                              t_star_min=math.nan, aic=fit.aic, aicc=fit.aicc, r2=math.nan,
                              converged=fit.converged, message=fit.message)
            else:
                if model == "logan":
                    res = logan_plasma(mid, y, plasma_at_mid, t_star=t_star_min, plasma_integral=plasma_integral)
                elif model == "patlak":
                    res = patlak(mid, y, plasma_at_mid, t_star=t_star_min, plasma_integral=plasma_integral)
                elif model == "logan_ref":
                    assert ref_curve is not None
                    res = logan_reference(mid, y, ref_curve, t_star=t_star_min)
                else:
                    assert ref_curve is not None
                    res = mrtm(mid, y, ref_curve, t_star=t_star_min or 0.0)
                if not res.converged:
                    log.warning("%s %s: unphysical estimates (%s): flagged as not converged", name, model,
                                ", ".join(res.problems))
                rows += _rows(label, name, model, dict(res.params), {}, t_star_min=res.t_star, aic=math.nan,
                              aicc=math.nan, r2=res.r2, converged=res.converged, message=res.message)
    table = pd.DataFrame(rows, columns=KINETICS_COLUMNS)
    table["chosen"] = _choose_models(table) if len(table) else pd.Series(dtype=bool)
    record = KineticsSidecar(_finite(provenance))
    with output_set(output, record.file_for(output)):
        write_csv(output, table)
        record.write(output)
    return table


def input_function(options: BloodOptions, tacs_path: Path | None = None) -> InputFunction | None:
    """The processed model input of ``options`` (:func:`load_input`), or None without a blood table."""
    from ..suv.nuclides import get_nuclide

    if options.blood_table is None:
        return None
    return load_input(options.blood_table, decay_corrected=options.decay_corrected,
                      half_life_s=get_nuclide(options.nuclide).half_life_s if options.nuclide else None,
                      kind=options.input_kind, parent_model=None if options.parent_model == "none"
                      else options.parent_model, ratio_model=options.ratio_model, delay_s=options.delay_s,
                      dispersion_tau_s=options.dispersion_tau_s, idif_voi=options.idif_voi,
                      idif_min_time_s=options.idif_min_time_min * 60.0, tacs_path=tacs_path)


def run_kinetics_stage(tacs_path: Path, output: Path, options: KineticsOptions) -> pd.DataFrame:
    """The ``kinetics`` command: the blood input of ``options.blood``, then :func:`run_kinetics`."""
    blood = input_function(options.blood, tacs_path)
    table = options.blood.blood_table
    return run_kinetics(tacs_path, output, models=options.models, blood=blood, reference=options.reference,
                        t_star_min=options.t_star_min, idif_voi=options.blood.idif_voi, exclude=options.exclude,
                        delay_voi=options.blood.delay_voi if blood is not None and options.blood.fits_delay else None,
                        sidecar={"blood_table": str(table) if table else None, "nuclide": options.blood.nuclide,
                                 "policy": options.policy.record()})


def run_parametric_stage(pet4d_path: Path, out_dir: Path, options: ParametricOptions,
                         tacs_path: Path | None = None) -> dict[str, Path]:
    """The ``parametric`` command: the blood input of ``options.blood``, then :func:`run_parametric`.

    Raises
    ------
    InvalidInputError
        Without a blood table, or without the TAC table when the delay is fitted or the input image-derived.
    """
    if options.blood.blood_table is None:
        raise InvalidInputError("parametric maps need a plasma input", attribute="blood_table",
                                remedy="give the blood table")
    if (options.blood.fits_delay or options.blood.idif_voi) and tacs_path is None:
        raise InvalidInputError(f"{options.blood.name('delay')} fit and {options.blood.name('idif_voi')} need the "
                                "TAC table", attribute="tacs", remedy="give tacs.csv of this study")
    blood = input_function(options.blood, tacs_path)
    assert blood is not None
    return run_parametric(pet4d_path, out_dir, blood=blood, maps=options.maps, t_star_min=options.t_star_min,
                          workers=options.workers, tacs_path=tacs_path,
                          delay_voi=options.blood.delay_voi if options.blood.fits_delay else None,
                          policy=options.policy, dask_options=options.dask)


def run_pk(samples: pd.DataFrame | Path, template: str, output: Path, *, half_life_s: float | None = None,
           method: str | None = None, n_terminal: int | None = None, points_output: Path | None = None,
           subjects: Sequence[str] | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Multi-day PK from static scans: scans of a subject that share one injection form a curve.

    Parameters
    ----------
    samples : DataFrame or Path
        Validated sample sheet, or its file (the static studies are used).
    template : str
        Folder of each study's ``uptake.csv`` and ``suv.json``, with ``{subject}`` and ``{timepoint}``.
    output : Path
        ``pk.csv``: one row per subject, injection and VOI (AUC, effective and biological half-lives, the
        AUC rule in ``auc_method``); injections with fewer than two scans, and VOIs that cannot form a curve
        (in one scan only, a mean <= 0 or missing), are listed with a note instead.
        ``pk.json`` beside it records the settings.
    half_life_s : float, optional
        Physical half-life; default: the one in the sidecars.
    method : {"log", "linear"}, optional
        AUC rule between scans (:func:`~pipeline.kinetics.pk.auc_with_tail`); default linear-up/log-down.
    n_terminal : int, optional
        Terminal points of the effective half-life fit; default ``min(3, n_scans)``.
    points_output : Path, optional
        The time-activity points (one row per subject, injection, VOI and scan: days from injection,
        activity decay-corrected to injection and at scan time in kBq/mL, SUVmean); default
        ``<output stem>_points.csv`` beside ``output``.
    subjects : sequence of str, optional
        Only these subjects' studies (default: every subject of ``samples``).
    policy : Policy, optional
        The run's bad-value policy (recorded in ``pk.json``).

    Raises
    ------
    InvalidInputError
        A study's ``uptake.csv`` or ``suv.json`` is missing, or a subject of ``subjects`` has no static study.
    """
    from ..config import load_sample_sheet
    from .pk import DEFAULT_AUC_METHOD, SECONDS_PER_DAY, pk_table

    method = method or DEFAULT_AUC_METHOD
    if not isinstance(samples, pd.DataFrame):
        samples = load_sample_sheet(samples, acquisition="static")
    if subjects:
        unknown = sorted(set(subjects) - set(samples["subject_id"].astype(str)))
        if unknown:
            raise InvalidInputError(f"subject {unknown[0]} has no static study in the sample sheet",
                                    attribute="subject", remedy="name a subject_id of the sample sheet")
        samples = samples[samples["subject_id"].astype(str).isin(set(subjects))]
    rows, notes = [], []
    for row in samples.itertuples(index=False):
        study = StudyPaths.from_template(template, row.subject_id, row.timepoint)
        if not (study.uptake.is_file() and study.suv_json.is_file()):
            raise InvalidInputError("uptake.csv or suv.json missing", source=str(study.folder),
                                    remedy="run `petvoi suv` and `petvoi uptake` for this study first")
        sidecar = SuvSidecar.read(study.suv_json)
        table = pd.read_csv(study.uptake)
        factor = float(np.atleast_1d(suv_to_kbq_ml_factor(sidecar))[0])
        half_life = float(half_life_s or sidecar.require("half_life_s"))
        days = float(sidecar.require("uptake_time_s")) / SECONDS_PER_DAY
        injection = sidecar.get("injection_datetime")
        if not injection:
            notes.append({"subject_id": row.subject_id, "injection": "", "voi": "", "kind": "",
                          "note": f"{row.timepoint}: injection datetime unknown in suv.json: no PK curve"})
            continue
        for voi in table.itertuples(index=False):
            corrected = float(voi.suv_mean) * factor
            rows.append({"subject_id": row.subject_id, "injection": injection, "timepoint": row.timepoint,
                         "voi": voi.name, "kind": voi.kind, "time_days": days, "activity_kbq_ml": corrected,
                         "activity_at_scan_kbq_ml": corrected * math.exp(-math.log(2.0) * days * SECONDS_PER_DAY
                                                                         / half_life),
                         "suv_mean": float(voi.suv_mean), "half_life_s": half_life})
    scans = pd.DataFrame(rows, columns=["subject_id", "injection", "timepoint", "voi", "kind", "time_days",
                                        "activity_kbq_ml", "activity_at_scan_kbq_ml", "suv_mean", "half_life_s"])
    results, curves = [], []
    for (subject, injection), group in scans.groupby(["subject_id", "injection"], sort=True):
        n_scans = group["timepoint"].nunique()
        if n_scans < 2:
            notes.append({"subject_id": subject, "injection": injection, "voi": "", "kind": "",
                          "note": f"{n_scans} scan after this injection: no PK curve"})
            continue
        table = pk_table(group.drop(columns=["activity_at_scan_kbq_ml"]), decay_corrected=True,
                         half_life_s=float(group["half_life_s"].iloc[0]), n_terminal=n_terminal, method=method,
                         notes=True)
        table.insert(1, "injection", injection)
        results.append(table)
        curves.append(group)
    out = pd.concat([*results, pd.DataFrame(notes)], ignore_index=True) if results or notes else pd.DataFrame()
    points = (pd.concat(curves, ignore_index=True) if curves else scans.iloc[:0]).drop(columns=["half_life_s"])
    points = points.sort_values(["subject_id", "injection", "voi", "time_days"], kind="stable")
    points_path = points_output or Path(output).with_name(f"{Path(output).stem}_points.csv")
    with output_set(output, points_path, sidecar_path(output)):
        write_csv(output, out)
        write_csv(points_path, points)
        write_provenance(output, {"auc_method": method, "n_terminal": n_terminal, "template": template,
                                  "subjects": sorted(set(samples["subject_id"].astype(str))),
                                  "half_life_s": half_life_s, "decay_corrected_input": True,
                                  "policy": (policy or Policy()).record()})
    return out
