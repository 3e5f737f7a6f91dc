"""The bad-value policy: what a stage does with a value it can use only by a fallback.

In the spirit of pydicom's ``IGNORE/WARN/RAISE`` validation modes, each known bad value is a
:class:`Check` with a default :class:`Action`; a run's :class:`Policy` says, per check, whether the
stage refuses the input (``raise``: a one-line error naming the file, the attribute and the remedy)
or takes the documented fallback and records a warning (``warn``). There is no ``ignore``: a fallback
is never silent (the project's rule), so every one taken is in the output's warnings, and the policy
itself is recorded in every sidecar (:meth:`Policy.record`).

Where it is set
---------------
* the configuration's ``policy`` section, per topic (``header``, ``voi``, ``response``, ``statistics``,
  ``cohort``): ``policy: {header: {half_life_mismatch: warn}}``; ``policy.strict: true`` makes every
  check refuse;
* on the command line, before the command: ``petvoi --strict ...`` and
  ``petvoi --policy header.half_life_mismatch=warn ...``; a few checks also have a shorthand flag on the
  command they belong to (``petvoi suv --allow-half-life-mismatch``).

The checks are the table :data:`CHECKS`; a new one is one entry there and one :meth:`Policy.apply` call.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError, InvalidInputError, PipelineError

__all__ = ["Action", "Check", "CHECKS", "Policy", "schema_fragment"]


class Action(enum.StrEnum):
    """What a stage does with a bad value: take the fallback with a warning, or refuse the input."""

    WARN = "warn"
    RAISE = "raise"


@dataclass(frozen=True)
class Check:
    """One kind of bad value.

    Attributes
    ----------
    key : str
        ``topic.name``, the YAML path under ``policy`` and the ``--policy`` key.
    default : Action
        The action when nothing is configured.
    description : str
        What the value is and what ``warn`` does with it.
    shorthand : str, optional
        A flag of the command the check belongs to that sets it to ``warn``.
    """

    key: str
    default: Action
    description: str
    shorthand: str | None = None

    @property
    def topic(self) -> str:
        """The section under ``policy`` (``header``, ``voi``...)."""
        return self.key.split(".", 1)[0]

    @property
    def shorthand_dest(self) -> str | None:
        """argparse destination of the shorthand flag."""
        return self.shorthand.lstrip("-").replace("-", "_") if self.shorthand else None


#: Every check, in the order of the configuration's ``policy`` section.
CHECKS: dict[str, Check] = {c.key: c for c in (
    Check("header.fallback", Action.WARN,
          "a DICOM header value usable only through a documented fallback (nonzero RescaleIntercept, dose in MBq, "
          "weight in grams, height in cm, private tags without their creator...): used with a warning"),
    Check("header.half_life_mismatch", Action.RAISE,
          "RadionuclideHalfLife more than 1 % off the coded radionuclide's: the header value kept with a warning",
          shorthand="--allow-half-life-mismatch"),
    Check("header.implausible_value", Action.RAISE,
          "a dose above 50 GBq, or a weight or height given on the command line or in the dosing table outside "
          "1-400 kg or 50-250 cm: used with a warning"),
    Check("header.incomplete_series", Action.RAISE,
          "fewer (or more) slice positions than NumberOfSlices says - slices missing at an end of the volume: the "
          "SUV of the slices there, with a warning"),
    Check("header.unknown_sex", Action.WARN,
          "PatientSex O or missing where LBM or IBW need it: the mean of the male and female values with a warning"),
    Check("suv.activity_balance", Action.RAISE,
          "the activity in the image outside 0.001-1.05 of the decayed injected activity (R39: zero, negative or more "
          "than injected - a wrong slope, unit, dose, nuclide or day): the SUV kept with a warning"),
    Check("suv.spect_as_pt", Action.RAISE,
          "a SPECT stored as a PET (PT) object (an NM camera, a SPECT series or a gamma emitter such as 177Lu, 131I "
          "or 99mTc): converted to SUV and labelled SPECT in its sidecar, rule and tables, with a warning",
          shorthand="--allow-spect"),
    Check("voi.resample", Action.RAISE,
          "a SEG or NIfTI mask on another grid than the PET: resampled by nearest neighbour with a warning",
          shorthand="--allow-resample"),
    Check("response.target_limits", Action.RAISE,
          "more than 5 RECIST target lesions, or more than 2 in one organ: kept with a warning",
          shorthand="--lenient-target-limits"),
    Check("statistics.unmatched_rows", Action.WARN,
          "clinical rows (IHC) that match no VOI of the uptake table: left out with a warning"),
    Check("cohort.missing_tables", Action.RAISE,
          "a study's table missing when the cohort table is stacked: the study left out with a warning",
          shorthand="--allow-missing"),
)}


def _check(key: str) -> Check:
    try:
        return CHECKS[key]
    except KeyError:
        raise InvalidInputError(f"unknown policy check {key!r}", attribute="policy",
                                remedy=f"use one of {', '.join(CHECKS)}") from None


def _action(value: Any, where: str, error: type[PipelineError], source: str | None = None) -> Action:
    try:
        return Action(str(value).lower())
    except ValueError:
        raise error(f"must be warn or raise, got {value!r}", source=source, attribute=where,
                    remedy=f"set it to {' or '.join(a.value for a in Action)}") from None


@dataclass(frozen=True)
class Policy:
    """The actions of one run: the configured ones, the defaults for the rest, and ``strict``.

    Parameters
    ----------
    actions : mapping of str to Action or str
        Check key -> action, for the checks not left at their default.
    strict : bool
        Refuse every bad value whatever ``actions`` say (``--strict``).

    Raises
    ------
    InvalidInputError
        For an unknown check key or an action other than warn and raise.
    """

    actions: Mapping[str, Action] = field(default_factory=dict)
    strict: bool = False

    def __post_init__(self) -> None:
        checked = {_check(k).key: _action(v, f"policy {k}", InvalidInputError) for k, v in self.actions.items()}
        object.__setattr__(self, "actions", checked)

    # -- building
    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, *, source: str = "config") -> Policy:
        """The policy of a configuration's ``policy`` section (``strict`` and one mapping per topic).

        Raises
        ------
        ConfigError
            Naming the YAML key (``policy.header.half_life_mismatch``) and the allowed values.
        """
        section = dict(section or {})
        strict = section.pop("strict", False)
        if not isinstance(strict, bool):
            raise ConfigError(f"must be true or false, got {strict!r}", source=source, attribute="policy.strict")
        topics = {c.topic for c in CHECKS.values()}
        actions: dict[str, Action] = {}
        for topic, entries in section.items():
            if topic not in topics or not isinstance(entries, Mapping):
                raise ConfigError("unknown key" if topic not in topics else "must be a mapping", source=source,
                                  attribute=f"policy.{topic}", remedy=f"topics: strict, {', '.join(sorted(topics))}")
            for name, value in entries.items():
                key = f"{topic}.{name}"
                if key not in CHECKS:
                    names = [c.key.split(".", 1)[1] for c in CHECKS.values() if c.topic == topic]
                    raise ConfigError("unknown key", source=source, attribute=f"policy.{key}",
                                      remedy=f"checks of {topic}: {', '.join(names)}")
                actions[key] = _action(value, f"policy.{key}", ConfigError, source)
        return cls(actions, strict=strict)

    @classmethod
    def from_settings(cls, settings: Iterable[str] = (), *, strict: bool = False,
                      shorthands: Iterable[str] = ()) -> Policy:
        """The policy of command-line settings ``KEY=ACTION`` and the keys of shorthand flags given."""
        actions: dict[str, Action] = {key: Action.WARN for key in shorthands}
        for text in settings:
            key, sep, value = text.partition("=")
            if not sep:
                raise InvalidInputError(f"{text!r} is not KEY=ACTION", attribute="--policy",
                                        remedy="e.g. --policy header.half_life_mismatch=warn")
            actions[_check(key.strip()).key] = _action(value.strip(), f"--policy {key.strip()}", InvalidInputError)
        return cls(actions, strict=strict)

    # -- use
    def action(self, key: str) -> Action:
        """The action of check ``key`` in this run."""
        check = _check(key)
        if self.strict:
            return Action.RAISE
        return self.actions.get(check.key, check.default)

    def refuses(self, key: str) -> bool:
        """True when check ``key`` refuses the input in this run."""
        return self.action(key) is Action.RAISE

    def apply(self, key: str, warning: str, error: PipelineError, warnings: list[str] | None = None) -> str:
        """Refuse (raise ``error``) or take the fallback: record ``warning`` in ``warnings`` and return it."""
        if self.refuses(key):
            raise error
        if warnings is not None and warning not in warnings:
            warnings.append(warning)
        return warning

    @staticmethod
    def how_to_allow(key: str) -> str:
        """How the user makes check ``key`` take its fallback (for remedies)."""
        check = _check(key)
        shorthand = f"{check.shorthand}, " if check.shorthand else ""
        return (f"{shorthand}petvoi --policy {key}=warn COMMAND ... (before the command) or the config's "
                f"policy.{key}: warn")

    def record(self) -> dict[str, Any]:
        """The effective policy, for the provenance of every sidecar."""
        return {"strict": self.strict, "checks": {key: self.action(key).value for key in CHECKS}}


def schema_fragment() -> dict[str, Any]:
    """The JSON Schema of the configuration's ``policy`` section, from :data:`CHECKS`."""
    topics: dict[str, dict[str, Any]] = {}
    for check in CHECKS.values():
        node = topics.setdefault(check.topic, {"type": "object", "additionalProperties": False, "default": {},
                                               "properties": {}})
        node["properties"][check.key.split(".", 1)[1]] = {
            "type": "string", "enum": [a.value for a in Action], "default": check.default.value,
            "description": f"raise: refuse; warn: {check.description}"}
    return {"type": "object", "additionalProperties": False, "default": {},
            "description": "What a stage does with a bad value it can use only by a fallback (pipeline/policy.py).",
            "properties": {"strict": {"type": "boolean", "default": False,
                                      "description": "Refuse every bad value (same as petvoi --strict)."},
                           **topics}}
