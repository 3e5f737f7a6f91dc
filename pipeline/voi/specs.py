"""Spec strings of ``petvoi vois --threshold`` and ``--spheres``: parsing and building the VOIs.

The grammar is :data:`pipeline.voi.options.SPEC_HELP` (the ``--help`` epilog and the README).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypedDict

import numpy as np

from ..dicom.geometry import Geometry
from ..errors import InvalidInputError
from .catalogue import Voi, VoiSet
from .names import DEFAULT_NAME_RULES, KINDS, NameRule
from .options import VoiSources
from .spheres import LIVER_REFERENCE_DIAMETER_MM, Sphere, sphere_mask, sphere_vois
from .threshold import CC_MODES, fixed_threshold_vois, percent_max_vois, percist_vois

__all__ = ["ThresholdSpec", "SphereSpec", "WHOLE_IMAGE_KIND_REMEDY", "parse_threshold_specs", "parse_sphere_specs",
           "build_threshold_vois", "build_sphere_vois"]

#: A parsed ``--spheres`` spec is a :class:`~pipeline.voi.spheres.Sphere` (``spec`` holds its text).
SphereSpec = Sphere

#: How the user names the spec options (their flags, from :class:`~pipeline.voi.options.VoiSources`).
_THRESHOLDS, _SPHERES = VoiSources.flag("thresholds"), VoiSources.flag("spheres")
_NAME = re.compile(r"[^:;=,]+")
_FIXED = re.compile(r"suv>=(.+)", re.IGNORECASE)
_PERCENT = re.compile(r"(.+)%max", re.IGNORECASE)
_KEYS = ("within", "sphere", "liver", "liver_sphere", "sul", "cc", "kind", "exclude_from_organs")
_YES, _NO = ("yes", "true", "1"), ("no", "false", "0")
#: The remedy of a whole-image threshold without ``kind=``.
WHOLE_IMAGE_KIND_REMEDY = ("add :kind=tumour (by default not removed from organ statistics; add "
                           ":exclude_from_organs=yes to remove it), :kind=organ, :kind=reference or :kind=body, "
                           "or restrict it to a lesion with :within=VOI or :sphere=X,Y,Z,D")
_THRESHOLD_EXPECTED = "expected NAME:suv>=T, NAME:P%max:within=VOI|sphere=X,Y,Z,D or NAME:percist:liver=VOI"
_SPHERE_EXPECTED = "expected NAME:X,Y,Z:D[:KIND] (LPS mm, diameter mm)"


@dataclass(frozen=True)
class ThresholdSpec:
    """A parsed ``--threshold`` spec.

    Attributes
    ----------
    name : str
        VOI name.
    rule : str
        ``fixed``, ``percent_max`` or ``percist``.
    value : float or None
        ``fixed``: the SUV threshold; ``percent_max``: the percentage; ``percist``: None.
    within : str or None
        Name of the search/seed VOI.
    sphere : tuple of float or None
        Search/seed sphere (x, y, z, diameter) in LPS mm / mm.
    liver : str or None
        PERCIST liver reference VOI name.
    liver_sphere : tuple of float or None
        PERCIST liver reference sphere (x, y, z, diameter), mm.
    sul_per_suv : float or None
        PERCIST factor from the image values to SUL, when given in the spec.
    cc : str
        Connected-component rule: ``all``, ``max`` or ``seed``.
    kind : str or None
        Catalogue kind; None: from the name (tumour when unmatched). Required for a whole-image
        threshold (no ``within``/``sphere``).
    exclude_from_organs : bool or None
        Whether a tumour VOI is left out of organ and reference statistics; None: the default
        (yes inside a region, no for a whole-image threshold).
    text : str
        The spec as given.
    """

    name: str
    rule: str
    value: float | None
    within: str | None = None
    sphere: tuple[float, float, float, float] | None = None
    liver: str | None = None
    liver_sphere: tuple[float, float, float, float] | None = None
    sul_per_suv: float | None = None
    cc: str = "all"
    kind: str | None = None
    exclude_from_organs: bool | None = None
    text: str = ""


# ------------------------------------------------------------------------------------------- parsing
def _split(text: str | Sequence[str], option: str) -> list[str]:
    pieces = [text] if isinstance(text, str) else list(text)
    specs = [s.strip() for piece in pieces for s in str(piece).split(";")]
    specs = [s for s in specs if s]
    if not specs:
        raise InvalidInputError("empty spec", attribute=option, remedy="give at least one spec (see --help)")
    return specs


def _error(spec: str, option: str, message: str, expected: str) -> InvalidInputError:
    return InvalidInputError(f"{message} in {spec!r}", attribute=option, remedy=expected)


def _number(text: str, spec: str, option: str, what: str, expected: str, *, positive: bool = False) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise _error(spec, option, f"{what} {text.strip()!r} is not a number", expected) from None
    if not math.isfinite(value):
        raise _error(spec, option, f"{what} {text.strip()!r} is not a finite number", expected)
    if positive and value <= 0:
        raise _error(spec, option, f"{what} {text.strip()!r} must be positive", expected)
    return value


def _numbers(text: str, counts: tuple[int, ...], spec: str, option: str, what: str, expected: str) -> list[float]:
    parts = text.split(",")
    if len(parts) not in counts:
        raise _error(spec, option, f"{what} {text!r} needs {' or '.join(map(str, counts))} comma-separated numbers",
                     expected)
    return [_number(p, spec, option, what, expected) for p in parts]


def _name(text: str, spec: str, option: str, expected: str) -> str:
    name = text.strip()
    if not name:
        raise _error(spec, option, "missing NAME", expected)
    if not _NAME.fullmatch(name):
        raise _error(spec, option, f"NAME {name!r} contains ':', ';', '=' or ','", expected)
    return name


def _unique(names: list[str], option: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInputError(f"VOI name {name!r} given twice", attribute=option,
                                    remedy="give every VOI its own name")
        seen.add(name)


def _parse_rule(rule: str, spec: str, option: str) -> tuple[str, float | None]:
    compact = re.sub(r"\s+", "", rule)
    if compact.lower() == "percist":
        return "percist", None
    m = _FIXED.fullmatch(compact)
    if m:
        return "fixed", _number(m.group(1), spec, option, "threshold", _THRESHOLD_EXPECTED, positive=True)
    m = _PERCENT.fullmatch(compact)
    if m:
        percent = _number(m.group(1), spec, option, "percentage", _THRESHOLD_EXPECTED, positive=True)
        if percent > 100:
            raise _error(spec, option, f"percentage {percent:g} is above 100", _THRESHOLD_EXPECTED)
        return "percent_max", percent
    raise _error(spec, option, f"unknown rule {rule.strip()!r}", _THRESHOLD_EXPECTED)


def _parse_threshold(spec: str) -> ThresholdSpec:
    option = _THRESHOLDS
    fields = spec.split(":")
    if len(fields) < 2:
        raise _error(spec, option, "missing RULE", _THRESHOLD_EXPECTED)
    try:
        _parse_rule(fields[0], spec, option)
    except InvalidInputError:
        pass
    else:
        raise _error(spec, option, f"missing NAME before the rule {fields[0].strip()!r}", _THRESHOLD_EXPECTED)
    name = _name(fields[0], spec, option, _THRESHOLD_EXPECTED)
    rule, value = _parse_rule(fields[1], spec, option)
    options: dict[str, str] = {}
    for item in fields[2:]:
        key, sep, val = item.partition("=")
        key, val = key.strip().lower(), val.strip()
        if not sep or not key:
            raise _error(spec, option, f"option {item.strip()!r} is not KEY=VALUE", _THRESHOLD_EXPECTED)
        if key not in _KEYS:
            raise _error(spec, option, f"unknown option {key!r}", f"options: {', '.join(_KEYS)}")
        if key in options:
            raise _error(spec, option, f"option {key!r} given twice", _THRESHOLD_EXPECTED)
        if not val:
            raise _error(spec, option, f"option {key!r} has no value", _THRESHOLD_EXPECTED)
        options[key] = val
    kwargs: dict[str, Any] = {}
    if "within" in options:
        kwargs["within"] = _name(options["within"], spec, option, _THRESHOLD_EXPECTED)
    if "sphere" in options:
        x, y, z, d = _numbers(options["sphere"], (4,), spec, option, "sphere", "sphere=X,Y,Z,D (LPS mm, diameter mm)")
        if d <= 0:
            raise _error(spec, option, f"sphere diameter {d:g} must be positive", "sphere=X,Y,Z,D")
        kwargs["sphere"] = (x, y, z, d)
    if "within" in options and "sphere" in options:
        raise _error(spec, option, "within= and sphere= both given", "give one search region")
    if "liver" in options:
        kwargs["liver"] = _name(options["liver"], spec, option, _THRESHOLD_EXPECTED)
    if "liver_sphere" in options:
        values = _numbers(options["liver_sphere"], (3, 4), spec, option, "liver_sphere",
                          "liver_sphere=X,Y,Z[,D] (LPS mm, diameter mm, default 30)")
        d = values[3] if len(values) == 4 else LIVER_REFERENCE_DIAMETER_MM
        if d <= 0:
            raise _error(spec, option, f"liver_sphere diameter {d:g} must be positive", "liver_sphere=X,Y,Z[,D]")
        kwargs["liver_sphere"] = (values[0], values[1], values[2], d)
    if "sul" in options:
        kwargs["sul_per_suv"] = _number(options["sul"], spec, option, "sul", "sul=F, F > 0 (1 for an SUL image)",
                                        positive=True)
    if "cc" in options:
        cc = options["cc"].lower()
        if cc not in CC_MODES:
            raise _error(spec, option, f"cc={options['cc']!r} is unknown", f"cc={'|'.join(CC_MODES)}")
        kwargs["cc"] = cc
    if "kind" in options:
        kind = options["kind"].lower()
        if kind not in KINDS:
            raise _error(spec, option, f"kind={options['kind']!r} is unknown", f"kind={'|'.join(KINDS)}")
        kwargs["kind"] = kind
    if "exclude_from_organs" in options:
        flag = options["exclude_from_organs"].lower()
        if flag not in (*_YES, *_NO):
            raise _error(spec, option, f"exclude_from_organs={options['exclude_from_organs']!r} is not yes or no",
                         "exclude_from_organs=yes|no")
        if kwargs.get("kind", "tumour") != "tumour":
            raise _error(spec, option, "exclude_from_organs applies to tumour VOIs only",
                         "remove it, or give :kind=tumour")
        kwargs["exclude_from_organs"] = flag in _YES
    has_region = "within" in kwargs or "sphere" in kwargs
    if rule == "percent_max" and not has_region:
        raise _error(spec, option, "P%max needs a seed region", "add :within=VOI or :sphere=X,Y,Z,D")
    if kwargs.get("cc") == "seed" and not has_region:
        raise _error(spec, option, "cc=seed needs a seed region", "add :within=VOI or :sphere=X,Y,Z,D")
    if rule == "percist":
        if ("liver" in kwargs) == ("liver_sphere" in kwargs):
            raise _error(spec, option, "percist needs one liver reference", "add :liver=VOI or :liver_sphere=X,Y,Z")
    else:
        extra = [k for k in ("liver", "liver_sphere", "sul") if k in options]
        if extra:
            raise _error(spec, option, f"option {extra[0]!r} applies to percist only", _THRESHOLD_EXPECTED)
    if not has_region and "kind" not in kwargs:
        raise _error(spec, option, "a whole-image threshold needs an explicit kind", WHOLE_IMAGE_KIND_REMEDY)
    return ThresholdSpec(name, rule, value, text=spec, **kwargs)


def parse_threshold_specs(text: str | Sequence[str]) -> list[ThresholdSpec]:
    """Parse ``--threshold`` specs (grammar in the module docstring).

    Parameters
    ----------
    text : str or sequence of str
        One string with specs separated by ``;``, or one string per repeated option.

    Returns
    -------
    list of ThresholdSpec

    Raises
    ------
    InvalidInputError
        For an empty text, a malformed spec (naming it and what is expected), a whole-image threshold
        without ``kind=``, or a repeated name.
    """
    specs = [_parse_threshold(s) for s in _split(text, _THRESHOLDS)]
    _unique([s.name for s in specs], _THRESHOLDS)
    return specs


def _parse_sphere(spec: str) -> Sphere:
    option = _SPHERES
    fields = spec.split(":")
    if len(fields) not in (3, 4):
        raise _error(spec, option, f"{len(fields)} ':'-separated fields", _SPHERE_EXPECTED)
    name = _name(fields[0], spec, option, _SPHERE_EXPECTED)
    x, y, z = _numbers(fields[1], (3,), spec, option, "centre", _SPHERE_EXPECTED)
    d = _number(fields[2], spec, option, "diameter", _SPHERE_EXPECTED, positive=True)
    kind = None
    if len(fields) == 4:
        kind = fields[3].strip().lower()
        if kind not in KINDS:
            raise _error(spec, option, f"kind {fields[3].strip()!r} is unknown", f"KIND is one of {', '.join(KINDS)}")
    return Sphere(name, (x, y, z), d, kind, spec)


def parse_sphere_specs(text: str | Sequence[str]) -> list[SphereSpec]:
    """Parse ``--spheres`` specs ``NAME:X,Y,Z:D[:KIND]`` (grammar in the module docstring).

    Parameters
    ----------
    text : str or sequence of str
        One string with specs separated by ``;``, or one string per repeated option.

    Returns
    -------
    list of SphereSpec
        Centres in LPS mm, diameters in mm.

    Raises
    ------
    InvalidInputError
        For an empty text, a malformed spec (naming it and what is expected) or a repeated name.
    """
    specs = [_parse_sphere(s) for s in _split(text, _SPHERES)]
    _unique([s.name for s in specs], _SPHERES)
    return specs


# ------------------------------------------------------------------------------------------- building
def build_sphere_vois(specs: Sequence[SphereSpec], geometry: Geometry, *, inclusion: str = "centre",
                      rules: Sequence[NameRule] = DEFAULT_NAME_RULES) -> VoiSet:
    """The sphere VOIs of parsed ``--spheres`` specs on the PET grid.

    Parameters
    ----------
    specs : sequence of SphereSpec
        From :func:`parse_sphere_specs`.
    geometry : Geometry
        The PET grid.
    inclusion : {"centre", "fraction"}
        Voxel rule (:mod:`pipeline.voi.spheres`).
    rules : sequence of NameRule
        Name-to-kind rules for spheres without a kind.

    Returns
    -------
    VoiSet
    """
    return sphere_vois(specs, geometry, inclusion=inclusion, rules=rules)


class _ThresholdArgs(TypedDict):
    """Keyword arguments shared by the threshold VOI builders."""

    name: str
    region: np.ndarray | None
    region_name: str | None
    cc: str
    kind: str | None
    rules: Sequence[NameRule]


def _lookup(name: str, pool: list[tuple[np.ndarray, Voi]], spec: ThresholdSpec, key: str) -> np.ndarray:
    found = [mask for mask, voi in pool if voi.name == name]
    if len(found) == 1:
        return found[0]
    if found:
        raise InvalidInputError(f"{key}={name!r} matches {len(found)} VOIs", source=spec.text, attribute=_THRESHOLDS,
                                remedy="give the VOIs distinct names")
    known = ", ".join(voi.name for _, voi in pool[:20]) or "none"
    raise InvalidInputError(f"{key}={name!r} is not a VOI made before this spec (known: {known})",
                            source=spec.text, attribute=_THRESHOLDS,
                            remedy="name a VOI from the RTSTRUCT/SEG/mask/spheres or an earlier threshold")


def _sphere_region(values: tuple[float, float, float, float], geometry: Geometry, spec: ThresholdSpec,
                   key: str) -> tuple[np.ndarray, str, list[str]]:
    x, y, z, d = values
    result = sphere_mask(geometry, (x, y, z), d, what=f"{key} of {spec.text!r}")
    label = f"sphere({x:g},{y:g},{z:g},d={d:g})"
    warnings = []
    if result.fraction_inside < 1.0:
        warnings.append(f"{key} {label} partly outside the image ({result.fraction_inside:.1%} of its voxels inside)")
    return result.mask, label, warnings


def _value(spec: ThresholdSpec) -> float:
    if spec.value is None:
        raise InvalidInputError(f"rule {spec.rule} needs a value", source=spec.text, attribute=_THRESHOLDS,
                                remedy=_THRESHOLD_EXPECTED)
    return spec.value


def build_threshold_vois(specs: Sequence[ThresholdSpec], suv: np.ndarray, geometry: Geometry,
                         existing: VoiSet | None = None, *, sul_per_suv: float | None = None,
                         rules: Sequence[NameRule] = DEFAULT_NAME_RULES) -> VoiSet:
    """The threshold VOIs of parsed ``--threshold`` specs, in spec order.

    Parameters
    ----------
    specs : sequence of ThresholdSpec
        From :func:`parse_threshold_specs`.
    suv : numpy.ndarray
        (z, y, x) SUV image (g/mL) on ``geometry`` (an SUL image for SUL thresholds).
    geometry : Geometry
        The PET grid.
    existing : VoiSet, optional
        VOIs that ``within=`` and ``liver=`` may name (same grid); threshold VOIs made earlier in
        ``specs`` may be named too. They are not copied into the result.
    sul_per_suv : float, optional
        Factor from the image values to SUL for ``percist`` specs without ``sul=`` (1 for an SUL
        image; LBM / weight for SUVbw).
    rules : sequence of NameRule
        Name-to-kind rules.

    Returns
    -------
    VoiSet
        The new VOIs only; ``provenance["thresholds"]`` lists the threshold values used.

    Raises
    ------
    InvalidInputError
        A whole-image spec without a kind, unknown VOI names, a percist spec without a SUL factor,
        empty or misplaced regions (naming the spec).
    """
    if existing is not None and not existing.geometry.same_grid(geometry):
        raise InvalidInputError("existing VOIs are on another grid than the SUV image", attribute=_THRESHOLDS,
                                remedy="build every VOI on the PET grid")
    pool: list[tuple[np.ndarray, Voi]] = list(zip(existing.masks, existing.vois, strict=True)) if existing else []
    items: list[tuple[np.ndarray, Voi]] = []
    records: list[dict[str, Any]] = []
    for spec in specs:
        if spec.within is None and spec.sphere is None and spec.kind is None:
            raise InvalidInputError("a whole-image threshold needs an explicit kind", source=spec.text or spec.name,
                                    attribute=_THRESHOLDS, remedy=WHOLE_IMAGE_KIND_REMEDY)
        warnings: list[str] = []
        region, region_name = None, None
        if spec.within is not None:
            region, region_name = _lookup(spec.within, pool, spec, "within"), spec.within
        elif spec.sphere is not None:
            region, region_name, more = _sphere_region(spec.sphere, geometry, spec, "sphere")
            warnings += more
        common: _ThresholdArgs = {"name": spec.name, "region": region, "region_name": region_name, "cc": spec.cc,
                                  "kind": spec.kind, "rules": rules}
        try:
            if spec.rule == "fixed":
                made = fixed_threshold_vois(suv, geometry, _value(spec), **common)
            elif spec.rule == "percent_max":
                made = percent_max_vois(suv, geometry, _value(spec), **common)
            elif spec.rule == "percist":
                if spec.liver is not None:
                    liver, liver_name = _lookup(spec.liver, pool, spec, "liver"), spec.liver
                elif spec.liver_sphere is not None:
                    liver, liver_name, more = _sphere_region(spec.liver_sphere, geometry, spec, "liver_sphere")
                    warnings += more
                else:
                    raise InvalidInputError("percist needs one liver reference", source=spec.text,
                                            attribute=_THRESHOLDS, remedy="add :liver=VOI or :liver_sphere=X,Y,Z")
                factor = spec.sul_per_suv if spec.sul_per_suv is not None else sul_per_suv
                if factor is None:
                    raise InvalidInputError("PERCIST needs SUL but no SUL/SUV factor is known", source=spec.text,
                                            attribute=_THRESHOLDS,
                                            remedy="add :sul=1 for an SUL image (petvoi suv --kind lbm) or "
                                                   ":sul=LBM/weight for SUVbw")
                made = percist_vois(suv, geometry, liver, sul_per_suv=factor, liver_name=liver_name, **common)
            else:
                raise InvalidInputError(f"unknown rule {spec.rule!r}", source=spec.text, attribute=_THRESHOLDS,
                                        remedy="fixed, percent_max or percist")
        except InvalidInputError as exc:
            if exc.source == spec.text:
                raise
            raise InvalidInputError(exc.message, source=spec.text, attribute=_THRESHOLDS,
                                    remedy=exc.remedy) from None
        mask, voi = made.masks[0], made.vois[0]
        record = made.provenance["thresholds"][0]
        if spec.exclude_from_organs is not None and voi.kind == "tumour":
            record = {**record, "exclude_from_organs": spec.exclude_from_organs}
            voi = replace(voi, exclude_from_organs=spec.exclude_from_organs)
        voi = replace(voi, warnings=(*warnings, *voi.warnings))
        items.append((mask, voi))
        pool.append((mask, voi))
        records.append({**record, "spec": spec.text})
    return VoiSet.from_masks(geometry, items, {"thresholds": records})
