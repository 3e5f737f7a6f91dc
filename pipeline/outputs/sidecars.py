"""The JSON sidecars that pass between stages: one class per file, read and written only here.

A sidecar is the JSON object written beside an output (``suv.nii.gz`` -> ``suv.json``). Each class
is a read-only mapping of the file's keys (so a stage reads ``sidecar["rule"]`` or
``sidecar.get("height_cm")`` as before) that checks, when it is built, that every key it knows has a
value of the right type; typed properties give the values stages rely on, and :meth:`Sidecar.require`
refuses a missing one naming the file and the key.

=====================  ==============================  ============================================
class                  file                            written by
=====================  ==============================  ============================================
:class:`SuvSidecar`    ``suv.json`` (and ``ct.json``)  ``petvoi suv`` / ``petvoi ct``
:class:`VoiCatalogue`  ``vois.json``                   ``petvoi vois``
:class:`KineticsSidecar`  ``kinetics.json``            ``petvoi kinetics``
:func:`write_provenance`  ``uptake.json``, ``texture.json``, ``parametric.json``, ``stats.json``: settings
                       records that no stage reads back
=====================  ==============================  ============================================
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..errors import InvalidInputError
from ..io import write_json

__all__ = ["sidecar_path", "Sidecar", "SuvSidecar", "CtSidecar", "VoiCatalogue", "KineticsSidecar",
           "read_suv_sidecar", "write_provenance", "SUV_KINDS", "VOI_KINDS"]

#: SUV normalisations (``suv_kind``).
SUV_KINDS = ("bw", "lbm", "bsa", "ibw")
#: VOI kinds of the catalogue.
VOI_KINDS = ("tumour", "organ", "reference", "body")

_IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")


def sidecar_path(output: str | Path) -> Path:
    """The JSON sidecar beside an output: ``x/suv.nii.gz`` -> ``x/suv.json``, ``x/uptake.csv`` -> ``x/uptake.json``."""
    p = Path(output)
    for suffix in _IMAGE_SUFFIXES:
        if p.name.endswith(suffix):
            return p.with_name(p.name[: -len(suffix)] + ".json")
    return p.with_suffix(".json")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_CHECKS: dict[str, tuple[str, Any]] = {
    "number": ("a number", _is_number),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "list": ("a list", lambda v: isinstance(v, list)),
    "object": ("an object", lambda v: isinstance(v, dict)),
    "number_or_list": ("a number or a list of numbers",
                       lambda v: _is_number(v) or (isinstance(v, list) and all(_is_number(x) for x in v))),
}


class Sidecar(Mapping[str, Any]):
    """A JSON object written beside an output, validated when built.

    Parameters
    ----------
    data : mapping
        The JSON content.
    path : Path, optional
        The file it was read from (named in errors).

    Raises
    ------
    InvalidInputError
        When a known key holds a value of the wrong type, naming the file and the key.
    """

    #: What the file is, for messages ("SUV sidecar").
    what: ClassVar[str] = "sidecar"
    #: The command that writes it, for remedies.
    writer: ClassVar[str] = "petvoi"
    #: Known keys and their JSON types (keys of :data:`_CHECKS`); a value may always be null.
    fields: ClassVar[dict[str, str]] = {}

    def __init__(self, data: Mapping[str, Any], path: Path | None = None) -> None:
        if not isinstance(data, Mapping):
            raise self._error(f"{self.what} is not a JSON object", path)
        self._data = dict(data)
        self.path = path
        for key, kind in self.fields.items():
            value = self._data.get(key)
            if value is None:
                continue
            text, check = _CHECKS[kind]
            if not check(value):
                raise self._error(f"{key} must be {text}, got {value!r}", path, attribute=key)
        self.validate()

    def validate(self) -> None:
        """Checks beyond the types of single keys (subclasses)."""

    @classmethod
    def _error(cls, message: str, path: Path | None, attribute: str | None = None) -> InvalidInputError:
        return InvalidInputError(message, source=str(path) if path else None, attribute=attribute,
                                 remedy=f"rewrite it with `{cls.writer}`")

    # -- mapping
    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def as_dict(self) -> dict[str, Any]:
        """A copy of the content as a plain dict."""
        return dict(self._data)

    def require(self, key: str) -> Any:
        """The value of ``key``; a missing or null value is an error naming the file and the key."""
        value = self._data.get(key)
        if value is None:
            raise self._error(f"{key} missing from the {self.what}", self.path, attribute=key)
        return value

    # -- files
    @classmethod
    def file_for(cls, output: str | Path) -> Path:
        """The sidecar path beside ``output`` (an image or a table), or ``output`` itself if it is a ``.json``."""
        p = Path(output)
        return p if p.suffix == ".json" else sidecar_path(p)

    @classmethod
    def read(cls, output: str | Path) -> Any:
        """Read the sidecar beside ``output`` (or the ``.json`` itself).

        Raises
        ------
        InvalidInputError
            When it is missing, not JSON, not an object, or a key has a wrong type.
        """
        path = cls.file_for(output)
        if not path.is_file():
            raise InvalidInputError(f"{cls.what} missing", source=str(path),
                                    remedy=f"{cls.what} files are written by `{cls.writer}` beside their output")
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"cannot read the {cls.what}: {exc}", source=str(path),
                                    remedy=f"rewrite it with `{cls.writer}`") from None
        return cls(data, path)

    @classmethod
    def read_optional(cls, output: str | Path) -> Any:
        """Like :meth:`read`, but None when the file does not exist."""
        return cls.read(output) if cls.file_for(output).is_file() else None

    def write(self, output: str | Path) -> Path:
        """Write the sidecar beside ``output`` (or to the ``.json`` path itself), atomically and byte-stable."""
        path = self.file_for(output)
        write_json(path, self._data)
        self.path = path
        return path


class SuvSidecar(Sidecar):
    """``suv.json``: how the SUV volume was computed (``reference/suv.md``) and the series it came from.

    Keys: ``suv_kind`` (bw, lbm, bsa, ibw), ``suv_factor`` (rescaled value -> SUV) or ``suv_factors`` per
    frame, ``decay_factor``, ``half_life_s``, ``nuclide``, ``injected_dose_bq``, ``injection_datetime``
    and ``reference_datetime`` (ISO 8601), ``uptake_time_s``, ``weight_kg``, ``height_cm``, ``sex``,
    ``normaliser_value`` (g or cm²) and ``normaliser_name``, ``units``, ``decay_correction``, ``rule``,
    ``formula``, ``activity_scale``, ``activity_balance``, ``reference_candidates``, ``overrides``,
    ``checks``, ``warnings``, the series' UIDs, manufacturer and geometry, and for a dynamic series
    ``frames`` (``frame``, ``start``, ``duration_s``, ``start_s``, ``mid_s``, ``end_s``: seconds from
    injection). ``policy`` records the bad-value policy of the run.
    """

    what = "SUV sidecar"
    writer = "petvoi suv"
    fields: ClassVar[dict[str, str]] = {
        "suv_kind": "str", "suv_factor": "number", "suv_factors": "list", "decay_factor": "number_or_list",
        "half_life_s": "number", "half_life_source": "str", "nuclide": "str", "injected_dose_bq": "number",
        "injection_datetime": "str", "reference_datetime": "str", "uptake_time_s": "number", "weight_kg": "number",
        "height_cm": "number", "sex": "str", "normaliser_value": "number", "normaliser_name": "str", "units": "str",
        "decay_correction": "str", "rule": "str", "formula": "str", "activity_scale": "number",
        "activity_balance": "number", "reference_candidates": "list", "overrides": "object", "checks": "object",
        "warnings": "list", "frames": "list", "dynamic": "bool", "n_frames": "int", "geometry": "object",
        "frame_of_reference_uid": "str", "series_instance_uid": "str", "manufacturer": "str",
        "manufacturer_model_name": "str", "policy": "object",
    }

    def validate(self) -> None:
        kind = self._data.get("suv_kind")
        if kind is not None and kind not in SUV_KINDS:
            raise self._error(f"unknown suv_kind {kind!r} (one of {', '.join(SUV_KINDS)})", self.path, "suv_kind")
        for i, frame in enumerate(self._data.get("frames") or []):
            if not isinstance(frame, dict):
                raise self._error(f"frame {i + 1} is not an object", self.path, f"frames[{i}]")

    @property
    def suv_kind(self) -> str | None:
        """SUV normalisation (bw, lbm, bsa, ibw)."""
        return self._data.get("suv_kind")

    @property
    def frames(self) -> list[dict[str, Any]]:
        """Frame timing of a dynamic series (seconds from injection); empty for a static one."""
        return list(self._data.get("frames") or [])

    @property
    def frame_of_reference_uid(self) -> str | None:
        """The PET's FrameOfReferenceUID (empty text counts as missing)."""
        return self._data.get("frame_of_reference_uid") or None

    @property
    def warnings(self) -> list[str]:
        """Warnings of the SUV computation."""
        return [str(w) for w in self._data.get("warnings") or []]


class CtSidecar(Sidecar):
    """``ct.json``: the CT series decoded to Hounsfield units (UIDs, slices, HU range, geometry)."""

    what = "CT sidecar"
    writer = "petvoi ct"
    fields: ClassVar[dict[str, str]] = {
        "units": "str", "series_instance_uid": "str", "frame_of_reference_uid": "str", "n_slices": "int",
        "hu_min": "number", "hu_max": "number", "geometry": "object", "policy": "object",
    }


class VoiCatalogue(Sidecar):
    """``vois.json``: the catalogue of a VOI set, one entry per mask of ``vois.nii.gz`` in its order.

    Keys: ``vois`` (label, name, kind, lesion_id, organ, source, n_voxels, volume_ml, warnings,
    exclude_from_organs), ``n_vois``, ``voxel_volume_ml`` and ``provenance`` (each source's settings).
    ``exclude_from_organs`` (true, false or null; absent in catalogues written before it existed:
    null) says whether a tumour VOI is left out of organ and reference statistics by ``petvoi uptake``;
    null is the kind's default (true for tumours).
    """

    what = "VOI catalogue"
    writer = "petvoi vois"
    fields: ClassVar[dict[str, str]] = {"vois": "list", "n_vois": "int", "voxel_volume_ml": "number",
                                        "provenance": "object", "policy": "object"}
    _ENTRY: ClassVar[dict[str, str]] = {"label": "int", "name": "str", "kind": "str", "n_voxels": "int"}

    def validate(self) -> None:
        if "vois" not in self._data:
            raise self._error("vois missing from the VOI catalogue", self.path, "vois")
        for i, entry in enumerate(self.entries):
            if not isinstance(entry, dict):
                raise self._error(f"entry {i + 1} is not an object", self.path, f"vois[{i}]")
            for key, kind in self._ENTRY.items():
                text, check = _CHECKS[kind]
                if not check(entry.get(key)):
                    raise self._error(f"{key} must be {text}, got {entry.get(key)!r}", self.path, f"vois[{i}].{key}")
            if entry["kind"] not in VOI_KINDS:
                raise self._error(f"unknown kind {entry['kind']!r}", self.path, f"vois[{i}].kind")
            if entry.get("exclude_from_organs") is not None and not isinstance(entry["exclude_from_organs"], bool):
                raise self._error(f"exclude_from_organs must be true, false or null, got "
                                  f"{entry['exclude_from_organs']!r}", self.path, f"vois[{i}].exclude_from_organs")

    @property
    def entries(self) -> list[dict[str, Any]]:
        """The catalogue entries in mask order."""
        return list(self._data.get("vois") or [])

    @property
    def n_vois(self) -> int:
        """Number of VOIs (the 4D image may hold one empty volume when it is 0)."""
        value = self._data.get("n_vois")
        return int(value) if value is not None else len(self.entries)

    @property
    def provenance(self) -> dict[str, Any]:
        """Settings of each VOI source."""
        return dict(self._data.get("provenance") or {})


class KineticsSidecar(Sidecar):
    """``kinetics.json``: the models, reference region, blood table, input-function processing and fitted delay."""

    what = "kinetics sidecar"
    writer = "petvoi kinetics"
    fields: ClassVar[dict[str, str]] = {"models": "list", "reference": "str", "t_star_min": "number",
                                        "blood_table": "str", "nuclide": "str", "input_function": "object",
                                        "delay_fit": "object", "policy": "object"}

    @property
    def input_function(self) -> dict[str, Any]:
        """How the blood input was processed (kind, decay correction, image-derived scaling...)."""
        return dict(self._data.get("input_function") or {})

    @property
    def delay_fit(self) -> dict[str, Any] | None:
        """The fitted input delay (voi, delay_s, window_min, model...), or None when it was given."""
        value = self._data.get("delay_fit")
        return dict(value) if value else None


def read_suv_sidecar(suv_path: str | Path, *, required: bool = False) -> SuvSidecar | None:
    """The ``suv.json`` beside an SUV volume, or None when it is missing and not ``required``.

    Raises
    ------
    InvalidInputError
        When it is not valid JSON or not an SUV sidecar, or is missing and ``required``.
    """
    if required:
        return SuvSidecar.read(suv_path)
    return SuvSidecar.read_optional(suv_path)


def write_provenance(output: str | Path, data: Mapping[str, Any]) -> Path:
    """Write the settings record of a table (``uptake.csv`` -> ``uptake.json``) or of a folder's JSON path."""
    path = Path(output) if Path(output).suffix == ".json" else sidecar_path(output)
    return write_json(path, dict(data))
