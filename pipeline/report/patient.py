"""Per-patient report: self-contained HTML and an A4 PDF (WeasyPrint).

Reads the per-study outputs of the workflow under ``results_dir`` (``<subject>/<timepoint>/suv.json``,
``suv.nii.gz``, ``vois.nii.gz``/``vois.json``, ``uptake.csv``, ``heterogeneity.csv``;
``<subject>/deltas.csv``; ``cohort/response.csv`` and ``response_bor.csv``; optional
``<subject>/kinetics.csv``) and renders header, QC, MIPs, tables and response panels
(see ``templates/patient.html.j2``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .. import __version__
from ..config import config_hash, load_sample_sheet
from ..dicom.geometry import read_nifti
from ..errors import InvalidInputError
from ..io import atomic_path
from ..outputs import ResultsLayout, SuvSidecar, VoiCatalogue
from ..voi.catalogue import read_voiset
from .kinetics import kinetics_summary
from .mip import data_uri, mip_images, suv_window

__all__ = ["build_patient_report", "write_patient_report", "fmt", "LIVER_SUV_MEAN_RANGE", "UPTAKE_WINDOW_MIN"]

#: Tracer-independent plausibility range of the liver SUVmean (finite and within it).
LIVER_SUV_MEAN_RANGE = (0.5, 20.0)
#: Default uptake-time window: the baseline's uptake time +- this many minutes (PERCIST practice).
UPTAKE_WINDOW_MIN = 15.0

_LESION_COLUMNS = [("suv_max", "SUVmax"), ("suv_mean", "SUVmean"), ("suv_peak", "SUVpeak"), ("volume_ml", "MTV (mL)"),
                   ("tlg", "TLG (g)"), ("suv_max_to_liver", "SUVmax / liver"), ("suv_peak_to_liver", "SUVpeak / liver"),
                   ("suv_max_to_blood", "SUVmax / blood"), ("suv_peak_to_blood", "SUVpeak / blood")]
_CHANGE_METRICS = ["suv_max", "suv_peak", "mtv", "tlg"]
_HETEROGENEITY_COLUMNS = [("cov", "CoV"), ("auc_csh", "AUC-CSH"), ("entropy", "Entropy")]


# ----------------------------------------------------------------------------------------------- formatting


def fmt(value: Any, sig: int = 3) -> str:
    """Format a number with ``sig`` significant digits (no exponent for ordinary magnitudes); '' when missing."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return ""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if magnitude >= 7 or magnitude < -4:
        return f"{x:.{sig - 1}e}"
    decimals = max(0, sig - 1 - magnitude)
    return f"{x:.{decimals}f}"


def _cell(value: Any, sig: int = 3) -> dict[str, str | None]:
    """A numeric table cell: display text and the exact value (``repr`` of the float) for ``data-value``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return {"text": "" if value is None else str(value), "value": None}
    if math.isnan(x):
        return {"text": "", "value": None}
    return {"text": fmt(x, sig), "value": repr(x)}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value)


# ----------------------------------------------------------------------------------------------- inputs


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _table(source: pd.DataFrame | str | Path | None) -> pd.DataFrame | None:
    if source is None:
        return None
    if isinstance(source, pd.DataFrame):
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


def _clinical_default(config: Mapping[str, Any], key: str) -> pd.DataFrame | None:
    path = (config.get("clinical") or {}).get(key)
    if path and Path(path).is_file():
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    return None


def _subject_rows(table: pd.DataFrame | None, subject_id: str) -> pd.DataFrame | None:
    if table is None or "subject_id" not in table.columns:
        return None
    rows = table[table["subject_id"].astype(str) == subject_id]
    return rows.reset_index(drop=True)


# ----------------------------------------------------------------------------------------------- sections


def _dt_text(value: str | None) -> str:
    if not value:
        return "not recorded"
    try:
        return dt.datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return str(value)


def _header_row(timepoint: str, sidecar: Mapping[str, Any], deidentify: bool) -> dict[str, Any]:
    dose = sidecar.get("injected_dose_bq")
    uptake = sidecar.get("uptake_time_s")
    manufacturer = sidecar.get("manufacturer") or sidecar.get("Manufacturer")
    model = sidecar.get("manufacturer_model_name") or sidecar.get("ManufacturerModelName") or sidecar.get("model")
    scanner = " ".join(str(x) for x in (manufacturer, model) if x) or "not recorded"
    overrides = []
    for key, item in sorted((sidecar.get("overrides") or {}).items()):
        item = item if isinstance(item, Mapping) else {"value": item}
        source = str(item.get("source", ""))
        if deidentify and source:
            # keep the file name and line, drop folders (may hold names of people or sites)
            source = source.replace("\\", "/").rsplit("/", 1)[-1]
        overrides.append({"key": key, "value": _text(item.get("value")), "dicom": _text(item.get("dicom")),
                          "source": source})
    return {
        "timepoint": timepoint,
        "nuclide": sidecar.get("nuclide", ""),
        "dose_mbq": _cell(dose / 1e6 if isinstance(dose, (int, float)) else None, 4),
        "injection": _dt_text(sidecar.get("injection_datetime")),
        "reference": _dt_text(sidecar.get("reference_datetime")),
        "uptake_min": _cell(uptake / 60.0 if isinstance(uptake, (int, float)) else None, 3),
        "weight_kg": _cell(sidecar.get("weight_kg"), 3),
        "height_cm": _cell(sidecar.get("height_cm"), 3),
        "scanner": scanner,
        "suv_kind": sidecar.get("suv_kind", ""),
        "suv_factor": _cell(sidecar.get("suv_factor"), 6),
        "decay_factor": _cell(sidecar.get("decay_factor"), 5),
        "decay_correction": sidecar.get("decay_correction", ""),
        "rule": sidecar.get("rule", ""),
        "formula": sidecar.get("formula", ""),
        "overrides": overrides,
    }


def _qc(config: Mapping[str, Any], timepoints: list[str], sidecars: dict[str, SuvSidecar],
        uptake: dict[str, pd.DataFrame], vois_json: dict[str, VoiCatalogue], deltas: pd.DataFrame | None
        ) -> dict[str, Any]:
    report_cfg = config.get("report") or {}
    window = report_cfg.get("uptake_window_min")
    baseline_uptake = sidecars[timepoints[0]].get("uptake_time_s") if timepoints else None
    if window and len(window) == 2:
        lo, hi = float(window[0]), float(window[1])
        window_rule = f"protocol window {lo:g}-{hi:g} min (config report.uptake_window_min)"
    elif isinstance(baseline_uptake, (int, float)):
        lo, hi = baseline_uptake / 60 - UPTAKE_WINDOW_MIN, baseline_uptake / 60 + UPTAKE_WINDOW_MIN
        window_rule = (f"no protocol window configured (report.uptake_window_min): baseline uptake time "
                       f"+- {UPTAKE_WINDOW_MIN:g} min = {fmt(lo)}-{fmt(hi)} min")
    else:
        lo = hi = None
        window_rule = "no protocol window configured and no baseline uptake time: not checked"
    liver_range = tuple(report_cfg.get("liver_suv_mean_range") or LIVER_SUV_MEAN_RANGE)
    liver_rule = (f"tracer-independent plausibility check only: liver SUVmean finite and within "
                  f"{liver_range[0]:g}-{liver_range[1]:g}"
                  + (" (config report.liver_suv_mean_range)" if report_cfg.get("liver_suv_mean_range") else ""))
    rows = []
    warnings: list[dict[str, str]] = []
    for tp in timepoints:
        sidecar = sidecars[tp]
        minutes = sidecar.get("uptake_time_s")
        minutes = minutes / 60.0 if isinstance(minutes, (int, float)) else None
        in_window = None if minutes is None or lo is None else bool(lo <= minutes <= hi)
        table = uptake[tp]
        liver = table[(table["name"].astype(str).str.lower() == "liver")]
        liver_mean = float(liver["suv_mean"].iloc[0]) if len(liver) else float("nan")
        liver_ok = bool(math.isfinite(liver_mean) and liver_range[0] <= liver_mean <= liver_range[1])
        balance = sidecar.get("activity_balance")
        rows.append({"timepoint": tp, "uptake_min": _cell(minutes), "uptake_ok": in_window,
                     "liver_mean": _cell(liver_mean), "liver_ok": liver_ok if len(liver) else None,
                     "balance": _cell(balance), "balance_pct": fmt(balance * 100, 3) if balance is not None else ""})
        for message in sidecar.get("warnings") or []:
            warnings.append({"timepoint": tp, "source": "suv.json", "item": "", "message": str(message)})
        for voi in vois_json[tp].entries:
            for message in voi.get("warnings") or []:
                warnings.append({"timepoint": tp, "source": "vois.json", "item": str(voi.get("name", "")),
                                 "message": str(message)})
        if "warnings" in table.columns:
            for _, row in table.iterrows():
                text = _text(row["warnings"]).strip()
                if text:
                    warnings.append({"timepoint": tp, "source": "uptake.csv", "item": str(row["name"]),
                                     "message": text})
    comparability = []
    if deltas is not None and len(deltas):
        patient = deltas[deltas["level"] == "patient"].drop_duplicates("timepoint")
        for _, row in patient.iterrows():
            note = _text(row.get("comparability_notes")).strip()
            comparable = _text(row.get("comparable"))
            comparability.append({"timepoint": row["timepoint"], "comparable": comparable, "notes": note})
            if note:
                warnings.append({"timepoint": str(row["timepoint"]), "source": "deltas.csv comparability",
                                 "item": f"vs {row['baseline_timepoint']}", "message": note})
        for column in ("notes",):
            if column in deltas.columns:
                for _, row in deltas[deltas["level"] != "patient"].iterrows():
                    text = _text(row[column]).strip()
                    if text:
                        warnings.append({"timepoint": str(row["timepoint"]), "source": "deltas.csv",
                                         "item": str(row["name"]), "message": text})
    # one entry per distinct message
    seen = set()
    unique = []
    for item in warnings:
        key = tuple(item.values())
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return {"rows": rows, "window_rule": window_rule, "liver_rule": liver_rule, "warnings": unique,
            "comparability": comparability,
            "balance_rule": "activity balance R = sum(SUV x V) / normaliser: fraction of the decay-corrected injected "
                            "activity found in the image (suv.json activity_balance; > 1.05 is implausible, R39)"}


def _lesion_tables(timepoints: list[str], uptake: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    tables = []
    for tp in timepoints:
        table = uptake[tp]
        tumours = table[table["kind"] == "tumour"]
        rows = []
        for _, row in tumours.iterrows():
            rows.append({"id": _text(row.get("lesion_id")) or str(row["name"]), "organ": _text(row.get("organ")),
                         "cells": [_cell(row.get(col)) for col, _ in _LESION_COLUMNS]})
        tables.append({"timepoint": tp, "rows": rows})
    return tables


def _organ_table(timepoints: list[str], uptake: dict[str, pd.DataFrame]) -> dict[str, Any]:
    names: list[str] = []
    kinds: dict[str, str] = {}
    values: dict[tuple[str, str], pd.Series] = {}
    for tp in timepoints:
        table = uptake[tp]
        for _, row in table[table["kind"].isin(["organ", "reference"])].iterrows():
            name = str(row["name"])
            if name not in names:
                names.append(name)
                kinds[name] = str(row["kind"])
            values[(tp, name)] = row
    rows = []
    for name in names:
        cells = []
        for tp in timepoints:
            row = values.get((tp, name))
            cells.append(_cell(None if row is None else row["suv_mean"]))
            cells.append(_cell(None if row is None else row["suv_max"]))
        rows.append({"name": name, "kind": kinds[name], "cells": cells})
    return {"timepoints": timepoints, "rows": rows}


def _changes(deltas: pd.DataFrame | None) -> list[dict[str, Any]]:
    if deltas is None or not len(deltas):
        return []
    lesions = deltas[(deltas["level"] == "lesion") & deltas["metric"].isin(_CHANGE_METRICS)]
    rows = []
    for _, row in lesions.iterrows():
        rows.append({"timepoint": f"{row['baseline_timepoint']} -> {row['timepoint']}",
                     "lesion": _text(row.get("lesion_id")) or _text(row.get("name")), "status": _text(row["status"]),
                     "metric": str(row["metric"]), "unit": _text(row.get("unit")),
                     "cells": [_cell(row.get(c)) for c in ("baseline", "followup", "abs_change", "pct_change")]})
    order = {m: i for i, m in enumerate(_CHANGE_METRICS)}
    rows.sort(key=lambda r: (r["timepoint"], r["lesion"], order[r["metric"]]))
    return rows


def _metabolic(deltas: pd.DataFrame | None) -> list[dict[str, Any]]:
    if deltas is None or not len(deltas):
        return []
    patient = deltas[deltas["level"] == "patient"]
    out = []
    for timepoint, group in patient.groupby("timepoint", sort=False):
        first = group.iloc[0]
        out.append({
            "timepoint": f"{first['baseline_timepoint']} -> {timepoint}",
            "percist": _text(first.get("percist")), "percist_notes": _text(first.get("percist_notes")),
            "eortc": _text(first.get("eortc")), "eortc_notes": _text(first.get("eortc_notes")),
            "metrics": [{"metric": str(r["metric"]), "unit": _text(r.get("unit")), "notes": _text(r.get("notes")),
                         "cells": [_cell(r.get(c)) for c in ("baseline", "followup", "abs_change", "pct_change")]}
                        for _, r in group.iterrows()],
        })
    return out


_RECIST_COLUMNS = {"timepoint": "Timepoint", "assessment_date": "Date", "sum_diameters_mm": "SOD (mm)",
                   "change_from_baseline_pct": "% vs baseline", "change_from_nadir_pct": "% vs nadir",
                   "target_response": "Target", "non_target_response": "Non-target", "new_lesions": "New lesions",
                   "overall_response": "RECIST 1.1", "irecist_response": "iRECIST", "iupd_reason": "iUPD reason",
                   "notes": "Notes"}
_BOR_COLUMNS = {"bor": "BOR (RECIST 1.1)", "bor_date": "Date", "ibor": "iBOR (iRECIST)", "ibor_date": "Date",
                "first_iupd_date": "First iUPD", "icpd_date": "iCPD", "confirmed": "Confirmed", "notes": "Notes"}


def _records(table: pd.DataFrame | None, drop: tuple[str, ...] = ("subject_id",),
             columns: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """Generic table: all columns but ``drop``, or the ``columns`` present (name -> header) in that order."""
    if table is None or not len(table):
        return None
    if columns is not None:
        names = [c for c in columns if c in table.columns]
        headers = [columns[c] for c in names]
    else:
        names = [c for c in table.columns if c not in drop]
        headers = names
    columns_out = headers
    rows = []
    for _, row in table.iterrows():
        cells = []
        for column in names:
            value = row[column]
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                cells.append(_cell(value, 4))
            else:
                cells.append({"text": _text(value), "value": None})
        rows.append(cells)
    return {"columns": columns_out, "rows": rows}


def _kinetics(timepoint: str, study_dir: Path) -> dict[str, Any]:
    """One dynamic study's kinetics summary with formatted cells (``missing`` when not run)."""
    summary = kinetics_summary(study_dir)
    if summary is None:
        return {"timepoint": timepoint, "missing": True}
    rows = []
    for row in summary["rows"]:
        cells = []
        for value, flagged in zip(row["values"], row["flags"], strict=True):
            cell = _cell(value, 4) if value is not None else {"text": "", "value": None}
            if flagged:
                cell = {**cell, "text": cell["text"] + " \u2020"}
            cells.append(cell)
        rows.append({"name": row["name"], "cells": cells, "chosen": row["chosen"]})
    figure = data_uri(summary["figure"]) if summary["figure"] else None
    return {"timepoint": timepoint, "missing": False, "columns": summary["columns"], "rows": rows,
            "notes": summary["notes"], "figure": figure, "flagged": any(any(r["flags"]) for r in summary["rows"])}


def _heterogeneity(timepoints: list[str], tables: dict[str, pd.DataFrame | None],
                   uptake: dict[str, pd.DataFrame]) -> list[dict[str, Any]]:
    out = []
    for tp in timepoints:
        table = tables.get(tp)
        rows = []
        if table is not None:
            for _, row in table[table["kind"] == "tumour"].iterrows():
                rows.append({"id": _text(row.get("lesion_id")) or str(row["name"]),
                             "cells": [_cell(row.get(c)) for c, _ in _HETEROGENEITY_COLUMNS]})
        tumours = uptake[tp][uptake[tp]["kind"] == "tumour"]["suv_max"].astype(float).to_numpy()
        spread = None
        if tumours.size:
            cov = float(np.std(tumours, ddof=1) / np.mean(tumours)) if tumours.size > 1 else float("nan")
            spread = {"n": int(tumours.size), "min": _cell(tumours.min()), "max": _cell(tumours.max()),
                      "cov": _cell(cov)}
        out.append({"timepoint": tp, "rows": rows, "spread": spread,
                    "bin_width": fmt(table["entropy_bin_width"].iloc[0]) if table is not None and len(table)
                    and "entropy_bin_width" in table.columns else ""})
    return out


def _ihc(ihc: pd.DataFrame | None, uptake: dict[str, pd.DataFrame]) -> dict[str, Any] | None:
    if ihc is None or not len(ihc):
        return None
    table = ihc.copy()
    suv = []
    for _, row in table.iterrows():
        up = uptake.get(str(row.get("timepoint", "")))
        value = None
        if up is not None and "lesion_id" in up.columns:
            match = up[up["lesion_id"].astype(str) == str(row.get("lesion_id"))]
            if len(match):
                value = float(match["suv_max"].iloc[0])
        suv.append(value)
    table["suv_max_of_lesion"] = suv
    return _records(table)


# ----------------------------------------------------------------------------------------------- public API


def build_patient_report(subject_id: str, *, results_dir: str | Path, samples: pd.DataFrame | str | Path,
                         config: Mapping[str, Any] | str | Path, ihc: pd.DataFrame | str | Path | None = None,
                         histology: pd.DataFrame | str | Path | None = None, deidentify: bool = True,
                         run_date: dt.date | None = None) -> tuple[str, dict[str, Any]]:
    """Build the self-contained HTML report of one subject.

    Parameters
    ----------
    subject_id : str
        Pseudonymised subject id as in the sample sheet.
    results_dir : path-like
        Workflow results folder (``<subject>/<timepoint>/...``, ``<subject>/deltas.csv``,
        ``cohort/response.csv``, ``cohort/response_bor.csv``).
    samples : DataFrame or path-like
        Sample sheet; gives the subject's timepoints (in sheet order, the first is the baseline),
        tracer, nuclide and arm.
    config : mapping or path-like
        The resolved configuration (``results/config.resolved.yaml``); its :func:`config_hash` goes in
        the footer. Optional keys read: ``report.mip_suv_max`` (fixed upper SUV of the MIP window),
        ``report.uptake_window_min`` ([lo, hi] minutes), ``report.liver_suv_mean_range`` ([lo, hi]),
        ``clinical.ihc`` / ``clinical.histology`` (defaults of ``ihc`` / ``histology``).
    ihc, histology : DataFrame or path-like, optional
        Clinical tables (filtered to the subject).
    deidentify : bool
        Default True: only the pseudonymised subject id is shown; folder names are stripped from
        provenance sources. The inputs carry no patient name, birth date or DICOM PatientID.
    run_date : datetime.date, optional
        Date in the footer (default: today, UTC).

    Returns
    -------
    (str, dict)
        The HTML text and the template context (includes ``mip`` PNG bytes and ``vmax``).

    Raises
    ------
    InvalidInputError
        Unknown subject or missing per-study outputs.
    """
    import jinja2

    results_dir = Path(results_dir)
    cfg = _config(config)
    full = samples if isinstance(samples, pd.DataFrame) else load_sample_sheet(samples)
    acquisition = full["acquisition"] if "acquisition" in full else pd.Series("static", index=full.index)
    sheet = full[acquisition.replace("", "static") == "static"]
    dynamic = full[(acquisition == "dynamic") & (full["subject_id"].astype(str) == subject_id)]
    rows = sheet[sheet["subject_id"].astype(str) == subject_id]
    if not len(rows):
        raise InvalidInputError(f"subject {subject_id} is not in the sample sheet", attribute="subject_id",
                                remedy="use a subject_id of the sample sheet")
    timepoints = [str(t) for t in rows["timepoint"]]
    first = rows.iloc[0]
    layout = ResultsLayout(results_dir)
    subject_paths = layout.subject(subject_id)
    sidecars: dict[str, SuvSidecar] = {}
    vois_json: dict[str, VoiCatalogue] = {}
    uptake: dict[str, pd.DataFrame] = {}
    heterogeneity: dict[str, pd.DataFrame | None] = {}
    volumes = {}
    for tp in timepoints:
        study = subject_paths.study(tp)
        for path in (study.suv_json, study.suv, study.vois, study.vois_json, study.uptake):
            if not path.is_file():
                raise InvalidInputError(f"{path.name} missing for {subject_id}/{tp}", source=str(path),
                                        remedy="run the workflow (suv, vois, uptake) before the report")
        sidecars[tp] = SuvSidecar.read(study.suv_json)
        vois_json[tp] = VoiCatalogue.read(study.vois_json)
        uptake[tp] = pd.read_csv(study.uptake, keep_default_na=False, na_values=[""])
        heterogeneity[tp] = _read_csv(study.heterogeneity)
        volumes[tp] = read_nifti(study.suv)

    report_cfg = cfg.get("report") or {}
    vmax, vmax_rule = suv_window((v[0] for v in volumes.values()), report_cfg.get("mip_suv_max"))
    mip: dict[str, dict[str, bytes]] = {}
    mip_vmax: dict[str, float] = {}
    for tp in timepoints:
        suv, geometry = volumes[tp]
        voiset = read_voiset(subject_paths.study(tp).vois)
        mip[tp] = mip_images(np.asarray(suv), geometry, voiset, vmax=vmax, title=tp)
        mip_vmax[tp] = vmax
    del volumes

    deltas = _read_csv(subject_paths.deltas)
    response = _subject_rows(_read_csv(layout.cohort.response), subject_id)
    bor = _subject_rows(_read_csv(layout.cohort.response_bor), subject_id)
    ihc_table = _subject_rows(_table(ihc) if ihc is not None else _clinical_default(cfg, "ihc"), subject_id)
    histology_table = _subject_rows(_table(histology) if histology is not None
                                    else _clinical_default(cfg, "histology"), subject_id)
    kinetics = [_kinetics(str(tp), subject_paths.study(str(tp)).folder) for tp in dynamic["timepoint"]]

    css = resources.files(__package__).joinpath("templates/report.css").read_text("utf-8")
    context: dict[str, Any] = {
        "subject_id": subject_id,
        "arm": _text(first.get("arm")),
        "route": _text(first.get("route")),
        "tracer": _text(first.get("tracer")),
        "nuclide": _text(first.get("nuclide")),
        "timepoints": timepoints,
        "baseline": timepoints[0],
        "header": [_header_row(tp, sidecars[tp], deidentify) for tp in timepoints],
        "qc": _qc(cfg, timepoints, sidecars, uptake, vois_json, deltas),
        "vmax": vmax,
        "vmax_text": fmt(vmax),
        "vmax_rule": vmax_rule,
        "mip": mip,
        "mip_vmax": mip_vmax,
        "mip_uri": {tp: {view: data_uri(png) for view, png in images.items()} for tp, images in mip.items()},
        "lesion_columns": [label for _, label in _LESION_COLUMNS],
        "lesions": _lesion_tables(timepoints, uptake),
        "organs": _organ_table(timepoints, uptake),
        "changes": _changes(deltas),
        "metabolic": _metabolic(deltas),
        "recist": _records(response, columns=_RECIST_COLUMNS),
        "bor": _records(bor, columns=_BOR_COLUMNS),
        "heterogeneity_columns": [label for _, label in _HETEROGENEITY_COLUMNS],
        "heterogeneity": _heterogeneity(timepoints, heterogeneity, uptake),
        "ihc": _ihc(ihc_table, uptake),
        "histology": _records(histology_table),
        "kinetics": kinetics,
        "version": __version__,
        "config_hash": config_hash(cfg),
        "run_date": (run_date or dt.datetime.now(dt.UTC).date()).isoformat(),
        "deidentify": deidentify,
        "css": css,
    }
    env = jinja2.Environment(loader=jinja2.PackageLoader("pipeline.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    html = env.get_template("patient.html.j2").render(**context)
    return html, context


def write_patient_report(subject_id: str, *, results_dir: str | Path, samples: pd.DataFrame | str | Path,
                         config: Mapping[str, Any] | str | Path, output_html: str | Path,
                         ihc: pd.DataFrame | str | Path | None = None,
                         histology: pd.DataFrame | str | Path | None = None, deidentify: bool = True,
                         pdf: bool = True) -> tuple[Path, Path | None]:
    """Write ``SUBJECT.html`` (self-contained) and ``SUBJECT.pdf`` (A4, WeasyPrint) beside it.

    Parameters are those of :func:`build_patient_report`; ``output_html`` is the HTML path, the PDF
    takes the same name with ``.pdf``. Both are written atomically.

    Returns
    -------
    (Path, Path or None)
        HTML and PDF paths (PDF None when ``pdf`` is False).
    """
    html, _ = build_patient_report(subject_id, results_dir=results_dir, samples=samples, config=config, ihc=ihc,
                                   histology=histology, deidentify=deidentify)
    html_path = Path(output_html)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(html_path) as tmp:
        tmp.write_text(html, encoding="utf-8")
    if not pdf:
        return html_path, None
    import weasyprint

    pdf_path = html_path.with_suffix(".pdf")
    document = weasyprint.HTML(string=html, base_url=str(html_path.parent)).render()
    with atomic_path(pdf_path) as tmp:
        document.write_pdf(str(tmp))
    return html_path, pdf_path
