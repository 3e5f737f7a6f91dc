"""Trial statistics on the synthetic cohort: the built-in relationships come back with the right sign and
significance; analyses with too few data say so; the `stats` stage writes its table, JSON and figures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.cli import main
from pipeline.config import validate_config
from pipeline.stats.endpoints import STATS_COLUMNS, CohortData, run_analyses, validate_analyses
from pipeline.synthetic import cohort_tables
from pipeline.synthetic.cohort import _records
from pipeline.synthetic.protocol import plan_subjects

N_SUBJECTS, SEED = 40, 5


def _uptake_from_truth(n: int, seed: int) -> pd.DataFrame:
    """An uptake table with the phantom's exact lesion SUVs (no DICOM written: fast)."""
    rows = []
    for record in _records(plan_subjects(n, seed), seed):
        for lesion in record.phantom.lesions:
            for timepoint, suv in lesion.suvs.items():
                if timepoint in lesion.shapes:
                    rows.append({"subject_id": record.subject.subject_id, "timepoint": timepoint, "kind": "tumour",
                                 "name": lesion.lesion_id, "lesion_id": lesion.lesion_id, "organ": lesion.organ,
                                 "suv_max": suv, "suv_mean": suv})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def results() -> pd.DataFrame:
    tables = cohort_tables(N_SUBJECTS, SEED)
    data = CohortData(uptake=_uptake_from_truth(N_SUBJECTS, SEED), ihc=tables["ihc"], histology=tables["histology"],
                      outcomes=tables["outcomes"])
    analyses = validate_config({})["analyses"]
    return run_analyses(data, analyses).set_index(["endpoint", "analysis", "level"])


def _one(results: pd.DataFrame, key: tuple[str, str, str]) -> pd.Series:
    rows = results.loc[[key]]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_columns_and_adjustment(results: pd.DataFrame) -> None:
    assert sorted(results.reset_index().columns) == sorted(STATS_COLUMNS)
    finite = results.dropna(subset=["p_value"])
    assert (finite["p_adjusted"] >= finite["p_value"] - 1e-12).all()


def test_suv_rises_with_percent_positive_cells(results: pd.DataFrame) -> None:
    pooled = _one(results, ("suv_vs_ihc", "spearman_percent_positive", "marker=all (pooled)"))
    assert pooled["estimate"] > 0.5 and pooled["p_value"] < 0.001
    trend = _one(results, ("suv_vs_ihc", "jonckheere_terpstra_intensity", "marker=all (pooled)"))
    assert trend["p_value"] < 0.001


def test_malignant_lesions_are_hotter(results: pd.DataFrame) -> None:
    auc = _one(results, ("diagnostic", "roc_auc", "lesion"))
    # benign foci are built with low uptake: complete separation, AUC 1 (Obuchowski SE 0: no CI, said in notes)
    assert auc["estimate"] == 1.0 and "AUC at the boundary" in auc["notes"] and "Obuchowski" in auc["method"]
    assert "I=40 patients" in auc["notes"]
    sens = _one(results, ("diagnostic", "sensitivity", "lesion"))  # lesions nested in patients: Rao-Scott
    assert "Rao-Scott" in sens["method"] and "design effect" in sens["notes"]
    assert sens["ci_low"] < sens["estimate"] <= sens["ci_high"]
    patient = results.loc[("diagnostic", "sensitivity", "patient")]
    assert len(patient) == 2 and set(patient["method"].str.lower().str.contains("wilson|clopper")) == {True}


def test_hotter_tumours_die_sooner(results: pd.DataFrame) -> None:
    cox = _one(results, ("survival", "cox_hr_continuous", "outcome=os"))
    assert cox["estimate"] > 1.0 and cox["p_value"] < 0.05


def test_route_without_paired_scans_says_so(results: pd.DataFrame) -> None:
    row = results.loc[("route", "geometric_mean_ratio", "lesion")].iloc[0]
    assert row["n_subjects"] == 0 and "n = 0" in row["notes"]


def test_stats_stage_writes_outputs(tmp_path: Path) -> None:
    tables = cohort_tables(12, 3)
    uptake = _uptake_from_truth(12, 3)
    uptake.to_parquet(tmp_path / "uptake.parquet")
    for name in ("ihc", "histology", "outcomes"):
        tables[name].to_csv(tmp_path / f"{name}.csv", index=False)
    config = {"analyses": {"suv_vs_ihc": {"variable": "suv_max"}}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["stats", "--config", str(tmp_path / "config.yaml"), "--uptake", str(tmp_path / "uptake.parquet"),
                 "--ihc", str(tmp_path / "ihc.csv"), "--histology", str(tmp_path / "histology.csv"),
                 "--outcomes", str(tmp_path / "outcomes.csv"), "-o", str(tmp_path / "stats.csv")]) == 0
    table = pd.read_csv(tmp_path / "stats.csv")
    assert set(table["endpoint"]) >= {"suv_vs_ihc", "diagnostic", "survival", "route"}
    sidecar = json.loads((tmp_path / "stats.json").read_text())
    assert "waterfall_sulpeak.png" not in sidecar["figures"]  # no deltas given
    for stem in ("suv_vs_percent_positive", "suv_by_ihc_intensity", "roc_histology", "kaplan_meier_os"):
        assert (tmp_path / "figures" / f"{stem}.png").stat().st_size > 1000
        assert (tmp_path / "figures" / f"{stem}.svg").is_file()


def test_unknown_variable_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uptake = _uptake_from_truth(3, 1)
    uptake.to_parquet(tmp_path / "uptake.parquet")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"analyses": {"diagnostic": {"variable": "suv_maxx"}}}))
    assert main(["stats", "--config", str(tmp_path / "config.yaml"), "--uptake", str(tmp_path / "uptake.parquet"),
                 "--ihc", "", "--histology", "", "--outcomes", "", "-o", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err
    assert "unknown variable 'suv_maxx'" in err and "analyses.diagnostic.variable" in err


def test_ihc_rows_without_a_voi_are_listed() -> None:
    tables = cohort_tables(6, 2)
    ihc = pd.concat([tables["ihc"], pd.DataFrame([{"subject_id": "P01", "timepoint": "baseline",
                                                   "lesion_id": "lesion_99", "marker": "IL2R",
                                                   "percent_positive": 50.0, "intensity": "2+",
                                                   "pattern": "mixed"}])])
    data = CohortData(uptake=_uptake_from_truth(6, 2), ihc=ihc)
    analyses = {name: {"enabled": name == "suv_vs_ihc"} for name in ("suv_vs_ihc", "suv_vs_response",
                                                                     "treatment_change", "route", "diagnostic",
                                                                     "survival", "heterogeneity")}
    analyses["suv_vs_ihc"] = validate_analyses({})["suv_vs_ihc"]
    table = run_analyses(data, analyses)
    assert data.warnings == ["IHC rows without a VOI (ignored): P01/baseline/lesion_99"]
    assert table["notes"].str.contains("P01/baseline/lesion_99").any()
