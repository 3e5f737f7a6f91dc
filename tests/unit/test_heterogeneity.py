"""Heterogeneity metrics against values computed by hand on small arrays."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from pipeline.dicom.geometry import Geometry
from pipeline.metrics.heterogeneity import heterogeneity_table, inter_lesion_spread, intra_lesion
from pipeline.voi.catalogue import Voi, VoiSet


def test_uniform_voi() -> None:
    m = intra_lesion(np.full(10, 4.0))
    assert m["cov"] == 0.0
    assert m["auc_csh"] == 1.0  # every voxel at SUVmax: the CSH is 1 for every threshold
    assert m["entropy"] == 0.0


def test_hand_computed_values() -> None:
    v = np.array([1.0, 2.0, 3.0, 4.0])
    m = intra_lesion(v, bin_width=1.0)
    # mean 2.5, sample SD sqrt(5/3)
    assert m["cov"] == pytest.approx(math.sqrt(5.0 / 3.0) / 2.5, rel=1e-12)
    # CSH(t) = fraction with v >= 4t: area = (1 + 2 + 3 + 4) / 4 / 4 = 0.625
    assert m["auc_csh"] == pytest.approx(0.625, rel=1e-12)
    # four different bins of equal probability: log2(4) = 2 bits
    assert m["entropy"] == pytest.approx(2.0, rel=1e-12)


def test_auc_matches_a_discretised_csh() -> None:
    rng = np.random.default_rng(1)
    v = rng.gamma(3.0, 2.0, size=5000)
    thresholds = np.linspace(0.0, 1.0, 20001)
    csh = [(v >= t * v.max()).mean() for t in thresholds]
    assert intra_lesion(v)["auc_csh"] == pytest.approx(np.trapezoid(csh, thresholds), abs=2e-4)


def test_entropy_bins_from_zero() -> None:
    # 0.24 and 0.26 fall in different 0.25-wide bins counted from SUV 0 ([0, 0.25) and [0.25, 0.5))
    assert intra_lesion(np.array([0.24, 0.26]))["entropy"] == pytest.approx(1.0)
    assert intra_lesion(np.array([0.26, 0.49]))["entropy"] == pytest.approx(0.0)


def test_single_and_empty_voi() -> None:
    assert math.isnan(intra_lesion(np.array([3.0]))["cov"])
    assert math.isnan(intra_lesion(np.array([]))["auc_csh"])


def test_table_per_voi() -> None:
    geometry = Geometry((1, 2, 2), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), np.eye(3))
    suv = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    whole = np.ones((1, 2, 2), bool)
    half = np.array([[[True, True], [False, False]]])
    voiset = VoiSet.from_masks(geometry, [(whole, Voi(0, "lesion_01", "tumour", lesion_id="lesion_01")),
                                          (half, Voi(0, "lesion_02", "tumour", lesion_id="lesion_02"))])
    table = heterogeneity_table(suv, voiset, bin_width=1.0)
    assert table["auc_csh"].tolist() == pytest.approx([0.625, 0.75])
    assert table["n_voxels"].tolist() == [4, 2]


def test_inter_lesion_spread() -> None:
    uptake = pd.DataFrame({
        "subject_id": ["P1"] * 4 + ["P2"] * 2,
        "timepoint": ["b"] * 4 + ["b"] * 2,
        "kind": ["tumour", "tumour", "tumour", "reference", "tumour", "organ"],
        "suv_max": [2.0, 4.0, 8.0, 3.0, 5.0, 1.0],
        "suv_mean": [1.0, 2.0, 3.0, 2.5, 2.0, 0.5],
    })
    spread = inter_lesion_spread(uptake, positivity_threshold=4.0).set_index("subject_id")
    p1 = spread.loc["P1"]
    assert p1["n_lesions"] == 3 and p1["n_positive"] == 2
    assert p1["fraction_positive"] == pytest.approx(2 / 3)
    assert p1["suv_max_sd"] == pytest.approx(np.std([2.0, 4.0, 8.0], ddof=1))
    assert p1["suv_max_cov"] == pytest.approx(np.std([2.0, 4.0, 8.0], ddof=1) / (14 / 3))
    assert p1["suv_max_range"] == 6.0 and p1["suv_max_max_min_ratio"] == 4.0
    p2 = spread.loc["P2"]
    assert p2["n_lesions"] == 1 and math.isnan(p2["suv_max_sd"]) and p2["suv_max_max_min_ratio"] == 1.0
