"""Cohort figures: files, pixel sizes, SVG text, byte-identical reruns, sorting, colours, empty inputs."""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from pipeline.errors import InvalidInputError
from pipeline.stats import figures as F

SVG_NS = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Reference vectors of kinetics_recist_stats.md §3.3
IHC = [0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3]
SUV = [1.2, 2.0, 1.5, 3.1, 2.2, 2.9, 1.8, 3.5, 4.0, 3.9, 5.1, 4.4, 6.0, 6.5, 8.2, 5.9, 9.1, 7.4]
POS = [0, 5, 2, 10, 5, 15, 10, 20, 30, 30, 50, 40, 60, 70, 90, 60, 95, 80]
MP_TIME = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO_TIME = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
ROC_FPR = [0.0, 0.0, 0.0, 0.375, 0.375, 0.5, 0.5, 1.0]
ROC_TPR = [0.0, 0.142857, 0.714286, 0.714286, 0.857143, 0.857143, 1.0, 1.0]


def ihc_table() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_id": [f"S{i:02d}" for i in range(len(IHC))],
        "intensity": ["0" if i == 0 else f"{i}+" for i in IHC],
        "suv_max": SUV,
        "percent_positive": POS,
    })


def waterfall_table() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_id": ["a", "b", "c", "d", "e", "f", "g"],
        "pct_change": [-45.0, 10.0, -32.0, 25.0, -100.0, 3.0, 60.0],
        "response": ["PR", "SD", "PR", "PD", "CR", "SD", "iUPD"],
    })


def organ_table() -> pd.DataFrame:
    organs = ["liver", "spleen", "kidney", "bone marrow"]
    rows = []
    for s in range(3):
        for t, tp in enumerate(["baseline", "week2"]):
            for k, organ in enumerate(organs):
                rows.append({"subject_id": f"S{s}", "timepoint": tp, "organ": organ,
                             "suv_mean": 1.0 + k + 0.5 * t + 0.1 * s})
    return pd.DataFrame(rows)


def roc_input() -> list:
    return [("SUVmax", ROC_FPR, ROC_TPR, 0.875, (0.5565, 0.9750)),
            ("SUVpeak", [0.0, 0.25, 0.5, 1.0], [0.0, 0.6, 0.8, 1.0], 0.71, (0.45, 0.88))]


def km_input() -> dict:
    return {"6-MP": (MP_TIME, MP_EVENT), "Placebo": (PLACEBO_TIME, [1] * len(PLACEBO_TIME))}


# name -> (call(stem), figure-size key, texts expected in the SVG)
CASES: dict[str, tuple[Callable[[Path], F.FigurePaths], str, list[str]]] = {
    "scatter": (lambda stem: F.scatter_suv_vs_percent(ihc_table(), stem, title="SUV vs IHC",
                                                      annotation="ρ = 0.99 [0.96, 1.00], p < 0.001"),
                "scatter",
                ["Positive cells (%)", "SUVmax", "ρ = 0.99 [0.96, 1.00], p < 0.001", "SUV vs IHC", "n = 18"]),
    "box": (lambda stem: F.box_by_category(ihc_table(), stem, annotation="JT p < 0.001"),
            "box", ["0", "1+", "2+", "3+", "(n = 4)", "(n = 5)", "IHC intensity", "SUVmax", "JT p < 0.001"]),
    "waterfall": (lambda stem: F.waterfall(waterfall_table(), stem, label="subject_id"),
                  "waterfall", ["Change from baseline (%)", "Response", "CR (n = 1)", "PR (n = 2)", "SD (n = 2)",
                                "PD (n = 1)", "iUPD (n = 1)", "Reference (−30 %, +20 %)"]),
    "roc": (lambda stem: F.roc_curves(roc_input(), stem, cutoff_points=[("SUVmax", 0.0, 0.714286, "SUVmax ≥ 4.4")]),
            "roc", ["SUVmax: AUC 0.88 [0.56–0.97]", "SUVpeak: AUC 0.71 [0.45–0.88]", "AUC [95% CI]", "SUVmax ≥ 4.4",
                    "1 − specificity (false-positive rate)", "Sensitivity (true-positive rate)"]),
    "kaplan_meier": (lambda stem: F.kaplan_meier(km_input(), stem, time_unit="weeks",
                                                 annotation="log-rank p = 4.2e-05"),
                     "kaplan_meier", ["Time (weeks)", "Survival probability", "Number at risk", "log-rank p = 4.2e-05",
                                      "6-MP (n = 21, events = 9); median 23 [95% CI 13–NR]",
                                      "Placebo (n = 21, events = 21); median 8 [95% CI 4–11]"]),
    "biodistribution": (lambda stem: F.biodistribution(organ_table(), stem),
                        "biodistribution", ["liver", "spleen", "kidney", "bone marrow", "SUVmean (mean ± SD)",
                                            "Time point", "baseline (n = 12)", "week2 (n = 12)", "Organ"]),
}


def svg_texts(path: Path) -> list[str]:
    """Text of every SVG <text> element (svg.fonttype = none keeps text as text)."""
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()).strip() for el in root.iter(f"{SVG_NS}text")]


def check_png(path: Path, size_key: str) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 1024
    width_in, height_in = F.FIGURE_SIZES[size_key]
    image = imread(path)
    assert image.shape[:2] == (round(height_in * F.DPI), round(width_in * F.DPI))


@pytest.mark.parametrize("name", sorted(CASES))
def test_writes_png_and_svg_with_expected_content(name: str, tmp_path: Path) -> None:
    call, size_key, expected = CASES[name]
    paths = call(tmp_path / name)
    assert paths == F.FigurePaths(tmp_path / f"{name}.png", tmp_path / f"{name}.svg")
    check_png(paths.png, size_key)
    texts = svg_texts(paths.svg)
    for text in expected:
        assert text in texts, f"{text!r} not in {texts}"
    assert "not enough data" not in " ".join(texts)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{name}.png", f"{name}.svg"]  # no temporary files left


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_data_gives_byte_identical_files(name: str, tmp_path: Path) -> None:
    call = CASES[name][0]
    first = call(tmp_path / "a" / "fig")
    second = call(tmp_path / "b" / "fig")
    assert first.png.read_bytes() == second.png.read_bytes()
    assert first.svg.read_bytes() == second.svg.read_bytes()
    svg = first.svg.read_text(encoding="utf-8")
    assert "<dc:date>" not in svg
    assert b"Software" not in first.png.read_bytes()
    again = call(tmp_path / "a" / "fig")  # overwriting in place gives the same bytes
    assert again.svg.read_text(encoding="utf-8") == svg


def test_concurrent_threads_give_the_same_bytes_as_serial(tmp_path: Path) -> None:
    names = sorted(CASES)
    serial = {n: CASES[n][0](tmp_path / "serial" / n) for n in names}
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {n: pool.submit(CASES[n][0], tmp_path / "threads" / n) for n in names}
        threaded = {n: f.result() for n, f in futures.items()}
    for n in names:
        assert threaded[n].png.read_bytes() == serial[n].png.read_bytes()
        assert threaded[n].svg.read_bytes() == serial[n].svg.read_bytes()


def _bars(svg: Path) -> list[tuple[float, str]]:
    """(signed bar height in SVG units, fill colour) of each waterfall bar, left to right."""
    root = ET.parse(svg).getroot()
    groups = sorted((g for g in root.iter(f"{SVG_NS}g") if g.get("id", "").startswith("waterfall_bar_")),
                    key=lambda g: g.get("id"))
    bars = []
    for g in groups:
        path = g.find(f"{SVG_NS}path")
        ys = [float(v) for v in re.findall(r"[-\d.]+ ([-\d.]+)", path.get("d"))]
        fill = re.search(r"fill: (#[0-9a-f]{6})", path.get("style")).group(1)
        bars.append((ys[0] - ys[2], fill))  # first corner on the zero line, third at the value; SVG y points down
    return bars


def test_waterfall_bars_sorted_and_coloured_by_response(tmp_path: Path) -> None:
    table = waterfall_table()
    paths = F.waterfall(table, tmp_path / "wf", label="subject_id")
    bars = _bars(paths.svg)
    expected = table.sort_values("pct_change", ascending=False, kind="stable")
    assert len(bars) == len(table)
    heights = np.array([h for h, _ in bars])
    assert np.all(np.diff(heights) < 0)  # largest increase on the left
    scale = heights[0] / expected["pct_change"].iloc[0]
    np.testing.assert_allclose(heights, scale * expected["pct_change"].to_numpy(), rtol=1e-4, atol=1e-3)
    assert [fill for _, fill in bars] == [F.RESPONSE_COLOURS[r].lower() for r in expected["response"]]
    labels = [t for t in svg_texts(paths.svg) if t in set(table["subject_id"])]
    assert labels == list(expected["subject_id"])  # tick labels follow the bars


def test_waterfall_drops_missing_values_and_keeps_ties_in_input_order(tmp_path: Path) -> None:
    table = pd.DataFrame({"pct_change": [5.0, np.nan, 5.0, -10.0], "response": ["SD", "NE", "pd", ""],
                          "subject_id": ["x", "y", "z", "w"]})
    paths = F.waterfall(table, tmp_path / "wf", label="subject_id")
    bars = _bars(paths.svg)
    assert len(bars) == 3
    assert [t for t in svg_texts(paths.svg) if t in {"x", "y", "z", "w"}] == ["x", "z", "w"]
    assert [fill for _, fill in bars] == ["#f0e442", "#d55e00", F.MISSING_COLOUR.lower()]
    texts = svg_texts(paths.svg)
    assert "missing (n = 1)" in texts and "PD (n = 1)" in texts  # canonical spelling in the legend


def test_response_colours_are_fixed() -> None:
    okabe_ito = {c.lower() for c in F.OKABE_ITO.values()}
    expected = {"CR": "#0072B2", "PR": "#56B4E9", "SD": "#F0E442", "Non-CR/Non-PD": "#009E73", "PD": "#D55E00",
                "NE": "#999999", "iUPD": "#CC79A7"}
    for category, colour in expected.items():
        assert F.RESPONSE_COLOURS[category] == colour
    for recist, irecist, percist in (("CR", "iCR", "CMR"), ("PR", "iPR", "PMR"), ("SD", "iSD", "SMD"),
                                     ("PD", "iCPD", "PMD")):
        assert F.RESPONSE_COLOURS[recist] == F.RESPONSE_COLOURS[irecist] == F.RESPONSE_COLOURS[percist]
    assert F.RESPONSE_COLOURS["Non-iCR/Non-iUPD"] == F.RESPONSE_COLOURS["Non-CR/Non-PD"]
    assert all(c.lower() in okabe_ito | {"#999999"} for c in F.RESPONSE_COLOURS.values())
    distinct = {F.RESPONSE_COLOURS[c] for c in ("CR", "PR", "SD", "Non-CR/Non-PD", "PD", "NE", "iUPD")}
    assert len(distinct) == 7
    assert F.response_colour(" pmr ") == "#56B4E9"
    assert F.response_colour("non-icr/non-iupd") == "#009E73"
    assert F.response_colour(None) == F.response_colour("") == F.MISSING_COLOUR
    with pytest.raises(InvalidInputError, match="unknown response category 'MR'"):
        F.response_colour("MR")


def test_scatter_hue_uses_response_colours(tmp_path: Path) -> None:
    table = ihc_table().assign(response=["CR", "PR", "SD", "PD", "SMD", "PMD"] * 3)
    paths = F.scatter_suv_vs_percent(table, tmp_path / "sc", hue="response")
    svg = paths.svg.read_text(encoding="utf-8")
    for category in ("CR", "PR", "SD", "PD"):
        assert f"fill: {F.RESPONSE_COLOURS[category].lower()}" in svg
    texts = svg_texts(paths.svg)
    assert "CR (n = 3)" in texts and "SMD (n = 3)" in texts and "PMD (n = 3)" in texts
    assert texts.index("CR (n = 3)") < texts.index("PD (n = 3)") < texts.index("SMD (n = 3)")


def test_box_numeric_categories_unlisted_and_empty_levels(tmp_path: Path) -> None:
    table = pd.DataFrame({"intensity": [0, 0, 1.0, 1.0, 3, "weak", np.nan], "suv_max": [1, 2, 3, 4, 5, 6, np.nan]})
    paths = F.box_by_category(table, tmp_path / "box", order=("0", "1", "2", "3"))
    texts = svg_texts(paths.svg)
    ticks = [t for t in texts if t in {"0", "1", "2", "3", "weak"}]
    assert ticks[:5] == ["0", "1", "2", "3", "weak"]  # given order, then unlisted levels
    assert texts.count("(n = 2)") == 2 and texts.count("(n = 0)") == 1 and texts.count("(n = 1)") == 2


def test_box_jitter_is_seeded(tmp_path: Path) -> None:
    a = F.box_by_category(ihc_table(), tmp_path / "a", seed=1)
    b = F.box_by_category(ihc_table(), tmp_path / "b", seed=1)
    c = F.box_by_category(ihc_table(), tmp_path / "c", seed=2)
    assert a.svg.read_bytes() == b.svg.read_bytes()
    assert a.svg.read_bytes() != c.svg.read_bytes()


EMPTY_CASES: dict[str, tuple[Callable[[Path], F.FigurePaths], str, int]] = {
    "scatter_empty": (lambda s: F.scatter_suv_vs_percent(pd.DataFrame(), s), "scatter", 0),
    "scatter_one": (lambda s: F.scatter_suv_vs_percent(ihc_table().iloc[:1], s), "scatter", 1),
    "scatter_nan": (lambda s: F.scatter_suv_vs_percent(pd.DataFrame({"percent_positive": [1.0, np.nan],
                                                                     "suv_max": [np.nan, 2.0]}), s), "scatter", 0),
    "box_empty": (lambda s: F.box_by_category(pd.DataFrame(columns=["intensity", "suv_max"]), s), "box", 0),
    "waterfall_empty": (lambda s: F.waterfall(pd.DataFrame(), s), "waterfall", 0),
    "roc_empty": (lambda s: F.roc_curves([], s), "roc", 0),
    "roc_one_point": (lambda s: F.roc_curves([("x", [0.5], [0.5], None, None)], s), "roc", 0),
    "km_empty": (lambda s: F.kaplan_meier({}, s), "kaplan_meier", 0),
    "km_one": (lambda s: F.kaplan_meier({"a": ([3.0], [1]), "b": ([], [])}, s), "kaplan_meier", 1),
    "biodistribution_empty": (lambda s: F.biodistribution(None, s), "biodistribution", 0),
}


@pytest.mark.parametrize("name", sorted(EMPTY_CASES))
def test_empty_or_too_small_data_gives_not_enough_data_figure(name: str, tmp_path: Path) -> None:
    call, size_key, n = EMPTY_CASES[name]
    paths = call(tmp_path / name)
    check_png(paths.png, size_key)
    assert f"not enough data (n = {n})" in svg_texts(paths.svg)
    assert paths.svg.read_bytes() == call(tmp_path / "again").svg.read_bytes()


def test_roc_with_one_unusable_curve_says_so_in_the_legend(tmp_path: Path) -> None:
    paths = F.roc_curves([*roc_input(), ("SUVmean", [0.0], [0.0], None, None)], tmp_path / "roc")
    texts = svg_texts(paths.svg)
    assert "SUVmean: not enough data (n = 1)" in texts
    assert "SUVmax: AUC 0.88 [0.56–0.97]" in texts


def test_km_estimate_known_answers() -> None:
    mp = F.km_estimate(MP_TIME, MP_EVENT)
    placebo = F.km_estimate(PLACEBO_TIME, [1] * 21)

    def survival_at(table: pd.DataFrame, t: float) -> float:
        return float(table.loc[table["time"] <= t, "survival"].iloc[-1])

    assert survival_at(mp, 10) == pytest.approx(0.7529, abs=5e-5)
    assert survival_at(placebo, 10) == pytest.approx(0.3810, abs=5e-5)
    assert float(mp.loc[mp["survival"] <= 0.5, "time"].iloc[0]) == 23.0  # medians 23 vs 8 weeks
    assert float(placebo.loc[placebo["survival"] <= 0.5, "time"].iloc[0]) == 8.0
    assert mp["n_at_risk"].iloc[0] == 21 and mp["n_events"].iloc[0] == 3 and mp["n_censored"].iloc[0] == 1
    assert int(mp["n_events"].sum()) == 9 and int(mp["n_censored"].sum()) == 12
    np.testing.assert_array_equal(F.number_at_risk(MP_TIME, [0, 10, 20, 30]), [21, 15, 8, 4])
    np.testing.assert_array_equal(F.number_at_risk(PLACEBO_TIME, [0, 10, 20, 30]), [21, 8, 2, 0])


def test_km_medians_are_lifelines_on_the_freireich_data(tmp_path: Path) -> None:
    """Medians 23 (6-MP) and 8 (placebo) weeks (kinetics_recist_stats.md §3.3), equal to lifelines'
    ``median_survival_time_``, with the log(-log) CI, in the table and in the figure's legend; the band is drawn."""
    from lifelines import KaplanMeierFitter

    table = F.km_medians(km_input())
    assert table["group"].tolist() == ["6-MP", "Placebo"]
    assert table["median"].tolist() == [23.0, 8.0]
    for (time, event), median in zip(km_input().values(), table["median"], strict=True):
        assert median == KaplanMeierFitter().fit(time, event).median_survival_time_
    assert table.loc[0, "ci_low"] == 13.0 and np.isinf(table.loc[0, "ci_high"])  # upper limit not reached
    assert (table.loc[1, "ci_low"], table.loc[1, "ci_high"]) == (4.0, 11.0)
    assert table[["n", "events"]].to_numpy().tolist() == [[21, 9], [21, 21]]
    paths = F.kaplan_meier(km_input(), tmp_path / "km")
    texts = svg_texts(paths.svg)
    assert "6-MP (n = 21, events = 9); median 23 [95% CI 13–NR]" in texts
    assert "Placebo (n = 21, events = 21); median 8 [95% CI 4–11]" in texts
    svg = paths.svg.read_text("utf-8")
    assert 'id="km_band_0"' in svg and 'id="km_band_1"' in svg
    assert "[90% CI" in " ".join(svg_texts(F.kaplan_meier(km_input(), tmp_path / "km90", alpha=0.10).svg))


def test_km_estimate_band_is_lifelines() -> None:
    from lifelines import KaplanMeierFitter

    kmf = KaplanMeierFitter().fit(MP_TIME, MP_EVENT)
    table = F.km_estimate(MP_TIME, MP_EVENT)
    band = kmf.confidence_interval_survival_function_.loc[table["time"]]
    np.testing.assert_allclose(table["ci_low"], band.iloc[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(table["ci_high"], band.iloc[:, 1], rtol=0, atol=1e-12)
    assert table.loc[table["time"] == 10, "ci_low"].item() == pytest.approx(0.5032, abs=5e-5)
    assert F.km_estimate([], []).empty
    with pytest.raises(InvalidInputError, match="alpha"):
        F.km_estimate(MP_TIME, MP_EVENT, alpha=1.5)


def test_km_number_at_risk_row_in_svg(tmp_path: Path) -> None:
    paths = F.kaplan_meier(km_input(), tmp_path / "km", at_risk_times=[0, 10, 20, 30])
    texts = svg_texts(paths.svg)
    end = texts.index("Number at risk")  # the table title is drawn after the counts
    assert texts[end - 10: end] == ["Placebo", "6-MP", "21", "15", "8", "4", "21", "8", "2", "0"]
    assert "Time (months)" in texts


def test_biodistribution_single_value_has_no_sd_and_no_warning(tmp_path: Path) -> None:
    table = pd.DataFrame({"organ": ["liver", "liver", "spleen"], "timepoint": ["d1", "d1", "d4"],
                          "suv_mean": [2.0, 4.0, 6.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = F.biodistribution(table, tmp_path / "bio", group_order=["d4", "d1"])
    texts = svg_texts(paths.svg)
    assert texts.index("d4 (n = 1)") < texts.index("d1 (n = 2)")
    check_png(paths.png, "biodistribution")


def test_stem_with_dots_keeps_its_name(tmp_path: Path) -> None:
    paths = F.waterfall(waterfall_table(), tmp_path / "cohort.v1")
    assert paths.png.name == "cohort.v1.png" and paths.svg.name == "cohort.v1.svg"
    assert paths.png.is_file() and paths.svg.is_file()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: F.scatter_suv_vs_percent(ihc_table(), s, y="suv_peak"), "column\\(s\\) 'suv_peak' missing"),
        (lambda s: F.box_by_category(ihc_table().assign(suv_max="high"), s), "non-numeric value 'high'"),
        (lambda s: F.waterfall(pd.DataFrame({"pct_change": [np.inf, 1.0], "response": ["PD", "SD"]}), s),
         "infinite value"),
        (lambda s: F.roc_curves([("x", [0, 50, 100], [0, 80, 100], 0.8, None)], s), "rates outside \\[0, 1\\]"),
        (lambda s: F.roc_curves([("x", [0, 0.5, 1], [0, 1], 0.8, None)], s), "fpr has 3 values, tpr 2"),
        (lambda s: F.roc_curves(roc_input(), s, cutoff_points=[("SUVmean", 0.1, 0.8, "x")]), "names curve 'SUVmean'"),
        (lambda s: F.kaplan_meier({"a": ([1, -2], [1, 0])}, s), "negative time"),
        (lambda s: F.kaplan_meier({"a": ([1, 2], [1, 2])}, s), "event flags other than 0/1"),
        (lambda s: F.kaplan_meier({"a": ([1, 2, 3], [1, 0])}, s), "3 times but 2 event flags"),
        (lambda s: F.kaplan_meier({"a": ([1, np.nan], [1, 0])}, s), "missing time or event flag"),
    ],
)
def test_invalid_input_raises(call: Callable[[Path], F.FigurePaths], message: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=message):
        call(tmp_path / "fig")
    assert list(tmp_path.iterdir()) == []  # nothing written, no temporary file left


# --------------------------------------------------------------------------------------------- forest, time course


def stats_rows() -> pd.DataFrame:
    """Rows of stats.csv: a ratio, a hazard ratio, a correlation, two proportions of one analysis, rows without CI."""
    rows = [
        ("treatment_change", "paired_log_ratio", "suv_max", "tumour:lesions", 0.886, 0.627, 1.25, 0.495,
         "paired log ratios"),
        ("treatment_change", "wilcoxon_paired", "suv_mean", "organ=liver", 1.02, 0.97, 1.08, 0.31,
         "Wilcoxon signed-rank test; estimate = Hodges-Lehmann ratio after/before"),
        ("treatment_change", "wilcoxon_paired", "suv_mean", "organ=spleen", -1.5, -3.0, 0.4, 0.2,
         "Wilcoxon signed-rank test; estimate = median % change"),
        ("survival", "cox_hr_continuous", "suv_max", "outcome=os", 1.99, 0.775, 5.13, 0.153, "Cox"),
        ("survival", "logrank", "suv_max", "outcome=os", np.nan, np.nan, np.nan, 0.04, "log-rank test"),
        ("suv_vs_ihc", "spearman_percent_positive", "suv_max", "pooled", 0.657, -0.43, 0.966, 0.156, "Spearman rho"),
        ("suv_vs_ihc", "kruskal_wallis_intensity", "suv_max", "pooled", 0.63, np.nan, np.nan, 0.01, "Kruskal-Wallis"),
        ("diagnostic", "sensitivity", "suv_max", "lesion", 0.9, 0.6, 0.98, np.nan, "sensitivity, Wilson score CI"),
        ("diagnostic", "sensitivity", "suv_max", "lesion", 0.9, 0.55, 0.99, np.nan,
         "sensitivity, Clopper-Pearson exact CI"),
        ("route", "geometric_mean_ratio", "suv_max", "lesion", -0.2, -0.5, 0.1, np.nan, "paired log ratios"),
    ]
    return pd.DataFrame(rows, columns=["endpoint", "analysis", "variable", "level", "estimate", "ci_low", "ci_high",
                                       "p_value", "method"])


@pytest.mark.parametrize(
    ("analysis", "method", "kind", "log", "reference"),
    [
        ("paired_log_ratio", "", "ratio", True, 1.0),
        ("geometric_mean_ratio", "", "ratio", True, 1.0),
        ("nested_visit_ratio", "", "ratio", True, 1.0),
        ("cox_hr_group", "", "hazard_ratio", True, 1.0),
        ("wilcoxon_paired", "estimate = Hodges-Lehmann ratio after/before", "ratio", True, 1.0),
        ("wilcoxon_paired", "estimate = median % change [IQR]", "difference", False, 0.0),
        ("mann_whitney", "Hodges-Lehmann shift", "difference", False, 0.0),
        ("spearman_percent_positive", "", "correlation", False, 0.0),
        ("roc_auc", "", "auc", False, 0.5),
        ("npv", "", "proportion", False, None),
        ("roc_auc_difference", "difference of paired AUCs", "difference", False, 0.0),
        ("bland_altman_bias", "Bland-Altman on log values: bias as a ratio second/first", "ratio", True, 1.0),
        ("mixed_trend_intensity", "uptake ratio per score step", "ratio", True, 1.0),
        ("km_median", "Kaplan-Meier median, log(-log) Greenwood CI", "time", False, None),
        ("repeatability_wcv_pct", "within-subject CV", "percent", False, None),
        ("some_new_analysis", "Cox proportional hazards", "hazard_ratio", True, 1.0),
        ("some_new_analysis", "linear mixed model slope", "difference", False, 0.0),
    ],
)
def test_effect_scale_mapping(analysis: str, method: str, kind: str, log: bool, reference: float | None) -> None:
    scale = F.effect_scale(analysis, method)
    assert (scale.kind, scale.log, scale.reference) == (kind, log, reference)


def test_forest_table_skips_rows_without_a_finite_ci() -> None:
    drawn, skipped = F.forest_table(stats_rows())
    assert drawn["scale"].tolist() == ["ratio", "ratio", "difference", "hazard_ratio", "correlation", "proportion",
                                       "proportion"]
    assert dict(zip(skipped["analysis"], skipped["reason"], strict=True)) == {
        "logrank": "no estimate", "kruskal_wallis_intensity": "no finite CI",
        "geometric_mean_ratio": "value ≤ 0 on a ratio scale"}
    # two rows of one analysis are told apart by their CI method
    assert drawn["label"].tolist()[-2:] == ["sensitivity · suv_max · lesion (Wilson score CI)",
                                            "sensitivity · suv_max · lesion (Clopper-Pearson exact CI)"]
    with pytest.raises(InvalidInputError, match="'ci_high' missing"):
        F.forest_table(stats_rows().drop(columns="ci_high"))
    with pytest.raises(InvalidInputError, match="non-numeric value 'big'"):
        F.forest_table(stats_rows().astype({"estimate": object}).assign(estimate="big"))


def test_forest_panels_per_endpoint_and_scale(tmp_path: Path) -> None:
    paths = F.forest(stats_rows(), tmp_path / "forest")
    texts = svg_texts(paths.svg)
    titles = [t for t in texts if " — " in t]
    assert titles == ["treatment_change — ratio", "treatment_change — difference", "survival — hazard ratio",
                      "suv_vs_ihc — correlation", "diagnostic — proportion"]
    assert "0.886 [0.627, 1.25]  p = 0.495" in texts
    assert "1.99 [0.775, 5.13]  p = 0.153" in texts
    assert "paired_log_ratio · suv_max · tumour:lesions" in texts
    assert "Ratio (log scale)" in texts and "Hazard ratio (log scale)" in texts
    assert "1" in texts  # the reference of the log axes is a labelled tick
    svg = paths.svg.read_text("utf-8")
    # reference lines on the ratio (1), difference (0), HR (1) and correlation (0) panels; none for proportions
    assert [f'id="forest_reference_{i}"' in svg for i in range(5)] == [True, True, True, True, False]
    assert 'id="forest_point_0_1"' in svg and 'id="forest_point_0_2"' not in svg
    assert "logrank" not in " ".join(texts)
    data = paths.png.read_bytes()
    assert data[:8] == PNG_SIGNATURE and imread(paths.png).shape[1] == round(8.0 * F.DPI)
    assert F.forest(stats_rows(), tmp_path / "again").png.read_bytes() == data
    empty = F.forest(stats_rows().iloc[[4, 6]], tmp_path / "none")
    assert "not enough data (n = 0)" in svg_texts(empty.svg)


def spider_table() -> pd.DataFrame:
    rows = []
    for subject, lesions, change in (("P01", 2, -40.0), ("P02", 3, 25.0)):
        for k in range(lesions):
            for day, factor in ((0, 0.0), (14, 1.0), (42, 1.5)):
                rows.append({"subject_id": subject, "lesion_id": f"lesion_{k + 1:02d}", "day": day,
                             "pct_change": factor * (change + k)})
    return pd.DataFrame(rows)


def test_spider_one_line_per_lesion(tmp_path: Path) -> None:
    paths = F.spider(spider_table(), tmp_path / "spider")
    texts = svg_texts(paths.svg)
    assert {"P01 (2)", "P02 (3)", "Reference (−30 %, +30 %)", "Days from baseline", "Change from baseline (%)",
            "Patient (lesions)"} <= set(texts)
    svg = paths.svg.read_text("utf-8")
    assert [f'id="spider_line_{k:03d}"' in svg for k in range(6)] == [True] * 5 + [False]
    check_png(paths.png, "spider")
    visits = F.spider(spider_table().assign(day=lambda d: d["day"].map({0: 0, 14: 1, 42: 2})), tmp_path / "v",
                      time_ticks={0: "baseline", 1: "week 2", 2: "week 6"}, time_label="Visit")
    assert {"baseline", "week 2", "week 6", "Visit"} <= set(svg_texts(visits.svg))
    assert "not enough data (n = 0)" in svg_texts(F.spider(pd.DataFrame(), tmp_path / "empty").svg)
    with pytest.raises(InvalidInputError, match="non-numeric value 'x'"):
        F.spider(spider_table().astype({"pct_change": object}).assign(pct_change="x"), tmp_path / "bad")


def test_swimmer_bars_markers_and_ongoing_arrows(tmp_path: Path) -> None:
    table = pd.DataFrame({
        "subject_id": ["A", "A", "B", "B", "B", "C", "C"],
        "day": [0, 40, 0, 30, 90, 0, 60],
        "overall_response": [None, "PR", None, "SD", "PD", None, "CR"],
        "irecist_response": [None, "iPR", None, "iSD", "iUPD", None, "iCR"],
        "arm": ["x", "x", "y", "y", "y", "x", "x"],
        "ongoing": [True, True, False, False, False, True, True],
    })
    paths = F.swimmer(table, tmp_path / "swim", responses={"overall_response": "RECIST 1.1",
                                                           "irecist_response": "iRECIST"})
    texts = svg_texts(paths.svg)
    ticks = [t for t in texts if t in ("A", "B", "C")]
    assert ticks == ["B", "C", "A"]  # longest bar on top: B (90 days), C (60), A (40)
    assert {"CR / iCR", "PR / iPR", "SD / iSD", "PD", "iUPD", "RECIST 1.1", "iRECIST", "Arm x", "Arm y",
            "Ongoing (no progression)", "Days from baseline", "Patient"} <= set(texts)
    svg = paths.svg.read_text("utf-8")
    assert [f'id="swimmer_bar_{i:03d}"' in svg for i in range(4)] == [True, True, True, False]
    assert [f'id="swimmer_ongoing_{i:03d}"' in svg for i in range(3)] == [False, True, True]  # B progressed
    assert imread(paths.png).shape[1] == round(8.0 * F.DPI)
    assert "not enough data (n = 0)" in svg_texts(F.swimmer(pd.DataFrame(), tmp_path / "empty").svg)


def test_time_course_panels(tmp_path: Path) -> None:
    table = pd.DataFrame({
        "name": ["lesion_01", "lesion_01", "liver", "liver", "lesion_02"],
        "group": ["Lesions", "Lesions", "Organs", "Organs", "Lesions"],
        "day": [0.0, 15.0, 0.0, 15.0, 15.0],
        "suv_max": [5.0, 3.0, 4.0, 4.1, 2.0],
        "suv_mean": [3.0, 2.0, 2.1, 2.2, 1.0],
    })
    paths = F.time_course(table, tmp_path / "tc", panel="group", panel_order=["Organs", "Lesions"],
                          panel_values={"Organs": "suv_mean"})
    texts = svg_texts(paths.svg)
    assert texts.index("Organs") < texts.index("Lesions")
    assert {"lesion_01", "lesion_02", "liver", "SUVmax", "SUVmean", "Days from baseline"} <= set(texts)
    svg = paths.svg.read_text("utf-8")
    assert 'id="time_course_panel_0"' in svg and 'id="time_course_panel_1"' in svg
    assert 'id="time_course_1_001"' in svg and 'id="time_course_1_002"' not in svg


def test_png_only_skips_the_svg(tmp_path: Path) -> None:
    with F.png_only():
        paths = F.forest(stats_rows(), tmp_path / "forest")
    assert paths.png.is_file() and not paths.svg.exists()
    assert F.forest(stats_rows(), tmp_path / "again").svg.is_file()  # outside the block both again
    assert paths.png.read_bytes() == (tmp_path / "again.png").read_bytes()
