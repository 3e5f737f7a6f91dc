"""Cohort report, figures: every figure of the stats stage, embedded with its caption; those that belong to
a section (biodistribution, the response waterfall) are shown there instead of in the gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..inputs import CohortInputs
from ..render import Section, data_uri

__all__ = ["SECTION", "FIGURE_CAPTIONS", "SECTION_FIGURES", "figure"]

#: Captions of the figures the stats stage writes (by file stem); other figures get a generic caption.
FIGURE_CAPTIONS = {
    "biodistribution": "Organ and reference-region SUVmean per timepoint (biodistribution).",
    "waterfall_sulpeak": ("Waterfall plot: % change of the hottest-lesion SULpeak (PERCIST-style) per patient, "
                          "coloured by best overall response."),
    "suv_vs_percent_positive": "Uptake of biopsied lesions vs IHC % positive cells, with Spearman ρ [CI].",
    "suv_by_ihc_intensity": "Uptake by IHC staining intensity (0/1+/2+/3+), with the Jonckheere–Terpstra trend p.",
    "roc_histology": "ROC curve of lesion uptake against histology (malignant vs benign), AUC with DeLong CI.",
    "kaplan_meier_os": "Kaplan–Meier curves of overall survival by baseline uptake group (median split), log-rank p.",
    "kaplan_meier_pfs": ("Kaplan–Meier curves of progression-free survival by baseline uptake group (median split), "
                         "log-rank p."),
}
#: Figures shown inside their own section rather than in the figure gallery.
SECTION_FIGURES = {"biodistribution": "biodistribution", "waterfall_sulpeak": "response"}


def figure(png: Path) -> dict[str, str]:
    """One embedded figure: file name, stem, caption and data URI."""
    caption = FIGURE_CAPTIONS.get(png.stem) or png.stem.replace("_", " ").capitalize() + "."
    return {"name": png.name, "stem": png.stem, "caption": caption, "src": data_uri(png)}


def build(inputs: CohortInputs) -> dict[str, Any]:
    """``figures`` (the gallery), ``section_figures`` (by section) and ``n_figures``."""
    figures = [figure(p) for p in inputs.figures]
    return {"figures": [f for f in figures if f["stem"] not in SECTION_FIGURES], "n_figures": len(figures),
            "section_figures": {SECTION_FIGURES[f["stem"]]: f for f in figures if f["stem"] in SECTION_FIGURES}}


SECTION = Section("figures", build)
