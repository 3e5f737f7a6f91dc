"""MRI pieces of issue 19 with exact answers: the IVIM-kurtosis fit, PET VOIs resampled onto an MR grid (identity
and a registration), the MR sample sheet's checks, and the MRI statistics endpoint on tables whose answers are
known (monotone relations: rho = 1; every lesion halved: geometric-mean ratio 0.5)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.dicom.geometry import Geometry
from pipeline.errors import InvalidInputError, SampleSheetError
from pipeline.mri.diffusion import fit_ivim, fit_ivim_dki
from pipeline.voi.catalogue import Voi, VoiSet

B = np.array([0, 10, 20, 40, 60, 100, 150, 200, 400, 600, 800, 1000, 1500, 2000], float)


def _ivim_kurtosis(f: float, d: float, dstar: float, k: float) -> np.ndarray:
    return 1000 * (f * np.exp(-B * dstar) + (1 - f) * np.exp(-B * d + (B * d) ** 2 * k / 6))


@pytest.mark.parametrize(("f", "d", "dstar", "k"), [(0.12, 1.1e-3, 0.03, 0.85), (0.05, 1.6e-3, 0.02, 0.5),
                                                    (0.25, 0.8e-3, 0.05, 1.3)])
def test_ivim_kurtosis_recovers_the_truth_where_the_biexponential_is_biased(f: float, d: float, dstar: float,
                                                                         k: float) -> None:
    s = _ivim_kurtosis(f, d, dstar, k)
    joint = fit_ivim_dki(B, s)
    assert joint.ivim.converged
    assert (joint.ivim.f, joint.ivim.d_mm2_per_s, joint.ivim.dstar_mm2_per_s, joint.k) == pytest.approx(
        (f, d, dstar, k), rel=1e-4)
    biexponential = fit_ivim(B, s, method="full")  # kurtosis bends the tissue term: D is off by more than 5 %
    assert abs(biexponential.d_mm2_per_s / d - 1) > 0.05


def _grid(shape: tuple[int, int, int], spacing: float, origin: tuple[float, float, float]) -> Geometry:
    return Geometry(shape, (spacing, spacing, spacing), origin, np.eye(3))


def _pet_vois(frame: str | None) -> VoiSet:
    pet = _grid((20, 20, 20), 4.0, (0.0, 0.0, 0.0))
    mask = np.zeros(pet.shape, bool)
    mask[5:10, 5:10, 5:10] = True  # x, y, z in [20, 36] mm of voxel centres: a 20 mm cube from 18 to 38 mm
    return VoiSet.from_masks(pet, [(mask, Voi(label=0, name="lesion_01", kind="tumour", lesion_id="lesion_01"))],
                             {"frame_of_reference_uid": frame})


def test_pet_vois_resampled_to_a_finer_mr_grid_keep_their_volume() -> None:
    from pipeline.mri.vois import resample_voiset

    mr = _grid((40, 40, 40), 2.0, (1.0, 1.0, 1.0))  # MR voxel centres off the PET voxel edges
    moved = resample_voiset(_pet_vois("1.2.3"), mr)
    # the 20 mm cube: 10 MR voxels along each edge, less its 8 corners (trilinear weight 0.75^3 < 0.5)
    assert moved.vois[0].n_voxels == 10 ** 3 - 8 and moved.vois[0].volume_ml == pytest.approx(7.936)
    z, y, x = np.argwhere(moved.masks[0]).mean(axis=0) * 2.0 + 1.0
    assert (x, y, z) == pytest.approx((28.0, 28.0, 28.0), abs=1.0) and moved.vois[0].source.startswith("pet:")


def test_a_registration_moves_the_pet_vois(tmp_path: Path) -> None:
    import SimpleITK as sitk

    from pipeline.mri.vois import resample_voiset

    transform = sitk.TranslationTransform(3, (10.0, 0.0, 0.0))  # MR point + 10 mm in x = PET point
    sitk.WriteTransform(transform, str(tmp_path / "mr_to_pet.tfm"))
    mr = _grid((40, 40, 40), 2.0, (0.0, 0.0, 0.0))
    moved = resample_voiset(_pet_vois("1.2.3"), mr, transform_file=tmp_path / "mr_to_pet.tfm")
    x = np.argwhere(moved.masks[0])[:, 2].mean() * 2.0
    assert x == pytest.approx(18.0, abs=1.0)  # the lesion sits 10 mm to the right on the MR
    with pytest.raises(InvalidInputError, match="not a transform"):
        (tmp_path / "bad.tfm").write_text("nonsense")
        resample_voiset(_pet_vois("1.2.3"), mr, transform_file=tmp_path / "bad.tfm")


def _mr_series(folder: Path) -> tuple[Path, str]:
    """Three axial MR slices of 40 x 40 voxels of 2 mm at z = 24, 26, 28 mm; the folder and its frame of reference."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir()
    frame, series, study = generate_uid(), generate_uid(), generate_uid()
    for k, z in enumerate((24.0, 26.0, 28.0)):
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = "1.2.840.10008.5.1.4.1.1.4", generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.Modality, ds.PatientID = "MR", "X"
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0.0, 0.0, z], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.SliceThickness = [2.0, 2.0], 2.0
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 40, 40, 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.InstanceNumber = k + 1
        ds.PixelData = np.zeros((40, 40), np.uint16).tobytes()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = (ds.SOPClassUID,
                                                                                        ds.SOPInstanceUID)
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(folder / f"MR_{k}.dcm", enforce_file_format=True)
    return folder, str(frame)


def test_pet_vois_of_another_frame_of_reference_need_a_registration(tmp_path: Path) -> None:
    from pipeline.mri.vois import build_mr_voiset
    from pipeline.voi.catalogue import write_voiset
    from pipeline.voi.options import VoiSources
    series, frame = _mr_series(tmp_path / "MR")
    write_voiset(tmp_path / "pet_vois.nii.gz", _pet_vois("1.2.999"))
    with pytest.raises(InvalidInputError, match="another frame of reference") as err:
        build_mr_voiset(series, VoiSources(), pet_vois=tmp_path / "pet_vois.nii.gz")
    assert "--registration" in err.value.remedy
    write_voiset(tmp_path / "shared.nii.gz", _pet_vois(frame))
    voiset = build_mr_voiset(series, VoiSources(), pet_vois=tmp_path / "shared.nii.gz")
    assert [v.name for v in voiset.vois] == ["lesion_01"] and voiset.masks[0].any()
    with pytest.raises(InvalidInputError, match="threshold VOIs are defined on SUV"):
        build_mr_voiset(series, VoiSources(thresholds="hot:suv>=2.5"))


def test_mr_sample_sheet_checks(tmp_path: Path) -> None:
    from pipeline.config import load_mri_sheet

    sheet = tmp_path / "mri.tsv"
    sheet.write_text("subject_id\ttimepoint\tdicom\tagent\thct\n")
    assert load_mri_sheet(sheet).empty  # header only: no MR studies
    sheet.write_text("subject_id\ttimepoint\tdicom\thct\nP01\tbaseline\tdicom/P01/mri\t45\n")
    with pytest.raises(SampleSheetError, match="row 1, column hct"):
        load_mri_sheet(sheet)
    sheet.write_text("subject_id\ttimepoint\tdicom\nP01\tbaseline\ta\nP01\tbaseline\tb\n")
    with pytest.raises(SampleSheetError, match="appears more than once"):
        load_mri_sheet(sheet)
    with pytest.raises(SampleSheetError, match="file not found") as err:
        load_mri_sheet(tmp_path / "none.tsv")
    assert "mri.samples" in err.value.remedy


def _cohort(n: int = 12) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """n patients, two lesions each: Ktrans rises with CD8 % and with SUVmax; every parameter halves on
    treatment."""
    mri, uptake, ihc = [], [], []
    for i in range(n):
        subject = f"P{i + 1:02d}"
        for j, lesion in enumerate(("lesion_01", "lesion_02")):
            suv = 2.0 + i + 0.5 * j
            for tp, scale in (("baseline", 1.0), ("on_treatment", 0.5)):
                mri.append({"subject_id": subject, "timepoint": tp, "voi": lesion, "kind": "tumour",
                            "lesion_id": lesion, "organ": "liver", "ktrans_per_min": scale * 0.05 * suv,
                            "volume_ml": scale * (10 + i)})
                uptake.append({"subject_id": subject, "timepoint": tp, "voi": lesion, "kind": "tumour",
                               "lesion_id": lesion, "organ": "liver", "suv_max": suv * scale, "suv_mean": suv})
        ihc.append({"subject_id": subject, "timepoint": "baseline", "lesion_id": "lesion_01", "marker": "CD8",
                    "percent_positive": 5.0 + 7 * i, "intensity": "2+", "pattern": "membranous"})
    return pd.DataFrame(mri), pd.DataFrame(uptake), pd.DataFrame(ihc)


def test_mri_endpoint_known_answers() -> None:
    from pipeline.stats.endpoints import CohortData, run_analyses, validate_analyses
    from pipeline.stats.ihc import score_ihc, validate_ihc

    mri, uptake, ihc = _cohort()
    data = CohortData(uptake=uptake, mri=mri, ihc=score_ihc(validate_ihc(ihc)))
    analyses = validate_analyses({"mri": {"parameters": ["ktrans_per_min", "volume_ml", "not_a_column"]}})
    for name in analyses:
        analyses[name]["enabled"] = name == "mri"
    table = run_analyses(data, analyses).set_index(["analysis", "variable"])
    ihc_row = table.loc[("spearman_ihc_percent_positive", "ktrans_per_min")]
    assert ihc_row["estimate"] == pytest.approx(1.0) and ihc_row["n_subjects"] == 12 and ihc_row["n_lesions"] == 12
    for variable in ("ktrans_per_min", "volume_ml"):
        change = table.loc[("paired_log_ratio", variable)]
        assert change["estimate"] == pytest.approx(0.5, rel=1e-9) and change["n_lesions"] == 24
    pet = table.loc[("spearman_pet", "ktrans_per_min")]
    assert pet["estimate"] == pytest.approx(1.0) and pet["n_lesions"] == 24 and pet["ci_low"] <= 1.0
    assert "cluster bootstrap" in pet["method"]
    assert ("paired_log_ratio", "not_a_column") not in table.index
    assert run_analyses(CohortData(uptake=uptake), analyses).empty  # no MRI table: no rows


B_IVIM = np.array([0, 10, 20, 30, 50, 80, 100, 150, 200, 300, 400, 500, 600, 800, 1000], float)


def _ivim(f: float, d: float, dstar: float) -> np.ndarray:
    return 1000 * (f * np.exp(-B_IVIM * dstar) + (1 - f) * np.exp(-B_IVIM * d))


def test_bayesian_ivim_recovers_noise_free_truth() -> None:
    from pipeline.mri.diffusion import ivim_posterior

    rng = np.random.default_rng(5)
    for _ in range(10):
        truth = (rng.uniform(0.03, 0.4), rng.uniform(0.5e-3, 2e-3), rng.uniform(0.008, 0.1))
        post = ivim_posterior(B_IVIM, _ivim(*truth))
        assert post.converged and (post.f, post.d_mm2_per_s, post.dstar_mm2_per_s) == pytest.approx(truth, rel=1e-3)
        assert post.s0 == pytest.approx(1000.0, rel=1e-3)


def test_bayesian_ivim_credible_intervals_cover_the_truth() -> None:
    """SNR 50 (noise SD 20 of S0 1000), 200 curves of f 0.12, D 1.0e-3, D* 0.02: each 95 % credible interval
    covers the truth in 90-99 % of the curves (measured with seed 1: 94 %, 93 %, 94 % over 300 curves); the
    posterior mean of D is within 10 % of the truth on average (a uniform prior on f pulls f up at this SNR)."""
    from pipeline.mri.diffusion import ivim_posterior

    rng = np.random.default_rng(1)
    truth = {"f": 0.12, "d": 1.0e-3, "dstar": 0.02}
    hits = dict.fromkeys(truth, 0)
    d_means = []
    for _ in range(200):
        post = ivim_posterior(B_IVIM, _ivim(0.12, 1.0e-3, 0.02) + rng.normal(0.0, 20.0, B_IVIM.size))
        for key, value in truth.items():
            low, high = post.interval[key]
            hits[key] += low <= value <= high
        d_means.append(post.d_mm2_per_s)
    assert all(0.90 <= n / 200 <= 0.99 for n in hits.values()), hits
    assert float(np.mean(d_means)) == pytest.approx(1.0e-3, rel=0.1)


def test_ivim_command_bayesian_writes_the_posterior_spread(tmp_path: Path) -> None:
    from pipeline.cli import main

    rows = [{"curve_id": "c1", "b_s_per_mm2": b, "signal": s} for b, s in zip(B_IVIM, _ivim(0.1, 1.2e-3, 0.03),
                                                                               strict=True)]
    pd.DataFrame(rows).to_csv(tmp_path / "signals.csv", index=False)
    assert main(["-q", "ivim", "--signals", str(tmp_path / "signals.csv"), "--method", "bayesian",
                 "-o", str(tmp_path / "fit.csv")]) == 0
    fit = pd.read_csv(tmp_path / "fit.csv").iloc[0]
    assert (fit["f"], fit["d_mm2_per_s"], fit["dstar_mm2_per_s"]) == pytest.approx((0.1, 1.2e-3, 0.03), rel=1e-3)
    assert fit["f_ci_low"] <= 0.1 <= fit["f_ci_high"] and fit["d_mm2_per_s_sd"] >= 0 and bool(fit["converged"])
    with pytest.raises(ValueError, match="unknown IVIM method"):
        fit_ivim(B_IVIM, _ivim(0.1, 1.2e-3, 0.03), method="ivim-dki")


def test_tristan_population_aif(tmp_path: Path) -> None:
    """`petvoi dce --population-aif tristan`: curves made with dcmri's TRISTAN AIF (gadoterate 0.2 mL/kg, 73 kg,
    blood, Hct 0.45) are fitted back to their ETM truth; a negative dose or an agent dcmri does not know is a
    one-line refusal."""
    from pipeline.cli import main
    from pipeline.mri.dce import model_curve, population_aif

    t = np.arange(0.0, 150.1, 3.0)
    cp = population_aif("tristan", t, bolus_arrival_s=20.0) / (1 - 0.45)
    assert cp.max() > 1.0 and cp[:4].max() == 0.0  # no contrast before the bolus
    truth = [0.2 / 60, 0.3, 0.05]
    ct = model_curve("etm", cp, t, np.array(truth))
    pd.DataFrame({"curve_id": "t1", "time_s": t, "concentration_mM": ct}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["-q", "dce", "--curves", str(tmp_path / "c.csv"), "--population-aif", "tristan",
                 "--bolus-arrival", "20", "--model", "etm", "-o", str(tmp_path / "fit.csv")]) == 0
    fit = pd.read_csv(tmp_path / "fit.csv").iloc[0]
    assert [fit["ktrans_per_min"], fit["ve"], fit["vp"]] == pytest.approx([0.2, 0.3, 0.05], rel=1e-3)
    with pytest.raises(InvalidInputError, match="must be positive"):
        population_aif("tristan", t, dose_ml_per_kg=-1.0)
    with pytest.raises(InvalidInputError, match="TRISTAN AIF for 'water'"):
        population_aif("tristan", t, agent="water")
    with pytest.raises(InvalidInputError, match="unknown population AIF"):
        population_aif("weinmann", t)


def test_a_fit_at_its_bound_is_flagged_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A purely vascular curve (no leakage: Ktrans 0, on its lower bound) is converged = False with a warning
    naming it, never a silent number."""
    from pipeline.cli import main
    from pipeline.mri.dce import plasma_input, population_aif

    t = np.arange(0.0, 240.1, 4.0)
    cp = plasma_input(population_aif("parker", t, bolus_arrival_s=20.0), kind="blood")
    pd.DataFrame({"curve_id": "vessel", "time_s": t, "concentration_mM": 0.05 * cp}).to_csv(tmp_path / "c.csv",
                                                                                           index=False)
    assert main(["dce", "--curves", str(tmp_path / "c.csv"), "--population-aif", "parker", "--bolus-arrival",
                 "20", "--model", "etm", "-o", str(tmp_path / "fit.csv")]) == 0
    assert not bool(pd.read_csv(tmp_path / "fit.csv").iloc[0]["converged"])
    err = capsys.readouterr().err
    assert "did not converge or hit a bound" in err and "vessel" in err


def test_negative_times_and_a_missing_b0_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    t = np.arange(-10.0, 100.0, 5.0)
    pd.DataFrame({"curve_id": "c", "time_s": t, "concentration_mM": 0.1}).to_csv(tmp_path / "c.csv", index=False)
    pd.DataFrame({"time_s": t, "concentration_mM": 1.0}).to_csv(tmp_path / "aif.csv", index=False)
    assert main(["dce", "--curves", str(tmp_path / "c.csv"), "--aif", str(tmp_path / "aif.csv"), "--model", "etm",
                 "-o", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert "negative times" in err and "time_s" in err and len(err.splitlines()) == 1
    b = B_IVIM[1:]  # no b = 0
    pd.DataFrame({"curve_id": "c", "b_s_per_mm2": b, "signal": 1000 * np.exp(-b * 1e-3)}).to_csv(
        tmp_path / "s.csv", index=False)
    for command in ("ivim", "dki"):
        assert main([command, "--signals", str(tmp_path / "s.csv"), "-o", str(tmp_path / "o.csv")]) == 2
        err = capsys.readouterr().err.strip()
        assert "no b = 0" in err and "b_s_per_mm2" in err and len(err.splitlines()) == 1
