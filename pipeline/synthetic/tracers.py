"""Tracers of the synthetic trials: nuclide, dosing, timing and plausible biodistribution.

Organ SUVbw values are nominal means for the uptake time of each tracer; the phantom
jitters them per subject and timepoint. They are plausible, not literature-fitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["Tracer", "TRACERS", "TRACER_CYCLE"]


@dataclass(frozen=True)
class Tracer:
    """A radiopharmaceutical as used by one synthetic trial.

    Attributes
    ----------
    key : str
        Short key (``il2r``, ``sstr``, ``cd8``).
    name : str
        Radiopharmaceutical name as written to DICOM and the sample sheet.
    nuclide : str
        Nuclide key of :mod:`pipeline.suv.nuclides`.
    marker : str
        IHC marker matching the tracer target.
    dose_mbq : tuple of float
        Range of net injected activity in MBq.
    uptake_s : tuple of float
        Range of injection-to-scan time in seconds.
    frame_duration_s : float
        Duration of one bed position in seconds.
    organ_suv : Mapping[str, float]
        Nominal SUVbw per organ structure (``body`` is the background).
    lesion_suv : tuple of float
        Range of baseline SUVbw of malignant lesions.
    lesion_sites : Mapping[str, float]
        Relative frequency of lesion sites (liver, lung, lymph_node, bone, soft_tissue).
    """

    key: str
    name: str
    nuclide: str
    marker: str
    dose_mbq: tuple[float, float]
    uptake_s: tuple[float, float]
    frame_duration_s: float
    organ_suv: Mapping[str, float] = field(repr=False)
    lesion_suv: tuple[float, float]
    lesion_sites: Mapping[str, float] = field(repr=False)


_DAY = 86400.0

TRACERS: Mapping[str, Tracer] = MappingProxyType({
    "il2r": Tracer(
        "il2r", "[18F]AlF-RESCA-IL2", "F18", "IL2R", (200.0, 370.0), (55 * 60.0, 65 * 60.0), 120.0,
        MappingProxyType({"body": 0.8, "liver": 2.2, "spleen": 3.6, "kidney_left": 9.0, "kidney_right": 9.0,
                          "aorta": 1.7, "muscle": 0.55, "bladder": 22.0}),
        (3.0, 12.0),
        MappingProxyType({"liver": 1.0, "lung": 1.0, "lymph_node": 1.5, "bone": 0.5, "soft_tissue": 1.0}),
    ),
    "sstr": Tracer(
        "sstr", "[68Ga]Ga-DOTATATE", "Ga68", "SSTR2", (100.0, 200.0), (55 * 60.0, 65 * 60.0), 150.0,
        MappingProxyType({"body": 0.7, "liver": 6.5, "spleen": 18.0, "kidney_left": 13.0, "kidney_right": 13.0,
                          "aorta": 1.5, "muscle": 0.6, "bladder": 20.0}),
        (6.0, 15.0),
        MappingProxyType({"liver": 3.0, "lung": 0.3, "lymph_node": 1.0, "bone": 0.7, "soft_tissue": 0.3}),
    ),
    "cd8": Tracer(
        "cd8", "[89Zr]Zr-Df-crefmirlimab", "Zr89", "CD8", (37.0, 74.0), (6 * _DAY + 3600.0, 6 * _DAY + 4 * 3600.0),
        300.0,
        MappingProxyType({"body": 0.6, "liver": 4.5, "spleen": 14.0, "kidney_left": 2.6, "kidney_right": 2.6,
                          "aorta": 1.6, "muscle": 0.5, "bladder": 1.4}),
        (3.0, 10.0),
        MappingProxyType({"liver": 0.7, "lung": 1.2, "lymph_node": 2.0, "bone": 0.5, "soft_tissue": 1.0}),
    ),
})

#: Tracer of subject i is ``TRACER_CYCLE[i % 3]``.
TRACER_CYCLE: tuple[str, ...] = ("il2r", "sstr", "cd8")
