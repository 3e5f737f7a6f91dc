"""Options of the ``vois`` stage: the VOI sources of a study and how they are put on the PET grid.

Light (the CLI builds its parser from it); the grammar of the sphere and threshold specs is
:data:`SPEC_HELP`, parsed by :mod:`pipeline.voi.specs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..options import Options, option
from ..policy import Policy
from .names import NameRule, load_name_rules

__all__ = ["VoiSources", "SPEC_HELP", "INCLUSIONS", "SOURCES"]

#: RTSTRUCT voxel inclusion rules (:data:`pipeline.voi.rtstruct.INCLUSION_RULES`).
INCLUSIONS = ("centre", "fraction")
#: The source fields of :class:`VoiSources`, in the order they are applied.
SOURCES = ("rtstruct", "seg", "mask", "spheres", "thresholds")

#: The grammar of ``--threshold`` and ``--spheres`` specs, for ``--help`` epilogs and the README.
SPEC_HELP = """VOI specs
=========

Threshold VOIs:  --threshold 'NAME:RULE[:KEY=VALUE]...'
  Several specs are separated by ';' or given by repeating the option.
  RULE
    suv>=T       voxels with SUV >= T (the SUV image's units)       hot:suv>=2.5:kind=tumour
    P%max        voxels >= P % of the maximum in the seed region   les1:41%max:within=les1_box
                 (EANM: 41); needs within= or sphere=               les2:41%max:sphere=12,-40,80,40
    percist      SUL >= 1.5 x liver SULmean + 2 x liver SD          mtv:percist:liver=liver_ref:kind=tumour
                 (sample SD); needs liver= or liver_sphere=
  KEY=VALUE
    within=VOI              search/seed region: a VOI made before this spec (RTSTRUCT, SEG, mask,
                            sphere or an earlier threshold)
    sphere=X,Y,Z,D          search/seed region: sphere, centre X,Y,Z (LPS mm), diameter D (mm)
    liver=VOI               percist: the normal-liver reference VOI
    liver_sphere=X,Y,Z[,D]  percist: liver reference sphere, D default 30 mm (PERCIST)
    sul=F                   percist: factor from the image values to SUL (1 for an SUL image);
                            default: given by the caller from suv.json
    cc=all|max|seed         26-connected components: all (default); max = only the component
                            holding the region's maximum; seed = every component of the whole-image
                            threshold that touches the region (grows beyond it)
    kind=KIND               tumour, organ, reference or body (default: from the name, else tumour);
                            required for a whole-image threshold
    exclude_from_organs=yes|no
                            kind tumour: leave the VOI's voxels (and the uptake margin around them)
                            out of organ and reference statistics; default yes within a region,
                            no for a whole-image threshold (it holds the hot organs' voxels too)
  Without within=/sphere= a threshold applies to the whole image: it must say kind=, and a
  kind=tumour one stays in the organ statistics unless exclude_from_organs=yes.
  Spaces around tokens are ignored.

Sphere VOIs:  --spheres 'NAME:X,Y,Z:D[:KIND]'
  Centre X,Y,Z in LPS mm (DICOM patient coordinates), diameter D in mm, KIND as above (default:
  from the name). Several specs are separated by ';' or given by repeating the option.
    liver_ref:-60,20,-110:30:reference;blood_pool:20,43,20:10
  A voxel belongs to a sphere when its centre is inside. Spheres partly outside the image are kept
  with a warning (fraction inside); entirely outside is an error.

NAME: any text without ':', ';', '=' or ','; names must be unique.
"""


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


def _specs(texts: list[str] | None) -> str:
    return ";".join(texts or [])


def _rules(path: str | None) -> list[NameRule]:
    return load_name_rules(Path(path) if path else None)


@dataclass(frozen=True)
class VoiSources(Options):
    """What to build the VOI set from (any combination; at least one), applied in :data:`SOURCES` order.

    Attributes
    ----------
    rtstruct, seg, mask : Path, optional
        RTSTRUCT file (or a folder holding exactly one), DICOM SEG file, NIfTI mask or label map.
    spheres, thresholds : str
        Spec strings (:data:`SPEC_HELP`), several separated by ``;``.
    inclusion : str
        RTSTRUCT voxel inclusion rule: ``centre`` or ``fraction``.
    name_rules : list of NameRule
        Tried before the defaults when mapping names to kinds.
    frame_of_reference_uid : str, optional
        The PET's FrameOfReferenceUID (default: from ``suv.json`` beside the SUV image).
    policy : Policy
        ``voi.resample``: a SEG or NIfTI mask on another grid is refused (default) or resampled by
        nearest neighbour with a warning.
    """

    section = "vois"

    rtstruct: Path | None = option(None, flag="--rtstruct", metavar="RS.dcm", from_arg=_path,
                                   help="RTSTRUCT file (or a folder holding only it)")
    seg: Path | None = option(None, flag="--seg", metavar="SEG.dcm", from_arg=_path,
                              help="DICOM SEG file (binary or fractional)")
    mask: Path | None = option(None, flag="--mask", metavar="m.nii.gz", from_arg=_path,
                               help="NIfTI binary mask or label map")
    spheres: str = option("", flag="--spheres", key="vois.spheres", action="append", from_arg=_specs,
                          help="sphere VOIs (see below); repeatable")
    thresholds: str = option("", flag="--threshold", key="vois.thresholds", action="append", from_arg=_specs,
                             help="threshold VOIs (see below); repeatable")
    inclusion: str = option("centre", flag="--inclusion", key="vois.inclusion", choices=INCLUSIONS,
                            help="RTSTRUCT voxel rule: centre inside the contour (default) or >= 50 %% of its area "
                                 "covered")
    name_rules: list[NameRule] = option(default_factory=list, flag="--name-rules", key="vois.name_rules",
                                        metavar="RULES.yaml", from_arg=_rules,
                                        help="YAML list of {pattern, kind, organ, lesion_id} tried before the "
                                             "default name rules")
    frame_of_reference_uid: str | None = option(None, flag="--frame-of-reference", metavar="UID",
                                                help="the PET's FrameOfReferenceUID (default: from suv.json beside "
                                                     "--pet)")
    policy: Policy = field(default_factory=Policy)

    def validate(self) -> None:
        """Refuse an unknown inclusion rule."""
        self.check_choice("inclusion", INCLUSIONS, "inclusion rule")

    def named(self) -> str:
        """The source options as the user names them (for "no source given")."""
        return "/".join(self.name(f) for f in SOURCES)

    def any(self) -> bool:
        """True when at least one source is given."""
        return any(getattr(self, f) for f in SOURCES)
