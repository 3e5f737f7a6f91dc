"""RT Structure Set writer: exact analytic cross-sections of every structure on the CT slices.

Each structure gets one ROI; on every CT slice plane z where the shape has a non-empty
cross-section, one CLOSED_PLANAR contour whose vertices lie exactly (to the 1e-4 mm of
the DS strings) on the analytic surface, referencing that CT image.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from .anatomy import Structure
from .dicom_common import SeriesHeader, StudyHeader, base_dataset, da_str, make_uid, tm_str, write_dataset
from .dicom_ct import CT_IMAGE_STORAGE
from .protocol import StudyPlan
from .raster import Grid

__all__ = ["RT_STRUCTURE_SET_STORAGE", "write_rtstruct", "write_structure_set", "contour_points"]

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
_STUDY_COMPONENT = "1.2.840.10008.3.1.2.3.1"  # referenced study SOP class (as PS3.3 prescribes)
_COLOURS = {"body": [200, 180, 150], "liver": [165, 80, 40], "spleen": [150, 40, 150], "kidney_left": [220, 160, 60],
            "kidney_right": [220, 160, 60], "aorta": [220, 30, 30], "muscle": [190, 100, 100],
            "bladder": [240, 230, 80]}
_LESION_COLOUR = [0, 200, 0]


def contour_points(structure: Structure) -> int:
    """Vertices per contour: 128 for the body, 64 otherwise."""
    return 128 if structure.kind == "body" else 64


def _image_ref(uid: str, sop_class_uid: str = CT_IMAGE_STORAGE) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = sop_class_uid
    ref.ReferencedSOPInstanceUID = uid
    return ref


def write_rtstruct(path: Path, study: StudyHeader, plan: StudyPlan, ct_grid: Grid, ct_uids: Sequence[str],
                   structures: Sequence[Structure]) -> Path:
    """Write the RTSTRUCT of one PET/CT study, contoured on its CT slices (:func:`write_structure_set`)."""
    series = SeriesHeader("RTSTRUCT", plan.rtstruct_series_uid, 3, "synthetic truth contours", plan.ct_start)
    sop_uid = make_uid(plan.seed, plan.subject.subject_id, plan.timepoint, "RTSTRUCT", 0)
    return write_structure_set(path, study, series, sop_uid, CT_IMAGE_STORAGE, plan.ct_series_uid, ct_grid, ct_uids,
                               structures)


def write_structure_set(path: Path, study: StudyHeader, series: SeriesHeader, sop_uid: str, image_class_uid: str,
                        image_series_uid: str, grid: Grid, image_uids: Sequence[str],
                        structures: Sequence[Structure]) -> Path:
    """Write an RT Structure Set of ``structures`` contoured on the slice planes of an axial image series.

    Parameters
    ----------
    path : Path
        Output file.
    study : StudyHeader
        Shared study values (its frame of reference is that of the images).
    series : SeriesHeader
        The structure set's series.
    sop_uid : str
        Its SOPInstanceUID.
    image_class_uid, image_series_uid : str
        SOP class and series of the images the contours lie on (CT; MR).
    grid : Grid
        The images' grid, whose slice planes carry the contours.
    image_uids : sequence of str
        The image SOPInstanceUID of each slice, ascending z.
    structures : sequence of Structure
        Structures in ROI order (ROI number = position + 1). A structure with no section on any slice plane
        is left out (an ROI without contours says nothing).

    Returns
    -------
    Path
    """
    when = series.series_datetime
    ds = base_dataset(RT_STRUCTURE_SET_STORAGE, study, series)
    ds.SOPInstanceUID = sop_uid
    ds.ManufacturerModelName = "petvoi synthetic phantom"
    ds.OperatorsName = ""
    ds.InstanceNumber = 1
    ds.StructureSetLabel = "TRUTH"
    ds.StructureSetDate, ds.StructureSetTime = da_str(when), tm_str(when)

    rt_series = Dataset()
    rt_series.SeriesInstanceUID = image_series_uid
    rt_series.ContourImageSequence = [_image_ref(uid, image_class_uid) for uid in image_uids]
    rt_study = Dataset()
    rt_study.ReferencedSOPClassUID = _STUDY_COMPONENT
    rt_study.ReferencedSOPInstanceUID = study.study_uid
    rt_study.RTReferencedSeriesSequence = [rt_series]
    frame = Dataset()
    frame.FrameOfReferenceUID = study.frame_of_reference_uid
    frame.RTReferencedStudySequence = [rt_study]
    ds.ReferencedFrameOfReferenceSequence = [frame]

    rois, contours, observations = [], [], []
    number = 0
    for structure in structures:
        items = []
        for z, uid in zip(grid.axis(2), image_uids, strict=True):
            polygon = structure.shape.section_polygon(float(z), contour_points(structure))
            if polygon is None:
                continue
            item = Dataset()
            item.ContourImageSequence = [_image_ref(uid, image_class_uid)]
            item.ContourGeometricType = "CLOSED_PLANAR"
            item.NumberOfContourPoints = len(polygon)
            # "%.4f" of |v| < 1e4 mm is always a valid DS: skip per-value validation (speed)
            item.add(DataElement(0x30060050, "DS", [f"{v:.4f}" for v in polygon.ravel()],
                                 validation_mode=config.IGNORE))
            items.append(item)
        if not items:
            continue
        number += 1
        roi = Dataset()
        roi.ROINumber = number
        roi.ReferencedFrameOfReferenceUID = study.frame_of_reference_uid
        roi.ROIName = structure.name
        roi.ROIGenerationAlgorithm = "AUTOMATIC"
        rois.append(roi)
        roi_contour = Dataset()
        roi_contour.ROIDisplayColor = _COLOURS.get(structure.name, _LESION_COLOUR)
        roi_contour.ContourSequence = items
        roi_contour.ReferencedROINumber = number
        contours.append(roi_contour)

        observation = Dataset()
        observation.ObservationNumber = number
        observation.ReferencedROINumber = number
        observation.RTROIInterpretedType = {"body": "EXTERNAL", "tumour": "GTV"}.get(structure.kind, "ORGAN")
        observation.ROIInterpreter = ""
        observations.append(observation)
    ds.StructureSetROISequence = rois
    ds.ROIContourSequence = contours
    ds.RTROIObservationsSequence = observations
    return write_dataset(ds, path)
