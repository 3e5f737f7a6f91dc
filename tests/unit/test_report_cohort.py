"""Cohort report: every stats estimate reaches the HTML exactly, figures are embedded, the PDF renders,
missing inputs say "not available", and no identifier outside the sample sheet leaks into the report."""

from __future__ import annotations

import math
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


class _Values(HTMLParser):
    """Collect (data-column, data-value) pairs and the data:image/png sources."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-column" in a and "data-value" in a:
            self.values.setdefault(a["data-column"], []).append(a["data-value"])
        if tag == "img" and (a.get("src") or "").startswith("data:image/png;base64,"):
            self.images.append(a["src"])


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
            rows.append({"endpoint": endpoint, "analysis": analysis, "variable": "suv_max", "level": "patient",
                         "n_subjects": 3, "n_lesions": 5.0, "estimate": est, "ci_low": est - 0.123456789,
                         "ci_high": est + 0.987654321, "statistic": 1.5, "p_value": float(rng.uniform(1e-5, 1)),
                         "p_adjusted": float(rng.uniform(0, 1)), "method": f"method of {analysis}",
                         "notes": "synthetic"})
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

    # uptake: two lesions per scan plus organs, with DICOM-like identifying columns that must never be read
    rows = []
    for s in SUBJECTS:
        for t in TIMEPOINTS:
            for name, kind in [("liver", "reference"), ("spleen", "organ"), ("lesion_01", "tumour"),
                               ("lesion_02", "tumour")]:
                rows.append({"subject_id": s, "timepoint": t, "name": name, "kind": kind,
                             "lesion_id": name if kind == "tumour" else None, "organ": name, "suv_max": 3.0,
                             "patient_name": FAKE_PHI[0], "patient_id": FAKE_PHI[2],
                             "patient_birth_date": FAKE_PHI[3]})
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
    for column in ("estimate", "ci_low", "ci_high", "p_value", "p_adjusted"):
        shown = [float(v) for v in parsed.values[column]]
        assert len(shown) == len(stats)
        for expected, got in zip(stats[column], shown, strict=True):
            if math.isnan(expected):
                assert math.isnan(got)
            else:
                assert got == pytest.approx(expected, rel=0, abs=1e-9)
    # biodistribution numbers carry their exact value too
    assert [float(v) for v in parsed.values["median"]] == pytest.approx([2.4] * 4, abs=1e-12)
    # lesion counts per timepoint from uptake (2 tumours per scan)
    assert [float(v) for v in parsed.values["lesions:baseline"]] == [2.0, 2.0, 2.0]

    # every PNG embedded exactly once, SVGs ignored
    assert len(parsed.images) == len(FIGURES) == context["n_figures"]
    assert html.count("data:image/png;base64,") == len(FIGURES)
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
    assert html_path.read_text(encoding="utf-8").count("data:image/png;base64,") == len(FIGURES)
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
    for name in ("stats.csv", "deltas.parquet", "response_bor.csv", "biodistribution.csv", "uptake.parquet"):
        (folder / name).unlink()
    shutil.rmtree(folder / "figures")
    html, context = build_cohort_report(results_dir=folder, samples=samples, config=CONFIG)
    assert "Statistics: not available" in html
    assert "Biodistribution table: not available" in html
    assert "PERCIST-style response (deltas): not available" in html
    assert "Best overall response: not available" in html
    assert "Figures: not available" in html
    assert context["n_figures"] == 0
    assert not any(context["available"].values())
    assert "S03" in html
    html_path, pdf_path = write_cohort_report(results_dir=folder, samples=samples, config=CONFIG,
                                              output_html=tmp_path / "cohort.html")
    assert pdf_path.read_bytes().startswith(b"%PDF")
