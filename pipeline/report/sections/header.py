"""Patient report, header: subject, tracer and timepoints, and per timepoint the acquisition and the SUV
provenance (dose, injection and reference times, uptake time, body size, scanner, SUV factor, rule, overrides)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ..inputs import PatientInputs
from ..render import Section, cell, text

__all__ = ["SECTION"]


def _dt_text(value: str | None) -> str:
    if not value:
        return "not recorded"
    try:
        return dt.datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return str(value)


def header_row(timepoint: str, sidecar: Mapping[str, Any], deidentify: bool) -> dict[str, Any]:
    """One timepoint's row of the provenance tables, from its ``suv.json``."""
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
        overrides.append({"key": key, "value": text(item.get("value")), "dicom": text(item.get("dicom")),
                          "source": source})
    return {
        "timepoint": timepoint,
        "nuclide": sidecar.get("nuclide", ""),
        "dose_mbq": cell(dose / 1e6 if isinstance(dose, (int, float)) else None, 4),
        "injection": _dt_text(sidecar.get("injection_datetime")),
        "reference": _dt_text(sidecar.get("reference_datetime")),
        "uptake_min": cell(uptake / 60.0 if isinstance(uptake, (int, float)) else None, 3),
        "weight_kg": cell(sidecar.get("weight_kg"), 3),
        "height_cm": cell(sidecar.get("height_cm"), 3),
        "scanner": scanner,
        "suv_kind": sidecar.get("suv_kind", ""),
        "suv_factor": cell(sidecar.get("suv_factor"), 6),
        "decay_factor": cell(sidecar.get("decay_factor"), 5),
        "decay_correction": sidecar.get("decay_correction", ""),
        "rule": sidecar.get("rule", ""),
        "formula": sidecar.get("formula", ""),
        "overrides": overrides,
    }


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``header``: one provenance row per timepoint."""
    return {"header": [header_row(tp, inputs.sidecars[tp], inputs.deidentify) for tp in inputs.timepoints]}


SECTION = Section("header", build)
