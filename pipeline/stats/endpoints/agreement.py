"""Agreement and repeatability of the same VOIs measured twice: test-retest scans or two readers' VOI sets.
Estimands (VOIs measured in both selections, matched by subject and lesion_id; unit: lesion, or patient with
``unit: patient`` = the mean of the patient's matched lesions): ICC(2,1) absolute agreement (or ICC(3,1)
consistency) of the log values (or the values, ``scale: linear``) with its CI; the Bland-Altman bias of the
log values (a ratio second/first) with 95 % limits of agreement; the within-subject CV and the repeatability
coefficient from the paired log differences.

The two selections are column = value filters of the uptake table (default: ``timepoint`` ``test`` vs
``retest``; for two readers e.g. ``{"timepoint": "baseline", "reader": "A"}``). Disabled unless configured.
With several lesions per patient the lesion-level ICC treats lesions as targets (stated in the estimand);
``unit: patient`` gives the patient-level answer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .. import methods as st
from .base import CohortData, Endpoint, row

__all__ = ["ENDPOINT"]

NAN = float("nan")


def _rows(data: CohortData, cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    endpoint, unit = "agreement", cfg["unit"]
    rows = []
    first, second = cfg["first"], cfg["second"]
    selection = f"{first} vs {second}"
    for variable in cfg["variables"]:
        data.check_variable(variable, endpoint)
        pairs, unpaired = data.lesion_pairs(variable, first, second)
        pairs = pairs[(pairs["first"] > 0) & (pairs["second"] > 0)]
        listed = f"unpaired VOIs (not analysed): {', '.join(unpaired)}" if unpaired else ""
        n_subj = int(pairs["subject_id"].nunique())
        if unit == "patient":
            pairs = pairs.groupby("subject_id", as_index=False)[["first", "second"]].mean()
        clustered = unit == "lesion" and len(pairs) > n_subj
        population = (f"VOIs measured in both ({selection}); unit: {unit}"
                      f"{' (lesions of a patient counted as separate targets)' if clustered else ''}; {variable}")
        n_les = len(pairs) if unit == "lesion" else None
        notes = "; ".join(n for n in (listed,) if n)
        if len(pairs) < 3:
            rows.append(row(endpoint, f"icc_{cfg['icc_form'].replace(',', '_')}", variable, unit, None,
                            n_subjects=n_subj, n_lesions=n_les, estimand=f"{population}; ICC",
                            notes="; ".join(n for n in (f"{len(pairs)} matched VOIs: too few", listed) if n)))
            continue
        a, b = pairs["first"].to_numpy(float), pairs["second"].to_numpy(float)
        log = cfg["scale"] == "log"
        table = np.log(np.column_stack([a, b])) if log else np.column_stack([a, b])
        rows.append(row(endpoint, f"icc_{cfg['icc_form'].replace(',', '_')}", variable, unit,
                        st.icc(table, form=cfg["icc_form"]), n_subjects=n_subj, n_lesions=n_les,
                        estimand=f"{population}; ICC({cfg['icc_form']}) of {'log ' if log else ''}{variable}",
                        notes=notes))
        ba = st.bland_altman(np.log(a), np.log(b))
        low, high = ba["loa_low"], ba["loa_high"]
        from scipy import stats

        tq = float(stats.t.ppf(0.975, ba["n"] - 1))
        half = tq * ba["sd"] / math.sqrt(ba["n"])
        bias = st.StatResult(math.exp(ba["bias"]), math.exp(ba["bias"] - half), math.exp(ba["bias"] + half), NAN,
                             ba["n"], "Bland-Altman on log values: bias as a ratio second/first, t CI",
                             notes=f"95 % limits of agreement (ratio) {math.exp(low):.4g} to {math.exp(high):.4g} "
                                   f"(CI of the lower limit {math.exp(ba['loa_low_ci'][0]):.4g}-"
                                   f"{math.exp(ba['loa_low_ci'][1]):.4g}, of the upper "
                                   f"{math.exp(ba['loa_high_ci'][0]):.4g}-{math.exp(ba['loa_high_ci'][1]):.4g})")
        rows.append(row(endpoint, "bland_altman_bias", variable, unit, bias, n_subjects=n_subj, n_lesions=n_les,
                        estimand=f"{population}; mean ratio second/first with limits of agreement", notes=notes))
        rep = st.repeatability(a, b)
        wcv = st.StatResult(rep["wcv_pct"], NAN, NAN, NAN, int(rep["n"]),
                            "within-subject CV from paired log differences (wSD_log), repeatability coefficient",
                            notes=f"RC {rep['rc_pct_low']:.1f} % to +{rep['rc_pct_high']:.1f} % (log scale); "
                                  f"RC {rep['rc']:.4g} and wSD {rep['wsd']:.4g} in {variable} units")
        rows.append(row(endpoint, "repeatability_wcv_pct", variable, unit, wcv, n_subjects=n_subj, n_lesions=n_les,
                        estimand=f"{population}; within-subject CV (%)", notes=notes))
    return rows


ENDPOINT = Endpoint(
    name="agreement", order=80, enabled=False,
    description="Agreement and repeatability of VOIs measured twice (test-retest or two readers): ICC with CI, "
                "Bland-Altman bias and limits of agreement (log scale), within-subject CV and repeatability "
                "coefficient. Disabled unless configured.",
    settings={"variables": {"type": "array", "items": {"type": "string"}, "default": ["suv_max", "suv_mean"]},
              "first": {"type": "object", "additionalProperties": {"type": "string"},
                        "default": {"timepoint": "test"},
                        "description": "Uptake-table column -> value selecting the first measurement."},
              "second": {"type": "object", "additionalProperties": {"type": "string"},
                         "default": {"timepoint": "retest"},
                         "description": "Uptake-table column -> value selecting the second measurement."},
              "unit": {"type": "string", "enum": ["lesion", "patient"], "default": "lesion"},
              "scale": {"type": "string", "enum": ["log", "linear"], "default": "log",
                        "description": "ICC of log values (SUV errors are proportional; QIBA) or of the values."},
              "icc_form": {"type": "string", "enum": ["2,1", "3,1"], "default": "2,1",
                           "description": "2,1: absolute agreement (test-retest); 3,1: consistency (readers)."}},
    rows=_rows)
