"""Options of the kinetics stages: the blood input, the models and the parametric maps.

Light (the CLI builds its parser from it); each option is declared with its flag and YAML key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..options import Options, option
from ..parallel import DaskOptions
from ..policy import Policy
from ..suv.nuclides import NUCLIDES

__all__ = ["BloodOptions", "KineticsOptions", "ParametricOptions", "PkOptions", "PLASMA_MODELS", "REFERENCE_MODELS",
           "COMPARTMENT_MODELS", "MAPS", "INPUT_KINDS", "AUC_METHODS"]

#: Models that need a plasma (blood) input.
PLASMA_MODELS = ("1tcm", "2tcm", "2tcm_irr", "logan", "patlak")
#: Models that need a reference region.
REFERENCE_MODELS = ("srtm", "logan_ref", "mrtm")
#: Compartment models (fitted; the lowest AICc is ``chosen``).
COMPARTMENT_MODELS = ("1tcm", "2tcm", "2tcm_irr")
#: Voxel-wise maps of ``petvoi parametric``.
MAPS = ("logan_vt", "patlak_ki")
#: What the model input is.
INPUT_KINDS = ("parent_plasma", "total_plasma", "whole_blood")
#: AUC rules of multi-day PK (``petvoi pk``): linear-up/log-down (default) or the linear trapezoid.
AUC_METHODS = ("log", "linear")


def _path(text: str | None) -> Path | None:
    return Path(text) if text else None


@dataclass(frozen=True)
class BloodOptions(Options):
    """How the blood samples become the model input (:func:`pipeline.kinetics.stage.load_input`).

    Attributes
    ----------
    blood_table : Path, optional
        Blood table (time_s, whole_blood, plasma, parent_fraction; kBq/mL columns ``*_kbq_ml``).
    input_kind : str
        The model input: parent plasma, total plasma or whole blood (the vB term uses whole blood).
    decay_corrected : bool
        Whether the samples are decay-corrected to injection (else corrected with ``nuclide``).
    nuclide : str, optional
        Nuclide key for the decay correction of the samples.
    parent_model : {"hill", "biexp", "none"}
        Parent-fraction model.
    ratio_model : {"constant", "linear"}
        Plasma/whole-blood ratio model where a sample lacks one of them.
    delay : str
        Input delay in seconds (positive: blood later), or ``fit``.
    delay_voi : str, optional
        High-flow VOI the delay is fitted on (with ``delay="fit"``).
    dispersion_tau_s : float
        Dispersion time constant of sampled blood (s; 0: none).
    idif_voi : str, optional
        Blood-pool VOI whose TAC, scaled to the whole-blood samples, replaces the sampled curve.
    idif_min_time_min : float
        Earliest sample used for that scaling (min; venous samples: after equilibrium).
    """

    section = "kinetics"

    blood_table: Path | None = option(None, flag="--blood", metavar="blood.csv", from_arg=_path,
                                help="time_s, whole_blood, plasma, parent_fraction (kBq/mL columns *_kbq_ml)")
    input_kind: str = option("parent_plasma", flag="--input-kind", key="kinetics.input_kind", choices=INPUT_KINDS,
                             help="the model input (default parent_plasma)")
    decay_corrected: bool = option(True, flag="--blood-not-decay-corrected", key="kinetics.blood_decay_corrected",
                                   action="store_true", from_arg=lambda not_corrected: not not_corrected,
                                   help="decay-correct the samples to injection")
    nuclide: str | None = option(None, flag="--nuclide", choices=tuple(NUCLIDES),
                                 help="nuclide key for decay correction of the samples (e.g. F18)")
    parent_model: str = option("hill", flag="--parent-model", key="kinetics.parent_model",
                               choices=("hill", "biexp", "none"),
                               help="parent-fraction model (default hill; none: no metabolite correction)")
    ratio_model: str = option("constant", flag="--ratio-model", key="kinetics.ratio_model",
                              choices=("constant", "linear"),
                              help="plasma/whole-blood ratio model where a sample lacks one of them")
    delay: str = option("0", flag="--delay", key="kinetics.delay", metavar="S|fit",
                        help="input delay in seconds (positive: blood later), or 'fit' (1TCM on --delay-voi's "
                             "first 10 min)")
    delay_voi: str | None = option(None, flag="--delay-voi", key="kinetics.delay_voi", metavar="VOI",
                                   help="high-flow VOI to fit the delay on")
    dispersion_tau_s: float = option(0.0, flag="--dispersion-tau", key="kinetics.dispersion_tau_s", type=float,
                                     metavar="S", help="dispersion time constant of sampled blood (s; 0 = none)")
    idif_voi: str | None = option(None, flag="--idif", key="kinetics.idif_voi", metavar="VOI",
                                  help="image-derived input: this blood-pool VOI's TAC scaled to the whole-blood "
                                       "samples")
    idif_min_time_min: float = option(0.0, flag="--idif-min-time", key="kinetics.idif_min_time_min", type=float,
                                      metavar="MIN",
                                      help="earliest sample used to scale the image-derived input (min; venous: "
                                           "after equilibrium)")

    def validate(self) -> None:
        """Refuse a delay that is neither seconds nor ``fit``, and ``fit`` without its VOI."""
        if str(self.delay) == "fit":
            if not self.delay_voi:
                raise self.invalid("delay_voi", f"{self.name('delay')} fit needs the VOI to fit it on",
                                   remedy="name a high-flow VOI of tacs.csv")
        else:
            try:
                float(self.delay)
            except ValueError:
                raise self.invalid("delay", f"{self.name('delay')} {self.delay!r} is neither seconds nor 'fit'",
                                   remedy=f"give seconds, e.g. {self.name('delay')} 8, or fit") from None
        if not (math.isfinite(self.dispersion_tau_s) and self.dispersion_tau_s >= 0):
            raise self.invalid("dispersion_tau_s", f"must be >= 0, got {self.dispersion_tau_s!r}")

    @property
    def fits_delay(self) -> bool:
        """True when the delay is fitted on :attr:`delay_voi`."""
        return str(self.delay) == "fit"

    @property
    def delay_s(self) -> float:
        """The given delay (s); 0 when it is fitted."""
        return 0.0 if self.fits_delay else float(self.delay)


@dataclass(frozen=True)
class KineticsOptions(Options):
    """The models of ``petvoi kinetics`` and their inputs."""

    section = "kinetics"

    models: tuple[str, ...] = option((), flag="--model", key="kinetics.models", action="append", required=True,
                                     choices=PLASMA_MODELS + REFERENCE_MODELS, from_arg=tuple)
    reference: str | None = option(None, flag="--reference", key="kinetics.reference", metavar="VOI",
                                   help="reference region for SRTM, reference Logan, MRTM")
    exclude: tuple[str, ...] = option((), flag="--exclude", key="kinetics.exclude", action="append", metavar="VOI",
                                      from_arg=lambda v: tuple(v or ()),
                                      help="a VOI not to fit (e.g. a blood pool); repeatable")
    t_star_min: float | None = option(None, flag="--t-star", key="kinetics.t_star_min", type=float, metavar="MIN",
                                      help="graphical methods: start of the fit window (min)")
    blood: BloodOptions = field(default_factory=BloodOptions)
    policy: Policy = field(default_factory=Policy)

    def validate(self) -> None:
        """Refuse unknown models."""
        unknown = [m for m in self.models if m not in PLASMA_MODELS + REFERENCE_MODELS]
        if unknown:
            raise self.invalid("models", f"unknown model {unknown[0]!r}", allowed=PLASMA_MODELS + REFERENCE_MODELS)


@dataclass(frozen=True)
class ParametricOptions(Options):
    """The maps of ``petvoi parametric`` and their inputs; ``dask`` says where the blocks of voxels are computed."""

    section = "kinetics"

    maps: tuple[str, ...] = option((), flag="--map", key="kinetics.parametric", action="append", required=True,
                                   choices=MAPS, from_arg=tuple)
    t_star_min: float = option(30.0, flag="--t-star", key="kinetics.parametric_t_star_min", type=float,
                               metavar="MIN", required=True, help="start of the linear window (min)")
    workers: int = option(1, flag="--workers", type=int, help="local dask threads (default 1; see --scheduler)")
    blood: BloodOptions = field(default_factory=BloodOptions)
    dask: DaskOptions = field(default_factory=DaskOptions)
    policy: Policy = field(default_factory=Policy)

    def validate(self) -> None:
        """Refuse unknown maps and fewer than one worker."""
        unknown = [m for m in self.maps if m not in MAPS]
        if unknown:
            raise self.invalid("maps", f"unknown map {unknown[0]!r}", allowed=MAPS)
        if self.workers < 1:
            raise self.invalid("workers", f"workers must be >= 1, got {self.workers}")


def _optional_int(text: str | None) -> int | None:
    return int(text) if text not in (None, "") else None


@dataclass(frozen=True)
class PkOptions(Options):
    """The settings of ``petvoi pk`` (multi-day PK of static scans after one injection)."""

    section = "pk"

    auc_method: str = option("log", flag="--auc-method", key="pk.auc_method", choices=AUC_METHODS,
                             help="AUC rule between scans: log (linear-up/log-down, exact for an exponential "
                                  "decline; default) or linear (trapezoid everywhere)")
    n_terminal: int | None = option(None, flag="--n-terminal", key="pk.n_terminal", type=_optional_int,
                                    metavar="N", help="terminal points of the effective half-life fit (>= 2; "
                                                      "default: the last 3, or all scans when fewer)")
    policy: Policy = field(default_factory=Policy)

    def validate(self) -> None:
        """Refuse an unknown AUC rule and fewer than two terminal points."""
        self.check_choice("auc_method", AUC_METHODS, "AUC method")
        if self.n_terminal is not None and self.n_terminal < 2:
            raise self.invalid("n_terminal", f"{self.name('n_terminal')} must be >= 2, got {self.n_terminal}")
