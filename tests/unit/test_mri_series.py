"""Dynamic MR series decoding (issue 19, item 2): phase times from TriggerTime (GE, Philips style), per-phase
AcquisitionTime (Siemens style) or ContentTime, phases by TemporalPositionIdentifier or by time; the (t, z, y, x)
volume holds each frame at its phase and slice; incomplete phases and timeless series are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from pipeline.errors import DicomError
from pipeline.mri.series import load_mr_dynamic

PHASE_S = [0.0, 4.5, 9.0, 13.5, 18.0]
N_Z, ROWS, COLS = 3, 4, 5


def _value(t: int, z: int) -> int:
    return 100 * (t + 1) + z


def write_dce(folder: Path, style: str, *, drop: tuple[int, int] | None = None) -> Path:
    """A DCE series of 5 phases x 3 slices, pixel value 100 (phase + 1) + slice, in a vendor's timing style:
    ``trigger`` (TriggerTime ms, one AcquisitionTime, TemporalPositionIdentifier), ``acquisition`` (one
    AcquisitionTime per phase, no phase index), ``content`` (ContentTime only)."""
    folder.mkdir(parents=True)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    n = 0
    for t, seconds in enumerate(PHASE_S):
        for z in range(N_Z):
            if drop == (t, z):
                continue
            ds = Dataset()
            ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.4", generate_uid()
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
            ds.Modality, ds.Manufacturer, ds.PatientID = "MR", "SYNTHETIC", "X"
            ds.ImagePositionPatient = [0.0, 0.0, 3.0 * z]
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing, ds.SliceThickness = [1.5, 1.5], 3.0
            ds.FlipAngle, ds.RepetitionTime = 15.0, 4.5
            ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = ROWS, COLS, 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.RescaleSlope, ds.RescaleIntercept = 1, 0
            ds.InstanceNumber = n + 1
            start = 9 * 3600 + 30 * 60 + 10.0
            if style == "trigger":
                ds.AcquisitionTime = "093010.000000"
                ds.TriggerTime = seconds * 1000.0
                ds.TemporalPositionIdentifier = t + 1
            elif style == "acquisition":
                moment = start + seconds
                ds.AcquisitionDate = "20250303"
                ds.AcquisitionTime = (f"{int(moment // 3600):02d}{int(moment % 3600 // 60):02d}"
                                      f"{moment % 60:09.6f}")
            else:
                moment = start + seconds
                ds.ContentTime = f"{int(moment // 3600):02d}{int(moment % 3600 // 60):02d}{moment % 60:09.6f}"
            ds.PixelData = np.full((ROWS, COLS), _value(t, z), dtype=np.uint16).tobytes()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (ds.SOPClassUID,
                                                                                            ds.SOPInstanceUID)
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.save_as(folder / f"MR_{n:04d}.dcm", enforce_file_format=True)
            n += 1
    return folder


@pytest.mark.parametrize(("style", "source"), [("trigger", "TriggerTime"), ("acquisition", "AcquisitionDateTime"),
                                               ("content", "ContentTime")])
def test_phases_and_their_times_in_each_vendor_style(tmp_path: Path, style: str, source: str) -> None:
    dce = load_mr_dynamic(write_dce(tmp_path / "DCE", style), workers=1)
    assert dce.volume.shape == (5, N_Z, ROWS, COLS)
    assert dce.times_s == pytest.approx(PHASE_S, abs=1e-6) and dce.time_source.startswith(source)
    for t in range(5):
        for z in range(N_Z):
            assert float(dce.volume[t, z, 0, 0]) == _value(t, z)
    assert dce.flip_deg == 15.0 and dce.tr_s == pytest.approx(0.0045)
    assert dce.geometry.shape == (N_Z, ROWS, COLS)


def test_a_phase_missing_a_slice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DicomError, match="phase 3 has no frame at slice 2"):
        load_mr_dynamic(write_dce(tmp_path / "DCE", "trigger", drop=(2, 1)), workers=1)


def test_a_series_without_phase_times_is_refused(tmp_path: Path) -> None:
    folder = write_dce(tmp_path / "DCE", "trigger")
    for f in folder.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        del ds.TriggerTime
        ds.save_as(f)
    with pytest.raises(DicomError, match="the phases have no times"):
        load_mr_dynamic(folder, workers=1)


def test_dce_stage_recovers_the_kinetics_from_dicom_signal(tmp_path: Path) -> None:
    """An SPGR DCE series (2 slices of 6 x 6, a phase every 4 s for 240 s, Parker AIF at 20 s, T10 1.4 s, r1 4.5
    /mM/s, FA 15, TR 4.5 ms) whose tumour follows the extended Tofts model (Ktrans 0.25 /min, ve 0.30, vp 0.05),
    muscle (0.05, 0.10, 0.02), and an artery the blood AIF: `petvoi mri-dce` returns the truth, by the Parker AIF
    and by the arterial VOI."""
    import json

    import dcmri
    import pandas as pd

    from pipeline.cli import main
    from pipeline.dicom.geometry import read_nifti
    from pipeline.mri.dce import model_curve
    from pipeline.mri.relaxometry import spgr_signal
    from pipeline.voi.catalogue import Voi, VoiSet, write_voiset

    t = np.arange(0.0, 240.1, 4.0)
    cb = dcmri.aif_parker(t, BAT=20.0) * 1000.0
    cp = cb / (1 - 0.45)
    tissue = {"tumour": model_curve("etm", cp, t, np.array([0.25 / 60, 0.30, 0.05])),
              "muscle": model_curve("etm", cp, t, np.array([0.05 / 60, 0.10, 0.02])), "artery": cb}
    regions = {"tumour": (slice(0, 2), slice(0, 3), slice(0, 3)), "muscle": (slice(0, 2), slice(3, 6), slice(0, 6)),
               "artery": (slice(0, 2), slice(0, 3), slice(4, 6))}
    conc = np.zeros((t.size, 2, 6, 6))
    for name, region in regions.items():
        conc[(slice(None), *region)] = tissue[name][:, None, None, None]
    signal = spgr_signal(1000.0, 1.0 / (1.0 / 1.4 + 4.5 * conc), 0.0045, 15.0)
    folder = tmp_path / "DCE"
    folder.mkdir()
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    for k, seconds in enumerate(t):
        for z in range(2):
            ds = Dataset()
            ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.4", generate_uid()
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
            ds.Modality, ds.Manufacturer, ds.PatientID = "MR", "GE MEDICAL SYSTEMS", "X"
            ds.ImagePositionPatient, ds.ImageOrientationPatient = [0.0, 0.0, 4.0 * z], [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing, ds.SliceThickness, ds.FlipAngle, ds.RepetitionTime = [2.0, 2.0], 4.0, 15.0, 4.5
            ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 6, 6, 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.RescaleSlope, ds.RescaleIntercept = 0.01, 0
            ds.TriggerTime, ds.TemporalPositionIdentifier, ds.AcquisitionTime = seconds * 1000.0, k + 1, "101500"
            ds.PixelData = np.round(signal[k, z] / 0.01).astype(np.uint16).tobytes()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (ds.SOPClassUID,
                                                                                            ds.SOPInstanceUID)
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.save_as(folder / f"MR_{k:03d}_{z}.dcm", enforce_file_format=True)
    geometry = load_mr_dynamic(folder, workers=1).geometry
    masks = []
    for name, region in regions.items():
        mask = np.zeros((2, 6, 6), bool)
        mask[region] = True
        masks.append((mask, Voi(label=0, name=name, kind="tumour" if name == "tumour" else "organ")))
    write_voiset(tmp_path / "vois.nii.gz", VoiSet.from_masks(geometry, masks))
    common = ["--dce", str(folder), "--vois", str(tmp_path / "vois.nii.gz"), "--t10", "1.4", "--r1", "4.5",
              "--model", "etm"]
    assert main(["-q", "mri-dce", *common, "--bolus-arrival", "20", "-o", str(tmp_path / "parker")]) == 0
    table = pd.read_csv(tmp_path / "parker" / "dce.csv").set_index("voi")
    assert table.loc["tumour", ["ktrans_per_min", "ve", "vp"]].tolist() == pytest.approx([0.25, 0.30, 0.05], rel=0.01)
    assert table.loc["muscle", ["ktrans_per_min", "ve", "vp"]].tolist() == pytest.approx([0.05, 0.10, 0.02], rel=0.02)
    assert table.loc["tumour", "time_to_peak_s"] > 0 and table.loc["tumour", "iaugc60_mm_s"] > 0
    ktrans, grid = read_nifti(tmp_path / "parker" / "ktrans_per_min.nii.gz")
    assert grid.same_grid(geometry) and float(np.nanmedian(ktrans[0, :3, :3])) == pytest.approx(0.25, rel=0.01)
    sidecar = json.loads((tmp_path / "parker" / "dce.json").read_text())
    assert sidecar["time_source"].startswith("TriggerTime") and sidecar["aif"]["kind"] == "population"
    assert sidecar["maps"]["n_not_converged"] == 0
    assert main(["-q", "mri-dce", *common, "--aif-voi", "artery", "--no-maps", "-o", str(tmp_path / "voi")]) == 0
    by_voi = pd.read_csv(tmp_path / "voi" / "dce.csv").set_index("voi")
    assert "artery" not in by_voi.index
    assert by_voi.loc["tumour", "ktrans_per_min"] == pytest.approx(0.25, rel=0.01)


@pytest.mark.parametrize("vendor", ["SIEMENS", "GE MEDICAL SYSTEMS"])
def test_dwi_stage_recovers_ivim_kurtosis_and_adc(tmp_path: Path, vendor: str) -> None:
    """A trace DWI (3 directions per b, b in the vendor's private tag: Siemens (0019,100C), GE (0043,1039) with the
    10^9 offset) of a tumour (f 0.12, D* 0.020, D 1.0e-3 mm²/s) and a kurtosis region (D 1.0e-3, K 0.9): the VOI fits
    of `petvoi mri-dwi` return them."""
    import json

    import pandas as pd

    from pipeline.cli import main
    from pipeline.voi.catalogue import Voi, VoiSet, write_voiset

    b_ivim = np.array([0, 10, 20, 30, 50, 80, 100, 150, 200, 300, 400, 500, 600, 800, 1000], float)
    b_all = np.concatenate([b_ivim, [1500.0, 2000.0, 2500.0]])
    ivim = 1000 * (0.12 * np.exp(-b_all * 0.020) + 0.88 * np.exp(-b_all * 1.0e-3))
    dki = 1000 * np.exp(-b_all * 1.0e-3 + b_all ** 2 * 1.0e-6 * 0.9 / 6)
    folder = tmp_path / "DWI"
    folder.mkdir()
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    n = 0
    for k, b in enumerate(b_all):
        for _direction in range(3 if b > 0 else 1):
            for z in range(2):
                image = np.zeros((4, 4))
                image[:, :2] = ivim[k]
                image[:, 2:] = dki[k]
                ds = Dataset()
                ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.4", generate_uid()
                ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
                ds.Modality, ds.Manufacturer, ds.PatientID = "MR", vendor, "X"
                ds.ImagePositionPatient, ds.ImageOrientationPatient = [0.0, 0.0, 5.0 * z], [1, 0, 0, 0, 1, 0]
                ds.PixelSpacing, ds.SliceThickness = [2.0, 2.0], 5.0
                ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 4, 4, 1, "MONOCHROME2"
                ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
                ds.RescaleSlope, ds.RescaleIntercept = 0.05, 0
                if vendor == "SIEMENS":
                    ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", str(int(b)))
                else:
                    ds.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(
                        0x39, "IS", [str(1_000_000_000 + int(b)), "8", "0", "0"])
                ds.PixelData = np.round(image / 0.05).astype(np.uint16).tobytes()
                ds.file_meta = FileMetaDataset()
                ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (ds.SOPClassUID,
                                                                                                ds.SOPInstanceUID)
                ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
                ds.save_as(folder / f"DWI_{n:04d}.dcm", enforce_file_format=True)
                n += 1
    from pipeline.mri.dwi import load_dwi

    dwi = load_dwi(folder, workers=1)
    assert dwi.b_values.tolist() == b_all.tolist() and dwi.volume.shape == (b_all.size, 2, 4, 4)
    assert ("Siemens (0019,100C)" if vendor == "SIEMENS" else "GE (0043,1039)") == dwi.b_source
    tumour, kurtosis = np.zeros((2, 4, 4), bool), np.zeros((2, 4, 4), bool)
    tumour[:, :, :2], kurtosis[:, :, 2:] = True, True
    write_voiset(tmp_path / "vois.nii.gz", VoiSet.from_masks(dwi.geometry, [
        (tumour, Voi(label=0, name="tumour", kind="tumour")), (kurtosis, Voi(label=0, name="cortex", kind="organ"))]))
    assert main(["-q", "mri-dwi", "--dwi", str(folder), "--vois", str(tmp_path / "vois.nii.gz"), "--ivim-method",
                 "full", "--no-maps", "-o", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "dwi.csv").set_index("voi")
    tumour_row = table.loc["tumour"]
    assert (tumour_row["ivim_f"], tumour_row["ivim_dstar_mm2_per_s"], tumour_row["ivim_d_mm2_per_s"]) == \
        pytest.approx((0.12, 0.020, 1.0e-3), rel=0.02)
    cortex = table.loc["cortex"]
    assert (cortex["dki_d_app_mm2_per_s"], cortex["dki_k_app"]) == pytest.approx((1.0e-3, 0.9), rel=0.01)
    assert cortex["ivim_adc_mm2_per_s"] > 0 and json.loads((tmp_path / "out" / "dwi.json").read_text())["dki"]


def test_mri_normalise_then_texture_with_the_mri_parameters(tmp_path: Path, repo: Path) -> None:
    """An MR image z-scored within its muscle VOI (mean 0, SD 1 there) goes through `petvoi texture` with
    configs/radiomics_mri.yaml; an unknown reference VOI is a one-line refusal."""
    import pandas as pd

    from pipeline.cli import main
    from pipeline.dicom.geometry import Geometry, read_nifti, write_nifti
    from pipeline.voi.catalogue import Voi, VoiSet, write_voiset

    geometry = Geometry((12, 24, 24), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    rng = np.random.default_rng(2)
    image = rng.normal(400.0, 30.0, geometry.shape)
    tumour = np.zeros(geometry.shape, bool)
    tumour[2:10, 4:12, 4:12] = True
    image[tumour] += rng.normal(200.0, 60.0, int(tumour.sum()))
    muscle = np.zeros(geometry.shape, bool)
    muscle[2:10, 14:22, 14:22] = True
    write_nifti(tmp_path / "mr.nii.gz", image.astype(np.float32), geometry)
    write_voiset(tmp_path / "vois.nii.gz", VoiSet.from_masks(geometry, [
        (tumour, Voi(label=0, name="tumour", kind="tumour")), (muscle, Voi(label=0, name="muscle", kind="organ"))]))
    assert main(["-q", "mri-normalise", "--image", str(tmp_path / "mr.nii.gz"), "--vois", str(tmp_path / "vois.nii.gz"),
                 "--reference", "muscle", "-o", str(tmp_path / "mr_z.nii.gz")]) == 0
    z, _ = read_nifti(tmp_path / "mr_z.nii.gz")
    assert float(z[muscle].mean()) == pytest.approx(0.0, abs=1e-4) and float(z[muscle].std(ddof=1)) == pytest.approx(
        1.0, abs=1e-4)
    assert main(["-q", "texture", "--image", str(tmp_path / "mr_z.nii.gz"), "--vois", str(tmp_path / "vois.nii.gz"),
                 "--params", str(repo / "configs" / "radiomics_mri.yaml"), "--workers", "1",
                 "-o", str(tmp_path / "texture.csv")]) == 0
    texture = pd.read_csv(tmp_path / "texture.csv")
    assert set(texture["name"]) >= {"tumour"} and texture["value"].notna().sum() > 50
    assert main(["mri-normalise", "--image", str(tmp_path / "mr.nii.gz"), "--vois", str(tmp_path / "vois.nii.gz"),
                 "--reference", "liver", "-o", str(tmp_path / "x.nii.gz")]) == 2


def _vfa_series(folder: Path, flips: list[float], t1: np.ndarray, *, series_uid: str | None = None) -> None:
    """Static SPGR MR frames (2 slices of 4 x 4, TR 5 ms) of ``t1`` (z, y, x), one per slice and flip angle."""
    from pipeline.mri.relaxometry import spgr_signal

    folder.mkdir(parents=True, exist_ok=True)
    series = series_uid or generate_uid()
    for a in flips:
        for z in range(2):
            ds = Dataset()
            ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.4", generate_uid()
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = "1.2.3.4", series, "1.2.3.5"
            ds.Modality, ds.Manufacturer, ds.PatientID = "MR", "Philips", "X"
            ds.ImagePositionPatient, ds.ImageOrientationPatient = [0.0, 0.0, 4.0 * z], [1, 0, 0, 0, 1, 0]
            ds.PixelSpacing, ds.SliceThickness, ds.FlipAngle, ds.RepetitionTime = [2.0, 2.0], 4.0, a, 5.0
            ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 4, 4, 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.RescaleSlope, ds.RescaleIntercept = 0.001, 0
            ds.PixelData = np.round(spgr_signal(1000.0, t1[z], 0.005, a) / 0.001).astype(np.uint16).tobytes()
            ds.file_meta = FileMetaDataset()
            ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (ds.SOPClassUID,
                                                                                            ds.SOPInstanceUID)
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds.save_as(folder / f"VFA_{a:g}_{z}.dcm", enforce_file_format=True)


@pytest.mark.parametrize("layout", ["one_folder", "folder_per_angle"])
def test_mri_t1_from_variable_flip_angle_dicom(tmp_path: Path, layout: str) -> None:
    """A two-tissue VFA acquisition (T1 1.2 and 0.8 s; 2, 5, 10, 15, 20 degrees) as DICOM: `petvoi mri-t1` gives
    each T1; fewer than two angles are refused."""
    import json

    from pipeline.cli import main
    from pipeline.dicom.geometry import read_nifti

    flips = [2.0, 5.0, 10.0, 15.0, 20.0]
    t1 = np.ones((2, 4, 4)) * 1.2
    t1[:, :, 2:] = 0.8
    if layout == "one_folder":
        _vfa_series(tmp_path / "VFA", flips, t1)
        folders = [str(tmp_path / "VFA")]
    else:
        folders = []
        for a in flips:
            _vfa_series(tmp_path / f"FA{a:g}", [a], t1)
            folders.append(str(tmp_path / f"FA{a:g}"))
    assert main(["-q", "mri-t1", "--vfa", *folders, "-o", str(tmp_path / "t1.nii.gz")]) == 0
    t1_map, _ = read_nifti(tmp_path / "t1.nii.gz")
    assert np.asarray(t1_map) == pytest.approx(t1, rel=2e-3)
    assert json.loads((tmp_path / "t1.json").read_text())["flip_deg"] == flips
    _vfa_series(tmp_path / "ONE", [10.0], t1)
    assert main(["mri-t1", "--vfa", str(tmp_path / "ONE"), "-o", str(tmp_path / "x.nii.gz")]) == 2


def test_mri_maps_as_dicom_parametric_maps(tmp_path: Path, dciodvfy: str) -> None:
    """A Ktrans map on a DCE series' grid becomes a Parametric Map in /min referencing the series' first phase:
    the values at each plane position equal the map, and dciodvfy finds no error."""
    import subprocess

    from pipeline.cli import main
    from pipeline.dicom.geometry import write_nifti

    folder = write_dce(tmp_path / "DCE", "trigger")
    geometry = load_mr_dynamic(folder, workers=1).geometry
    ktrans = np.linspace(0.0, 0.5, N_Z * ROWS * COLS, dtype=np.float32).reshape(N_Z, ROWS, COLS)
    write_nifti(tmp_path / "ktrans_per_min.nii.gz", ktrans, geometry)
    assert main(["-q", "mri-export", "--series", str(folder), "--map", str(tmp_path / "ktrans_per_min.nii.gz"),
                 "-o", str(tmp_path / "dicom")]) == 0
    pm = pydicom.dcmread(tmp_path / "dicom" / "ktrans_per_min_pm.dcm")
    mapping = pm.SharedFunctionalGroupsSequence[0].RealWorldValueMappingSequence[0]
    assert mapping.MeasurementUnitsCodeSequence[0].CodeValue == "/min" and mapping.LUTLabel == "Ktrans"
    z = [geometry.lps_to_index(np.asarray(f.PlanePositionSequence[0].ImagePositionPatient, float))[2]
         for f in pm.PerFrameFunctionalGroupsSequence]
    np.testing.assert_array_equal(pm.pixel_array.astype(np.float32)[np.argsort(z)], ktrans)
    check = subprocess.run([dciodvfy, str(tmp_path / "dicom" / "ktrans_per_min_pm.dcm")], capture_output=True,
                           text=True, timeout=120, check=False)
    assert [line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")] == []
    write_nifti(tmp_path / "unknown.nii.gz", ktrans, geometry)
    assert main(["mri-export", "--series", str(folder), "--map", str(tmp_path / "unknown.nii.gz"),
                 "-o", str(tmp_path / "x")]) == 2


def test_deidentified_mri_export_needs_the_subject(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """With --deidentify the sources' dates move by the subject's offset: without --as-subject the export is refused
    (it used to shift them by the offset of a placeholder subject); with it, the map carries the subject id."""
    from pipeline.cli import main
    from pipeline.dicom.geometry import write_nifti

    monkeypatch.setenv("PETVOI_DEID_SECRET", "0123456789abcdef0123456789abcdef")
    folder = write_dce(tmp_path / "DCE", "trigger")
    geometry = load_mr_dynamic(folder, workers=1).geometry
    write_nifti(tmp_path / "ve.nii.gz", np.full((N_Z, ROWS, COLS), 0.3, np.float32), geometry)
    args = ["mri-export", "--series", str(folder), "--map", str(tmp_path / "ve.nii.gz"), "-o", str(tmp_path / "d")]
    capsys.readouterr()
    assert main(["--deidentify", "-", *args]) == 2
    assert "--as-subject" in capsys.readouterr().err and not (tmp_path / "d" / "ve_pm.dcm").exists()
    assert main(["-q", "--deidentify", "-", "--as-subject", "P07", *args]) == 0
    assert str(pydicom.dcmread(tmp_path / "d" / "ve_pm.dcm").PatientID) == "P07"
