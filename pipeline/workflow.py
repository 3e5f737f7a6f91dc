"""What the Snakemake workflow and ``petvoi check`` share: the complete, validated configuration.

:func:`load_workflow_config` validates a configuration against the schema (with the policy's checks and
the endpoints' settings of :mod:`pipeline.stats.endpoints`); :func:`check_workflow` is ``petvoi check``:
that, the sample sheet, and the dynamic studies against the ``kinetics`` settings.
:func:`policy_arguments` turns the configuration's ``policy`` section into the global options every rule
passes to ``petvoi``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import check_dynamic_studies, load_config, load_sample_sheet, schema, validate_config
from .policy import CHECKS, Policy

__all__ = ["load_workflow_config", "check_workflow", "config_schema", "policy_arguments"]


def config_schema() -> dict[str, Any]:
    """The complete JSON Schema of the configuration (policy checks and endpoint settings included)."""
    from .stats.endpoints import analyses_schema

    full = dict(schema("config"))
    full["properties"] = {**full["properties"], "analyses": analyses_schema()}
    return full


def load_workflow_config(config: Mapping[str, Any] | Path, *, source: str = "config") -> dict[str, Any]:
    """A validated configuration with defaults, its policy checked (naming the YAML key of any error).

    Parameters
    ----------
    config : mapping or Path
        The parsed configuration (Snakemake's ``config``) or its YAML file.
    source : str
        Named in errors when ``config`` is a mapping.

    Raises
    ------
    ConfigError
        Naming the YAML path of the first offending key or value.
    """
    from .stats.endpoints import validate_analyses

    where = str(config) if isinstance(config, Path) else source
    cfg = load_config(config) if isinstance(config, Path) else validate_config(config, source=source)
    Policy.from_config(cfg.get("policy"), source=where)
    cfg["analyses"] = validate_analyses(cfg.get("analyses"), source=where)
    return cfg


def check_workflow(config_path: Path, samples: Path | None = None) -> str:
    """Validate a configuration, its sample sheet and its dynamic studies; return a one-line summary.

    Raises
    ------
    PipelineError
        The first problem found, naming the file and the key, row or column.
    """
    cfg = load_workflow_config(config_path)
    sheet_path = samples or Path(cfg["samples"])
    sheet = load_sample_sheet(sheet_path)
    check_dynamic_studies(cfg, sheet, source=str(sheet_path))
    n_dynamic = int((sheet["acquisition"] == "dynamic").sum())
    return (f"{config_path}: valid; sample sheet {sheet_path}: {len(sheet)} rows ({n_dynamic} dynamic), "
            f"{sheet['subject_id'].nunique()} subjects")


def policy_arguments(config: Mapping[str, Any]) -> str:
    """The global ``petvoi`` options of the configuration's policy: ``--strict`` and the non-default checks."""
    policy = Policy.from_config(config.get("policy"))
    args = ["--strict"] if policy.strict else []
    args += [f"--policy {shlex.quote(f'{key}={action.value}')}" for key, action in sorted(policy.actions.items())
             if action is not CHECKS[key].default]
    return " ".join(args)
