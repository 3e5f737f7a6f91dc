"""Series-level PET attributes for SUV: read once, checked for consistency across instances (rule R33).

Reads what SUV needs from the instance headers of one series (pixels not loaded):
standard attributes (top level, or the shared functional groups of a Legacy Converted
Enhanced PET instance), the Radiopharmaceutical Information Sequence, and the vendor
private attributes resolved through their private creators (Philips PET Private Group,
GEMS_PETD_01, SIEMENS MED PT). Nothing here decides anything about SUV; it only parses
and names attributes so that every error can say which one is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timezone
from pathlib import Path
from typing import Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.tag import Tag

from ..dicom.datetimes import combine, has_time_of_day, parse_dt, parse_offset, parse_tm
from ..errors import DicomError
from .options import Notes

__all__ = [
    "PHILIPS_CREATOR",
    "GE_CREATOR",
    "SIEMENS_CREATOR",
    "ENHANCED_PET_SOP_CLASS",
    "PrivateTag",
    "PHILIPS_SSF",
    "PHILIPS_ACSF",
    "GE_SCAN_DATETIME",
    "GE_ADMIN_DATETIME",
    "SIEMENS_DECAY_DATETIME",
    "label",
    "find",
    "instance_name",
    "SeriesHeader",
    "read_series_header",
    "warn_positional",
]

PHILIPS_CREATOR = "Philips PET Private Group"
GE_CREATOR = "GEMS_PETD_01"
SIEMENS_CREATOR = "SIEMENS MED PT"
ENHANCED_PET_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.130"


@dataclass(frozen=True)
class PrivateTag:
    """A vendor private attribute: group, element offset in its block, creator, name, vendor prefix."""

    group: int
    offset: int
    creator: str
    name: str
    manufacturer: str  # Manufacturer (0008,0070) prefix that allows reading it without its creator

    @property
    def label(self) -> str:
        """E.g. ``SUV Scale Factor (7053,1000) [Philips PET Private Group]``."""
        return f"{self.name} ({self.group:04X},10{self.offset:02X}) [{self.creator}]"


PHILIPS_SSF = PrivateTag(0x7053, 0x00, PHILIPS_CREATOR, "SUV Scale Factor", "PHILIPS")
PHILIPS_ACSF = PrivateTag(0x7053, 0x09, PHILIPS_CREATOR, "Activity Concentration Scale Factor", "PHILIPS")
GE_SCAN_DATETIME = PrivateTag(0x0009, 0x0D, GE_CREATOR, "GE scan_datetime", "GE")
GE_ADMIN_DATETIME = PrivateTag(0x0009, 0x3B, GE_CREATOR, "GE admin_datetime", "GE")
SIEMENS_DECAY_DATETIME = PrivateTag(0x0071, 0x22, SIEMENS_CREATOR, "Siemens Decay Correction DateTime", "SIEMENS")


def label(keyword: str) -> str:
    """``"PatientWeight (0010,1030)"`` for a DICOM keyword."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        return keyword
    t = Tag(tag)
    return f"{keyword} ({t.group:04X},{t.element:04X})"


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (str, bytes)) and not value.strip()) or \
        (isinstance(value, (list, tuple, pydicom.multival.MultiValue, pydicom.Sequence)) and len(value) == 0)


def find(ds: pydicom.Dataset, keyword: str) -> Any:
    """Value of a standard attribute, top level first, else in the shared functional groups.

    Legacy Converted Enhanced PET keeps many classic attributes in items of the
    SharedFunctionalGroupsSequence (e.g. the Unassigned Shared Converted Attributes).
    Empty values are returned as None.
    """
    if keyword in ds:
        value = ds[keyword].value
        return None if _empty(value) else value
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        for elem in shared[0]:
            if elem.VR == "SQ" and elem.value and keyword in elem.value[0]:
                value = elem.value[0][keyword].value
                return None if _empty(value) else value
    return None


def instance_name(ds: pydicom.Dataset) -> str:
    """File name of an instance, or its SOPInstanceUID when it was not read from a file."""
    filename = getattr(ds, "filename", None)
    if isinstance(filename, (str, Path)) and str(filename):
        return Path(filename).name
    return str(ds.get("SOPInstanceUID", "instance"))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    text = str(value).replace("\x00", "").strip()
    return text or None


def _private(ds: pydicom.Dataset, tag: PrivateTag) -> tuple[Any, bool]:
    """Value of a private attribute and whether it was read by position (no private creator).

    Resolved through the creator block. Only when the group has no private creator at all
    (e.g. IBSI DROs) and the Manufacturer matches the vendor is the conventional element
    ``(gggg,10xx)`` read by position; the caller must warn about that.
    """
    # one pass over the data set's tags (cheaper than pydicom's private_block/slicing on 400 headers)
    creators = {int(k) & 0xFF: k for k in ds.keys() if k.group == tag.group and 0x10 <= k.element <= 0xFF}
    for block, key in creators.items():
        if (_text(ds[key].value) or "") == tag.creator:
            element = Tag(tag.group, (block << 8) | tag.offset)
            return (ds[element].value if element in ds else None), False
    manufacturer = (_text(ds.get("Manufacturer")) or "").upper()
    element = Tag(tag.group, 0x1000 + tag.offset)
    if not creators and manufacturer.startswith(tag.manufacturer) and element in ds:
        return ds[element].value, True
    return None, False


def _number(value: Any, attribute: str, source: str) -> float | None:
    text = _text(value) if not isinstance(value, (int, float)) else value
    if text is None:
        return None
    try:
        return float(text)
    except (TypeError, ValueError):
        raise DicomError(f"not a number: {text!r}", source=source, attribute=attribute,
                         remedy="correct the header value") from None


def _datetime(value: Any, attribute: str, source: str, tz: timezone | None,
              date_only: list[tuple[str, str]] | None = None) -> datetime | None:
    """A DT value as a datetime; a value without hours and minutes is no time of day.

    Such a value (``20240101``, ``2024010109``) would read as midnight or the full hour. It is
    returned as None and, when ``date_only`` is given, listed there as ``(attribute, text)``.
    """
    text = _text(value)
    try:
        parsed = parse_dt(text, tz)
    except ValueError:
        raise DicomError(f"not a DICOM datetime: {value!r}", source=source, attribute=attribute,
                         remedy="correct the header value") from None
    if parsed is not None and text is not None and not has_time_of_day(text):
        if date_only is not None:
            date_only.append((attribute, text))
        return None
    return parsed


@dataclass(frozen=True)
class SeriesHeader:
    """What SUV needs from the series-level attributes (raw, before heuristics).

    Attributes
    ----------
    source : str
        Series folder or name (for messages).
    instance : str
        File name of the first instance.
    sop_class_uid, manufacturer : str or None
        SOPClassUID (0008,0016), Manufacturer (0008,0070).
    units, suv_type, decay_correction : str or None
        Units (0054,1001), SUVType (0054,1006), DecayCorrection (0054,1102), upper case.
    corrected_image : tuple of str or None
        CorrectedImage (0028,0051) values, upper case.
    tz : datetime.timezone or None
        TimezoneOffsetFromUTC (0008,0201).
    series_datetime : datetime or None
        SeriesDate + SeriesTime (0008,0021/0031).
    weight_kg, size_m : float or None
        PatientWeight (0010,1030) and PatientSize (0010,1020) as written.
    sex : str or None
        PatientSex (0010,0040), upper case.
    dose_bq, half_life_s : float or None
        RadionuclideTotalDose (0018,1074), RadionuclideHalfLife (0018,1075) as written.
    start_datetime : datetime or None
        RadiopharmaceuticalStartDateTime (0018,1078).
    start_time : datetime.time or None
        RadiopharmaceuticalStartTime (0018,1072).
    code_value, code_meaning : str or None
        First item of RadionuclideCodeSequence (0054,0300).
    philips_ssf, philips_acsf : float or None
        Philips SUV Scale Factor (7053,1000) and Activity Concentration Scale Factor (7053,1009).
    ge_scan_datetime, ge_admin_datetime, siemens_decay_datetime : datetime or None
        Vendor private reference and administration datetimes.
    decay_correction_datetime : datetime or None
        Decay Correction DateTime (0018,9701).
    positional : tuple of str
        Labels of private attributes read without their private creator.
    voxel_volume_ml : float or None
        PixelSpacing x SliceThickness (or SpacingBetweenSlices), mL.
    model, series_description : str or None
        ManufacturerModelName (0008,1090), SeriesDescription (0008,103E): to tell SPECT stored as PT.
    date_only : tuple of (str, str)
        Datetime attributes written without a time of day (label, value as written): read as
        missing, never as midnight.
    """

    source: str
    instance: str
    sop_class_uid: str | None
    manufacturer: str | None
    units: str | None
    suv_type: str | None
    decay_correction: str | None
    corrected_image: tuple[str, ...] | None
    tz: timezone | None
    series_datetime: datetime | None
    weight_kg: float | None
    size_m: float | None
    sex: str | None
    dose_bq: float | None
    half_life_s: float | None
    start_datetime: datetime | None
    start_time: time | None
    code_value: str | None
    code_meaning: str | None
    philips_ssf: float | None
    philips_acsf: float | None
    ge_scan_datetime: datetime | None
    ge_admin_datetime: datetime | None
    siemens_decay_datetime: datetime | None
    decay_correction_datetime: datetime | None
    positional: tuple[str, ...]
    voxel_volume_ml: float | None
    date_only: tuple[tuple[str, str], ...] = ()
    model: str | None = None
    series_description: str | None = None

    def date_only_value(self, attribute: str) -> str | None:
        """The value as written of ``attribute`` (a label) when it had a date but no time of day."""
        return next((text for name, text in self.date_only if name == attribute), None)


def _rp_item(ds: pydicom.Dataset) -> pydicom.Dataset:
    seq = find(ds, "RadiopharmaceuticalInformationSequence")
    return seq[0] if seq else pydicom.Dataset()


def _code_item(rp: pydicom.Dataset) -> pydicom.Dataset:
    seq = rp.get("RadionuclideCodeSequence")
    return seq[0] if seq else pydicom.Dataset()


#: Attributes that must be identical in every instance of a series (R33), with how to read them.
_NUMERIC = ("PatientWeight", "PatientSize", "RadionuclideTotalDose", "RadionuclideHalfLife")
_TEXT = ("SeriesInstanceUID", "Units", "DecayCorrection", "SUVType", "PatientSex", "SeriesDate", "SeriesTime",
         "TimezoneOffsetFromUTC", "RadiopharmaceuticalStartTime", "RadiopharmaceuticalStartDateTime")
_RP_KEYWORDS = {"RadionuclideTotalDose", "RadionuclideHalfLife", "RadiopharmaceuticalStartTime",
                "RadiopharmaceuticalStartDateTime"}


def _signature(ds: pydicom.Dataset, source: str) -> dict[str, Any]:
    rp = _rp_item(ds)
    sig: dict[str, Any] = {}
    for kw in _NUMERIC + _TEXT:
        raw = rp.get(kw) if kw in _RP_KEYWORDS else find(ds, kw)
        if kw in _NUMERIC:
            sig[label(kw)] = _number(raw, label(kw), source)
        else:
            sig[label(kw)] = (_text(raw) or "").upper() or None
    corrected = find(ds, "CorrectedImage")
    sig[label("CorrectedImage")] = None if corrected is None else tuple(sorted(
        {str(v).strip().upper() for v in (corrected if isinstance(corrected, (list, tuple,
                                          pydicom.multival.MultiValue)) else [corrected])}))
    for tag in (PHILIPS_SSF, PHILIPS_ACSF, GE_SCAN_DATETIME):
        sig[tag.label] = _text(_private(ds, tag)[0])
    return sig


#: Top-level attributes whose encoded bytes decide a fast "same as the first instance" check (R33).
_RAW_KEYS = tuple(Tag(kw) for kw in (*(k for k in _NUMERIC + _TEXT if k not in _RP_KEYWORDS), "CorrectedImage",
                                     "RadiopharmaceuticalInformationSequence"))


def _raw_key(ds: pydicom.Dataset) -> tuple[Any, ...] | None:
    """Encoded values of the R33 attributes, compared without parsing (None: not comparable this way).

    Reading raw elements avoids converting ~15 values per instance; instances whose bytes equal
    the first instance's need no parsed comparison. Private groups are always compared parsed.
    """
    if "SharedFunctionalGroupsSequence" in ds:
        return None
    values: list[bytes | str | None] = []
    for tag in _RAW_KEYS:
        if tag not in ds:
            values.append(None)
            continue
        elem = ds.get_item(tag)
        values.append(elem.value if isinstance(elem.value, bytes) else repr(elem.value))
    return tuple(values)


def _private_signature(ds: pydicom.Dataset) -> tuple[str | None, ...]:
    return tuple(_text(_private(ds, tag)[0]) for tag in (PHILIPS_SSF, PHILIPS_ACSF, GE_SCAN_DATETIME))


def read_series_header(headers: Sequence[pydicom.Dataset], source: str) -> SeriesHeader:
    """Parse the SUV-relevant series attributes and check they agree across instances.

    Parameters
    ----------
    headers : sequence of pydicom.Dataset
        One header per instance of the series.
    source : str
        Series folder or name, for messages.

    Returns
    -------
    SeriesHeader

    Raises
    ------
    DicomError
        When an attribute of rule R33 differs between instances, a value cannot be parsed,
        or the instance is an Enhanced PET image (rule R34, not supported).
    """
    if not headers:
        raise DicomError("no instance headers", source=source, remedy="give a folder holding one PET series")
    first = headers[0]
    ref_raw, ref_private = _raw_key(first), _private_signature(first)  # before parsing converts the values
    ref = _signature(first, source)
    for ds in headers[1:]:
        if ref_raw is not None and _raw_key(ds) == ref_raw and _private_signature(ds) == ref_private:
            continue  # byte-identical R33 attributes: nothing can differ
        sig = _signature(ds, source)
        for key, value in ref.items():
            if sig[key] != value:
                raise DicomError(
                    f"differs between instances of the series ({value!r} in {instance_name(first)}, "
                    f"{sig[key]!r} in {instance_name(ds)}) (R33)", source=source, attribute=key,
                    remedy="the folder mixes series or acquisitions; split it or correct the headers")
    sop_class = _text(find(first, "SOPClassUID")) or _text(getattr(first, "file_meta", {}).get(
        "MediaStorageSOPClassUID") if hasattr(first, "file_meta") else None)
    if sop_class == ENHANCED_PET_SOP_CLASS:
        from ..dicom.enhanced_pet import mapping_record

        mapping_record(first)  # R34: units only from a Real World Value Mapping in Bq/ml or SUVbw (else refused)
    try:
        tz = parse_offset(_text(find(first, "TimezoneOffsetFromUTC")))
    except ValueError:
        raise DicomError(f"not a UTC offset: {find(first, 'TimezoneOffsetFromUTC')!r}", source=source,
                         attribute=label("TimezoneOffsetFromUTC"), remedy="correct or remove the value") from None
    rp = _rp_item(first)
    code = _code_item(rp)
    try:
        series_dt = combine(_text(find(first, "SeriesDate")), _text(find(first, "SeriesTime")), tz)
    except ValueError:
        raise DicomError("SeriesDate/SeriesTime cannot be parsed", source=source,
                         attribute=f"{label('SeriesDate')}/{label('SeriesTime')}",
                         remedy="correct the header values") from None
    try:
        start_time = parse_tm(_text(rp.get("RadiopharmaceuticalStartTime")))
    except ValueError:
        raise DicomError(f"not a DICOM time: {rp.get('RadiopharmaceuticalStartTime')!r}", source=source,
                         attribute=label("RadiopharmaceuticalStartTime"), remedy="correct the header value") from None
    privates: dict[PrivateTag, Any] = {}
    positional = []
    for tag in (PHILIPS_SSF, PHILIPS_ACSF, GE_SCAN_DATETIME, GE_ADMIN_DATETIME, SIEMENS_DECAY_DATETIME):
        value, by_position = _private(first, tag)
        privates[tag] = value
        if by_position:
            positional.append(tag.label)
    corrected = ref[label("CorrectedImage")]
    spacing = find(first, "PixelSpacing")
    thickness = _number(find(first, "SpacingBetweenSlices") or find(first, "SliceThickness"),
                        label("SliceThickness"), source)
    date_only: list[tuple[str, str]] = []
    voxel_ml = None
    if spacing is not None and len(spacing) == 2 and thickness:
        voxel_ml = float(spacing[0]) * float(spacing[1]) * thickness / 1000.0
    return SeriesHeader(
        source=source,
        instance=instance_name(first),
        sop_class_uid=sop_class,
        manufacturer=_text(find(first, "Manufacturer")),
        units=ref[label("Units")],
        suv_type=ref[label("SUVType")],
        decay_correction=ref[label("DecayCorrection")],
        corrected_image=corrected,
        tz=tz,
        series_datetime=series_dt,
        weight_kg=ref[label("PatientWeight")],
        size_m=ref[label("PatientSize")],
        sex=ref[label("PatientSex")],
        dose_bq=ref[label("RadionuclideTotalDose")],
        half_life_s=ref[label("RadionuclideHalfLife")],
        start_datetime=_datetime(rp.get("RadiopharmaceuticalStartDateTime"),
                                 label("RadiopharmaceuticalStartDateTime"), source, tz, date_only),
        start_time=start_time,
        code_value=_text(code.get("CodeValue")),
        code_meaning=_text(code.get("CodeMeaning")),
        philips_ssf=_number(privates[PHILIPS_SSF], PHILIPS_SSF.label, source),
        philips_acsf=_number(privates[PHILIPS_ACSF], PHILIPS_ACSF.label, source),
        ge_scan_datetime=_datetime(privates[GE_SCAN_DATETIME], GE_SCAN_DATETIME.label, source, tz, date_only),
        ge_admin_datetime=_datetime(privates[GE_ADMIN_DATETIME], GE_ADMIN_DATETIME.label, source, tz, date_only),
        siemens_decay_datetime=_datetime(privates[SIEMENS_DECAY_DATETIME], SIEMENS_DECAY_DATETIME.label, source,
                                         tz, date_only),
        decay_correction_datetime=_datetime(find(first, "DecayCorrectionDateTime"),
                                            label("DecayCorrectionDateTime"), source, tz, date_only),
        positional=tuple(positional),
        voxel_volume_ml=voxel_ml,
        date_only=tuple(date_only),
        model=_text(find(first, "ManufacturerModelName")),
        series_description=_text(find(first, "SeriesDescription")),
    )


def warn_positional(header: SeriesHeader, tag: PrivateTag, notes: Notes) -> None:
    """Fallback warning (refused in strict mode) when ``tag``, about to be used, had no private creator."""
    if tag.label in header.positional:
        notes.fallback(f"{tag.label} has no private creator: read by position because Manufacturer is "
                       f"{header.manufacturer!r}", attribute=tag.label,
                       remedy="keep the private creator elements when de-identifying")
