"""Options of the metrics stages: uptake, texture, heterogeneity and inter-lesion spread.

Light (the CLI builds its parser from it); each option is declared with its flag and YAML key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..options import Options, option
from ..parallel import DaskOptions
from ..policy import Policy
from ..voi.names import KINDS

__all__ = ["UptakeOptions", "TextureOptions", "HeterogeneityOptions", "SpreadOptions", "PEAK_MODES",
           "LIVER_REFERENCES"]

#: SUVpeak definitions (:mod:`pipeline.metrics.peak`).
PEAK_MODES = ("global", "local")
#: Which liver reference VOI the ratios and PERCIST use: the 3 cm sphere (PERCIST 1.0) or the whole liver.
LIVER_REFERENCES = ("sphere", "whole_liver")


@dataclass(frozen=True)
class UptakeOptions(Options):
    """Settings of the uptake table (:func:`pipeline.metrics.uptake.uptake_table`).

    Attributes
    ----------
    peak_mode : {"global", "local"}
        SUVpeak: the sphere centre maximising the mean inside the VOI (PERCIST/IBSI), or centred on the maximum.
    exclude_tumours_from_organs : bool
        Organ and reference statistics leave out voxels of tumour VOIs and of a margin around them (a
        measurement definition, not a bad-value fallback: both are documented PERCIST practice).
    tumour_margin_mm : float or None
        That margin: None (default) one PET voxel in each direction (3 x 3 x 3 neighbourhood); a
        distance in mm (e.g. the scanner's FWHM): a ball on the voxel grid; 0: the tumour voxels only.
    liver_reference : {"sphere", "whole_liver"}
        The liver reference VOI of the ``*_to_liver`` ratios and of PERCIST (marked in the
        ``reference_role`` column): the 3 cm sphere (PERCIST 1.0, default) or the whole liver; the
        other one only as a fallback, with a warning.
    min_voxels : int
        VOIs with fewer voxels get a warning.
    policy : Policy
        Recorded in ``uptake.json``.
    """

    section = "uptake"

    peak_mode: str = option("global", flag="--peak", key="uptake.peak", choices=PEAK_MODES,
                            help="SUVpeak: global (max over sphere centres in the VOI; PERCIST) or local (centred "
                                 "on the max)")
    exclude_tumours_from_organs: bool = option(True, flag="--keep-tumours-in-organs",
                                               key="uptake.exclude_tumours_from_organs", action="store_true",
                                               from_arg=lambda keep: not keep,
                                               help="do not exclude tumour voxels from organ and reference "
                                                    "statistics")
    tumour_margin_mm: float | None = option(None, flag="--tumour-margin-mm", key="uptake.tumour_margin_mm",
                                            type=float, metavar="MM",
                                            help="organ and reference statistics leave out the tumour VOIs grown "
                                                 "by this distance in mm, e.g. the scanner FWHM (default: one PET "
                                                 "voxel in each direction; 0: the tumour voxels only)")
    liver_reference: str = option("sphere", flag="--liver-reference", key="uptake.liver_reference",
                                  choices=LIVER_REFERENCES,
                                  help="liver reference of the tumour-to-liver ratios and PERCIST: the 3 cm sphere "
                                       "(default, PERCIST 1.0; the whole liver only as a fallback, with a warning) "
                                       "or the whole liver")
    min_voxels: int = option(8, flag="--min-voxels", key="uptake.min_voxels", type=int,
                             help="warn for VOIs with fewer voxels (default 8)")
    policy: Policy = field(default_factory=Policy)

    def validate(self) -> None:
        """Refuse an unknown peak mode, a negative or non-finite margin, or a negative voxel count."""
        self.check_choice("peak_mode", PEAK_MODES, "SUVpeak mode")
        self.check_choice("liver_reference", LIVER_REFERENCES, "liver reference")
        margin = self.tumour_margin_mm
        if margin is not None and (isinstance(margin, bool) or not isinstance(margin, int | float)
                                   or not (math.isfinite(margin) and margin >= 0)):
            raise self.invalid("tumour_margin_mm", f"tumour margin must be a number of mm >= 0, got {margin!r}",
                               remedy="give e.g. the scanner FWHM in mm, 0 for the tumour voxels only, or leave it "
                                      "unset for one PET voxel")
        if int(self.min_voxels) < 0:
            raise self.invalid("min_voxels", f"min_voxels must be >= 0, got {self.min_voxels!r}")


def _kinds(text: str) -> tuple[str, ...]:
    return tuple(k.strip() for k in text.split(",") if k.strip())


@dataclass(frozen=True)
class TextureOptions(Options):
    """Settings of the texture stage besides the extraction parameters file.

    Attributes
    ----------
    kinds : tuple of str
        VOI kinds to process (default tumours).
    workers : int
        Local worker processes (dask; 1: in this process).
    dask : DaskOptions
        Where the VOIs' tasks run (configuration section ``dask``, :mod:`pipeline.parallel`).
    policy : Policy
        Recorded in ``texture.json``.
    """

    section = "texture"

    kinds: tuple[str, ...] = option(("tumour",), flag="--kinds", key="texture.kinds", type=_kinds,
                                    help="comma-separated VOI kinds to process (default tumour)")
    workers: int = option(1, flag="--workers", key="texture.workers", type=int,
                          help="local worker processes (dask; default 1; see --scheduler)")
    dask: DaskOptions = field(default_factory=DaskOptions)
    policy: Policy = field(default_factory=Policy)

    def __post_init__(self) -> None:
        if isinstance(self.kinds, str):  # the configuration writes "tumour,organ"
            object.__setattr__(self, "kinds", _kinds(self.kinds))
        super().__post_init__()

    def validate(self) -> None:
        """Refuse unknown VOI kinds and fewer than one worker."""
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown or not self.kinds:
            raise self.invalid("kinds", f"unknown VOI kinds {unknown or list(self.kinds)}", allowed=KINDS)
        if self.workers < 1:
            raise self.invalid("workers", f"workers must be >= 1, got {self.workers}")


@dataclass(frozen=True)
class HeterogeneityOptions(Options):
    """Settings of the per-VOI heterogeneity table."""

    section = "heterogeneity"

    bin_width: float = option(0.25, flag="--bin-width", key="heterogeneity.bin_width", type=float,
                              help="entropy bin size in SUV, from 0 (default 0.25)")

    def validate(self) -> None:
        """Refuse a bin width that is not positive."""
        if not (math.isfinite(self.bin_width) and self.bin_width > 0):
            raise self.invalid("bin_width", f"bin width must be > 0, got {self.bin_width!r}")


@dataclass(frozen=True)
class SpreadOptions(Options):
    """Settings of the inter-lesion spread table."""

    section = "heterogeneity"

    positivity_threshold: float = option(2.5, flag="--positivity", key="heterogeneity.positivity_threshold",
                                         type=float, metavar="SUV", required=True,
                                         help="SUVmax at or above which a lesion counts as positive")

    def validate(self) -> None:
        """Refuse a negative threshold."""
        if not (math.isfinite(self.positivity_threshold) and self.positivity_threshold >= 0):
            raise self.invalid("positivity_threshold", f"must be >= 0, got {self.positivity_threshold!r}")
