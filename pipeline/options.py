"""Stage options: each declared once, with the command-line flag and the YAML key that set it.

A stage's settings are a frozen dataclass deriving from :class:`Options`; each field is declared with
:func:`option`, which records its flag (``--weight``), its configuration key (``suv.weight_kg``), its
help text and its argparse details. That declaration is the mapping between the library's names and
the user's: the stage's ``cli.py`` adds the flags with :meth:`Options.add_arguments` and builds the
object with :meth:`Options.from_args`; a configuration section gives it with :meth:`Options.from_config`.
Library code never spells a flag: an error about a setting names it with :meth:`Options.name`, which is
the flag, or the YAML key when the options came from a configuration file.

Validation happens when the object is built (``__post_init__`` calls :meth:`Options.validate`), so an
invalid value is refused before any work starts, naming the option and the allowed values.
"""

from __future__ import annotations

import argparse
import contextvars
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from .errors import InvalidInputError
from .policy import CHECKS, Policy

__all__ = ["Spec", "option", "Options", "add_policy_shorthand", "policy_from_args", "nifti_output"]

T = TypeVar("T", bound="Options")

_ORIGIN: contextvars.ContextVar[str] = contextvars.ContextVar("petvoi_options_origin", default="cli")


@dataclass(frozen=True)
class Spec:
    """How one option is set by the user.

    Attributes
    ----------
    flag : str or None
        Command-line flag (``--weight``); None when it is not on the command line.
    key : str or None
        YAML key in the configuration (``suv.weight_kg``); None when it is not configurable.
    help : str
        Help text of the flag.
    metavar, choices, type, action, nargs, required
        argparse details (``type`` converts the command-line text).
    from_arg : callable, optional
        Converts the parsed command-line value to the field's value (e.g. MBq -> Bq).
    """

    flag: str | None = None
    key: str | None = None
    help: str = ""
    metavar: str | None = None
    choices: Sequence[Any] | None = None
    type: Callable[[str], Any] | None = None
    action: str | None = None
    nargs: str | None = None
    required: bool = False
    from_arg: Callable[[Any], Any] | None = None

    @property
    def dest(self) -> str | None:
        """argparse destination of the flag."""
        return self.flag.lstrip("-").replace("-", "_") if self.flag else None


def option(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING,
           flag: str | None = None, key: str | None = None, help: str = "", metavar: str | None = None,
           choices: Sequence[Any] | None = None, type: Callable[[str], Any] | None = None,
           action: str | None = None, nargs: str | None = None, required: bool = False,
           from_arg: Callable[[Any], Any] | None = None) -> Any:
    """A dataclass field of an :class:`Options` class, with its :class:`Spec` in the metadata."""
    spec = Spec(flag=flag, key=key, help=help, metavar=metavar, choices=choices, type=type, action=action,
                nargs=nargs, required=required, from_arg=from_arg)
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={"spec": spec})
    return dataclasses.field(default=default, metadata={"spec": spec})


class Options:
    """Base of the stage options dataclasses (frozen); subclasses implement :meth:`validate`.

    ``section`` names the configuration section the YAML keys live in (for messages).
    """

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_origin", _ORIGIN.get())
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~pipeline.errors.InvalidInputError` naming the first invalid option."""

    # -- naming
    @classmethod
    def specs(cls) -> dict[str, Spec]:
        """The :class:`Spec` of every declared field, by field name."""
        return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                if "spec" in f.metadata}

    @classmethod
    def flag(cls, field: str) -> str:
        """The command-line flag of ``field`` (its YAML key, or the field itself, when it has none)."""
        spec = cls.specs().get(field)
        return (spec.flag or spec.key or field) if spec else field

    def name(self, field: str) -> str:
        """How the user sets ``field``: its flag, or its YAML key when these options came from a configuration."""
        spec = self.specs().get(field)
        if spec is None:
            return field
        if getattr(self, "_origin", "cli") == "config":
            return spec.key or spec.flag or field
        return spec.flag or spec.key or field

    def invalid(self, field: str, message: str, *, allowed: Iterable[Any] | None = None,
                remedy: str | None = None) -> InvalidInputError:
        """The error for an invalid value of ``field``: names the option and the allowed values."""
        if remedy is None and allowed is not None:
            remedy = f"use one of {', '.join(str(a) for a in allowed)}"
        return InvalidInputError(message, attribute=self.name(field), remedy=remedy)

    def check_choice(self, field: str, allowed: Iterable[Any], what: str) -> None:
        """Refuse a value of ``field`` that is not one of ``allowed``."""
        allowed = tuple(allowed)
        value = getattr(self, field)
        if value not in allowed:
            raise self.invalid(field, f"unknown {what} {value!r}", allowed=allowed)

    # -- building
    @classmethod
    def _has_policy(cls) -> bool:
        return any(f.name == "policy" for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser, *, only: Iterable[str] | None = None,
                      skip: Iterable[str] = ()) -> None:
        """Add the flags of the declared fields (all, or ``only`` those) to ``parser``, with their defaults."""
        wanted = set(only) if only is not None else None
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for name, spec in cls.specs().items():
            if spec.flag is None or name in skip or (wanted is not None and name not in wanted):
                continue
            kwargs: dict[str, Any] = {"help": spec.help, "dest": name}
            if spec.required:
                kwargs["required"] = True
            if spec.action:
                kwargs["action"] = spec.action
            if spec.action not in ("store_true", "store_false"):
                for key in ("metavar", "choices", "type", "nargs"):
                    if getattr(spec, key) is not None:
                        kwargs[key] = getattr(spec, key)
            default = defaults[name]
            if spec.action == "append":
                kwargs["default"] = None
            elif default is not dataclasses.MISSING and spec.from_arg is None and not spec.required:
                kwargs["default"] = default
            parser.add_argument(spec.flag, **kwargs)

    @classmethod
    def from_args(cls: type[T], args: argparse.Namespace, **values: Any) -> T:
        """Build from parsed arguments: each declared flag's value (converted by ``from_arg``), the run's
        policy (``args.policy``, set by the CLI) when the class has one, then ``values``."""
        found: dict[str, Any] = {}
        if cls._has_policy() and isinstance(getattr(args, "policy", None), Policy):
            found["policy"] = args.policy
        for name, spec in cls.specs().items():
            if spec.flag is None or not hasattr(args, name):
                continue
            value = getattr(args, name)
            if spec.from_arg is not None:
                value = spec.from_arg(value)
            elif value is None and spec.action == "append":
                continue
            found[name] = value
        return cls._build({**found, **values}, origin="cli")

    @classmethod
    def from_config(cls: type[T], config: Mapping[str, Any], **values: Any) -> T:
        """Build from a validated configuration: each declared YAML key's value, the ``policy`` section when
        the class has a policy, then ``values``."""
        found: dict[str, Any] = {}
        if cls._has_policy():
            found["policy"] = Policy.from_config(config.get("policy"))
        for name, spec in cls.specs().items():
            if spec.key is None:
                continue
            node: Any = config
            for part in spec.key.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            if node is not None:
                found[name] = node
        return cls._build({**found, **values}, origin="config")

    @classmethod
    def _build(cls: type[T], values: Mapping[str, Any], *, origin: str) -> T:
        """The options of ``values``, their names in errors those of ``origin`` (``cli`` or ``config``)."""
        token = _ORIGIN.set(origin)
        try:
            return cls(**values)
        finally:
            _ORIGIN.reset(token)


def nifti_output(value: str) -> str:
    """argparse type of a NIfTI output path: it must end in ``.nii.gz`` or ``.nii`` (the writer picks the format,
    and the JSON sidecar's name, from the suffix)."""
    if not value.endswith((".nii.gz", ".nii")) or Path(value).name in (".nii.gz", ".nii"):
        raise argparse.ArgumentTypeError(f"{value!r}: a NIfTI output is named *.nii.gz (or *.nii)")
    return value


def add_policy_shorthand(parser: argparse.ArgumentParser, key: str) -> None:
    """Add the shorthand flag of policy check ``key`` (e.g. ``--allow-resample``) to a command's parser."""
    check = CHECKS[key]
    assert check.shorthand is not None, key
    parser.add_argument(check.shorthand, dest=check.shorthand_dest, action="store_true",
                        help=f"policy {key}: warn instead of {check.default.value} ({check.description})"
                        .replace("%", "%%"))


def policy_from_args(args: argparse.Namespace) -> Policy:
    """The run's policy: ``--strict``, ``--policy KEY=ACTION`` and the shorthand flags given to the command."""
    shorthands = [c.key for c in CHECKS.values() if c.shorthand_dest and getattr(args, c.shorthand_dest, False)]
    return Policy.from_settings(getattr(args, "policy_settings", None) or (), strict=getattr(args, "strict", False),
                                shorthands=shorthands)
