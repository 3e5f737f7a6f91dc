"""What the reports read: one subject's study outputs (:class:`PatientInputs`) or the cohort tables
(:class:`CohortInputs`), loaded once through :mod:`pipeline.outputs` and handed to every section."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .. import __version__
from ..config import config_hash, load_sample_sheet
from ..dicom.geometry import Geometry, read_nifti
from ..errors import InvalidInputError
from ..outputs import CohortPaths, ResultsLayout, SuvSidecar, VoiCatalogue
from ..voi.catalogue import VoiSet, read_voiset

__all__ = ["PatientInputs", "CohortInputs", "read_csv", "subject_rows", "time_course_variable",
           "TIME_COURSE_VARIABLE"]

_SAFE_FOOTER = re.compile(r"[^A-Za-z0-9.+_:-]")


def read_csv(path: Path) -> pd.DataFrame | None:
    """A CSV table ("NA" kept as a value), or None when the file does not exist."""
    if not path.is_file():
        return None
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def subject_rows(table: pd.DataFrame | None, subject_id: str) -> pd.DataFrame | None:
    """The rows of one subject (None when the table has no subject column)."""
    if table is None or "subject_id" not in table.columns:
        return None
    return table[table["subject_id"].astype(str) == subject_id].reset_index(drop=True)


def _table(source: pd.DataFrame | str | Path | None) -> pd.DataFrame | None:
    if source is None or isinstance(source, pd.DataFrame):
        return source
    path = Path(source)
    if not path.is_file():
        raise InvalidInputError("clinical table not found", source=str(path), remedy="give an existing CSV file")
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _config(config: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(config, Mapping):
        return dict(config)
    path = Path(config)
    if not path.is_file():
        raise InvalidInputError("configuration not found", source=str(path),
                                remedy="give results/config.resolved.yaml or a loaded configuration")
    return yaml.safe_load(path.read_text("utf-8")) or {}


#: Default of ``report.time_course_variable``: the uptake column of the spider plot (cohort) and of the lesions'
#: uptake over time (patient).
TIME_COURSE_VARIABLE = "suv_max"


def time_course_variable(config: Mapping[str, Any]) -> str:
    """The configured ``report.time_course_variable`` (default :data:`TIME_COURSE_VARIABLE`)."""
    return str((config.get("report") or {}).get("time_course_variable") or TIME_COURSE_VARIABLE)


def _clinical_default(config: Mapping[str, Any], key: str) -> pd.DataFrame | None:
    path = (config.get("clinical") or {}).get(key)
    return read_csv(Path(path)) if path else None


@dataclass
class PatientInputs:
    """Everything the patient report shows of one subject.

    Attributes
    ----------
    subject_id : str
        Pseudonymised id of the sample sheet.
    sheet : DataFrame
        The subject's static studies (sheet order; the first is the baseline).
    timepoints : list of str
        Their timepoints.
    config : dict
        The resolved configuration (``report`` settings, clinical tables).
    layout : ResultsLayout
        The results folder.
    sidecars, catalogues, uptake, heterogeneity, volumes, voisets : dict by timepoint
        Each study's ``suv.json``, ``vois.json``, uptake and heterogeneity tables, SUV volume and VOI set.
    deltas, response, bor, ihc, histology : DataFrame, optional
        The subject's changes, RECIST time-point responses, best overall response, IHC and histology.
    dynamic : list of str
        Timepoints of the subject's dynamic studies (kinetics section).
    deidentify : bool
        Show only the pseudonymised id; strip folders from provenance sources.
    run_date : datetime.date
        The footer's date.
    """

    subject_id: str
    sheet: pd.DataFrame
    timepoints: list[str]
    config: dict[str, Any]
    layout: ResultsLayout
    sidecars: dict[str, SuvSidecar] = field(default_factory=dict)
    catalogues: dict[str, VoiCatalogue] = field(default_factory=dict)
    uptake: dict[str, pd.DataFrame] = field(default_factory=dict)
    heterogeneity: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    volumes: dict[str, tuple[np.ndarray, Geometry]] = field(default_factory=dict)
    voisets: dict[str, VoiSet] = field(default_factory=dict)
    deltas: pd.DataFrame | None = None
    response: pd.DataFrame | None = None
    bor: pd.DataFrame | None = None
    ihc: pd.DataFrame | None = None
    histology: pd.DataFrame | None = None
    dynamic: list[str] = field(default_factory=list)
    deidentify: bool = True
    run_date: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())

    @classmethod
    def load(cls, subject_id: str, *, results_dir: str | Path, samples: pd.DataFrame | str | Path,
             config: Mapping[str, Any] | str | Path, ihc: pd.DataFrame | str | Path | None = None,
             histology: pd.DataFrame | str | Path | None = None, deidentify: bool = True,
             run_date: dt.date | None = None) -> PatientInputs:
        """Read one subject's outputs (:func:`pipeline.report.patient.build_patient_report` has the parameters).

        Raises
        ------
        InvalidInputError
            Unknown subject or missing per-study outputs.
        """
        cfg = _config(config)
        full = samples if isinstance(samples, pd.DataFrame) else load_sample_sheet(samples)
        acquisition = full["acquisition"] if "acquisition" in full else pd.Series("static", index=full.index)
        rows = full[(acquisition.replace("", "static") == "static") & (full["subject_id"].astype(str) == subject_id)]
        if not len(rows):
            raise InvalidInputError(f"subject {subject_id} is not in the sample sheet", attribute="subject_id",
                                    remedy="use a subject_id of the sample sheet")
        dynamic = full[(acquisition == "dynamic") & (full["subject_id"].astype(str) == subject_id)]
        layout = ResultsLayout(Path(results_dir))
        inputs = cls(subject_id, rows.reset_index(drop=True), [str(t) for t in rows["timepoint"]], cfg, layout,
                     dynamic=[str(t) for t in dynamic["timepoint"]], deidentify=deidentify)
        if run_date is not None:
            inputs.run_date = run_date
        subject = layout.subject(subject_id)
        for tp in inputs.timepoints:
            study = subject.study(tp)
            for path in (study.suv_json, study.suv, study.vois, study.vois_json, study.uptake):
                if not path.is_file():
                    raise InvalidInputError(f"{path.name} missing for {subject_id}/{tp}", source=str(path),
                                            remedy="run the workflow (suv, vois, uptake) before the report")
            inputs.sidecars[tp] = SuvSidecar.read(study.suv_json)
            inputs.catalogues[tp] = VoiCatalogue.read(study.vois_json)
            inputs.uptake[tp] = pd.read_csv(study.uptake, keep_default_na=False, na_values=[""])
            inputs.heterogeneity[tp] = read_csv(study.heterogeneity)
            inputs.volumes[tp] = read_nifti(study.suv)
            inputs.voisets[tp] = read_voiset(study.vois)
        inputs.deltas = read_csv(subject.deltas)
        inputs.response = subject_rows(read_csv(layout.cohort.response), subject_id)
        inputs.bor = subject_rows(read_csv(layout.cohort.response_bor), subject_id)
        inputs.ihc = subject_rows(_table(ihc) if ihc is not None else _clinical_default(cfg, "ihc"), subject_id)
        inputs.histology = subject_rows(_table(histology) if histology is not None
                                        else _clinical_default(cfg, "histology"), subject_id)
        return inputs

    def common(self) -> dict[str, Any]:
        """Context keys of the whole page (title, footer)."""
        from .render import stylesheet, text

        first = self.sheet.iloc[0]
        return {"subject_id": self.subject_id, "arm": text(first.get("arm")), "route": text(first.get("route")),
                "tracer": text(first.get("tracer")), "nuclide": text(first.get("nuclide")),
                "timepoints": self.timepoints, "baseline": self.timepoints[0], "version": __version__,
                "config_hash": config_hash(self.config), "run_date": self.run_date.isoformat(),
                "deidentify": self.deidentify, "css": stylesheet()}


#: Columns read from each cohort table (only these: a stray identifying column never reaches the report).
COHORT_COLUMNS = {
    "uptake": ["subject_id", "timepoint", "kind", "lesion_id", "name"],  # + report.time_course_variable
    "deltas": ["subject_id", "timepoint", "level", "metric", "pct_change", "abs_change", "percist", "eortc",
               "comparable"],
    "bor": ["subject_id", "bor", "ibor", "confirmed"],
    "response": ["subject_id", "timepoint", "assessment_date", "overall_response", "irecist_response",
                 "progression_date"],
    "biodistribution": ["organ", "timepoint", "variable", "n", "mean", "sd", "median", "min", "max"],
    "stats": ["endpoint", "analysis", "variable", "level", "estimand", "n_subjects", "n_lesions", "estimate",
              "ci_low", "ci_high", "statistic", "p_value", "p_adjusted", "method", "notes"],
}


def _read_columns(path: Path, columns: list[str]) -> pd.DataFrame | None:
    """Only ``columns`` (those present) of a CSV or Parquet file; None when the file is missing."""
    if not path.is_file():
        return None
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        present = [c for c in columns if c in pq.read_schema(path).names]
        return pd.read_parquet(path, columns=present)
    wanted = set(columns)
    return pd.read_csv(path, usecols=lambda c: c in wanted)


def _scan_times(layout: ResultsLayout, sheet: pd.DataFrame
                ) -> tuple[dict[tuple[str, str], dt.datetime], dict[tuple[str, str], str]]:
    """(subject, timepoint) -> the scan's ``reference_datetime`` and its ``injection_datetime`` (``suv.json``),
    for the studies that have them."""
    times, injections = {}, {}
    for subject, timepoint in zip(sheet["subject_id"].astype(str), sheet["timepoint"].astype(str), strict=True):
        sidecar = SuvSidecar.read_optional(layout.subject(subject).study(timepoint).suv_json)
        value = sidecar.get("reference_datetime") if sidecar is not None else None
        injection = sidecar.get("injection_datetime") if sidecar is not None else None
        if injection:
            injections[(subject, timepoint)] = str(injection)
        try:
            when = dt.datetime.fromisoformat(str(value)) if value else None
        except ValueError:
            when = None
        if when is not None:
            times[(subject, timepoint)] = when
    return times, injections


def _cohort_table(parquet: Path) -> Path:
    """The Parquet cohort table, or a CSV of the same name when only that exists."""
    csv = parquet.with_suffix(".csv")
    return csv if not parquet.is_file() and csv.is_file() else parquet


@dataclass
class CohortInputs:
    """Everything the cohort report shows: the sample sheet and the cohort tables and figures.

    Every input except the sample sheet is optional (None: its section says "not available"). With
    ``deidentify``, rows of subjects not in the sample sheet are left out (with a warning). ``response`` holds
    the RECIST 1.1 / iRECIST time-point responses (``response.csv``), ``bor`` the best overall responses;
    ``variable`` is ``report.time_course_variable`` (read from the uptake table beside its identifying columns);
    ``scan_times`` the ``reference_datetime`` of each scan's ``suv.json`` by (subject, timepoint), when the
    results folder holds the studies, and ``injections`` their ``injection_datetime`` (scans of one injection
    are a multi-day PK series, not response assessments).
    """

    sheet: pd.DataFrame
    config: Mapping[str, Any]
    cohort: CohortPaths
    uptake: pd.DataFrame | None = None
    deltas: pd.DataFrame | None = None
    bor: pd.DataFrame | None = None
    response: pd.DataFrame | None = None
    biodistribution: pd.DataFrame | None = None
    stats: pd.DataFrame | None = None
    variable: str = TIME_COURSE_VARIABLE
    scan_times: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    injections: dict[tuple[str, str], str] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    deidentify: bool = True
    run_date: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())
    failed: pd.DataFrame | None = None

    @classmethod
    def load(cls, *, results_dir: Path, samples: Path, config: Mapping[str, Any], deidentify: bool = True,
             run_date: dt.date | None = None) -> CohortInputs:
        """Read the cohort tables of ``results_dir`` (the results folder, or the cohort folder itself)."""
        layout = ResultsLayout(Path(results_dir))
        cohort = layout.cohort if layout.cohort.folder.is_dir() else CohortPaths(Path(results_dir))
        inputs = cls(load_sample_sheet(samples, acquisition="static"), config, cohort, deidentify=deidentify,
                     variable=time_course_variable(config))
        if run_date is not None:
            inputs.run_date = run_date
        inputs.uptake = inputs._restrict(_read_columns(_cohort_table(cohort.table("uptake")),
                                                       [*COHORT_COLUMNS["uptake"], inputs.variable]), "uptake")
        inputs.deltas = inputs._restrict(_read_columns(_cohort_table(cohort.table("deltas")),
                                                       COHORT_COLUMNS["deltas"]), "deltas")
        inputs.bor = inputs._restrict(_read_columns(cohort.response_bor, COHORT_COLUMNS["bor"]), "response_bor")
        inputs.response = inputs._restrict(_read_columns(cohort.response, COHORT_COLUMNS["response"]), "response")
        inputs.biodistribution = _read_columns(cohort.biodistribution, COHORT_COLUMNS["biodistribution"])
        inputs.stats = _read_columns(cohort.stats, COHORT_COLUMNS["stats"])
        inputs.figures = sorted(cohort.figures.glob("*.png")) if cohort.figures.is_dir() else []
        if cohort.failed_studies.is_file():
            inputs.failed = pd.read_csv(cohort.failed_studies, dtype=str, keep_default_na=False)
        if layout.cohort.folder.is_dir():
            inputs.scan_times, inputs.injections = _scan_times(layout, inputs.sheet)
        return inputs

    def _restrict(self, df: pd.DataFrame | None, what: str) -> pd.DataFrame | None:
        """Drop rows of subjects not in the sample sheet when de-identifying (their IDs are not trusted)."""
        if df is None or not self.deidentify or "subject_id" not in df.columns:
            return df
        df = df.assign(subject_id=df["subject_id"].astype(str))
        unknown = sorted(set(df["subject_id"]) - set(self.sheet["subject_id"]))
        if unknown:
            self.warnings.append(f"{what}: {len(unknown)} subject(s) not in the sample sheet were left out")
            df = df[df["subject_id"].isin(set(self.sheet["subject_id"]))]
        return df

    def common(self) -> dict[str, Any]:
        """Context keys of the whole page (title, warnings, footer)."""
        from .render import stylesheet

        failed = [] if self.failed is None else [
            {k: str(v) for k, v in row.items()} for row in self.failed.to_dict(orient="records")]
        return {"title": "Cohort report", "warnings": self.warnings, "deidentify": self.deidentify,
                "failed_studies": failed,
                "not_available": "not available", "version": _SAFE_FOOTER.sub("", str(__version__)),
                "config_hash": config_hash(self.config), "run_date": self.run_date.isoformat(),
                "css": stylesheet(),
                "available": {"uptake": self.uptake is not None, "deltas": self.deltas is not None,
                              "bor": self.bor is not None, "response": self.response is not None,
                              "biodistribution": self.biodistribution is not None,
                              "stats": self.stats is not None, "figures": bool(self.figures)}}
