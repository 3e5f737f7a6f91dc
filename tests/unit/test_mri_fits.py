"""Table-level MRI fits (issue 19, item 1) against the known answers of shared/reference/mri.md: the Parker AIF, the
Tofts, extended Tofts, 2CXM and Patlak curves and their recovery (noise-free and noisy), IVIM segmented and full,
Jensen's kurtosis, the ADC; and the commands' tables and refusals."""

from __future__ import annotations

from pathlib import Path

import dcmri
import numpy as np
import pandas as pd
import pydicom
import pytest

from pipeline.cli import main
from pipeline.mri.dce import fit_curve, model_curve
from pipeline.mri.diffusion import fit_adc, fit_dki, fit_ivim

T = np.arange(0.0, 300.5, 0.5)  # s
CB = dcmri.aif_parker(T, BAT=30.0) * 1000.0  # mM, blood
HCT = 0.45
CP = CB / (1.0 - HCT)


def test_parker_aif_has_the_published_values() -> None:
    t_min = np.array([0.0, 0.1, 0.17046, 0.25, 0.5, 1.0, 2.0, 5.0])
    expected = [0.08038, 2.75256, 6.06925, 2.79568, 1.22472, 0.88719, 0.74960, 0.45216]
    assert dcmri.aif_parker(60.0 * t_min) * 1000.0 == pytest.approx(expected, abs=1e-5)


def test_forward_models_give_the_reference_curves() -> None:
    tofts = model_curve("tofts", CP, T, np.array([0.25 / 60, 0.30]))
    assert [tofts[T == s][0] for s in (60, 120, 300)] == pytest.approx([0.40226, 0.45403, 0.32782], abs=1e-5)
    cx = model_curve("2cxm", CP, T, np.array([60 / 6000, 15 / 6000, 0.08, 0.25]))
    assert [cx[T == s][0] for s in (60, 300)] == pytest.approx([0.35793, 0.35665], abs=1e-5)


@pytest.mark.parametrize(("model", "params", "expected"), [
    ("tofts", [0.25 / 60, 0.30], {"ktrans_per_min": 0.25, "ve": 0.30}),
    ("etm", [0.25 / 60, 0.30, 0.05], {"ktrans_per_min": 0.25, "ve": 0.30, "vp": 0.05}),
    ("2cxm", [60 / 6000, 15 / 6000, 0.08, 0.25],
     {"fp_ml_per_100ml_per_min": 60.0, "ps_per_min": 0.15, "vp": 0.08, "ve": 0.25, "ktrans_per_min": 0.12}),
    ("patlak", [0.10 / 60, 0.05], {"ktrans_per_min": 0.10, "vp": 0.05}),
])
def test_noise_free_curves_are_recovered(model: str, params: list[float], expected: dict[str, float]) -> None:
    ct = model_curve(model, CP, T, np.array(params))
    fit = fit_curve(model, T, ct, CP)
    for name, value in expected.items():
        assert getattr(fit, name) == pytest.approx(value, rel=1e-4), name
    assert fit.converged


def test_noisy_tofts_and_a_fitted_delay() -> None:
    """Gaussian noise SD 0.02 mM: Ktrans and ve within 2 % (the reference: 0.24916, 0.29944); an AIF arriving 8 s
    early is found as a delay of 8 s and the parameters stay right."""
    ct = model_curve("tofts", CP, T, np.array([0.25 / 60, 0.30]))
    noisy = ct + np.random.default_rng(0).normal(0.0, 0.02, ct.size)
    fit = fit_curve("tofts", T, noisy, CP)
    assert fit.ktrans_per_min == pytest.approx(0.25, rel=0.02) and fit.ve == pytest.approx(0.30, rel=0.02)
    assert fit.se["ktrans_per_min"] is not None and 0 < fit.se["ktrans_per_min"] < 0.01
    early = np.interp(T + 8.0, T, CP, right=CP[-1])  # the AIF sampled 8 s too early
    delayed = fit_curve("tofts", T, ct, early, fit_delay=True)
    assert delayed.delay_s == pytest.approx(8.0, abs=0.1) and delayed.ktrans_per_min == pytest.approx(0.25, rel=1e-2)


def test_aicc_prefers_the_model_that_generated_the_curve() -> None:
    ct = model_curve("etm", CP, T, np.array([0.25 / 60, 0.30, 0.05]))
    noisy = ct + np.random.default_rng(1).normal(0.0, 0.01, ct.size)
    assert fit_curve("etm", T, noisy, CP).aicc < fit_curve("tofts", T, noisy, CP).aicc


B_IVIM = np.array([0, 10, 20, 30, 50, 80, 100, 150, 200, 300, 400, 500, 600, 800, 1000], float)
S_IVIM = np.array([1000, 969.492, 943.013, 919.849, 881.227, 836.570, 812.497, 763.397, 722.681, 652.217, 589.922,
                   533.752, 482.955, 395.410, 323.734])


def test_ivim_segmented_and_full_on_the_reference_vector() -> None:
    seg = fit_ivim(B_IVIM, S_IVIM, method="segmented")
    assert seg.d_mm2_per_s == pytest.approx(0.001002, rel=2e-3) and seg.f == pytest.approx(0.1184, abs=2e-3)
    assert seg.dstar_mm2_per_s == pytest.approx(0.0205, rel=0.05)
    full = fit_ivim(B_IVIM, S_IVIM, method="full")
    assert (full.s0, full.f, full.dstar_mm2_per_s, full.d_mm2_per_s) == pytest.approx(
        (1000.0, 0.12, 0.020, 0.0010), rel=2e-3)
    assert full.converged


def test_dki_and_adc_on_the_reference_vector() -> None:
    b = np.array([0, 500, 1000, 1500, 2000, 2500], float)
    s = np.array([1000, 629.707, 427.415, 312.703, 246.597, 209.611])
    fit = fit_dki(b, s)
    assert (fit.s0, fit.d_app_mm2_per_s, fit.k_app) == pytest.approx((1000.0, 1.0e-3, 0.9), rel=1e-3)
    assert fit_adc(b, s, (0, 1000)) == pytest.approx(0.850e-3, rel=2e-3)
    assert fit_adc(b, s, (0, 2000)) == pytest.approx(0.700e-3, rel=2e-2)


def test_commands_write_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pd.DataFrame({"time_s": T, "concentration_mM": CB}).to_csv(tmp_path / "aif.csv", index=False)
    ct = model_curve("tofts", CP, T, np.array([0.25 / 60, 0.30]))
    pd.DataFrame({"curve_id": "tumour", "time_s": T, "concentration_mM": ct}).to_csv(tmp_path / "curves.csv",
                                                                                       index=False)
    assert main(["dce", "--curves", str(tmp_path / "curves.csv"), "--aif", str(tmp_path / "aif.csv"), "--model",
                 "tofts", "--aif-kind", "blood", "--hct", "0.45", "-o", str(tmp_path / "fit.csv")]) == 0
    fit = pd.read_csv(tmp_path / "fit.csv")
    assert list(fit.columns[:9]) == ["curve_id", "model", "ktrans_per_min", "ve", "vp", "fp_ml_per_100ml_per_min",
                                     "ps_per_min", "delay_s", "converged"]
    assert fit.loc[0, "ktrans_per_min"] == pytest.approx(0.25, rel=1e-4) and "aicc" in fit.columns
    pd.DataFrame({"curve_id": "liver", "b_s_per_mm2": B_IVIM, "signal": S_IVIM}).to_csv(tmp_path / "s.csv", index=False)
    assert main(["ivim", "--signals", str(tmp_path / "s.csv"), "--method", "full", "-o", str(tmp_path / "i.csv")]) == 0
    ivim = pd.read_csv(tmp_path / "i.csv")
    assert list(ivim.columns[:6]) == ["curve_id", "f", "d_mm2_per_s", "dstar_mm2_per_s", "s0", "converged"]
    assert main(["dki", "--signals", str(tmp_path / "s.csv"), "-o", str(tmp_path / "k.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "k.csv").columns[:5]) == ["curve_id", "d_app_mm2_per_s", "k_app", "s0",
                                                                 "converged"]
    # a curve off the AIF's grid is a one-line refusal
    pd.DataFrame({"curve_id": "x", "time_s": T[::2], "concentration_mM": ct[::2]}).to_csv(tmp_path / "bad.csv",
                                                                                          index=False)
    capsys.readouterr()
    assert main(["dce", "--curves", str(tmp_path / "bad.csv"), "--aif", str(tmp_path / "aif.csv"), "--model",
                 "tofts", "-o", str(tmp_path / "f2.csv")]) == 2
    assert "not on the AIF's time grid" in capsys.readouterr().err


def test_vfa_t1_and_the_b1_pitfall() -> None:
    from pipeline.mri.relaxometry import spgr_signal, vfa_t1

    flips = np.array([2.0, 5.0, 10.0, 15.0, 20.0])
    s = spgr_signal(1000.0, 1.2, 0.005, flips)
    assert s == pytest.approx([30.45605, 45.59855, 37.43589, 28.25296, 22.14635], abs=1e-5)
    assert vfa_t1(s, flips, 0.005) == pytest.approx((1.2, 1000.0), rel=1e-9)
    low = spgr_signal(1000.0, 1.2, 0.005, 0.9 * flips)  # true angles 10 % below nominal
    assert vfa_t1(low, flips, 0.005)[0] == pytest.approx(0.970, abs=1e-3)  # the reference: -19 %
    assert vfa_t1(low, flips, 0.005, b1=0.9)[0] == pytest.approx(1.2, rel=1e-9)


def test_signal_to_concentration_is_exact() -> None:
    from pipeline.mri.relaxometry import concentration, spgr_signal

    c = np.array([0.0, 0.5, 1.0, 2.0, 5.0])
    r1 = 1 / 1.2 + 5.0 * c
    s = spgr_signal(1000.0, 1 / r1, 0.005, 15.0)
    assert concentration(s, tr_s=0.005, flip_deg=15.0, t10_s=1.2, r1_per_mm_s=5.0) == pytest.approx(c, abs=1e-12)


def test_semi_quantitative_parameters_of_the_tofts_curve() -> None:
    from pipeline.mri.relaxometry import semi_quantitative

    ct = model_curve("tofts", CP, T, np.array([0.25 / 60, 0.30]))
    sq = semi_quantitative(T, ct, onset_s=30.0)
    assert sq.iaugc60_mm_s == pytest.approx(20.599, abs=1e-3)
    assert sq.time_to_peak_s == pytest.approx(82.5) and sq.washout_percent == pytest.approx(-27.9, abs=0.05)


def _mr(manufacturer: str) -> pydicom.Dataset:
    ds = pydicom.Dataset()
    ds.Manufacturer = manufacturer
    return ds


@pytest.mark.parametrize(("vendor", "group", "creator", "offset", "vr", "value", "expected", "label"), [
    ("SIEMENS", 0x0019, "SIEMENS MR HEADER", 0x0C, "IS", "800", 800.0, "Siemens (0019,100C)"),
    ("GE MEDICAL SYSTEMS", 0x0043, "GEMS_PARM_01", 0x39, "IS", ["1000000750", "8", "0", "0"], 750.0,
     "GE (0043,1039)"),
    ("GE MEDICAL SYSTEMS", 0x0043, "GEMS_PARM_01", 0x39, "IS", ["1000", "8", "0", "0"], 1000.0, "GE (0043,1039)"),
    ("Philips Medical Systems", 0x2001, "Philips Imaging DD 001", 0x03, "FL", 500.0, 500.0, "Philips (2001,1003)"),
])
def test_b_values_from_vendor_private_tags(vendor: str, group: int, creator: str, offset: int, vr: str,
                                           value: object, expected: float, label: str) -> None:
    """Known answers per vendor (dcm2niix's rules): GE's first value modulo 10^9; read only with the matching
    Manufacturer and private creator."""
    from pipeline.mri.bvalues import b_value

    ds = _mr(vendor)
    ds.private_block(group, creator, create=True).add_new(offset, vr, value)
    assert b_value(ds) == (expected, label)
    other = _mr("Canon")  # the same element under another manufacturer is not read
    other.private_block(group, creator, create=True).add_new(offset, vr, value)
    with pytest.raises(Exception, match="no diffusion b-value"):
        b_value(other)


def test_standard_b_value_wins_and_is_found_in_functional_groups() -> None:
    from pipeline.mri.bvalues import b_value

    ds = _mr("SIEMENS")
    ds.DiffusionBValue = 1000.0
    ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", "50")
    assert b_value(ds) == (1000.0, "DiffusionBValue (0018,9087)")
    enhanced = _mr("Philips")
    diffusion = pydicom.Dataset()
    diffusion.DiffusionBValue = 400.0
    item = pydicom.Dataset()
    item.MRDiffusionSequence = [diffusion]
    enhanced.PerFrameFunctionalGroupsSequence = [item]
    assert b_value(enhanced) == (400.0, "DiffusionBValue (0018,9087)")
    bad = _mr("GE")
    bad.DiffusionBValue = -5.0
    with pytest.raises(Exception, match="not a finite non-negative number"):
        b_value(bad)


def test_maps_and_voi_fits_of_a_two_region_phantom() -> None:
    """A 4D concentration phantom (extended Tofts): a tumour (Ktrans 0.25 /min, ve 0.30, vp 0.05) beside muscle
    (0.05, 0.10, 0.02); the maps and the VOI fits return each region's truth; voxels outside the mask are NaN."""
    from pipeline.mri.maps import fit_maps, fit_vois

    t = T[::4]
    cp = CP[::4]
    tumour = model_curve("etm", cp, t, np.array([0.25 / 60, 0.30, 0.05]))
    muscle = model_curve("etm", cp, t, np.array([0.05 / 60, 0.10, 0.02]))
    conc = np.zeros((t.size, 1, 2, 3))
    conc[:, 0, 0, :] = tumour[:, None]
    conc[:, 0, 1, :2] = muscle[:, None]
    mask = np.zeros((1, 2, 3), bool)
    mask[0, 0, :] = True
    mask[0, 1, :2] = True
    maps = fit_maps(conc, t, cp, mask, model="etm")
    assert maps.n_voxels == 5 and maps.n_not_converged == 0
    assert maps.maps["ktrans_per_min"][0, 0, :] == pytest.approx([0.25] * 3, rel=1e-4)
    assert maps.maps["ve"][0, 1, :2] == pytest.approx([0.10] * 2, rel=1e-3)
    assert np.isnan(maps.maps["vp"][0, 1, 2])
    rows = fit_vois(conc, t, cp, [mask & (np.arange(2)[None, :, None] == 0), mask & (np.arange(2)[None, :, None] == 1)],
                    ["tumour", "muscle"], model="etm")
    assert [r["n_voxels"] for r in rows] == [3, 2]
    assert rows[0]["ktrans_per_min"] == pytest.approx(0.25, rel=1e-4)
    assert rows[1]["vp"] == pytest.approx(0.02, rel=1e-3)


def test_zscore_normalisation_volumetry_and_the_mri_texture_parameters(repo: Path) -> None:
    from pipeline.errors import InvalidInputError
    from pipeline.metrics.texture import TextureParams
    from pipeline.mri.normalise import volume_changes, volume_ml, zscore

    rng = np.random.default_rng(0)
    image = rng.normal(300.0, 20.0, (4, 10, 10))
    region = np.zeros(image.shape, bool)
    region[:2] = True
    z = zscore(image, region)
    assert z[region].mean() == pytest.approx(0.0, abs=1e-12) and z[region].std(ddof=1) == pytest.approx(1.0)
    with pytest.raises(InvalidInputError, match="< 50"):
        zscore(image, region & (np.arange(10)[None, None, :] < 2) & (np.arange(10)[None, :, None] < 2))
    mask = np.zeros((4, 10, 10), bool)
    mask[1:3, 2:7, 2:7] = True
    assert volume_ml(mask, (0.5, 0.5, 2.0)) == pytest.approx(50 * 0.5 / 1000)
    assert volume_changes({"baseline": 10.0, "on_treatment": 7.5}, "baseline") == {"baseline": 0.0,
                                                                                   "on_treatment": -25.0}
    params = TextureParams.from_yaml(repo / "configs" / "radiomics_mri.yaml")
    assert params.name == "mri_zscore_fbs0.1"


def test_population_parker_aif(tmp_path: Path) -> None:
    """Curves made with the Parker AIF (bolus at 30 s, Hct 0.45) are fitted with --population-aif parker to their
    truth; a curve file alone without any AIF is a one-line refusal."""
    ct = model_curve("etm", CP, T, np.array([0.25 / 60, 0.30, 0.05]))
    pd.DataFrame({"curve_id": "t", "time_s": T, "concentration_mM": ct}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["dce", "--curves", str(tmp_path / "c.csv"), "--population-aif", "parker", "--bolus-arrival", "30",
                 "--model", "etm", "-o", str(tmp_path / "f.csv")]) == 0
    fit = pd.read_csv(tmp_path / "f.csv").iloc[0]
    assert (fit["ktrans_per_min"], fit["ve"], fit["vp"]) == pytest.approx((0.25, 0.30, 0.05), rel=1e-4)
    with pytest.raises(SystemExit) as refused:  # argparse: one of --aif and --population-aif is required
        main(["dce", "--curves", str(tmp_path / "c.csv"), "--model", "etm", "-o", str(tmp_path / "g.csv")])
    assert refused.value.code == 2


def test_t1_map_and_concentration_volume() -> None:
    """Voxel-wise DESPOT1 of a two-tissue phantom returns each T1; the 4D inversion with the T10 map returns the
    concentration put in."""
    from pipeline.mri.relaxometry import concentration, spgr_signal, t1_map

    flips = np.array([2.0, 5.0, 10.0, 15.0, 20.0])
    truth = np.array([[[1.2, 0.8], [1.6, 1.2]]])  # (z, y, x) T1 in s
    signals = np.stack([spgr_signal(1000.0, truth, 0.005, a) for a in flips])
    t1, s0 = t1_map(signals, flips, 0.005)
    assert t1 == pytest.approx(truth, rel=1e-9) and s0 == pytest.approx(np.full(truth.shape, 1000.0), rel=1e-9)
    mask = np.array([[[True, False], [True, True]]])
    assert np.isnan(t1_map(signals, flips, 0.005, mask=mask)[0][0, 0, 1])
    c = np.array([0.0, 0.0, 1.0, 2.0, 0.5])[:, None, None, None] * np.ones((1,) + truth.shape)
    s = spgr_signal(1000.0, 1.0 / (1.0 / truth + 4.5 * c), 0.005, 15.0)
    assert concentration(s, tr_s=0.005, flip_deg=15.0, t10_s=truth, r1_per_mm_s=4.5, n_baseline=2) == \
        pytest.approx(c, abs=1e-10)
