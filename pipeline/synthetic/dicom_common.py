"""Shared DICOM building blocks of the synthetic writers (PET, CT, RTSTRUCT).

Provides deterministic UIDs, value formatting (DS, DA, TM, DT), the modules every
instance shares (Patient, General Study, Patient Study, General Series, General
Equipment, Frame of Reference, SOP Common), the image-plane/pixel modules, and the
per-slice write loop used by both image writers. All date/time values are local
time at UTC+01:00 (``TimezoneOffsetFromUTC`` "+0100"), written without offset suffix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import format_number_as_ds

from ..io import atomic_path
from .raster import Grid

__all__ = [
    "TZ_OFFSET", "LOCAL_TZ", "make_uid", "ds_str", "ds_value", "da_str", "tm_str", "dt_str", "iso",
    "code_item", "StudyHeader", "SeriesHeader", "base_dataset", "image_series_template", "write_dataset",
    "write_slices",
]

TZ_OFFSET = "+0100"
LOCAL_TZ = timezone(timedelta(hours=1))
_IMPLEMENTATION_VERSION = "PETVOI_SYNTH_1"


def make_uid(*parts: object) -> str:
    """A UID derived deterministically from ``parts`` (seed, subject, role, index...).

    The parts are joined with a separator before hashing (pydicom concatenates its entropy sources,
    so ("1", "10") and ("11", "0") would otherwise give the same UID).
    """
    return generate_uid(entropy_srcs=["|".join(["petvoi.synthetic", *(str(p) for p in parts)])])


def ds_str(value: float) -> str:
    """Format a number as a valid DS string (at most 16 characters)."""
    return format_number_as_ds(float(value))


def ds_value(value: float) -> float:
    """The float a reader gets back from :func:`ds_str` (use it for exact truth)."""
    return float(ds_str(value))


def da_str(value: date) -> str:
    """DICOM DA (YYYYMMDD)."""
    return value.strftime("%Y%m%d")


def tm_str(value: datetime) -> str:
    """DICOM TM (HHMMSS or HHMMSS.ffffff)."""
    return value.strftime("%H%M%S.%f" if value.microsecond else "%H%M%S")


def dt_str(value: datetime) -> str:
    """DICOM DT of a naive local datetime (no offset suffix)."""
    return da_str(value) + tm_str(value)


def iso(value: datetime) -> str:
    """ISO 8601 with the explicit +01:00 offset of a naive local datetime."""
    return value.replace(tzinfo=LOCAL_TZ).isoformat()


def code_item(value: str, scheme: str, meaning: str) -> Dataset:
    """A code sequence item (CodeValue, CodingSchemeDesignator, CodeMeaning)."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


@dataclass(frozen=True)
class StudyHeader:
    """Patient, study, equipment and frame-of-reference values shared by a study.

    Attributes
    ----------
    patient_name, patient_id : str
        PatientName and pseudonymous PatientID.
    birth_date : date
        PatientBirthDate.
    sex : str
        ``M`` or ``F``.
    weight_kg, height_m : float
        PatientWeight (kg) and PatientSize (m), already DS-exact.
    study_uid, frame_of_reference_uid : str
        UIDs of the study and its frame of reference.
    study_datetime : datetime
        StudyDate/Time (local).
    study_id, accession_number, description : str
        StudyID, AccessionNumber, StudyDescription.
    manufacturer, model, software : str
        General Equipment.
    """

    patient_name: str
    patient_id: str
    birth_date: date
    sex: str
    weight_kg: float
    height_m: float
    study_uid: str
    frame_of_reference_uid: str
    study_datetime: datetime
    study_id: str
    accession_number: str
    description: str
    manufacturer: str
    model: str
    software: str


@dataclass(frozen=True)
class SeriesHeader:
    """General Series values.

    Attributes
    ----------
    modality : str
        PT, CT or RTSTRUCT.
    series_uid : str
        SeriesInstanceUID.
    number : int
        SeriesNumber.
    description : str
        SeriesDescription.
    series_datetime : datetime
        SeriesDate/Time (local).
    """

    modality: str
    series_uid: str
    number: int
    description: str
    series_datetime: datetime


def _age(birth: date, on: date) -> str:
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    return f"{years:03d}Y"


def base_dataset(sop_class_uid: str, study: StudyHeader, series: SeriesHeader) -> Dataset:
    """A dataset with the modules every synthetic instance shares.

    Parameters
    ----------
    sop_class_uid : str
        SOP Class UID of the instances.
    study : StudyHeader
        Patient/study/equipment values.
    series : SeriesHeader
        Series values.

    Returns
    -------
    Dataset
        With file meta (Explicit VR Little Endian); SOPInstanceUID still to be set.
    """
    ds = Dataset()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = pydicom.uid.PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = _IMPLEMENTATION_VERSION
    ds.file_meta = meta
    # SOP Common
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.InstanceCreationDate = da_str(series.series_datetime)
    ds.InstanceCreationTime = tm_str(series.series_datetime)
    ds.SOPClassUID = sop_class_uid
    ds.TimezoneOffsetFromUTC = TZ_OFFSET
    # General Study
    ds.StudyDate = da_str(study.study_datetime)
    ds.StudyTime = tm_str(study.study_datetime)
    ds.AccessionNumber = study.accession_number
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = study.description
    ds.StudyInstanceUID = study.study_uid
    ds.StudyID = study.study_id
    # General Series
    ds.SeriesDate = da_str(series.series_datetime)
    ds.SeriesTime = tm_str(series.series_datetime)
    ds.Modality = series.modality
    ds.SeriesDescription = series.description
    ds.SeriesInstanceUID = series.series_uid
    ds.SeriesNumber = series.number
    # Frame of Reference (the RTSTRUCT's is that of the images it was drawn on)
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    # General Equipment
    ds.Manufacturer = study.manufacturer
    ds.InstitutionName = "Synthetic Trial Site"
    ds.ManufacturerModelName = study.model
    ds.SoftwareVersions = study.software
    # Patient, Patient Study
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = da_str(study.birth_date)
    ds.PatientSex = study.sex
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic data (petvoi synth)"
    ds.PatientAge = _age(study.birth_date, study.study_datetime.date())
    ds.PatientSize = ds_str(study.height_m)
    ds.PatientWeight = ds_str(study.weight_kg)
    return ds


def image_series_template(sop_class_uid: str, study: StudyHeader, series: SeriesHeader, grid: Grid,
                          signed: bool, bits_stored: int, content: datetime, acquisition: datetime,
                          image_type: list[str]) -> Dataset:
    """A dataset with every module an axial image series (PET or CT) of the study shares.

    Adds General Image, Frame of Reference, Image Plane and Image Pixel to
    :func:`base_dataset`; position, instance number, slope and pixels are per slice
    (:func:`write_slices`).

    Parameters
    ----------
    sop_class_uid : str
        PET or CT Image Storage.
    study, series : StudyHeader, SeriesHeader
        Shared values.
    grid : Grid
        Axial grid (Rows = n_y, Columns = n_x).
    signed : bool
        PixelRepresentation 1 (int16) or 0 (uint16).
    bits_stored : int
        BitsStored (HighBit = BitsStored - 1).
    content, acquisition : datetime
        ContentDate/Time and (first) AcquisitionDate/Time.
    image_type : list of str
        ImageType values.
    """
    ds = base_dataset(sop_class_uid, study, series)
    ds.ImageType = image_type
    ds.ContentDate, ds.ContentTime = da_str(content), tm_str(content)
    ds.AcquisitionDate, ds.AcquisitionTime = da_str(acquisition), tm_str(acquisition)
    ds.AcquisitionDateTime = dt_str(acquisition)
    ds.AcquisitionNumber = 1
    ds.PatientPosition = "HFS"
    ds.BodyPartExamined = "WHOLEBODY"  # unpaired: Laterality absent
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    n_z, n_y, n_x = grid.shape
    dz, dy, dx = grid.spacing
    ds.ReconstructionDiameter = ds_str(n_x * dx)
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [ds_str(dy), ds_str(dx)]
    ds.SliceThickness = ds_str(dz)
    ds.SpacingBetweenSlices = ds_str(dz)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = n_y
    ds.Columns = n_x
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"
    return ds


def write_dataset(ds: Dataset, path: Path) -> Path:
    """Write ``ds`` as a DICOM Part 10 file atomically (Explicit VR Little Endian)."""
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path


def write_slices(
    ds: Dataset,
    grid: Grid,
    stored: NDArray[np.integer],
    out_dir: Path,
    prefix: str,
    sop_uids: Iterable[str],
    per_slice: Callable[[Dataset, int], None] | None = None,
) -> list[Path]:
    """Write one instance per axial slice, ascending z, reusing ``ds`` as the template.

    Parameters
    ----------
    ds : Dataset
        Series template (see :func:`image_series_template`).
    grid : Grid
        Grid of ``stored``.
    stored : ndarray, shape (z, y, x)
        Stored pixel values, int16 or uint16 matching PixelRepresentation.
    out_dir : Path
        Folder of the series files.
    prefix : str
        File-name prefix (``PT`` -> ``PT_0001.dcm``).
    sop_uids : iterable of str
        SOPInstanceUID per slice.
    per_slice : callable, optional
        ``per_slice(ds, k)`` sets slice-specific attributes (slope, timing...).

    Returns
    -------
    list of Path
        Written files in slice order.
    """
    dtype = "<i2" if ds.PixelRepresentation == 1 else "<u2"
    x0, y0 = grid.origin[0], grid.origin[1]
    paths = []
    for k, (z, uid) in enumerate(zip(grid.axis(2), sop_uids, strict=True)):
        ds.SOPInstanceUID = uid
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [ds_str(x0), ds_str(y0), ds_str(z)]
        ds.SliceLocation = ds_str(z)
        if per_slice is not None:
            per_slice(ds, k)
        ds.PixelData = np.ascontiguousarray(stored[k], dtype=dtype).tobytes()
        paths.append(write_dataset(ds, out_dir / f"{prefix}_{k + 1:04d}.dcm"))
    return paths
