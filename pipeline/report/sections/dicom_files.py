"""Patient report, DICOM outputs: per study, the SEG, SR and Parametric Map files ``petvoi export`` wrote (name,
size, what a viewer shows), or that there are none."""

from __future__ import annotations

from typing import Any

from ..inputs import PatientInputs
from ..render import Section

__all__ = ["SECTION"]

_WHAT = {"seg.dcm": "DICOM Segmentation: every VOI a segment over the PET (labels, lesion tracking ids)",
         "sr.dcm": "TID 1500 Measurement Report: SUVmax/mean/peak/SD, volume, TLG and SUL per VOI, each linked to "
                   "its segment",
         "suv_pm.dcm": "Parametric Map: the SUV volume, shown in SUV units (Real World Value Mapping)",
         "logan_vt_pm.dcm": "Parametric Map: Logan VT (mL/mL) of the dynamic study",
         "patlak_ki_pm.dcm": "Parametric Map: Patlak Ki (/min) of the dynamic study"}


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``dicom_files``: one row per file of each study's ``dicom/`` folder (empty when nothing was exported)."""
    rows = []
    for timepoint in [*inputs.timepoints, *inputs.dynamic]:
        study = inputs.layout.subject(inputs.subject_id).study(timepoint)
        for path in (study.dicom_seg, study.dicom_sr, study.dicom_pm, study.dicom_map("logan_vt"),
                     study.dicom_map("patlak_ki")):
            if path.is_file():
                rows.append({"timepoint": timepoint, "file": f"{timepoint}/dicom/{path.name}",
                             "size_mb": f"{path.stat().st_size / 1e6:.2f}", "what": _WHAT[path.name]})
    return {"dicom_files": rows}


SECTION = Section("dicom_files", build)
