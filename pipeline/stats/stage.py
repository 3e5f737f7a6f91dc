"""The ``stats`` stage: cohort tables + clinical tables in; ``stats.csv``, each endpoint's tables
(``biodistribution.csv``), ``stats.json`` (settings, inputs, warnings, policy) and the figures (PNG and SVG) out."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..config import config_hash, load_config
from ..errors import InvalidInputError
from ..io import output_set, write_csv
from ..outputs import sidecar_path, write_provenance
from ..policy import Policy
from .endpoints import CohortData, endpoints, run_analyses, validate_analyses
from .ihc import score_ihc, validate_ihc

__all__ = ["run_stats", "load_cohort", "TABLES", "CLINICAL_TABLES"]

#: The cohort tables an analysis may use, in the order of ``stats.json``'s inputs.
TABLES = ("uptake", "deltas", "bor", "heterogeneity", "inter_lesion", "ihc", "histology", "outcomes", "mri")
#: Clinical tables whose default path is the configuration's ``clinical`` section.
CLINICAL_TABLES = ("ihc", "histology", "outcomes")


def _read(path: str | Path | None) -> pd.DataFrame | None:
    if not path:
        return None
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError("table not found", source=str(p), remedy="run the stage that writes it, or unset it")
    if p.suffix == ".parquet":
        return pd.read_parquet(p)
    return pd.read_csv(p, sep="\t" if p.suffix == ".tsv" else ",", keep_default_na=False, na_values=[""])


def load_cohort(paths: Mapping[str, str | Path | None], policy: Policy | None = None) -> CohortData:
    """Read the tables named in ``paths`` (keys: :data:`TABLES`); the uptake table is required."""
    tables = {key: _read(paths.get(key)) for key in TABLES}
    if tables["ihc"] is not None:
        tables["ihc"] = score_ihc(validate_ihc(tables["ihc"], source=str(paths["ihc"])))
    if tables["uptake"] is None:
        raise InvalidInputError("the cohort uptake table is required", attribute="uptake",
                                remedy="give results/cohort/uptake.parquet")
    return CohortData(**tables, policy=policy or Policy())  # type: ignore[arg-type]


def run_stats(config: Mapping[str, Any] | Path, output: Path, tables: Mapping[str, str | Path | None],
              figures_dir: Path | None = None, policy: Policy | None = None) -> pd.DataFrame:
    """Run every enabled endpoint and write the results, the endpoints' tables and figures, and ``stats.json``.

    Parameters
    ----------
    config : mapping or Path
        The configuration (a YAML file is read and validated); its ``analyses`` section drives the endpoints
        and its ``clinical`` section gives the clinical tables not in ``tables``.
    output : Path
        ``stats.csv``; the endpoints' tables (``biodistribution.csv``) and ``stats.json`` go beside it.
    tables : mapping
        Table paths by name (:data:`TABLES`); None: not given (clinical tables: the configuration's).
    figures_dir : Path, optional
        Folder of the figures (default: ``figures/`` beside ``output``).
    policy : Policy, optional
        ``statistics.unmatched_rows``; recorded in ``stats.json``.
    """
    if not isinstance(config, Mapping):
        config = load_config(config)
    policy = policy or Policy()
    paths = {name: tables.get(name) for name in TABLES}
    for name in CLINICAL_TABLES:
        if paths[name] is None:
            paths[name] = config["clinical"][name]
    analyses = validate_analyses(config.get("analyses"))
    data = load_cohort(paths, policy)
    table = run_analyses(data, analyses)
    with output_set(output, sidecar_path(output)):
        return _write_stats(table, data, analyses, config, paths, policy, output, figures_dir)


def _write_stats(table: pd.DataFrame, data: Any, analyses: dict[str, Any], config: Mapping[str, Any],
                 paths: Mapping[str, Any], policy: Policy, output: Path, figures_dir: Path | None) -> pd.DataFrame:
    """Write the statistics table, the endpoints' extra tables and figures, and the provenance (last)."""
    write_csv(output, table)
    folder = figures_dir or Path(output).with_name("figures")
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    for endpoint in endpoints():
        settings = analyses[endpoint.name]
        if not settings["enabled"]:
            continue
        for stem, extra in (endpoint.tables(data, settings) if endpoint.tables else {}).items():
            write_csv(Path(output).with_name(f"{stem}.csv"), extra)
        if endpoint.figures:
            files += [Path(p) for p in endpoint.figures(data, settings, folder)]
    write_provenance(output, {
        "petvoi_version": __version__, "config_hash": config_hash(config), "analyses": analyses,
        "inputs": {k: str(v) for k, v in paths.items() if v}, "warnings": data.warnings,
        "figures": sorted(p.name for p in files), "n_rows": len(table), "policy": policy.record(),
    })
    return table
