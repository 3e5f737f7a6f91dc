"""The VOI set: one boolean mask per VOI on the PET grid, and its catalogue (``vois.json``).

VOIs may overlap (a lesion inside the liver): each VOI is kept whole as its own
mask. On disk the set is a 4D NIfTI (x, y, z, VOI) of uint8 with the PET grid's
RAS affine, and ``vois.json`` beside it lists, in the order of the 4th axis,
label, name, kind, lesion_id, organ, source, n_voxels, volume_ml and warnings.

Kinds: ``tumour`` (lesions), ``organ`` (healthy tissue), ``reference``
(normal-liver and blood-pool references for ratios and PERCIST), ``body``
(the external outline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from ..deid import active
from ..dicom.geometry import Geometry, read_nifti
from ..errors import InvalidInputError
from ..io import atomic_path, output_set
from ..outputs import VoiCatalogue
from .names import KINDS

__all__ = ["KINDS", "Voi", "VoiSet", "write_voiset", "read_voiset"]


@dataclass(frozen=True)
class Voi:
    """Catalogue entry of one VOI.

    Attributes
    ----------
    label : int
        1-based position in the set (the 4th NIfTI axis index + 1).
    name : str
        Name as delivered (ROI name, segment label, threshold spec).
    kind : str
        One of :data:`KINDS`.
    lesion_id : str or None
        Lesion identifier for tumour VOIs (joins the clinical tables).
    organ : str or None
        Organ or site (``liver``, ``lymph_node``, ...).
    source : str
        Where it came from: ``rtstruct:ROINumber=3``, ``seg:segment=2``, ``mask``, ``threshold:...``, ``sphere:...``.
    n_voxels : int
        Voxels in the mask on the PET grid.
    volume_ml : float
        ``n_voxels`` x voxel volume (mL).
    warnings : list of str
        Per-VOI warnings (resampled, partly outside the field of view, small, ...).
    exclude_from_organs : bool or None
        Tumour VOIs: whether the uptake stage leaves this VOI's voxels (and the margin around them)
        out of organ and reference statistics. None: the default of the kind (True for tumours;
        meaningless for other kinds). Whole-image threshold VOIs are False unless their spec opts in
        (``exclude_from_organs=yes``): such a VOI takes every hot voxel, organs' included.
    """

    label: int
    name: str
    kind: str
    lesion_id: str | None = None
    organ: str | None = None
    source: str = ""
    n_voxels: int = 0
    volume_ml: float = 0.0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    exclude_from_organs: bool | None = None

    @property
    def excludes_from_organs(self) -> bool:
        """True for a tumour VOI whose voxels organ and reference statistics leave out."""
        return self.kind == "tumour" and self.exclude_from_organs is not False


@dataclass
class VoiSet:
    """Masks and catalogue of a VOI set on one grid.

    Attributes
    ----------
    geometry : Geometry
        The PET grid.
    masks : numpy.ndarray
        Boolean array (n_vois, z, y, x).
    vois : list of Voi
        Catalogue, ``vois[i]`` describes ``masks[i]``.
    provenance : dict
        Free-form description of how the set was made (inputs, options, inclusion rule).
    """

    geometry: Geometry
    masks: np.ndarray
    vois: list[Voi]
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.masks.ndim != 4 or self.masks.shape[1:] != tuple(self.geometry.shape):
            raise ValueError(f"masks shape {self.masks.shape} does not match (n,) + {self.geometry.shape}")
        if len(self.vois) != self.masks.shape[0]:
            raise ValueError(f"{len(self.vois)} catalogue entries for {self.masks.shape[0]} masks")

    @classmethod
    def from_masks(cls, geometry: Geometry, items: Iterable[tuple[np.ndarray, Voi]],
                   provenance: Mapping[str, Any] | None = None) -> VoiSet:
        """Build a set from (mask, catalogue entry) pairs; labels and counts are filled in."""
        masks, vois = [], []
        voxel_ml = geometry.voxel_volume_ml
        for i, (mask, voi) in enumerate(items, start=1):
            mask = np.asarray(mask, dtype=bool)
            n = int(mask.sum())
            masks.append(mask)
            vois.append(replace(voi, label=i, n_voxels=n, volume_ml=n * voxel_ml))
        stack = np.stack(masks) if masks else np.zeros((0, *geometry.shape), dtype=bool)
        return cls(geometry, stack, vois, dict(provenance or {}))

    def __len__(self) -> int:
        return len(self.vois)

    def by_kind(self, kind: str) -> list[int]:
        """Indices of the VOIs of one kind."""
        return [i for i, v in enumerate(self.vois) if v.kind == kind]

    def duplicate_names(self) -> list[str]:
        """VOI names given to more than one VOI, sorted (names identify VOIs in every table)."""
        names = [v.name for v in self.vois]
        return sorted({n for n in names if names.count(n) > 1})

    def extend(self, other: VoiSet) -> VoiSet:
        """A new set with ``other``'s VOIs appended (same grid required)."""
        if not self.geometry.same_grid(other.geometry):
            raise InvalidInputError("VOI sets are on different grids", attribute="geometry",
                                    remedy="build every VOI on the same PET grid")
        return VoiSet.from_masks(self.geometry, [*zip(self.masks, self.vois, strict=True),
                                                 *zip(other.masks, other.vois, strict=True)],
                                 {**self.provenance, **other.provenance})


# ------------------------------------------------------------------------------------------- I/O
def write_voiset(path: str | Path, voiset: VoiSet) -> Path:
    """Write the masks as a 4D uint8 NIfTI (x, y, z, VOI) and the catalogue as JSON, atomically.

    Parameters
    ----------
    path : path-like
        ``vois.nii.gz``; ``vois.json`` is written beside it.
    voiset : VoiSet

    Returns
    -------
    Path
    """
    data = np.transpose(voiset.masks.astype(np.uint8), (3, 2, 1, 0))  # (n, z, y, x) -> (x, y, z, n)
    if data.shape[3] == 0:
        data = np.zeros((*data.shape[:3], 1), dtype=np.uint8)  # NIfTI needs one volume; the catalogue says 0
    image = nib.Nifti1Image(data, voiset.geometry.affine_ras())
    image.header.set_xyzt_units("mm")
    image.set_qform(voiset.geometry.affine_ras(), code=1)
    image.set_sform(voiset.geometry.affine_ras(), code=1)
    record = {
        "vois": [{**asdict(v), "warnings": list(v.warnings)} for v in voiset.vois],
        "n_vois": len(voiset),
        "voxel_volume_ml": voiset.geometry.voxel_volume_ml,
        "provenance": voiset.provenance,
    }
    deid = active()
    if deid is not None:  # the RTSTRUCT/SEG UIDs in the provenance, pseudonymised (pipeline.deid)
        record = deid.scrub(record)
    catalogue = VoiCatalogue(record)
    with output_set(path, catalogue.file_for(path)):
        with atomic_path(path) as tmp:
            nib.save(image, tmp)
        catalogue.write(path)
    return Path(path)


def read_voiset(path: str | Path) -> VoiSet:
    """Read a VOI set written by :func:`write_voiset`.

    Raises
    ------
    InvalidInputError
        When the catalogue is missing or does not match the image.
    """
    catalogue = VoiCatalogue.read(path)
    data, geometry = read_nifti(path)
    if data.ndim == 3:
        data = data[None]
    masks = np.asarray(data, dtype=bool)[: catalogue.n_vois]
    vois = [Voi(**{**v, "warnings": tuple(v.get("warnings", ()))}) for v in catalogue.entries]
    if len(vois) != masks.shape[0]:
        raise InvalidInputError(f"{len(vois)} catalogue entries for {masks.shape[0]} masks",
                                source=str(catalogue.path), remedy="rewrite the VOI set with `petvoi vois`")
    return VoiSet(geometry, masks, vois, catalogue.provenance)
