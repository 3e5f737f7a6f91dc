"""Coded concepts of petvoi's DICOM outputs: VOI kinds and organs (SNOMED CT), SUV quantities and units (DCM,
UCUM), as QIICR/dcmqi write PET measurements (``shared/reference/dicom_outputs.md``)."""

from __future__ import annotations

import re

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

__all__ = ["segment_codes", "suv_quantity", "UNIT_ML", "UNIT_G", "PROCEDURE_PET", "organ_code"]

#: UCUM units not in pydicom's dictionary.
UNIT_ML = CodedConcept("ml", "UCUM", "milliliter")
UNIT_G = CodedConcept("g", "UCUM", "gram")
#: The procedure of every report (LOINC).
PROCEDURE_PET = CodedConcept("44139-4", "LN", "PET whole body")

#: Organ names of the VOI catalogue (``organ``, without side) to SNOMED CT.
_ORGANS: dict[str, Code] = {
    "liver": codes.SCT.Liver, "spleen": codes.SCT.Spleen, "kidney": codes.SCT.Kidney, "lung": codes.SCT.Lung,
    "aorta": codes.SCT.Aorta, "blood_pool": codes.SCT.Aorta, "bone_marrow": codes.SCT.BoneMarrow,
    "lymph_node": codes.SCT.LymphNode, "muscle": codes.SCT.Muscle, "brain": codes.SCT.Brain,
    "heart": codes.SCT.Heart, "bladder": codes.SCT.Bladder, "stomach": codes.SCT.Stomach,
    "pancreas": codes.SCT.Pancreas, "prostate": codes.SCT.Prostate, "bowel": codes.SCT.SmallIntestine,
    "salivary": codes.SCT.SalivaryGland, "parotid": codes.SCT.ParotidGland, "thyroid": codes.SCT.Thyroid,
    "body": codes.SCT.EntireBody, "bone": codes.SCT.Bone,
}


def organ_code(organ: str | None) -> Code | None:
    """SNOMED CT code of a catalogue organ (``kidney_left`` -> Kidney), or None when unknown."""
    if not organ:
        return None
    key = re.sub(r"[ _-]*(left|right|l|r)$", "", organ.lower()).replace(" ", "_").replace("-", "_")
    return _ORGANS.get(key)


def segment_codes(kind: str, organ: str | None) -> tuple[Code, Code]:
    """(segmented property category, type) of a VOI: lesions are Morphologically Abnormal Structure / Neoplasm;
    organs, references and the body are Anatomical Structure / their organ (Organ when the organ is unknown)."""
    if kind == "tumour":
        return codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm
    return codes.SCT.AnatomicalStructure, organ_code(organ) or codes.SCT.Organ


#: SUV kind -> (quantity, UCUM unit, calculation method), CID 7180 / 85 / 7181.
_SUV: dict[str, tuple[Code, Code | CodedConcept, Code]] = {
    "bw": (codes.DCM.Suvbw, codes.UCUM.StandardizedUptakeValueBodyWeight, codes.DCM.SUVBodyWeightCalculationMethod),
    "bsa": (codes.DCM.Suvbsa, codes.UCUM.StandardizedUptakeValueBodySurfaceArea,
            codes.DCM.SUVBodySurfaceAreaCalculationMethod),
    "ibw": (codes.DCM.Suvibw, CodedConcept("g/ml{SUVibw}", "UCUM", "Standardized Uptake Value ideal body weight"),
            codes.DCM.SUVIdealBodyWeightCalculationMethod),
    "lbm_janmahasatian": (codes.DCM.SuvlbmJanma,
                          CodedConcept("g/ml{SUVlbm(Janma)}", "UCUM",
                                       "Standardized Uptake Value lean body mass (Janma)"),
                          codes.DCM.SUVLeanBodyMassCalculationJanmahasatianMethod),
    "lbm_james128": (codes.DCM.SuvlbmJames128,
                     CodedConcept("g/ml{SUVlbm(James128)}", "UCUM",
                                  "Standardized Uptake Value lean body mass (James128)"),
                     codes.DCM.SUVLeanBodyMassCalculationMethodUsing128Multiplier),
}


def suv_quantity(kind: str, lbm_formula: str = "janmahasatian") -> tuple[Code, Code | CodedConcept, Code]:
    """(quantity, unit, method) of an SUV kind (``bw``, ``bsa``, ``ibw``, ``lbm`` with its formula)."""
    key = f"lbm_{lbm_formula}" if kind == "lbm" else kind
    return _SUV[key]
