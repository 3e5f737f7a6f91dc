"""DICOM outputs of a study (issue 18): the VOIs as a Segmentation, the uptake table as a TID 1500 SR, the SUV
volume as a Parametric Map, written with highdicom so that a PACS and a viewer show them next to the PET."""
