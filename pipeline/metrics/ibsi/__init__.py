"""IBSI features that pyradiomics does not compute, implemented from the IBSI reference manual.

Source of the definitions and digital-phantom values: the IBSI reference manual, ``theibsi/ibsi-doc``
``docs/03_Image_features.rst`` (ibsi.readthedocs.io), Zwanenburg et al., Radiology 2020;295:328.
Feature names follow :mod:`pipeline.metrics.ibsi_codes`: ``{family}_{feature}_3D`` with the family and
feature names of ``IBSI_3D_FEATURES`` (e.g. ``intensity_histogram_mean_3D``, ``ivh_area_under_ivh_curve_3D``,
``gldzm_small_distance_emphasis_3D``), each with its IBSI code from there. Families and modules:

- ``intensity_statistics`` (:mod:`.intensity`): median absolute deviation, coefficient of variation, quartile
  coefficient of dispersion;
- ``intensity_histogram`` (:mod:`.histogram`): the 23 intensity-histogram features;
- ``ivh`` (:mod:`.ivh`): V10, V90, I10, I90, V10 - V90, I10 - I90, AUC, and optionally the
  AUC-CSH (``ivh_area_under_csh_curve_3D``, no IBSI code);
- ``local_intensity`` (:mod:`.peaks`): local and global intensity peak;
- ``gldzm`` (:mod:`.gldzm`): the 16 GLDZM features, 3D;
- ``ngldm`` (:mod:`.ngldm`): dependence count percentage and energy, 3D;
- ``morphology`` (:mod:`.morphology`): asphericity, compactness 1 and 2, spherical disproportion, centre of
  mass shift, integrated intensity, Moran's I, Geary's C, AABB / AEE / convex-hull densities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._common import FAMILIES, FeatureValue, IbsiParams, as_params, check_inputs
from .gldzm import grey_level_distance_zone
from .histogram import intensity_histogram
from .intensity import intensity_statistics
from .ivh import intensity_volume_histogram
from .morphology import morphology
from .ngldm import neighbouring_grey_level_dependence
from .peaks import local_intensity

__all__ = ["FAMILIES", "FeatureValue", "IbsiParams", "extra_features"]


def extra_features(image: Any, discretised: Any, mask: Any, spacing_xyz: Sequence[float],
                   params: IbsiParams | Mapping[str, Any] | None = None) -> list[FeatureValue]:
    """IBSI features missing from pyradiomics, for one ROI.

    Parameters
    ----------
    image : numpy.ndarray
        (z, y, x) intensities (SUV or HU) on the grid of the features, e.g. after resampling; the whole
        crop is used by the intensity peaks (the sphere reaches outside the ROI), so crop with a margin of
        at least the peak radius.
    discretised : numpy.ndarray
        (z, y, x) integer bin indices (>= 1 inside the ROI) from IBSI discretisation: fixed bin size from
        a lower bound, fixed bin number, or the image's own integer levels (digital phantom).
    mask : numpy.ndarray
        (z, y, x) boolean ROI, used as both the morphological and the intensity mask.
    spacing_xyz : sequence of float
        Voxel size (x, y, z) in mm.
    params : IbsiParams or mapping, optional
        Families to compute and IVH / peak settings (:class:`IbsiParams`); default all families,
        IVH on the discretised values.

    Returns
    -------
    list of FeatureValue
        Families in the order of :data:`FAMILIES` (those requested); ``source``
        ``"petvoi"``. Undefined values (e.g. Moran's I of a uniform ROI) are NaN.

    Raises
    ------
    InvalidInputError
        For arrays of different shapes or not 3D, an empty mask, bin indices < 1 or non-integer inside
        the ROI, non-finite intensities in the ROI, a bad spacing, or invalid settings.
    """
    settings = as_params(params)
    inputs = check_inputs(image, discretised, mask, spacing_xyz)
    runners = {
        "morphology": lambda: morphology(inputs),
        "local_intensity": lambda: local_intensity(inputs, settings),
        "intensity_statistics": lambda: intensity_statistics(inputs),
        "intensity_histogram": lambda: intensity_histogram(inputs),
        "ivh": lambda: intensity_volume_histogram(inputs, settings),
        "gldzm": lambda: grey_level_distance_zone(inputs),
        "ngldm": lambda: neighbouring_grey_level_dependence(inputs),
    }
    out: list[FeatureValue] = []
    for family in FAMILIES:
        if family in settings.families:
            out.extend(runners[family]())
    return out
