"""Best overall response (RECIST 1.1 BOR and iRECIST iBOR), with or without confirmation.

Rules (reference section 2.3; admiralonco conventions where RECIST is silent):

* Only assessments after the baseline count. RECIST stops at the first PD, iRECIST at the first iCPD.
* Without confirmation: the best of CR > PR > SD > Non-CR/Non-PD > PD > NE (iRECIST: iCR > iPR > iSD >
  Non-iCR/Non-iUPD > iCPD > iUPD > NE). SD and Non-CR/Non-PD count only at least ``sd_min_days`` after the
  reference date; otherwise the BOR is PD if PD follows, else NE.
* With confirmation: CR needs a later CR at least ``min_interval_days`` later with only CR or NE between; PR
  needs a later PR or CR at least ``min_interval_days`` later with only CR, PR or NE between and no PR after a CR
  (a CR is not the start of a PR). At most one NE in between. An unconfirmed CR or PR then counts as SD if it is at
  least ``sd_min_days`` after the reference date (as Non-CR/Non-PD for subjects whose responses include
  Non-CR/Non-PD, i.e. non-target disease only); then PD; else NE. Days are date differences, without +1.
* A confirmed PR stays the BOR whatever follows (the BOR is the best response).
* ``icpd_date``: the date of the first iUPD of the block (a run of iUPD and NE) that ends in the first iCPD.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from ..errors import InvalidInputError

__all__ = ["best_overall_response", "validate_response_table", "RECIST_CATEGORIES", "IRECIST_CATEGORIES",
           "BOR_COLUMNS"]

RECIST_CATEGORIES = ("CR", "PR", "SD", "Non-CR/Non-PD", "PD", "NE")
IRECIST_CATEGORIES = ("iCR", "iPR", "iSD", "Non-iCR/Non-iUPD", "iCPD", "iUPD", "NE")
BOR_COLUMNS = ("subject_id", "bor", "bor_date", "ibor", "ibor_date", "first_iupd_date", "icpd_date", "confirmed",
               "notes")
_RECIST: dict[str, str | None] = {"CR": "CR", "PR": "PR", "SD": "SD", "NN": "Non-CR/Non-PD", "PD": "PD", "NE": "NE",
                                  "UPD": None}
_IRECIST: dict[str, str | None] = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "NN": "Non-iCR/Non-iUPD", "PD": "iCPD",
                                   "NE": "NE", "UPD": "iUPD"}


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or \
        (isinstance(value, str) and not value.strip())


def _error(source: str, message: str, *, subject: Any = None, timepoint: Any = None, attribute: str | None = None,
           remedy: str | None = None) -> InvalidInputError:
    where = ", ".join(f"{k} {v}" for k, v in (("subject", subject), ("timepoint", timepoint)) if v is not None)
    return InvalidInputError(f"{where}: {message}" if where else message, source=source, attribute=attribute,
                             remedy=remedy)


def _date(value: Any, source: str, subject: Any, timepoint: Any, column: str) -> dt.date:
    try:
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise _error(source, f"{column} {value!r} is not an ISO date", subject=subject, timepoint=timepoint,
                     attribute=column, remedy="give YYYY-MM-DD") from None


def _best(seq: list[tuple[dt.date, str]], codes: dict[str, str | None], ref: dt.date, confirm: bool,
          min_interval_days: int, sd_min_days: int) -> tuple[str, dt.date | None, list[str]]:
    """BOR of one subject from (date, response) after baseline, responses already truncated at the first PD."""
    inv = {v: k for k, v in codes.items() if v}
    seq_codes = [(d, inv[r]) for d, r in seq]
    notes: list[str] = []
    if not seq_codes:
        return codes["NE"] or "NE", None, ["no post-baseline assessment"]
    late = [(d - ref).days >= sd_min_days for d, _ in seq_codes]
    non_target_only = any(c == "NN" for _, c in seq_codes) and not any(c in ("PR", "SD") for _, c in seq_codes)

    def first(code: str, when: list[bool] | None = None) -> dt.date | None:
        for k, (d, c) in enumerate(seq_codes):
            if c == code and (when is None or when[k]):
                return d
        return None

    if confirm:
        for code, allowed in (("CR", ("CR",)), ("PR", ("CR", "PR"))):
            for i, (d0, c0) in enumerate(seq_codes):
                if c0 != code:
                    continue
                n_ne, seen_cr = 0, False
                for d1, c1 in seq_codes[i + 1:]:
                    if c1 == "NE":
                        n_ne += 1
                        if n_ne > 1:
                            break
                        continue
                    if c1 not in allowed or (c1 == "PR" and seen_cr):
                        break
                    seen_cr = seen_cr or c1 == "CR"
                    if (d1 - d0).days >= min_interval_days:
                        notes.append(f"{codes[code]} of {d0} confirmed on {d1}")
                        return codes[code] or code, d0, notes
        for k, (d, c) in enumerate(seq_codes):
            if c in ("CR", "PR") and late[k]:
                label = "NN" if non_target_only and c == "CR" else "SD"
                notes.append(f"unconfirmed {codes[c]} of {d} counts as {codes[label]}")
        ranking = ("SD", "NN", "PD", "UPD", "NE")
        stable = [late[k] and (c in ("SD", "NN") or (c in ("CR", "PR")))
                  for k, (_, c) in enumerate(seq_codes)]
        mapped = [("NN" if non_target_only and c == "CR" else "SD") if c in ("CR", "PR") else c
                  for _, c in seq_codes]
        for code in ranking:
            for k, (d, _) in enumerate(seq_codes):
                if mapped[k] == code and (code not in ("SD", "NN") or stable[k]):
                    return codes[code] or code, d, notes
    else:
        for code in ("CR", "PR", "SD", "NN", "PD", "UPD", "NE"):
            hit = first(code, late if code in ("SD", "NN") else None)
            if hit is not None:
                return codes[code] or code, hit, notes
    early = [d for k, (d, c) in enumerate(seq_codes) if c in ("SD", "NN", "CR", "PR") and not late[k]]
    if early:
        notes.append(f"stable disease before day {sd_min_days} does not count")
    return codes["NE"] or "NE", None, notes


def _truncate(seq: list[tuple[dt.date, str]], final: str) -> list[tuple[dt.date, str]]:
    for k, (_, r) in enumerate(seq):
        if r == final:
            return seq[:k + 1]
    return seq


def _icpd_block(seq: list[tuple[dt.date, str]], source: str, subject: str) -> tuple[dt.date | None, dt.date | None]:
    """(first iUPD date, iCPD date = first iUPD of the block confirmed by the first iCPD)."""
    first_iupd = next((d for d, r in seq if r == "iUPD"), None)
    for k, (d, r) in enumerate(seq):
        if r != "iCPD":
            continue
        start = None
        for d1, r1 in reversed(seq[:k]):
            if r1 == "iUPD":
                start = d1
            elif r1 != "NE":
                break
        if start is None:
            raise _error(source, f"iCPD on {d} without a preceding iUPD", subject=subject, attribute="irecist_response",
                         remedy="iCPD confirms an earlier iUPD; correct the sequence")
        return first_iupd, start
    return first_iupd, None


def best_overall_response(timepoints: pd.DataFrame, *, confirm: bool, min_interval_days: int = 28,
                          sd_min_days: int = 42, reference_date: str = "baseline",
                          source: str = "timepoints") -> pd.DataFrame:
    """Best overall response per subject from time-point responses.

    Parameters
    ----------
    timepoints : pandas.DataFrame
        The output of :func:`evaluate_recist`, or any table with subject_id, assessment_date (ISO date),
        overall_response and optionally irecist_response. Rows with an empty overall_response are baselines.
    confirm : bool
        Require confirmation of CR and PR (single-arm trials).
    min_interval_days : int
        Minimum days between a response and its confirmation (28).
    sd_min_days : int
        SD (and Non-CR/Non-PD, iSD, Non-iCR/Non-iUPD) counts only at least this many days after the reference
        date (42).
    reference_date : str
        ``"baseline"`` (the subject's baseline assessment date) or the name of a column holding a per-subject date
        (e.g. ``randomisation_date``).
    source : str
        Table name for error messages.

    Returns
    -------
    pandas.DataFrame
        One row per subject with :data:`BOR_COLUMNS`: bor and its date, ibor and its date (empty without
        irecist_response), the first iUPD date, icpd_date (date of the first iUPD of the confirmed block), confirmed
        (the ``confirm`` setting) and notes.
    """
    for column in ("subject_id", "assessment_date", "overall_response"):
        if column not in timepoints.columns:
            raise _error(source, f"missing column {column}", attribute=column,
                         remedy="give subject_id, assessment_date, overall_response[, irecist_response]")
    if reference_date != "baseline" and reference_date not in timepoints.columns:
        raise _error(source, f"reference_date column {reference_date!r} missing", attribute=reference_date,
                     remedy="use 'baseline' or add the column")
    has_i = "irecist_response" in timepoints.columns
    rows = []
    for sid, group in timepoints.groupby(timepoints["subject_id"].astype(str), sort=True):
        records = group.to_dict("records")
        dated = sorted(((_date(r["assessment_date"], source, sid, r.get("timepoint"), "assessment_date"), r)
                        for r in records), key=lambda x: x[0])
        baseline = [d for d, r in dated if _empty(r["overall_response"])]
        post = [(d, r) for d, r in dated if not _empty(r["overall_response"])]
        if reference_date == "baseline":
            if not baseline:
                raise _error(source, "no baseline row (empty overall_response)", subject=sid,
                             attribute="overall_response", remedy="add the baseline row or give reference_date")
            ref = baseline[0]
        else:
            values = {str(r[reference_date]) for _, r in dated if not _empty(r[reference_date])}
            if len(values) != 1:
                raise _error(source, f"{reference_date} must hold one date per subject (found {sorted(values)})",
                             subject=sid, attribute=reference_date, remedy="give one reference date per subject")
            ref = _date(values.pop(), source, sid, None, reference_date)
        post = [(d, r) for d, r in post if d > ref] if baseline else post
        seq = _truncate([(d, str(r["overall_response"])) for d, r in post], "PD")
        bor, bor_date, notes = _best(seq, _RECIST, ref, confirm, min_interval_days, sd_min_days)
        row = {"subject_id": sid, "bor": bor, "bor_date": bor_date.isoformat() if bor_date else "", "ibor": "",
               "ibor_date": "", "first_iupd_date": "", "icpd_date": "", "confirmed": bool(confirm)}
        if has_i:
            iseq_all = [(d, str(r["irecist_response"])) for d, r in post if not _empty(r["irecist_response"])]
            first_iupd, icpd = _icpd_block(iseq_all, source, sid)
            ibor, ibor_date, inotes = _best(_truncate(iseq_all, "iCPD"), _IRECIST, ref, confirm, min_interval_days,
                                            sd_min_days)
            notes += [f"iRECIST: {n}" for n in inotes]
            row.update(ibor=ibor, ibor_date=ibor_date.isoformat() if ibor_date else "",
                       first_iupd_date=first_iupd.isoformat() if first_iupd else "",
                       icpd_date=icpd.isoformat() if icpd else "")
        row["notes"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(BOR_COLUMNS))


def _canonical(value: Any, allowed: tuple[str, ...]) -> str | None:
    text = str(value).strip()
    lookup = {a.lower(): a for a in allowed}
    return lookup.get(text.lower())


def validate_response_table(df: pd.DataFrame, *, source: str = "responses.csv", confirm: bool = False,
                            min_interval_days: int = 28, sd_min_days: int = 42,
                            reference_date: str = "baseline") -> pd.DataFrame:
    """Check a table of time-point responses and compute the BOR from it.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns subject_id, timepoint, assessment_date (ISO), overall_response (RECIST: CR, PR, SD,
        Non-CR/Non-PD, PD, NE; empty on the baseline row) and optionally irecist_response (iCR, iPR, iSD,
        Non-iCR/Non-iUPD, iUPD, iCPD, NE). Categories are matched case-insensitively.
    source : str
        Table name for error messages.
    confirm, min_interval_days, sd_min_days, reference_date
        As for :func:`best_overall_response`.

    Returns
    -------
    pandas.DataFrame
        The BOR table of :func:`best_overall_response`.

    Raises
    ------
    InvalidInputError
        Missing columns, unknown categories, bad or repeated dates, duplicated timepoints, a baseline row after a
        response, an empty response after baseline, iCPD without a preceding iUPD or followed by anything other
        than iCPD or NE.
    """
    required = ["subject_id", "timepoint", "assessment_date", "overall_response"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise _error(source, f"missing column(s) {', '.join(missing)}", attribute=", ".join(missing),
                     remedy=f"the table needs {', '.join(required)}[, irecist_response]")
    table = df.copy()
    has_i = "irecist_response" in table.columns
    for column, allowed in (("overall_response", RECIST_CATEGORIES), ("irecist_response", IRECIST_CATEGORIES)):
        if column not in table.columns:
            continue
        values = []
        for r in table.to_dict("records"):
            value = r[column]
            if _empty(value):
                values.append("")
                continue
            canonical = _canonical(value, allowed)
            if canonical is None:
                raise _error(source, f"{column} {value!r} is not one of {', '.join(allowed)}",
                             subject=r["subject_id"], timepoint=r["timepoint"], attribute=column,
                             remedy="correct the category")
            values.append(canonical)
        table[column] = values
    for sid, group in table.groupby(table["subject_id"].astype(str), sort=True):
        records = group.to_dict("records")
        seen_tp: set[str] = set()
        dated = []
        for r in records:
            tp = str(r["timepoint"])
            if tp in seen_tp:
                raise _error(source, "timepoint listed twice", subject=sid, timepoint=tp, attribute="timepoint",
                             remedy="one row per subject and timepoint")
            seen_tp.add(tp)
            dated.append((_date(r["assessment_date"], source, sid, tp, "assessment_date"), tp, r))
        dated.sort(key=lambda x: x[0])
        for (d0, tp0, _), (d1, tp1, _) in zip(dated, dated[1:], strict=False):
            if d0 == d1:
                raise _error(source, f"timepoints {tp0} and {tp1} share the date {d0}", subject=sid, timepoint=tp1,
                             attribute="assessment_date", remedy="correct the dates")
        started, after_icpd = False, False
        for _, tp, r in dated:
            overall = r["overall_response"]
            if not overall:
                if started or (has_i and r["irecist_response"]):
                    raise _error(source, "empty overall_response after a response (only the baseline is empty)",
                                 subject=sid, timepoint=tp, attribute="overall_response",
                                 remedy="use NE for an assessment that could not be evaluated")
                continue
            started = True
            if has_i:
                iresp = r["irecist_response"]
                if not iresp:
                    raise _error(source, "irecist_response empty after baseline", subject=sid, timepoint=tp,
                                 attribute="irecist_response", remedy="use NE or drop the column")
                if after_icpd and iresp not in ("iCPD", "NE"):
                    raise _error(source, f"{iresp} after iCPD", subject=sid, timepoint=tp,
                                 attribute="irecist_response", remedy="iCPD is final; correct the sequence")
                after_icpd = after_icpd or iresp == "iCPD"
                if overall != "PD" and iresp in ("iUPD", "iCPD") and not _pd_allowed(dated, tp):
                    raise _error(source, f"{iresp} with RECIST {overall} and no earlier PD", subject=sid,
                                 timepoint=tp, attribute="irecist_response",
                                 remedy="iUPD/iCPD need RECIST PD at this or an earlier time point")
    return best_overall_response(table, confirm=confirm, min_interval_days=min_interval_days,
                                 sd_min_days=sd_min_days, reference_date=reference_date, source=source)


def _pd_allowed(dated: list[tuple[dt.date, str, dict]], timepoint: str) -> bool:
    """Whether RECIST PD occurred at or before ``timepoint`` (iUPD and iCPD follow a RECIST PD)."""
    for _, tp, r in dated:
        if r["overall_response"] == "PD":
            return True
        if tp == timepoint:
            return False
    return False
