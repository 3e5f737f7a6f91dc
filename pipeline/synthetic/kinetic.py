"""A small dynamic PET study with blood samples and known compartment-model parameters.

:func:`write_kinetic_study` writes, into ``out_dir``:

* ``PT/``: a classic dynamic PET series (the 28-frame, 90-min schedule of
  :func:`~pipeline.kinetics.models.standard_frames`: 6 x 10 s, 4 x 30 s, 4 x 60 s, 4 x 120 s,
  5 x 300 s, 5 x 600 s) on :data:`KINETIC_GRID`, with the header conventions of
  :func:`~pipeline.synthetic.dynamic.write_dynamic_series` (Units BQML, DecayCorrection START,
  scan start = injection, so stored activity is decay-corrected to injection).
* ``SEG/SEG_0001.dcm``: the VOIs as a binary DICOM SEG (highdicom) on the first frame's
  slices, one segment per VOI; and the same VOIs as ``vois.nii.gz`` + ``vois.tsv`` (a label map on
  the PET grid and its ``index``/``name`` label-name file, read by :func:`~pipeline.voi.masks.label_names`).
  The ``aorta`` VOI holds whole blood (frame averages, no partial-volume loss), for an
  image-derived input. Each VOI is a uniform square block filling its own group of slices (so the per-slice int16
  quantisation is relative to that VOI's own value), zero elsewhere.
* ``blood.csv``: samples as a blood laboratory reports them, **not decay-corrected** (activity at
  the time of measurement), kBq/mL:

  - an automated whole-blood sampler every 1 s for 3 min then every 5 s to 15 min
    (``whole_blood_kbq_ml`` only);
  - manual samples at 2.5, 5, 7.5, 10, 12.5, 15, 20, 25, 30, 40, 50, 60, 75 and 90 min with whole
    blood, total plasma and the parent fraction.

  Parent plasma is the Feng input (:func:`~pipeline.kinetics.models.feng_input`), the parent
  fraction a Hill function (:data:`PARENT_HILL`, t in s), total plasma = parent / f_p, and whole
  blood = total plasma / :data:`PLASMA_BLOOD_RATIO`. The samples may lag the tissue input by
  ``blood_delay_s`` (sample at t measures the input at t - delay).
* ``truth.json``: per VOI the model, parameters, VT (= K1/k2 (1 + k3/k4)), VND = K1/k2, BPND
  = k3/k4 (2TCM targets) and the simulated frame values (kBq/mL), the frame table, the blood
  generator and the delay.

Each VOI's activity in a frame is the frame average of ``(1 - vB) CT + vB Cwb``
(:func:`~pipeline.kinetics.models.simulate_frames`, 0.1-s grid), CT driven by the parent plasma.
Every target has K1/k2 equal to the reference region's VT (:data:`REFERENCE_VOI`), so its BPND
is k3/k4 exactly.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydicom

from ..dicom.geometry import Geometry, write_nifti
from ..kinetics.blood import hill_parent_fraction
from ..kinetics.fit import compartment_macro
from ..kinetics.models import feng_input, simulate_frames, standard_frames
from ..suv.nuclides import get_nuclide
from .dicom_common import StudyHeader, make_uid
from .dynamic import _SCAN_START, write_dynamic_series
from .raster import Grid

__all__ = ["KINETIC_VOIS", "KINETIC_GRID", "BLOOD_POOL_VOI", "PARENT_HILL", "PLASMA_BLOOD_RATIO", "REFERENCE_VOI",
           "write_kinetic_study", "blood_samples"]

#: label -> (name, model, parameters; rates in 1/min). Targets share K1/k2 = 0.5 with the reference.
KINETIC_VOIS: dict[int, tuple[str, str, dict[str, float]]] = {
    1: ("lesion_01", "2tcm", {"K1": 0.10, "k2": 0.20, "k3": 0.30, "k4": 0.10, "vB": 0.05}),
    2: ("lesion_02", "2tcm", {"K1": 0.12, "k2": 0.24, "k3": 0.15, "k4": 0.10, "vB": 0.04}),
    3: ("spleen", "2tcm", {"K1": 0.20, "k2": 0.40, "k3": 0.20, "k4": 0.10, "vB": 0.06}),
    4: ("muscle", "1tcm", {"K1": 0.05, "k2": 0.10, "vB": 0.02}),
    5: ("aorta", "blood", {}),
}
#: The reference region of the BPND models (no specific binding).
REFERENCE_VOI = "muscle"
#: The blood-pool VOI (whole blood, no partial-volume loss) for an image-derived input.
BLOOD_POOL_VOI = "aorta"
#: PET grid of the kinetic study: 5 VOIs of 4 slices each, 4 mm voxels.
KINETIC_GRID = Grid.centred((20, 24, 24), (4.0, 4.0, 4.0))
#: Hill parent fraction 1 - a t^b / (c + t^b), t in s: half the metabolism done at 25 min.
PARENT_HILL = {"a": 0.8, "b": 2.5, "c": 1500.0 ** 2.5}
#: Total plasma / whole blood concentration ratio (constant).
PLASMA_BLOOD_RATIO = 1.15
_MANUAL_MIN = (2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 75.0, 90.0)
_SEGMENT_CODES = {"lesion": ("MorphologicallyAbnormalStructure", "Neoplasm"), "spleen": ("Organ", "Spleen"),
                  "muscle": ("Tissue", "SkeletalMuscle"), "aorta": ("AnatomicalStructure", "Aorta")}


def _label_map(grid: Grid) -> np.ndarray:
    """Label k fills slices 4(k-1)..4k-1 over the central 12 x 12 voxels."""
    nz, ny, nx = grid.shape
    labels = np.zeros((nz, ny, nx), dtype=np.uint8)
    per = nz // len(KINETIC_VOIS)
    for i, label in enumerate(sorted(KINETIC_VOIS)):
        labels[i * per:(i + 1) * per, ny // 4:3 * ny // 4, nx // 4:3 * nx // 4] = label
    return labels


def _parent(t_min: np.ndarray) -> np.ndarray:
    return feng_input(t_min)


def _whole_blood(t_min: np.ndarray) -> np.ndarray:
    fp = hill_parent_fraction(np.asarray(t_min, float) * 60.0, **PARENT_HILL)
    return feng_input(t_min) / fp / PLASMA_BLOOD_RATIO


def blood_samples(end_s: float, *, half_life_s: float, delay_s: float = 0.0) -> pd.DataFrame:
    """The sampled blood table of the module docstring (not decay-corrected; kBq/mL).

    Parameters
    ----------
    end_s : float
        Scan end (s from injection); the last manual sample is taken then.
    half_life_s : float
        Physical half-life (s) used to undo the decay correction.
    delay_s : float
        Lag of the samples behind the tissue input (s).
    """
    manual_s = np.array(_MANUAL_MIN) * 60.0
    manual_s = manual_s[manual_s <= end_s]
    auto_s = np.union1d(np.arange(0.0, 180.0, 1.0), np.arange(180.0, 900.0, 5.0))
    auto_s = np.setdiff1d(auto_s, manual_s)
    t = np.union1d(auto_s, manual_s)
    measured_at = (t - delay_s) / 60.0  # what the sample sees, on the tissue's clock (min)
    fp = hill_parent_fraction(np.maximum(measured_at, 0.0) * 60.0, **PARENT_HILL)
    total = feng_input(measured_at) / fp
    decay = np.exp(-np.log(2.0) * t / half_life_s)
    manual = np.isin(t, manual_s)
    return pd.DataFrame({
        "time_s": t,
        "whole_blood_kbq_ml": total / PLASMA_BLOOD_RATIO * decay,
        "plasma_kbq_ml": np.where(manual, total * decay, np.nan),
        "parent_fraction": np.where(manual, fp, np.nan),
    })


def _write_seg(path: Path, series_dir: Path, labels: np.ndarray, *, seed: int, role: str) -> Path:
    """Binary DICOM SEG of the label map on the first frame's slices (deterministic UIDs and dates)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    first = [pydicom.dcmread(f) for f in sorted(series_dir.glob("PT_F01_*.dcm"))]
    first.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))  # ascending z = array order
    descriptions, segments = [], []
    for number, label in enumerate(sorted(KINETIC_VOIS), start=1):
        name = KINETIC_VOIS[label][0]
        category, kind = _SEGMENT_CODES[name.split("_")[0]]
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=name, segmented_property_category=getattr(codes.SCT, category),
            segmented_property_type=getattr(codes.SCT, kind), algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL))
        segments.append(labels == label)
    ref = first[0]
    seg = hd.seg.Segmentation(
        source_images=first, pixel_array=np.stack(segments, axis=-1).astype(np.uint8), segmentation_type="BINARY",
        segment_descriptions=descriptions, series_instance_uid=make_uid(seed, role, "SEG", "series"),
        series_number=90, sop_instance_uid=make_uid(seed, role, "SEG", "instance"), instance_number=1,
        manufacturer="petvoi synthetic", manufacturer_model_name="kinetic VOIs", software_versions="1",
        device_serial_number="0", series_description="VOIs (synthetic)")
    # highdicom stamps the current time and a fresh dimension-organisation UID: pin them for byte-identical output
    seg.SeriesDate = seg.ContentDate = seg.InstanceCreationDate = ref.SeriesDate
    seg.SeriesTime = seg.ContentTime = seg.InstanceCreationTime = ref.SeriesTime
    for item in seg.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:
            item.ContributionDateTime = ref.SeriesDate + ref.SeriesTime
    dim_uid = make_uid(seed, role, "SEG", "dimensions")
    for item in seg.DimensionOrganizationSequence:
        item.DimensionOrganizationUID = dim_uid
    for item in seg.DimensionIndexSequence:
        item.DimensionOrganizationUID = dim_uid
    path.parent.mkdir(parents=True, exist_ok=True)
    seg.save_as(path)
    return path


def write_kinetic_study(out_dir: str | Path, *, seed: int = 0, study: StudyHeader | None = None,
                        scan_start: datetime = _SCAN_START, dose_bq: float = 185e6, weight_kg: float = 70.0,
                        blood_delay_s: float = 0.0, role: str = "kinetic") -> dict[str, Any]:
    """Write the dynamic series, VOIs, blood table and truth (module docstring); return the truth.

    Parameters
    ----------
    out_dir : path-like
        Study folder (created); DICOM goes to ``PT/`` and ``SEG/`` inside it.
    seed : int
        Seeds the UIDs and the per-slice quantisation.
    study : StudyHeader, optional
        Patient and study (default: a synthetic patient derived from ``seed``).
    scan_start : datetime
        Injection and start of the first frame (naive local time, UTC+01:00).
    dose_bq, weight_kg : float
        RadionuclideTotalDose at injection (Bq) and PatientWeight (kg).
    blood_delay_s : float
        Lag of the blood samples behind the tissue input (s); 0 = none.
    role : str
        Distinguishes the UIDs of several kinetic studies of one seed.

    Returns
    -------
    dict
        The content of ``truth.json``: ``frames`` (start_s, duration_s), ``vois`` keyed by name with
        ``label``, ``model``, ``params``, ``VT``, ``VND``, ``BPND`` and ``tac_kbq_ml`` (frame averages),
        ``blood``, ``reference`` and the paths.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    grid, nuclide = KINETIC_GRID, "F18"
    fs_min, fe_min = standard_frames()
    starts, durations = fs_min * 60.0, (fe_min - fs_min) * 60.0
    labels = _label_map(grid)
    blood_frames = simulate_frames("1tcm", {"K1": 0.0, "k2": 1.0, "vB": 1.0}, fs_min, fe_min, _parent, _whole_blood)
    tacs = {label: blood_frames if model == "blood" else simulate_frames(model, params, fs_min, fe_min, _parent,
                                                                         _whole_blood)
            for label, (_, model, params) in KINETIC_VOIS.items()}

    def frame_bq_ml(t: int) -> np.ndarray:
        bq_ml = np.zeros(labels.shape)
        for label, tac in tacs.items():
            bq_ml[labels == label] = tac[t] * 1000.0  # kBq/mL -> Bq/mL
        return bq_ml

    write_dynamic_series(out / "PT", frame_bq_ml, starts, durations, grid=grid, nuclide=nuclide,
                         dose_bq=dose_bq, weight_kg=weight_kg, scan_start=scan_start, seed=seed, role=role,
                         description="PET dynamic 90 min", rng_key=0x4B1, study=study)
    _write_seg(out / "SEG" / "SEG_0001.dcm", out / "PT", labels, seed=seed, role=role)

    geometry = Geometry(grid.shape, tuple(grid.spacing[::-1]), grid.origin, np.eye(3))  # type: ignore[arg-type]
    write_nifti(out / "vois.nii.gz", labels, geometry)
    rows = "".join(f"{k}\t{KINETIC_VOIS[k][0]}\n" for k in sorted(KINETIC_VOIS))
    (out / "vois.tsv").write_text("index\tname\n" + rows, encoding="utf-8")
    half_life = get_nuclide(nuclide).half_life_s
    end_s = float(starts[-1] + durations[-1])
    blood_samples(end_s, half_life_s=half_life, delay_s=blood_delay_s).to_csv(out / "blood.csv", index=False)

    vnd = compartment_macro(*KINETIC_VOIS[_reference_label()][1:])["VT"]
    vois: dict[str, Any] = {}
    for label, (name, model, params) in KINETIC_VOIS.items():
        if model == "blood":
            vois[name] = {"label": label, "model": "blood", "params": {}, "tac_kbq_ml": tacs[label].tolist()}
            continue
        entry = {"label": label, "model": model, "params": params, "VT": compartment_macro(model, params)["VT"],
                 "VND": params["K1"] / params["k2"], "tac_kbq_ml": tacs[label].tolist()}
        if name != REFERENCE_VOI:
            entry["BPND"] = params["k3"] / params["k4"]
            entry["DVR"] = entry["VT"] / vnd
        vois[name] = entry
    truth: dict[str, Any] = {
        "input": "parent plasma = feng_input (kBq/mL, decay-corrected to injection, t in min)",
        "frames": {"start_s": starts.tolist(), "duration_s": durations.tolist()},
        "blood": {"decay_corrected": False, "half_life_s": half_life, "delay_s": float(blood_delay_s),
                  "parent_hill": PARENT_HILL, "plasma_blood_ratio": PLASMA_BLOOD_RATIO,
                  "manual_samples_min": list(_MANUAL_MIN)},
        "reference": REFERENCE_VOI,
        "blood_pool": BLOOD_POOL_VOI,
        "vois": vois,
        "scan_start": scan_start.isoformat(),
        "paths": {"pet": "PT", "seg": "SEG/SEG_0001.dcm", "mask": "vois.nii.gz", "blood": "blood.csv"},
    }
    (out / "truth.json").write_text(json.dumps(truth, indent=2), encoding="utf-8")
    return truth


def _reference_label() -> int:
    return next(label for label, (name, _, _) in KINETIC_VOIS.items() if name == REFERENCE_VOI)
