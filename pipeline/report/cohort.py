"""Cohort report: one self-contained HTML page and its PDF (WeasyPrint) from the cohort tables.

Inputs are the files the ``stats`` stage and the cohort rules write (``results/cohort/``): uptake,
deltas, stats, biodistribution, response (BOR) and the figures, plus the sample sheet. The report
never reads DICOM: every subject is named by its sample-sheet ID. Each input except the sample
sheet is optional; a missing one makes its section say "not available".

Design choices
--------------
* Only the columns a section shows are read from each table (``usecols`` / parquet ``columns``), so
  a stray identifying column in an input (e.g. ``patient_name``) can never reach the report.
* The HTML is self-contained: figures are embedded as base64 PNG data URIs and the stylesheet is
  inlined (``templates/report.css`` when present, plus the cohort rules in the template).
* Every numeric cell carries its exact value in ``data-value`` (``repr`` of the float, ``nan`` for
  missing) and its column name in ``data-column``; the visible text is rounded.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from .. import __version__
from ..config import config_hash, load_sample_sheet
from ..io import atomic_path
from ..outputs import CohortPaths, ResultsLayout

__all__ = ["build_cohort_report", "write_cohort_report", "TEMPLATE_DIR", "FIGURE_CAPTIONS", "fmt_number"]

log = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates"
NOT_AVAILABLE = "not available"

#: Captions of the figures the stats stage writes (by file stem); other figures get a generic caption.
FIGURE_CAPTIONS = {
    "biodistribution": "Organ and reference-region SUVmean per timepoint (biodistribution).",
    "waterfall_sulpeak": ("Waterfall plot: % change of the hottest-lesion SULpeak (PERCIST-style) per patient, "
                          "coloured by best overall response."),
    "suv_vs_percent_positive": "Uptake of biopsied lesions vs IHC % positive cells, with Spearman ρ [CI].",
    "suv_by_ihc_intensity": "Uptake by IHC staining intensity (0/1+/2+/3+), with the Jonckheere–Terpstra trend p.",
    "roc_histology": "ROC curve of lesion uptake against histology (malignant vs benign), AUC with DeLong CI.",
    "kaplan_meier_os": "Kaplan–Meier curves of overall survival by baseline uptake group (median split), log-rank p.",
    "kaplan_meier_pfs": ("Kaplan–Meier curves of progression-free survival by baseline uptake group (median split), "
                         "log-rank p."),
}
#: Figures shown inside their own section rather than in the figure gallery.
SECTION_FIGURES = {"biodistribution": "biodistribution", "waterfall_sulpeak": "response"}

_UPTAKE_COLUMNS = ["subject_id", "timepoint", "kind", "lesion_id", "name"]
_DELTAS_COLUMNS = ["subject_id", "timepoint", "level", "metric", "pct_change", "abs_change", "percist", "eortc",
                   "comparable"]
_BOR_COLUMNS = ["subject_id", "bor", "ibor", "confirmed"]
_BIO_COLUMNS = ["organ", "timepoint", "variable", "n", "mean", "sd", "median", "min", "max"]
_STATS_COLUMNS = ["endpoint", "analysis", "variable", "level", "n_subjects", "n_lesions", "estimate", "ci_low",
                  "ci_high", "p_value", "p_adjusted", "method", "notes"]
_SAFE_FOOTER = re.compile(r"[^A-Za-z0-9.+_:-]")


# --------------------------------------------------------------------------------------------- formatting
def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_number(value: Any, digits: int = 4) -> str:
    """Format a number with ``digits`` significant digits; missing values as an em dash."""
    if _is_missing(value):
        return "—"
    x = float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e6:
        return str(int(x))
    return f"{x:.{digits}g}".replace("-", "−")


def _fmt_p(value: Any) -> str:
    if _is_missing(value):
        return "—"
    p = float(value)
    if p < 0.001:
        return "<0.001"
    return f"{p:.3f}" if p < 0.995 else f"{p:.2f}"


def _cell(value: Any, column: str, text: str | None = None) -> dict[str, str]:
    """A numeric cell: visible text, the exact value (``repr``) and the column name."""
    exact = "nan" if _is_missing(value) else repr(float(value))
    return {"text": fmt_number(value) if text is None else text, "value": exact, "column": column}


def _text(value: Any) -> str:
    return "" if _is_missing(value) else str(value)


# --------------------------------------------------------------------------------------------- reading
def _read_table(path: Path, columns: list[str]) -> pd.DataFrame | None:
    """Read only ``columns`` (those present) of a CSV or Parquet file; None when the file is missing."""
    if not path.is_file():
        return None
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        present = [c for c in columns if c in pq.read_schema(path).names]
        return pd.read_parquet(path, columns=present)
    wanted = set(columns)
    return pd.read_csv(path, usecols=lambda c: c in wanted)


def _first_existing(parquet: Path) -> Path:
    """The Parquet cohort table, or a CSV of the same name when only that exists."""
    csv = parquet.with_suffix(".csv")
    return csv if not parquet.is_file() and csv.is_file() else parquet


def _data_uri(png: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")


def _figure(png: Path) -> dict[str, str]:
    caption = FIGURE_CAPTIONS.get(png.stem) or png.stem.replace("_", " ").capitalize() + "."
    return {"name": png.name, "stem": png.stem, "caption": caption, "src": _data_uri(png)}


def _stylesheet() -> str:
    css = TEMPLATE_DIR / "report.css"
    return css.read_text(encoding="utf-8") if css.is_file() else ""


def _restrict(df: pd.DataFrame | None, subjects: set[str], deidentify: bool, what: str,
              warnings: list[str]) -> pd.DataFrame | None:
    """Drop rows of subjects not in the sample sheet when de-identifying (their IDs are not trusted)."""
    if df is None or not deidentify or "subject_id" not in df.columns:
        return df
    df = df.assign(subject_id=df["subject_id"].astype(str))
    unknown = sorted(set(df["subject_id"]) - subjects)
    if unknown:
        warnings.append(f"{what}: {len(unknown)} subject(s) not in the sample sheet were left out")
        df = df[df["subject_id"].isin(subjects)]
    return df


# --------------------------------------------------------------------------------------------- sections
def _overview(sheet: pd.DataFrame, uptake: pd.DataFrame | None, deidentify: bool) -> dict[str, Any]:
    timepoints = list(dict.fromkeys(sheet["timepoint"]))
    lesions: dict[tuple[str, str], int] = {}
    if uptake is not None and {"subject_id", "timepoint", "kind"} <= set(uptake.columns):
        tumours = uptake[uptake["kind"] == "tumour"]
        key = "lesion_id" if "lesion_id" in tumours.columns else "name"
        counts = tumours.groupby(["subject_id", "timepoint"])[key].nunique() if key in tumours else pd.Series()
        lesions = {(str(s), str(t)): int(n) for (s, t), n in counts.items()}
    rows = []
    for subject, group in sheet.groupby("subject_id", sort=True):
        first = group.iloc[0]
        by_tp = {str(r["timepoint"]): r for _, r in group.iterrows()}
        cells = []
        for tp in timepoints:
            if tp not in by_tp:
                cells.append({"text": "—", "value": "nan", "column": f"lesions:{tp}"})
            elif uptake is None:
                cells.append({"text": "n/a", "value": "nan", "column": f"lesions:{tp}"})
            else:
                cells.append(_cell(lesions.get((str(subject), tp), 0), f"lesions:{tp}"))
        row = {"subject_id": str(subject), "arm": first.get("arm", ""), "route": first.get("route", ""),
               "tracer": first["tracer"], "nuclide": first.get("nuclide", ""), "lesions": cells}
        if not deidentify:
            row["studies"] = "; ".join(f"{tp}: {r.get('study_uid', '') or r.get('dicom', '')}"
                                       for tp, r in by_tp.items())
        rows.append(row)
    per_subject = sheet.drop_duplicates("subject_id").copy()
    per_subject["arm"] = per_subject.get("arm", pd.Series("", index=per_subject.index)).replace("", "—")
    table = pd.crosstab(per_subject["tracer"], per_subject["arm"], margins=True, margins_name="total")
    counts = {"arms": [str(c) for c in table.columns],
              "rows": [{"tracer": str(t), "n": [int(v) for v in table.loc[t]]} for t in table.index]}
    return {"timepoints": timepoints, "rows": rows, "counts": counts, "n_subjects": len(per_subject),
            "n_scans": len(sheet), "lesions_available": uptake is not None}


def _biodistribution(bio: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if bio is None:
        return None
    rows = []
    for _, r in bio.iterrows():
        rows.append({"organ": _text(r.get("organ")), "timepoint": _text(r.get("timepoint")),
                     "variable": _text(r.get("variable")),
                     "cells": [_cell(r.get("n"), "n"), _cell(r.get("mean"), "mean"), _cell(r.get("sd"), "sd"),
                               _cell(r.get("median"), "median")],
                     "range": [_cell(r.get("min"), "min"), _cell(r.get("max"), "max")]})
    return rows


def _counts(values: pd.Series) -> list[dict[str, Any]]:
    order = ["CR", "iCR", "CMR", "PR", "iPR", "PMR", "SD", "iSD", "SMD", "PD", "iUPD", "iCPD", "PMD", "NE", "NA"]
    filled = values.map(lambda v: "NE" if _is_missing(v) or str(v) == "" else str(v))
    vc = filled.value_counts()
    keys = sorted(vc.index, key=lambda k: (order.index(k) if k in order else len(order), k))
    return [{"category": k, "n": int(vc[k])} for k in keys]


def _response(bor: pd.DataFrame | None, deltas: pd.DataFrame | None) -> dict[str, Any]:
    out: dict[str, Any] = {"bor": None, "ibor": None, "percist": None, "eortc": None, "patients": None}
    if bor is not None and "bor" in bor.columns:
        out["bor"] = _counts(bor["bor"])
        if "ibor" in bor.columns:
            out["ibor"] = _counts(bor["ibor"])
    if deltas is not None and {"level", "subject_id", "timepoint"} <= set(deltas.columns):
        patient = deltas[deltas["level"] == "patient"]
        if not patient.empty:
            per_visit = patient.drop_duplicates(["subject_id", "timepoint"])
            if "percist" in per_visit:
                out["percist"] = _counts(per_visit["percist"])
            if "eortc" in per_visit:
                out["eortc"] = _counts(per_visit["eortc"])
            hottest = patient[patient.get("metric") == "hottest_lesion_sul_peak"] if "metric" in patient else patient
            hottest = hottest.set_index(["subject_id", "timepoint"])
            bor_by = bor.set_index("subject_id") if bor is not None and "subject_id" in bor else None
            rows = []
            for _, r in per_visit.sort_values(["subject_id", "timepoint"]).iterrows():
                key = (r["subject_id"], r["timepoint"])
                pct = hottest.loc[key, "pct_change"] if key in hottest.index and "pct_change" in hottest else None
                if isinstance(pct, pd.Series):
                    pct = pct.iloc[0]
                b = bor_by.loc[r["subject_id"]] if bor_by is not None and r["subject_id"] in bor_by.index else None
                if isinstance(b, pd.DataFrame):
                    b = b.iloc[0]
                rows.append({"subject_id": str(r["subject_id"]), "timepoint": str(r["timepoint"]),
                             "pct": _cell(pct, "hottest_lesion_sul_peak_pct_change"),
                             "percist": _text(r.get("percist")), "eortc": _text(r.get("eortc")),
                             "comparable": _text(r.get("comparable")),
                             "bor": _text(b.get("bor")) if b is not None else "",
                             "ibor": _text(b.get("ibor")) if b is not None else ""})
            out["patients"] = rows
    return out


def _stats(stats: pd.DataFrame | None) -> list[dict[str, Any]] | None:
    if stats is None:
        return None
    groups = []
    for endpoint in dict.fromkeys(stats["endpoint"].astype(str)) if "endpoint" in stats else []:
        rows = []
        for _, r in stats[stats["endpoint"].astype(str) == endpoint].iterrows():
            rows.append({"analysis": _text(r.get("analysis")), "variable": _text(r.get("variable")),
                         "level": _text(r.get("level")),
                         "n_subjects": _cell(r.get("n_subjects"), "n_subjects"),
                         "n_lesions": _cell(r.get("n_lesions"), "n_lesions"),
                         "estimate": _cell(r.get("estimate"), "estimate"),
                         "ci_low": _cell(r.get("ci_low"), "ci_low"), "ci_high": _cell(r.get("ci_high"), "ci_high"),
                         "has_ci": not (_is_missing(r.get("ci_low")) and _is_missing(r.get("ci_high"))),
                         "p_value": _cell(r.get("p_value"), "p_value", _fmt_p(r.get("p_value"))),
                         "p_adjusted": _cell(r.get("p_adjusted"), "p_adjusted", _fmt_p(r.get("p_adjusted"))),
                         "method": _text(r.get("method")), "notes": _text(r.get("notes"))})
        groups.append({"endpoint": endpoint, "rows": rows})
    return groups


# --------------------------------------------------------------------------------------------- public API
def build_cohort_report(*, results_dir: Path, samples: Path, config: Mapping[str, Any], deidentify: bool = True,
                        run_date: dt.date | None = None) -> tuple[str, dict[str, Any]]:
    """Render the cohort report as a self-contained HTML string.

    Parameters
    ----------
    results_dir : Path
        The results folder (holding ``cohort/``) or the cohort folder itself (holding ``stats.csv`` …).
    samples : Path
        The sample sheet (TSV); the only source of subject IDs shown.
    config : Mapping
        The resolved configuration; its hash (:func:`pipeline.config.config_hash`) goes in the footer.
    deidentify : bool, default True
        Show only sample-sheet subject IDs: rows of cohort tables whose subject is not in the sample
        sheet are left out (with a warning in the report) and study UIDs / DICOM folders are not shown.
    run_date : datetime.date, optional
        The date in the footer (default: today, UTC).

    Returns
    -------
    html : str
        The document (figures as base64 PNG data URIs, CSS inlined).
    context : dict
        The template context (section data, ``available`` flags per input, warnings).
    """
    results_dir = Path(results_dir)
    layout = ResultsLayout(results_dir)
    cohort = layout.cohort if layout.cohort.folder.is_dir() else CohortPaths(results_dir)
    sheet = load_sample_sheet(samples, acquisition="static")
    subjects = set(sheet["subject_id"])
    warnings: list[str] = []

    uptake = _read_table(_first_existing(cohort.table("uptake")), _UPTAKE_COLUMNS)
    deltas = _read_table(_first_existing(cohort.table("deltas")), _DELTAS_COLUMNS)
    bor = _read_table(cohort.response_bor, _BOR_COLUMNS)
    bio = _read_table(cohort.biodistribution, _BIO_COLUMNS)
    stats = _read_table(cohort.stats, _STATS_COLUMNS)
    uptake = _restrict(uptake, subjects, deidentify, "uptake", warnings)
    deltas = _restrict(deltas, subjects, deidentify, "deltas", warnings)
    bor = _restrict(bor, subjects, deidentify, "response_bor", warnings)

    figure_dir = cohort.figures
    pngs = sorted(figure_dir.glob("*.png")) if figure_dir.is_dir() else []
    figures = [_figure(p) for p in pngs]
    section_figures = {SECTION_FIGURES[f["stem"]]: f for f in figures if f["stem"] in SECTION_FIGURES}
    gallery = [f for f in figures if f["stem"] not in SECTION_FIGURES]

    version = _SAFE_FOOTER.sub("", str(__version__))
    chash = config_hash(config)
    date = (run_date or dt.datetime.now(dt.UTC).date()).isoformat()
    context: dict[str, Any] = {
        "title": "Cohort report",
        "overview": _overview(sheet, uptake, deidentify),
        "biodistribution": _biodistribution(bio),
        "response": _response(bor, deltas),
        "stats": _stats(stats),
        "section_figures": section_figures,
        "figures": gallery,
        "n_figures": len(figures),
        "available": {"uptake": uptake is not None, "deltas": deltas is not None, "bor": bor is not None,
                      "biodistribution": bio is not None, "stats": stats is not None, "figures": bool(figures)},
        "warnings": warnings,
        "deidentify": deidentify,
        "not_available": NOT_AVAILABLE,
        "version": version,
        "config_hash": chash,
        "run_date": date,
        "css": _stylesheet(),
    }
    env = Environment(loader=FileSystemLoader(TEMPLATE_DIR), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("cohort.html.j2").render(**context)
    return html, context


def write_cohort_report(*, results_dir: Path, samples: Path, config: Mapping[str, Any], output_html: Path,
                        output_pdf: Path | None = None, deidentify: bool = True,
                        run_date: dt.date | None = None) -> tuple[Path, Path]:
    """Write ``cohort.html`` and ``cohort.pdf`` (A4, paginated) atomically.

    Parameters are those of :func:`build_cohort_report`, plus ``output_html`` and ``output_pdf``
    (default: ``output_html`` with the suffix ``.pdf``). Returns ``(html_path, pdf_path)``.
    """
    from weasyprint import HTML

    html, _ = build_cohort_report(results_dir=results_dir, samples=samples, config=config,
                                  deidentify=deidentify, run_date=run_date)
    html_path = Path(output_html)
    pdf_path = Path(output_pdf) if output_pdf is not None else html_path.with_suffix(".pdf")
    with atomic_path(html_path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    with atomic_path(pdf_path) as tmp:
        HTML(string=html, base_url=str(html_path.parent)).write_pdf(tmp)
    return html_path, pdf_path
