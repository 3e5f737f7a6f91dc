"""The three DICOM objects of a study, built with highdicom.

* :func:`build_seg`: every VOI as a segment of a binary Segmentation on the PET grid (SNOMED category and type,
  tracking id and UID);
* :func:`build_sr`: a Comprehensive 3D SR, TID 1500 Measurement Report, one volumetric measurement group per VOI
  referencing its segment (SUVmax, mean, peak, SD, volume / MTV, TLG, and the SUL equivalents);
* :func:`build_pm`: the SUV volume as a float Parametric Map whose Real World Value Mapping gives the SUV unit.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import highdicom as hd
import numpy as np
import pandas as pd
import pydicom
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from .. import __version__
from ..voi.catalogue import VoiSet
from .codes import PROCEDURE_PET, UNIT_G, UNIT_ML, organ_code, segment_codes, suv_quantity

__all__ = ["build_seg", "build_sr", "build_pm", "build_map_pm", "build_mri_pm", "tracking_uid", "SERIES_NUMBERS",
           "MAP_UNITS", "MRI_MAP_UNITS"]

#: Series numbers of petvoi's DICOM outputs.
SERIES_NUMBERS = {"seg": 9001, "sr": 9002, "pm": 9003, "logan_vt": 9004, "patlak_ki": 9005, "mri": 9010}
#: Parametric maps of a dynamic study: (label, UCUM unit, explanation).
MAP_UNITS = {"logan_vt": ("Logan VT", hd.sr.CodedConcept("ml/ml", "UCUM", "milliliter per milliliter"),
                          "total distribution volume, Logan plot with plasma input"),
             "patlak_ki": ("Patlak Ki", hd.sr.CodedConcept("/min", "UCUM", "per minute"),
                           "net influx rate, Patlak plot with plasma input")}
_MANUFACTURER = "petvoi"


_Group = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations | hd.sr.MeasurementsAndQualitativeEvaluations


def _uid(*parts: object) -> str:
    """A UID from the content it names: the same inputs give the same UID, other content another one."""
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def tracking_uid(subject: str, voi_name: str, lesion_id: str | None) -> str:
    """The tracking UID of a VOI: the same for a lesion (by its lesion id) at every timepoint of the subject."""
    key = lesion_id or voi_name
    return "2.25." + str(int.from_bytes(hashlib.sha256(f"petvoi-track:{subject}:{key}".encode()).digest()[:15],
                                        "big"))


def _algorithm() -> hd.AlgorithmIdentificationSequence:
    return hd.AlgorithmIdentificationSequence(name="petvoi", family=codes.cid7162.HistogramAnalysis,
                                              version=__version__)


def build_seg(sources: Sequence[pydicom.Dataset], voiset: VoiSet, *, subject: str) -> hd.seg.Segmentation:
    """A binary Segmentation of the non-empty VOIs of ``voiset`` on the grid of ``sources`` (one per slice).

    Segment ``k`` is ``voiset.vois[i]`` for the ``k``-th non-empty VOI (the SR refers to segments by number);
    drawn VOIs (RTSTRUCT, SEG, masks) are MANUAL, spheres and thresholds SEMIAUTOMATIC (petvoi).
    """
    kept = [i for i, voi in enumerate(voiset.vois) if voiset.masks[i].any()]
    descriptions = []
    for number, i in enumerate(kept, 1):
        voi = voiset.vois[i]
        category, kind = segment_codes(voi.kind, voi.organ)
        manual = voi.source.split(":")[0] in ("rtstruct", "seg", "mask", "")
        site = organ_code(voi.organ)
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=voi.name[:64], segmented_property_category=category,
            segmented_property_type=kind,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL if manual
            else hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=None if manual else _algorithm(),
            tracking_uid=tracking_uid(subject, voi.name, voi.lesion_id), tracking_id=voi.name[:64],
            anatomic_regions=[site] if site is not None and voi.kind != "tumour" else None))
    masks = np.moveaxis(voiset.masks[kept], 0, -1).astype(np.uint8)  # (z, y, x, segments)
    digest = hashlib.sha256(np.packbits(masks).tobytes()).hexdigest()
    series = str(sources[0].SeriesInstanceUID)
    return hd.seg.Segmentation(
        source_images=list(sources), pixel_array=masks, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=_uid(series, "seg-series", __version__),
        series_number=SERIES_NUMBERS["seg"], sop_instance_uid=_uid(series, "seg", digest, __version__),
        instance_number=1, manufacturer=_MANUFACTURER, manufacturer_model_name="petvoi vois",
        software_versions=__version__, device_serial_number="0", content_label="VOIS",
        content_description="petvoi VOIs on the PET grid", series_description="petvoi VOIs")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _measurements(row: Mapping[str, Any], kind: str, lbm_formula: str, tumour: bool,
                  with_sul: bool) -> list[hd.sr.Measurement]:
    quantity, unit, method = suv_quantity(kind, lbm_formula)
    algorithm = hd.sr.AlgorithmIdentification(name="petvoi", version=__version__)
    out = []

    def add(name: Any, value: Any, unit: Any, derivation: Any = None, method: Any = None) -> None:
        number = _number(value)
        if number is not None:
            out.append(hd.sr.Measurement(name=name, value=number, unit=unit, derivation=derivation, method=method,
                                         algorithm_id=algorithm))

    for column, derivation in (("max", codes.SCT.Maximum), ("mean", codes.SCT.Mean),
                               ("peak", codes.DCM.PeakValueWithinROI), ("sd", codes.SCT.StandardDeviation)):
        add(quantity, row.get(f"suv_{column}"), unit, derivation, method)
    if with_sul:
        sul_quantity, sul_unit, sul_method = suv_quantity("lbm", lbm_formula)
        for column, derivation in (("max", codes.SCT.Maximum), ("mean", codes.SCT.Mean),
                                   ("peak", codes.DCM.PeakValueWithinROI), ("sd", codes.SCT.StandardDeviation)):
            add(sul_quantity, row.get(f"sul_{column}"), sul_unit, derivation, sul_method)
    add(codes.DCM.MetabolicVolume if tumour else codes.SCT.Volume, row.get("volume_ml"), UNIT_ML)
    if tumour:
        add(codes.DCM.TotalLesionGlycolysis, row.get("tlg"), UNIT_G)
    return out


def build_sr(sources: Sequence[pydicom.Dataset], seg: hd.seg.Segmentation, voiset: VoiSet, uptake: pd.DataFrame,
             *, subject: str, timepoint: str, timepoint_order: int, suv_kind: str, lbm_formula: str,
             sul: bool, activity: Mapping[str, Any]) -> hd.sr.Comprehensive3DSR:
    """The TID 1500 Measurement Report of one study: a volumetric group per segment of ``seg``, its values the
    ``uptake`` rows of the same VOI name.

    Parameters
    ----------
    activity : mapping
        ``tracer``, ``nuclide``, ``injected_dose_bq``, ``uptake_time_s``: the activity session, written as the
        report's text comments (TID 1500 has no slot for them).
    """
    rows = {str(r["name"]): r for r in uptake.to_dict(orient="records")}
    series = str(sources[0].SeriesInstanceUID)
    groups: list[_Group] = []
    for segment in seg.SegmentSequence:
        voi = next(v for v in voiset.vois if v.name[:64] == segment.SegmentLabel)
        row = rows.get(voi.name)
        if row is None:
            continue
        site = organ_code(voi.organ)
        tracking = hd.sr.TrackingIdentifier(uid=tracking_uid(subject, voi.name, voi.lesion_id),
                                            identifier=voi.name[:64])
        groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            referenced_segment=hd.sr.ReferencedSegment(
                sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID,
                segment_number=int(segment.SegmentNumber),
                source_series=hd.sr.SourceSeriesForSegmentation(series)),
            finding_type=codes.SCT.Neoplasm if voi.kind == "tumour" else (site or codes.SCT.Organ),
            finding_sites=[hd.sr.FindingSite(site)] if site is not None else None,
            time_point_context=hd.sr.TimePointContext(time_point=timepoint[:64], time_point_order=timepoint_order),
            session="1",
            measurements=_measurements(row, suv_kind, lbm_formula, voi.kind == "tumour", sul)))
    groups.append(_activity_group(activity, timepoint, timepoint_order))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=_uid("petvoi-device", __version__), name="petvoi", manufacturer_name=_MANUFACTURER,
            model_name=f"petvoi {__version__}"))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=PROCEDURE_PET, imaging_measurements=groups)
    digest = hashlib.sha256(uptake.to_csv(index=False).encode()).hexdigest()
    sr = hd.sr.Comprehensive3DSR(
        evidence=[*sources, seg], content=report, series_instance_uid=_uid(series, "sr-series", __version__),
        series_number=SERIES_NUMBERS["sr"], sop_instance_uid=_uid(series, "sr", digest, __version__),
        instance_number=1, manufacturer=_MANUFACTURER, is_complete=True, series_description="petvoi uptake")
    scheme = pydicom.Dataset()  # the private coding scheme of the radiopharmaceutical's name, declared
    scheme.CodingSchemeDesignator, scheme.CodingSchemeName = "99PETVOI", "petvoi local codes"
    scheme.CodingSchemeResponsibleOrganization = "petvoi"
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def _activity_group(activity: Mapping[str, Any], timepoint: str,
                    timepoint_order: int) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """The activity session (TID 1501 group ``activity session``): the radiopharmaceutical (its name, in petvoi's
    local coding scheme 99PETVOI), the radionuclide (SNOMED), the injected activity (MBq) and the uptake time (min)
    the SUVs were computed with."""
    measurements = []
    dose = _number(activity.get("injected_dose_bq"))
    if dose is not None:
        measurements.append(hd.sr.Measurement(name=codes.DCM.RadionuclideTotalDose, value=dose / 1e6,
                                              unit=hd.sr.CodedConcept("MBq", "UCUM", "megabecquerel")))
    uptake = _number(activity.get("uptake_time_s"))
    if uptake is not None:
        measurements.append(hd.sr.Measurement(name=codes.DCM.PETRadionuclideIncubationTime, value=uptake / 60.0,
                                              unit=hd.sr.CodedConcept("min", "UCUM", "minute")))
    evaluations = []
    tracer = str(activity.get("tracer") or "").strip()
    if tracer:  # free text in the PET header: a code of petvoi's local scheme (99PETVOI) carries it
        evaluations.append(hd.sr.QualitativeEvaluation(
            name=codes.DCM.Radiopharmaceutical,
            value=hd.sr.CodedConcept(hashlib.sha256(tracer.encode()).hexdigest()[:16], "99PETVOI", tracer[:64])))
    nuclide = activity.get("nuclide")
    if nuclide:
        from ..suv.nuclides import get_nuclide

        try:
            n = get_nuclide(str(nuclide))
        except KeyError:
            n = None
        if n is not None and n.code_sct:
            evaluations.append(hd.sr.QualitativeEvaluation(
                name=hd.sr.CodedConcept("89457008", "SCT", "Radionuclide"),
                value=hd.sr.CodedConcept(n.code_sct, "SCT", n.code_meaning)))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=_uid("activity-session", timepoint),
                                                     identifier="activity session"),
        time_point_context=hd.sr.TimePointContext(time_point=timepoint[:64], time_point_order=timepoint_order),
        session="1", measurements=measurements or None, qualitative_evaluations=evaluations or None)


def build_pm(sources: Sequence[pydicom.Dataset], suv: np.ndarray, *, suv_kind: str,
             lbm_formula: str) -> hd.pm.ParametricMap:
    """The SUV volume (z, y, x) as a float32 Parametric Map with a Real World Value Mapping in the SUV unit."""
    quantity, unit, _ = suv_quantity(suv_kind, lbm_formula)
    return _parametric_map(sources, suv, label=quantity.meaning, unit=unit, quantity=quantity,
                           explanation=f"{quantity.meaning} computed by petvoi {__version__}", key="pm",
                           content_label="SUV")


#: MRI maps (file stem -> label, UCUM unit); the Fp unit follows the reference's spelling, unchecked by a validator.
MRI_MAP_UNITS = {
    "ktrans_per_min": ("Ktrans", "/min", "per minute"), "ps_per_min": ("PS", "/min", "per minute"),
    "ve": ("ve", "1", "no units"), "vp": ("vp", "1", "no units"), "ivim_f": ("IVIM f", "1", "no units"),
    "fp_ml_per_100ml_per_min": ("Fp", "ml/(100.ml.min)", "milliliter per 100 milliliter per minute"),
    "ivim_d": ("IVIM D", "mm2/s", "square millimeter per second"),
    "ivim_dstar": ("IVIM D*", "mm2/s", "square millimeter per second"),
    "adc": ("ADC", "mm2/s", "square millimeter per second"),
    "dki_d": ("DKI D", "mm2/s", "square millimeter per second"),
    "dki_k": ("DKI K", "1", "no units"), "t1": ("T1", "s", "second"),
}


def build_mri_pm(sources: Sequence[pydicom.Dataset], values: np.ndarray, name: str) -> hd.pm.ParametricMap:
    """An MRI parameter map (a stem of :data:`MRI_MAP_UNITS`) as a float32 Parametric Map with its unit."""
    label, unit, meaning = MRI_MAP_UNITS[name]
    return _parametric_map(sources, values, label=label, unit=hd.sr.CodedConcept(unit, "UCUM", meaning),
                           quantity=None, explanation=f"{label} computed by petvoi {__version__}", key="mri",
                           content_label=name.upper()[:16])


def build_map_pm(sources: Sequence[pydicom.Dataset], values: np.ndarray, name: str) -> hd.pm.ParametricMap:
    """A kinetic parametric map (``logan_vt`` or ``patlak_ki``, (z, y, x), NaN outside the mask) as a float32
    Parametric Map with its unit (mL/mL, /min) in the Real World Value Mapping."""
    label, unit, explanation = MAP_UNITS[name]
    return _parametric_map(sources, values, label=label, unit=unit, quantity=None,
                           explanation=f"{explanation}, petvoi {__version__}", key=name,
                           content_label=name.upper().replace("_", ""))


def _parametric_map(sources: Sequence[pydicom.Dataset], data: np.ndarray, *, label: str, unit: Any,
                    quantity: Any, explanation: str, key: str, content_label: str) -> hd.pm.ParametricMap:
    values = np.asarray(data, dtype=np.float32)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    mapping = hd.pm.RealWorldValueMapping(
        lut_label=label[:16], lut_explanation=explanation[:64], unit=unit,
        value_range=(low, high if high > low else low + 1.0), slope=1.0, intercept=0.0, quantity_definition=quantity)
    digest = hashlib.sha256(values.tobytes()).hexdigest()
    series = str(sources[0].SeriesInstanceUID)
    # LINEAR_EXACT: a window narrower than 1 (Ktrans in /min, D in mm²/s) is permitted only with it
    window = hd.VOILUTTransformation(window_center=(low + high) / 2, window_width=max(high - low, 1e-6),
                                     voi_lut_function="LINEAR_EXACT")
    pm = hd.pm.ParametricMap(
        source_images=list(sources), pixel_array=values, series_instance_uid=_uid(series, f"{key}-series", __version__),
        series_number=SERIES_NUMBERS[key], sop_instance_uid=_uid(series, key, digest, __version__),
        instance_number=1, manufacturer=_MANUFACTURER, manufacturer_model_name=f"petvoi {key}",
        software_versions=__version__, device_serial_number="0", contains_recognizable_visual_features=False,
        real_world_value_mappings=[mapping], content_label=content_label[:16], content_description=label,
        voi_lut_transformations=[window], series_description=f"petvoi {label}")
    # General Series: Laterality is type 2C unless the body part is unpaired; say which part it is
    pm.BodyPartExamined = str(sources[0].get("BodyPartExamined") or "WHOLEBODY")[:16]
    return pm
