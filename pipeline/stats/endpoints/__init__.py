"""The trial endpoints: one module each, found here, run in their ``order``.

Each module of this package defines ``ENDPOINT`` (:class:`~.base.Endpoint`): the settings of its
``analyses.<name>`` section, its rows of ``stats.csv``, its figures and tables. A new endpoint is one
new module (and its test); nothing else names it. :func:`validate_analyses` checks the configuration's
``analyses`` section against the endpoints' settings; :func:`run_analyses` runs the enabled ones and
adjusts p-values (Benjamini-Hochberg) within each endpoint.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Mapping
from functools import cache
from importlib import import_module
from typing import Any

import pandas as pd

from ...config import validate_section
from ..methods import benjamini_hochberg
from .base import STATS_COLUMNS, UPTAKE_VARIABLES, CohortData, Endpoint, row

__all__ = ["STATS_COLUMNS", "UPTAKE_VARIABLES", "CohortData", "Endpoint", "row", "endpoints", "analyses_schema",
           "validate_analyses", "run_analyses"]


@cache
def endpoints() -> tuple[Endpoint, ...]:
    """Every endpoint of this package, in order."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            found.append(import_module(f"{__name__}.{module.name}").ENDPOINT)
    return tuple(sorted(found, key=lambda e: e.order))


def analyses_schema() -> dict[str, Any]:
    """The JSON Schema of the configuration's ``analyses`` section, from the endpoints' settings."""
    return {"type": "object", "additionalProperties": False, "default": {},
            "description": "Trial endpoint statistics (petvoi stats); one entry per endpoint.",
            "properties": {e.name: e.schema() for e in endpoints()}}


def validate_analyses(section: Mapping[str, Any] | None, *, source: str = "config") -> dict[str, Any]:
    """The ``analyses`` section validated, with every endpoint's defaults filled in.

    Raises
    ------
    ConfigError
        Naming the YAML key (``analyses.diagnostic.threshold``) and the allowed values.
    """
    return validate_section(section or {}, analyses_schema(), source=source, path=("analyses",),
                            reference="pipeline/stats/endpoints (petvoi check --schema)")


def run_analyses(data: CohortData, analyses: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run the enabled endpoints and adjust p-values (Benjamini-Hochberg) within each endpoint.

    Parameters
    ----------
    data : CohortData
        Tables.
    analyses : mapping, optional
        The configuration's ``analyses`` section (validated and completed with the defaults here).

    Returns
    -------
    pandas.DataFrame
        :data:`STATS_COLUMNS`, rows in endpoint order.
    """
    settings = validate_analyses(analyses)
    rows: list[dict[str, Any]] = []
    for endpoint in endpoints():
        if settings[endpoint.name]["enabled"]:
            rows.extend(endpoint.rows(data, settings[endpoint.name]))
    table = pd.DataFrame(rows, columns=STATS_COLUMNS)
    for _, index in table.groupby("endpoint", sort=False).groups.items():
        table.loc[index, "p_adjusted"] = benjamini_hochberg(table.loc[index, "p_value"].to_numpy(float))
    return table
