"""The contracts between stages: the results layout (:mod:`.layout`) and the JSON sidecars (:mod:`.sidecars`)."""

from .layout import (
    STUDY_FOLDER,
    TEMPLATES,
    CohortPaths,
    ReportPaths,
    ResultsLayout,
    StudyPaths,
    SubjectPaths,
    template,
)
from .sidecars import (
    CtSidecar,
    KineticsSidecar,
    Sidecar,
    SuvSidecar,
    VoiCatalogue,
    read_suv_sidecar,
    sidecar_path,
    write_provenance,
)

__all__ = ["TEMPLATES", "STUDY_FOLDER", "template", "StudyPaths", "SubjectPaths", "CohortPaths", "ReportPaths",
           "ResultsLayout", "Sidecar", "SuvSidecar", "CtSidecar", "VoiCatalogue", "KineticsSidecar",
           "read_suv_sidecar", "sidecar_path", "write_provenance"]
