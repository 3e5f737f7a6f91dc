"""The results layout: where every stage writes and reads, as one table of path templates and typed paths.

``results/`` holds one folder per study (``<subject>/<timepoint>/``), one file per subject beside its
studies (``<subject>/deltas.csv``), the cohort tables (``cohort/``), the reports (``reports/``), the
series index (``index/``), and the logs and benchmarks of the workflow. :data:`TEMPLATES` spells each
path once, relative to the results folder, with ``{subject}`` and ``{timepoint}`` placeholders; the
Snakemake rules (``rules/common.smk``) and the package's typed paths are both built from it, so a
file is renamed in one place.

Typed paths
-----------
:class:`StudyPaths`, :class:`SubjectPaths`, :class:`CohortPaths` and :class:`ReportPaths` name the
files of one folder; :class:`ResultsLayout` gives them for a results folder. A study folder can also
come from a user's template (``petvoi deltas --template 'results/{subject}/{timepoint}'``):
:meth:`StudyPaths.from_template`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..io import sanitise_name

__all__ = ["TEMPLATES", "STUDY_FOLDER", "template", "StudyPaths", "SubjectPaths", "CohortPaths", "ReportPaths",
           "ResultsLayout"]

#: A study's folder, relative to the results folder.
STUDY_FOLDER = "{subject}/{timepoint}"

#: Every file passed between stages, relative to the results folder.
TEMPLATES: dict[str, str] = {
    # per study (static or dynamic)
    "suv": f"{STUDY_FOLDER}/suv.nii.gz",
    "suv_json": f"{STUDY_FOLDER}/suv.json",
    "ct": f"{STUDY_FOLDER}/ct.nii.gz",
    "ct_json": f"{STUDY_FOLDER}/ct.json",
    "vois": f"{STUDY_FOLDER}/vois.nii.gz",
    "vois_json": f"{STUDY_FOLDER}/vois.json",
    "uptake": f"{STUDY_FOLDER}/uptake.csv",
    "uptake_json": f"{STUDY_FOLDER}/uptake.json",
    "texture": f"{STUDY_FOLDER}/texture.csv",
    "texture_json": f"{STUDY_FOLDER}/texture.json",
    "heterogeneity": f"{STUDY_FOLDER}/heterogeneity.csv",
    "tacs": f"{STUDY_FOLDER}/tacs.csv",
    "kinetics": f"{STUDY_FOLDER}/kinetics.csv",
    "kinetics_json": f"{STUDY_FOLDER}/kinetics.json",
    "parametric": f"{STUDY_FOLDER}/parametric",
    "parametric_map": f"{STUDY_FOLDER}/parametric/{{map}}.nii.gz",
    "parametric_json": f"{STUDY_FOLDER}/parametric/parametric.json",
    "dicom": f"{STUDY_FOLDER}/dicom",  # DICOM outputs: the VOIs as SEG, the uptake as TID 1500 SR, SUV as a map
    "dicom_seg": f"{STUDY_FOLDER}/dicom/seg.dcm",
    "dicom_sr": f"{STUDY_FOLDER}/dicom/sr.dcm",
    "dicom_pm": f"{STUDY_FOLDER}/dicom/suv_pm.dcm",
    "dicom_map": f"{STUDY_FOLDER}/dicom/{{map}}_pm.dcm",  # a dynamic study's parametric map (logan_vt, patlak_ki)
    # per MR study (the MR sample sheet, config mri.samples): {subject}/mri_{timepoint}
    "mri_vois": "{subject}/mri_{timepoint}/mr_vois.nii.gz",
    "mri_vois_json": "{subject}/mri_{timepoint}/mr_vois.json",
    "mri_t1": "{subject}/mri_{timepoint}/t1.nii.gz",
    "mri_dce": "{subject}/mri_{timepoint}/dce/dce.csv",
    "mri_dce_json": "{subject}/mri_{timepoint}/dce/dce.json",
    "mri_dce_curves": "{subject}/mri_{timepoint}/dce/curves.csv",  # VOI and AIF concentration, fitted curves
    "mri_precontrast": "{subject}/mri_{timepoint}/dce/precontrast.nii.gz",  # mean of the pre-contrast phases
    "mri_precontrast_z": "{subject}/mri_{timepoint}/precontrast_z.nii.gz",  # z-scored in mri.texture.reference
    "mri_texture": "{subject}/mri_{timepoint}/texture.csv",
    "mri_dce_map": "{subject}/mri_{timepoint}/dce/{map}.nii.gz",  # a voxel map of mri.dce.model's parameters
    "mri_dwi_map": "{subject}/mri_{timepoint}/dwi/{map}.nii.gz",  # adc, ivim_f, ivim_d, ivim_dstar (dki_d, dki_k)
    "mri_dicom_map": "{subject}/mri_{timepoint}/dicom/{map}_pm.dcm",  # a map as a DICOM Parametric Map
    "mri_dwi": "{subject}/mri_{timepoint}/dwi/dwi.csv",
    "mri_dwi_json": "{subject}/mri_{timepoint}/dwi/dwi.json",
    # per subject
    "deltas": "{subject}/deltas.csv",
    # the cohort
    "series_index": "index/series.csv",
    "series_index_part": "index/parts/series_{part}.csv",
    "series_index_skipped": "index/series_skipped.csv",
    "failures": "failed",  # failure records of studies whose stage failed (pipeline/failures.py)
    "failure_record": "failed/{subject}_{timepoint}.json",
    "cohort_samples": "cohort/samples.tsv",  # the sample sheet without the failed studies: what the cohort is
    "failed_studies": "cohort/failed_studies.csv",
    "archive_fetched": "archive/fetched.json",  # what petvoi fetch retrieved (config archive.fetch)
    "archive_pushed": "archive/pushed.json",  # what petvoi push stored (config archive.push)
    "series_index_part_skipped": "index/parts/series_{part}_skipped.csv",
    "cohort_table": "cohort/{table}.parquet",
    "response": "cohort/response.csv",
    "response_bor": "cohort/response_bor.csv",
    "stats": "cohort/stats.csv",
    "stats_json": "cohort/stats.json",
    "biodistribution": "cohort/biodistribution.csv",
    "pk": "cohort/pk.csv",  # multi-day PK: subjects with several scans after one injection
    "mri_table": "cohort/mri.csv",  # one row per MR study and VOI: volume, T1, DCE and diffusion parameters
    "mri_texture_table": "cohort/mri_texture.csv",  # the MR studies' texture tables, stacked
    "pk_points": "cohort/pk_points.csv",
    "pk_json": "cohort/pk.json",
    "figures": "cohort/figures",
    "config_resolved": "config.resolved.yaml",
    # reports
    "patient_report": "reports/{subject}.html",
    "patient_report_pdf": "reports/{subject}.pdf",
    "cohort_report": "reports/cohort.html",
    "cohort_report_pdf": "reports/cohort.pdf",
    # workflow bookkeeping: one log and one benchmark per job ({job}: the rule, with the study when per study)
    "log": "logs/{job}.log",
    "benchmark": "benchmarks/{job}.tsv",
}

#: Cohort tables stacked from the per-study (or per-subject) tables of the same name.
COHORT_TABLES = ("uptake", "texture", "heterogeneity", "deltas", "kinetics", "inter_lesion")


def template(name: str) -> str:
    """The path template ``name`` of :data:`TEMPLATES` (relative to the results folder).

    Raises
    ------
    KeyError
        For a name that is not in the table.
    """
    return TEMPLATES[name]


def _file(name: str) -> str:
    """The last component of a per-folder template (``suv`` -> ``suv.nii.gz``)."""
    return TEMPLATES[name].rsplit("/", 1)[-1]


@dataclass(frozen=True)
class StudyPaths:
    """The files of one study folder (``results/<subject>/<timepoint>``).

    Attributes
    ----------
    folder : Path
        The study folder.
    """

    folder: Path

    @classmethod
    def from_template(cls, folder_template: str, subject: str, timepoint: str) -> StudyPaths:
        """The study folder of ``subject``/``timepoint`` from a template with those placeholders."""
        return cls(Path(folder_template.format(subject=subject, timepoint=timepoint)))

    @property
    def suv(self) -> Path:
        """SUV volume (float32 NIfTI; 4D for a dynamic series)."""
        return self.folder / _file("suv")

    @property
    def suv_json(self) -> Path:
        """The SUV sidecar (:class:`~pipeline.outputs.sidecars.SuvSidecar`)."""
        return self.folder / _file("suv_json")

    @property
    def ct(self) -> Path:
        """CT volume in HU."""
        return self.folder / _file("ct")

    @property
    def vois(self) -> Path:
        """VOI set (4D uint8 NIfTI)."""
        return self.folder / _file("vois")

    @property
    def vois_json(self) -> Path:
        """The VOI catalogue (:class:`~pipeline.outputs.sidecars.VoiCatalogue`)."""
        return self.folder / _file("vois_json")

    @property
    def uptake(self) -> Path:
        """Uptake table, one row per VOI."""
        return self.folder / _file("uptake")

    @property
    def texture(self) -> Path:
        """Texture table, one row per VOI and feature."""
        return self.folder / _file("texture")

    @property
    def heterogeneity(self) -> Path:
        """Heterogeneity table, one row per VOI."""
        return self.folder / _file("heterogeneity")

    @property
    def tacs(self) -> Path:
        """Time-activity curves of a dynamic study."""
        return self.folder / _file("tacs")

    @property
    def kinetics(self) -> Path:
        """Kinetic-model table of a dynamic study."""
        return self.folder / _file("kinetics")

    @property
    def kinetics_json(self) -> Path:
        """The kinetics sidecar (:class:`~pipeline.outputs.sidecars.KineticsSidecar`)."""
        return self.folder / _file("kinetics_json")

    @property
    def parametric(self) -> Path:
        """Folder of the parametric maps."""
        return self.folder / _file("parametric")

    @property
    def dicom_seg(self) -> Path:
        """The VOIs as a DICOM Segmentation."""
        return self.folder / _file("dicom") / _file("dicom_seg")

    @property
    def dicom_sr(self) -> Path:
        """The uptake table as a TID 1500 Comprehensive 3D SR."""
        return self.folder / _file("dicom") / _file("dicom_sr")

    @property
    def dicom_pm(self) -> Path:
        """The SUV volume as a DICOM Parametric Map."""
        return self.folder / _file("dicom") / _file("dicom_pm")

    def dicom_map(self, name: str) -> Path:
        """A dynamic study's parametric map ``name`` (``logan_vt``...) as a DICOM Parametric Map."""
        return self.folder / _file("dicom") / _file("dicom_map").format(map=name)


@dataclass(frozen=True)
class SubjectPaths:
    """The files of one subject folder (``results/<subject>``), beside its study folders."""

    folder: Path

    @property
    def deltas(self) -> Path:
        """Baseline vs follow-up changes and PERCIST/EORTC of the subject."""
        return self.folder / _file("deltas")

    def study(self, timepoint: str) -> StudyPaths:
        """The study folder of ``timepoint``."""
        return StudyPaths(self.folder / timepoint)


@dataclass(frozen=True)
class CohortPaths:
    """The cohort tables, statistics and figures (``results/cohort``)."""

    folder: Path

    def table(self, name: str) -> Path:
        """A stacked cohort table (``uptake``, ``deltas``, ... of :data:`COHORT_TABLES`) as Parquet."""
        return self.folder / f"{name}.parquet"

    @property
    def response(self) -> Path:
        """RECIST 1.1 / iRECIST time-point responses."""
        return self.folder / _file("response")

    @property
    def response_bor(self) -> Path:
        """Best overall response per subject."""
        return self.folder / _file("response_bor")

    @property
    def stats(self) -> Path:
        """Trial endpoint statistics."""
        return self.folder / _file("stats")

    @property
    def biodistribution(self) -> Path:
        """Organ SUV summaries per timepoint."""
        return self.folder / _file("biodistribution")

    @property
    def figures(self) -> Path:
        """Folder of the cohort figures."""
        return self.folder / _file("figures")

    @property
    def failed_studies(self) -> Path:
        """The studies left out of the cohort because a stage failed (``failed_studies.csv``)."""
        return self.folder / _file("failed_studies")

    @property
    def pk(self) -> Path:
        """Multi-day PK per subject, injection and VOI (AUC, effective and biological half-lives), or notes."""
        return self.folder / _file("pk")

    @property
    def pk_points(self) -> Path:
        """The time-activity points of each multi-day PK curve."""
        return self.folder / _file("pk_points")


@dataclass(frozen=True)
class ReportPaths:
    """The report folder (``results/reports``)."""

    folder: Path

    def patient(self, subject: str) -> Path:
        """HTML report of one subject (the PDF has the same name with ``.pdf``); the name is sanitised."""
        return self.folder / _file("patient_report").format(subject=sanitise_name(subject))

    @property
    def cohort(self) -> Path:
        """HTML cohort report (the PDF has the same name with ``.pdf``)."""
        return self.folder / _file("cohort_report")


@dataclass(frozen=True)
class ResultsLayout:
    """The results folder of a run and the typed paths under it.

    Attributes
    ----------
    root : Path
        The results folder (config ``results``).
    """

    root: Path

    def path(self, name: str, **fields: str) -> Path:
        """The path ``name`` of :data:`TEMPLATES` with its placeholders filled from ``fields``."""
        return self.root / TEMPLATES[name].format(**fields)

    def study(self, subject: str, timepoint: str) -> StudyPaths:
        """The study folder of ``subject``/``timepoint``."""
        return StudyPaths(self.root / STUDY_FOLDER.format(subject=subject, timepoint=timepoint))

    def subject(self, subject: str) -> SubjectPaths:
        """The subject folder."""
        return SubjectPaths(self.root / subject)

    @property
    def cohort(self) -> CohortPaths:
        """The cohort folder."""
        return CohortPaths(self.root / TEMPLATES["stats"].rsplit("/", 1)[0])

    @property
    def reports(self) -> ReportPaths:
        """The reports folder."""
        return ReportPaths(self.root / TEMPLATES["cohort_report"].rsplit("/", 1)[0])
