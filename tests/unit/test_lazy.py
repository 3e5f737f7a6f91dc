"""Cheap start-up and exit of the workflow: validating a configuration (every snakemake start, twice in each
SLURM job) imports none of the heavy statistics and plotting libraries; the lazy names still resolve; a cluster
job's snakemake does not wait at exit for its pending timers."""

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


@pytest.mark.parametrize("cancel", [False, True])
def test_no_exit_wait_lets_a_job_side_snakemake_exit_without_its_pending_timers(tmp_path, cancel: bool) -> None:
    """A pending threading.Timer (snakemake's job rate limiter starts one after every scheduling round) holds a
    process open at exit until it fires; after no_exit_wait() (the Snakefile calls it in a cluster job's
    snakemake) it is cancelled instead: its action never runs."""
    marker = tmp_path / "fired"
    code = ("import sys, threading; from pipeline.workflow import no_exit_wait; "
            "threading.Timer(0.5, lambda: open(sys.argv[1], 'w').close()).start()"
            + ("; no_exit_wait()" if cancel else ""))
    subprocess.run([sys.executable, "-c", code, str(marker)], check=True, timeout=60)
    assert marker.exists() is not cancel
