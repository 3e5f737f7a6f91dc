"""Options and bookkeeping of the SUV engine.

:class:`SuvOptions` holds the SUV kind and the overrides from the command line or a dosing table,
each declared with its flag and configuration key; :class:`Notes` collects warnings and takes or
refuses the fallbacks of the bad-value policy. Light: the CLI builds its parser from it.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from datetime import datetime

from ..errors import DicomError
from ..options import Options, option
from ..outputs.sidecars import SUV_KINDS
from ..policy import Policy
from .dosing import DosingRecord
from .nuclides import NUCLIDES, get_nuclide

__all__ = ["SuvOptions", "Notes", "KINDS", "LBM_FORMULAS"]

KINDS = SUV_KINDS
LBM_FORMULAS = ("janmahasatian", "james128")


def _iso_datetime(text: str) -> datetime:
    """Command-line datetime (ISO 8601, offset allowed)."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 datetime: {text!r}; write it like "
                                         "2025-03-03T09:27:19+01:00") from None


def _mbq_to_bq(mbq: float | None) -> float | None:
    return None if mbq is None else mbq * 1e6


@dataclass(frozen=True)
class SuvOptions(Options):
    """What SUV to compute and which DICOM values to override.

    Attributes
    ----------
    kind : {"bw", "lbm", "bsa", "ibw"}
        SUV normalisation (bsa in cm²/mL, the others in g/mL).
    lbm_formula : {"janmahasatian", "james128"}
        Lean-body-mass formula for ``kind="lbm"``.
    weight_kg, height_cm : float, optional
        Override PatientWeight (kg) and PatientSize (given in cm).
    sex : {"M", "F"}, optional
        Override PatientSex.
    dose_bq : float, optional
        Injected activity (Bq) at the injection time (given in MBq on the command line).
    injection_datetime : datetime, optional
        Injection (radiopharmaceutical start) datetime; naive means the scanner's local time.
    scan_datetime : datetime, optional
        Decay-correction reference datetime (DecayCorrection START) or scan start (ADMIN), used instead of
        the header's candidates; naive means the scanner's local time.
    nuclide : str, optional
        Nuclide key (``F18``, ``Ga68``...): overrides / cross-checks the header.
    dosing : DosingRecord, optional
        A row of a dosing table; command-line values win over it.
    reference_tolerance_s : float
        Tolerance (s) when comparing reference-time candidates (rule R16).
    policy : Policy
        Bad-value policy: ``header.fallback`` (every documented fallback), ``header.half_life_mismatch``
        (a header half-life > 1 % off the coded nuclide's), ``header.unknown_sex`` (sex O or missing
        where LBM/IBW need it: mean of male and female, or refused).
    """

    section = "suv"

    kind: str = option("bw", flag="--kind", key="suv.kind", choices=KINDS,
                       help="SUV normalisation: body weight, lean body mass (SUL), body surface area or ideal "
                            "body weight")
    lbm_formula: str = option("janmahasatian", flag="--lbm-formula", key="suv.lbm_formula", choices=LBM_FORMULAS,
                              help="lean-body-mass formula for --kind lbm (default janmahasatian)")
    weight_kg: float | None = option(None, flag="--weight", type=float, metavar="KG",
                                     help="patient weight in kg (overrides PatientWeight)")
    height_cm: float | None = option(None, flag="--height", type=float, metavar="CM",
                                     help="patient height in cm (overrides PatientSize)")
    sex: str | None = option(None, flag="--sex", choices=("M", "F"), help="patient sex (overrides PatientSex)")
    dose_bq: float | None = option(None, flag="--dose", type=float, metavar="MBQ", from_arg=_mbq_to_bq,
                                   help="injected activity in MBq at the injection time")
    injection_datetime: datetime | None = option(
        None, flag="--injection", type=_iso_datetime, metavar="ISO_DATETIME",
        help="injection datetime, e.g. 2025-03-03T09:27:19+01:00 (overrides the DICOM start time)")
    scan_datetime: datetime | None = option(
        None, flag="--scan-time", type=_iso_datetime, metavar="ISO_DATETIME",
        help="decay-correction reference (scan start) datetime, for a header without series, acquisition or "
             "frame times (overrides the DICOM reference time; recorded as an override)")
    nuclide: str | None = option(None, flag="--nuclide", choices=tuple(NUCLIDES),
                                 help="radionuclide (overrides/cross-checks the DICOM header)")
    dosing: DosingRecord | None = None
    reference_tolerance_s: float = option(1.0, key="suv.reference_tolerance_s")
    policy: Policy = field(default_factory=Policy)

    def validate(self) -> None:
        """Raise :class:`InvalidInputError` naming the first invalid option."""
        self.check_choice("kind", KINDS, "SUV kind")
        self.check_choice("lbm_formula", LBM_FORMULAS, "LBM formula")
        if self.sex is not None and self.sex not in ("M", "F"):
            sex = self.name("sex")
            raise self.invalid("sex", f"must be M or F, got {self.sex!r}", remedy=f"give {sex} M or {sex} F")
        for name in ("weight_kg", "height_cm", "dose_bq"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise self.invalid(name, f"must be a positive number, got {value!r}", remedy="give a value > 0")
        if self.nuclide is not None:
            try:
                get_nuclide(self.nuclide)
            except KeyError:
                raise self.invalid("nuclide", f"unknown radionuclide {self.nuclide!r}", allowed=NUCLIDES) from None
        if not (math.isfinite(self.reference_tolerance_s) and self.reference_tolerance_s >= 0):
            raise self.invalid("reference_tolerance_s", "must be >= 0", remedy="fix the option")


class Notes:
    """Warnings of one computation, and the ``header.*`` fallbacks of the bad-value policy.

    Parameters
    ----------
    source : str
        Series name for error messages.
    options : SuvOptions, optional
        The run's options: their policy decides whether fallbacks are taken (with a warning) or
        refused, and :meth:`name` names an option in remedies.
    """

    def __init__(self, source: str, options: SuvOptions | None = None) -> None:
        self.source = source
        self.options = options if options is not None else SuvOptions()
        self.policy = self.options.policy
        self.warnings: list[str] = []

    def name(self, option: str) -> str:
        """How the user sets ``option`` (its flag or configuration key)."""
        return self.options.name(option)

    def warn(self, text: str) -> None:
        """Record a warning (once)."""
        if text not in self.warnings:
            self.warnings.append(text)

    def fallback(self, text: str, *, attribute: str, remedy: str, check: str = "header.fallback") -> None:
        """Take a fallback with a warning, or refuse it when the policy's ``check`` says raise.

        Raises
        ------
        DicomError
            When the policy refuses the fallback.
        """
        error = DicomError(f"{text} (refused by the policy {check})", source=self.source, attribute=attribute,
                           remedy=remedy)
        self.policy.apply(check, text, error, self.warnings)
