"""The ``report`` stage: the report of one subject, or of the cohort, as HTML and PDF."""

from __future__ import annotations

from pathlib import Path

from ..config import load_config
from ..outputs import ResultsLayout

__all__ = ["run_report"]


def run_report(config: Path, samples: Path, results: Path, *, subject: str | None = None,
               output_dir: Path | None = None) -> tuple[Path, Path | None]:
    """Write the patient report of ``subject``, or the cohort report when ``subject`` is None.

    Parameters
    ----------
    config : Path
        The resolved configuration (``results/config.resolved.yaml``): report settings, clinical tables,
        ``deidentify``.
    samples : Path
        The sample sheet: the only source of subject IDs shown.
    results : Path
        The results folder the report reads.
    subject : str, optional
        A subject of the sample sheet; None for the cohort report.
    output_dir : Path, optional
        Reports folder (default ``results/reports``).

    Returns
    -------
    (Path, Path or None)
        The HTML and PDF files written.
    """
    cfg = load_config(config)
    layout = ResultsLayout(Path(results))
    reports = layout.reports if output_dir is None else type(layout.reports)(Path(output_dir))
    if subject is None:
        from .cohort import write_cohort_report

        return write_cohort_report(results_dir=layout.root, samples=samples, config=cfg, output_html=reports.cohort,
                                   deidentify=cfg["deidentify"])
    from .patient import write_patient_report

    return write_patient_report(subject, results_dir=layout.root, samples=samples, config=cfg,
                                output_html=reports.patient(subject), deidentify=cfg["deidentify"])
