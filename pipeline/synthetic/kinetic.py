"""A small dynamic PET study with arterial blood and known compartment-model parameters.

:func:`write_kinetic_study` writes, into ``out_dir``:

* ``dicom/``: a classic dynamic PET series (the 28-frame, 90-min schedule of
  :func:`~pipeline.kinetics.models.standard_frames`: 6 x 10 s, 4 x 30 s, 4 x 60 s, 4 x 120 s,
  5 x 300 s, 5 x 600 s) on :data:`~pipeline.synthetic.dynamic.DYNAMIC_GRID`, with the same header
  conventions as :func:`~pipeline.synthetic.dynamic.write_dynamic_pet` (Units BQML, DecayCorrection
  START, scan start = injection, so stored activity is decay-corrected to injection).
* ``vois.nii.gz`` + ``vois.tsv``: a label map on the PET grid, one label per VOI, and its names
  (``index``/``name`` sidecar read by :func:`~pipeline.voi.masks.label_names`). Each VOI is a
  uniform square block filling its own group of slices (so the per-slice int16 quantisation is
  relative to that VOI's own value), zero elsewhere.
* ``blood.csv``: the Feng input (:func:`~pipeline.kinetics.models.feng_input`) sampled every 1 s
  for 10 min then every 10 s to the scan end: ``time_s`` (s from injection), ``plasma_kbq_ml``,
  ``whole_blood_kbq_ml`` (= plasma), ``parent_fraction`` (= 1); decay-corrected to injection.
* ``truth.json``: per VOI the model, parameters, VT = K1/k2 (1 + k3/k4) and the simulated frame
  values (kBq/mL), plus the frame table.

Each VOI's activity in a frame is the frame average of ``(1 - vB) CT + vB Cp`` for the Feng input
(:func:`~pipeline.kinetics.models.simulate_frames`, 0.1-s grid).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..dicom.geometry import Geometry, write_nifti
from ..kinetics.fit import compartment_macro
from ..kinetics.models import feng_input, simulate_frames, standard_frames
from .dynamic import _SCAN_START, DYNAMIC_GRID, write_dynamic_series

__all__ = ["KINETIC_VOIS", "write_kinetic_study"]

#: label -> (name, model, parameters); VT of a reversible 2TCM = K1/k2 (1 + k3/k4).
KINETIC_VOIS: dict[int, tuple[str, str, dict[str, float]]] = {
    1: ("high_binding", "2tcm", {"K1": 0.10, "k2": 0.15, "k3": 0.08, "k4": 0.02, "vB": 0.05}),
    2: ("medium_binding", "2tcm", {"K1": 0.12, "k2": 0.20, "k3": 0.10, "k4": 0.05, "vB": 0.04}),
    3: ("low_binding", "2tcm", {"K1": 0.05, "k2": 0.10, "k3": 0.04, "k4": 0.03, "vB": 0.03}),
}


def _label_map() -> np.ndarray:
    """Label k fills slices 4(k-1)..4k-1 over the central 12 x 12 voxels of DYNAMIC_GRID."""
    nz, ny, nx = DYNAMIC_GRID.shape
    labels = np.zeros((nz, ny, nx), dtype=np.uint8)
    per = nz // len(KINETIC_VOIS)
    for i, label in enumerate(sorted(KINETIC_VOIS)):
        labels[i * per:(i + 1) * per, ny // 4:3 * ny // 4, nx // 4:3 * nx // 4] = label
    return labels


def _blood_table(end_s: float) -> pd.DataFrame:
    t = np.union1d(np.arange(0.0, 600.0, 1.0), np.arange(600.0, end_s + 10.0, 10.0))
    cp = feng_input(t / 60.0)
    return pd.DataFrame({"time_s": t, "plasma_kbq_ml": cp, "whole_blood_kbq_ml": cp,
                         "parent_fraction": np.ones_like(t)})


def write_kinetic_study(out_dir: str | Path, *, seed: int = 0) -> dict[str, Any]:
    """Write the dynamic series, label map, blood table and truth (module docstring); return the truth.

    Parameters
    ----------
    out_dir : path-like
        Study folder (created); DICOM goes to ``out_dir/dicom``.
    seed : int
        Seeds the UIDs and the per-slice quantisation.

    Returns
    -------
    dict
        The content of ``truth.json``: ``frames`` (start_s, duration_s), ``vois`` keyed by name with
        ``label``, ``model``, ``params``, ``VT`` and ``tac_kbq_ml`` (frame averages), and the paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    grid, nuclide, scan_start = DYNAMIC_GRID, "F18", _SCAN_START
    fs_min, fe_min = standard_frames()
    starts, durations = fs_min * 60.0, (fe_min - fs_min) * 60.0
    labels = _label_map()
    tacs = {label: simulate_frames(model, params, fs_min, fe_min, feng_input)
            for label, (_, model, params) in KINETIC_VOIS.items()}

    def frame_bq_ml(t: int) -> np.ndarray:
        bq_ml = np.zeros(labels.shape)
        for label, tac in tacs.items():
            bq_ml[labels == label] = tac[t] * 1000.0  # kBq/mL -> Bq/mL
        return bq_ml

    write_dynamic_series(out / "dicom", frame_bq_ml, starts, durations, grid=grid, nuclide=nuclide, dose_bq=185e6,
                         weight_kg=70.0, scan_start=scan_start, seed=seed, role="kinetic",
                         description="PET dynamic kinetic (synthetic)", rng_key=0x4B1)

    geometry = Geometry(grid.shape, tuple(grid.spacing[::-1]), grid.origin, np.eye(3))  # type: ignore[arg-type]
    write_nifti(out / "vois.nii.gz", labels, geometry)
    rows = "".join(f"{k}\t{KINETIC_VOIS[k][0]}\n" for k in sorted(KINETIC_VOIS))
    (out / "vois.tsv").write_text("index\tname\n" + rows, encoding="utf-8")
    _blood_table(float(starts[-1] + durations[-1])).to_csv(out / "blood.csv", index=False)

    truth: dict[str, Any] = {
        "input": "feng_input (kBq/mL, decay-corrected to injection)",
        "frames": {"start_s": starts.tolist(), "duration_s": durations.tolist()},
        "vois": {name: {"label": label, "model": model, "params": params, "VT": compartment_macro(model, params)["VT"],
                        "tac_kbq_ml": tacs[label].tolist()}
                 for label, (name, model, params) in KINETIC_VOIS.items()},
        "paths": {"dicom": "dicom", "mask": "vois.nii.gz", "blood": "blood.csv"},
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth
