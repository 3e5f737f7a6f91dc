"""Longitudinal changes per subject: ``deltas.csv`` (baseline vs each follow-up, PERCIST, EORTC).

Input: the ``uptake.csv`` table of each timepoint of one subject (and optionally each study's
``suv.json`` sidecar). Output: a tidy long table, one row per (follow-up timepoint, VOI, metric),
columns :data:`COLUMNS`:

subject_id, timepoint, baseline_timepoint
    The follow-up timepoint and the baseline it is compared with.
level
    ``lesion`` (tumour VOIs), ``organ`` (organ and body VOIs), ``reference`` (liver, blood pool)
    or ``patient``.
name, baseline_name, lesion_id, organ
    Follow-up VOI name (baseline name for disappeared VOIs) and the matched baseline VOI name;
    lesion_id and organ from the follow-up row, else the baseline row. ``patient`` for patient rows.
status
    ``matched``, ``new`` (follow-up only) or ``disappeared`` (baseline only). Patient rows: matched.
metric, unit
    VOI metrics :data:`VOI_METRICS` (``mtv`` is ``volume_ml``); patient metrics
    :data:`PATIENT_METRICS`. Unit: SUV, SUL, mL, g, ratio, min.
baseline, followup, abs_change, pct_change
    Values, ``followup - baseline`` and ``100 x (followup - baseline) / baseline`` (NaN when the
    baseline is not > 0 or either value is missing).
notes
    Per-row notes (hottest lesion at each timepoint, lesions summed, SUV fallback, the liver
    reference VOI of each timepoint and whether it is the 3 cm sphere or the whole liver, ...).
percist, percist_notes, comparable, comparability_notes, eortc, eortc_notes
    Filled on patient rows only (same values on each patient row of a timepoint): see
    :mod:`pipeline.response.percist`. ``percist`` is ``NA`` (not assessable) when no lesion is measurable;
    the reason is in ``percist_notes``.

Operational choices:

* Matching: tumour VOIs by ``lesion_id`` (by name when lesion_id is empty); organ, body and
  reference VOIs by ``organ`` (by name when organ is empty or shared by several VOIs of the same
  level). A mapping table (subject_id, timepoint, name, matches_baseline_name) overrides: the
  follow-up VOI ``name`` is the baseline VOI ``matches_baseline_name``; an empty
  ``matches_baseline_name`` declares the VOI new. Ambiguities (duplicate keys, a baseline VOI
  claimed twice, unknown names) raise :class:`~pipeline.errors.InvalidInputError`.
* A (VOI, metric) row is written only when the baseline or the follow-up value is finite
  (reference VOIs have no ratios to themselves).
* Patient metrics: hottest-lesion SULpeak (per timepoint, may be another lesion: the notes say
  which), sum of SULpeak of up to ``sum_hottest_n`` (5) hottest lesions (chosen per timepoint,
  new lesions included), liver SULmean (of the row ``uptake.csv`` marks as the liver reference:
  the 3 cm sphere when the study has one, see :mod:`pipeline.response.percist`), uptake time (min,
  from ``suv.json``). SUL when every SUL value needed is finite at both timepoints, else SUV for
  both, said in ``notes`` and ``unit``.
* A follow-up scan of the same injection as the baseline (equal ``injection_datetime`` in both
  ``suv.json``) is a time point of a multi-day PK series (``petvoi pk``), not a response assessment:
  it gets no rows, and a warning is logged. A subject whose scans all share one injection gets an
  empty table.
* Rows are ordered by timepoint (input order), level (lesion, organ, reference, patient), name,
  status (matched, new, disappeared: a name can be both when the mapping table declares a
  same-named follow-up VOI new), then metric in the order of the metric lists, so equal inputs
  give byte-identical CSV.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..errors import InvalidInputError
from .comparability import comparability, uptake_time_min
from .options import DeltaOptions
from .percist import choose_unit, eortc_response, percist_response, summarise_scan
from .values import as_number, as_text

log = logging.getLogger(__name__)

__all__ = ["COLUMNS", "VOI_METRICS", "PATIENT_METRICS", "LEVELS", "compute_deltas"]

#: VOI metrics: output name -> (uptake.csv column, unit).
VOI_METRICS: dict[str, tuple[str, str]] = {
    "suv_max": ("suv_max", "SUV"),
    "suv_mean": ("suv_mean", "SUV"),
    "suv_peak": ("suv_peak", "SUV"),
    "sul_peak": ("sul_peak", "SUL"),
    "mtv": ("volume_ml", "mL"),
    "tlg": ("tlg", "g"),
    "suv_max_to_liver": ("suv_max_to_liver", "ratio"),
    "suv_peak_to_liver": ("suv_peak_to_liver", "ratio"),
    "suv_max_to_blood": ("suv_max_to_blood", "ratio"),
    "suv_peak_to_blood": ("suv_peak_to_blood", "ratio"),
}
#: Patient-level metrics, in output order.
PATIENT_METRICS: tuple[str, ...] = ("hottest_lesion_sul_peak", "sum_hottest_sul_peak", "liver_sul_mean",
                                    "uptake_time_min")
#: Output levels, in output order.
LEVELS: tuple[str, ...] = ("lesion", "organ", "reference", "patient")
_LEVEL_OF_KIND = {"tumour": "lesion", "organ": "organ", "body": "organ", "reference": "reference"}
_STATUSES = ("matched", "new", "disappeared")

COLUMNS: tuple[str, ...] = (
    "subject_id", "timepoint", "baseline_timepoint", "level", "name", "baseline_name", "lesion_id", "organ",
    "status", "metric", "unit", "baseline", "followup", "abs_change", "pct_change", "notes",
    "percist", "percist_notes", "comparable", "comparability_notes", "eortc", "eortc_notes",
)
_REQUIRED = ("name", "kind", "lesion_id", "organ", "volume_ml", "suv_max", "suv_mean", "suv_sd", "suv_peak", "tlg")
_MAPPING_COLUMNS = ("subject_id", "timepoint", "name", "matches_baseline_name")


def _change(baseline: float, followup: float) -> tuple[float, float]:
    if not (math.isfinite(baseline) and math.isfinite(followup)):
        return math.nan, math.nan
    abs_change = followup - baseline
    return abs_change, (100.0 * abs_change / baseline if baseline > 0 else math.nan)


def _validate(table: pd.DataFrame, timepoint: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise InvalidInputError("uptake table is not a DataFrame", source=f"timepoint {timepoint}")
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise InvalidInputError(f"uptake table lacks columns {missing}", source=f"timepoint {timepoint}",
                                remedy="use the uptake.csv written by `petvoi uptake`")
    kinds = sorted(set(table["kind"].map(as_text).str.lower()) - set(_LEVEL_OF_KIND))
    if kinds:
        raise InvalidInputError(f"unknown VOI kinds {kinds}", source=f"timepoint {timepoint}", attribute="kind",
                                remedy="kind must be tumour, organ, reference or body")
    names = table["name"].map(as_text)
    duplicated = sorted(set(names[names.duplicated()]))
    if duplicated or (names == "").any():
        raise InvalidInputError(f"VOI names must be unique and non-empty; duplicated: {duplicated}",
                                source=f"timepoint {timepoint}", attribute="name")
    table = table.copy()
    table["name"] = names
    table["_level"] = table["kind"].map(as_text).str.lower().map(_LEVEL_OF_KIND)
    return table


def _keys(table: pd.DataFrame, timepoint: str) -> dict[str, tuple[str, str]]:
    """VOI name -> (level, match key)."""
    out: dict[str, tuple[str, str]] = {}
    organ_counts = table[table["_level"] != "lesion"].groupby(
        [table["_level"], table["organ"].map(as_text).str.lower()]).size()
    for _, row in table.iterrows():
        level, name = row["_level"], row["name"]
        if level == "lesion":
            key = f"lesion_id:{as_text(row['lesion_id'])}" if as_text(row["lesion_id"]) else f"name:{name}"
        else:
            organ = as_text(row["organ"]).lower()
            key = f"organ:{organ}" if organ and organ_counts.get((level, organ), 0) == 1 else f"name:{name}"
        out[name] = (level, key)
    seen: dict[tuple[str, str], str] = {}
    for name, level_key in out.items():
        if level_key in seen:
            raise InvalidInputError(f"VOIs {seen[level_key]!r} and {name!r} share the match key {level_key[1]!r}",
                                    source=f"timepoint {timepoint}",
                                    remedy="give the lesions distinct lesion_id values or use a mapping table")
        seen[level_key] = name
    return out


def _apply_mapping(mapping: pd.DataFrame | None, subject_id: str, timepoint: str, base_keys: dict[str, tuple],
                   follow_keys: dict[str, tuple]) -> tuple[dict[str, tuple], dict[str, str]]:
    """Follow-up keys after the mapping table, and a note per remapped VOI."""
    if mapping is None or mapping.empty:
        return follow_keys, {}
    missing = [c for c in _MAPPING_COLUMNS if c not in mapping.columns]
    if missing:
        raise InvalidInputError(f"mapping table lacks columns {missing}", attribute="mapping",
                                remedy=f"columns: {', '.join(_MAPPING_COLUMNS)}")
    rows = mapping[(mapping["subject_id"].map(as_text) == subject_id)
                   & (mapping["timepoint"].map(as_text) == timepoint)]
    keys, notes = dict(follow_keys), {}
    for _, row in rows.iterrows():
        name, target = as_text(row["name"]), as_text(row["matches_baseline_name"])
        where = f"mapping row {subject_id}/{timepoint}/{name}"
        if name not in keys:
            raise InvalidInputError(f"no VOI named {name!r} at {timepoint}", source=where, attribute="name")
        if not target:
            keys[name] = (keys[name][0], f"new:{name}")
            notes[name] = "declared new by the mapping table"
            continue
        if target not in base_keys:
            raise InvalidInputError(f"no baseline VOI named {target!r}", source=where,
                                    attribute="matches_baseline_name")
        if base_keys[target][0] != keys[name][0]:
            raise InvalidInputError(f"{name!r} ({keys[name][0]}) mapped to {target!r} ({base_keys[target][0]})",
                                    source=where, attribute="matches_baseline_name",
                                    remedy="map VOIs of the same kind")
        keys[name] = base_keys[target]
        notes[name] = f"matched to baseline {target!r} by the mapping table"
    seen: dict[tuple, str] = {}
    for name, key in keys.items():
        if key in seen:
            raise InvalidInputError(f"follow-up VOIs {seen[key]!r} and {name!r} both match the same baseline VOI",
                                    source=f"mapping table, {subject_id}/{timepoint}",
                                    remedy="map each baseline VOI at most once (empty matches_baseline_name = new)")
        seen[key] = name
    return keys, notes


def _hottest(table: pd.DataFrame, column: str, n: int) -> list[tuple[str, float]]:
    """Up to ``n`` (name, value) of tumour VOIs by ``column`` descending; ties by name."""
    tumours = table[table["_level"] == "lesion"]
    pairs = [(str(r["name"]), as_number(r[column])) for _, r in tumours.iterrows()]
    pairs = [p for p in pairs if math.isfinite(p[1])]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))[:n]


def _patient_rows(base: pd.DataFrame, follow: pd.DataFrame, base_sidecar: Mapping | None,
                  follow_sidecar: Mapping | None, tp0: str, tp1: str, options: DeltaOptions) -> list[dict[str, Any]]:
    unit, unit_note = choose_unit([base, follow], use_sul=options.percist.use_sul)
    peak_col = "sul_peak" if unit == "SUL" else "suv_peak"
    rows = []

    def row(metric: str, b: float, f: float, row_unit: str, notes: list[str]) -> dict[str, Any]:
        abs_change, pct = _change(b, f)
        return {"metric": metric, "unit": row_unit, "baseline": b, "followup": f, "abs_change": abs_change,
                "pct_change": pct, "notes": "; ".join(n for n in notes if n)}

    fallback = [unit_note] if unit_note else []
    h0, h1 = _hottest(base, peak_col, 1), _hottest(follow, peak_col, 1)
    b = h0[0][1] if h0 else math.nan
    f = h1[0][1] if h1 else math.nan
    notes = [f"{tp0}: {h0[0][0] if h0 else 'no lesion'}", f"{tp1}: {h1[0][0] if h1 else 'no lesion'}"]
    if h0 and h1 and h0[0][0] != h1[0][0]:
        notes.append("hottest lesion differs between timepoints")
    rows.append(row("hottest_lesion_sul_peak", b, f, unit, notes + fallback))

    n = options.sum_hottest_n
    s0, s1 = _hottest(base, peak_col, n), _hottest(follow, peak_col, n)
    notes = [f"{tp0}: {', '.join(name for name, _ in s0) or 'no lesion'}",
             f"{tp1}: {', '.join(name for name, _ in s1) or 'no lesion'}",
             f"up to {n} hottest lesions, chosen per timepoint"]
    rows.append(row("sum_hottest_sul_peak", sum(v for _, v in s0) if s0 else math.nan,
                    sum(v for _, v in s1) if s1 else math.nan, unit, notes + fallback))

    scan0 = summarise_scan(base, unit, label=f"timepoint {tp0}")
    scan1 = summarise_scan(follow, unit, label=f"timepoint {tp1}")
    liver_notes = [f"{tp0}: {scan0.liver_text}", f"{tp1}: {scan1.liver_text}"]
    if scan0.liver_role and scan1.liver_role and scan0.liver_role != scan1.liver_role:
        liver_notes.append("the liver reference differs between timepoints (sphere vs whole liver)")
    if not (math.isfinite(scan0.liver_mean) and math.isfinite(scan1.liver_mean)):
        liver_notes.append("liver reference missing")
    rows.append(row("liver_sul_mean", scan0.liver_mean, scan1.liver_mean, unit, liver_notes + fallback))

    t0, n0 = uptake_time_min(base_sidecar)
    t1, n1 = uptake_time_min(follow_sidecar)
    rows.append(row("uptake_time_min", t0, t1, "min", [f"{tp0}: {n0}" if n0 else "", f"{tp1}: {n1}" if n1 else ""]))
    return rows


def _same_injection(first: Mapping[str, Any] | None, second: Mapping[str, Any] | None) -> bool:
    """Whether two scans' ``suv.json`` record the same injection (same injection date and time)."""
    a = (first or {}).get("injection_datetime")
    b = (second or {}).get("injection_datetime")
    return bool(a) and a == b


def compute_deltas(studies: Mapping[str, pd.DataFrame], sidecars: Mapping[str, dict] | None, *, subject_id: str,
                   mapping: pd.DataFrame | None = None, options: DeltaOptions | None = None) -> pd.DataFrame:
    """Changes from baseline to each follow-up of one subject, per VOI and per patient, with PERCIST.

    Parameters
    ----------
    studies : mapping of str to pandas.DataFrame
        Timepoint -> ``uptake.csv`` table, in time order. The first is the baseline unless
        ``options.baseline`` names another; every other timepoint is a follow-up.
    sidecars : mapping of str to dict, optional
        Timepoint -> ``suv.json`` content (uptake time for comparability). Missing: the uptake-time
        check fails with the reason.
    subject_id : str
        Subject (written in every row; selects the mapping rows).
    mapping : pandas.DataFrame, optional
        Columns subject_id, timepoint, name, matches_baseline_name (module docstring).
    options : DeltaOptions, optional

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, rows in the order of the module docstring (SUV and SUL unitless,
        mtv in mL, tlg in g, uptake time in min, pct_change in %).

    Raises
    ------
    InvalidInputError
        Fewer than two timepoints, unknown baseline, invalid tables or mapping.
    """
    options = options or DeltaOptions()
    subject_id = str(subject_id)
    timepoints = [str(t) for t in studies]
    if len(timepoints) < 2:
        raise InvalidInputError(f"need at least two timepoints, got {timepoints}", source=f"subject {subject_id}")
    tp0 = options.baseline if options.baseline is not None else timepoints[0]
    if tp0 not in timepoints:
        raise InvalidInputError(f"baseline timepoint {tp0!r} not among {timepoints}", attribute="baseline",
                                source=f"subject {subject_id}")
    tables = {str(tp): _validate(table, str(tp)) for tp, table in studies.items()}
    sidecars = sidecars or {}
    base = tables[tp0]
    base_keys = _keys(base, tp0)
    base_by_key = {key: name for name, key in base_keys.items()}
    records: list[dict[str, Any]] = []
    same_injection = [tp for tp in timepoints if tp != tp0 and _same_injection(sidecars.get(tp0), sidecars.get(tp))]
    if same_injection:
        log.warning("subject %s: %s share the injection of %s (a multi-day PK series, see petvoi pk): no change "
                    "from baseline computed for them", subject_id, ", ".join(same_injection), tp0)
    for tp1 in timepoints:
        if tp1 == tp0 or tp1 in same_injection:
            continue
        follow = tables[tp1]
        follow_keys, map_notes = _apply_mapping(mapping, subject_id, tp1, base_keys, _keys(follow, tp1))
        follow_by_key = {key: name for name, key in follow_keys.items()}
        base_rows = base.set_index("name")
        follow_rows = follow.set_index("name")
        sul_missing = {tp: not tables[tp]["sul_peak"].map(as_number).map(math.isfinite).any()
                       if "sul_peak" in tables[tp].columns else True for tp in (tp0, tp1)}
        for key in list(follow_by_key) + [k for k in base_by_key if k not in follow_by_key]:
            name1, name0 = follow_by_key.get(key), base_by_key.get(key)
            status = "matched" if name1 and name0 else ("new" if name1 else "disappeared")
            r1 = follow_rows.loc[name1] if name1 else None
            r0 = base_rows.loc[name0] if name0 else None
            first = r1 if r1 is not None else r0
            assert first is not None  # every key names a VOI of tp0 or tp1 (names are validated non-empty)
            other = r0 if r1 is not None else r1
            level = key[0]
            voi_notes = [map_notes[name1]] if name1 in map_notes else []
            if status == "new":
                voi_notes.append(f"present at {tp1} only")
            elif status == "disappeared":
                voi_notes.append(f"present at {tp0} only")
            lesion_id = as_text(first["lesion_id"]) or (as_text(other["lesion_id"]) if other is not None else "")
            organ = as_text(first["organ"]) or (as_text(other["organ"]) if other is not None else "")
            for metric, (column, unit) in VOI_METRICS.items():
                b = as_number(r0[column]) if r0 is not None and column in r0.index else math.nan
                f = as_number(r1[column]) if r1 is not None and column in r1.index else math.nan
                if not (math.isfinite(b) or math.isfinite(f)):
                    continue
                notes = list(voi_notes)
                if column.startswith("sul_"):
                    notes += [f"SUL not available at {tp} (height or sex unknown)"
                              for tp, r in ((tp0, r0), (tp1, r1)) if r is not None and sul_missing[tp]]
                abs_change, pct = _change(b, f)
                records.append({"timepoint": tp1, "level": level, "name": name1 or name0,
                                "baseline_name": name0 or "", "lesion_id": lesion_id, "organ": organ,
                                "status": status, "metric": metric, "unit": unit, "baseline": b, "followup": f,
                                "abs_change": abs_change, "pct_change": pct, "notes": "; ".join(notes)})

        new_lesions = [follow_by_key[k] for k in follow_by_key if k[0] == "lesion" and k not in base_by_key]
        p_opts = options.percist
        unit, unit_note = choose_unit([base, follow], use_sul=p_opts.use_sul)
        scan0, scan1 = summarise_scan(base, unit), summarise_scan(follow, unit)
        comp = comparability(scan0.liver_mean, scan1.liver_mean, uptake_time_min(sidecars.get(tp0))[0],
                             uptake_time_min(sidecars.get(tp1))[0], p_opts, unit=unit)
        response = percist_response(base, follow, new_lesions=new_lesions, options=p_opts, unit=unit,
                                    comparable=comp)
        response_notes = "; ".join(n for n in (unit_note, response.notes_text) if n)
        patient = {"percist": response.category or "NA", "percist_notes": response_notes,
                   "comparable": comp.comparable, "comparability_notes": comp.notes_text}
        if options.eortc:
            matches = {base_by_key[k]: follow_by_key[k] for k in follow_by_key if k[0] == "lesion" and k in base_by_key}
            eortc = eortc_response(base, follow, new_lesions=new_lesions, options=p_opts, matches=matches)
            patient.update({"eortc": eortc.category or "", "eortc_notes": eortc.notes_text})
        for prow in _patient_rows(base, follow, sidecars.get(tp0), sidecars.get(tp1), tp0, tp1, options):
            records.append({"timepoint": tp1, "level": "patient", "name": "patient", "baseline_name": "patient",
                            "lesion_id": "", "organ": "", "status": "matched", **prow, **patient})

    table = pd.DataFrame.from_records(records, columns=[c for c in COLUMNS if c not in ("subject_id",
                                                                                        "baseline_timepoint")])
    table.insert(0, "subject_id", subject_id)
    table.insert(2, "baseline_timepoint", tp0)
    metric_order = {m: i for i, m in enumerate([*VOI_METRICS, *PATIENT_METRICS])}
    table["_tp"] = table["timepoint"].map({tp: i for i, tp in enumerate(timepoints)})
    table["_level"] = table["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    table["_metric"] = table["metric"].map(metric_order)
    table["_status"] = table["status"].map({s: i for i, s in enumerate(_STATUSES)})
    table = table.sort_values(["_tp", "_level", "name", "_status", "_metric"], kind="mergesort")
    table = table.drop(columns=["_tp", "_level", "_status", "_metric"]).reset_index(drop=True)
    for column in ("percist", "percist_notes", "comparability_notes", "eortc", "eortc_notes", "notes",
                   "lesion_id", "organ", "baseline_name"):
        table[column] = table[column].fillna("").astype(str)
    table["comparable"] = table["comparable"].astype(object).where(table["level"] == "patient", "")
    return table[list(COLUMNS)]
