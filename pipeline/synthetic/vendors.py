"""Vendor flavours of the PET headers (rules R5-R8 and R14-R20 of ``reference/suv.md``).

========  =====  ===========================================  ==============================
flavour   Units  SeriesDate/Time                              FrameReferenceTime, private
========  =====  ===========================================  ==============================
siemens   BQML   start of the first bed (= reference time)    T_ave convention (R17);
                                                              (0071,1022) decay-corr. DT
ge        BQML   series re-created 20-40 min after the scan   0 for the first bed (R18);
                                                              (0009,100D) scan datetime
philips   CNTS   start of the first bed (= reference time)    T_ave convention;
                                                              (7053,1000) SSF, (7053,1009) ACSF
========  =====  ===========================================  ==============================

With the T_ave convention, bed k starting ``offset_s`` after the reference time with
duration T has ``FrameReferenceTime = 1000 * (offset_s + T_ave)``, where
``T_ave = ln(lambda*T / (1 - exp(-lambda*T))) / lambda``; with the GE convention it is
``1000 * offset_s``. In both, ``DecayFactor = 2 ** (FrameReferenceTime / 1000 / T_half)``
and the reference time is ``t_acq + T_ave - FRT/1000`` (T_ave) or ``t_acq - FRT/1000`` (GE).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Literal

from pydicom.dataset import Dataset

from .dicom_common import ds_str, dt_str

__all__ = ["Vendor", "VENDORS", "VENDOR_CYCLE", "frame_reference_time_ms", "add_pet_private_tags"]


@dataclass(frozen=True)
class Vendor:
    """Header conventions of one scanner vendor.

    Attributes
    ----------
    key : str
        ``siemens``, ``ge`` or ``philips``.
    manufacturer : str
        Manufacturer (0008,0070).
    model : str
        ManufacturerModelName (0008,1090).
    software : str
        SoftwareVersions (0018,1020).
    units : str
        PET Units (0054,1001): ``BQML`` or ``CNTS``.
    frame_reference : {"t_ave", "start"}
        FrameReferenceTime convention.
    series_delay_s : tuple of float
        Range of the delay of SeriesTime after the end of the acquisition (0: SeriesTime is
        the reference time).
    """

    key: str
    manufacturer: str
    model: str
    software: str
    units: Literal["BQML", "CNTS"]
    frame_reference: Literal["t_ave", "start"]
    series_delay_s: tuple[float, float]


VENDORS: Mapping[str, Vendor] = MappingProxyType({
    "siemens": Vendor("siemens", "SIEMENS", "Biograph Vision 600", "VG80B", "BQML", "t_ave", (0.0, 0.0)),
    "ge": Vendor("ge", "GE MEDICAL SYSTEMS", "Discovery MI", "pet_coreload.46.40", "BQML", "start",
                 (20 * 60.0, 40 * 60.0)),
    "philips": Vendor("philips", "Philips Medical Systems", "Vereos PET/CT", "4.0.1", "CNTS", "t_ave", (0.0, 0.0)),
})

#: Vendor of subject i is ``VENDOR_CYCLE[i % 6]``: every tracer meets two vendors.
VENDOR_CYCLE: tuple[str, ...] = ("siemens", "ge", "philips", "ge", "philips", "siemens")

GE_CREATOR = "GEMS_PETD_01"
PHILIPS_CREATOR = "Philips PET Private Group"
SIEMENS_CREATOR = "SIEMENS MED PT"


def average_count_time_s(duration_s: float, half_life_s: float) -> float:
    """T_ave (s): time after frame start at which the mean decaying count rate occurs."""
    lam = math.log(2.0) / half_life_s
    return math.log(lam * duration_s / -math.expm1(-lam * duration_s)) / lam


def frame_reference_time_ms(vendor: Vendor, offset_s: float, duration_s: float, half_life_s: float) -> float:
    """FrameReferenceTime (ms) of a bed starting ``offset_s`` seconds after the reference time.

    Parameters
    ----------
    vendor : Vendor
        Header flavour.
    offset_s : float
        Bed start minus reference time, s.
    duration_s : float
        Frame duration, s.
    half_life_s : float
        Nuclide half-life, s.
    """
    if vendor.frame_reference == "start":
        return 1000.0 * offset_s
    return 1000.0 * (offset_s + average_count_time_s(duration_s, half_life_s))


def add_pet_private_tags(ds: Dataset, vendor: Vendor, reference: datetime,
                         acsf: float | None, ssf: float | None) -> None:
    """Add the vendor's private PET attributes to ``ds`` through their creator blocks.

    Parameters
    ----------
    ds : Dataset
        PET instance.
    vendor : Vendor
        Header flavour.
    reference : datetime
        Decay-correction reference time (local, naive).
    acsf, ssf : float or None
        Philips Activity Concentration and SUV Scale Factors (Philips only).
    """
    if vendor.key == "ge":
        ds.private_block(0x0009, GE_CREATOR, create=True).add_new(0x0D, "DT", dt_str(reference))
    elif vendor.key == "siemens":
        ds.private_block(0x0071, SIEMENS_CREATOR, create=True).add_new(0x22, "DT", dt_str(reference))
    elif vendor.key == "philips":
        assert ssf is not None and acsf is not None  # Philips stores CNTS: both factors are set
        block = ds.private_block(0x7053, PHILIPS_CREATOR, create=True)
        block.add_new(0x00, "DS", ds_str(ssf))
        block.add_new(0x09, "DS", ds_str(acsf))
