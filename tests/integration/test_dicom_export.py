"""DICOM outputs (issue 18): SEG, TID 1500 SR and SUV Parametric Map of a study pass dciodvfy without errors, read
back with highdicom, and hold exactly petvoi's masks, uptake values and SUV volume."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import highdicom as hd
import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.sr.codedict import codes

from pipeline.cli import main
from pipeline.dicom.geometry import read_nifti
from pipeline.voi.catalogue import read_voiset


@pytest.fixture(scope="module")
def studies(cohort_1: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """P01 baseline and on-treatment: suv, vois, uptake and the DICOM export of each."""
    out = {}
    for order, timepoint in enumerate(("baseline", "on_treatment"), 1):
        dicom = cohort_1 / "dicom" / "P01" / timepoint
        study = tmp_path_factory.mktemp(timepoint)
        assert main(["-q", "suv", str(dicom / "PT"), "-o", str(study / "suv.nii.gz")]) == 0
        assert main(["-q", "vois", "--pet", str(study / "suv.nii.gz"), "--rtstruct", str(dicom / "RTSTRUCT"),
                     "-o", str(study / "vois.nii.gz")]) == 0
        assert main(["-q", "uptake", "--suv", str(study / "suv.nii.gz"), "--vois", str(study / "vois.nii.gz"),
                     "-o", str(study / "uptake.csv")]) == 0
        assert main(["-q", "export", "--pet", str(dicom / "PT"), "--study", str(study), "--subject", "P01",
                     "--timepoint", timepoint, "--timepoint-order", str(order)]) == 0
        out[timepoint] = study
    return out


@pytest.mark.parametrize("name", ["seg", "sr", "suv_pm"])
def test_dciodvfy_finds_no_error(studies: dict[str, Path], dciodvfy: str, name: str) -> None:
    proc = subprocess.run([dciodvfy, str(studies["baseline"] / "dicom" / f"{name}.dcm")], capture_output=True,
                          text=True, timeout=120, check=False)
    lines = (proc.stdout + proc.stderr).splitlines()
    errors = [line for line in lines if line.startswith("Error")]
    assert errors == [], errors
    # the only remarks: dicom3tools' tables (2022) predate the defined term QUANTITY (Parametric Map), and know no
    # private coding scheme (the SR's radiopharmaceutical name, declared in CodingSchemeIdentificationSequence)
    warnings = {line for line in lines if line.startswith("Warning")}
    assert warnings <= {"Warning - Unrecognized defined term <QUANTITY> for value 4 of attribute <Frame Type>",
                        "Warning - Unrecognized defined term <QUANTITY> for value 4 of attribute <Image Type>",
                        "Warning - Unrecognized defined term <99PETVOI> for value 1 of attribute "
                        "<Coding Scheme Designator>"}


def test_sr_values_equal_the_uptake_table(studies: dict[str, Path]) -> None:
    study = studies["baseline"]
    uptake = pd.read_csv(study / "uptake.csv").set_index("name")
    sr = hd.sr.Comprehensive3DSR.from_dataset(pydicom.dcmread(study / "dicom" / "sr.dcm"))
    groups = sr.content.get_volumetric_roi_measurement_groups()
    assert sorted(g.tracking_identifier for g in groups) == sorted(uptake.index[uptake["n_voxels"] > 0])
    columns = {(codes.DCM.Suvbw.value, codes.SCT.Maximum.value): "suv_max",
               (codes.DCM.Suvbw.value, codes.SCT.Mean.value): "suv_mean",
               (codes.DCM.Suvbw.value, codes.DCM.PeakValueWithinROI.value): "suv_peak",
               (codes.DCM.Suvbw.value, codes.SCT.StandardDeviation.value): "suv_sd",
               (codes.DCM.SuvlbmJanma.value, codes.SCT.Maximum.value): "sul_max",
               (codes.DCM.SuvlbmJanma.value, codes.SCT.Mean.value): "sul_mean",
               (codes.DCM.MetabolicVolume.value, None): "volume_ml", (codes.SCT.Volume.value, None): "volume_ml",
               (codes.DCM.TotalLesionGlycolysis.value, None): "tlg"}
    compared = 0
    for group in groups:
        row = uptake.loc[group.tracking_identifier]
        for m in group.get_measurements():
            derivation = m.derivation.value if m.derivation is not None else None
            column = columns.get((m.name.value, derivation))
            if column is None:
                continue
            assert m.value == pytest.approx(float(row[column]), rel=1e-9), (group.tracking_identifier, column)
            if column.startswith("suv"):
                assert m.unit.value == "g/ml{SUVbw}"
            compared += 1
    assert compared >= 4 * len(groups)
    # the activity session: radiopharmaceutical, radionuclide, injected activity and uptake time
    content = pydicom.dcmread(study / "dicom" / "sr.dcm")
    text = str(content)
    assert "[18F]AlF-RESCA-IL2" in text and "^18^Fluorine" in text
    assert "Radionuclide Total Dose" in text and "PET Radionuclide Incubation Time" in text
    lesion = next(g for g in groups if g.tracking_identifier == "lesion_01")
    names = {m.name.value for m in lesion.get_measurements()}
    assert {codes.DCM.MetabolicVolume.value, codes.DCM.TotalLesionGlycolysis.value} <= names
    assert lesion.referenced_segment is not None


def test_seg_reads_back_to_identical_masks(studies: dict[str, Path], tmp_path: Path) -> None:
    """petvoi vois --seg reads its own SEG back: the same names and masks as the VOI set exported."""
    study = studies["baseline"]
    assert main(["-q", "vois", "--pet", str(study / "suv.nii.gz"), "--seg", str(study / "dicom" / "seg.dcm"),
                 "-o", str(tmp_path / "back.nii.gz")]) == 0
    before, after = read_voiset(study / "vois.nii.gz"), read_voiset(tmp_path / "back.nii.gz")
    kept = [i for i, v in enumerate(before.vois) if before.masks[i].any()]
    assert [after.vois[j].name for j in range(len(after.vois))] == [before.vois[i].name for i in kept]
    for j, i in enumerate(kept):
        assert np.array_equal(after.masks[j], before.masks[i]), before.vois[i].name
        assert after.vois[j].kind == before.vois[i].kind


def test_tracking_uids_of_a_lesion_are_the_same_at_both_timepoints(studies: dict[str, Path]) -> None:
    def tracking(timepoint: str) -> dict[str, str]:
        seg = pydicom.dcmread(studies[timepoint] / "dicom" / "seg.dcm")
        return {s.TrackingID: s.TrackingUID for s in seg.SegmentSequence}

    base, follow = tracking("baseline"), tracking("on_treatment")
    common = set(base) & set(follow)
    assert "lesion_01" in common and all(base[n] == follow[n] for n in common)
    assert len(set(base.values())) == len(base)


def test_parametric_map_holds_the_suv_volume(studies: dict[str, Path]) -> None:
    study = studies["baseline"]
    suv, geometry = read_nifti(study / "suv.nii.gz")
    pm = pydicom.dcmread(study / "dicom" / "suv_pm.dcm")
    mapping = pm.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    assert mapping.MeasurementUnitsCodeSequence[0].CodeValue == "g/ml{SUVbw}"
    assert float(mapping.RealWorldValueSlope) == 1.0 and float(mapping.RealWorldValueIntercept) == 0.0
    # frames in highdicom's order, each at its plane position: put them on petvoi's z axis
    z = [geometry.lps_to_index(np.asarray(f.PlanePositionSequence[0].ImagePositionPatient, float))[2]
         for f in pm.PerFrameFunctionalGroupsSequence]
    assert np.allclose(z, np.round(z), atol=1e-3) and sorted(np.round(z).astype(int)) == list(range(suv.shape[0]))
    pixels = pm.pixel_array.astype(np.float32)[np.argsort(z)]
    assert np.array_equal(pixels, np.asarray(suv, dtype=np.float32))
    seg = pydicom.dcmread(study / "dicom" / "seg.dcm")
    assert seg.FrameOfReferenceUID == pm.FrameOfReferenceUID
    assert float(mapping.DoubleFloatRealWorldValueLastValueMapped) == pytest.approx(float(np.max(suv)), rel=1e-6)


def test_deidentified_export_references_a_deidentified_pet(cohort_1: Path, studies: dict[str, Path],
                                                           tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With petvoi --deidentify the objects carry the subject id, pseudonymised UIDs and no name, birth date,
    accession number or institution of the PET."""
    monkeypatch.setenv("PETVOI_DEID_SECRET", "0123456789abcdef0123456789abcdef")
    study = tmp_path / "study"
    shutil.copytree(studies["baseline"], study, ignore=shutil.ignore_patterns("dicom"))
    pt = cohort_1 / "dicom" / "P01" / "baseline" / "PT"
    assert main(["-q", "--deidentify", "-", "export", "--pet", str(pt), "--study", str(study), "--subject", "P01",
                 "--timepoint", "baseline", "--no-parametric-map"]) == 0
    source = pydicom.dcmread(next(pt.glob("*.dcm")), stop_before_pixels=True)
    raw = [str(source.PatientName), str(source.PatientID), str(source.StudyInstanceUID),
           str(source.SeriesInstanceUID), str(source.FrameOfReferenceUID), str(source.AccessionNumber),
           str(source.get("InstitutionName", "")), str(source.PatientBirthDate)]
    for name in ("seg.dcm", "sr.dcm"):
        data = (study / "dicom" / name).read_bytes().decode("latin-1")
        assert [v for v in raw if v and v in data] == [], name
        ds = pydicom.dcmread(study / "dicom" / name)
        assert str(ds.PatientID) == "P01" and str(ds.StudyInstanceUID).startswith("2.25.")
    assert not (study / "dicom" / "suv_pm.dcm").exists()


def test_a_seg_on_another_frame_of_reference_is_refused_naming_both(studies: dict[str, Path], tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    study = studies["baseline"]
    seg = pydicom.dcmread(study / "dicom" / "seg.dcm")
    pet_for = str(seg.FrameOfReferenceUID)
    seg.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.999999"
    seg.save_as(tmp_path / "seg.dcm")
    capsys.readouterr()
    assert main(["vois", "--pet", str(study / "suv.nii.gz"), "--seg", str(tmp_path / "seg.dcm"),
                 "-o", str(tmp_path / "vois.nii.gz")]) == 2
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "1.2.826.0.1.3680043.8.498.999999" in line and pet_for in line
    assert not (tmp_path / "vois.nii.gz").exists()
