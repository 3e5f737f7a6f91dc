"""Ground truth of one synthetic study (``truth.json``) and what each number means.

Study level
-----------
subject_id, timepoint, patient_id, tracer (radiopharmaceutical name), tracer_key, nuclide
    Identity; ``patient_id`` is the pseudonymous DICOM PatientID, not the subject id.
half_life_s
    Nuclide half-life (s) written to RadionuclideHalfLife and used for all decay.
vendor, manufacturer, units
    Header flavour (siemens | ge | philips), Manufacturer, PET Units (BQML | CNTS).
injected_dose_bq
    RadionuclideTotalDose: net activity (Bq) at ``injection_datetime``.
injection_datetime, reference_datetime, series_datetime, ct_datetime, bed_start_datetimes
    ISO 8601 local times with explicit offset (+01:00). ``reference_datetime`` is the true
    decay-correction reference: the start of the first bed (DecayCorrection START). For GE
    the PET SeriesTime (``series_datetime``) is later; the reference is in (0009,100D).
uptake_time_s
    reference - injection (s).
frame_duration_s
    Duration of each bed position (s).
weight_kg, height_m, sex
    As in the PET header (PatientWeight, PatientSize, PatientSex) of this study.
decay_factor
    D / D_ref = 2 ** (uptake_time_s / half_life_s). (Not the DICOM DecayFactor (0054,1321),
    which is per bed and follows the vendor's FrameReferenceTime convention.)
dose_at_reference_bq
    D_ref = injected_dose_bq / decay_factor.
activity_concentration_scale_factor
    Philips (7053,1009) ACSF (Bq/mL per count) for Units CNTS, else null.
suv_factor
    Multiplier from the *rescaled* pixel value (stored * RescaleSlope + 0) to SUVbw (g/mL):
    weight_kg * 1000 / dose_at_reference_bq, times the ACSF for CNTS. SUV = rescaled * suv_factor.
noise_sd
    Relative Gaussian noise SD applied to the activity before quantisation.
study_uid, frame_of_reference_uid, pet_series_uid, ct_series_uid, rtstruct_series_uid
    UIDs (PET, CT and RTSTRUCT share the study and frame of reference).
pet_grid, ct_grid
    ``shape_zyx``, ``spacing_zyx_mm``, ``origin_lps_mm`` (LPS centre of voxel [0,0,0]).

Per VOI (``vois``, one per structure present, in label order)
------------------------------------------------------------
label
    1-based painting order = RTSTRUCT ROINumber; the PET-grid label map paints body, organs,
    lesions in this order, so lesions > organs > body (voxel-centre rule).
name, kind, organ, lesion_id, is_lymph_node, malignant
    ``kind`` is body | organ | reference (liver, aorta) | tumour (every lesion, benign foci
    included); ``lesion_id`` equals ``name`` for lesions, null otherwise; ``malignant`` is the
    histology truth for lesions, null otherwise.
suv_true
    Nominal uniform SUVbw assigned to the structure.
suv_mean, suv_max, suv_min
    Over the PET voxels the structure *owns* (after precedence), computed from the values
    actually stored: stored * slope * suv_factor (after noise and int16 quantisation).
n_voxels, volume_ml
    Owned PET voxels and n_voxels * voxel volume (mL).
n_voxels_whole
    PET voxels whose centre lies inside the shape, ignoring precedence (the whole VOI).
volume_ml_analytic
    Exact volume of the whole analytic shape (mL).
hu
    CT number of the structure (HU).
geometry
    ``shape`` (ellipsoid | elliptic_cylinder), ``centre_lps_mm``, ``semi_axes_mm`` (a, b, c; c is
    the half-height of a cylinder), ``rotation_deg`` (in-plane, from +x towards +y).
longest_axial_diameter_mm, short_axis_mm
    Lesions: longest and perpendicular diameter of the largest axial cross-section (mm).
response_class, intended_suv_change_pct, intended_diameter_change_pct
    Lesions: planned change class (respond | stable | progress | new) and the planned
    baseline -> on_treatment change of suv_true and of the longest axial diameter (%);
    null for new lesions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import PipelineError
from .anatomy import Structure
from .dicom_common import iso
from .protocol import StudyPlan
from .raster import Grid

__all__ = ["SCHEMA_VERSION", "voi_truth", "study_truth"]

SCHEMA_VERSION = 1


def voi_truth(structures: Sequence[Structure], labels: NDArray[np.int16], whole_counts: NDArray[np.int64],
              suv: NDArray[np.float64], grid: Grid) -> list[dict[str, Any]]:
    """Per-VOI truth from the stored SUV volume on the PET grid.

    Parameters
    ----------
    structures : sequence of Structure
        In label order.
    labels : ndarray, shape (z, y, x)
        Label map from :func:`~pipeline.synthetic.raster.rasterise`.
    whole_counts : ndarray
        Voxels inside each whole shape.
    suv : ndarray, shape (z, y, x)
        SUVbw from the stored values (stored * slope * suv_factor).
    grid : Grid
        PET grid.

    Raises
    ------
    PipelineError
        If a structure owns no PET voxel.
    """
    counts = np.bincount(labels.ravel(), minlength=len(structures) + 1)[1:]
    if (counts == 0).any():
        missing = [s.name for s, c in zip(structures, counts, strict=True) if c == 0]
        raise PipelineError(f"structures own no PET voxel: {missing}", source="synthetic phantom")
    out = []
    for k, s in enumerate(structures):
        owned = suv[labels == k + 1]
        lesion = s.lesion
        entry: dict[str, Any] = {
            "label": k + 1, "name": s.name, "kind": s.kind, "organ": s.organ,
            "lesion_id": lesion.lesion_id if lesion else None,
            "is_lymph_node": bool(lesion.is_lymph_node) if lesion else False,
            "malignant": bool(lesion.malignant) if lesion else None,
            "suv_true": s.suv, "suv_mean": float(owned.mean()), "suv_max": float(owned.max()),
            "suv_min": float(owned.min()), "n_voxels": int(counts[k]), "n_voxels_whole": int(whole_counts[k]),
            "volume_ml": float(counts[k] * grid.voxel_volume_ml), "volume_ml_analytic": s.shape.volume_ml(),
            "hu": s.hu, "geometry": s.shape.to_dict(),
            "longest_axial_diameter_mm": None, "short_axis_mm": None, "response_class": None,
            "intended_suv_change_pct": None, "intended_diameter_change_pct": None,
        }
        if lesion:
            longest, short = s.shape.axial_diameters_mm()
            suv_change, diameter_change = lesion.intended_change_pct()
            entry.update(longest_axial_diameter_mm=longest, short_axis_mm=short,
                         response_class=lesion.response_class, intended_suv_change_pct=suv_change,
                         intended_diameter_change_pct=diameter_change)
        out.append(entry)
    return out


def study_truth(plan: StudyPlan, vois: list[dict[str, Any]], pet_grid: Grid, ct_grid: Grid,
                noise_sd: float) -> dict[str, Any]:
    """The ``truth.json`` document of one study (see the module docstring)."""
    subject, vendor = plan.subject, plan.subject.vendor
    return {
        "schema_version": SCHEMA_VERSION,
        "subject_id": subject.subject_id, "timepoint": plan.timepoint, "patient_id": subject.patient_id,
        "tracer": subject.tracer.name, "tracer_key": subject.tracer.key, "nuclide": subject.tracer.nuclide,
        "half_life_s": plan.half_life_s, "vendor": vendor.key, "manufacturer": vendor.manufacturer,
        "units": vendor.units, "injected_dose_bq": plan.dose_bq,
        "injection_datetime": iso(plan.injection), "reference_datetime": iso(plan.reference),
        "series_datetime": iso(plan.series_datetime), "ct_datetime": iso(plan.ct_start),
        "bed_start_datetimes": [iso(t) for t in plan.bed_starts], "frame_duration_s": plan.frame_duration_s,
        "uptake_time_s": (plan.reference - plan.injection).total_seconds(),
        "weight_kg": plan.weight_kg, "height_m": subject.height_m, "sex": subject.sex,
        "decay_factor": plan.decay_factor, "dose_at_reference_bq": plan.dose_at_reference_bq,
        "activity_concentration_scale_factor": plan.acsf, "suv_factor": plan.suv_factor, "noise_sd": noise_sd,
        "study_uid": plan.study_uid, "frame_of_reference_uid": plan.frame_of_reference_uid,
        "pet_series_uid": plan.pet_series_uid, "ct_series_uid": plan.ct_series_uid,
        "rtstruct_series_uid": plan.rtstruct_series_uid,
        "pet_grid": pet_grid.to_dict(), "ct_grid": ct_grid.to_dict(), "vois": vois,
    }
