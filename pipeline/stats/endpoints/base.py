"""What every endpoint shares: the cohort tables (:class:`CohortData`), the result row and the endpoint object.

An endpoint (:class:`Endpoint`) is one trial question answered from the cohort tables: its settings
(a JSON-Schema fragment of the configuration's ``analyses.<name>``), its rows of ``stats.csv``, and
optionally its figures and extra tables. Each lives in one module of this package; the registry
(:mod:`pipeline.stats.endpoints`) finds them.

The merges every endpoint needs (tumour VOIs at a timepoint, the hottest lesion per subject, the IHC
rows joined to their VOIs) are methods of :class:`CohortData`, written once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import InvalidInputError
from ...policy import Policy
from ..methods import StatResult

__all__ = ["STATS_COLUMNS", "UPTAKE_VARIABLES", "CohortData", "Endpoint", "row", "lesion_design", "FigureMaker",
           "RowMaker", "TableMaker"]

log = logging.getLogger(__name__)

STATS_COLUMNS = ["endpoint", "analysis", "variable", "level", "estimand", "n_subjects", "n_lesions", "estimate",
                 "ci_low", "ci_high", "statistic", "p_value", "p_adjusted", "method", "notes"]
UPTAKE_VARIABLES = ("suv_max", "suv_mean", "suv_peak", "sul_peak", "sul_max", "volume_ml", "tlg",
                    "suv_max_to_liver", "suv_peak_to_liver", "suv_max_to_blood", "suv_peak_to_blood")
IHC_KEYS = ["subject_id", "timepoint", "lesion_id"]


@dataclass
class CohortData:
    """The cohort and clinical tables an analysis may use (missing ones are None).

    Attributes
    ----------
    uptake : DataFrame
        Cohort uptake table (one row per study and VOI).
    deltas, bor, heterogeneity, inter_lesion, ihc, histology, outcomes : DataFrame, optional
        Changes from baseline, best overall response, heterogeneity, inter-lesion spread, IHC scores,
        histology, survival outcomes.
    mri : DataFrame, optional
        The cohort MRI table (one row per MR study and VOI: pipeline/mri/cohort.py).
    warnings : list of str
        Warnings of the analyses (written to ``stats.json``).
    policy : Policy
        ``statistics.unmatched_rows``: clinical rows without a VOI are left out with a warning, or refused.
    """

    uptake: pd.DataFrame
    deltas: pd.DataFrame | None = None
    bor: pd.DataFrame | None = None
    heterogeneity: pd.DataFrame | None = None
    inter_lesion: pd.DataFrame | None = None
    ihc: pd.DataFrame | None = None
    histology: pd.DataFrame | None = None
    outcomes: pd.DataFrame | None = None
    mri: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    policy: Policy = field(default_factory=Policy)

    def check_variable(self, variable: str, endpoint: str) -> None:
        """Refuse an uptake variable the cohort table does not have, naming the YAML key."""
        if variable not in self.uptake.columns:
            raise InvalidInputError(f"unknown variable {variable!r}", attribute=f"analyses.{endpoint}.variable",
                                    remedy=f"use one of {', '.join(v for v in UPTAKE_VARIABLES if v in self.uptake)}")

    def tumours(self, timepoint: str | None = None) -> pd.DataFrame:
        """Tumour VOIs, of one timepoint or all."""
        u = self.uptake[self.uptake["kind"] == "tumour"]
        return u if timepoint is None else u[u["timepoint"] == timepoint]

    def hottest(self, variable: str, timepoint: str) -> pd.DataFrame:
        """Per subject, the tumour VOI with the highest ``variable`` at ``timepoint``."""
        t = self.tumours(timepoint).dropna(subset=[variable])
        if t.empty:
            return t
        return t.loc[t.groupby("subject_id")[variable].idxmax()]

    def lesion_pairs(self, variable: str, first: Mapping[str, str], second: Mapping[str, str]
                     ) -> tuple[pd.DataFrame, list[str]]:
        """Tumour lesions measured in two selections of scans, matched by subject and lesion_id.

        Parameters
        ----------
        variable : str
            Uptake-table column.
        first, second : mapping
            Column -> value that select the scans, e.g. ``{"timepoint": "baseline", "route": "iv"}``.

        Returns
        -------
        (DataFrame, list of str)
            One row per matched lesion and pair of scans: ``subject_id``, ``lesion_id``, the second scan's
            ``timepoint``, ``first`` and ``second`` (the values); and ``subject/lesion`` of the lesions seen
            in only one of the selections (never analysed, listed in the rows' notes).
        """
        keys = ["subject_id", "lesion_id"]

        def select(where: Mapping[str, str]) -> pd.DataFrame:
            t = self.tumours()
            if variable not in t.columns:
                return pd.DataFrame(columns=[*keys, "timepoint", variable])
            for column, value in where.items():
                if column not in t.columns:
                    return pd.DataFrame(columns=[*keys, "timepoint", variable])
                t = t[t[column].astype(str) == str(value)]
            return t[[*keys, "timepoint", variable]].dropna(subset=[variable])

        a, b = select(first), select(second)
        a = a.groupby(keys, as_index=False)[variable].mean()  # one value per lesion of the reference scan
        merged = a.merge(b, on=keys, how="inner", suffixes=("_first", "_second"))
        pairs = merged.rename(columns={f"{variable}_first": "first", f"{variable}_second": "second"})
        seen_a = set(map(tuple, a[keys].astype(str).to_numpy()))
        seen_b = set(map(tuple, b[keys].astype(str).to_numpy()))
        unpaired = sorted(f"{s}/{lesion}" for s, lesion in seen_a ^ seen_b)
        return pairs[[*keys, "timepoint", "first", "second"]].reset_index(drop=True), unpaired

    def ihc_lesions(self, variable: str) -> tuple[pd.DataFrame, str]:
        """The IHC rows joined to the ``variable`` of their tumour VOI, and the note on rows without one.

        IHC rows that match no VOI (subject, timepoint, lesion_id) are left out with a warning, or
        refused when the policy's ``statistics.unmatched_rows`` is ``raise``.
        """
        if self.ihc is None:
            return pd.DataFrame(columns=[*IHC_KEYS, variable]), ""
        uptake = self.tumours()[[*IHC_KEYS, variable]]
        merged = self.ihc.copy().merge(uptake, on=IHC_KEYS, how="left")
        missing = merged[merged[variable].isna()]
        notes = ""
        if len(missing):
            listed = ", ".join(f"{r.subject_id}/{r.timepoint}/{r.lesion_id}" for r in missing.itertuples())
            notes = f"IHC rows without a VOI (ignored): {listed}"
            check = "statistics.unmatched_rows"
            error = InvalidInputError(notes, attribute="ihc", remedy="fix the lesion ids, or leave the rows out "
                                                                       f"with {Policy.how_to_allow(check)}")
            if notes not in self.warnings:
                self.policy.apply(check, notes, error, self.warnings)
                log.warning("%s", notes)
        return merged.dropna(subset=[variable]), notes


def lesion_design(frame: pd.DataFrame) -> tuple[str, bool]:
    """The unit of analysis of a table of lesions (``subject_id`` column): its text for the estimand, and whether
    patients have several lesions (clustered: patient-level methods)."""
    clustered = len(frame) > frame["subject_id"].nunique()
    return ("unit: lesion nested in patient" if clustered else "unit: lesion, one per patient"), clustered


def row(endpoint: str, analysis: str, variable: str, level: str, result: StatResult | None, *,
        n_subjects: int, n_lesions: int | None = None, notes: str = "", method: str | None = None,
        estimand: str = "") -> dict[str, Any]:
    """One row of ``stats.csv`` (:data:`STATS_COLUMNS`); ``result`` None: a row that says why there is none.

    ``estimand`` states what is estimated: population, unit of analysis, variable and summary measure
    (``docs/STATISTICS.md`` lists them per endpoint).
    """
    nan = float("nan")
    r = result
    return {"endpoint": endpoint, "analysis": analysis, "variable": variable, "level": level, "estimand": estimand,
            "n_subjects": int(n_subjects), "n_lesions": n_lesions if n_lesions is not None else pd.NA,
            "estimate": r.estimate if r else nan, "ci_low": r.ci_low if r else nan,
            "ci_high": r.ci_high if r else nan, "statistic": r.statistic if r else nan,
            "p_value": r.p_value if r else nan, "p_adjusted": nan,
            "method": method or (r.method if r else ""),
            "notes": "; ".join(n for n in ((r.notes if r else ""), notes) if n)}


RowMaker = Callable[[CohortData, Mapping[str, Any]], list[dict[str, Any]]]
FigureMaker = Callable[[CohortData, Mapping[str, Any], Path], list[Path]]
TableMaker = Callable[[CohortData, Mapping[str, Any]], dict[str, pd.DataFrame]]


@dataclass(frozen=True)
class Endpoint:
    """One trial endpoint.

    Attributes
    ----------
    name : str
        Key under ``analyses`` and the ``endpoint`` column of its rows.
    order : int
        Position among the endpoints (rows of ``stats.csv`` follow it).
    description : str
        What it answers (the schema's description).
    settings : dict
        JSON-Schema properties of ``analyses.<name>`` besides ``enabled``, with their defaults.
    rows : callable
        ``rows(data, settings)``: its rows of ``stats.csv``.
    figures : callable, optional
        ``figures(data, settings, folder)``: the figure files it writes.
    tables : callable, optional
        ``tables(data, settings)``: extra tables by file stem (``biodistribution``).
    enabled : bool
        Whether it runs when the configuration does not say (``analyses.<name>.enabled``).
    """

    name: str
    order: int
    description: str
    settings: dict[str, Any]
    rows: RowMaker
    figures: FigureMaker | None = None
    tables: TableMaker | None = None
    enabled: bool = True

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of ``analyses.<name>``."""
        return {"type": "object", "additionalProperties": False, "default": {}, "description": self.description,
                "properties": {"enabled": {"type": "boolean", "default": self.enabled}, **self.settings}}
