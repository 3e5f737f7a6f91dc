"""The ``vois`` stage: delineations from every source combined into one VOI set on the PET grid.

Sources are applied in a fixed order so that later ones can refer to earlier VOIs:
RTSTRUCT, DICOM SEG, NIfTI masks, spheres, thresholds (a threshold's ``within=`` seed or a
PERCIST ``liver=`` reference names a VOI made before it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..outputs import read_suv_sidecar
from .catalogue import DEFAULT_NAME_RULES, NameRule, VoiSet, write_voiset

__all__ = ["VoiSources", "load_name_rules", "build_voiset", "run_vois"]


@dataclass
class VoiSources:
    """What to build the VOI set from (any combination; at least one).

    Attributes
    ----------
    rtstruct, seg, mask : Path, optional
        RTSTRUCT file (or a folder holding exactly one), DICOM SEG file, NIfTI mask or label map.
    spheres, thresholds : str
        Spec strings (see :mod:`pipeline.voi.specs`).
    inclusion : str
        RTSTRUCT voxel inclusion rule: ``centre`` or ``fraction``.
    allow_resample : bool
        Permit nearest-neighbour resampling of SEG and NIfTI masks on another grid (with a warning).
    name_rules : list of NameRule
        Tried before the defaults when mapping names to kinds.
    frame_of_reference_uid : str, optional
        The PET's FrameOfReferenceUID (default: from ``suv.json`` beside the SUV image).
    """

    rtstruct: Path | None = None
    seg: Path | None = None
    mask: Path | None = None
    spheres: str = ""
    thresholds: str = ""
    inclusion: str = "centre"
    allow_resample: bool = False
    name_rules: list[NameRule] = field(default_factory=list)
    frame_of_reference_uid: str | None = None


def load_name_rules(path: Path | None) -> list[NameRule]:
    """Read name-to-kind rules from YAML: a list of {pattern, kind, organ?, lesion_id?, interpreted_type?}.

    Raises
    ------
    InvalidInputError
        Naming the file and the rule at fault.
    """
    if path is None:
        return []
    try:
        data = yaml.safe_load(Path(path).read_text("utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot be read as YAML ({exc})", source=str(path),
                                remedy="give a YAML list of {pattern, kind, organ, lesion_id}") from None
    if isinstance(data, dict):
        data = data.get("voi_names", data.get("rules", []))
    rules = []
    for i, item in enumerate(data, start=1):
        try:
            rule = NameRule(**item)
        except TypeError as exc:
            raise InvalidInputError(f"rule {i} is not valid ({exc})", source=str(path), attribute=f"rule {i}",
                                    remedy="keys: pattern, kind, organ, lesion_id, interpreted_type") from None
        if rule.kind not in ("tumour", "organ", "reference", "body"):
            raise InvalidInputError(f"rule {i} has unknown kind {rule.kind!r}", source=str(path),
                                    attribute=f"rule {i}", remedy="use tumour, organ, reference or body")
        rules.append(rule)
    return rules


def _single_dicom(path: Path, what: str) -> Path:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if len(files) != 1:
            raise InvalidInputError(f"folder holds {len(files)} files, expected one {what}", source=str(path),
                                    remedy=f"give the {what} file itself")
        return files[0]
    if not path.is_file():
        raise InvalidInputError("file not found", source=str(path), remedy=f"give an existing {what} file")
    return path


def build_voiset(suv_path: Path, sources: VoiSources) -> tuple[VoiSet, Any]:
    """Build the VOI set on the grid of ``suv_path`` from ``sources``; returns (voiset, suv array)."""
    from ..suv.sul import sul_factor
    from .masks import mask_to_voiset
    from .rtstruct import rtstruct_to_voiset
    from .seg import seg_to_voiset
    from .specs import build_sphere_vois, build_threshold_vois, parse_sphere_specs, parse_threshold_specs

    if not any((sources.rtstruct, sources.seg, sources.mask, sources.spheres, sources.thresholds)):
        raise InvalidInputError("no VOI source given", attribute="--rtstruct/--seg/--mask/--spheres/--threshold",
                                remedy="give at least one source of VOIs")
    suv, geometry = read_nifti(suv_path)
    if suv.ndim == 4:
        suv = suv[-1]  # dynamic: VOIs are defined on the grid; thresholds use the last frame
    rules = [*sources.name_rules, *DEFAULT_NAME_RULES]
    for_uid = sources.frame_of_reference_uid
    sidecar = read_suv_sidecar(suv_path)
    if for_uid is None and sidecar:
        for_uid = sidecar.frame_of_reference_uid
    parts: list[tuple[str, VoiSet]] = []
    if sources.rtstruct:
        parts.append(("rtstruct", rtstruct_to_voiset(_single_dicom(Path(sources.rtstruct), "RTSTRUCT"), geometry,
                                                     frame_of_reference_uid=for_uid, rules=rules,
                                                     inclusion=sources.inclusion)))
    if sources.seg:
        parts.append(("seg", seg_to_voiset(_single_dicom(Path(sources.seg), "SEG"), geometry,
                                           frame_of_reference_uid=for_uid, rules=rules,
                                           allow_resample=sources.allow_resample)))
    if sources.mask:
        parts.append(("mask", mask_to_voiset(Path(sources.mask), geometry, rules=rules,
                                             allow_resample=sources.allow_resample)))
    if sources.spheres:
        parts.append(("spheres", build_sphere_vois(parse_sphere_specs(sources.spheres), geometry, rules=rules)))
    voiset = VoiSet.from_masks(geometry, [])
    for key, part in parts:
        part.provenance = {key: part.provenance}  # each source's provenance under its own key
        voiset = voiset.extend(part)
    if sources.thresholds:  # last: may refer to the VOIs above (within=, liver=)
        sul_per_suv = sul_factor(sidecar)[0] if sidecar else None  # the SUL of uptake.csv, for PERCIST
        part = build_threshold_vois(parse_threshold_specs(sources.thresholds), suv, geometry, voiset,
                                    sul_per_suv=sul_per_suv, rules=rules)
        part.provenance = {"thresholds": part.provenance}
        voiset = voiset.extend(part)
    names = [v.name for v in voiset.vois]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InvalidInputError(f"VOI name {duplicated[0]!r} appears more than once", attribute="VOI names",
                                remedy="rename one of them (names identify VOIs in every table)")
    voiset.provenance.update({"pet": Path(suv_path).name, "frame_of_reference_uid": for_uid,
                              "inclusion": sources.inclusion, "allow_resample": sources.allow_resample})
    return voiset, suv


def run_vois(suv_path: Path, output: Path, sources: VoiSources) -> VoiSet:
    """Build the VOI set and write ``vois.nii.gz`` + ``vois.json`` (atomically)."""
    voiset, _ = build_voiset(Path(suv_path), sources)
    write_voiset(output, voiset)
    return voiset
