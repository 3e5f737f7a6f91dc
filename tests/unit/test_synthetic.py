"""Known-answer tests of the synthetic cohort generator (pipeline.synthetic)."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from pipeline.errors import InvalidInputError
from pipeline.synthetic import generate_cohort
from pipeline.synthetic.anatomy import ORGAN_NAMES, TIMEPOINTS, build_phantom
from pipeline.synthetic.clinical import SubjectRecord, build_tables
from pipeline.synthetic.dicom_pet import encode_pet
from pipeline.synthetic.geometry import Shape
from pipeline.synthetic.protocol import STREAM_ANATOMY, plan_study, plan_subjects, subject_rng
from pipeline.synthetic.raster import Grid, rasterise

DCIODVFY = Path("/usr/bin/dciodvfy")


# ---------------------------------------------------------------- fixtures and helpers
@pytest.fixture(scope="module")
def cohort(cohort_3: Path) -> Path:
    """Three-subject cohort (conftest): P01 Siemens 18F, P02 GE 68Ga, P03 Philips CNTS 89Zr."""
    return cohort_3


def _studies(*roots: Path) -> list[Path]:
    return [study for root in roots for study in sorted(root.glob("dicom/*/*"))
            if study.is_dir() and study.name != "dynamic" and not study.name.startswith("mri_")]  # static PET


def _truth(study: Path) -> dict:
    return json.loads((study / "truth.json").read_text())


def _read_series(folder: Path) -> list[pydicom.Dataset]:
    return [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]


def _dt(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%d%H%M%S.%f" if "." in value else "%Y%m%d%H%M%S")


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=None)


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _suv_factor_from_header(ds: pydicom.Dataset) -> tuple[float, datetime]:
    """Independent SUVbw factor from one PET header (QIBA rules, suv.md R4-R6, R14-R15)."""
    rp = ds.RadiopharmaceuticalInformationSequence[0]
    injection = _dt(rp.RadiopharmaceuticalStartDateTime)
    if ds.Manufacturer == "GE MEDICAL SYSTEMS":
        reference = _dt(ds.private_block(0x0009, "GEMS_PETD_01")[0x0D].value)
    else:
        reference = _dt(ds.SeriesDate + ds.SeriesTime)
    decayed = float(rp.RadionuclideTotalDose) * 2.0 ** (
        -(reference - injection).total_seconds() / float(rp.RadionuclideHalfLife))
    factor = float(ds.PatientWeight) * 1000.0 / decayed
    if ds.Units == "CNTS":
        factor *= float(ds.private_block(0x7053, "Philips PET Private Group")[0x09].value)
    return factor, reference


def _t_ave(duration_s: float, half_life_s: float) -> float:
    lam = math.log(2.0) / half_life_s
    return math.log(lam * duration_s / (1.0 - math.exp(-lam * duration_s))) / lam


# ---------------------------------------------------------------- determinism
def test_same_seed_gives_identical_files_and_other_seed_differs(cohort: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate_cohort(again, n_subjects=3, seed=11, subjects_filter=["P01"])
    full = {k: v for k, v in _hashes(cohort).items() if k.startswith("dicom/P01/")}
    first = _hashes(again)
    dicom = [name for name in first if name.startswith("dicom/")]
    static = [name for name in dicom if "/dynamic/" not in name]
    assert len(static) == 2 * (80 + 104 + 1 + 1)  # (PT, CT, RTSTRUCT, truth) x 2 timepoints
    # the 18F subject's dynamic study: 28 frames x 20 slices, SEG, blood, truth, label map and its names
    assert len(dicom) - len(static) == 28 * 20 + 1 + 4
    assert {k: first[k] for k in dicom} == full  # a filtered subject is byte-identical to the full cohort's
    second = _hashes(generate_cohort(tmp_path / "second", n_subjects=3, seed=11, subjects_filter=["P01"]).out_dir)
    assert second == first

    other = tmp_path / "other"
    generate_cohort(other, n_subjects=3, seed=12, subjects_filter=["P01"])
    third = _hashes(other)
    assert set(third) == set(first)
    seeded = [name for name in dicom if not name.endswith(("/vois.nii.gz", "/vois.tsv"))]  # the label map is fixed
    assert sum(first[name] != third[name] for name in seeded) == len(seeded) == len(dicom) - 2
    assert first["samples.tsv"] != third["samples.tsv"] and first["dosing.csv"] != third["dosing.csv"]


def test_subject_filter_keeps_the_subjects_rows(cohort: Path, tmp_path: Path) -> None:
    full = pd.read_csv(cohort / "samples.tsv", sep="\t")
    assert list(full["subject_id"]) == ["P01", "P01", "P01", "P02", "P02", "P03", "P03"]
    assert list(full["nuclide"]) == ["F18", "F18", "F18", "Ga68", "Ga68", "Zr89", "Zr89"]
    assert list(full["acquisition"]) == ["static", "static", "dynamic", *["static"] * 4]
    assert list(full["blood"].fillna("")) == ["", "", "dicom/P01/dynamic/blood.csv", *[""] * 4]
    assert list(full.columns) == ["subject_id", "timepoint", "tracer", "nuclide", "dicom", "study_uid", "arm",
                                  "route", "acquisition", "blood"]
    generate_cohort(tmp_path, n_subjects=3, seed=11, subjects_filter=["P02"])
    one = pd.read_csv(tmp_path / "samples.tsv", sep="\t")
    assert list(one["subject_id"]) == ["P02", "P02"]
    assert list(one["study_uid"]) == list(full.loc[full.subject_id == "P02", "study_uid"])


# ---------------------------------------------------------------- PET values against truth
def test_pet_decodes_to_truth(cohort: Path) -> None:
    for study in _studies(cohort):
        truth = _truth(study)
        series = _read_series(study / "PT")
        assert len(series) == truth["pet_grid"]["shape_zyx"][0]
        z = [float(ds.ImagePositionPatient[2]) for ds in series]
        assert np.all(np.diff(z) == pytest.approx(4.0))
        slopes = np.array([float(ds.RescaleSlope) for ds in series])
        assert len(np.unique(slopes[slopes != 1.0])) > 20  # per-slice slopes (R1)
        assert {float(ds.RescaleIntercept) for ds in series} == {0.0}
        rescaled = np.stack([ds.pixel_array * float(ds.RescaleSlope) for ds in series])
        assert np.abs(np.stack([ds.pixel_array for ds in series])).max() <= 30001

        factor, _ = _suv_factor_from_header(series[0])
        assert factor == pytest.approx(truth["suv_factor"], rel=1e-12)
        suv = rescaled * truth["suv_factor"]

        g = truth["pet_grid"]
        grid = Grid(tuple(g["shape_zyx"]), tuple(g["spacing_zyx_mm"]), tuple(g["origin_lps_mm"]))
        shapes = [Shape(v["geometry"]["shape"], tuple(v["geometry"]["centre_lps_mm"]),
                        tuple(v["geometry"]["semi_axes_mm"]), v["geometry"]["rotation_deg"]) for v in truth["vois"]]
        labels, whole = rasterise(shapes, grid)
        for k, voi in enumerate(truth["vois"]):
            owned = suv[labels == k + 1]
            assert owned.size == voi["n_voxels"] and whole[k] == voi["n_voxels_whole"]
            assert owned.mean() == pytest.approx(voi["suv_mean"], rel=1e-6)
            assert owned.max() == pytest.approx(voi["suv_max"], rel=1e-6)
            assert owned.min() == pytest.approx(voi["suv_min"], rel=1e-6)
            assert voi["suv_mean"] == pytest.approx(voi["suv_true"], rel=1e-3)  # quantisation only
            assert voi["volume_ml"] == pytest.approx(voi["n_voxels"] * 0.064)
            if voi["kind"] == "tumour":
                assert voi["n_voxels"] == voi["n_voxels_whole"]  # no lesion is overridden
        assert np.count_nonzero(labels) == sum(v["n_voxels"] for v in truth["vois"])


def test_philips_counts_scale_to_suv(cohort: Path) -> None:
    study = cohort / "dicom" / "P03" / "baseline"
    truth = _truth(study)
    ds = pydicom.dcmread(study / "PT" / "PT_0030.dcm")
    assert (ds.Manufacturer, ds.Units, truth["units"]) == ("Philips Medical Systems", "CNTS", "CNTS")
    block = ds.private_block(0x7053, "Philips PET Private Group")
    assert ds[0x7053, 0x0010].value == "Philips PET Private Group"
    acsf, ssf = float(block[0x09].value), float(block[0x00].value)
    assert acsf == truth["activity_concentration_scale_factor"]
    d_ref = truth["injected_dose_bq"] / truth["decay_factor"]
    assert ssf == pytest.approx(acsf * truth["weight_kg"] * 1000.0 / d_ref, rel=1e-10)
    rescaled = ds.pixel_array * float(ds.RescaleSlope)
    suv = rescaled * acsf * float(ds.PatientWeight) * 1000.0 / d_ref
    assert suv.max() > 1.0
    np.testing.assert_allclose(suv, rescaled * truth["suv_factor"], rtol=1e-12)
    assert _dt(ds.SeriesDate + ds.SeriesTime) == _iso(truth["reference_datetime"])


def test_ge_scan_datetime_is_reference_and_series_time_later(cohort: Path) -> None:
    study = cohort / "dicom" / "P02" / "on_treatment"
    truth = _truth(study)
    series = _read_series(study / "PT")
    ds = series[0]
    assert ds[0x0009, 0x0010].value == "GEMS_PETD_01"
    scan = _dt(ds.private_block(0x0009, "GEMS_PETD_01")[0x0D].value)
    assert scan == _iso(truth["reference_datetime"])
    series_time = _dt(ds.SeriesDate + ds.SeriesTime)
    last_acquisition = max(_dt(d.AcquisitionDateTime) for d in series)
    assert (series_time - last_acquisition).total_seconds() >= 20 * 60
    first_bed = [d for d in series if _dt(d.AcquisitionDateTime) == scan]
    assert first_bed and {float(d.FrameReferenceTime) for d in first_bed} == {0.0}  # R18


def test_frame_reference_times_point_back_to_the_reference(cohort: Path) -> None:
    for study in _studies(cohort):
        truth = _truth(study)
        reference = _iso(truth["reference_datetime"])
        half_life = truth["half_life_s"]
        beds = {}
        for ds in _read_series(study / "PT"):
            duration = ds.ActualFrameDuration / 1000.0
            t_ave = 0.0 if ds.Manufacturer.startswith("GE") else _t_ave(duration, half_life)
            start = _dt(ds.AcquisitionDateTime)
            back = (start - reference).total_seconds() + t_ave - float(ds.FrameReferenceTime) / 1000.0
            assert abs(back) < 1e-6
            assert float(ds.DecayFactor) == pytest.approx(2.0 ** (float(ds.FrameReferenceTime) / 1000 / half_life))
            assert ds.DecayCorrection == "START" and {"ATTN", "DECY"} <= set(ds.CorrectedImage)
            beds[start] = float(ds.FrameReferenceTime)
        assert len(beds) == 4
        if truth["vendor"] == "siemens":
            assert beds[reference] == pytest.approx(1000.0 * _t_ave(truth["frame_duration_s"], half_life))


def test_header_identity_and_timing(cohort: Path) -> None:
    for study in _studies(cohort):
        truth = _truth(study)
        pet = pydicom.dcmread(study / "PT" / "PT_0001.dcm")
        ct = pydicom.dcmread(study / "CT" / "CT_0001.dcm")
        rs = pydicom.dcmread(study / "RTSTRUCT" / "RTSTRUCT_0001.dcm")
        assert pet.PatientName == f"SYNTHETIC^{truth['subject_id']}" and pet.PatientID != truth["subject_id"]
        assert pet.PatientID.startswith("SYN-") and pet.TimezoneOffsetFromUTC == "+0100"
        assert pet.FrameOfReferenceUID == ct.FrameOfReferenceUID == truth["frame_of_reference_uid"]
        assert pet.StudyInstanceUID == ct.StudyInstanceUID == rs.StudyInstanceUID == truth["study_uid"]
        assert float(pet.PatientWeight) == truth["weight_kg"] and float(pet.PatientSize) == truth["height_m"]
        rp = pet.RadiopharmaceuticalInformationSequence[0]
        assert float(rp.RadionuclideTotalDose) == truth["injected_dose_bq"]
        assert float(rp.RadionuclideHalfLife) == truth["half_life_s"]
        assert rp.RadiopharmaceuticalStartTime == rp.RadiopharmaceuticalStartDateTime[8:]
        assert _dt(rp.RadiopharmaceuticalStartDateTime) == _iso(truth["injection_datetime"])
        uptake = truth["uptake_time_s"]
        if truth["nuclide"] == "Zr89":
            assert 6 * 86400 < uptake < 6 * 86400 + 5 * 3600
        else:
            assert 50 * 60 < uptake < 70 * 60
        assert truth["decay_factor"] == pytest.approx(2.0 ** (uptake / truth["half_life_s"]))
        ct_values = ct.pixel_array * float(ct.RescaleSlope) + float(ct.RescaleIntercept)
        assert float(ct.RescaleIntercept) == -1024.0 and ct_values.min() == -1000.0  # air in the corner


# ---------------------------------------------------------------- dosing
def test_dosing_net_activity_equals_dicom_dose(cohort: Path) -> None:
    for root in (cohort,):
        dosing = pd.read_csv(root / "dosing.csv")
        static = dosing[dosing["timepoint"] != "dynamic"]
        assert len(static) == 2 * len(dosing["subject_id"].unique())
        assert list(dosing.loc[dosing["timepoint"] == "dynamic", "subject_id"]) == ["P01"]  # the 18F subject
        for row in dosing.itertuples():
            study = root / "dicom" / row.subject_id / row.timepoint
            first = "PT_F01_0001.dcm" if row.timepoint == "dynamic" else "PT_0001.dcm"
            header = pydicom.dcmread(study / "PT" / first)
            rp = header.RadiopharmaceuticalInformationSequence[0]
            truth = _truth(study) if row.timepoint != "dynamic" else {
                "half_life_s": float(rp.RadionuclideHalfLife), "weight_kg": float(header.PatientWeight),
                "height_m": float(header.PatientSize)}
            t_inj = datetime.fromisoformat(row.injection_datetime)
            t_pre = datetime.fromisoformat(row.injected_activity_datetime)
            t_post = datetime.fromisoformat(row.residual_activity_datetime)
            assert t_pre < t_inj < t_post
            half_life = truth["half_life_s"]
            net = 1e6 * (row.injected_activity_mbq * 2.0 ** (-(t_inj - t_pre).total_seconds() / half_life)
                         - row.residual_activity_mbq * 2.0 ** ((t_post - t_inj).total_seconds() / half_life))
            assert net == pytest.approx(float(rp.RadionuclideTotalDose), rel=1e-9)
            assert row.weight_kg == truth["weight_kg"] and row.height_cm == pytest.approx(100 * truth["height_m"])


# ---------------------------------------------------------------- DICOM conformance
def test_dciodvfy_reports_no_errors(cohort: Path) -> None:
    # dicom3tools is installed by the Makefile's setup (tools/system-deps.sh); its absence is a failure
    assert DCIODVFY.exists(), "dciodvfy missing: run `make test` (installs dicom3tools) or apt-get install dicom3tools"
    baselines = [s for s in _studies(cohort) if s.name == "baseline"]
    vendors = {_truth(s)["vendor"] for s in baselines}
    assert vendors == {"siemens", "ge", "philips"}
    for study in baselines:
        for path in (study / "PT" / "PT_0040.dcm", study / "CT" / "CT_0050.dcm",
                     study / "RTSTRUCT" / "RTSTRUCT_0001.dcm"):
            result = subprocess.run([str(DCIODVFY), str(path)], capture_output=True, text=True, timeout=60)
            lines = (result.stdout + result.stderr).splitlines()
            errors = [line for line in lines if line.startswith("Error")]
            assert errors == [], f"{path}: {errors}"
            assert lines[0] in ("PETImage", "CTImage", "RTStructureSet")


# ---------------------------------------------------------------- RTSTRUCT
def test_rtstruct_contours_lie_on_analytic_surfaces_and_ct_planes(cohort: Path) -> None:
    study = cohort / "dicom" / "P03" / "on_treatment"
    truth = _truth(study)
    ct = {ds.SOPInstanceUID: float(ds.ImagePositionPatient[2]) for ds in _read_series(study / "CT")}
    rs = pydicom.dcmread(study / "RTSTRUCT" / "RTSTRUCT_0001.dcm")
    assert rs.Modality == "RTSTRUCT" and rs.FrameOfReferenceUID == truth["frame_of_reference_uid"]
    referenced = rs.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    series_ref = referenced.RTReferencedSeriesSequence[0]
    assert series_ref.SeriesInstanceUID == truth["ct_series_uid"]
    assert {item.ReferencedSOPInstanceUID for item in series_ref.ContourImageSequence} == set(ct)
    names = [roi.ROIName for roi in rs.StructureSetROISequence]
    assert names == [v["name"] for v in truth["vois"]]
    assert tuple(names[:8]) == ORGAN_NAMES and all(n.startswith("lesion_") for n in names[8:])
    types = {obs.ReferencedROINumber: obs.RTROIInterpretedType for obs in rs.RTROIObservationsSequence}
    assert types[1] == "EXTERNAL" and {types[v["label"]] for v in truth["vois"] if v["kind"] == "tumour"} == {"GTV"}

    worst, n_contours = 0.0, 0
    for roi in rs.ROIContourSequence:
        geometry = truth["vois"][roi.ReferencedROINumber - 1]["geometry"]
        shape = Shape(geometry["shape"], tuple(geometry["centre_lps_mm"]), tuple(geometry["semi_axes_mm"]),
                      geometry["rotation_deg"])
        planes = [z for z in ct.values() if shape.section_semi_axes(z) is not None]
        assert len(roi.ContourSequence) == len(planes) > 0
        for contour in roi.ContourSequence:
            assert contour.ContourGeometricType == "CLOSED_PLANAR"
            points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
            assert len(points) == contour.NumberOfContourPoints >= 64
            z = ct[contour.ContourImageSequence[0].ReferencedSOPInstanceUID]
            assert np.all(points[:, 2] == z)
            a, b = shape.section_semi_axes(z)
            theta = math.radians(shape.rotation_deg)
            dx, dy = points[:, 0] - shape.centre[0], points[:, 1] - shape.centre[1]
            u, v = math.cos(theta) * dx + math.sin(theta) * dy, -math.sin(theta) * dx + math.cos(theta) * dy
            s = np.sqrt((u / a) ** 2 + (v / b) ** 2)
            distance = np.abs(1.0 - 1.0 / s) * np.hypot(u, v)  # radial distance to the ellipse (upper bound)
            worst = max(worst, float(distance.max()))
            n_contours += 1
    assert n_contours > 100
    assert worst < 0.1


# ---------------------------------------------------------------- phantom and tables (no DICOM)
def _records(n_subjects: int, seed: int) -> list[SubjectRecord]:
    records = []
    for subject in plan_subjects(n_subjects, seed):
        phantom = build_phantom(subject_rng(seed, STREAM_ANATOMY, subject.index), subject.tracer, subject.scale,
                                subject.tendency, subject.new_lesion)
        records.append(SubjectRecord(subject, phantom, {tp: plan_study(subject, tp, seed) for tp in TIMEPOINTS},
                                     seed))
    return records


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_lesion_changes_follow_their_class(seed: int) -> None:
    records = _records(6, seed)
    assert [r.subject.tracer.nuclide for r in records] == ["F18", "Ga68", "Zr89"] * 2
    assert [r.subject.vendor.key for r in records] == ["siemens", "ge", "philips", "ge", "philips", "siemens"]
    new = [(r.subject.subject_id, les.lesion_id) for r in records for les in r.phantom.lesions
           if les.response_class == "new"]
    assert len(new) == 1
    benign = sum(not les.malignant for r in records for les in r.phantom.lesions)
    assert benign >= 1
    for r in records:
        malignant = [les for les in r.phantom.lesions if les.malignant and les.response_class != "new"]
        assert 1 <= len(malignant) <= 6
        for les in r.phantom.lesions:
            d0 = les.shapes.get("baseline")
            if d0 is None:
                continue
            suv_change, diameter_change = les.intended_change_pct()
            diameter = d0.axial_diameters_mm()[0]
            assert 9.0 <= diameter <= 45.0 and min(d0.semi_axes) >= 4.5
            if les.response_class == "respond":
                assert suv_change <= -30.0 and diameter_change <= -30.0
            elif les.response_class == "progress":
                assert suv_change >= 20.0 and diameter_change >= 20.0
                assert les.shapes["on_treatment"].axial_diameters_mm()[0] - diameter >= 5.0
            else:
                assert abs(suv_change) <= 10.0 and abs(diameter_change) <= 6.0


def test_clinical_tables_follow_recist_and_relationships() -> None:
    records = _records(12, 5)
    tables = build_tables(records)
    recist = tables["recist"]
    baseline = recist[recist["timepoint"] == "baseline"]
    for _, group in baseline.groupby("subject_id"):
        targets = group[group["lesion_type"] == "target"]
        assert len(targets) <= 5 and (targets.empty or targets["organ"].value_counts().max() <= 2)
        nodes = targets[targets["is_lymph_node"] == 1]
        assert (nodes["diameter_mm"] >= 15.0).all() and (targets["diameter_mm"] >= 10.0).all()
        assert (targets["organ"] != "bone").all()
        assert set(group.loc[group["lesion_type"] == "non_target", "non_target_status"]) <= {"present"}
    assert (recist["lesion_type"] == "new").sum() == 1

    histology = tables["histology"]
    assert set(histology["malignant"]) == {0, 1} and (histology["method"] == "biopsy").sum() == 12

    ihc = tables["ihc"]
    assert len(ihc) == 12 and ihc["percent_positive"].between(0, 100).all()
    for r, row in zip(records, ihc.itertuples(), strict=True):
        low, high = r.subject.tracer.lesion_suv
        suv0 = next(les.suvs["baseline"] for les in r.phantom.lesions if les.lesion_id == row.lesion_id)
        expected = 100.0 / (1.0 + math.exp(-(suv0 - (low + high) / 2) / ((high - low) / 6)))
        assert abs(row.percent_positive - expected) < 15.0  # logistic in SUV + N(0, 3)
        assert row.marker == {"F18": "IL2R", "Ga68": "SSTR2", "Zr89": "CD8"}[r.subject.tracer.nuclide]
    order = ["0", "1+", "2+", "3+"]
    assert ihc.sort_values("percent_positive")["intensity"].map(order.index).is_monotonic_increasing

    outcomes = tables["outcomes"]
    assert (outcomes["pfs_months"] <= outcomes["os_months"]).all()
    risk = []
    for r in records:
        malignant = [les for les in r.phantom.lesions if les.malignant and "baseline" in les.suvs]
        risk.append(0.12 * max(les.suvs["baseline"] for les in malignant)
                    + 0.9 * any(les.response_class in ("progress", "new") for les in r.phantom.lesions
                                if les.malignant)
                    - 0.7 * (sum(les.response_class == "respond" for les in malignant) > len(malignant) / 2))
    assert pd.Series(risk).corr(outcomes["os_months"], method="spearman") < -0.5


def test_invalid_arguments_raise(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="n_subjects"):
        generate_cohort(tmp_path, n_subjects=0)
    with pytest.raises(InvalidInputError, match="unknown subject ids"):
        generate_cohort(tmp_path, n_subjects=2, subjects_filter=["P07"])
    with pytest.raises(InvalidInputError, match="noise_sd"):
        generate_cohort(tmp_path, n_subjects=1, noise_sd=-0.1)
    assert not any(tmp_path.iterdir())


def test_noise_is_seeded_and_relative() -> None:
    suv = np.full((3, 5, 5), 2.0)
    a = encode_pet(suv, 1e-3, np.random.default_rng(1), 0.1)
    b = encode_pet(suv, 1e-3, np.random.default_rng(1), 0.1)
    assert np.array_equal(a.stored, b.stored) and a.slope_strings == b.slope_strings
    values = a.rescaled() * 1e-3
    assert 0.05 < values.std() / values.mean() < 0.15
    assert 28000 <= np.abs(a.stored).max() <= 30001 and len(set(a.slope_strings)) == 3


# ---------------------------------------------------------------- the multi-day PK subject
@pytest.fixture(scope="module")
def multiday(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only the multi-day subject (P02 after one trial subject, seed 7) of the workflow test's cohort."""
    out = tmp_path_factory.mktemp("multiday")
    generate_cohort(out, n_subjects=1, seed=7, multiday=True, subjects_filter=["P02"])
    return out


def test_multiday_subject_is_three_scans_after_one_injection(multiday: Path) -> None:
    sheet = pd.read_csv(multiday / "samples.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(sheet["timepoint"]) == ["day2", "day4", "day7"] and set(sheet["nuclide"]) == {"Zr89"}
    assert set(sheet["acquisition"]) == {"static"} and set(sheet["arm"]) == {""}
    assert sheet["study_uid"].nunique() == 3
    dosing = pd.read_csv(multiday / "dosing.csv")
    assert dosing["injection_datetime"].nunique() == 1 and dosing["injected_activity_mbq"].nunique() == 1
    headers = [pydicom.dcmread(next((multiday / "dicom" / "P02" / tp / "PT").glob("*.dcm")), stop_before_pixels=True)
               for tp in sheet["timepoint"]]
    drug = [ds.RadiopharmaceuticalInformationSequence[0] for ds in headers]
    assert len({d.RadiopharmaceuticalStartDateTime for d in drug}) == 1
    assert len({d.RadionuclideTotalDose for d in drug}) == 1 and len({ds.PatientWeight for ds in headers}) == 1
    assert len({ds.StudyInstanceUID for ds in headers}) == 3
    injection = _dt(drug[0].RadiopharmaceuticalStartDateTime)
    days = [(_dt(ds.SeriesDate + ds.SeriesTime) - injection).total_seconds() / 86400 for ds in headers]
    assert days == pytest.approx([2, 4, 7], abs=2 / 24)
    pk = json.loads((multiday / "dicom" / "P02" / "pk_truth.json").read_text())
    assert [s["time_days"] for s in pk["scans"]] == pytest.approx(days, abs=1e-9)
    assert _iso(pk["injection_datetime"]) == injection
    for tp, scan in zip(sheet["timepoint"], pk["scans"], strict=True):
        assert _truth(multiday / "dicom" / "P02" / tp)["uptake_time_s"] == scan["uptake_time_s"]


def test_multiday_uptake_is_exact_and_pk_has_a_known_answer(multiday: Path) -> None:
    from scipy.integrate import quad

    from pipeline.kinetics.pk import pk_curve

    pk = json.loads((multiday / "dicom" / "P02" / "pk_truth.json").read_text())
    days = np.array([s["time_days"] for s in pk["scans"]])
    lam_phys = math.log(2) / (pk["half_life_s"] / 86400)
    truths = [_truth(multiday / "dicom" / "P02" / s["timepoint"]) for s in pk["scans"]]
    kinds = set()
    for name, voi in pk["vois"].items():
        b = voi["biological_rate_per_day"]
        assert voi["suv"] == pytest.approx(voi["suv_at_injection"] * np.exp(-b * days), rel=1e-12)
        for truth, suv in zip(truths, voi["suv"], strict=True):
            entry = next(v for v in truth["vois"] if v["name"] == name)
            assert entry["suv_true"] == pytest.approx(suv, rel=1e-12)
            assert entry["suv_mean"] == pytest.approx(suv, rel=1e-3)  # stored int16 values: quantisation only
        lam = b + lam_phys
        assert lam > 0 and voi["t_eff_days"] == pytest.approx(math.log(2) / lam, rel=1e-12)
        a0 = voi["activity_at_injection_kbq_ml"]
        assert a0 == pytest.approx(voi["suv_at_injection"] * pk["injected_dose_bq"] / pk["weight_kg"] / 1e6, rel=1e-12)
        analytic = quad(lambda t, a0=a0, lam=lam: a0 * math.exp(-lam * t), days[0], math.inf)[0]
        assert voi["auc_first_inf_kbq_day_ml"] == pytest.approx(analytic, rel=1e-9)
        # petvoi's PK of the exact curve (decay-corrected activity at the scan times) gives it back
        res = pk_curve(days, np.asarray(voi["suv"]) * pk["injected_dose_bq"] / pk["weight_kg"] / 1e6,
                       decay_corrected=True, half_life_s=pk["half_life_s"])
        assert res.auc_first_inf == pytest.approx(voi["auc_first_inf_kbq_day_ml"], rel=1e-9)
        assert res.auc_first_last == pytest.approx(voi["auc_first_last_kbq_day_ml"], rel=1e-9)
        assert res.t_eff_days == pytest.approx(voi["t_eff_days"], rel=1e-9)
        if voi["t_bio_days"] is None:
            assert b < 0 and voi["kind"] == "tumour"  # malignant lesions accumulate
        else:
            assert res.t_bio_days == pytest.approx(voi["t_bio_days"], rel=1e-6)
        kinds.add(voi["kind"])
    assert {"organ", "reference", "tumour", "body"} <= kinds


def test_multiday_subject_leaves_the_trial_subjects_unchanged() -> None:
    from pipeline.synthetic import cohort_tables

    plain, extended = cohort_tables(3, 11), cohort_tables(3, 11, multiday=True)
    for name, frame in plain.items():
        rest = extended[name][extended[name]["subject_id"] != "P04"].reset_index(drop=True)
        pd.testing.assert_frame_equal(rest, frame)
    assert set(extended["samples"]["subject_id"]) == {"P01", "P02", "P03", "P04"}
    assert "P04" not in set(extended["recist"]["subject_id"]) | set(extended["outcomes"]["subject_id"])
    with pytest.raises(InvalidInputError, match=r"use ids P01\.\.P04"):
        generate_cohort(Path("unused"), n_subjects=3, multiday=True, subjects_filter=["P05"])
