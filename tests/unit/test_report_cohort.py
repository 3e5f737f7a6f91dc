"""Cohort report: every stats estimate reaches the HTML exactly (the appendix holds the full table, the estimates
section a compact one and a forest plot per endpoint), the swimmer and spider plots are drawn from the cohort
tables, figures are embedded, the PDF renders, missing inputs say "not available", and no identifier outside the
sample sheet leaks into the report."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.config import config_hash
from pipeline.report.cohort import build_cohort_report, write_cohort_report
from pipeline.stats.endpoints import STATS_COLUMNS

SUBJECTS = ["S01", "S02", "S03"]
TIMEPOINTS = ["baseline", "on_treatment"]
FAKE_PHI = ["DOE^JOHN", "MUSTERMANN^ERIKA", "1234567890", "1970-01-01-PHI", "1.2.826.0.1.999.424242"]
CONFIG = {"analyses": {"suv_vs_ihc": {"enabled": True}}, "samples": "samples.tsv"}
FIGURES = ["biodistribution", "waterfall_sulpeak", "kaplan_meier_os"]
#: The figures the report draws itself: a forest plot per endpoint with a finite CI, the swimmer and spider plots.
DRAWN = ["swimmer", "spider", "forest-suv_vs_ihc", "forest-treatment_change", "forest-survival"]
RATIO_ANALYSES = {"mixed_model_log_ratio", "cox_hr_continuous"}
SPIDER_CHANGE = {("S01", "lesion_01"): -50.0, ("S01", "lesion_02"): -35.0, ("S02", "lesion_01"): 40.0,
                 ("S02", "lesion_02"): 25.0, ("S03", "lesion_01"): 5.0, ("S03", "lesion_02"): -10.0}
DATES = {"S01": "2025-02-03", "S02": "2025-02-10", "S03": "2025-02-17"}  # follow-up: days 28, 35, 42


class _Values(HTMLParser):
    """Collect (data-column, data-value) pairs and the data:image/png sources."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.images: list[str] = []
        self.figures: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-column" in a and "data-value" in a:
            self.values.setdefault(a["data-column"], []).append(a["data-value"])
        if tag == "img" and (a.get("src") or "").startswith("data:image/png;base64,"):
            self.images.append(a["src"])
        if tag == "figure" and a.get("id"):
            self.figures.append(a["id"])


def _parse(html: str) -> _Values:
    p = _Values()
    p.feed(html)
    return p


def _stats() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for endpoint, analyses in {"suv_vs_ihc": ["spearman_percent_positive", "kruskal_wallis_intensity"],
                               "treatment_change": ["wilcoxon_paired", "mixed_model_log_ratio"],
                               "survival": ["logrank", "cox_hr_continuous"]}.items():
        for analysis in analyses:
            est = float(rng.normal()) * 10 ** int(rng.integers(-4, 3))
            low, high = est - 0.123456789, est + 0.987654321
            if analysis in RATIO_ANALYSES:  # ratios are positive (log axis of the forest plot)
                est = 0.5 + abs(est)
                low, high = est * 0.712345678, est * 1.41234567
            rows.append({"endpoint": endpoint, "analysis": analysis, "variable": "suv_max", "level": "patient",
                         "estimand": f"estimand of {analysis}", "n_subjects": 3, "n_lesions": 5.0, "estimate": est,
                         "ci_low": low, "ci_high": high, "statistic": float(rng.normal()),
                         "p_value": float(rng.uniform(1e-5, 1)), "p_adjusted": float(rng.uniform(0, 1)),
                         "method": f"method of {analysis}", "notes": "synthetic"})
    rows.append({**rows[0], "analysis": "too_small", "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                 "p_value": np.nan, "p_adjusted": np.nan, "notes": "too few pairs (n=2, need >= 3)"})
    return pd.DataFrame(rows, columns=STATS_COLUMNS)


def _png(path: Path, title: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5), dpi=50)
    FigureCanvasAgg(fig)
    fig.add_subplot().plot([0, 1], [1, 0])
    fig.suptitle(title)
    fig.savefig(path, format="png")


@pytest.fixture()
def cohort(tmp_path: Path) -> tuple[Path, Path]:
    results = tmp_path / "results"
    folder = results / "cohort"
    (folder / "figures").mkdir(parents=True)
    sheet = pd.DataFrame([{"subject_id": s, "timepoint": t, "tracer": "[68Ga]Ga-DOTATATE", "nuclide": "Ga68",
                           "dicom": f"dicom/{s}/{t}", "study_uid": FAKE_PHI[4], "arm": "A" if i % 2 else "B",
                           "route": "iv"} for i, s in enumerate(SUBJECTS) for t in TIMEPOINTS])
    samples = tmp_path / "samples.tsv"
    sheet.to_csv(samples, sep="\t", index=False)

    # uptake: two lesions per scan plus organs, with DICOM-like identifying columns that must never be read;
    # tumour SUVmax changes by SPIDER_CHANGE % from baseline
    rows = []
    for s in SUBJECTS:
        for t in TIMEPOINTS:
            for name, kind in [("liver", "reference"), ("spleen", "organ"), ("lesion_01", "tumour"),
                               ("lesion_02", "tumour")]:
                change = SPIDER_CHANGE[(s, name)] if kind == "tumour" and t != TIMEPOINTS[0] else 0.0
                rows.append({"subject_id": s, "timepoint": t, "name": name, "kind": kind,
                             "lesion_id": name if kind == "tumour" else None, "organ": name,
                             "suv_max": 4.0 * (1 + change / 100), "patient_name": FAKE_PHI[0],
                             "patient_id": FAKE_PHI[2], "patient_birth_date": FAKE_PHI[3]})
    pd.DataFrame(rows).to_parquet(folder / "uptake.parquet", index=False)
    # deltas: patient rows carry the PERCIST class
    deltas = pd.DataFrame([{"subject_id": s, "arm": "A", "timepoint": "on_treatment", "level": "patient",
                            "name": "patient", "metric": "hottest_lesion_sul_peak", "pct_change": pct,
                            "abs_change": pct / 10, "percist": cls, "eortc": cls, "comparable": True,
                            "notes": FAKE_PHI[1]}
                           for s, pct, cls in zip(SUBJECTS, [-55.0, 42.0, -5.0], ["PMR", "PMD", "SMD"], strict=True)])
    deltas.to_parquet(folder / "deltas.parquet", index=False)
    pd.DataFrame({"subject_id": SUBJECTS, "bor": ["PR", "PD", "SD"], "ibor": ["iPR", "iUPD", "iSD"],
                  "confirmed": [False] * 3, "patient_name": [FAKE_PHI[1]] * 3}).to_csv(folder / "response_bor.csv",
                                                                                    index=False)
    # RECIST time-point responses with dates: S02 progresses (PD), S01 and S03 are ongoing
    pd.DataFrame([{"subject_id": s, "timepoint": t, "assessment_date": date, "overall_response": recist,
                   "irecist_response": irecist, "progression_date": "2025-02-10" if recist == "PD" else "",
                   "patient_name": FAKE_PHI[0]}
                  for s, (recist, irecist) in zip(SUBJECTS, [("PR", "iPR"), ("PD", "iUPD"), ("SD", "iSD")], strict=True)
                  for t, date, recist, irecist in [(TIMEPOINTS[0], "2025-01-06", "", ""),
                                                   (TIMEPOINTS[1], DATES[s], recist, irecist)]]
                 ).to_csv(folder / "response.csv", index=False)
    pd.DataFrame([{"organ": o, "timepoint": t, "variable": "suv_mean", "n": 3, "mean": 2.5, "sd": 0.25,
                   "median": 2.4, "min": 2.0, "max": 3.1} for o in ("liver", "spleen") for t in TIMEPOINTS]
                 ).to_csv(folder / "biodistribution.csv", index=False)
    _stats().to_csv(folder / "stats.csv", index=False)
    for stem in FIGURES:
        _png(folder / "figures" / f"{stem}.png", stem)
    (folder / "figures" / "ignored.svg").write_text("<svg/>")
    # an unrelated DICOM-derived table full of identifiers: the report must not read it
    (results / "index").mkdir()
    pd.DataFrame({"subject_id": ["S01"], "PatientName": [FAKE_PHI[0]], "PatientID": [FAKE_PHI[2]],
                  "StudyInstanceUID": [FAKE_PHI[4]]}).to_csv(results / "index" / "series.csv", index=False)
    return results, samples


def test_estimates_figures_and_pdf(cohort: tuple[Path, Path], tmp_path: Path) -> None:
    results, samples = cohort
    t0 = time.perf_counter()
    html, context = build_cohort_report(results_dir=results, samples=samples, config=CONFIG)
    t_html = time.perf_counter() - t0
    parsed = _parse(html)

    stats = pd.read_csv(results / "cohort" / "stats.csv")
    order = {e: i for i, e in enumerate(dict.fromkeys(stats["endpoint"]))}  # the report groups rows by endpoint
    stats = stats.sort_values("endpoint", key=lambda e: e.map(order), kind="stable")
    appendix = _parse(html.split('<section id="appendix"', 1)[1])
    # the appendix holds every row (exact values); the compact table of the estimates section every row too
    for column in ("estimate", "ci_low", "ci_high", "statistic", "p_value", "p_adjusted"):
        assert parsed.values[column] == appendix.values[column]
        _same(appendix.values[column], stats[column])
    for column in ("estimate", "ci_low", "ci_high", "p_value", "p_adjusted"):
        _same(parsed.values[f"summary:{column}"], stats[column], skip_missing_ci=column.startswith("ci"))
    # biodistribution numbers carry their exact value too
    assert [float(v) for v in parsed.values["median"]] == pytest.approx([2.4] * 4, abs=1e-12)
    # lesion counts per timepoint from uptake (2 tumours per scan)
    assert [float(v) for v in parsed.values["lesions:baseline"]] == [2.0, 2.0, 2.0]

    # every PNG of the stats stage embedded exactly once (SVGs ignored), and the figures the report draws
    assert context["n_figures"] == len(FIGURES)
    assert len(parsed.images) == len(FIGURES) + len(DRAWN)
    assert html.count("data:image/png;base64,") == len(FIGURES) + len(DRAWN)
    assert [f for f in parsed.figures if f in DRAWN] == DRAWN  # in page order: response over time, then estimates
    # response summary: BOR and PERCIST counts
    assert {c["category"]: c["n"] for c in context["response"]["percist"]} == {"PMR": 1, "SMD": 1, "PMD": 1}
    assert {c["category"]: c["n"] for c in context["response"]["bor"]} == {"PR": 1, "SD": 1, "PD": 1}
    assert [g["endpoint"] for g in context["stats"]] == ["suv_vs_ihc", "treatment_change", "survival"]
    # footer
    assert config_hash(CONFIG) in html
    assert "not available" not in html

    t0 = time.perf_counter()
    html_path, pdf_path = write_cohort_report(results_dir=results, samples=samples, config=CONFIG,
                                              output_html=tmp_path / "out" / "cohort.html")
    t_pdf = time.perf_counter() - t0
    print(f"cohort report: HTML build {t_html:.2f} s, HTML+PDF write {t_pdf:.2f} s")
    assert html_path.read_text(encoding="utf-8").count("data:image/png;base64,") == len(FIGURES) + len(DRAWN)
    assert pdf_path == tmp_path / "out" / "cohort.pdf"
    pdf = pdf_path.read_bytes()
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    text = subprocess.run(["pdftotext", "-layout", str(pdf_path), "-"], check=True, capture_output=True,
                          text=True).stdout
    n_pages = text.count("\f")
    assert n_pages >= 1
    assert "treatment_change" in text
    assert "S02" in text
    assert f"page 1 of {n_pages}" in text
    for phi in FAKE_PHI:
        assert phi not in text


def _same(shown: list[str], expected: pd.Series, *, skip_missing_ci: bool = False) -> None:
    """The data-value attributes equal the table's values (exact repr; NaN for missing)."""
    values = [float(v) for v in shown]
    wanted = [float(v) for v in expected if not (skip_missing_ci and math.isnan(v))]
    assert len(values) == len(wanted)
    for want, got in zip(wanted, values, strict=True):
        assert (math.isnan(want) and math.isnan(got)) or got == want


def test_estimates_section_forest_plots_and_appendix(cohort: tuple[Path, Path]) -> None:
    results, samples = cohort
    html, context = build_cohort_report(results_dir=results, samples=samples, config=CONFIG)
    estimates, appendix = html.split('<section id="statistics"', 1)[1].split('<section id="appendix"', 1)
    # main part: forest plot per endpoint, the row without a CI listed under it, the compact columns
    for endpoint in ("suv_vs_ihc", "treatment_change", "survival"):
        assert f'<figure id="forest-{endpoint}" data-figure="forest_{endpoint}.png">' in estimates
    assert "Not plotted: too_small · suv_max · patient (no estimate)." in re.sub(r"<[^>]+>", "", estimates)
    assert context["stats"][0]["skipped"] == [{"label": "too_small · suv_max · patient", "reason": "no estimate"}]
    compact = estimates.split('<table class="stats compact"', 1)[1].split("</thead>", 1)[0]
    assert re.findall(r"<th[^>]*>([^<]+)</th>", compact) == ["endpoint", "analysis", "estimand",
                                                               "estimate [95% CI]", "p", "p adj. (BH)"]
    assert "estimand of wilcoxon_paired" in estimates and "method of wilcoxon_paired" not in estimates
    assert "Hazard ratio (log scale)" not in estimates  # axis texts are in the PNG, not the HTML
    # appendix at the end of the page: the full table with method and notes
    assert html.index('<section id="appendix"') > html.index('<section id="figures"')
    headers = re.findall(r"<th[^>]*>([^<]+)</th>", appendix.split("</thead>", 1)[0])
    assert headers == ["endpoint", "analysis", "variable", "level", "estimand", "subjects", "lesions",
                       "estimate [95% CI]", "statistic", "p", "p adj. (BH)", "method", "notes"]
    stats = pd.read_csv(results / "cohort" / "stats.csv")
    for method in stats["method"]:
        assert method in appendix
    assert appendix.count("<tr><td>") == len(stats)


def test_swimmer_and_spider_from_the_cohort_tables(cohort: tuple[Path, Path]) -> None:
    from pipeline.report.inputs import CohortInputs
    from pipeline.report.sections import cohort_timecourse

    results, samples = cohort
    inputs = CohortInputs.load(results_dir=results, samples=samples, config=CONFIG)
    table, reason = cohort_timecourse.spider_table(inputs)
    assert table is not None and not reason
    follow = table[table["timepoint"] == TIMEPOINTS[1]]
    got = {(r.subject_id, r.lesion_id): r.pct_change for r in follow.itertuples()}
    assert got == pytest.approx(SPIDER_CHANGE, abs=1e-9)
    assert (table.loc[table["timepoint"] == TIMEPOINTS[0], "pct_change"] == 0).all()
    swim, _ = cohort_timecourse.swimmer_table(inputs)
    assert swim is not None
    assert swim.drop_duplicates("subject_id").set_index("subject_id")["ongoing"].to_dict() == {
        "S01": True, "S02": False, "S03": True}
    _, context = build_cohort_report(results_dir=results, samples=samples, config=CONFIG)
    timecourse = context["timecourse"]
    assert "days from the baseline assessment" in timecourse["swimmer"]["caption"]
    assert "2 patient(s) without progression" in timecourse["swimmer"]["caption"]
    assert "(6 lesions, 3 patients" in timecourse["spider"]["caption"]
    assert "coloured by patient" in timecourse["spider"]["caption"]
    assert "days from the baseline RECIST assessment" in timecourse["spider"]["caption"]
    # with the scans' reference times (suv.json) the spider plot counts days from the baseline scan
    from pipeline.outputs import SuvSidecar

    for s in SUBJECTS:
        for t, when in ((TIMEPOINTS[0], "2025-01-08T10:00:00+01:00"), (TIMEPOINTS[1], "2025-02-05T10:00:00+01:00")):
            (results / s / t).mkdir(parents=True)
            SuvSidecar({"reference_datetime": when}).write(results / s / t / "suv.json")
    inputs = CohortInputs.load(results_dir=results, samples=samples, config=CONFIG)
    assert (inputs.scan_times[("S01", TIMEPOINTS[1])] - inputs.scan_times[("S01", TIMEPOINTS[0])]).days == 28
    _, context = build_cohort_report(results_dir=results, samples=samples, config=CONFIG)
    assert "days from the baseline scan" in context["timecourse"]["spider"]["caption"]
    # a second scan of the baseline's injection (multi-day PK) is not a response assessment: no spider point
    for t in TIMEPOINTS[:2]:
        SuvSidecar({"reference_datetime": "2025-01-08T10:00:00+01:00",
                    "injection_datetime": "2025-01-06T10:00:00+01:00"}).write(results / "S01" / t / "suv.json")
    inputs = CohortInputs.load(results_dir=results, samples=samples, config=CONFIG)
    table, _ = cohort_timecourse.spider_table(inputs)
    assert table is not None
    assert set(table.loc[table["subject_id"] == "S01", "timepoint"]) == {TIMEPOINTS[0]}
    assert set(table.loc[table["subject_id"] == "S02", "timepoint"]) == {TIMEPOINTS[0], TIMEPOINTS[1]}
    for s in SUBJECTS:
        shutil.rmtree(results / s)
    # by arm when configured; the visit order when assessment dates are missing
    response = pd.read_csv(results / "cohort" / "response.csv")
    response.assign(assessment_date="").to_csv(results / "cohort" / "response.csv", index=False)
    config = {**CONFIG, "report": {"spider_colour": "arm", "time_course_variable": "suv_max"}}
    _, context = build_cohort_report(results_dir=results, samples=samples, config=config)
    assert "coloured by arm" in context["timecourse"]["spider"]["caption"]
    assert "by visit" in context["timecourse"]["spider"]["caption"]
    assert "by visit" in context["timecourse"]["swimmer"]["caption"]
    # a variable the uptake table lacks: the spider plot says why it is missing
    html, context = build_cohort_report(results_dir=results, samples=samples,
                                        config={**CONFIG, "report": {"time_course_variable": "sul_peak"}})
    assert "Spider plot: not available (the cohort uptake table has no sul_peak column)" in html


def test_no_identifiers_leak(cohort: tuple[Path, Path]) -> None:
    results, samples = cohort
    html, _ = build_cohort_report(results_dir=results, samples=samples, config=CONFIG)
    for phi in FAKE_PHI:
        assert phi not in html
    # subjects only from the sample sheet: a cohort row with an unknown subject ID is left out
    bor = pd.read_csv(results / "cohort" / "response_bor.csv")
    bor.loc[len(bor)] = {"subject_id": "DOE_JOHN", "bor": "CR", "ibor": "iCR", "confirmed": True,
                         "patient_name": FAKE_PHI[0]}
    bor.to_csv(results / "cohort" / "response_bor.csv", index=False)
    html, context = build_cohort_report(results_dir=results, samples=samples, config=CONFIG)
    assert "DOE_JOHN" not in html
    assert any("response_bor" in w for w in context["warnings"])
    assert "CR" not in [c["category"] for c in context["response"]["bor"]]
    # without de-identification the unknown row is counted and the study UIDs are shown
    html, context = build_cohort_report(results_dir=results, samples=samples, config=CONFIG, deidentify=False)
    assert {c["category"]: c["n"] for c in context["response"]["bor"]}["CR"] == 1
    assert FAKE_PHI[4] in html


def test_missing_inputs_say_not_available(cohort: tuple[Path, Path], tmp_path: Path) -> None:
    results, samples = cohort
    folder = results / "cohort"
    for name in ("stats.csv", "deltas.parquet", "response_bor.csv", "response.csv", "biodistribution.csv",
                 "uptake.parquet"):
        (folder / name).unlink()
    shutil.rmtree(folder / "figures")
    html, context = build_cohort_report(results_dir=folder, samples=samples, config=CONFIG)
    assert "Statistics: not available" in html
    assert "Biodistribution table: not available" in html
    assert "PERCIST-style response (deltas): not available" in html
    assert "Best overall response: not available" in html
    assert "Figures: not available" in html
    assert "Statistics table: not available" in html
    assert "Swimmer plot: not available (no response.csv" in html
    assert "Spider plot: not available (no cohort uptake table)" in html
    assert context["n_figures"] == 0
    assert not any(context["available"].values())
    assert "S03" in html
    html_path, pdf_path = write_cohort_report(results_dir=folder, samples=samples, config=CONFIG,
                                              output_html=tmp_path / "cohort.html")
    assert pdf_path.read_bytes().startswith(b"%PDF")
