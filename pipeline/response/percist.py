"""PERCIST 1.0 and EORTC 1999 metabolic response from two ``uptake.csv`` tables.

References: Wahl et al., J Nucl Med 2009;50:122S (PERCIST 1.0); O et al., J Nucl Med 2016;57:1
(Practical PERCIST); Young et al., Eur J Cancer 1999;35:1773 (EORTC PET response). See
``reference/suv.md`` section 5.

Operational rules (all thresholds are fields of :class:`PercistOptions`):

Unit
    SUL (``sul_peak``, ``sul_mean``, ``sul_sd`` of ``uptake.csv``) when every value needed is
    finite in both tables; otherwise SUV (``suv_*``) for both scans, with a note (SUL is NaN when
    height or sex is unknown). The 0.8-unit and 0.3-unit limits are then applied in SUV units.
Reference
    The rows ``petvoi uptake`` marked in ``reference_role``, so that PERCIST and the
    tumour-to-liver ratios use one liver: ``liver_sphere`` (the PERCIST 1.0 3 cm sphere, chosen
    whenever the study has one) or ``whole_liver`` (the uptake option ``liver_reference:
    whole_liver``, or the fallback of a study without a sphere; a note says so), and ``blood``.
    Tables without the column (written before it existed): the first ``reference`` VOI whose organ
    is ``liver``, resp. ``aorta``/``blood_pool`` (:data:`pipeline.metrics.uptake.REFERENCE_ROLES`),
    with a note. Means and SDs are over the reference VOI with tumour voxels and their margin
    excluded; the blood pool is the aorta VOI or sphere, not the paper's aortic cylinder.
Measurability (baseline)
    ``SULpeak >= 1.5 x liver SULmean + 2 x liver SUL SD``; with ``reference="blood"`` (liver
    abnormal) or when the liver reference is missing and ``blood_fallback``:
    ``SULpeak >= 2.0 x blood-pool SULmean + 2 x blood SD``.
Target
    Baseline: the hottest tumour VOI (SULpeak); it must be measurable, else the category is NA
    ("not measurable") with the reason. Follow-up: the hottest tumour VOI at follow-up, which may
    be another lesion (new lesions included). No tumour VOI at follow-up: every lesion is taken as
    resolved.
New FDG-avid lesion
    A new tumour VOI (present at follow-up only) whose SULpeak is at or above the follow-up
    measurability threshold (same formula on the follow-up references; the baseline threshold when
    the follow-up reference is missing, with a note). ``new_lesion_rule="any"`` counts every new
    tumour VOI.
Categories, first match wins
    NA: no measurable baseline lesion (or ``require_comparable`` and the scans are not comparable).
    PMD: a new FDG-avid lesion, or ``change >= +30 %`` **and** ``>= +0.8`` units.
    CMR: no new FDG-avid lesion and every follow-up tumour VOI has
    ``SULpeak <= liver SULmean`` **and** ``SULpeak <= blood-pool SULmean + 2 x blood SD``
    (follow-up references; a missing reference drops its condition with a note; no references
    at all: CMR cannot be assigned).
    PMR: ``change <= -30 %`` **and** ``<= -0.8`` units.
    SMD: otherwise.
    A value within ``tolerance`` (1e-9) of a limit meets it (float rounding at exact boundaries).
Comparability
    Liver SULmean at follow-up within 20 % of baseline and within 0.3 units (``liver_rule="both"``,
    the default: both must hold; ``"either"``: one suffices); uptake times within 15 min. Limits
    inclusive. A check that cannot be made (missing liver or uptake time) makes the pair
    not comparable, with the reason.
EORTC 1999 (:func:`eortc_response`)
    SUV (never SUL) on the baseline targets: up to ``eortc_max_lesions`` (5) hottest tumour VOIs
    by baseline SUVmax; change of the sum of their SUVmax, follow-up sum over the same lesions
    (a target without a follow-up VOI counts 0, as resolved). PMD: new FDG-avid lesion or change
    ``>= +25 %``; CMR: no new lesion and every follow-up tumour VOI has ``SUVmax <= liver SUVmean``
    (all gone counts); PMR: change ``<= -25 %`` (``<= -15 %`` with ``after_one_cycle``);
    SMD otherwise. The ">20 % increase in extent" PMD criterion needs diameters and is not
    evaluated (said in the notes).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ..errors import InvalidInputError
from .comparability import Comparability
from .options import PercistOptions
from .values import as_number, as_text, changes, fmt, meets

__all__ = [
    "CATEGORIES",
    "EORTC_CATEGORIES",
    "ScanSummary",
    "PercistResult",
    "EortcResult",
    "choose_unit",
    "summarise_scan",
    "measurability_threshold",
    "percist_response",
    "eortc_response",
]

#: PERCIST categories; ``None`` (NA) when there is no measurable baseline lesion.
CATEGORIES = ("CMR", "PMR", "SMD", "PMD")
#: EORTC 1999 categories.
EORTC_CATEGORIES = ("CMR", "PMR", "SMD", "PMD")

_REQUIRED = ("name", "kind", "suv_max", "suv_mean", "suv_sd", "suv_peak")
_LIVER = ("liver",)
_BLOOD = ("aorta", "blood_pool", "bloodpool", "blood")


@dataclass(frozen=True)
class ScanSummary:
    """What PERCIST needs from one ``uptake.csv``, in one unit.

    Attributes
    ----------
    unit : str
        "SUL" or "SUV".
    lesion_peaks : dict of str to float
        Peak (SULpeak or SUVpeak) of every tumour VOI by VOI name, table order.
    lesion_max : dict of str to float
        SUVmax of every tumour VOI by VOI name (EORTC; always SUV).
    liver_mean, liver_sd, blood_mean, blood_sd : float
        Reference statistics in ``unit`` (NaN when the reference is missing).
    liver_suv_mean : float
        Liver SUVmean (EORTC CMR; NaN when missing).
    notes : tuple of str
        How references were found.
    liver_name : str
        The liver reference VOI's name ("" when missing).
    liver_role : str
        Its ``reference_role`` (``liver_sphere``, ``whole_liver``; "" for older tables or when missing).
    """

    unit: str
    lesion_peaks: dict[str, float]
    lesion_max: dict[str, float]
    liver_mean: float
    liver_sd: float
    blood_mean: float
    blood_sd: float
    liver_suv_mean: float
    notes: tuple[str, ...] = ()
    liver_name: str = ""
    liver_role: str = ""

    @property
    def liver_text(self) -> str:
        """The liver reference as a note: name and whether it is the 3 cm sphere or the whole liver."""
        if not self.liver_name:
            return "no liver reference"
        kind = {"liver_sphere": " (3 cm sphere)", "whole_liver": " (whole liver)"}.get(self.liver_role, "")
        return f"liver reference {self.liver_name}{kind}"

    def hottest(self) -> tuple[str | None, float]:
        """(VOI name, peak) of the hottest tumour VOI; (None, NaN) without one. Ties: first in table order."""
        best: tuple[str | None, float] = (None, math.nan)
        for name, value in self.lesion_peaks.items():
            if math.isfinite(value) and (best[0] is None or value > best[1]):
                best = (name, value)
        return best


@dataclass(frozen=True)
class PercistResult:
    """PERCIST 1.0 response of one follow-up scan.

    Attributes
    ----------
    category : str or None
        CMR, PMR, SMD, PMD, or None (NA: not measurable / not comparable; see ``notes``).
    unit : str
        "SUL", or "SUV" when SUL was unavailable.
    baseline_target, followup_target : str or None
        VOI names of the hottest lesions.
    baseline_peak, followup_peak, abs_change, pct_change : float
        Target peaks (unit), change (unit) and change (%).
    baseline_threshold, followup_threshold : float
        Measurability thresholds (unit).
    threshold_reference : str
        "liver" or "blood".
    new_lesions : tuple of str
        New FDG-avid lesions (VOI names).
    notes : tuple of str
        Every choice and fallback taken.
    """

    category: str | None
    unit: str
    baseline_target: str | None
    baseline_peak: float
    followup_target: str | None
    followup_peak: float
    abs_change: float
    pct_change: float
    baseline_threshold: float
    followup_threshold: float
    threshold_reference: str
    new_lesions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def notes_text(self) -> str:
        """Notes joined with "; "."""
        return "; ".join(self.notes)


@dataclass(frozen=True)
class EortcResult:
    """EORTC 1999 response of one follow-up scan (SUV).

    Attributes
    ----------
    category : str or None
        CMR, PMR, SMD, PMD, or None when there is no baseline lesion.
    targets : tuple of str
        Baseline target VOI names.
    baseline_sum, followup_sum, pct_change : float
        Sum of SUVmax over the targets and its change (%).
    pmr_pct, pmd_pct : float
        Limits applied (%).
    notes : tuple of str
    """

    category: str | None
    targets: tuple[str, ...]
    baseline_sum: float
    followup_sum: float
    pct_change: float
    pmr_pct: float
    pmd_pct: float
    notes: tuple[str, ...] = ()

    @property
    def notes_text(self) -> str:
        """Notes joined with "; "."""
        return "; ".join(self.notes)


# ------------------------------------------------------------------------------------------------ helpers
def _check_table(table: pd.DataFrame, label: str) -> None:
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise InvalidInputError(f"uptake table lacks columns {missing}", source=label,
                                remedy="use the uptake.csv written by `petvoi uptake`")


#: ``reference_role`` values of ``uptake.csv`` (:data:`pipeline.metrics.uptake.REFERENCE_ROLE_VALUES`) per role.
_ROLE_VALUES = {"liver": ("liver_sphere", "whole_liver"), "blood": ("blood",)}


def _reference_row(table: pd.DataFrame, organs: Sequence[str], role: str) -> tuple[pd.Series | None, list[str]]:
    """The reference row of a role: the row ``uptake`` marked in ``reference_role``, else (older tables) a
    ``reference`` VOI whose organ (or name) is one of ``organs``."""
    if "reference_role" in table.columns:
        marked = table[table["reference_role"].map(as_text).str.lower().isin(_ROLE_VALUES[role])]
        if not marked.empty:
            row = marked.iloc[0]
            notes = []
            if role == "liver":
                notes.append(f"liver reference {row['name']!r}: "
                             + ("the 3 cm liver sphere" if as_text(row["reference_role"]).lower() == "liver_sphere"
                                else "the whole liver, not the PERCIST 1.0 3 cm sphere (none in the study, or "
                                     "uptake liver_reference whole_liver; see uptake.json)"))
            return row, notes
    kinds = table["kind"].map(as_text).str.lower()
    organ = table["organ"].map(as_text).str.lower() if "organ" in table.columns else pd.Series("", index=table.index)
    name = table["name"].map(as_text).str.lower()
    hit = organ.isin(organs) | name.isin(organs)
    rows = table[hit & (kinds == "reference")]
    notes = []
    if rows.empty:
        rows = table[hit & (kinds == "organ")]
        if not rows.empty:
            notes.append(f"{role} reference taken from organ VOI {rows.iloc[0]['name']!r} (no reference VOI)")
    if rows.empty:
        return None, notes
    if len(rows) > 1:
        notes.append(f"{len(rows)} {role} reference VOIs; the first ({rows.iloc[0]['name']!r}) used")
    if "reference_role" not in table.columns:
        notes.append(f"{role} reference {rows.iloc[0]['name']!r} chosen by organ: the uptake table has no "
                     "reference_role column (rerun petvoi uptake)")
    return rows.iloc[0], notes


def _tumours(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["kind"].map(as_text).str.lower() == "tumour"]


def choose_unit(tables: Iterable[pd.DataFrame], *, use_sul: bool = True) -> tuple[str, str | None]:
    """Unit for a comparison of scans: "SUL" when every needed SUL value is finite in every table.

    Needed: ``sul_peak`` and ``sul_max`` of tumour VOIs and ``sul_mean``/``sul_sd`` of the liver
    and blood-pool references present.

    Returns
    -------
    unit : str
        "SUL" or "SUV".
    note : str or None
        Why SUV was used (None for SUL).
    """
    if not use_sul:
        return "SUV", "SUV used (SUL disabled by configuration); the 0.8/0.3-unit limits applied in SUV units"
    for table in tables:
        if not {"sul_peak", "sul_mean", "sul_sd"} <= set(table.columns):
            return "SUV", "SUL columns absent: SUV used instead; the 0.8/0.3-unit limits applied in SUV units"
        values = list(_tumours(table)["sul_peak"].map(as_number))
        for organs, role in ((_LIVER, "liver"), (_BLOOD, "blood")):
            row, _ = _reference_row(table, organs, role)
            if row is not None:
                values.append(as_number(row["sul_mean"]))
        if any(not math.isfinite(v) for v in values):
            return "SUV", ("SUL not available (NaN: height or sex unknown): SUV used instead for every scan; "
                           "the 0.8/0.3-unit limits applied in SUV units")
    return "SUL", None


def summarise_scan(table: pd.DataFrame, unit: str = "SUL", *, label: str = "uptake table") -> ScanSummary:
    """Extract lesion peaks and reference statistics from one ``uptake.csv`` in ``unit``.

    Parameters
    ----------
    table : pandas.DataFrame
        ``uptake.csv`` of one study.
    unit : {"SUL", "SUV"}
        Use the ``sul_*`` or the ``suv_*`` columns.
    label : str
        Name of the table for error messages.

    Raises
    ------
    InvalidInputError
        When required columns are missing.
    """
    _check_table(table, label)
    prefix = {"SUL": "sul", "SUV": "suv"}.get(unit)
    if prefix is None:
        raise InvalidInputError(f"unit must be SUL or SUV, got {unit!r}", attribute="unit")
    for column in (f"{prefix}_peak", f"{prefix}_mean", f"{prefix}_sd"):
        if column not in table.columns:
            raise InvalidInputError(f"uptake table lacks column {column!r}", source=label)
    tumours = _tumours(table)
    peaks = {str(r["name"]): as_number(r[f"{prefix}_peak"]) for _, r in tumours.iterrows()}
    maxima = {str(r["name"]): as_number(r["suv_max"]) for _, r in tumours.iterrows()}
    notes: list[str] = []
    stats: dict[str, tuple[float, float]] = {}
    liver_suv = math.nan
    liver_name = liver_role = ""
    for organs, role in ((_LIVER, "liver"), (_BLOOD, "blood")):
        row, role_notes = _reference_row(table, organs, role)
        notes.extend(role_notes)
        if row is None:
            stats[role] = (math.nan, math.nan)
            continue
        stats[role] = (as_number(row[f"{prefix}_mean"]), as_number(row[f"{prefix}_sd"]))
        if role == "liver":
            liver_suv = as_number(row["suv_mean"])
            liver_name = str(row["name"])
            liver_role = as_text(row["reference_role"]).lower() if "reference_role" in row.index else ""
    return ScanSummary(unit, peaks, maxima, stats["liver"][0], stats["liver"][1], stats["blood"][0],
                       stats["blood"][1], liver_suv, tuple(notes), liver_name, liver_role)


def measurability_threshold(scan: ScanSummary, options: PercistOptions | None = None) -> tuple[float, str, str]:
    """PERCIST measurability threshold of a scan.

    ``liver_factor x liver mean + sd_factor x liver SD`` (1.5 x + 2 SD), or
    ``blood_factor x blood mean + sd_factor x blood SD`` (2.0 x + 2 SD) when ``options.reference``
    is "blood", or the liver is missing and ``blood_fallback``. A NaN SD (single voxel) counts 0.

    Returns
    -------
    threshold : float
        In the scan's unit; NaN when the reference needed is missing.
    reference : str
        "liver" or "blood".
    note : str
        Formula with the numbers, or why the threshold is missing.
    """
    options = options or PercistOptions()
    u = scan.unit
    use_blood = options.reference == "blood"
    prefix = ""
    if not use_blood and not math.isfinite(scan.liver_mean):
        if not options.blood_fallback:
            return math.nan, "liver", "liver reference missing and blood_fallback disabled"
        use_blood, prefix = True, "liver reference missing: blood pool used; "
    if use_blood:
        mean, sd, factor, role = scan.blood_mean, scan.blood_sd, options.blood_factor, "blood"
    else:
        mean, sd, factor, role = scan.liver_mean, scan.liver_sd, options.liver_factor, "liver"
    if not math.isfinite(mean):
        return math.nan, role, f"{prefix}{role} reference missing: no measurability threshold"
    sd_used = sd if math.isfinite(sd) else 0.0
    value = factor * mean + options.sd_factor * sd_used
    note = (f"{prefix}threshold {fmt(value)} {u} = {factor:g} x {role} {u}mean {fmt(mean)} + "
            f"{options.sd_factor:g} x SD {fmt(sd_used)}")
    if not math.isfinite(sd):
        note += f" ({role} SD not available, 0 used)"
    return value, role, note


def _new_lesion_names(baseline: pd.DataFrame, followup: pd.DataFrame) -> list[str]:
    """Follow-up tumour VOIs whose lesion_id (or name without one) is not a baseline tumour's."""
    def keys(table: pd.DataFrame) -> list[tuple[str, str]]:
        out = []
        for _, row in _tumours(table).iterrows():
            lesion = as_text(row.get("lesion_id"))
            out.append((str(row["name"]), lesion or str(row["name"])))
        return out
    base = {key for _, key in keys(baseline)}
    return [name for name, key in keys(followup) if key not in base]


def percist_response(baseline: pd.DataFrame, followup: pd.DataFrame, *, new_lesions: Sequence[str] | None = None,
                     options: PercistOptions | None = None, unit: str | None = None,
                     comparable: Comparability | None = None) -> PercistResult:
    """PERCIST 1.0 category of a follow-up scan against baseline (rules in the module docstring).

    Parameters
    ----------
    baseline, followup : pandas.DataFrame
        ``uptake.csv`` tables of the two scans.
    new_lesions : sequence of str, optional
        Names of follow-up tumour VOIs that are new (not at baseline). Default: tumour VOIs whose
        lesion_id (or name, without lesion_id) is not among the baseline tumours'.
    options : PercistOptions, optional
    unit : {"SUL", "SUV"}, optional
        Force a unit; default :func:`choose_unit`.
    comparable : Comparability, optional
        Used with ``options.require_comparable``, and quoted in the notes when not comparable.

    Returns
    -------
    PercistResult

    Raises
    ------
    InvalidInputError
        When a table lacks required columns or a new-lesion name is not a follow-up tumour VOI.
    """
    options = options or PercistOptions()
    _check_table(baseline, "baseline uptake table")
    _check_table(followup, "follow-up uptake table")
    notes: list[str] = []
    if unit is None:
        unit, unit_note = choose_unit([baseline, followup], use_sul=options.use_sul)
        if unit_note:
            notes.append(unit_note)
    base = summarise_scan(baseline, unit, label="baseline uptake table")
    follow = summarise_scan(followup, unit, label="follow-up uptake table")
    notes.extend(f"baseline: {n}" for n in base.notes)
    notes.extend(f"follow-up: {n}" for n in follow.notes)
    if new_lesions is None:
        new_lesions = _new_lesion_names(baseline, followup)
    unknown = [n for n in new_lesions if n not in follow.lesion_peaks]
    if unknown:
        raise InvalidInputError(f"new lesions {unknown} are not tumour VOIs of the follow-up table",
                                attribute="new_lesions")

    t0, role, t0_note = measurability_threshold(base, options)
    t1, role1, t1_note = measurability_threshold(follow, options)
    notes.append(f"baseline {t0_note}")
    if not math.isfinite(t1) and math.isfinite(t0):
        t1 = t0
        notes.append(f"follow-up: {t1_note}; baseline threshold used for new lesions")
    else:
        notes.append(f"follow-up {t1_note}")

    target0, peak0 = base.hottest()
    target1, peak1 = follow.hottest()
    abs_change, pct = changes(peak0, peak1) if target1 is not None else (math.nan, math.nan)

    def result(category: str | None, avid: Sequence[str] = ()) -> PercistResult:
        return PercistResult(category, unit, target0, peak0, target1, peak1, abs_change, pct, t0, t1, role,
                             tuple(avid), tuple(notes))

    if target0 is None:
        notes.append("not measurable: no tumour VOI with a finite peak at baseline")
        return result(None)
    if not math.isfinite(t0):
        notes.append("not measurable: no baseline measurability threshold")
        return result(None)
    if not meets(peak0, t0, 0.0, below=False):
        notes.append(f"not measurable: hottest baseline lesion {target0} {unit}peak {fmt(peak0)} "
                     f"< threshold {fmt(t0)}")
        return result(None)
    notes.append(f"target baseline {target0} {unit}peak {fmt(peak0)}")
    if comparable is not None and not comparable.comparable:
        if options.require_comparable:
            notes.append(f"not comparable: {comparable.notes_text}")
            return result(None)
        notes.append("scans not comparable (see comparability_notes): interpret with caution")

    if options.new_lesion_rule == "any":
        avid = list(new_lesions)
        if avid:
            notes.append(f"new lesions (every new tumour VOI counts): {', '.join(avid)}")
    else:
        avid = [n for n in new_lesions if meets(follow.lesion_peaks[n], t1, 0.0, below=False)]
        faint = [n for n in new_lesions if n not in avid]
        if avid:
            notes.append("new FDG-avid lesions (peak >= follow-up threshold " + fmt(t1) + "): "
                         + ", ".join(f"{n} {fmt(follow.lesion_peaks[n])}" for n in avid))
        if faint:
            notes.append("new tumour VOIs below the follow-up threshold (not counted): "
                         + ", ".join(f"{n} {fmt(follow.lesion_peaks[n])}" for n in faint))

    if target1 is None:
        notes.append("no tumour VOI at follow-up: every lesion taken as resolved")
    else:
        notes.append(f"target follow-up {target1} {unit}peak {fmt(peak1)}"
                     + (" (another lesion than at baseline)" if target1 != target0 else "")
                     + f"; change {fmt(abs_change)} {unit} ({fmt(pct)} %)")
    tol = options.tolerance
    if avid:
        notes.append("PMD: new FDG-avid lesion(s)")
        return result("PMD", avid)
    if meets(pct, options.pct_threshold, tol, below=False) and meets(abs_change, options.abs_threshold, tol,
                                                                       below=False):
        notes.append(f"PMD: increase >= {options.pct_threshold:g} % and >= {options.abs_threshold:g} {unit}")
        return result("PMD", avid)

    cmr, cmr_note = _complete(follow, options)
    notes.append(cmr_note)
    if cmr:
        return result("CMR", avid)
    if meets(pct, -options.pct_threshold, tol, below=True) and meets(abs_change, -options.abs_threshold, tol,
                                                                       below=True):
        notes.append(f"PMR: decrease >= {options.pct_threshold:g} % and >= {options.abs_threshold:g} {unit}")
        return result("PMR", avid)
    notes.append(f"SMD: neither PMR (<= -{options.pct_threshold:g} % and <= -{options.abs_threshold:g} {unit}) "
                 f"nor PMD (>= +{options.pct_threshold:g} % and >= +{options.abs_threshold:g} {unit})")
    return result("SMD", avid)


def _complete(scan: ScanSummary, options: PercistOptions) -> tuple[bool, str]:
    """CMR test: every follow-up tumour peak <= liver mean and <= blood mean + k x blood SD."""
    limits = []
    if math.isfinite(scan.liver_mean):
        limits.append(("liver mean", scan.liver_mean))
    if math.isfinite(scan.blood_mean):
        sd = scan.blood_sd if math.isfinite(scan.blood_sd) else 0.0
        limits.append((f"blood mean + {options.cmr_blood_sd_factor:g} SD",
                       scan.blood_mean + options.cmr_blood_sd_factor * sd))
    if not limits:
        return False, "CMR not assessable: no liver or blood-pool reference at follow-up"
    missing = [] if len(limits) == 2 else ["blood pool" if limits[0][0] == "liver mean" else "liver"]
    limit = min(v for _, v in limits)
    text = " and ".join(f"{n} {fmt(v)}" for n, v in limits)
    peaks = {n: v for n, v in scan.lesion_peaks.items() if math.isfinite(v)}
    above = [n for n, v in peaks.items() if not meets(v, limit, options.tolerance, below=True)]
    suffix = f" ({missing[0]} reference missing: its condition dropped)" if missing else ""
    if above:
        return False, f"not CMR: {len(above)} lesion(s) above {text}{suffix}"
    return True, f"CMR: every follow-up lesion peak <= {text}{suffix}"


def eortc_response(baseline: pd.DataFrame, followup: pd.DataFrame, *, new_lesions: Sequence[str] | None = None,
                   options: PercistOptions | None = None, matches: Mapping[str, str] | None = None) -> EortcResult:
    """EORTC 1999 category from the sum of SUVmax of up to 5 baseline targets (rules in the module docstring).

    Parameters
    ----------
    baseline, followup : pandas.DataFrame
        ``uptake.csv`` tables.
    new_lesions : sequence of str, optional
        New follow-up tumour VOIs (default: by lesion_id, as :func:`percist_response`); counted when
        FDG-avid by the PERCIST follow-up threshold rule of ``options``.
    options : PercistOptions, optional
    matches : mapping of str to str, optional
        Baseline tumour VOI name -> follow-up VOI name (default: same lesion_id, else same name).

    Returns
    -------
    EortcResult
    """
    options = options or PercistOptions()
    _check_table(baseline, "baseline uptake table")
    _check_table(followup, "follow-up uptake table")
    base = summarise_scan(baseline, "SUV", label="baseline uptake table")
    follow = summarise_scan(followup, "SUV", label="follow-up uptake table")
    if new_lesions is None:
        new_lesions = _new_lesion_names(baseline, followup)
    if matches is None:
        by_key = {}
        for _, row in _tumours(followup).iterrows():
            by_key[as_text(row.get("lesion_id")) or str(row["name"])] = str(row["name"])
        matches = {}
        for _, row in _tumours(baseline).iterrows():
            key = as_text(row.get("lesion_id")) or str(row["name"])
            if key in by_key:
                matches[str(row["name"])] = by_key[key]
    pmr = options.eortc_pmr_pct_one_cycle if options.after_one_cycle else options.eortc_pmr_pct
    pmd = options.eortc_pmd_pct
    notes = ["SUV (body-weight normalised) as in EORTC 1999; sum of SUVmax over baseline targets",
             "extent criterion (> 20 % increase in longest dimension) not evaluated"]
    ranked = sorted(((v, n) for n, v in base.lesion_max.items() if math.isfinite(v)), key=lambda t: (-t[0], t[1]))
    targets = tuple(n for _, n in ranked[:options.eortc_max_lesions])
    if not targets:
        notes.append("no baseline lesion: EORTC not assessable")
        return EortcResult(None, (), math.nan, math.nan, math.nan, pmr, pmd, tuple(notes))
    s0 = sum(base.lesion_max[n] for n in targets)
    parts, s1 = [], 0.0
    for name in targets:
        other = matches.get(name)
        value = follow.lesion_max.get(other, math.nan) if other is not None else math.nan
        if not math.isfinite(value):
            parts.append(f"{name} resolved (0)")
            continue
        s1 += value
    _, pct = changes(s0, s1)
    notes.append(f"targets {', '.join(targets)}: sum SUVmax {fmt(s0)} -> {fmt(s1)} ({fmt(pct)} %)"
                 + (f"; {', '.join(parts)}" if parts else ""))

    unit, _ = choose_unit([baseline, followup], use_sul=options.use_sul)
    avidity_scan = summarise_scan(followup, unit, label="follow-up uptake table")
    threshold, _, _ = measurability_threshold(avidity_scan, options)
    if options.new_lesion_rule == "any" or not math.isfinite(threshold):
        avid = list(new_lesions)
    else:
        avid = [n for n in new_lesions
                if meets(avidity_scan.lesion_peaks.get(n, math.nan), threshold, 0.0, below=False)]
    tol = options.tolerance

    def result(category: str) -> EortcResult:
        return EortcResult(category, targets, s0, s1, pct, pmr, pmd, tuple(notes))

    if avid:
        notes.append(f"PMD: new lesion(s) {', '.join(avid)}")
        return result("PMD")
    if meets(pct, pmd, tol, below=False):
        notes.append(f"PMD: sum SUVmax change >= +{pmd:g} %")
        return result("PMD")
    remaining = {n: v for n, v in follow.lesion_max.items() if math.isfinite(v)}
    liver = follow.liver_suv_mean
    if not remaining:
        notes.append("CMR: no tumour VOI at follow-up")
        return result("CMR")
    if math.isfinite(liver) and all(meets(v, liver, tol, below=True) for v in remaining.values()):
        notes.append(f"CMR: every follow-up lesion SUVmax <= liver SUVmean {fmt(liver)}")
        return result("CMR")
    if meets(pct, pmr, tol, below=True):
        notes.append(f"PMR: sum SUVmax change <= {pmr:g} %" + (" (after one cycle)" if options.after_one_cycle
                                                                 else ""))
        return result("PMR")
    notes.append(f"SMD: change between {pmr:g} % and +{pmd:g} %")
    return result("SMD")
