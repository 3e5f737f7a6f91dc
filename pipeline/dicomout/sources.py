"""The source PET instances a DICOM output references, in the slice order of petvoi's volumes.

highdicom copies the patient, study and frame-of-reference attributes of the source images into a SEG, SR or
Parametric Map, and references each source instance. In a de-identified run (``petvoi --deidentify``) the
sources are copies with the subject's sample-sheet id for name and ID, no birth date, accession number or
institution, pseudonymised UIDs and shifted dates (:mod:`pipeline.deid`): the outputs then refer to the
de-identified PET petvoi's other outputs describe, not to the archive's.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom

from ..deid import Deidentifier
from ..dicom.geometry import Geometry
from ..errors import DicomError, InvalidInputError

__all__ = ["series_sources", "deidentified_sources", "PET_SOP_CLASS"]

PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.128"
#: Patient and study attributes of type 2 that highdicom copies from the sources.
_TYPE2 = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID", "StudyDate",
          "StudyTime", "ReferringPhysicianName")
#: Attributes a de-identified source keeps empty (type 2) or loses (type 3).
_EMPTIED = ("PatientBirthDate", "AccessionNumber", "ReferringPhysicianName", "StudyID")
_REMOVED = ("OtherPatientIDs", "OtherPatientIDsSequence", "OtherPatientNames", "InstitutionName",
            "InstitutionAddress", "InstitutionalDepartmentName", "PerformingPhysicianName", "OperatorsName",
            "StationName", "DeviceSerialNumber", "PatientAddress", "PatientTelephoneNumbers", "PatientBirthTime",
            "PatientMotherBirthName", "MilitaryRank", "EthnicGroup", "PhysiciansOfRecord", "RequestingPhysician",
            "PatientComments", "AdditionalPatientHistory")


def _start(ds: pydicom.Dataset) -> tuple[str, float, int]:
    """When an instance's frame started (for the first time frame of a dynamic series)."""
    when = str(ds.get("AcquisitionDateTime") or f"{ds.get('AcquisitionDate', '')}{ds.get('AcquisitionTime', '')}")
    return when, float(ds.get("FrameReferenceTime") or 0.0), int(ds.get("InstanceNumber") or 0)


def series_sources(series_dir: Path, geometry: Geometry, *, first_frame: bool = False,
                   sop_classes: tuple[str, ...] = (PET_SOP_CLASS,)) -> list[pydicom.Dataset]:
    """The headers of a static series (PET by default), one per slice of ``geometry`` (petvoi's z order); with
    ``first_frame``, of a dynamic series the instances of its first time frame (a parametric map's sources).

    Parameters
    ----------
    series_dir : Path
        The PET series folder the SUV volume was decoded from.
    geometry : Geometry
        The grid of ``suv.nii.gz``.
    sop_classes : tuple of str
        The SOP classes accepted (PET Image Storage; the MR ones for an MR map's sources).

    Raises
    ------
    DicomError
        A file that is not a PET image of the series, a slice off the grid, two instances on one slice (a
        dynamic series: not exported) or a slice without an instance.
    """
    if not series_dir.is_dir():
        raise InvalidInputError("not a folder", source=str(series_dir), remedy="give the PET series folder")
    by_slice: dict[int, pydicom.Dataset] = {}
    series_uid = None
    for f in sorted(p for p in series_dir.iterdir() if p.is_file() and not p.name.startswith(".")):
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True, force=True)
        except Exception as exc:  # noqa: BLE001 - any parse failure, named with its file
            raise DicomError(f"cannot be read ({type(exc).__name__})", source=str(f),
                             remedy="give the PET series the SUV was computed from") from None
        if str(ds.get("SOPClassUID", "")) not in sop_classes:
            raise DicomError(f"not an image of the expected kind (SOPClassUID {ds.get('SOPClassUID', '')})",
                             source=str(f), attribute="SOPClassUID (0008,0016)",
                             remedy="give the folder of the PET series alone")
        if series_uid is None:
            series_uid = str(ds.SeriesInstanceUID)
        elif str(ds.SeriesInstanceUID) != series_uid:
            raise DicomError("a second series in the folder", source=str(f),
                             attribute="SeriesInstanceUID (0020,000E)", remedy="give the folder of one PET series")
        z = float(geometry.lps_to_index(np.asarray(ds.ImagePositionPatient, dtype=float))[2])
        k = int(round(z))
        if abs(z - k) > 0.01 or not 0 <= k < geometry.shape[0]:
            raise DicomError(f"slice at index {z:.3f} is not on the grid of the SUV volume", source=str(f),
                             attribute="ImagePositionPatient (0020,0032)",
                             remedy="export with the series the SUV volume was computed from")
        if k in by_slice and first_frame:
            if _start(ds) < _start(by_slice[k]):
                by_slice[k] = ds
            continue
        if k in by_slice:
            raise DicomError("two instances on one slice: a dynamic series (its DICOM outputs are not written)",
                             source=str(f), attribute="ImagePositionPatient (0020,0032)",
                             remedy="export static studies only")
        by_slice[k] = ds
    for source in by_slice.values():  # type 2 attributes highdicom copies: present, empty when the source lacks them
        for keyword in _TYPE2:
            if keyword not in source:
                setattr(source, keyword, "")
    missing = [k for k in range(geometry.shape[0]) if k not in by_slice]
    if missing:
        raise DicomError(f"{len(missing)} of {geometry.shape[0]} slices have no instance (first: {missing[0]})",
                         source=str(series_dir), remedy="give the complete PET series")
    return [by_slice[k] for k in range(geometry.shape[0])]


def deidentified_sources(sources: list[pydicom.Dataset], deid: Deidentifier,
                         subject: str | None) -> list[pydicom.Dataset]:
    """Copies of ``sources`` without identity: name and ID the subject's, UIDs pseudonymised, dates shifted.

    Raises
    ------
    InvalidInputError
        No subject (given, or the command's ``--as-subject``): the dates cannot be shifted.
    """
    deid.offset(subject)  # refused, with the --as-subject remedy, when no subject is known
    who = subject or str(deid.subject)
    out = []
    for ds in sources:
        c = copy.deepcopy(ds)
        c.PatientName = who
        c.PatientID = who
        for keyword in _EMPTIED:
            if keyword in c:
                setattr(c, keyword, "")
        for keyword in _REMOVED:
            if keyword in c:
                delattr(c, keyword)
        for element in c.iterall():
            if element.value in (None, "") or element.VM != 1:
                continue
            if element.VR == "UI":
                element.value = deid.uid(str(element.value))
            elif element.VR in ("DA", "DT"):
                element.value = deid.dicom_datetime(str(element.value), who)
        if hasattr(c, "file_meta") and "MediaStorageSOPInstanceUID" in c.file_meta:
            c.file_meta.MediaStorageSOPInstanceUID = c.SOPInstanceUID
        out.append(c)
    return out
