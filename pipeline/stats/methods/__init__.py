"""Statistical methods of the trial endpoints: correlation, rank tests, ROC, diagnostic accuracy, survival, models.

Every test returns a :class:`StatResult` (estimate, confidence interval, p-value, n, method, statistic,
notes) unless stated otherwise. Library code raises :class:`~pipeline.errors.InvalidInputError` only for
programming misuse (mismatched lengths, unknown options, a non-binary outcome, a missing model term); too
few observations, a single class, no events or a model that does not converge give a result with NaNs
and the reason in ``notes``, never an exception.

Conventions:

* Missing values (NaN) are dropped pairwise (or row-wise) before a test; the number dropped is in
  ``notes``. ``n`` is the number of observations (pairs, subjects, lesions) actually used.
* Confidence intervals are two-sided at level ``1 - alpha`` (default 95%).
* Groups for :func:`kruskal_wallis` and :func:`jonckheere_terpstra` are a sequence (or mapping, in
  insertion order) of array-likes; for Jonckheere-Terpstra the order is the hypothesised order.
* Cluster (patient) ids, where accepted, switch confidence intervals to a cluster bootstrap that
  resamples patients with replacement, so per-lesion data are not treated as independent.

Scipy, statsmodels, lifelines and scikit-learn do the standard work; implemented here are only what
they lack: the DeLong variance of an AUC, the Jonckheere-Terpstra test (tie-corrected variance, exact
null distribution without ties, permutation p-value with ties), the Bonett-Wright and Fieller standard
errors of Fisher's z for Spearman's rho, the Hodges-Lehmann interval and the cluster bootstrap. Each is
checked against published known answers in ``tests/unit/test_statistics.py``.

Modules by topic: :mod:`.core` (:class:`StatResult`, input checks, resampling), :mod:`.correlation`,
:mod:`.ranks` (with the Hodges-Lehmann interval), :mod:`.roc` (with paired DeLong), :mod:`.accuracy` (with
McNemar), :mod:`.survival`, :mod:`.models`, :mod:`.clustered` (lesions nested in patients: paired log ratios,
repeated visits, clustered AUC and proportions, cluster trend tests), :mod:`.clustered_comparison` (two
readers or tracers on the same clustered lesions: AUC difference, McNemar), :mod:`.agreement` (ICC, Bland-Altman,
repeatability) and :mod:`.multiplicity`; this package re-exports their public names.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ...lazy import lazy_attributes

if TYPE_CHECKING:  # the names for type checkers; at run time each is loaded on first use (__getattr__)
    from .accuracy import diagnostic_accuracy, mcnemar, proportion_ci
    from .agreement import bland_altman, icc, repeatability
    from .clustered import (
        MIN_CLUSTERS,
        cluster_permutation_jt,
        clustered_auc,
        clustered_proportion,
        mixed_trend,
        nested_visit_ratio,
        paired_log_ratio,
    )
    from .clustered_comparison import clustered_auc_difference, clustered_mcnemar
    from .core import NAN, StatResult
    from .correlation import spearman
    from .models import geometric_mean_ratio, mixed_model
    from .multiplicity import benjamini_hochberg
    from .ranks import (
        hodges_lehmann,
        jonckheere_terpstra,
        jonckheere_terpstra_statistic,
        kruskal_wallis,
        mann_whitney,
        paired_t_log,
        wilcoxon_paired,
    )
    from .roc import bootstrap_cutoff_ci, paired_delong, roc_auc_delong, youden
    from .survival import cox_hr, cox_multivariable, kaplan_meier_logrank, km_median

_HOME = {
    "diagnostic_accuracy": "accuracy",
    "mcnemar": "accuracy",
    "proportion_ci": "accuracy",
    "bland_altman": "agreement",
    "icc": "agreement",
    "repeatability": "agreement",
    "MIN_CLUSTERS": "clustered",
    "cluster_permutation_jt": "clustered",
    "clustered_auc": "clustered",
    "clustered_proportion": "clustered",
    "mixed_trend": "clustered",
    "nested_visit_ratio": "clustered",
    "paired_log_ratio": "clustered",
    "clustered_auc_difference": "clustered_comparison",
    "clustered_mcnemar": "clustered_comparison",
    "NAN": "core",
    "StatResult": "core",
    "spearman": "correlation",
    "geometric_mean_ratio": "models",
    "mixed_model": "models",
    "benjamini_hochberg": "multiplicity",
    "hodges_lehmann": "ranks",
    "jonckheere_terpstra": "ranks",
    "jonckheere_terpstra_statistic": "ranks",
    "kruskal_wallis": "ranks",
    "mann_whitney": "ranks",
    "paired_t_log": "ranks",
    "wilcoxon_paired": "ranks",
    "bootstrap_cutoff_ci": "roc",
    "paired_delong": "roc",
    "roc_auc_delong": "roc",
    "youden": "roc",
    "cox_hr": "survival",
    "cox_multivariable": "survival",
    "kaplan_meier_logrank": "survival",
    "km_median": "survival",
}


# loaded on first use: the workflow's config validation and the CLI import this package without paying for
# scipy.stats, statsmodels, lifelines or matplotlib
__getattr__ = lazy_attributes(__name__, _HOME, globals())


__all__ = ["NAN", "StatResult", "MIN_CLUSTERS", "clustered_auc_difference", "clustered_mcnemar",
           "spearman", "kruskal_wallis", "jonckheere_terpstra_statistic",
           "jonckheere_terpstra", "mann_whitney", "wilcoxon_paired", "hodges_lehmann", "paired_t_log",
           "roc_auc_delong", "paired_delong", "youden", "bootstrap_cutoff_ci", "proportion_ci", "diagnostic_accuracy",
           "mcnemar", "kaplan_meier_logrank", "km_median", "cox_hr", "cox_multivariable", "mixed_model",
           "benjamini_hochberg", "geometric_mean_ratio", "paired_log_ratio", "nested_visit_ratio", "clustered_auc",
           "clustered_proportion", "mixed_trend", "cluster_permutation_jt", "icc", "bland_altman", "repeatability"]
