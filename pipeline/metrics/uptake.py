"""Uptake statistics per VOI: the ``uptake.csv`` table of ``petvoi uptake`` (DESIGN.md).

One row per VOI of a :class:`~pipeline.voi.catalogue.VoiSet`, columns in the fixed order of
:data:`COLUMNS`:

label, name, kind, lesion_id, organ
    From the VOI catalogue.
n_voxels, volume_ml
    Voxels the statistics are computed on, and n_voxels x voxel volume (mL). For organ and
    reference VOIs these exclude the tumour VOIs grown by a margin when
    ``exclude_tumours_from_organs`` (default; see *Tumour exclusion* below).
n_voxels_excluded
    Voxels of the VOI's mask left out because they lie in a tumour VOI or within the margin around
    one (0 for tumour and body VOIs, which are always kept whole).
suv_max, suv_mean, suv_median, suv_min, suv_sd
    Over those voxels, in the unit of the SUV volume (g/mL for SUVbw). ``suv_sd`` is the
    sample standard deviation (ddof = 1; NaN for a single voxel).
suv_peak, suv_peak_z, suv_peak_y, suv_peak_x, suv_peak_lps_x, suv_peak_lps_y, suv_peak_lps_z
    SUVpeak (:mod:`pipeline.metrics.peak`: 1 cm³ sphere, global peak by default), its centre
    voxel (z, y, x) and the centre's LPS position (mm). The sphere may extend outside the VOI; for
    organ VOIs with tumour voxels excluded, only its centre is restricted to non-tumour voxels.
tlg
    suv_mean x volume_ml (SUV g/mL x mL = g; "total lesion glycolysis" for FDG tumours).
sul_max, sul_mean, sul_median, sul_min, sul_sd, sul_peak
    The same in SUL (SUV normalised by lean body mass): SUV x LBM / N, N the normaliser of the
    SUV volume (weight for SUVbw), from the ``suv.json`` sidecar; LBM by Janmahasatian unless
    configured (James-128). NaN when weight, height or sex (M/F) are not in the sidecar. When the
    volume is already SUVlbm the SUL columns equal the SUV columns.
suv_max_to_liver, suv_peak_to_liver, suv_max_to_blood, suv_peak_to_blood
    For tumour and organ VOIs: suv_max and suv_peak over the suv_mean of the liver reference VOI
    and of the blood-pool (aorta) reference VOI (after tumour exclusion). Reference and body rows,
    and rows of a study without the reference, are NaN. The liver reference is, among the
    ``reference`` VOIs of organ ``liver``, the PERCIST 1.0 3 cm sphere (a ``--spheres`` VOI, or
    a name like ``liver_ref``; :func:`pipeline.voi.names.is_liver_sphere`) when one exists; the
    whole liver only as a fallback, stated in its row's warnings and in the provenance
    (``liver_reference: whole_liver`` chooses the whole liver instead).
reference_role
    ``liver_sphere`` or ``whole_liver`` on the row of the liver reference, ``blood`` on the
    blood-pool reference's, empty elsewhere: the rows the ratios divide by, which PERCIST
    (:mod:`pipeline.response.percist`) takes as its references too.
warnings
    ``"; "``-joined: the catalogue's warnings, then empty VOI, fewer than ``min_voxels`` voxels,
    tumour voxels excluded, touching the image border (partly outside the field of view),
    truncated or VOI-exceeding peak sphere, non-finite SUV.

Tumour exclusion
    A contour rasterised on the PET grid misses some of the lesion's voxels, and the scanner's
    resolution spills lesion activity into the voxels around it: an organ statistic that leaves
    out only the voxels *inside* tumour VOIs still takes a lesion's SUV as the organ's SUVmax. Organ
    and reference VOIs therefore leave out the union of the tumour VOIs dilated by a margin
    (:func:`tumour_exclusion`): by default one PET voxel in each direction (the 3 x 3 x 3
    neighbourhood, 26-connected), or, given ``margin_mm`` (e.g. the scanner's FWHM), every voxel
    whose centre lies within that Euclidean distance (mm, on the anisotropic grid) of a tumour
    voxel's centre; ``margin_mm=0`` leaves out the tumour voxels only. Tumour VOIs whose catalogue
    entry says ``exclude_from_organs: false`` (whole-image threshold VOIs unless their spec opts
    in, :mod:`pipeline.voi.threshold`) are not left out of organs: such a VOI holds the hot organs'
    own voxels. The margin, its structuring element and the tumour VOIs left out or kept are in
    the provenance (``tumour_exclusion``).

The settings (tumour exclusion, SD convention, peak kernel and mode, SUL formula and factor,
reference VOIs and the liver reference's choice) are in ``table.attrs["provenance"]``
(JSON-ready: NaN written as null), for the stage to write as an ``uptake.json`` sidecar beside
``uptake.csv``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import ndimage

from ..dicom.geometry import Geometry
from ..errors import InvalidInputError
from ..suv.sul import sul_factor
from ..voi.catalogue import VoiSet
from ..voi.names import is_liver_sphere
from .options import LIVER_REFERENCES
from .peak import PEAK_MODES, Crop, PeakKernel, PeakResult, crop_mask, peak_kernel, peaks_from_crops

__all__ = ["COLUMNS", "LIVER_REFERENCES", "REFERENCE_ROLES", "REFERENCE_ROLE_VALUES", "SD_DDOF", "TumourExclusion",
           "tumour_exclusion", "uptake_table"]

COLUMNS: tuple[str, ...] = (
    "label", "name", "kind", "lesion_id", "organ",
    "n_voxels", "volume_ml", "n_voxels_excluded",
    "suv_max", "suv_mean", "suv_median", "suv_min", "suv_sd",
    "suv_peak", "suv_peak_z", "suv_peak_y", "suv_peak_x", "suv_peak_lps_x", "suv_peak_lps_y", "suv_peak_lps_z",
    "tlg",
    "sul_max", "sul_mean", "sul_median", "sul_min", "sul_sd", "sul_peak",
    "suv_max_to_liver", "suv_peak_to_liver", "suv_max_to_blood", "suv_peak_to_blood",
    "reference_role", "warnings",
)

#: Reference roles and the ``organ`` values of ``reference`` VOIs that fill them by default.
REFERENCE_ROLES: dict[str, tuple[str, ...]] = {
    "liver": ("liver",),
    "blood": ("aorta", "blood_pool", "bloodpool"),
}
#: ``reference_role`` of the rows chosen as references.
REFERENCE_ROLE_VALUES = ("liver_sphere", "whole_liver", "blood")
#: Delta degrees of freedom of ``suv_sd`` (sample standard deviation).
SD_DDOF = 1
_STATS = ("max", "mean", "median", "min", "sd")
_RATIO_KINDS = ("tumour", "organ")


# ------------------------------------------------------------------------------------------------ helpers
def _liver_type(voi: Any) -> str:
    return "sphere" if is_liver_sphere(voi.name, voi.source) else "whole_liver"


def _find_references(voiset: VoiSet, names: Mapping[str, str] | None,
                     liver_reference: str = "sphere") -> tuple[dict[str, int | None], dict[str, list[str]],
                                                               dict[str, Any]]:
    """Index of the liver and blood-pool reference VOIs, the notes each chosen row carries, and the liver record.

    The liver: among the ``reference`` VOIs of organ ``liver``, the 3 cm sphere
    (:func:`~pipeline.voi.names.is_liver_sphere`) when ``liver_reference`` is ``sphere`` (PERCIST 1.0), the
    whole liver when it is ``whole_liver``; the other one only as a stated fallback.
    """
    names = dict(names or {})
    unknown = sorted(set(names) - set(REFERENCE_ROLES))
    if unknown:
        raise InvalidInputError(f"unknown reference roles {unknown}", attribute="reference_names",
                                remedy=f"use {', '.join(REFERENCE_ROLES)}")
    if liver_reference not in LIVER_REFERENCES:
        raise InvalidInputError(f"unknown liver reference {liver_reference!r}", attribute="liver_reference",
                                remedy=f"use one of {', '.join(LIVER_REFERENCES)}")
    found: dict[str, int | None] = {}
    notes: dict[str, list[str]] = {role: [] for role in REFERENCE_ROLES}
    liver: dict[str, Any] = {"requested": liver_reference, "used": None, "name": None, "fallback": False,
                             "note": None, "sphere_rule": "a --spheres VOI, or a name like liver_ref, "
                                                          "liver_reference, liver_sphere, ref_liver"}
    for role, organs in REFERENCE_ROLES.items():
        if role in names:
            matches = [i for i, v in enumerate(voiset.vois) if v.name == names[role]]
            if not matches:
                raise InvalidInputError(f"no VOI named {names[role]!r} for the {role} reference",
                                        attribute="reference_names",
                                        remedy=f"VOIs are: {', '.join(v.name for v in voiset.vois)}")
            if len(matches) > 1:
                raise InvalidInputError(f"{len(matches)} VOIs named {names[role]!r} for the {role} reference",
                                        attribute="reference_names", remedy="rename the VOIs so the name is unique")
            if role == "liver":
                liver["note"] = f"liver reference named by reference_names: {names[role]!r}"
        else:
            matches = [i for i, v in enumerate(voiset.vois)
                       if v.kind == "reference" and (v.organ or "").lower() in organs]
            if role == "liver" and matches:
                wanted = [i for i in matches if _liver_type(voiset.vois[i]) == liver_reference]
                if wanted:
                    matches = wanted
                else:
                    chosen = voiset.vois[matches[0]]
                    liver["fallback"] = True
                    if liver_reference == "sphere":
                        liver["note"] = (f"no 3 cm liver reference sphere among the VOIs: the whole liver "
                                         f"{chosen.name!r} is the liver reference of the ratios and PERCIST "
                                         "(fallback; PERCIST 1.0 uses a 3 cm sphere in normal right-lobe liver, e.g. "
                                         "petvoi vois --spheres 'liver_ref:X,Y,Z:30:reference')")
                    else:
                        liver["note"] = (f"no whole-liver reference VOI: the liver sphere {chosen.name!r} is the "
                                         "liver reference of the ratios and PERCIST (fallback)")
            if len(matches) > 1:
                labels = ", ".join(f"{voiset.vois[i].label} {voiset.vois[i].name!r}" for i in matches)
                notes[role].append(f"{len(matches)} {role} reference VOIs ({labels}): this one used for the ratios; "
                                   "set reference_names to choose")
        found[role] = matches[0] if matches else None
    if found["liver"] is not None:
        chosen = voiset.vois[found["liver"]]
        liver.update({"used": _liver_type(chosen), "name": chosen.name})
        if liver["fallback"]:
            notes["liver"].insert(0, liver["note"])
    else:
        liver["note"] = "no liver reference VOI: the liver ratios are NaN"
    return found, notes, liver


@dataclass(frozen=True)
class TumourExclusion:
    """The voxels organ and reference VOIs leave out: the tumour VOIs grown by the margin.

    Attributes
    ----------
    region : Crop or None
        The dilated union of the tumour VOIs, cropped to its bounding box (None: no tumour voxel).
    record : dict
        JSON-ready description: margin (voxels or mm), structuring element, the tumour VOIs used.
    """

    region: Crop | None
    record: dict[str, Any]


_TOLERANCE = 1e-9  # relative: a voxel centre at exactly the margin is inside it


def _structuring_element(spacing_zyx: NDArray[np.float64], margin_mm: float | None) -> tuple[NDArray[np.bool_],
                                                                                               dict[str, Any]]:
    """The dilation's structuring element: the 3 x 3 x 3 neighbourhood, or the voxels of a ball of ``margin_mm``."""
    if margin_mm is None:
        element = ndimage.generate_binary_structure(3, 3)
        return element, {"margin_voxels": 1, "margin_mm": None,
                         "rule": "one PET voxel in each direction (3 x 3 x 3 neighbourhood, 26-connected)"}
    reach = np.floor(margin_mm / spacing_zyx * (1 + _TOLERANCE)).astype(int)
    axes = [np.arange(-r, r + 1) * s for r, s in zip(reach, spacing_zyx, strict=True)]
    dz, dy, dx = np.meshgrid(*axes, indexing="ij")
    element = np.sqrt(dz * dz + dy * dy + dx * dx) <= margin_mm * (1 + _TOLERANCE)
    return element, {"margin_voxels": None, "margin_mm": float(margin_mm),
                     "rule": (f"every voxel whose centre is within {margin_mm:g} mm of a tumour voxel's centre "
                              "(Euclidean, on the voxel grid's spacing)" if margin_mm > 0
                              else "tumour voxels only (margin 0)")}


def tumour_exclusion(crops: list[Crop], geometry: Geometry, margin_mm: float | None = None,
                     *, names: list[str] | None = None) -> TumourExclusion:
    """The union of tumour VOIs dilated by a margin: the voxels organ and reference statistics leave out.

    Parameters
    ----------
    crops : list of Crop
        The tumour masks (:func:`~pipeline.metrics.peak.crop_mask`) on ``geometry``.
    geometry : Geometry
        The PET grid (its spacing sets the ball of ``margin_mm``).
    margin_mm : float, optional
        None (default): one voxel in each direction, the 3 x 3 x 3 neighbourhood
        (``scipy.ndimage.binary_dilation``). A number >= 0: every voxel whose centre lies within
        ``margin_mm`` (mm, Euclidean on the anisotropic grid) of a tumour voxel's centre, i.e. the
        dilation by that ball (computed as ``scipy.ndimage.distance_transform_edt`` with the
        grid's sampling, whose cost does not grow with the ball); 0: the tumour voxels only.
    names : list of str, optional
        The tumour VOIs' names, for the record.

    Returns
    -------
    TumourExclusion
        ``record["structuring_element_voxels"]`` is the number of voxels of the element (27 for
        the default; the lattice points of the ball for a margin in mm): a single-voxel tumour
        away from the border excludes exactly that many voxels.

    Raises
    ------
    InvalidInputError
        For a negative or non-finite margin.
    """
    if margin_mm is not None and not (math.isfinite(margin_mm) and margin_mm >= 0):
        raise InvalidInputError(f"tumour margin {margin_mm!r} mm must be a number >= 0", attribute="margin_mm",
                                remedy="give 0 for the tumour voxels only, or e.g. the scanner's FWHM in mm")
    spacing_zyx = np.asarray(geometry.spacing[::-1], dtype=np.float64)
    element, record = _structuring_element(spacing_zyx, margin_mm)
    record.update({"structuring_element_voxels": int(element.sum()),
                   "structuring_element_shape_zyx": list(element.shape), "spacing_zyx_mm": spacing_zyx.tolist(),
                   "tumours": list(names or [])})
    if not crops:
        return TumourExclusion(None, record)
    half = [n // 2 for n in element.shape]
    outer = tuple(slice(max(min(c.box[d].start for c in crops) - half[d], 0),
                        min(max(c.box[d].stop for c in crops) + half[d], geometry.shape[d])) for d in range(3))
    union = np.zeros(tuple(s.stop - s.start for s in outer), dtype=bool)
    for c in crops:
        union[tuple(slice(b.start - o.start, b.stop - o.start) for b, o in zip(c.box, outer, strict=True))] |= c.mask
    if margin_mm is None:
        grown = ndimage.binary_dilation(union, structure=element)
    elif margin_mm > 0:
        distance = ndimage.distance_transform_edt(~union, sampling=spacing_zyx)
        grown = np.asarray(distance <= margin_mm * (1 + _TOLERANCE))
    else:
        grown = union
    region = crop_mask(grown)
    assert region is not None  # the union is not empty
    z, y, x = (slice(o.start + r.start, o.start + r.stop) for o, r in zip(outer, region.box, strict=True))
    return TumourExclusion(Crop((z, y, x), region.mask, region.n_voxels), record)


def _exclude(crop: Crop, region: Crop) -> tuple[Crop | None, int]:
    """The crop without the voxels of ``region``, and how many voxels were removed."""
    lo = [max(a.start, b.start) for a, b in zip(crop.box, region.box, strict=True)]
    hi = [min(a.stop, b.stop) for a, b in zip(crop.box, region.box, strict=True)]
    if any(h <= low for low, h in zip(lo, hi, strict=True)):
        return crop, 0
    keep = crop.mask.copy()
    own = tuple(slice(low - s.start, h - s.start) for low, h, s in zip(lo, hi, crop.box, strict=True))
    other = tuple(slice(low - s.start, h - s.start) for low, h, s in zip(lo, hi, region.box, strict=True))
    keep[own] &= ~region.mask[other]
    n_keep = int(np.count_nonzero(keep))
    removed = crop.n_voxels - n_keep
    if removed == 0:
        return crop, 0
    return (Crop(crop.box, keep, n_keep) if n_keep else None), removed


def _stats(values: NDArray[np.float64]) -> dict[str, float]:
    if values.size == 0:
        return dict.fromkeys(_STATS, math.nan)
    return {"max": float(values.max()), "mean": float(values.mean()), "median": float(np.median(values)),
            "min": float(values.min()),
            "sd": float(values.std(ddof=SD_DDOF)) if values.size > SD_DDOF else math.nan}


def _ratio(value: float, reference: float | None) -> float:
    if reference is None or not math.isfinite(reference) or reference <= 0 or not math.isfinite(value):
        return math.nan
    return value / reference


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# ------------------------------------------------------------------------------------------------ table
def uptake_table(suv: NDArray[Any], geometry: Geometry, voiset: VoiSet, *, sidecar: Mapping[str, Any] | None = None,
                 exclude_tumours_from_organs: bool = True, margin_mm: float | None = None,
                 liver_reference: str = "sphere", peak_mode: str = "global", peak_method: str = "centre",
                 min_voxels: int = 8, reference_names: Mapping[str, str] | None = None,
                 lbm_formula: str = "janmahasatian", kernel: PeakKernel | None = None) -> pd.DataFrame:
    """Uptake statistics of every VOI (one row per VOI; columns :data:`COLUMNS`, see the module docstring).

    Parameters
    ----------
    suv : numpy.ndarray
        (z, y, x) SUV volume (g/mL for SUVbw/SUVlbm), e.g. ``suv.nii.gz`` read with
        :func:`~pipeline.dicom.geometry.read_nifti`.
    geometry : Geometry
        Its grid; must be the VOI set's grid.
    voiset : VoiSet
        The VOIs (masks kept whole, overlapping allowed).
    sidecar : mapping, optional
        The ``suv.json`` content (:class:`~pipeline.outputs.SuvSidecar`): ``suv_kind``, ``weight_kg``, ``height_cm``,
        ``sex``, ``normaliser_value``, ``normaliser_name`` feed the SUL columns. Body-size values
        missing from it (an SUVbw sidecar records height and sex only when the SUV kind needed
        them) can be merged in by the caller.
    exclude_tumours_from_organs : bool
        Leave the voxels of tumour VOIs, dilated by the margin, out of organ and reference VOIs
        (default). Tumour and body VOIs are always whole.
    margin_mm : float, optional
        The margin of that exclusion (:func:`tumour_exclusion`): None (default) one PET voxel in
        each direction; a distance in mm (e.g. the scanner's FWHM), a ball on the voxel grid; 0 the
        tumour voxels only.
    liver_reference : {"sphere", "whole_liver"}
        The liver reference of the ``*_to_liver`` ratios (and, through ``reference_role``, of
        PERCIST): the 3 cm sphere (default, PERCIST 1.0) or the whole liver; the other one only as a
        fallback, recorded in the row's warnings and the provenance (``liver_reference``).
    peak_mode : {"global", "local"}
        SUVpeak definition (:mod:`pipeline.metrics.peak`).
    peak_method : {"centre", "fraction"}
        SUVpeak kernel weighting when ``kernel`` is not given.
    min_voxels : int
        VOIs with fewer voxels are flagged in ``warnings``.
    reference_names : mapping, optional
        ``{"liver": name, "blood": name}``: VOI names of the ratio references. By default the
        ``reference`` VOIs whose organ is ``liver`` (the sphere or the whole liver, by
        ``liver_reference``), and ``aorta`` (or ``blood_pool``).
    lbm_formula : {"janmahasatian", "james128"}
        LBM formula of the SUL columns.
    kernel : PeakKernel, optional
        A precomputed SUVpeak kernel for this grid.

    Returns
    -------
    pandas.DataFrame
        One row per VOI in the set's order; ``attrs["provenance"]`` holds the settings.

    Raises
    ------
    InvalidInputError
        For a non-3D volume, a grid different from the VOI set's, an unknown peak mode, LBM formula
        or reference role, or a configured reference name that matches no VOI.
    """
    suv = np.asarray(suv)
    if suv.ndim != 3:
        raise InvalidInputError(f"expected a 3D SUV volume, got shape {suv.shape}", attribute="suv",
                                remedy="uptake is computed on a static image; use one frame of a dynamic series")
    if tuple(suv.shape) != tuple(geometry.shape):
        raise InvalidInputError(f"SUV volume shape {suv.shape} does not match its geometry {tuple(geometry.shape)}",
                                attribute="suv")
    if not geometry.same_grid(voiset.geometry):
        raise InvalidInputError("the VOI set is not on the SUV volume's grid", attribute="vois",
                                remedy="build the VOIs with `petvoi vois --pet` on this SUV volume")
    if peak_mode not in PEAK_MODES:
        raise InvalidInputError(f"unknown SUVpeak mode {peak_mode!r}", attribute="peak_mode",
                                remedy=f"use one of {', '.join(PEAK_MODES)}")
    if int(min_voxels) < 0:
        raise InvalidInputError(f"min_voxels must be >= 0, got {min_voxels!r}", attribute="min_voxels")
    kernel = kernel if kernel is not None else peak_kernel(geometry.spacing, method=peak_method)
    factor, sul = sul_factor(sidecar, lbm_formula)
    references, role_notes, liver_record = _find_references(voiset, reference_names, liver_reference)

    crops = [crop_mask(m) for m in voiset.masks]
    carved = [i for i, c in enumerate(crops) if c is not None and voiset.vois[i].excludes_from_organs]
    exclusion = tumour_exclusion([c for i in carved if (c := crops[i]) is not None], geometry, margin_mm,
                                 names=[voiset.vois[i].name for i in carved])
    kept_in_organs = [v.name for v in voiset.vois if v.kind == "tumour" and not v.excludes_from_organs]
    used: list[Crop | None] = []
    excluded: list[int] = []
    for voi, crop in zip(voiset.vois, crops, strict=True):
        if (crop is not None and exclude_tumours_from_organs and voi.kind in ("organ", "reference")
                and exclusion.region is not None):
            kept, removed = _exclude(crop, exclusion.region)
        else:
            kept, removed = crop, 0
        used.append(kept)
        excluded.append(removed)

    stats = [_stats(suv[c.box][c.mask].astype(np.float64)) if c is not None else _stats(np.empty(0))
             for c in used]
    peaks = peaks_from_crops(suv, geometry, used, mode=peak_mode, kernel=kernel)
    ref_mean = {role: (stats[i]["mean"] if i is not None else None) for role, i in references.items()}
    roles: dict[int, str] = {}
    if references["blood"] is not None:
        roles[references["blood"]] = "blood"
    if references["liver"] is not None:  # the liver wins a VOI named for both roles
        roles[references["liver"]] = "liver_sphere" if liver_record["used"] == "sphere" else "whole_liver"
    voxel_ml = geometry.voxel_volume_ml

    rows = []
    for i, (voi, crop, kept, removed, st, pk) in enumerate(zip(voiset.vois, crops, used, excluded, stats, peaks,
                                                               strict=True)):
        n = kept.n_voxels if kept is not None else 0
        rows.append(_row(voi, i, n, n * voxel_ml, removed, st, pk, factor, ref_mean, roles.get(i, ""),
                         _warnings(voi, crop, kept, removed, pk, suv, min_voxels,
                                   [t for r, ts in role_notes.items() if references[r] == i for t in ts])))

    table = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("label", "n_voxels", "n_voxels_excluded"):
        table[col] = table[col].astype("int64")
    for col in ("suv_peak_z", "suv_peak_y", "suv_peak_x"):
        table[col] = table[col].astype("Int64")
    table.attrs["provenance"] = _json_safe({
        "columns": list(COLUMNS),
        "exclude_tumours_from_organs": bool(exclude_tumours_from_organs),
        "tumour_exclusion": {"enabled": bool(exclude_tumours_from_organs), **exclusion.record,
                             "n_voxels": exclusion.region.n_voxels if exclusion.region is not None else 0,
                             "tumours_kept_in_organs": kept_in_organs,
                             "kept_in_organs_rule": "tumour VOIs whose catalogue entry says exclude_from_organs: "
                                                    "false (whole-image threshold VOIs unless their spec says "
                                                    "exclude_from_organs=yes)"},
        "suv_sd": f"sample standard deviation (ddof={SD_DDOF})",
        "suv_kind": sidecar.get("suv_kind") if sidecar else None,
        "modality": sidecar.get("modality", "PET") if sidecar else None,
        "min_voxels": int(min_voxels),
        "peak": {"mode": peak_mode, "kernel": kernel.describe(),
                 "border": "spheres cut by the image border: mean over the kernel weight inside the image"},
        "sul": sul,
        "references": {role: (None if i is None else {"label": voiset.vois[i].label, "name": voiset.vois[i].name,
                                                      "suv_mean": stats[i]["mean"]})
                       for role, i in references.items()},
        "liver_reference": liver_record,
        "warnings": [t for ts in role_notes.values() for t in ts],
    })
    return table


def _warnings(voi: Any, crop: Crop | None, kept: Crop | None, removed: int, peak: PeakResult, suv: NDArray[Any],
              min_voxels: int, extra: list[str]) -> str:
    notes = list(voi.warnings)
    if crop is None:
        notes.append("empty VOI: statistics are NaN")
    else:
        if removed:
            notes.append(f"{removed} voxels of tumour VOIs and their margin excluded")
        if kept is None:
            notes.append("no voxel left after excluding tumour VOIs and their margin: statistics are NaN")
        if crop.touches_border(suv.shape):
            notes.append("touches the image border: partly outside the field of view")
    if kept is not None:
        if kept.n_voxels < min_voxels:
            notes.append(f"{kept.n_voxels} voxels < min_voxels {min_voxels}: statistics unreliable")
        n_bad = kept.n_voxels - int(np.count_nonzero(np.isfinite(suv[kept.box][kept.mask])))
        if n_bad:
            notes.append(f"{n_bad} non-finite SUV voxels: statistics are NaN")
        notes.extend(peak.warnings)
    notes.extend(extra)
    return "; ".join(dict.fromkeys(notes))


def _row(voi: Any, index: int, n: int, volume_ml: float, removed: int, st: Mapping[str, float], pk: PeakResult,
         factor: float | None, ref_mean: Mapping[str, float | None], reference_role: str,
         warnings: str) -> dict[str, Any]:
    centre = pk.index_zyx or (None, None, None)
    lps = pk.lps_mm or (math.nan, math.nan, math.nan)
    row: dict[str, Any] = {
        "label": voi.label, "name": voi.name, "kind": voi.kind, "lesion_id": voi.lesion_id, "organ": voi.organ,
        "n_voxels": n, "volume_ml": volume_ml, "n_voxels_excluded": removed,
        **{f"suv_{k}": st[k] for k in _STATS},
        "suv_peak": pk.value, "suv_peak_z": centre[0], "suv_peak_y": centre[1], "suv_peak_x": centre[2],
        "suv_peak_lps_x": lps[0], "suv_peak_lps_y": lps[1], "suv_peak_lps_z": lps[2],
        "tlg": st["mean"] * volume_ml if n else math.nan,
    }
    f = math.nan if factor is None else factor
    row.update({f"sul_{k}": st[k] * f for k in _STATS})
    row["sul_peak"] = pk.value * f
    ratio = voi.kind in _RATIO_KINDS
    for role in ("liver", "blood"):
        ref = ref_mean.get(role) if ratio else None
        row[f"suv_max_to_{role}"] = _ratio(st["max"], ref)
        row[f"suv_peak_to_{role}"] = _ratio(pk.value, ref)
    row["reference_role"] = reference_role
    row["warnings"] = warnings
    return row
