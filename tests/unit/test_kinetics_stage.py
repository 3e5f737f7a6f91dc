"""`petvoi kinetics` glue: 2TCM, Logan and Patlak on TACs simulated from a known input and known rates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InvalidInputError
from pipeline.kinetics.blood import InputFunction
from pipeline.kinetics.models import feng_input, simulate_frames, standard_frames
from pipeline.kinetics.stage import run_kinetics

TRUE = {"K1": 0.1, "k2": 0.1, "k3": 0.05, "k4": 0.05, "vB": 0.0}  # VT = K1/k2 (1 + k3/k4) = 2


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, InputFunction]:
    start, end = standard_frames()
    plasma = (np.linspace(0, 90, 90001), feng_input(np.linspace(0, 90, 90001)))
    tac = simulate_frames("2tcm", TRUE, start, end, plasma)
    mid_s, dur_s = (start + end) / 2 * 60, (end - start) * 60
    table = pd.DataFrame({"label": 1, "name": "lesion_01", "frame": np.arange(len(tac)), "start_s": start * 60,
                          "duration_s": dur_s, "mid_s": mid_s, "activity_kbq_ml": tac, "suv_mean": np.nan,
                          "n_voxels": 100})
    path = tmp_path_factory.mktemp("kin") / "tacs.csv"
    table.to_csv(path, index=False)
    t_s = np.linspace(0, 91 * 60, 5461)
    curve = feng_input(t_s / 60)
    blood = InputFunction(times_s=t_s, parent_plasma=curve, total_plasma=curve, whole_blood=curve,
                          kind="parent_plasma")
    return path, blood


def test_2tcm_logan_patlak(inputs: tuple[Path, InputFunction], tmp_path: Path) -> None:
    path, blood = inputs
    table = run_kinetics(path, tmp_path / "kinetics.csv", models=["2tcm", "logan"], blood=blood, t_star_min=30)
    values = table.set_index(["model", "parameter"])["value"]
    assert values[("2tcm", "VT")] == pytest.approx(2.0, rel=1e-3)
    assert values[("2tcm", "K1")] == pytest.approx(0.1, rel=1e-3)
    # Logan on 2TCM data with frame-mid trapezoid TAC integrals is biased low (known, -2.3 % here)
    assert values[("logan", "VT")] == pytest.approx(1.9548, rel=1e-3)
    assert table.loc[table["model"] == "2tcm", "converged"].all()
    assert (tmp_path / "kinetics.csv").is_file()


def test_plasma_model_without_blood_is_an_error(inputs: tuple[Path, InputFunction], tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="plasma-input models need a blood input"):
        run_kinetics(inputs[0], tmp_path / "k.csv", models=["logan"])


def test_blood_not_covering_the_scan(inputs: tuple[Path, InputFunction], tmp_path: Path) -> None:
    short = InputFunction(times_s=np.linspace(0, 1800, 100), parent_plasma=np.ones(100), total_plasma=np.ones(100),
                          whole_blood=np.ones(100), kind="parent_plasma")
    with pytest.raises(InvalidInputError, match="blood samples do not cover the scan"):
        run_kinetics(inputs[0], tmp_path / "k.csv", models=["2tcm"], blood=short)


def test_unphysical_mrtm_is_flagged_in_the_table_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    """MRTM at t* = 0 on the synthetic spleen (2TCM, true BPND 2.0): k2 < 0, so not converged, with the reason."""
    import logging

    from pipeline.synthetic.kinetic import KINETIC_VOIS, _whole_blood

    start, end = standard_frames()
    rows = []
    for label in (3, 4):  # spleen (target), muscle (reference)
        name, model, params = KINETIC_VOIS[label]
        tac = simulate_frames(model, params, start, end, feng_input, _whole_blood)
        rows.append(pd.DataFrame({"label": label, "name": name, "frame": np.arange(len(tac)), "start_s": start * 60,
                                  "duration_s": (end - start) * 60, "mid_s": (start + end) / 2 * 60,
                                  "activity_kbq_ml": tac}))
    path = tmp_path / "tacs.csv"
    pd.concat(rows).to_csv(path, index=False)
    with caplog.at_level(logging.WARNING, logger="pipeline.kinetics.stage"):
        table = run_kinetics(path, tmp_path / "kinetics.csv", models=["mrtm", "logan_ref"], reference="muscle",
                             t_star_min=None)
    mrtm_rows = table[table["model"] == "mrtm"]
    assert not mrtm_rows["converged"].any()
    assert mrtm_rows["message"].str.startswith("not converged: unphysical k2 = -0.019").all()
    bpnd = mrtm_rows.set_index("parameter")["value"]["BPND"]
    assert bpnd == pytest.approx(1.2105, abs=1e-3)
    assert "spleen mrtm: unphysical estimates (k2 = -0.019" in caplog.text
    # the reference Logan of the same curves (auto t*) is physical and stays converged
    assert table.loc[table["model"] == "logan_ref", "converged"].all()
    written = pd.read_csv(tmp_path / "kinetics.csv")
    assert not written.loc[written["model"] == "mrtm", "converged"].any()
