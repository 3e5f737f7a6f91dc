"""Per-patient and cohort reports (HTML and PDF) and their figures."""

from .mip import mip_images, suv_window
from .patient import build_patient_report, write_patient_report

__all__ = ["build_patient_report", "write_patient_report", "mip_images", "suv_window"]
