"""DICOM Segmentation (SEG) objects as VOI sets on the PET grid, read through highdicom.

One VOI per segment, in segment-number order:

* **name**: SegmentLabel (0062,0005); ``segment_<n>`` when empty.
* **kind, organ, lesion id**: :func:`pipeline.voi.catalogue.classify` on the label. The segment's
  coded description is a hint: a SegmentedPropertyCategory "Morphologically abnormal structure"
  (SCT 49755003) or a SegmentedPropertyType naming a neoplasm, tumour, lesion, mass or metastasis
  makes an otherwise unmatched label a tumour (as RTROIInterpretedType GTV does for RTSTRUCT);
  when the label matches no name rule but the SegmentedPropertyType's meaning does (label
  ``Segment_1``, type ``Liver``), the type's meaning is classified instead.
* **source**: ``seg:segment=<n>``.

Segmentation types
------------------
BINARY and LABELMAP segments are used as stored. For **FRACTIONAL** segments (PROBABILITY or
OCCUPANCY alike) a voxel belongs to the VOI when its stored value is **at least half the
MaximumFractionalValue** (0062,000E), i.e. probability or occupancy >= 0.5; the rule is written
into the provenance.

Grids
-----
highdicom assembles each segment into a volume from the per-frame positions (frames left out
because they were empty are filled with zeros). That volume is put on the PET grid by
:func:`pipeline.voi.masks.map_to_grid`: exactly when it lies on the PET lattice (the usual case
for a SEG drawn on the PET, even though empty slices at both ends are omitted and highdicom may
order slices the other way); otherwise (a SEG drawn on the CT) only when the policy's ``voi.resample`` is ``warn``, by
nearest-neighbour resampling with SimpleITK after binarisation, which each VOI records as a
warning. A SEG in another frame of reference than the PET is always refused: petvoi does not
register images.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pydicom

from ..dicom.geometry import Geometry
from ..errors import DicomError, InvalidInputError
from ..policy import Policy
from .catalogue import Voi, VoiSet
from .masks import map_to_grid, mapping_warnings
from .names import DEFAULT_NAME_RULES, NameRule, classify

__all__ = ["FRACTIONAL_RULE", "seg_to_voiset", "volume_geometry"]

#: How fractional segments are binarised (also written into the provenance).
FRACTIONAL_RULE = "stored value >= 0.5 x MaximumFractionalValue (probability or occupancy >= 0.5)"

_ABNORMAL_CATEGORY = "49755003"  # SCT Morphologically abnormal structure
_TUMOUR_WORDS = re.compile(r"neoplasm|tumou?r|lesion|mass|metasta|carcinoma|nodule", re.IGNORECASE)


def volume_geometry(affine: np.ndarray, shape_zyx: Sequence[int]) -> Geometry:
    """Geometry of a highdicom volume.

    Parameters
    ----------
    affine : numpy.ndarray
        4x4 highdicom affine from (slice, row, column) indices to LPS mm.
    shape_zyx : sequence of int
        (slices, rows, columns) of the volume array, i.e. (z, y, x).

    Returns
    -------
    Geometry
        The same grid in petvoi's convention: direction columns for (column, row, slice).
    """
    affine = np.asarray(affine, dtype=float)
    vectors = affine[:3, [2, 1, 0]]  # x = column, y = row, z = slice
    spacing = np.linalg.norm(vectors, axis=0)
    nz, ny, nx = (int(n) for n in shape_zyx[:3])
    sx, sy, sz = (float(s) for s in spacing)
    ox, oy, oz = (float(o) for o in affine[:3, 3])
    return Geometry((nz, ny, nx), (sx, sy, sz), (ox, oy, oz), vectors / spacing)


def _code(item: Any, keyword: str) -> tuple[str, str]:
    seq = item.get(keyword)
    if not seq:
        return "", ""
    return str(seq[0].get("CodeValue", "")), str(seq[0].get("CodeMeaning", ""))


def _matches_rule(name: str, hint: str | None, rules: Sequence[NameRule]) -> bool:
    for rule in rules:
        if rule.interpreted_type and rule.interpreted_type.upper() != (hint or "").upper():
            continue
        if re.search(rule.pattern, name.strip(), flags=re.IGNORECASE):
            return True
    return False


def _classify_segment(label: str, description: Any, rules: Sequence[NameRule]) -> tuple[str, str | None, str | None]:
    category_code, _ = _code(description, "SegmentedPropertyCategoryCodeSequence")
    _, type_meaning = _code(description, "SegmentedPropertyTypeCodeSequence")
    hint = "GTV" if category_code == _ABNORMAL_CATEGORY or _TUMOUR_WORDS.search(type_meaning) else None
    if not _matches_rule(label, hint, rules) and type_meaning and _matches_rule(type_meaning, hint, rules):
        kind, organ, lesion_id = classify(type_meaning, hint, rules)
        return kind, organ, (classify(label, hint, rules)[2] if kind == "tumour" else lesion_id)
    return classify(label, hint, rules)


def _read(path: Path) -> hd.seg.Segmentation:
    if not path.is_file():
        raise InvalidInputError("file not found", source=str(path), remedy="give an existing DICOM SEG file")
    try:
        return hd.seg.segread(path)
    except (pydicom.errors.InvalidDicomError, OSError) as exc:
        raise DicomError(f"not a DICOM file ({exc})", source=str(path), remedy="give a DICOM SEG file") from None
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        sop = ""
        try:
            sop = str(pydicom.dcmread(path, stop_before_pixels=True).get("SOPClassUID", ""))
        except Exception:  # noqa: BLE001 - only for the message
            pass
        raise DicomError(f"cannot be read as a Segmentation ({type(exc).__name__}: {exc})", source=str(path),
                         attribute=f"SOPClassUID (0008,0016) {sop}".strip(),
                         remedy="give a DICOM SEG (Segmentation Storage 1.2.840.10008.5.1.4.1.1.66.4)") from None


def seg_to_voiset(seg_path: str | Path, geometry: Geometry, *, frame_of_reference_uid: str | None = None,
                  rules: Sequence[NameRule] = DEFAULT_NAME_RULES, policy: Policy | None = None) -> VoiSet:
    """VOIs from a DICOM SEG (binary, fractional or label-map), one per segment, on the PET grid.

    Parameters
    ----------
    seg_path : path-like
        The SEG file.
    geometry : Geometry
        The PET grid (LPS, mm).
    frame_of_reference_uid : str, optional
        The PET's FrameOfReferenceUID; when given, a SEG in another frame of reference is refused.
    rules : sequence of NameRule
        Name-to-kind rules for :func:`~pipeline.voi.catalogue.classify`.
    policy : Policy, optional
        ``voi.resample: warn`` resamples segments on another grid of the same frame of reference by
        nearest neighbour (each VOI then carries a warning); the default refuses them.

    Returns
    -------
    VoiSet
        One VOI per segment in segment-number order; volumes in mL on the PET grid; the
        provenance records the SEG's UIDs, type and, for fractional SEGs, :data:`FRACTIONAL_RULE`.

    Raises
    ------
    DicomError
        Not a readable SEG, another frame of reference, frames that do not form a regular volume.
    InvalidInputError
        Segments on another grid that the policy refuses (naming the file and segment).
    """
    path = Path(seg_path)
    seg = _read(path)
    seg_for = str(seg.get("FrameOfReferenceUID", "") or "")
    if frame_of_reference_uid and seg_for and seg_for != frame_of_reference_uid:
        raise DicomError(f"frame of reference {seg_for} differs from the PET's {frame_of_reference_uid}",
                         source=str(path), attribute="FrameOfReferenceUID (0020,0052)",
                         remedy="use a SEG drawn on this study's PET or CT (petvoi does not register images)")
    seg_type = seg.segmentation_type.value
    fractional = seg_type == "FRACTIONAL"
    max_fractional = int(seg.MaximumFractionalValue) if fractional else None
    items, grids = [], set()
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        label = str(description.get("SegmentLabel", "") or "").strip() or f"segment_{number}"
        what = f"{path} segment {number} ({label})"
        try:
            volume = seg.get_volume(segment_numbers=[number], rescale_fractional=False, skip_overlap_checks=True)
        except (RuntimeError, ValueError) as exc:
            raise DicomError(f"segment {number} ({label}) frames do not form a regular volume ({exc})",
                             source=str(path), attribute="PlanePositionSequence (0020,9113)",
                             remedy="re-export the SEG as a regular stack of parallel, equally spaced frames") from None
        raw = np.asarray(volume.array)
        raw = raw[..., 0] if raw.ndim == 4 else raw
        mask = raw.astype(np.int64) * 2 >= max_fractional if max_fractional is not None else raw > 0
        source_geometry = volume_geometry(volume.affine, mask.shape)
        mapping = map_to_grid(mask, source_geometry, geometry, policy=policy, what=what)
        grids.add(mapping.method)
        n_source, on_pet = int(mask.sum()), mapping.array
        warnings = mapping_warnings(mapping, n_source, int(on_pet.sum()), source_geometry.voxel_volume_ml,
                                    geometry.voxel_volume_ml)
        kind, organ, lesion_id = _classify_segment(label, description, rules)
        items.append((on_pet, Voi(0, label, kind, lesion_id, organ, f"seg:segment={number}",
                                  warnings=tuple(warnings))))
    provenance: dict[str, Any] = {"seg": {
        "file": path.name,
        "sop_instance_uid": str(seg.get("SOPInstanceUID", "")),
        "series_instance_uid": str(seg.get("SeriesInstanceUID", "")),
        "frame_of_reference_uid": seg_for,
        "segmentation_type": seg_type,
        "fractional_type": str(seg.get("SegmentationFractionalType", "")) if fractional else None,
        "max_fractional_value": max_fractional,
        "fractional_rule": FRACTIONAL_RULE if fractional else None,
        "grid": sorted(grids),
    }}
    return VoiSet.from_masks(geometry, items, provenance)
