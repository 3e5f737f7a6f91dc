"""Options of the response stages: RECIST 1.1 / iRECIST, PET changes (deltas) and PERCIST / EORTC.

Light (the CLI builds its parser from it); each option is declared with its flag and YAML key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ..options import Options, option
from ..policy import Policy

__all__ = ["RecistOptions", "PercistOptions", "DeltaOptions"]


@dataclass(frozen=True)
class RecistOptions(Options):
    """Thresholds and choices of the RECIST 1.1 / iRECIST engine (defaults: RECIST 1.1, iRECIST 2017).

    Attributes
    ----------
    pr_change_pct : float
        PR when the sum changes by at most this much versus baseline (%), -30.
    pd_change_pct, pd_min_increase_mm : float
        PD when the sum rises by at least this much over the nadir (%, 20) and by at least this many mm (5).
    cr_node_short_axis_mm : float
        Nodal targets below this short axis (mm, 10) count as normal for CR.
    measurable_mm, measurable_node_mm : float
        Baseline measurability: longest diameter >= 10 mm, node short axis >= 15 mm. Targets below are a
        warning in ``notes``; new lesions at or above are iRECIST new-lesion targets (NLT).
    too_small_mm : float
        Value of a lesion flagged ``too_small`` (mm, 5).
    max_targets, max_targets_per_organ : int
        Target limits at baseline (5 and 2); also the NLT limits of iRECIST.
    sticky_pr : bool
        Once the target response was PR or CR, a later sum that does not meet PD stays PR (EORTC RECIST FAQ:
        100 -> 70, 70, 80 is PR at every time point). A target PD ends it.
    pd_on_reappearance : bool
        A non-nodal target above 0 mm after a target CR is PD (RECIST 1.1 reappearance rule).
    icpd_min_increase_mm : float
        iCPD when the target sum (or the NLT sum) has risen by at least this much since the first iUPD (5 mm).
    confirm_min_days, confirm_max_days : int
        iRECIST confirmation window after the first iUPD of a block (28 and 56 days). Earlier assessments are not
        used for confirmation unless they show an additional new lesion; later ones still confirm, with a note.
    confirm, min_interval_days, sd_min_days, reference_date
        Best-overall-response settings; pass :meth:`bor_kwargs` to :func:`best_overall_response`.
    policy : Policy
        ``response.target_limits``: too many targets is an error (default) or a warning in ``notes``.
    """

    section = "recist"

    pr_change_pct: float = -30.0
    pd_change_pct: float = 20.0
    pd_min_increase_mm: float = 5.0
    cr_node_short_axis_mm: float = 10.0
    measurable_mm: float = 10.0
    measurable_node_mm: float = 15.0
    too_small_mm: float = 5.0
    max_targets: int = 5
    max_targets_per_organ: int = 2
    sticky_pr: bool = True
    pd_on_reappearance: bool = True
    icpd_min_increase_mm: float = 5.0
    confirm_min_days: int = 28
    confirm_max_days: int = 56
    confirm: bool = option(False, flag="--confirm", key="recist.confirm", action="store_true",
                           help="best overall response requires confirmation of CR/PR")
    min_interval_days: int = option(28, flag="--confirm-days", key="recist.confirm_days", type=int,
                                    help="minimum interval for confirmation (default 28)")
    sd_min_days: int = option(42, flag="--sd-min-days", key="recist.sd_min_days", type=int,
                              help="minimum time from baseline for SD to count in the best response (default 42)")
    reference_date: str = "baseline"
    policy: Policy = field(default_factory=Policy)

    def bor_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`best_overall_response` held by these options."""
        return {"confirm": self.confirm, "min_interval_days": self.min_interval_days,
                "sd_min_days": self.sd_min_days, "reference_date": self.reference_date}

    def validate(self) -> None:
        """Refuse non-positive target limits and intervals."""
        for name in ("max_targets", "max_targets_per_organ"):
            if getattr(self, name) < 1:
                raise self.invalid(name, f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("min_interval_days", "sd_min_days", "confirm_min_days", "confirm_max_days"):
            if getattr(self, name) < 0:
                raise self.invalid(name, f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class PercistOptions(Options):
    """Thresholds and choices of the PERCIST / EORTC evaluation (defaults: PERCIST 1.0, EORTC 1999).

    Attributes
    ----------
    reference : {"liver", "blood"}
        Reference of the measurability threshold; "blood" when the reader deems the liver abnormal.
    blood_fallback : bool
        Use the blood pool when the liver reference is missing (else NA).
    liver_factor, blood_factor, sd_factor : float
        ``factor x reference mean + sd_factor x reference SD`` (1.5, 2.0, 2.0).
    pct_threshold : float
        Relative change of the target SULpeak for PMR/PMD (%; 30).
    abs_threshold : float
        Absolute change of the target SULpeak for PMR/PMD (SUL units; 0.8).
    new_lesion_rule : {"threshold", "any"}
        Which new tumour VOIs are new FDG-avid lesions (see module docstring).
    cmr_blood_sd_factor : float
        CMR: lesion SULpeak <= blood-pool mean + this x blood SD (2).
    liver_pct_limit, liver_abs_limit : float
        Comparability: |liver SULmean change| limits (20 %, 0.3 units).
    liver_rule : {"both", "either"}
        How the two liver limits combine.
    uptake_time_limit_min : float
        Comparability: |uptake time difference| limit (min; 15).
    require_comparable : bool
        Report NA instead of a category when the scans are not comparable.
    use_sul : bool
        Prefer SUL (False: always SUV, with a note).
    eortc_pmr_pct, eortc_pmr_pct_one_cycle, eortc_pmd_pct : float
        EORTC limits (%: -25, -15, +25).
    after_one_cycle : bool
        EORTC: the follow-up is after one cycle (PMR at -15 %).
    eortc_max_lesions : int
        EORTC targets: up to this many hottest baseline lesions by SUVmax (5).
    tolerance : float
        A value within this of a limit meets the limit.
    """

    section = "deltas"

    reference: Literal["liver", "blood"] = option("liver", flag="--reference", key="deltas.reference",
                                                  choices=("liver", "blood"),
                                                  help="PERCIST reference region (blood when the liver is abnormal)")
    blood_fallback: bool = True
    liver_factor: float = 1.5
    blood_factor: float = 2.0
    sd_factor: float = 2.0
    pct_threshold: float = 30.0
    abs_threshold: float = 0.8
    new_lesion_rule: Literal["threshold", "any"] = "threshold"
    cmr_blood_sd_factor: float = 2.0
    liver_pct_limit: float = 20.0
    liver_abs_limit: float = 0.3
    liver_rule: Literal["both", "either"] = "both"
    uptake_time_limit_min: float = 15.0
    require_comparable: bool = False
    use_sul: bool = True
    eortc_pmr_pct: float = -25.0
    eortc_pmr_pct_one_cycle: float = -15.0
    eortc_pmd_pct: float = 25.0
    after_one_cycle: bool = option(False, flag="--eortc-after-one-cycle", key="deltas.eortc_after_one_cycle",
                                  action="store_true", help="EORTC PMR threshold -15 %% instead of -25 %%")
    eortc_max_lesions: int = 5
    tolerance: float = 1e-9

    def validate(self) -> None:
        """Refuse unknown choices and an empty EORTC target list, naming the option."""
        choices = {"reference": ("liver", "blood"), "new_lesion_rule": ("threshold", "any"),
                   "liver_rule": ("both", "either")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise self.invalid(name, f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}",
                                   allowed=allowed)
        if self.eortc_max_lesions < 1:
            raise self.invalid("eortc_max_lesions", "eortc_max_lesions must be >= 1")


@dataclass(frozen=True)
class DeltaOptions(Options):
    """Settings of :func:`compute_deltas`.

    Attributes
    ----------
    baseline : str, optional
        Baseline timepoint (default: the first of ``studies``).
    sum_hottest_n : int
        Lesions in the patient-level sum of SULpeak (5).
    eortc : bool
        Add the EORTC 1999 category (``eortc``, ``eortc_notes``).
    percist : PercistOptions
        PERCIST/EORTC thresholds, comparability limits, SUL preference.
    """

    section = "deltas"

    baseline: str | None = option(None, flag="--baseline",
                                  help="baseline timepoint (default: the subject's first row in the sheet)")
    sum_hottest_n: int = 5
    eortc: bool = True
    percist: PercistOptions = field(default_factory=PercistOptions)

    def validate(self) -> None:
        """Refuse an empty sum of hottest lesions."""
        if self.sum_hottest_n < 1:
            raise self.invalid("sum_hottest_n", f"sum_hottest_n must be >= 1, got {self.sum_hottest_n}")
