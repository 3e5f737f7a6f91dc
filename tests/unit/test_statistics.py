"""Statistics: known answers of the reference (section 3.3), NaN-with-note guards, reproducibility."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.errors import InvalidInputError
from pipeline.stats import methods as S
from pipeline.stats.methods.ranks import _mwu_pmf

# --- reference vectors (kinetics_recist_stats.md, section 3.3) ---------------------------------------------

IHC = [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3]
SUV = [1.2, 2.0, 1.5, 3.1, 2.2, 2.9, 1.8, 3.5, 4.0, 3.9, 5.1, 4.4, 6.0, 6.5, 8.2, 5.9, 9.1, 7.4]
POS = [0, 5, 2, 10, 5, 15, 10, 20, 30, 30, 50, 40, 60, 70, 90, 60, 95, 80]
SUV_BY_IHC = [[s for s, i in zip(SUV, IHC, strict=True) if i == k] for k in range(4)]

BEFORE = [4.1, 5.3, 3.2, 6.8, 2.9, 7.5, 5.0, 3.8, 4.4, 6.1]
AFTER = [5.0, 6.9, 3.1, 8.8, 3.5, 9.0, 5.9, 4.6, 4.3, 7.7]

ROC_Y = [1] * 7 + [0] * 8
ROC_S = [9.1, 7.4, 6.5, 5.9, 4.4, 3.0, 2.2, 4.0, 3.5, 2.9, 2.0, 1.8, 1.5, 1.2, 3.1]

T_6MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
E_6MP = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
T_PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
TIME = T_6MP + T_PLACEBO
EVENT = E_6MP + [1] * 21
ARM = ["6-MP"] * 21 + ["placebo"] * 21


def close(value: float, expected: float, decimals: int) -> bool:
    """True when ``value`` rounds to ``expected`` at the printed number of decimals."""
    return abs(value - expected) <= 0.5 * 10.0**-decimals + 1e-12


def close_sig(value: float, expected: float, digits: int) -> bool:
    """True when ``value`` agrees with ``expected`` to the printed significant digits."""
    scale = 10.0 ** (math.floor(math.log10(abs(expected))) - digits + 1)
    return abs(value - expected) <= 0.5 * scale * (1 + 1e-9)


# --- binomial CIs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "wilson", "cp"),
    [
        (8, 10, (0.4902, 0.9433), (0.4439, 0.9748)),
        (45, 50, (0.7864, 0.9565), (0.7819, 0.9667)),
        (0, 12, (0.0, 0.2425), (0.0, 0.2646)),
    ],
)
def test_proportion_ci_known_answers(k, n, wilson, cp):
    for method, expected in (("wilson", wilson), ("clopper-pearson", cp)):
        low, high = S.proportion_ci(k, n, method=method)
        assert close(low, expected[0], 4) and close(high, expected[1], 4), (method, low, high)
        assert 0.0 <= low <= high <= 1.0


def test_proportion_ci_edge_cases():
    assert all(math.isnan(v) for v in S.proportion_ci(0, 0))
    with pytest.raises(InvalidInputError):
        S.proportion_ci(5, 3)
    with pytest.raises(InvalidInputError):
        S.proportion_ci(1, 3, method="agresti")


def test_diagnostic_accuracy_counts_and_undefined():
    y_true = [1] * 10 + [0] * 50
    y_pred = [1] * 8 + [0] * 2 + [0] * 45 + [1] * 5
    out = S.diagnostic_accuracy(y_true, y_pred)
    assert set(out) == {"sensitivity", "specificity", "accuracy", "ppv", "npv"}
    sens, spec = out["sensitivity"], out["specificity"]
    assert sens.estimate == pytest.approx(0.8) and sens.n == 10
    assert close(sens.ci_low, 0.4902, 4) and close(sens.ci_high, 0.9433, 4)
    assert spec.estimate == pytest.approx(0.9) and close(spec.ci_low, 0.7864, 4) and close(spec.ci_high, 0.9565, 4)
    assert "8/10" in sens.notes and "TP=8" in sens.notes
    assert out["ppv"].estimate == pytest.approx(8 / 13)
    assert out["npv"].estimate == pytest.approx(45 / 47)
    cp = S.diagnostic_accuracy(y_true, y_pred, method="clopper-pearson")["sensitivity"]
    assert close(cp.ci_low, 0.4439, 4) and close(cp.ci_high, 0.9748, 4)
    # no test-positive cases: PPV undefined -> NaN with a note
    none_positive = S.diagnostic_accuracy([1, 0, 0], [0, 0, 0])
    assert math.isnan(none_positive["ppv"].estimate) and "undefined" in none_positive["ppv"].notes
    with pytest.raises(InvalidInputError):
        S.diagnostic_accuracy([1, 2, 0], [1, 0, 0])


# --- survival: Freireich 6-MP ------------------------------------------------------------------------------


def test_freireich_logrank_and_km_medians():
    result, medians, fitters = S.kaplan_meier_logrank(TIME, EVENT, ARM)
    assert close(result.statistic, 16.7929, 4)
    assert close_sig(result.p_value, 4.169e-05, 4)
    assert result.n == 42
    assert medians == {"6-MP": 23.0, "placebo": 8.0}
    assert close(float(fitters["6-MP"].predict(10)), 0.7529, 4)
    assert close(float(fitters["placebo"].predict(10)), 0.3810, 4)


def test_freireich_cox_hr():
    res = S.cox_hr(TIME, EVENT, ARM)  # reference = first level in sorted order: 6-MP
    assert close(res.estimate, 4.8169, 4)
    assert close(res.ci_low, 2.1465, 4) and close(res.ci_high, 10.8093, 4)
    assert close_sig(res.p_value, 1.378e-04, 4)
    assert "placebo vs 6-MP" in res.method
    numeric = S.cox_hr(TIME, EVENT, np.array([0] * 21 + [1] * 21))
    assert numeric.estimate == pytest.approx(res.estimate, rel=1e-9)
    flipped = S.cox_hr(TIME, EVENT, ARM, reference="placebo")
    assert flipped.estimate == pytest.approx(1 / res.estimate, rel=1e-6)
    with pytest.raises(InvalidInputError):
        S.cox_hr(TIME, EVENT, ARM, ties="breslow")


def test_survival_degenerate_inputs_give_nan():
    res, medians, _ = S.kaplan_meier_logrank([1, 2, 3], [1, 0, 1], ["a", "a", "a"])
    assert math.isnan(res.p_value) and "groups" in res.notes and set(medians) == {"a"}
    no_events = S.cox_hr([1, 2, 3, 4], [0, 0, 0, 0], ["a", "b", "a", "b"])
    assert math.isnan(no_events.estimate) and "no events" in no_events.notes


# --- SUV vs IHC ---------------------------------------------------------------------------------------------


def test_spearman_known_answers():
    bw = S.spearman(SUV, POS)
    assert close(bw.estimate, 0.98656, 5)
    assert close_sig(bw.p_value, 5.137e-14, 4)
    assert close(bw.ci_low, 0.95457, 5) and close(bw.ci_high, 0.99607, 5)
    assert "Bonett-Wright" in bw.method
    fieller = S.spearman(SUV, POS, ci="fieller")
    assert close(fieller.ci_low, 0.96236, 5) and close(fieller.ci_high, 0.99524, 5)
    ordinal = S.spearman(SUV, IHC)
    assert close(ordinal.estimate, 0.91101, 5)


def test_spearman_too_few_and_constant_give_nan_with_note():
    res = S.spearman([1.0, 2.0], [3.0, 4.0])
    assert res.n == 2 and math.isnan(res.estimate) and math.isnan(res.p_value) and "too few" in res.notes
    const = S.spearman([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    assert math.isnan(const.estimate) and "constant" in const.notes
    dropped = S.spearman([1.0, 2.0, np.nan, 4.0, 5.0], [2.0, 1.0, 3.0, 5.0, 4.0])
    assert dropped.n == 4 and "1 observation" in dropped.notes
    with pytest.raises(InvalidInputError):
        S.spearman([1, 2, 3], [1, 2])
    with pytest.raises(InvalidInputError):
        S.spearman([1, 2, 3], [1, 2, 3], ci="wald")


def test_spearman_bootstrap_and_cluster_bootstrap_reproducible():
    boot = S.spearman(SUV, POS, ci="bootstrap", n_boot=500, seed=3)
    assert boot.ci_low < boot.ci_high and boot.ci_low <= boot.estimate + 0.02
    assert boot == S.spearman(SUV, POS, ci="bootstrap", n_boot=500, seed=3)

    rng = np.random.default_rng(11)
    patients = np.repeat(np.arange(12), 3)
    latent = rng.normal(size=12)[patients]
    x = latent + rng.normal(scale=0.7, size=patients.size)
    y = latent + rng.normal(scale=0.7, size=patients.size)
    first = S.spearman(x, y, clusters=patients, n_boot=400, seed=5)
    again = S.spearman(x, y, clusters=patients, n_boot=400, seed=5)
    other = S.spearman(x, y, clusters=patients, n_boot=400, seed=6)
    assert first == again
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)
    assert "cluster bootstrap" in first.method and "12 patients" in first.notes
    assert first.estimate == pytest.approx(stats.spearmanr(x, y).statistic)
    assert first.ci_low < first.estimate < first.ci_high
    # resampling patients gives a wider interval than treating the 36 lesions as independent
    naive = S.spearman(x, y, ci="bootstrap", n_boot=400, seed=5)
    assert first.ci_high - first.ci_low > naive.ci_high - naive.ci_low
    assert 0 < first.p_value <= 1


def test_kruskal_wallis_known_answer():
    res = S.kruskal_wallis(SUV_BY_IHC)
    assert close(res.statistic, 14.2632, 4)
    assert close_sig(res.p_value, 0.002568, 4)
    assert res.n == 18 and res.estimate == pytest.approx(res.statistic / 17)
    single = S.kruskal_wallis([[1.0, 2.0, 3.0], []])
    assert math.isnan(single.p_value) and "groups" in single.notes


def test_jonckheere_terpstra_known_answer_normal():
    s = S.jonckheere_terpstra_statistic(SUV_BY_IHC)
    assert s["j"] == 115.0 and s["mean"] == 60.5
    assert close(s["var"], 161.5833, 4) and s["var"] == pytest.approx(s["var_no_ties"])
    assert close(s["z"], 4.2874, 4)
    res = S.jonckheere_terpstra(SUV_BY_IHC, method="normal")
    assert res.statistic == 115.0 and res.n == 18
    assert close_sig(res.p_value, 9.04e-06, 3)
    assert res.estimate == pytest.approx((2 * 115 - 121) / 121)
    assert "normal-approximation p=9.037e-06" in res.notes


def test_jonckheere_terpstra_exact_and_permutation():
    exact = S.jonckheere_terpstra(SUV_BY_IHC)  # auto: no ties -> exact
    assert "exact" in exact.method and exact.statistic == 115.0
    # exact one-sided p, reported separately from the normal-approximation 9.04e-06 (the exact algorithm is
    # checked against full enumeration below); 10,000 permutations cannot go below 1/10,001
    assert close_sig(exact.p_value, 5.221e-07, 4)
    perm = S.jonckheere_terpstra(SUV_BY_IHC, method="permutation", n_perm=10_000, seed=0)
    assert perm.p_value == pytest.approx(1 / 10_001)
    assert perm == S.jonckheere_terpstra(SUV_BY_IHC, method="permutation", n_perm=10_000, seed=0)
    decreasing = S.jonckheere_terpstra(SUV_BY_IHC, alternative="decreasing")
    assert decreasing.p_value > 0.999


def test_jonckheere_terpstra_exact_matches_full_enumeration():
    groups = [[1.1, 3.2], [2.5, 0.7, 4.1], [3.9, 5.0]]
    pooled = np.concatenate([np.asarray(g) for g in groups])
    sizes = [len(g) for g in groups]
    observed = S.jonckheere_terpstra_statistic(groups)["j"]
    count = total = 0
    for perm in itertools.permutations(range(pooled.size)):
        v = pooled[list(perm)]
        split = np.split(v, np.cumsum(sizes)[:-1])
        total += 1
        count += S.jonckheere_terpstra_statistic(split)["j"] >= observed - 1e-9
    exact = S.jonckheere_terpstra(groups, method="exact")
    assert exact.p_value == pytest.approx(count / total, rel=1e-12)


def test_jonckheere_terpstra_ties_use_corrected_variance_and_permutation():
    groups = [[1, 2, 2, 3], [2, 3, 3, 4], [3, 4, 5, 5]]
    s = S.jonckheere_terpstra_statistic(groups)
    assert s["ties"] == 1.0 and s["var"] < s["var_no_ties"]
    # brute-force null variance of J over all distinct assignments of the pooled values
    pooled = np.concatenate([np.asarray(g, dtype=float) for g in groups])
    rng = np.random.default_rng(0)
    draws = [S.jonckheere_terpstra_statistic(np.split(rng.permutation(pooled), [4, 8]))["j"] for _ in range(20000)]
    assert np.var(draws) == pytest.approx(s["var"], rel=0.03)
    res = S.jonckheere_terpstra(groups)
    assert "permutation" in res.method and "ties present" in res.notes
    with pytest.raises(InvalidInputError):
        S.jonckheere_terpstra(groups, method="exact")


# --- paired and two-sample tests ---------------------------------------------------------------------------


def test_wilcoxon_paired_known_answer():
    res = S.wilcoxon_paired(BEFORE, AFTER)
    assert res.statistic == 3.0
    assert close_sig(res.p_value, 0.009766, 4)
    # issue 15: the estimate is the Hodges-Lehmann ratio with its signed-rank CI (the median % change, 20.87,
    # and its IQR are descriptive and stay in the notes, never in the CI columns)
    log_ratio = np.log(np.divide(AFTER, BEFORE))
    i, j = np.triu_indices(log_ratio.size)
    assert res.estimate == pytest.approx(math.exp(np.median((log_ratio[i] + log_ratio[j]) / 2)))
    assert "median % change 20.87" in res.notes and "Hodges-Lehmann" in res.method
    assert "exact" in res.method and res.n == 10
    assert res.ci_low <= res.estimate <= res.ci_high
    inside = [math.log(res.ci_low) + 1e-9, math.log(res.ci_high) - 1e-9]
    assert all(stats.wilcoxon(log_ratio - mu, method="exact").pvalue >= 0.05 for mu in inside)


def test_hodges_lehmann_signed_rank_interval():
    """clustered_statistics.md section 2: HL 1.635, exact 95 % CI [1.025, 2.180], k = 14."""
    d = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30, -0.21, 0.93, 2.61]
    res = S.hodges_lehmann(d)
    assert res.estimate == pytest.approx(1.635)
    assert (res.ci_low, res.ci_high) == pytest.approx((1.025, 2.180))
    assert "k=14" in res.notes and "achieved coverage 0.9575" in res.notes


def test_paired_t_log_matches_scipy():
    res = S.paired_t_log(BEFORE, AFTER)
    ref = stats.ttest_rel(np.log(AFTER), np.log(BEFORE))
    assert res.statistic == pytest.approx(ref.statistic) and res.p_value == pytest.approx(ref.pvalue)
    assert res.estimate == pytest.approx(math.exp(np.mean(np.log(np.divide(AFTER, BEFORE)))))
    assert res.ci_low < res.estimate < res.ci_high


def test_mann_whitney_hodges_lehmann():
    x, y = ROC_S[:7], ROC_S[7:]
    res = S.mann_whitney(x, y)
    ref = stats.mannwhitneyu(x, y, alternative="two-sided")
    assert res.statistic == ref.statistic and res.p_value == pytest.approx(ref.pvalue)
    assert res.estimate == pytest.approx(np.median(np.subtract.outer(x, y)))
    # the interval inverts the exact two-sided test: shifts just inside are not rejected, just outside are
    eps = 1e-6
    for inside, outside in ((res.ci_low + eps, res.ci_low - eps), (res.ci_high - eps, res.ci_high + eps)):
        assert stats.mannwhitneyu(np.subtract(x, inside), y, method="exact").pvalue >= 0.05
        assert stats.mannwhitneyu(np.subtract(x, outside), y, method="exact").pvalue < 0.05


def test_mwu_null_pmf_matches_scipy_exact():
    pmf = _mwu_pmf(4, 6)
    assert pmf.size == 25 and pmf.sum() == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    for _ in range(6):
        x, y = rng.normal(size=4), rng.normal(size=6)
        u = int((x[:, None] > y[None, :]).sum())
        p_less = stats.mannwhitneyu(x, y, alternative="less", method="exact").pvalue
        assert pmf[: u + 1].sum() == pytest.approx(p_less, rel=1e-10)


# --- ROC ------------------------------------------------------------------------------------------------------


def test_roc_delong_known_answer():
    from sklearn.metrics import roc_auc_score

    res = S.roc_auc_delong(ROC_Y, ROC_S)
    assert res.estimate == 0.875 and res.estimate == pytest.approx(roc_auc_score(ROC_Y, ROC_S))
    assert "DeLong SE=0.0959265" in res.notes
    assert close(res.statistic, (0.875 - 0.5) / 0.095927, 3)
    assert close(res.ci_low, 0.5565, 4) and close(res.ci_high, 0.9750, 4)
    assert res.p_value == pytest.approx(2 * stats.norm.sf(res.statistic))


def test_youden_known_answer():
    out = S.youden(ROC_Y, ROC_S)
    assert out["cutoff"] == 4.4
    assert close(out["j"], 0.7143, 4) and close(out["sensitivity"], 0.7143, 4) and out["specificity"] == 1.0


def test_roc_one_class_gives_nan_with_note():
    res = S.roc_auc_delong([1, 1, 1], [0.2, 0.5, 0.9])
    assert math.isnan(res.estimate) and math.isnan(res.ci_low) and "one class" in res.notes
    assert math.isnan(S.youden([0, 0, 0], [1.0, 2.0, 3.0])["cutoff"])
    perfect = S.roc_auc_delong([1, 1, 0, 0], [3.0, 4.0, 1.0, 2.0])
    assert perfect.estimate == 1.0 and math.isnan(perfect.ci_low) and "boundary" in perfect.notes
    with pytest.raises(InvalidInputError):
        S.roc_auc_delong([1, 2, 0], [0.1, 0.2, 0.3])


def test_bootstrap_cutoff_ci_reproducible_with_clusters():
    patients = np.repeat(np.arange(15), 2)
    y = np.repeat(ROC_Y, 2)
    score = np.repeat(ROC_S, 2) + np.tile([0.0, 0.05], 15)
    first = S.bootstrap_cutoff_ci(y, score, clusters=patients, n_boot=300, seed=1)
    assert first == S.bootstrap_cutoff_ci(y, score, clusters=patients, n_boot=300, seed=1)
    assert first.estimate == S.youden(y, score)["cutoff"]
    assert first.ci_low <= first.estimate <= first.ci_high
    assert "cluster bootstrap" in first.method and "15 patients" in first.notes


# --- multiplicity, mixed models ----------------------------------------------------------------------------


def test_benjamini_hochberg_known_answer_and_nan():
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.060, 0.074, 0.205, 0.212, 0.216]
    expected = [0.01, 0.04, 0.084, 0.084, 0.084, 0.1, 0.1057, 0.216, 0.216, 0.216]
    adjusted = S.benjamini_hochberg(p)
    assert all(close(a, e, 4) for a, e in zip(adjusted, expected, strict=True))
    assert list(np.flatnonzero(adjusted <= 0.05)) == [0, 1]
    with_nan = S.benjamini_hochberg([p[0], np.nan, *p[1:]])
    assert math.isnan(with_nan[1])
    np.testing.assert_allclose(np.delete(with_nan, 1), adjusted)
    np.testing.assert_allclose(adjusted, stats.false_discovery_control(p))


def simulated_lesions(seed: int = 7, n_patients: int = 30, effect: float = 0.4) -> pd.DataFrame:
    """log SUV of 3 lesions per patient at two visits: patient intercept + visit effect + noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for patient in range(n_patients):
        u = rng.normal(scale=0.5)
        for lesion in range(3):
            for visit, shift in (("base", 0.0), ("on", effect)):
                rows.append({"patient": f"P{patient:02d}", "lesion": lesion, "visit": visit,
                             "log_suv": 1.0 + u + shift + rng.normal(scale=0.2)})
    return pd.DataFrame(rows)


def test_mixed_model_recovers_fixed_effect():
    df = simulated_lesions()
    res = S.mixed_model(df, "log_suv ~ C(visit)", "patient", "C(visit)[T.on]")
    assert res.ci_low < 0.4 < res.ci_high
    assert res.estimate == pytest.approx(0.4, abs=0.06)
    assert res.p_value < 1e-10 and res.n == len(df) and "30 patients" in res.notes
    with pytest.raises(InvalidInputError):
        S.mixed_model(df, "log_suv ~ C(visit)", "patient", "visit_on")
    few = S.mixed_model(df[df["patient"] == "P00"], "log_suv ~ C(visit)", "patient", "C(visit)[T.on]")
    assert math.isnan(few.estimate) and "too few" in few.notes


def test_geometric_mean_ratio_mixed_model_and_fallback():
    rng = np.random.default_rng(4)
    patients = np.repeat(np.arange(20), 3)
    log_ratio = math.log(1.5) + rng.normal(scale=0.2, size=20)[patients] + rng.normal(scale=0.1, size=60)
    res = S.geometric_mean_ratio(log_ratio, patients)
    assert "mixed model" in res.method and res.ci_low < 1.5 < res.ci_high
    assert res.estimate == pytest.approx(1.5, rel=0.1)
    one_each = S.geometric_mean_ratio(log_ratio[::3], patients[::3])
    assert "one-sample t" in one_each.method and "one observation per patient" in one_each.notes
    ref = stats.ttest_1samp(log_ratio[::3], 0.0)
    assert one_each.p_value == pytest.approx(ref.pvalue)
    assert one_each.estimate == pytest.approx(math.exp(np.mean(log_ratio[::3])))
    single = S.geometric_mean_ratio([0.1, 0.2], ["a", "a"])
    assert math.isnan(single.ci_low) and "only 1 patient" in single.notes


def test_cox_complete_separation_gives_nan_with_a_note() -> None:
    from pipeline.stats.methods import cox_hr

    time = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0])
    event = np.array([1, 1, 1, 0, 0, 0])
    group = np.array([1, 1, 1, 0, 0, 0])
    result = cox_hr(time, event, group)
    assert np.isnan(result.estimate) and "separation" in result.notes
