"""Cheap start-up of the workflow: validating a configuration (every snakemake start, twice in each SLURM job)
imports none of the heavy statistics and plotting libraries; the lazy names still resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_config_validation_imports_no_statistics_or_plotting_library() -> None:
    code = ("import sys; from pipeline.workflow import load_workflow_config; load_workflow_config({}, source='x'); "
            "print(sorted(m for m in ('scipy.stats', 'statsmodels', 'lifelines', 'matplotlib', 'sklearn') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_names_resolve_once_and_unknown_names_raise() -> None:
    import pipeline.stats.methods as methods

    first = methods.spearman
    assert first is methods.spearman and first.__module__ == "pipeline.stats.methods.correlation"
    assert "spearman" in vars(methods)  # kept: the next use is a plain global
    with pytest.raises(AttributeError, match="has no attribute 'no_such_test'"):
        _ = methods.no_such_test
