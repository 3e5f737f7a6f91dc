"""The record of one feature value, shared by every texture source (pyradiomics and :mod:`pipeline.metrics.ibsi`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FeatureValue"]


@dataclass(frozen=True)
class FeatureValue:
    """One feature of one VOI.

    Attributes
    ----------
    feature : str
        petvoi name ``{family}_{feature}_{aggregation}``, e.g. ``glcm_joint_entropy_3D_comb``.
    family : str
        IBSI family (``morphology``, ``intensity_statistics``, ``glcm``, ...).
    ibsi_code : str
        IBSI 4-character code, or ``""`` for a feature IBSI does not define.
    value : float
        Feature value (units of the feature: mm, mm^2, mm^3, image units or unitless).
    source : str
        ``"pyradiomics"`` or ``"petvoi"``.
    """

    feature: str
    family: str
    ibsi_code: str
    value: float
    source: str
