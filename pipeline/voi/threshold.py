"""Threshold VOIs from an SUV image: fixed SUV, percentage of the maximum (EANM 41 %), PERCIST.

Rules (``reference/suv.md`` section 5)
--------------------------------------
* **fixed**: voxels with SUV >= T (e.g. 2.5).
* **percentage of max**: voxels >= P % of the maximum SUV inside a seed region (a VOI or a sphere
  drawn around the lesion); EANM recommends P = 41.
* **PERCIST**: voxels with SUL >= 1.5 x liver SULmean + 2 x liver SD (Wahl 2009), the mean and
  SD taken over the voxels of a normal-liver reference VOI (PERCIST: a 3 cm sphere in the right
  lobe). The SD is the sample SD (``ddof=1``, :data:`LIVER_SD_DDOF`), as the uptake table's
  ``suv_sd``/``sul_sd``, so that the threshold can be recomputed from that table.

SUL for PERCIST: PERCIST is defined on SUL (SUV normalised by lean body mass). The caller gives
``sul_per_suv``, the factor from the image's values to SUL: 1 when the image already is SUL
(``petvoi suv --kind lbm``), LBM / body weight for an SUVbw image (the uptake stage's
``pipeline.suv.sul.sul_factor`` computes it from ``suv.json``; use the same so that SUL
agrees across tables). The threshold is applied as ``image x sul_per_suv >= T_SUL``
and recorded both in SUL and in image units.

Comparisons are ``>=`` on the stored float values; NaN voxels never pass.

Search region and connected components
--------------------------------------
A threshold is applied inside a region (default: the whole image), which is also where the
maximum of the percentage rule is taken. ``cc`` chooses what is kept, with 26-connectivity
(``scipy.ndimage.label`` with a full 3x3x3 structure):

* ``all`` (default): every voxel >= T inside the region;
* ``max``: only the connected component, inside the region, that holds the region's maximum voxel
  (the first in C order on ties);
* ``seed``: every connected component of the **whole-image** threshold that touches the region
  (region growing from a seed VOI or sphere: the VOI may extend beyond the region).

Every VOI records the threshold used in its ``source`` (e.g. ``threshold:41%max=4.1 of SUVmax
10.0:within=lesion_sphere``) and the numbers in the set's provenance (``thresholds``).

Organs: a tumour VOI thresholded over the whole image (no region) takes every voxel above the
threshold, the hot organs' (kidneys, spleen, bladder) included; its catalogue entry therefore says
``exclude_from_organs: false``, and the uptake stage does not remove its voxels from organ and
reference statistics (a ``--threshold`` spec opts in with ``exclude_from_organs=yes``). A tumour VOI
thresholded inside a region (a lesion's seed VOI or sphere) is left out of organs like any lesion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
from scipy import ndimage

from ..dicom.geometry import Geometry
from ..errors import InvalidInputError
from .catalogue import Voi, VoiSet
from .names import DEFAULT_NAME_RULES, NameRule, classify
from .spheres import catalogue_entry

__all__ = ["CC_MODES", "PERCIST_LIVER_FACTOR", "PERCIST_SD_FACTOR", "PercistReference", "threshold_mask",
           "LIVER_SD_DDOF", "keep_components", "percist_reference", "fixed_threshold_vois", "percent_max_vois",
           "percist_vois"]

CC_MODES = ("all", "max", "seed")
#: PERCIST 1.0 threshold: 1.5 x liver SULmean + 2 x liver SD.
PERCIST_LIVER_FACTOR = 1.5
PERCIST_SD_FACTOR = 2.0
#: Degrees of freedom of the liver SD: 1, the sample SD (as the uptake table's SD columns).
LIVER_SD_DDOF = 1
_STRUCTURE = ndimage.generate_binary_structure(3, 3)  # 26-connectivity


@dataclass(frozen=True)
class PercistReference:
    """The PERCIST threshold and the liver statistics it comes from.

    Attributes
    ----------
    threshold_sul : float
        1.5 x ``liver_mean_sul`` + 2 x ``liver_sd_sul`` (g/mL, SUL).
    liver_mean_sul : float
        Mean SUL over the liver reference voxels.
    liver_sd_sul : float
        Sample SD (ddof=1) of SUL over the liver reference voxels.
    n_voxels : int
        Liver reference voxels used (finite values only).
    sul_per_suv : float
        Factor applied to the image values to get SUL.
    """

    threshold_sul: float
    liver_mean_sul: float
    liver_sd_sul: float
    n_voxels: int
    sul_per_suv: float

    @property
    def threshold_image(self) -> float:
        """The threshold in the image's units (SUV): ``threshold_sul / sul_per_suv``."""
        return self.threshold_sul / self.sul_per_suv


def _check_image(image: np.ndarray, geometry: Geometry) -> np.ndarray:
    image = np.asarray(image)
    if image.shape != tuple(geometry.shape):
        raise InvalidInputError(f"SUV image shape {image.shape} does not match the grid {tuple(geometry.shape)}",
                                attribute="SUV image", remedy="threshold a 3D SUV volume on the PET grid")
    return image


@overload
def _check_region(region: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray: ...


@overload
def _check_region(region: np.ndarray | None, shape: tuple[int, ...], what: str) -> np.ndarray | None: ...


def _check_region(region: np.ndarray | None, shape: tuple[int, ...], what: str) -> np.ndarray | None:
    if region is None:
        return None
    region = np.asarray(region, dtype=bool)
    if region.shape != shape:
        raise InvalidInputError(f"region shape {region.shape} does not match the image {shape}", source=what,
                                remedy="build seed VOIs on the PET grid")
    if not region.any():
        raise InvalidInputError("the seed/search region is empty", source=what,
                                remedy="give a region with at least one voxel")
    return region


def _check_cc(cc: str, region: np.ndarray | None, what: str) -> None:
    if cc not in CC_MODES:
        raise InvalidInputError(f"unknown component rule {cc!r}", source=what,
                                remedy=f"use one of {', '.join(CC_MODES)}")
    if cc == "seed" and region is None:
        raise InvalidInputError("cc=seed needs a seed region", source=what, remedy="give a seed VOI or sphere")


def keep_components(mask: np.ndarray, *, keep: str, image: np.ndarray | None = None,
                    region: np.ndarray | None = None) -> np.ndarray:
    """Select 26-connected components of a boolean mask.

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean (z, y, x) mask.
    keep : {"all", "max", "seed"}
        ``all``: the mask unchanged; ``max``: the component holding the maximum of ``image`` over
        ``region`` (or over the mask when no region); ``seed``: every component touching ``region``.
    image : numpy.ndarray, optional
        Needed for ``max``.
    region : numpy.ndarray, optional
        Boolean (z, y, x); needed for ``seed``.

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    mask = np.asarray(mask, dtype=bool)
    if keep == "all" or not mask.any():
        return mask
    labels, _ = ndimage.label(mask, structure=_STRUCTURE)
    if keep == "max":
        if image is None:
            raise ValueError("keep='max' needs the image")
        where = region if region is not None else mask
        values = np.where(where, np.nan_to_num(np.asarray(image, dtype=float), nan=-np.inf), -np.inf)
        peak = np.unravel_index(int(np.argmax(values)), mask.shape)
        label = labels[peak]
        return labels == label if label else np.zeros_like(mask)
    if keep == "seed":
        if region is None:
            raise ValueError("keep='seed' needs a region")
        touching = np.unique(labels[region & mask])
        touching = touching[touching > 0]
        return np.isin(labels, touching)
    raise ValueError(f"unknown component rule {keep!r}; use one of {CC_MODES}")


def threshold_mask(image: np.ndarray, threshold: float, *, region: np.ndarray | None = None,
                   cc: str = "all") -> np.ndarray:
    """Voxels of ``image`` >= ``threshold`` inside ``region``, then the connected-component rule.

    Parameters
    ----------
    image : numpy.ndarray
        (z, y, x) values (SUV, or SUL for PERCIST).
    threshold : float
        In the image's units.
    region : numpy.ndarray, optional
        Boolean (z, y, x) search region; None: the whole image.
    cc : {"all", "max", "seed"}
        Component rule (module docstring); ``seed`` needs a region.

    Returns
    -------
    numpy.ndarray
        Boolean (z, y, x) mask.
    """
    if cc not in CC_MODES:
        raise ValueError(f"unknown component rule {cc!r}; use one of {CC_MODES}")
    with np.errstate(invalid="ignore"):
        above = np.asarray(image) >= threshold
    if cc == "seed":
        if region is None:
            raise ValueError("cc='seed' needs a seed region")
        return keep_components(above, keep="seed", region=region)
    inside = above & region if region is not None else above
    return keep_components(inside, keep=cc, image=image, region=region)


def _voiset(geometry: Geometry, mask: np.ndarray, name: str, kind: str | None, rules: Sequence[NameRule],
            source: str, record: dict[str, Any], *, whole_image: bool) -> VoiSet:
    if kind is None:  # a name matching a rule (``liver``) keeps its kind; anything else is a lesion
        kind_, organ, lesion_id = classify(name, "GTV", rules)
    else:
        kind_, organ, lesion_id = catalogue_entry(name, kind, rules, what=source)
    warnings = () if mask.any() else ("no voxel at or above the threshold",)
    # a whole-image threshold takes every hot voxel, organs' included: it does not carve organs by default
    exclude = (not whole_image) if kind_ == "tumour" else None
    voi = Voi(0, name, kind_, lesion_id, organ, source, warnings=warnings, exclude_from_organs=exclude)
    record = {"name": name, **record, "whole_image": whole_image, "exclude_from_organs": exclude}
    return VoiSet.from_masks(geometry, [(mask, voi)], {"thresholds": [record]})


def _region_text(region_name: str | None) -> str:
    return f":within={region_name}" if region_name else ""


def fixed_threshold_vois(suv: np.ndarray, geometry: Geometry, threshold_suv: float, *, name: str,
                         region: np.ndarray | None = None, region_name: str | None = None, cc: str = "all",
                         kind: str | None = None, rules: Sequence[NameRule] = DEFAULT_NAME_RULES) -> VoiSet:
    """One VOI of the voxels with SUV >= a fixed threshold (e.g. 2.5).

    Parameters
    ----------
    suv : numpy.ndarray
        (z, y, x) SUV (g/mL) on ``geometry``.
    geometry : Geometry
        The PET grid.
    threshold_suv : float
        Threshold (g/mL, same units as ``suv``), finite.
    name : str
        VOI name.
    region : numpy.ndarray, optional
        Boolean search region (z, y, x); None: the whole image.
    region_name : str, optional
        How the region is named in the VOI source.
    cc : {"all", "max", "seed"}
        Connected-component rule (module docstring).
    kind : str, optional
        Catalogue kind; None: from the name, a tumour when no name rule matches (``--threshold`` specs
        of the whole image must give it).
    rules : sequence of NameRule
        Name-to-kind rules.

    Returns
    -------
    VoiSet
        One VOI; ``source`` ``threshold:suv>=T[:within=R][:cc=C]``.
    """
    suv = _check_image(suv, geometry)
    if not math.isfinite(threshold_suv):
        raise InvalidInputError(f"threshold {threshold_suv!r} is not a finite number", source=name,
                                remedy="give e.g. suv>=2.5")
    region = _check_region(region, suv.shape, name)
    _check_cc(cc, region, name)
    mask = threshold_mask(suv, threshold_suv, region=region, cc=cc)
    source = f"threshold:suv>={threshold_suv:g}{_region_text(region_name)}:cc={cc}"
    record = {"rule": "fixed", "threshold_suv": float(threshold_suv), "region": region_name, "cc": cc}
    return _voiset(geometry, mask, name, kind, rules, source, record, whole_image=region is None)


def percent_max_vois(suv: np.ndarray, geometry: Geometry, percent: float, region: np.ndarray | None, *, name: str,
                     region_name: str | None = None, cc: str = "all", kind: str | None = None,
                     rules: Sequence[NameRule] = DEFAULT_NAME_RULES) -> VoiSet:
    """One VOI of the voxels >= ``percent`` % of the maximum SUV inside a seed region (EANM: 41 %).

    Parameters
    ----------
    suv : numpy.ndarray
        (z, y, x) SUV (g/mL) on ``geometry``.
    geometry : Geometry
        The PET grid.
    percent : float
        Percentage of the maximum, in (0, 100].
    region : numpy.ndarray
        Boolean seed region (z, y, x) where the maximum is taken (and, unless ``cc="seed"``, the
        threshold applied): a VOI or a sphere around the lesion.
    name : str
        VOI name.
    region_name : str, optional
        How the region is named in the VOI source.
    cc : {"all", "max", "seed"}
        Connected-component rule (module docstring).
    kind : str, optional
        Catalogue kind; None: from the name, a tumour when no name rule matches (``--threshold`` specs
        of the whole image must give it).
    rules : sequence of NameRule
        Name-to-kind rules.

    Returns
    -------
    VoiSet
        One VOI; ``source`` ``threshold:P%max=T of SUVmax M:within=R:cc=C``.

    Raises
    ------
    InvalidInputError
        Percentage outside (0, 100], empty region, or a region whose maximum is not positive.
    """
    suv = _check_image(suv, geometry)
    if not (math.isfinite(percent) and 0 < percent <= 100):
        raise InvalidInputError(f"percentage {percent!r} must be in (0, 100]", source=name,
                                remedy="give e.g. 41%max")
    region = _check_region(region, suv.shape, name)
    if region is None:
        raise InvalidInputError("a percentage-of-max threshold needs a seed region", source=name,
                                remedy="give within=VOI or sphere=x,y,z,d")
    _check_cc(cc, region, name)
    values = suv[region]
    suv_max = float(np.nanmax(values)) if np.isfinite(values).any() else float("nan")
    if not (suv_max > 0):
        raise InvalidInputError(f"the maximum SUV in the seed region is {suv_max:g}", source=name,
                                remedy="place the seed region on the lesion")
    threshold = percent / 100.0 * suv_max
    mask = threshold_mask(suv, threshold, region=region, cc=cc)
    source = f"threshold:{percent:g}%max={threshold:.6g} of SUVmax {suv_max:.6g}{_region_text(region_name)}:cc={cc}"
    record = {"rule": "percent_max", "percent": float(percent), "suv_max": suv_max, "threshold_suv": threshold,
              "region": region_name, "cc": cc}
    return _voiset(geometry, mask, name, kind, rules, source, record, whole_image=region is None)


def percist_reference(image: np.ndarray, liver: np.ndarray, *, sul_per_suv: float) -> PercistReference:
    """PERCIST threshold 1.5 x liver SULmean + 2 x liver SD from a liver reference region.

    Parameters
    ----------
    image : numpy.ndarray
        (z, y, x) SUV (g/mL) or SUL image.
    liver : numpy.ndarray
        Boolean (z, y, x) normal-liver reference region (PERCIST: 3 cm sphere, right lobe).
    sul_per_suv : float
        Factor from image values to SUL (1 for an SUL image; LBM / weight for SUVbw), > 0.

    Returns
    -------
    PercistReference

    Raises
    ------
    InvalidInputError
        Non-positive factor, or fewer than 2 finite liver voxels.
    """
    if not (math.isfinite(sul_per_suv) and sul_per_suv > 0):
        raise InvalidInputError(f"SUL/SUV factor {sul_per_suv!r} must be positive", attribute="sul_per_suv",
                                remedy="1 for an SUL image, lean body mass / body weight for SUVbw")
    values = np.asarray(image, dtype=np.float64)[np.asarray(liver, dtype=bool)] * float(sul_per_suv)
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise InvalidInputError(f"liver reference has {values.size} voxel(s)", attribute="liver reference",
                                remedy="use a 3 cm sphere in normal liver")
    mean = float(values.mean())
    sd = float(values.std(ddof=LIVER_SD_DDOF))
    return PercistReference(PERCIST_LIVER_FACTOR * mean + PERCIST_SD_FACTOR * sd, mean, sd, int(values.size),
                            float(sul_per_suv))


def percist_vois(suv: np.ndarray, geometry: Geometry, liver: np.ndarray, *, sul_per_suv: float, name: str,
                 liver_name: str | None = None, region: np.ndarray | None = None, region_name: str | None = None,
                 cc: str = "all", kind: str | None = None,
                 rules: Sequence[NameRule] = DEFAULT_NAME_RULES) -> VoiSet:
    """One VOI of the voxels with SUL >= 1.5 x liver SULmean + 2 x liver SD (PERCIST 1.0).

    Parameters
    ----------
    suv : numpy.ndarray
        (z, y, x) SUV (g/mL) or SUL image on ``geometry``.
    geometry : Geometry
        The PET grid.
    liver : numpy.ndarray
        Boolean (z, y, x) normal-liver reference region.
    sul_per_suv : float
        Factor from image values to SUL (1 for an SUL image).
    name : str
        VOI name.
    liver_name : str, optional
        How the liver reference is named in the VOI source.
    region : numpy.ndarray, optional
        Boolean search region; None: the whole image.
    region_name : str, optional
        How the region is named in the VOI source.
    cc : {"all", "max", "seed"}
        Connected-component rule (module docstring).
    kind : str, optional
        Catalogue kind; None: from the name, a tumour when no name rule matches (``--threshold`` specs
        of the whole image must give it).
    rules : sequence of NameRule
        Name-to-kind rules.

    Returns
    -------
    VoiSet
        One VOI; ``source`` ``threshold:percist=T SUL (1.5 x M + 2 x SD, liver=L)...``; the provenance
        holds the liver mean, SD, voxel count, factor and the threshold in SUL and image units.
    """
    suv = _check_image(suv, geometry)
    liver = _check_region(liver, suv.shape, f"{name} liver reference")
    region = _check_region(region, suv.shape, name)
    _check_cc(cc, region, name)
    reference = percist_reference(suv, liver, sul_per_suv=sul_per_suv)
    sul = np.asarray(suv, dtype=np.float64) * reference.sul_per_suv
    mask = threshold_mask(sul, reference.threshold_sul, region=region, cc=cc)
    source = (f"threshold:percist={reference.threshold_sul:.6g} SUL (1.5 x {reference.liver_mean_sul:.6g} + "
              f"2 x {reference.liver_sd_sul:.6g}, liver={liver_name or 'reference'}, SUL/SUV "
              f"{reference.sul_per_suv:.6g}){_region_text(region_name)}:cc={cc}")
    record = {"rule": "percist", "threshold_sul": reference.threshold_sul,
              "threshold_suv": reference.threshold_image, "liver_mean_sul": reference.liver_mean_sul,
              "liver_sd_sul": reference.liver_sd_sul, "liver_sd_ddof": LIVER_SD_DDOF,
              "liver_n_voxels": reference.n_voxels, "liver": liver_name, "sul_per_suv": reference.sul_per_suv,
              "region": region_name, "cc": cc}
    return _voiset(geometry, mask, name, kind, rules, source, record, whole_image=region is None)
