"""VOI names to kinds: which ROI or segment name is a tumour, an organ, a reference region or the body.

:data:`DEFAULT_NAME_RULES` are regular expressions tried in order; a study's own rules
(``petvoi vois --name-rules RULES.yaml``, config ``vois.name_rules``) are tried before them.
RTROIInterpretedType is a hint when no rule matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError
from ..outputs.sidecars import VOI_KINDS as KINDS

__all__ = ["KINDS", "NameRule", "DEFAULT_NAME_RULES", "LIVER_SPHERE_NAME", "classify", "is_liver_sphere",
           "load_name_rules"]


@dataclass(frozen=True)
class NameRule:
    """Map ROI names matching ``pattern`` (case-insensitive regex) to a kind, organ and lesion id.

    ``lesion_id`` and ``organ`` may use ``\\1``-style groups of the pattern.
    ``interpreted_type`` restricts the rule to an RTROIInterpretedType (e.g. ``GTV``).
    """

    pattern: str
    kind: str
    organ: str | None = None
    lesion_id: str | None = None
    interpreted_type: str | None = None


#: Names of the PERCIST normal-liver reference sphere (``liver_ref``, ``liver_sphere``, ``ref_liver``...), as
#: opposed to the whole liver (``liver``); both are ``reference`` VOIs of organ ``liver``.
LIVER_SPHERE_NAME = r"^(liver[ _-]?(ref|reference|sphere)|ref[ _-]?liver)"

#: Default mapping; a config's ``voi_names`` list is tried before these.
DEFAULT_NAME_RULES: tuple[NameRule, ...] = (
    NameRule(r"^(?:lesion|les|tumou?r|gtv|met)[ _-]*0*(\d+)", "tumour", None, r"lesion_\1"),
    NameRule(r"^(?:gtv|tumou?r|lesion|met)", "tumour"),
    NameRule(r"^(body|external|outline|skin)$", "body", "body"),
    NameRule(LIVER_SPHERE_NAME, "reference", "liver"),
    NameRule(r"^liver$", "reference", "liver"),
    NameRule(r"^(aorta|blood[ _-]?pool|bloodpool|ref[ _-]?blood)", "reference", "aorta"),
    NameRule(r"^(spleen|kidney[ _-]?(left|right|l|r)?|muscle|bladder|lung[ _-]?(left|right|l|r)?|bone[ _-]?marrow|"
             r"heart|brain|pancreas|stomach|bowel|salivary|parotid|thyroid|adrenal)", "organ", None),
)

_GTV_TYPES = {"GTV", "CTV", "PTV"}


def classify(name: str, interpreted_type: str | None = None,
             rules: Sequence[NameRule] = DEFAULT_NAME_RULES) -> tuple[str, str | None, str | None]:
    """Kind, organ and lesion id of a VOI name.

    Parameters
    ----------
    name : str
        ROI or segment name.
    interpreted_type : str, optional
        RTROIInterpretedType (3006,00A4): GTV/CTV/PTV hint at a tumour, EXTERNAL at the body,
        ORGAN at an organ; used when no rule matches.
    rules : sequence of NameRule
        Tried in order; the first match wins.

    Returns
    -------
    tuple
        (kind, organ, lesion_id).
    """
    text = name.strip()
    hint = (interpreted_type or "").strip().upper()
    for rule in rules:
        if rule.interpreted_type and rule.interpreted_type.upper() != hint:
            continue
        m = re.search(rule.pattern, text, flags=re.IGNORECASE)
        if m is None:
            continue
        organ = m.expand(rule.organ) if rule.organ and "\\" in rule.organ else rule.organ
        lesion = m.expand(rule.lesion_id) if rule.lesion_id else None
        if rule.kind == "tumour" and lesion and re.fullmatch(r"lesion_\d+", lesion):
            lesion = f"lesion_{int(lesion.split('_')[1]):02d}"
        if rule.kind == "tumour" and not lesion:
            lesion = _slug(text)
        if organ is None and rule.kind == "organ":
            organ = _slug(text)
        return rule.kind, organ, lesion
    if hint in _GTV_TYPES:
        return "tumour", None, _slug(text)
    if hint == "EXTERNAL":
        return "body", "body", None
    return "organ", _slug(text), None


def is_liver_sphere(name: str, source: str = "") -> bool:
    """Whether a liver reference VOI is the PERCIST 3 cm sphere rather than the whole liver.

    True when it was made by ``--spheres`` (``source`` ``sphere:...``) or its name matches
    :data:`LIVER_SPHERE_NAME` (``liver_ref``, ``liver_reference``, ``liver_sphere``, ``ref_liver``);
    anything else (``liver`` from an RTSTRUCT, SEG or mask) is taken as the whole liver.
    """
    return source.startswith("sphere:") or re.search(LIVER_SPHERE_NAME, name.strip(), flags=re.IGNORECASE) is not None


def _slug(text: str) -> str | None:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or None


def load_name_rules(path: Path | None) -> list[NameRule]:
    """Read name-to-kind rules from YAML: a list of {pattern, kind, organ?, lesion_id?, interpreted_type?}.

    Raises
    ------
    InvalidInputError
        Naming the file and the rule at fault.
    """
    if path is None:
        return []
    import yaml

    try:
        data: Any = yaml.safe_load(Path(path).read_text("utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot be read as YAML ({exc})", source=str(path),
                                remedy="give a YAML list of {pattern, kind, organ, lesion_id}") from None
    if isinstance(data, dict):
        data = data.get("voi_names", data.get("rules", []))
    rules = []
    for i, item in enumerate(data, start=1):
        try:
            rule = NameRule(**item)
        except TypeError as exc:
            raise InvalidInputError(f"rule {i} is not valid ({exc})", source=str(path), attribute=f"rule {i}",
                                    remedy="keys: pattern, kind, organ, lesion_id, interpreted_type") from None
        if rule.kind not in ("tumour", "organ", "reference", "body"):
            raise InvalidInputError(f"rule {i} has unknown kind {rule.kind!r}", source=str(path),
                                    attribute=f"rule {i}", remedy="use tumour, organ, reference or body")
        rules.append(rule)
    return rules
