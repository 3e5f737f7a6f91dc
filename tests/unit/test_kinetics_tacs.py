"""TAC extraction (pipeline.kinetics.tacs) and multi-day PK (pipeline.kinetics.pk): known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from pipeline.dicom.geometry import Geometry, read_nifti
from pipeline.errors import InvalidInputError
from pipeline.kinetics.pk import SECONDS_PER_DAY, auc_with_tail, biological_half_life, pk_curve, pk_table
from pipeline.kinetics.tacs import extract_tacs, suv_to_kbq_ml_factor, validate_frames
from pipeline.voi.catalogue import Voi, VoiSet

ZR89_HALF_LIFE_S = 282276.0


def _frames(durations: list[float], t0: float = 0.0) -> list[dict]:
    out, start = [], t0
    for i, d in enumerate(durations, start=1):
        out.append({"frame": i, "start_s": start, "duration_s": d, "mid_s": start + d / 2, "end_s": start + d})
        start += d
    return out


def _two_voi_set(shape: tuple[int, int, int]) -> VoiSet:
    geo = Geometry(shape, (2.0, 2.0, 2.0), (0.0, 0.0, 0.0), np.eye(3))
    a = np.zeros(shape, dtype=bool)
    a[:, :3, :3] = True
    b = np.zeros(shape, dtype=bool)
    b[1:, 4:, 5:] = True
    return VoiSet.from_masks(geo, [(a, Voi(0, "tumour_1", "tumour")), (b, Voi(0, "liver", "organ"))])


def test_tacs_from_4d_suv_equal_known_activity_per_frame() -> None:
    shape = (3, 6, 7)
    vois = _two_voi_set(shape)
    frames = _frames([10.0, 10.0, 60.0, 300.0])
    mid = np.array([f["mid_s"] for f in frames])
    act_a = 20.0 * (1 - np.exp(-mid / 45.0)) + 0.5  # kBq/mL
    act_b = 5.0 * np.exp(-mid / 600.0)
    kbq_per_suv = 185e6 / 70000.0 / 1000.0  # D_inj / W / 1000
    pet = np.zeros((4, *shape))
    for t in range(4):
        pet[t][vois.masks[0]] = act_a[t] / kbq_per_suv
        pet[t][vois.masks[1]] = act_b[t] / kbq_per_suv
    sidecar = {"injected_dose_bq": 185e6, "normaliser_value": 70000.0}
    factor = suv_to_kbq_ml_factor(sidecar)
    assert factor == pytest.approx(kbq_per_suv, rel=1e-15)
    tac = extract_tacs(pet, vois, frames, suv_to_kbq=factor)
    assert len(tac) == 8
    a = tac[tac["name"] == "tumour_1"]
    b = tac[tac["name"] == "liver"]
    np.testing.assert_allclose(a["activity_kbq_ml"], act_a, rtol=1e-6)
    np.testing.assert_allclose(b["activity_kbq_ml"], act_b, rtol=1e-6)
    np.testing.assert_allclose(a["suv_mean"], act_a / kbq_per_suv, rtol=1e-6)
    np.testing.assert_allclose(a["mid_s"], mid, rtol=0, atol=1e-12)
    assert list(a["n_voxels"].unique()) == [27]
    assert list(b["n_voxels"].unique()) == [2 * 2 * 2]
    assert list(b["label"].unique()) == [2]


def test_tacs_activity_input_without_suv_factor() -> None:
    shape = (3, 6, 7)
    vois = _two_voi_set(shape)
    pet = np.ones((2, *shape)) * np.array([3.0, 7.0])[:, None, None, None]
    tac = extract_tacs(pet, vois, _frames([30.0, 30.0]), suv_to_kbq=None)
    np.testing.assert_allclose(tac["activity_kbq_ml"], [3.0, 7.0, 3.0, 7.0], rtol=1e-12)
    assert tac["suv_mean"].isna().all()


def test_overlapping_frames_error_names_frame() -> None:
    frames = _frames([10.0, 10.0, 10.0])
    frames[2]["start_s"] = 15.0
    frames[2]["mid_s"] = 20.0
    with pytest.raises(InvalidInputError, match="frame 3 .*overlaps frame 2"):
        validate_frames(frames)


def test_out_of_order_and_negative_frames_error() -> None:
    frames = _frames([10.0, 10.0])
    frames = [frames[1], frames[0]]
    with pytest.raises(InvalidInputError, match="frame 1 .*out of order"):
        validate_frames(frames)
    with pytest.raises(InvalidInputError, match="frame 1 starts at -5.0 s"):
        validate_frames(_frames([10.0], t0=-5.0))


def test_frame_count_mismatch_error() -> None:
    vois = _two_voi_set((3, 6, 7))
    with pytest.raises(InvalidInputError, match="3 frames listed for 2 volumes"):
        extract_tacs(np.ones((2, 3, 6, 7)), vois, _frames([1.0, 1.0, 1.0]), suv_to_kbq=1.0)


def test_tacs_through_petvoi_suv_on_synthetic_dynamic(tmp_path) -> None:
    from pipeline.cli import main
    from pipeline.synthetic.dynamic import write_dynamic_pet

    dyn = write_dynamic_pet(tmp_path / "dyn", frame_durations_s=(10.0, 20.0, 60.0, 120.0))
    out = tmp_path / "suv.nii.gz"
    rc = main(["suv", str(tmp_path / "dyn"), "-o", str(out)])
    assert rc in (0, None)
    suv, geo = read_nifti(out)
    sidecar = json.loads((tmp_path / "suv.json").read_text())
    half = dyn.mask.copy()
    half[: dyn.mask.shape[0] // 2] = False
    vois = VoiSet.from_masks(geo, [(dyn.mask, Voi(0, "cylinder", "organ")), (half, Voi(0, "upper", "tumour"))])
    tac = extract_tacs(suv, vois, sidecar["frames"], suv_to_kbq=suv_to_kbq_ml_factor(sidecar))
    truth = dyn.rescaled()  # Bq/mL, scan start = injection
    for k, mask in enumerate((dyn.mask, half)):
        expected = truth[:, mask].mean(axis=1) / 1000.0
        got = tac[tac["label"] == k + 1]["activity_kbq_ml"].to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(tac[tac["label"] == 1]["start_s"], dyn.frame_starts_s, atol=1e-3)


# ------------------------------------------------------------------------------------------- multi-day PK
def _mono(t_days: np.ndarray, a0: float, t_eff: float) -> np.ndarray:
    return a0 * np.exp(-math.log(2) / t_eff * t_days)


def test_pk_effective_half_life_and_auc_known_answer() -> None:
    t = np.array([1.0, 3.0, 6.0])
    t_eff, a0 = 2.5, 40.0
    a = _mono(t, a0, t_eff)
    res = pk_curve(t, a, decay_corrected=False, half_life_s=ZR89_HALF_LIFE_S, method="log")
    assert res.t_eff_days == pytest.approx(t_eff, rel=1e-9)
    assert res.terminal_r2 == pytest.approx(1.0, abs=1e-12)
    analytic = a0 * t_eff / math.log(2) * math.exp(-math.log(2) / t_eff * 1.0)  # integral from day 1 to infinity
    assert res.auc_first_inf == pytest.approx(analytic, rel=1e-6)
    assert res.auc_tail == pytest.approx(a[-1] * t_eff / math.log(2), rel=1e-12)
    t_phys = ZR89_HALF_LIFE_S / SECONDS_PER_DAY
    assert res.t_bio_days == pytest.approx(1.0 / (1.0 / t_eff - 1.0 / t_phys), rel=1e-9)
    assert res.auc_0_first == pytest.approx(a[0] * 1.0 / 2.0, rel=1e-12)


def test_pk_linear_trapezoid_auc_and_decay_corrected_input() -> None:
    t = np.array([1.0, 3.0, 6.0])
    t_eff = 2.5
    a = _mono(t, 40.0, t_eff)
    lam_phys = math.log(2) / (ZR89_HALF_LIFE_S / SECONDS_PER_DAY)
    corrected = a * np.exp(lam_phys * t)
    res = pk_curve(t, corrected, decay_corrected=True, half_life_s=ZR89_HALF_LIFE_S, method="linear")
    assert res.t_eff_days == pytest.approx(t_eff, rel=1e-9)
    trapezoid = 2.0 * (a[0] + a[1]) / 2 + 3.0 * (a[1] + a[2]) / 2
    assert res.auc_first_last == pytest.approx(trapezoid, rel=1e-9)
    assert res.auc_first_inf == pytest.approx(trapezoid + a[2] * t_eff / math.log(2), rel=1e-9)


def test_biological_half_life_formula() -> None:
    assert biological_half_life(2.0, 3.0) == pytest.approx(6.0, rel=1e-15)
    assert math.isinf(biological_half_life(3.266, 3.266))
    with pytest.raises(InvalidInputError):
        biological_half_life(0.0, 3.0)


def test_pk_table_per_subject_and_voi() -> None:
    t = np.array([1.0, 3.0, 6.0])
    rows = []
    for subject, t_eff in (("S1", 2.0), ("S2", 4.0)):
        for voi, kind, a0 in (("liver", "organ", 30.0), ("lesion_1", "tumour", 10.0)):
            for ti, ai in zip(t, _mono(t, a0, t_eff), strict=True):
                rows.append({"subject_id": subject, "voi": voi, "kind": kind, "time_days": ti,
                             "activity_kbq_ml": ai, "suv_mean": ai / 5.0})
    out = pk_table(pd.DataFrame(rows), decay_corrected=False, half_life_s=ZR89_HALF_LIFE_S, method="log")
    assert len(out) == 4
    np.testing.assert_allclose(out["t_eff_days"], [2.0, 2.0, 4.0, 4.0], rtol=1e-9)
    np.testing.assert_allclose(out["suv_auc_first_inf"], out["auc_first_inf"] / 5.0, rtol=1e-12)


def test_pk_errors() -> None:
    with pytest.raises(InvalidInputError, match="at least 2"):
        pk_curve([1.0], [2.0], decay_corrected=False, half_life_s=ZR89_HALF_LIFE_S)
    with pytest.raises(InvalidInputError, match="strictly increasing"):
        pk_curve([3.0, 1.0], [2.0, 1.0], decay_corrected=False, half_life_s=ZR89_HALF_LIFE_S)
    _, tail = auc_with_tail([1.0, 2.0], [1.0, 2.0], math.inf)
    assert math.isinf(tail)
