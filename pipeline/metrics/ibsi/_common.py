"""Shared pieces of the IBSI extra-feature modules: the feature record, parameters and input checks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...errors import InvalidInputError
from ..features import FeatureValue
from ..ibsi_codes import IBSI_3D_FEATURES
from ..peak import PEAK_RADIUS_MM

__all__ = ["FeatureValue", "IbsiParams", "SOURCE", "FAMILIES", "IVH_MODES", "Inputs", "as_params", "check_inputs",
           "feature"]

#: ``source`` of every value computed by this package.
SOURCE = "petvoi"
#: Families, in output order (the prefix of every feature name).
FAMILIES = ("morphology", "local_intensity", "intensity_statistics", "intensity_histogram", "ivh", "gldzm",
            "ngldm")
IVH_MODES = ("discretised", "continuous")


@dataclass(frozen=True)
class IbsiParams:
    """Settings of :func:`pipeline.metrics.ibsi.extra_features`.

    Parameters
    ----------
    families : sequence of str
        Families to compute, among :data:`FAMILIES` (the family names of
        :data:`pipeline.metrics.ibsi_codes.IBSI_3D_FEATURES`).
    ivh_mode : {"discretised", "continuous"}
        ``discretised`` (IBSI digital phantom, CT with integer HU, FBN): the IVH uses the ``discretised``
        values themselves with step 1 over ``ivh_range`` (default: their min..max in the ROI).
        ``continuous`` (PET SUV): the intensities are binned with ``ivh_bin_width`` from ``ivh_lower`` and
        replaced by the bin centres (IBSI "continuous calibrated image intensities").
    ivh_bin_width : float, optional
        Step of the continuous IVH in intensity units (e.g. 0.1 SUV, as IBSI suggests for FDG).
    ivh_lower, ivh_upper : float, optional
        Continuous IVH: intensity range (e.g. the re-segmentation range); default the ROI min and max.
        For SUV use ``ivh_lower=0``.
    ivh_range : tuple of float, optional
        Discretised IVH: total range G of discretised values (default: min..max in the ROI).
    peak_radius_mm : float
        Radius of the local/global intensity peak sphere (default 1 cm³: 6.2035 mm).
    auc_csh : bool
        Also return ``ivh_area_under_csh_curve_3D``, the AUC of the cumulative SUV-volume histogram
        (van Velden 2011), with an empty IBSI code (default False).
    """

    families: tuple[str, ...] = FAMILIES
    ivh_mode: str = "discretised"
    ivh_bin_width: float | None = None
    ivh_lower: float | None = None
    ivh_upper: float | None = None
    ivh_range: tuple[float, float] | None = None
    peak_radius_mm: float = PEAK_RADIUS_MM
    auc_csh: bool = False

    def __post_init__(self) -> None:
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown:
            raise InvalidInputError(f"unknown IBSI feature families {unknown}", attribute="families",
                                    remedy=f"use some of {list(FAMILIES)}")
        if self.ivh_mode not in IVH_MODES:
            raise InvalidInputError(f"unknown IVH mode {self.ivh_mode!r}", attribute="ivh_mode",
                                    remedy=f"use one of {list(IVH_MODES)}")
        if self.ivh_mode == "continuous" and not (self.ivh_bin_width is not None and self.ivh_bin_width > 0):
            raise InvalidInputError("the continuous IVH needs a positive ivh_bin_width", attribute="ivh_bin_width",
                                    remedy="give the IVH step in intensity units, e.g. 0.1 for SUV")
        if not self.peak_radius_mm > 0:
            raise InvalidInputError(f"peak radius must be positive, got {self.peak_radius_mm}",
                                    attribute="peak_radius_mm")


def as_params(params: IbsiParams | Mapping[str, Any] | None) -> IbsiParams:
    """Settings from ``None`` (defaults), an :class:`IbsiParams` or a mapping of its fields.

    Raises
    ------
    InvalidInputError
        For unknown keys or invalid values.
    """
    if params is None:
        return IbsiParams()
    if isinstance(params, IbsiParams):
        return params
    if isinstance(params, Mapping):
        names = {f.name for f in fields(IbsiParams)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise InvalidInputError(f"unknown IBSI feature settings {unknown}", attribute="params",
                                    remedy=f"use some of {sorted(names)}")
        kwargs = dict(params)
        if "families" in kwargs:
            kwargs["families"] = tuple(kwargs["families"])
        if kwargs.get("ivh_range") is not None:
            kwargs["ivh_range"] = tuple(float(v) for v in kwargs["ivh_range"])
        return IbsiParams(**kwargs)
    raise InvalidInputError(f"IBSI feature settings must be IbsiParams or a mapping, got {type(params).__name__}",
                            attribute="params")


@dataclass(frozen=True)
class Inputs:
    """Validated inputs shared by the family modules (arrays (z, y, x), spacing (z, y, x) in mm)."""

    image: NDArray[np.float64]
    discretised: NDArray[np.int64]
    mask: NDArray[np.bool_]
    spacing_zyx: NDArray[np.float64]

    @property
    def values(self) -> NDArray[np.float64]:
        """Intensities of the ROI voxels, in (z, y, x) order."""
        return self.image[self.mask]

    @property
    def levels(self) -> NDArray[np.int64]:
        """Discretised intensities (bin indices) of the ROI voxels."""
        return self.discretised[self.mask]


def check_inputs(image: Any, discretised: Any, mask: Any, spacing_xyz: Sequence[float]) -> Inputs:
    """Validate and convert the arrays of :func:`extra_features`.

    Raises
    ------
    InvalidInputError
        For arrays that are not 3D or differ in shape, an empty mask, non-finite intensities or bin indices
        below 1 inside the mask, non-integer bin indices, or a spacing that is not three positive numbers.
    """
    img = np.asarray(image, dtype=np.float64)
    disc_raw = np.asarray(discretised)
    msk = np.asarray(mask)
    if img.ndim != 3 or disc_raw.shape != img.shape or msk.shape != img.shape:
        raise InvalidInputError(f"image, discretised and mask must be 3D arrays of one shape, got {img.shape}, "
                                f"{disc_raw.shape} and {msk.shape}", attribute="arrays (z, y, x)")
    spacing = np.asarray(spacing_xyz, dtype=np.float64)
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise InvalidInputError(f"spacing must be three positive numbers (x, y, z) in mm, got {spacing_xyz!r}",
                                attribute="spacing_xyz")
    msk = msk.astype(bool)
    if not msk.any():
        raise InvalidInputError("the ROI mask is empty", attribute="mask")
    if not np.all(np.isfinite(img[msk])):
        raise InvalidInputError("the image has non-finite values inside the ROI", attribute="image")
    inside = disc_raw[msk]
    if not np.issubdtype(disc_raw.dtype, np.integer):
        if not np.all(np.isfinite(inside)) or np.any(inside != np.round(inside)):
            raise InvalidInputError("discretised intensities must be integer bin indices inside the ROI",
                                    attribute="discretised")
    disc = np.where(msk, disc_raw, 0).astype(np.int64)
    if disc[msk].min() < 1:
        raise InvalidInputError(f"discretised bin indices must be >= 1 inside the ROI, found {disc[msk].min()}",
                                attribute="discretised", remedy="discretise with bins numbered from 1 (IBSI)")
    return Inputs(img, disc, msk, spacing[::-1].copy())


def feature(family: str, name: str, value: float, code: str | None = None) -> FeatureValue:
    """A :class:`FeatureValue` named ``{family}_{name}_3D`` computed by this package.

    The IBSI code is looked up in :data:`pipeline.metrics.ibsi_codes.IBSI_3D_FEATURES` unless ``code`` is
    given (``""`` for a feature IBSI does not define).
    """
    if code is None:
        code = IBSI_3D_FEATURES[family][name]
    return FeatureValue(feature=f"{family}_{name}_3D", family=family, ibsi_code=code, value=float(value),
                        source=SOURCE)
