"""iRECIST (Seymour et al., Lancet Oncol 2017) on top of the RECIST 1.1 time-point categories.

State per subject: whether an unconfirmed iUPD is open, the date of the first iUPD of the open block, the
categories that triggered it (target, non_target, new_lesion), the target sum and the new-lesion-target (NLT) sum
at that first iUPD (increases accumulate against these) and the new lesions already identified.

Choices (where the rules leave room):

* iUPD whenever RECIST 1.1 PD is met in any category (target, unequivocal non-target, unequivocal new lesion).
* Confirmation uses the next assessment at least ``confirm_min_days`` (28) after the first iUPD of the block.
  Earlier assessments neither confirm nor reset (they stay iUPD, with a note) unless they show an additional
  new lesion, which confirms. Assessments after ``confirm_max_days`` (56) still confirm, with a note.
* iCPD when (1) target-triggered and the target sum is >= 5 mm above the sum at the first iUPD; (2)
  non-target-triggered and any non-target has status ``increase``; (3) new-lesion-triggered and the NLT sum is
  >= 5 mm above the first iUPD's, any NLNT has status ``increase``, or a new lesion not seen before appears;
  (4) RECIST 1.1 PD newly met in a category that did not trigger the iUPD (any additional new lesion counts).
* Not confirmed but PD still met in a triggering category (targets still PD against the nadir, non-target still
  unequivocally progressed, new lesions still present) -> stays iUPD. This follows Seymour's Table 2 for the
  ambiguity of persisting new lesions with shrinking targets (remains iUPD), not the EORTC FAQ scenario B.
* A triggering category not evaluable (NE) and no confirmation -> NE, the block stays open.
* Otherwise the iUPD resets: the time point is iCR/iPR/iSD/Non-iCR/Non-iUPD from the RECIST categories; the
  baseline and the nadir are not reset, and a later iUPD must meet PD against the nadir again.
* After iCPD every later time point is iCPD (confirmed progression is final); ``icpd_date`` is the date of the
  first iUPD of the confirmed block.
* NLT: at its first unequivocal appearance a new lesion that is measurable (>= 10 mm; nodes >= 15 mm short axis)
  becomes an NLT while fewer than 5 NLTs (2 per organ, by the ``organ`` column) exist since the last reset,
  largest first; others are NLNT. The NLT sum is never added to the target sum. A reset clears the register.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["IRecistTracker", "NewLesionRegistry", "TimepointFacts", "StepResult", "IRECIST_FROM_RECIST"]

EPS = 1e-6
IRECIST_FROM_RECIST = {"CR": "iCR", "PR": "iPR", "SD": "iSD", "Non-CR/Non-PD": "Non-iCR/Non-iUPD", "NE": "NE"}


@dataclass(frozen=True)
class TimepointFacts:
    """RECIST 1.1 facts of one follow-up assessment, as the iRECIST tracker needs them (mm, dates)."""

    date: dt.date
    target_response: str
    sod: float | None
    sod_complete: bool
    non_target_response: str
    non_target_increase: bool
    new_lesions: frozenset[str]
    nlt_sum: float | None
    nlnt_increase: bool
    overall: str


@dataclass
class StepResult:
    """iRECIST response of one time point."""

    response: str
    reason: str = ""
    icpd_date: dt.date | None = None
    reset: bool = False
    notes: list[str] = field(default_factory=list)


class NewLesionRegistry:
    """New lesions since the last iUPD reset, each classed NLT or NLNT at its first unequivocal appearance."""

    def __init__(self, options: Any) -> None:
        self.opts = options
        self.nlt: dict[str, str] = {}  # lesion id -> organ
        self.nlnt: set[str] = set()

    def reset(self) -> None:
        """Forget the new lesions (after an iUPD reset none is present)."""
        self.nlt.clear()
        self.nlnt.clear()

    def update(self, assessment: Any, unequivocal: set[str], notes: list[str]) -> tuple[float | None, bool]:
        """Class the lesions first seen now; return (NLT sum in mm or None, any NLNT increased)."""
        opts = self.opts
        fresh = [assessment.lesions[lid] for lid in unequivocal if lid not in self.nlt and lid not in self.nlnt]
        fresh.sort(key=lambda les: (-(les.diameter or 0.0), les.lesion_id))
        for les in fresh:
            size = opts.too_small_mm if les.too_small else les.diameter
            limit = opts.measurable_node_mm if les.node else opts.measurable_mm
            per_organ = sum(organ == les.organ for organ in self.nlt.values())
            if size is not None and size >= limit - EPS and len(self.nlt) < opts.max_targets \
                    and per_organ < opts.max_targets_per_organ:
                self.nlt[les.lesion_id] = les.organ
                notes.append(f"new lesion {les.lesion_id}: new-lesion target (NLT)")
            else:
                self.nlnt.add(les.lesion_id)
                notes.append(f"new lesion {les.lesion_id}: new-lesion non-target (NLNT)")
        if not self.nlt:
            total = None
        else:
            total = 0.0
            for lid in sorted(self.nlt):
                les = assessment.lesions.get(lid)
                if les is None or not les.assessed:
                    notes.append(f"NLT {lid} not assessed (not in the NLT sum)")
                elif les.status == "absent":
                    continue
                elif les.too_small:
                    total += opts.too_small_mm
                elif les.diameter is None:
                    notes.append(f"NLT {lid} has no diameter (not in the NLT sum)")
                else:
                    total += les.diameter
            total = round(total, 6)
        nlnt_increase = any((les := assessment.lesions.get(lid)) is not None and les.assessed
                            and les.status == "increase" for lid in self.nlnt)
        return total, nlnt_increase


class IRecistTracker:
    """The iUPD / iCPD state machine of one subject; call :meth:`step` once per follow-up in date order."""

    def __init__(self, options: Any) -> None:
        self.opts = options
        self.open = False
        self.confirmed_date: dt.date | None = None
        self.block_start: dt.date | None = None
        self.triggers: set[str] = set()
        self.ref_sod: float | None = None
        self.ref_nlt: float | None = None
        self.known_new: frozenset[str] = frozenset()

    @staticmethod
    def _pd_categories(f: TimepointFacts) -> set[str]:
        cats = set()
        if f.target_response == "PD":
            cats.add("target")
        if f.non_target_response == "PD":
            cats.add("non_target")
        if f.new_lesions:
            cats.add("new_lesion")
        return cats

    def _confirm(self, reasons: list[str]) -> StepResult:
        self.confirmed_date = self.block_start
        self.open = False
        return StepResult("iCPD", "; ".join(reasons), self.confirmed_date,
                          notes=[f"iCPD: {'; '.join(reasons)}; dated to the first iUPD ({self.block_start})"])

    def step(self, f: TimepointFacts) -> StepResult:
        """iRECIST response of the next follow-up assessment."""
        opts = self.opts
        if self.confirmed_date is not None:
            return StepResult("iCPD", "", self.confirmed_date, notes=["after iCPD (confirmed progression is final)"])
        cats = self._pd_categories(f)
        if not self.open:
            if cats:
                self.open, self.block_start, self.triggers = True, f.date, cats
                self.ref_sod, self.ref_nlt, self.known_new = f.sod, f.nlt_sum, f.new_lesions
                return StepResult("iUPD", ";".join(sorted(cats)))
            return StepResult(IRECIST_FROM_RECIST[f.overall])
        assert self.block_start is not None
        days = (f.date - self.block_start).days
        additional = sorted(f.new_lesions - self.known_new)
        if days < opts.confirm_min_days:
            if additional:
                return self._confirm([f"additional new lesion(s) {', '.join(additional)} {days} days after iUPD"])
            return StepResult("iUPD", ";".join(sorted(self.triggers)),
                              notes=[f"{days} days after the iUPD of {self.block_start} (< {opts.confirm_min_days}):"
                                     " disregarded for confirmation and reset"])
        reasons = []
        if "target" in self.triggers and f.sod is not None and self.ref_sod is not None \
                and f.sod - self.ref_sod >= opts.icpd_min_increase_mm - EPS:
            reasons.append(f"target sum +{f.sod - self.ref_sod:.1f} mm since the first iUPD")
        if "non_target" in self.triggers and f.non_target_increase:
            reasons.append("further non-target increase")
        if "new_lesion" in self.triggers:
            if f.nlt_sum is not None and f.nlt_sum - (self.ref_nlt or 0.0) >= opts.icpd_min_increase_mm - EPS:
                reasons.append(f"NLT sum +{f.nlt_sum - (self.ref_nlt or 0.0):.1f} mm since the first iUPD")
            if f.nlnt_increase:
                reasons.append("NLNT increase")
        if additional:
            reasons.append(f"additional new lesion(s) {', '.join(additional)}")
        newly = sorted(cats - self.triggers - {"new_lesion"})
        if newly:
            reasons.append(f"RECIST PD newly met in {', '.join(newly)}")
        if reasons:
            result = self._confirm(reasons)
            if days > opts.confirm_max_days:
                result.notes.append(f"confirmed {days} days after the iUPD (> {opts.confirm_max_days})")
            return result
        still = sorted(self.triggers & cats)
        if still:
            return StepResult("iUPD", ";".join(sorted(self.triggers)),
                              notes=[f"iUPD of {self.block_start} not confirmed; PD still met in {', '.join(still)}"])
        unknown = [c for c, r in (("target", f.target_response), ("non_target", f.non_target_response))
                   if c in self.triggers and r == "NE"]
        if unknown:
            return StepResult("NE", notes=[f"iUPD of {self.block_start} open; {', '.join(unknown)} not evaluable"])
        self.open, self.triggers, self.block_start = False, set(), None
        return StepResult(IRECIST_FROM_RECIST[f.overall], reset=True,
                          notes=["iUPD reset (PD criteria no longer met); the nadir is kept"])
