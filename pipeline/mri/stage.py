"""The image-level DCE stage (issue 19, item 2): a dynamic MR series to concentration, the AIF, voxel-wise maps and
VOI-wise fits with semi-quantitative parameters, written as NIfTI, CSV and a JSON sidecar.

Inputs: the DCE series folder (:func:`pipeline.mri.series.load_mr_dynamic`), the native T1 (a number in s, or a T1
map on the DCE grid), the relaxivity (given, or from dcmri's table for an agent and field strength: plasma values
of Rohrer 2005), the VOIs on the DCE grid (a petvoi VOI set), and the arterial input: the Parker population AIF at a
bolus arrival time, or the mean concentration of an arterial VOI (blood; divided by 1 - Hct).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from ..dicom.geometry import read_nifti, write_nifti
from ..errors import InvalidInputError
from ..io import output_set, write_csv, write_json
from ..voi.catalogue import read_voiset
from .dce import MODELS, POPULATION_AIFS, plasma_input, table_curve
from .dce import population_aif as population_aif_curve
from .maps import fit_maps, fit_voi_curves, voi_curves
from .relaxometry import concentration, semi_quantitative
from .series import load_mr_dynamic
from .tables import warn_not_converged

__all__ = ["run_mri_dce", "relaxivity"]

log = logging.getLogger(__name__)


def relaxivity(agent: str, field_t: float) -> float:
    """r1 (/mM/s) of a contrast agent in plasma at 37 °C from dcmri's table (Rohrer et al. 2005)."""
    import dcmri

    try:
        value = float(dcmri.relaxivity(field_t, "plasma", agent)) / 1000.0  # dcmri: Hz/M
    except Exception:  # noqa: BLE001 - dcmri raises several kinds for an unknown agent or field
        raise InvalidInputError(f"no relaxivity for {agent!r} at {field_t:g} T in dcmri's table", attribute="--agent",
                                remedy="give --r1 (in /mM/s) with its source") from None
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(f"no relaxivity for {agent!r} at {field_t:g} T", attribute="--agent",
                                remedy="give --r1 (in /mM/s)")
    return value


def run_mri_dce(dce_dir: Path, vois_path: Path, out_dir: Path, *, t10: float | Path, r1_per_mm_s: float | None,
                model: str = "etm", population_aif: str | None = "parker", bolus_arrival_s: float = 0.0,
                aif_voi: str | None = None, hct: float = 0.45, n_baseline: int = 3, maps: bool = True,
                fit_delay: bool = False, agent: str | None = None, field_t: float | None = None,
                map_kinds: tuple[str, ...] | None = None, workers: int = 1, dose_ml_per_kg: float = 0.2,
                weight_kg: float = 73.0) -> dict[str, Any]:
    """Run the DCE stage; returns the sidecar written as ``out_dir/dce.json``.

    Writes ``dce.csv`` (one row per VOI: the fit and IAUGC60, time to peak, initial slope, washout), ``curves.csv``
    (each VOI's mean concentration and fitted curve, and the plasma AIF, per phase, mM), ``precontrast.nii.gz``
    (the mean signal of the baseline phases) and, with
    ``maps``, one NIfTI per model parameter over the voxels of the VOIs of ``map_kinds`` (all when None; NaN
    elsewhere and where a fit did not converge). With ``agent``, ``r1_per_mm_s`` may be None: the agent's plasma
    relaxivity at ``field_t`` (T; default the series' MagneticFieldStrength) from dcmri's table.

    Raises
    ------
    InvalidInputError
        VOIs not on the DCE grid, an unknown model or AIF VOI, or too few baseline phases.
    """
    if model not in MODELS:
        raise InvalidInputError(f"unknown model {model!r}", attribute="--model", remedy=f"use {', '.join(MODELS)}")
    dce = load_mr_dynamic(dce_dir)
    r1_source = "given (--r1)"
    if r1_per_mm_s is None:
        field = field_t if field_t is not None else dce.field_t
        if agent is None or field is None:
            raise InvalidInputError("no relaxivity: give --r1, or --agent with --field when the series has no "
                                    "MagneticFieldStrength", source=str(dce_dir),
                                    attribute="MagneticFieldStrength (0018,0087)", remedy="give --r1 or --field")
        r1_per_mm_s = relaxivity(agent, field)
        r1_source = (f"dcmri relaxivity table: {agent}, {field:g} T "
                     f"({'--field' if field_t is not None else 'MagneticFieldStrength'}), plasma")
    if dce.flip_deg is None or dce.tr_s is None:
        raise InvalidInputError("the DCE series has no FlipAngle or RepetitionTime", source=str(dce_dir),
                                attribute="FlipAngle (0018,1314) / RepetitionTime (0018,0080)",
                                remedy="re-export the series with its acquisition parameters")
    if not 1 <= n_baseline < len(dce.times_s):
        raise InvalidInputError(f"{n_baseline} baseline phases of {len(dce.times_s)}", attribute="--baseline-phases",
                                remedy="give the number of pre-contrast phases (>= 1)")
    voiset = read_voiset(vois_path)
    if not voiset.geometry.same_grid(dce.geometry):
        raise InvalidInputError("the VOIs are not on the grid of the DCE series", source=str(vois_path),
                                remedy="build the VOIs on the DCE series' grid (petvoi vois --pet <DCE NIfTI>)")
    if isinstance(t10, Path):
        t10_map, grid = read_nifti(t10)
        if not grid.same_grid(dce.geometry):
            raise InvalidInputError("the T1 map is not on the grid of the DCE series", source=str(t10),
                                    remedy="compute the T1 map on the DCE grid")
        t10_value: Any = np.asarray(t10_map, dtype=float)
    else:
        t10_value = float(t10)
    conc = concentration(dce.volume, tr_s=dce.tr_s, flip_deg=dce.flip_deg, t10_s=t10_value,
                         r1_per_mm_s=r1_per_mm_s, n_baseline=n_baseline)
    t = dce.times_s
    if aif_voi is not None:
        names = [v.name for v in voiset.vois]
        if aif_voi not in names:
            raise InvalidInputError(f"no VOI named {aif_voi!r} for the AIF (VOIs: {', '.join(names)})",
                                    attribute="--aif-voi", remedy="name the arterial VOI")
        cp = plasma_input(conc[:, voiset.masks[names.index(aif_voi)]].mean(axis=1), kind="blood", hct=hct)
        aif_record = {"kind": "voi", "voi": aif_voi, "medium": "blood", "hct": hct}
    else:
        name = population_aif or "parker"
        cp = plasma_input(population_aif_curve(name, t, bolus_arrival_s=bolus_arrival_s, agent=agent or "gadoterate",
                                               dose_ml_per_kg=dose_ml_per_kg, weight_kg=weight_kg),
                          kind="blood", hct=hct)
        aif_record = {"kind": "population", "name": name, "bolus_arrival_s": bolus_arrival_s, "medium": "blood",
                      "hct": hct, "source": POPULATION_AIFS.get(name, name)}
        if name == "tristan":
            aif_record.update({"agent": agent or "gadoterate", "dose_ml_per_kg": dose_ml_per_kg,
                               "weight_kg": weight_kg})
    tissue = [(v.name, voiset.masks[i]) for i, v in enumerate(voiset.vois) if v.name != aif_voi]
    means = voi_curves(conc, [m for _, m in tissue])  # each VOI's mean curve, once
    rows = fit_voi_curves(means, [int(np.count_nonzero(m)) for _, m in tissue], [n for n, _ in tissue], t, cp,
                          model=model, fit_delay=fit_delay)
    onset = bolus_arrival_s if aif_voi is None else float(t[int(np.argmax(cp > 0.1 * cp.max()))])
    for row, mean in zip(rows, means, strict=True):
        if mean is not None:
            row.update(asdict(semi_quantitative(t, mean, onset_s=onset)))
    table = pd.DataFrame(rows)
    not_converged = warn_not_converged(table, f"DCE {model} of the VOIs", key="voi")
    curves = [pd.DataFrame({"voi": "aif_plasma", "time_s": t, "concentration_mm": cp, "fit_mm": np.nan})]
    for row, (name, _), mean in zip(rows, tissue, means, strict=True):
        if mean is not None:
            fitted = table_curve(model, row, cp, t) if row["converged"] else np.full(t.size, np.nan)
            curves.append(pd.DataFrame({"voi": name, "time_s": t, "concentration_mm": mean, "fit_mm": fitted}))
    written: dict[str, str] = {}
    files = [out_dir / "dce.csv", out_dir / "dce.json", out_dir / "curves.csv", out_dir / "precontrast.nii.gz"]
    with output_set(*files):
        map_record: dict[str, Any] = {}
        if maps:
            mapped = [mask for (name, mask), voi in zip(tissue, [v for v in voiset.vois if v.name != aif_voi],
                                                        strict=True) if map_kinds is None or voi.kind in map_kinds]
            union = np.any(np.stack(mapped), axis=0) if mapped else np.zeros(dce.geometry.shape, bool)
            result = fit_maps(conc, t, cp, union, model=model, fit_delay=fit_delay, workers=workers)
            for name, values in result.maps.items():
                path = out_dir / f"{name}.nii.gz"
                files.append(path)
                write_nifti(path, values.astype(np.float32), dce.geometry)
                written[name] = path.name
            map_record = {"n_voxels": result.n_voxels, "n_not_converged": result.n_not_converged, "files": written}
            if result.n_not_converged:
                log.warning("DCE %s maps: %d of %d voxels did not converge (NaN in every map)", model,
                            result.n_not_converged, result.n_voxels)
        write_csv(out_dir / "dce.csv", table)
        write_csv(out_dir / "curves.csv", pd.concat(curves, ignore_index=True))
        # the T1-weighted pre-contrast image (mean of the baseline phases): anatomy for texture and display
        write_nifti(out_dir / "precontrast.nii.gz", dce.volume[:n_baseline].mean(axis=0).astype(np.float32),
                    dce.geometry)
        sidecar = {"petvoi_version": __version__, "model": model, "n_phases": int(len(t)), "times_s": t.tolist(),
                   "time_source": dce.time_source, "flip_deg": dce.flip_deg, "tr_s": dce.tr_s,
                   "t10": str(t10) if isinstance(t10, Path) else float(t10), "r1_per_mm_s": r1_per_mm_s,
                   "r1_source": r1_source, "baseline_phases": n_baseline, "aif": aif_record, "fit_delay": fit_delay,
                   "field_t": dce.field_t, "maps": map_record, "vois_not_converged": not_converged,
                   "map_kinds": list(map_kinds) if map_kinds else "all",
                   "units": {"ktrans_per_min": "/min", "fp_ml_per_100ml_per_min": "mL/100 mL/min",
                                                 "ps_per_min": "/min", "ve": "mL/mL", "vp": "mL/mL",
                                                 "iaugc60_mm_s": "mM s"}}
        write_json(out_dir / "dce.json", sidecar)
    return sidecar
