"""The ``vois`` stage: delineations from every source combined into one VOI set on the PET grid.

Sources are applied in a fixed order so that later ones can refer to earlier VOIs:
RTSTRUCT, DICOM SEG, NIfTI masks, spheres, thresholds (a threshold's ``within=`` seed or a
PERCIST ``liver=`` reference names a VOI made before it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..deid import active
from ..dicom.geometry import Geometry, read_nifti
from ..errors import InvalidInputError
from ..outputs import read_suv_sidecar
from .catalogue import VoiSet, write_voiset
from .names import DEFAULT_NAME_RULES
from .options import VoiSources

__all__ = ["build_voiset", "build_voiset_on", "run_vois"]


def _raw_frame(recorded: str | None, dicom_file: Path) -> str | None:
    """The PET's frame of reference as the RTSTRUCT or SEG ``dicom_file`` writes it.

    In a de-identified run ``suv.json`` holds the pseudonym of the PET's FrameOfReferenceUID (pipeline.deid):
    the raw UID of the file whose pseudonym it is, so that the structure's own check compares like with like.
    """
    deid = active()
    if deid is None or recorded is None:
        return recorded
    import pydicom

    try:
        ds = pydicom.dcmread(dicom_file, stop_before_pixels=True, force=True)
        values = [str(e.value) for e in ds.iterall()
                  if e.keyword in ("FrameOfReferenceUID", "ReferencedFrameOfReferenceUID") and e.value]
    except Exception:  # noqa: BLE001 - unreadable: the builder reports it with its own one-line error
        return recorded
    return deid.match_uid(recorded, values)


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

    suv, geometry = read_nifti(suv_path)
    if suv.ndim == 4:
        suv = suv[-1]  # dynamic: VOIs are defined on the grid; thresholds use the last frame
    for_uid = sources.frame_of_reference_uid
    sidecar = read_suv_sidecar(suv_path)
    if for_uid is None and sidecar:
        for_uid = sidecar.frame_of_reference_uid
    sul_per_suv = sul_factor(sidecar)[0] if sidecar else None  # the SUL of uptake.csv, for PERCIST
    voiset = build_voiset_on(suv, geometry, sources, frame_of_reference_uid=for_uid, sul_per_suv=sul_per_suv,
                             image_name=Path(suv_path).name)
    return voiset, suv


def build_voiset_on(image: Any, geometry: Geometry, sources: VoiSources, *, frame_of_reference_uid: str | None,
                    sul_per_suv: float | None = None, image_name: str = "", image_key: str = "pet") -> VoiSet:
    """Build the VOI set on ``geometry`` (an image's grid: PET, or an MR series') from ``sources``.

    ``frame_of_reference_uid`` is the image's, as outputs record it (its pseudonym in a de-identified run), and is
    recorded in the provenance; thresholds act on
    ``image``; ``image_key`` names the image in the provenance.
    """
    from .masks import mask_to_voiset
    from .rtstruct import rtstruct_to_voiset
    from .seg import seg_to_voiset
    from .specs import build_sphere_vois, build_threshold_vois, parse_sphere_specs, parse_threshold_specs

    if not sources.any():
        raise InvalidInputError("no VOI source given", attribute=sources.named(),
                                remedy="give at least one source of VOIs")
    rules = [*sources.name_rules, *DEFAULT_NAME_RULES]
    for_uid = frame_of_reference_uid
    parts: list[tuple[str, VoiSet]] = []
    if sources.rtstruct:
        rtstruct = _single_dicom(Path(sources.rtstruct), "RTSTRUCT")
        parts.append(("rtstruct", rtstruct_to_voiset(rtstruct, geometry,
                                                     frame_of_reference_uid=_raw_frame(for_uid, rtstruct),
                                                     rules=rules, inclusion=sources.inclusion)))
    if sources.seg:
        seg = _single_dicom(Path(sources.seg), "SEG")
        parts.append(("seg", seg_to_voiset(seg, geometry, frame_of_reference_uid=_raw_frame(for_uid, seg),
                                           rules=rules, policy=sources.policy)))
    if sources.mask:
        parts.append(("mask", mask_to_voiset(Path(sources.mask), geometry, rules=rules,
                                             policy=sources.policy)))
    if sources.spheres:
        parts.append(("spheres", build_sphere_vois(parse_sphere_specs(sources.spheres), geometry, rules=rules)))
    voiset = VoiSet.from_masks(geometry, [])
    for key, part in parts:
        part.provenance = {key: part.provenance}  # each source's provenance under its own key
        voiset = voiset.extend(part)
    if sources.thresholds:  # last: may refer to the VOIs above (within=, liver=)
        part = build_threshold_vois(parse_threshold_specs(sources.thresholds), image, geometry, voiset,
                                    sul_per_suv=sul_per_suv, rules=rules)
        part.provenance = {"thresholds": part.provenance}
        voiset = voiset.extend(part)
    duplicated = voiset.duplicate_names()
    if duplicated:
        raise InvalidInputError(f"VOI name {duplicated[0]!r} appears more than once", attribute="VOI names",
                                remedy="rename one of them (names identify VOIs in every table)")
    voiset.provenance.update({image_key: image_name, "frame_of_reference_uid": for_uid,
                              "inclusion": sources.inclusion, "policy": sources.policy.record()})
    return voiset


def run_vois(suv_path: Path, output: Path, sources: VoiSources) -> VoiSet:
    """Build the VOI set and write ``vois.nii.gz`` + ``vois.json`` (atomically)."""
    voiset, _ = build_voiset(Path(suv_path), sources)
    write_voiset(output, voiset)
    return voiset
