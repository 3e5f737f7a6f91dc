"""Configuration and sample-sheet loading, validated against JSON Schemas.

The CLI and the Snakefile both call :func:`load_config` and
:func:`load_sample_sheet`, so a bad key or value is reported the same way
everywhere: by its path in the YAML (``synth.seed``) or by its row and column
in the sample sheet.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import yaml

from .errors import ConfigError, SampleSheetError
from .policy import schema_fragment

__all__ = [
    "load_config",
    "validate_config",
    "validate_section",
    "load_sample_sheet",
    "check_dynamic_studies",
    "config_hash",
    "schema",
]


@cache
def schema(name: str) -> dict[str, Any]:
    """Return the JSON Schema ``name`` (``config`` or ``samples``) shipped with the package.

    The configuration's ``policy`` section is filled in from the policy's checks (:mod:`pipeline.policy`).
    """
    text = resources.files("pipeline").joinpath("schemas", f"{name}.schema.yaml").read_text("utf-8")
    # libyaml's loader when PyYAML has it: 8x faster on the config schema (40 -> 5 ms), paid by every snakemake
    # start, twice per cluster job
    data: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if name == "config":
        data["properties"]["policy"] = {**schema_fragment(), "description": data["properties"]["policy"][
            "description"]}
    return data


def _yaml_path(path: Any) -> str:
    parts = [str(p) if not isinstance(p, int) else f"[{p}]" for p in path]
    return ".".join(parts).replace(".[", "[") or "<top level>"


def _fill_defaults(instance: dict[str, Any], node: Mapping[str, Any]) -> None:
    for key, sub in node.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if isinstance(instance.get(key), dict) and sub.get("type") == "object":
            _fill_defaults(instance[key], sub)


def validate_config(config: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    """Validate a configuration mapping and return a copy with defaults filled.

    Parameters
    ----------
    config : mapping
        The parsed YAML.
    source : str
        Name of the file, used in error messages.

    Returns
    -------
    dict
        The validated configuration with every default present.

    Raises
    ------
    ConfigError
        Naming the YAML path of the first offending key or value.
    """
    if not isinstance(config, Mapping):
        raise ConfigError("the configuration must be a mapping of keys to values", source=source)
    _refuse_control_characters(config, (), source)
    return validate_section(config, schema("config"), source=source)


def _refuse_control_characters(node: Any, path: tuple[str, ...], source: str) -> None:
    """No value of the configuration holds a line break or a NUL: paths and labels reach shell command lines and
    file names (spaces, quotes and any other character are quoted where they are used)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            _refuse_control_characters(value, (*path, str(key)), source)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _refuse_control_characters(value, (*path[:-1], f"{path[-1]}[{i}]") if path else (f"[{i}]",), source)
    elif isinstance(node, str) and any(c in node for c in "\n\r\x00"):
        raise ConfigError(f"value {node!r} holds a line break or NUL", source=source, attribute=".".join(path),
                          remedy="remove the control character (a path may hold spaces and any other character)")


def validate_section(section: Mapping[str, Any], section_schema: Mapping[str, Any], *, source: str = "config",
                     path: tuple[str, ...] = (), reference: str = "configs/config.schema.yaml") -> dict[str, Any]:
    """Validate one section of a configuration against its JSON Schema; return a copy with defaults filled.

    Parameters
    ----------
    section : mapping
        The section's content.
    section_schema : mapping
        Its schema (``default`` values are filled in).
    source : str
        Name of the file, used in error messages.
    path : tuple of str
        YAML path of the section (``("analyses",)``), prefixed to the key named in errors.
    reference : str
        Where the allowed keys and values are documented, for the remedy.

    Raises
    ------
    ConfigError
        Naming the YAML path of the first offending key or value.
    """
    instance = copy.deepcopy(dict(section))
    _fill_defaults(instance, section_schema)
    validator = jsonschema.Draft202012Validator(section_schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        err = errors[0]
        where = [*path, *err.absolute_path]
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            raise ConfigError("unknown key", source=source, attribute=_yaml_path([*where, *extra[:1]]),
                              remedy=f"remove it or check its spelling against {reference}")
        raise ConfigError(err.message, source=source, attribute=_yaml_path(where),
                          remedy=f"see {reference} for the allowed values")
    return instance


def load_config(path: str | Path | None = None, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read, merge and validate a YAML configuration.

    Parameters
    ----------
    path : path-like, optional
        YAML file; ``None`` gives the defaults alone.
    overrides : mapping, optional
        Keys that replace the file's values at the top level (Snakemake's
        ``--config`` passes these).

    Returns
    -------
    dict
        Validated configuration with defaults.

    Raises
    ------
    ConfigError
        If the file is missing, is not YAML, or does not match the schema.
    """
    data: dict[str, Any] = {}
    source = str(path) if path is not None else "config"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError("file not found", source=source, remedy="give an existing YAML file with --config")
        try:
            data = yaml.safe_load(p.read_text("utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark is not None else None
            raise ConfigError(f"not valid YAML ({getattr(exc, 'problem', exc)})", source=source, attribute=where,
                              remedy="fix the YAML syntax") from None
    if overrides:
        data = {**data, **dict(overrides)}
    return validate_config(data, source=source)


def config_hash(config: Mapping[str, Any]) -> str:
    """Return a short SHA-256 of the canonical JSON of a configuration (for report footers)."""
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def _read_sheet(path: str | Path, schema_name: str, *, key: str, allow_empty: bool = False) -> pd.DataFrame:
    """A TSV sheet validated row by row against the schema ``schema_name``; (subject_id, timepoint) unique.
    ``key`` is the configuration key that names it (in the remedy of a missing file); ``allow_empty``: a sheet
    of its header alone is valid (no studies)."""
    p = Path(path)
    source = str(p)
    if not p.is_file():
        raise SampleSheetError("file not found", source=source,
                               remedy=f"set `{key}:` in the config to the sheet")
    try:
        table = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SampleSheetError(f"cannot be parsed as TSV ({exc})", source=source,
                               remedy="use tab-separated columns") from None
    sheet_schema = schema(schema_name)
    unknown = [c for c in table.columns if c not in sheet_schema["properties"]]
    if unknown:
        raise SampleSheetError("unknown column", source=source, attribute=unknown[0],
                               remedy=f"allowed columns: {', '.join(sheet_schema['properties'])}")
    missing = [c for c in sheet_schema["required"] if c not in table.columns]
    if missing:
        raise SampleSheetError("required column missing", source=source, attribute=missing[0],
                               remedy=f"add the columns {', '.join(sheet_schema['required'])}")
    if table.empty and not allow_empty:
        raise SampleSheetError("no rows", source=source, remedy="add one row per subject and timepoint")
    validator = jsonschema.Draft202012Validator(sheet_schema)
    for i, row in enumerate(table.to_dict(orient="records"), start=1):
        present = {k: v for k, v in row.items() if v != ""}
        for err in sorted(validator.iter_errors(present), key=lambda e: e.message):
            column = err.absolute_path[0] if err.absolute_path else (
                err.message.split("'")[1] if err.validator == "required" else None)
            raise SampleSheetError(err.message, source=source, attribute=f"row {i}, column {column}",
                                   remedy=f"see configs/{schema_name}.schema.yaml")
    dup = table.duplicated(subset=["subject_id", "timepoint"], keep=False)
    if dup.any():
        first = table[dup].iloc[0]
        raise SampleSheetError(
            f"subject {first['subject_id']} timepoint {first['timepoint']} appears more than once",
            source=source, attribute="subject_id, timepoint", remedy="keep one row per subject and timepoint")
    return table


def load_mri_sheet(path: str | Path) -> pd.DataFrame:
    """Read and validate the MR sample sheet (``configs/mri_samples.schema.yaml``): one row per MR study (a sheet
    of its header alone: none, as the synthetic generator writes it for a cohort without CD8-trial subjects).

    Raises
    ------
    SampleSheetError
        Naming the row and column at fault, or a duplicated (subject_id, timepoint).
    """
    return _read_sheet(path, "mri_samples", key="mri.samples", allow_empty=True)


def load_sample_sheet(path: str | Path, acquisition: str | None = None) -> pd.DataFrame:
    """Read and validate a sample sheet (TSV).

    Parameters
    ----------
    path : path-like
        Tab-separated file with the columns of ``configs/samples.schema.yaml``.
    acquisition : {"static", "dynamic"}, optional
        Keep only these studies (the whole sheet is validated either way). An empty or missing
        ``acquisition`` cell means ``static``.

    Returns
    -------
    pandas.DataFrame
        One row per (subject_id, timepoint), all columns as strings, empty
        optional cells as empty strings, ``acquisition`` always filled.

    Raises
    ------
    SampleSheetError
        Naming the row (1-based, after the header) and column at fault, or a
        duplicated (subject_id, timepoint).
    """
    table = _read_sheet(path, "samples", key="samples")
    if "acquisition" not in table:
        table["acquisition"] = ""
    table["acquisition"] = table["acquisition"].replace("", "static")
    if acquisition is not None:
        table = table[table["acquisition"] == acquisition].reset_index(drop=True)
    return table


def _is_file(path: Path) -> bool:
    """Path.is_file, False also for a name the file system refuses (too long, invalid): never an OSError."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


#: Kinetic models that need a blood (plasma) input.
PLASMA_INPUT_MODELS = ("1tcm", "2tcm", "2tcm_irr", "logan", "patlak")


def check_dynamic_studies(config: Mapping[str, Any], sheet: pd.DataFrame, *, source: str = "sample sheet",
                          check_files: bool = True) -> None:
    """Check that the dynamic studies of a sheet can run with the ``kinetics:`` configuration.

    Parameters
    ----------
    config : mapping
        Validated configuration (``kinetics`` and ``data_root`` are read).
    sheet : pandas.DataFrame
        The whole sample sheet from :func:`load_sample_sheet`.
    source : str
        Named in errors (the sheet's path).
    check_files : bool
        Also require the blood tables to exist (False before the synthetic data are generated).

    Raises
    ------
    ConfigError
        ``delay: fit`` without ``delay_voi``, or a reference model without ``reference``.
    SampleSheetError
        A dynamic study without a blood table while plasma-input models are configured, or a blood
        table that does not exist.
    """
    kinetics = config.get("kinetics") or {}
    dynamic = sheet[sheet.get("acquisition", pd.Series("static", index=sheet.index)) == "dynamic"]
    if dynamic.empty:
        return
    if kinetics.get("delay") == "fit" and not kinetics.get("delay_voi"):
        raise ConfigError("delay: fit needs the VOI to fit it on", source="config", attribute="kinetics.delay_voi",
                          remedy="name a high-flow VOI, or give the delay in seconds")
    models = list(kinetics.get("models") or [])
    if any(m in ("srtm", "logan_ref", "mrtm") for m in models) and not kinetics.get("reference"):
        raise ConfigError("reference-region models need a reference region", source="config",
                          attribute="kinetics.reference", remedy="name the reference VOI or drop srtm/logan_ref/mrtm")
    needs_blood = [m for m in models if m in PLASMA_INPUT_MODELS]
    root = Path(config.get("data_root") or ".")
    for row in dynamic.itertuples(index=False):
        blood = getattr(row, "blood", "") or ""
        where = f"{row.subject_id}/{row.timepoint}"
        if not blood:
            if needs_blood:
                raise SampleSheetError(f"dynamic study {where} has no blood table for {', '.join(needs_blood)}",
                                       source=source, attribute="blood",
                                       remedy="give its blood table, or configure reference-region models only")
            continue
        path = Path(blood) if Path(blood).is_absolute() else root / blood
        if check_files and not _is_file(path):
            raise SampleSheetError(f"blood table of {where} not found: {path}", source=source, attribute="blood",
                                   remedy="fix the path (relative to data_root)")
