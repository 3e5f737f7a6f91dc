"""Per-patient report: exact uptake values in the HTML, PDF rendering, common MIP window, no PHI."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from pipeline.cli import main
from pipeline.config import load_sample_sheet
from pipeline.dicom.geometry import read_nifti
from pipeline.report import build_patient_report, mip_images, suv_window, write_patient_report
from pipeline.report.mip import WINDOW_PERCENTILE
from pipeline.report.patient import fmt
from pipeline.voi.catalogue import read_voiset

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SUBJECT = "P01"
TIMEPOINTS = ("baseline", "on_treatment")
CONFIG = {"deidentify": True, "suv": {"kind": "bw"}, "deltas": {"reference": "liver"}}

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
                                   reason="poppler-utils (pdftotext, pdftoppm) not installed")


@pytest.fixture(scope="module")
def results(cohort_1: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Results folder of the one-subject cohort: suv, vois (RTSTRUCT), uptake, heterogeneity, deltas, recist."""
    res = tmp_path_factory.mktemp("report_results")
    for tp in TIMEPOINTS:
        study, out = cohort_1 / "dicom" / SUBJECT / tp, res / SUBJECT / tp
        out.mkdir(parents=True)
        suv, vois = str(out / "suv.nii.gz"), str(out / "vois.nii.gz")
        assert main(["-q", "suv", str(study / "PT"), "-o", suv, "--dosing", str(cohort_1 / "dosing.csv"),
                     "--subject", SUBJECT, "--timepoint", tp]) == 0
        assert main(["-q", "vois", "--pet", suv, "--rtstruct", str(study / "RTSTRUCT"), "-o", vois]) == 0
        assert main(["-q", "uptake", "--suv", suv, "--vois", vois, "-o", str(out / "uptake.csv")]) == 0
        assert main(["-q", "heterogeneity", "--suv", suv, "--vois", vois, "-o", str(out / "heterogeneity.csv")]) == 0
    assert main(["-q", "deltas", "--samples", str(cohort_1 / "samples.tsv"), "--subject", SUBJECT,
                 "--template", str(res / "{subject}" / "{timepoint}"), "-o", str(res / SUBJECT / "deltas.csv")]) == 0
    assert main(["-q", "recist", str(cohort_1 / "recist.csv"), "-o", str(res / "cohort" / "response.csv")]) == 0
    return res


@pytest.fixture(scope="module")
def report(cohort_1: Path, results: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report written once: HTML and PDF paths, the HTML text, the context and the build time."""
    out = tmp_path_factory.mktemp("report") / f"{SUBJECT}.html"
    kwargs = {"results_dir": results, "samples": cohort_1 / "samples.tsv", "config": CONFIG,
              "ihc": cohort_1 / "ihc.csv", "histology": cohort_1 / "histology.csv"}
    start = time.perf_counter()
    html_path, pdf_path = write_patient_report(SUBJECT, output_html=out, **kwargs)
    elapsed = time.perf_counter() - start
    print(f"\nper-patient report (HTML + PDF) for {SUBJECT}: {elapsed:.2f} s")
    html, context = build_patient_report(SUBJECT, **kwargs)
    return {"html_path": html_path, "pdf_path": pdf_path, "html": html, "context": context, "seconds": elapsed}


class _Cells(HTMLParser):
    """Collect (lesion or VOI row text, data-value) of the uptake tables."""

    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []
        self.tables: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "table":
            self.tables.append(attributes.get("class") or "")
        if tag == "td" and attributes.get("data-value") is not None and "uptake" in (self.tables or [""])[-1]:
            self.values.append(float(attributes["data-value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self.tables:
            self.tables.pop()


def _pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_html_carries_exact_uptake_values(report: dict, results: Path) -> None:
    parser = _Cells()
    parser.feed(report["html"])
    shown = np.array(parser.values)
    assert shown.size > 0
    for tp in TIMEPOINTS:
        table = pd.read_csv(results / SUBJECT / tp / "uptake.csv")
        tumours = table[table["kind"] == "tumour"]
        organs = table[table["kind"].isin(["organ", "reference"])]
        expected = np.concatenate([tumours[c].to_numpy(float) for c in ("suv_max", "suv_mean", "suv_peak",
                                                                          "volume_ml", "tlg")]
                                  + [organs["suv_mean"].to_numpy(float), organs["suv_max"].to_numpy(float)])
        assert tumours.shape[0] >= 2
        for value in expected:
            assert np.any(np.isclose(shown, value, rtol=1e-9, atol=0.0)), f"{tp}: {value!r} not in the HTML"
    # and one exact lesion cell, with its display text
    baseline = pd.read_csv(results / SUBJECT / "baseline" / "uptake.csv")
    first = baseline[baseline["kind"] == "tumour"].iloc[0]
    assert f'data-value="{float(first["suv_max"])!r}">{fmt(first["suv_max"])}</td>' in report["html"]


def test_html_is_self_contained_and_complete(report: dict) -> None:
    html = report["html"]
    assert "<link" not in html and 'src="http' not in html
    assert html.count('src="data:image/png;base64,') == 2 * len(TIMEPOINTS) + 1  # MIPs and the uptake over time
    assert "@page" in html and "counter(page)" in html
    for text in ("Quality control", "Maximum-intensity projections", "Changes from baseline", "PERCIST",
                 "EORTC", "RECIST 1.1", "iRECIST", "Best overall response", "Heterogeneity", "IHC",
                 report["context"]["config_hash"], "[18F]AlF-RESCA-IL2"):
        assert text in html
    assert report["context"]["header"][0]["scanner"].startswith("SIEMENS")  # Manufacturer + model from suv.json
    positions = [html.index(f'id="{section}"') for section in ("qc", "mip", "lesions", "organs", "changes",
                                                                 "suv-time", "response", "heterogeneity",
                                                                 "pathology")]
    assert positions == sorted(positions)


def test_kinetics_section_for_the_dynamic_study(cohort_1: Path, results: Path, tmp_path: Path) -> None:
    """The sheet's dynamic study: a note until it is run, then its key parameters, flags, notes and TACs."""
    html, context = build_patient_report(SUBJECT, results_dir=results, samples=cohort_1 / "samples.tsv",
                                         config=CONFIG)
    assert [k["timepoint"] for k in context["kinetics"]] == ["dynamic"] and context["kinetics"][0]["missing"]
    assert "No kinetics.csv for this dynamic study" in html
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    study = copy / SUBJECT / "dynamic"
    study.mkdir(parents=True)
    rows = [("lesion_01", "2tcm", "VT", 2.5, True, True), ("lesion_01", "1tcm", "VT", 2.1, True, False),
            ("lesion_01", "srtm", "BPND", 20.0, False, False), ("spleen", "2tcm", "VT", 1.5, True, True)]
    pd.DataFrame(rows, columns=["name", "model", "parameter", "value", "converged", "chosen"]).assign(
        t_star_min=np.nan).to_csv(study / "kinetics.csv", index=False)
    (study / "kinetics.json").write_text('{"delay_fit": {"voi": "spleen", "model": "1tcm", "window_min": 10, '
                                         '"delay_s": -4.2}, "reference": "muscle"}')
    frames = pd.DataFrame({"name": ["lesion_01"] * 3, "frame": [1, 2, 3], "mid_s": [30.0, 90.0, 150.0],
                           "activity_kbq_ml": [1.0, 2.0, 2.5]})
    frames.to_csv(study / "tacs.csv", index=False)
    html, context = build_patient_report(SUBJECT, results_dir=copy, samples=cohort_1 / "samples.tsv", config=CONFIG)
    section = context["kinetics"][0]
    assert section["columns"] == ["VT 2TCM", "VT 1TCM", "BPND SRTM"]
    assert [r["name"] for r in section["rows"]] == ["lesion_01", "spleen"]
    assert [r["chosen"] for r in section["rows"]] == ["2TCM", "2TCM"]
    assert 'id="kinetics"' in html and 'data-value="2.5"' in html
    assert "20.00 \u2020" in html and "did not converge" in html  # the SRTM fit at its bound is flagged
    assert "Input delay fitted on spleen (1TCM, first 10 min): -4.2 s." in html
    assert html.count('src="data:image/png;base64,') == 2 * len(TIMEPOINTS) + 2  # MIPs, uptake over time, TACs


def test_uptake_over_time_for_a_subject_with_two_scans(cohort_1: Path, results: Path, report: dict) -> None:
    """The figure's rows are the uptake tables' values at days from the baseline scan; one scan: no section."""
    import datetime as dt
    import json

    from pipeline.report.inputs import PatientInputs
    from pipeline.report.sections.time_course import uptake_over_time

    html = report["html"]
    assert '<img id="suv-time-figure" class="time-course"' in html
    caption = report["context"]["time_course"]["figure"]["caption"]
    assert caption.startswith("SUVmax of each lesion (") and "days from the baseline scan" in caption
    inputs = PatientInputs.load(SUBJECT, results_dir=results, samples=cohort_1 / "samples.tsv", config=CONFIG)
    table, ticks, label = uptake_over_time(inputs)
    assert ticks is None and label == "Days from baseline scan"
    scans = [dt.datetime.fromisoformat(json.loads((results / SUBJECT / tp / "suv.json").read_text())[
        "reference_datetime"]) for tp in TIMEPOINTS]
    days = (scans[1] - scans[0]).total_seconds() / 86400
    assert sorted(set(table["time"])) == pytest.approx([0.0, days], abs=1e-9) and days > 0
    for tp in TIMEPOINTS:
        uptake = pd.read_csv(results / SUBJECT / tp / "uptake.csv")
        tumours = uptake[uptake["kind"] == "tumour"]
        shown = table[(table["timepoint"] == tp) & (table["panel"] == "Lesions")]
        assert shown.set_index("name")["suv_max"].to_dict() == tumours.set_index("lesion_id")["suv_max"].to_dict()
        organs = uptake[uptake["kind"].isin(["organ", "reference"])]
        shown = table[(table["timepoint"] == tp) & (table["panel"] != "Lesions")]
        assert shown.set_index("name")["suv_mean"].to_dict() == organs.set_index("name")["suv_mean"].to_dict()
    # scans without distinct times (e.g. no reference or injection time recorded): the visit order
    from pipeline.outputs import SuvSidecar

    for tp in TIMEPOINTS:
        record = {k: v for k, v in inputs.sidecars[tp].as_dict().items() if not k.endswith("_datetime")}
        inputs.sidecars[tp] = SuvSidecar(record)
    table, ticks, label = uptake_over_time(inputs)
    assert label == "Visit" and ticks == {0.0: TIMEPOINTS[0], 1.0: TIMEPOINTS[1]}
    assert sorted(set(table["time"])) == [0.0, 1.0]
    # a subject with one scan gets no uptake-over-time section
    sheet = load_sample_sheet(cohort_1 / "samples.tsv")
    single = sheet[sheet["timepoint"] != TIMEPOINTS[1]]
    html, context = build_patient_report(SUBJECT, results_dir=results, samples=single, config=CONFIG)
    assert context["time_course"] is None and 'id="suv-time"' not in html


@needs_poppler
def test_pdf_renders_with_key_content(report: dict, results: Path) -> None:
    pdf = report["pdf_path"]
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 2
    text = _pdf_text(pdf)
    assert SUBJECT in text and "[18F]AlF-RESCA-IL2" in text
    assert f"Page 1 of {pages}" in text
    hottest = max(pd.read_csv(results / SUBJECT / tp / "uptake.csv").query("kind == 'tumour'")["suv_max"].max()
                  for tp in TIMEPOINTS)
    assert fmt(hottest) in text


@needs_poppler
def test_first_page_artefact(report: dict) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    prefix = ARTIFACTS / f"report_patient_{SUBJECT}"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(report["pdf_path"]),
                    str(prefix)], check=True)
    png = prefix.with_suffix(".png")
    assert png.is_file() and png.stat().st_size > 5_000


def test_mips_share_the_rule_window(report: dict, results: Path) -> None:
    context = report["context"]
    assert set(context["mip"]) == set(TIMEPOINTS)
    for images in context["mip"].values():
        assert set(images) == {"coronal", "sagittal"}
        for png in images.values():
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2_000
    expected = max(float(np.percentile(read_nifti(results / SUBJECT / tp / "suv.nii.gz")[0], WINDOW_PERCENTILE))
                   for tp in TIMEPOINTS)
    assert set(context["mip_vmax"]) == set(TIMEPOINTS)
    assert len(set(context["mip_vmax"].values())) == 1
    assert context["vmax"] == pytest.approx(expected, rel=1e-12)
    assert context["mip_vmax"]["baseline"] == context["vmax"]


def test_configured_window_wins(results: Path) -> None:
    suv, _ = read_nifti(results / SUBJECT / "baseline" / "suv.nii.gz")
    assert suv_window([suv], 10.0)[0] == 10.0
    assert suv_window([suv])[0] == pytest.approx(float(np.percentile(suv, WINDOW_PERCENTILE)))


def test_mip_images_deterministic_and_oriented(results: Path) -> None:
    from matplotlib.image import imread

    suv, geometry = read_nifti(results / SUBJECT / "baseline" / "suv.nii.gz")
    voiset = read_voiset(results / SUBJECT / "baseline" / "vois.nii.gz")
    first = mip_images(np.asarray(suv), geometry, voiset, vmax=5.0)
    assert first == mip_images(np.asarray(suv), geometry, voiset, vmax=5.0)
    assert b"Software" not in first["coronal"] and b"Date" not in first["coronal"]
    # a hot spot near the patient's right (x index 2; x grows to the patient's left in LPS) shows on the
    # viewer's left of the coronal MIP, and one near the left (x index 37) on the viewer's right
    from pipeline.dicom.geometry import Geometry

    grid = Geometry((20, 30, 40), (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), np.eye(3))
    columns = {}
    for x in (2, 37):
        test = np.zeros((20, 30, 40), np.float32)
        test[10, 15, x] = 5.0
        columns[x] = imread(io.BytesIO(mip_images(test, grid, None, vmax=5.0)["coronal"]))[..., :3].mean(axis=2)
    changed = np.argwhere(np.abs(columns[2] - columns[37]) > 0.5)
    right_spot = changed[columns[2][changed[:, 0], changed[:, 1]] < 0.5][:, 1]
    left_spot = changed[columns[37][changed[:, 0], changed[:, 1]] < 0.5][:, 1]
    assert right_spot.size and left_spot.size
    assert right_spot.max() < left_spot.min()


def test_no_phi_with_deidentify(cohort_1: Path, report: dict) -> None:
    header = pydicom.dcmread(next((cohort_1 / "dicom" / SUBJECT / "baseline" / "PT").iterdir()),
                             stop_before_pixels=True)
    name, patient_id, birth = str(header.PatientName), str(header.PatientID), str(header.PatientBirthDate)
    assert name and patient_id and birth and patient_id != SUBJECT
    forbidden = {name, name.replace("^", " "), patient_id, birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"}
    # the synthetic PatientName embeds the subject id (SYNTHETIC^P01); the pseudonymised id itself must show
    forbidden |= {part for part in name.split("^") if len(part) >= 3 and part != SUBJECT}
    texts = {"html": report["html"], "html file": report["html_path"].read_text("utf-8")}
    if shutil.which("pdftotext"):
        texts["pdf"] = _pdf_text(report["pdf_path"])
    for where, text in texts.items():
        for value in forbidden:
            assert value not in text, f"{value!r} found in the {where}"
    assert report["context"]["deidentify"] is True


def test_format_significant_digits() -> None:
    assert fmt(7.58100239) == "7.58"
    assert fmt(20.224) == "20.2"
    assert fmt(1628.096) == "1628"
    assert fmt(0.0005063195) == "0.000506"
    assert fmt(float("nan")) == "n/a" and fmt(None) == "" and fmt(0) == "0"


def test_unknown_subject(cohort_1: Path, results: Path) -> None:
    from pipeline.errors import PipelineError

    with pytest.raises(PipelineError, match="P99"):
        build_patient_report("P99", results_dir=results, samples=cohort_1 / "samples.tsv", config=CONFIG)


def test_report_time_is_printed(report: dict) -> None:
    print(f"\nreport build time: {report['seconds']:.2f} s (reported, not asserted)")
    assert report["seconds"] > 0
