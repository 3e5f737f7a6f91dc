"""Synthetic multiparametric MRI of the CD8-trial subjects (issue 19, item 4): a study per PET timepoint with a
variable-flip-angle T1 series, a DCE series and a multi-b DWI series on one slab through the biopsied lesion, its
RTSTRUCT, and ``truth.json`` with the exact parameters of every structure.

Each MR study is written in the header flavour of one of three vendors (:data:`MR_VENDORS`), assigned in turn over
the cohort's MR studies so that the sample cohort has all three:

* Siemens: DCE phase times as one AcquisitionTime per phase, b-values in (0019,100C), one series per flip angle;
* GE: TriggerTime and TemporalPositionIdentifier, b-values in (0043,1039) (the 10^9 offset), one VFA series;
* Philips: TriggerTime and TemporalPositionIdentifier, b-values in (2001,1003), one VFA series, 1.5 T.

Signals, exactly (the stages recover them to quantisation, about 1e-5):

* T1 mapping and DCE: the SPGR steady state S = M0 sin(a) (1 - E1) / (1 - cos(a) E1), E1 = exp(-TR R1), with
  R1 = 1/T10 + r1 C (r1 of the agent at the field strength, dcmri's plasma table);
* DCE concentration: the Parker population AIF (blood, bolus arrival :data:`BOLUS_ARRIVAL_S`), plasma Cp = Cb /
  (1 - Hct), tissue by the extended Tofts model (plasma convention: Ktrans, ve, vp) with dcmri's forward model;
  the aorta holds the blood concentration;
* DWI: the trace signal of the IVIM-kurtosis model S = S0 [f exp(-b D*) + (1 - f) exp(-b D + b² D² K / 6)].

Lesion parameters follow the lesion's SUV at that timepoint (more CD8 uptake: higher Ktrans, vp and f, lower D,
higher K), so that the MRI parameters correlate with the PET and with the CD8 IHC of the biopsied lesion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..io import write_json
from .anatomy import Structure
from .clinical import SubjectRecord
from .dicom_common import (
    SeriesHeader,
    StudyHeader,
    da_str,
    ds_str,
    image_series_template,
    make_uid,
    tm_str,
    write_dataset,
)
from .dicom_rtstruct import write_structure_set
from .raster import Grid, rasterise
from .tracers import TRACER_CYCLE

__all__ = ["MR_VENDORS", "MR_TIMEPOINTS", "MrVendor", "mri_subject", "mri_folder", "mri_study_uid", "mri_vendor",
           "write_mri_study", "tissue_parameters", "AGENT", "HCT", "BOLUS_ARRIVAL_S"]

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
MR_TIMEPOINTS = ("baseline", "on_treatment")
#: Contrast agent and haematocrit of every synthetic DCE (the sheet's agent and hct columns).
AGENT, HCT = "gadoterate", 0.45
BOLUS_ARRIVAL_S = 30.0
DCE_TIMES_S = tuple(6.0 * k for k in range(50))
DCE_TR_S, DCE_FLIP_DEG = 0.0045, 15.0
VFA_TR_S, VFA_FLIPS_DEG = 0.005, (2.0, 5.0, 10.0, 15.0, 20.0)
B_VALUES = (0.0, 10.0, 20.0, 40.0, 60.0, 100.0, 150.0, 200.0, 400.0, 600.0, 800.0, 1000.0, 1500.0, 2000.0)
DWI_DIRECTIONS = 3
#: The slab: 10 slices of 5 mm, 72 x 104 voxels of 4 mm, centred in-plane, through the biopsied lesion.
SLAB_SHAPE, SLAB_SPACING = (10, 72, 104), (5.0, 4.0, 4.0)


@dataclass(frozen=True)
class MrVendor:
    """The header flavour of one MR vendor."""

    key: str
    manufacturer: str
    model: str
    software: str
    field_t: float
    dce_timing: str  # "acquisition": an AcquisitionTime per phase; "trigger": TriggerTime + TemporalPositionIdentifier
    vfa_series_per_angle: bool


MR_VENDORS = (
    MrVendor("siemens", "SIEMENS", "MAGNETOM Vida", "syngo MR XA50", 3.0, "acquisition", True),
    MrVendor("ge", "GE MEDICAL SYSTEMS", "SIGNA Premier", "MR29.1", 3.0, "trigger", False),
    MrVendor("philips", "Philips Medical Systems", "Ingenia", "5.7.1", 1.5, "trigger", False),
)


@dataclass(frozen=True)
class Tissue:
    """MR properties of one structure: native T1 (s), relative proton density, ETM parameters (Ktrans /min, ve, vp:
    plasma convention) and IVIM-kurtosis parameters (f, D and D* in mm²/s, K)."""

    t1_s: float
    pd: float
    ktrans_per_min: float
    ve: float
    vp: float
    f: float
    d_mm2_per_s: float
    dstar_mm2_per_s: float
    k: float


_ORGANS = {
    "body": Tissue(0.9, 0.8, 0.03, 0.12, 0.01, 0.04, 1.3e-3, 0.020, 0.6),
    "liver": Tissue(0.8, 0.9, 0.12, 0.25, 0.10, 0.25, 1.1e-3, 0.050, 0.7),
    "spleen": Tissue(1.3, 1.0, 0.20, 0.20, 0.15, 0.10, 0.8e-3, 0.030, 0.8),
    "kidney_left": Tissue(1.2, 1.0, 0.40, 0.30, 0.20, 0.20, 2.0e-3, 0.040, 0.4),
    "kidney_right": Tissue(1.2, 1.0, 0.40, 0.30, 0.20, 0.20, 2.0e-3, 0.040, 0.4),
    "aorta": Tissue(1.8, 1.0, 0.0, 1e-4, 1.0, 0.0, 2.5e-3, 0.020, 0.0),
    "muscle": Tissue(1.4, 0.9, 0.05, 0.10, 0.02, 0.08, 1.5e-3, 0.025, 0.6),
    "bladder": Tissue(3.0, 1.0, 0.0, 1e-4, 0.0, 0.0, 2.8e-3, 0.020, 0.0),
}


def tissue_parameters(structure: Structure) -> Tissue:
    """The MR properties of a structure: an organ's from :data:`_ORGANS`, a lesion's from its SUV."""
    if structure.kind != "tumour":
        return _ORGANS[structure.name]
    suv = float(structure.suv)

    def clip(value: float, low: float, high: float) -> float:
        return round(min(max(value, low), high), 6)

    return Tissue(t1_s=1.5, pd=1.0, ktrans_per_min=clip(0.05 + 0.02 * suv, 0.05, 0.5),
                  ve=clip(0.15 + 0.01 * suv, 0.1, 0.5), vp=clip(0.02 + 0.002 * suv, 0.02, 0.08),
                  f=clip(0.05 + 0.01 * suv, 0.05, 0.3), d_mm2_per_s=clip(1.6e-3 - 0.06e-3 * suv, 0.6e-3, 1.6e-3),
                  dstar_mm2_per_s=0.03, k=clip(0.5 + 0.05 * suv, 0.5, 1.4))


def mri_subject(record: SubjectRecord) -> bool:
    """Whether the subject has MR studies: a trial subject of the CD8 tracer."""
    return record.trial and record.subject.tracer.marker == "CD8"


def mri_folder(subject_id: str, timepoint: str) -> str:
    """The MR study's folder under the data root."""
    return f"dicom/{subject_id}/mri_{timepoint}"


def mri_study_uid(record: SubjectRecord, timepoint: str) -> str:
    """The MR study's StudyInstanceUID."""
    return make_uid(record.seed, record.subject.subject_id, timepoint, "MR study")


def _biopsied_centre_z(record: SubjectRecord) -> float:
    from .clinical import _biopsied

    return float(_biopsied(record.phantom.lesions).shapes["baseline"].centre[2])


def _slab(record: SubjectRecord) -> Grid:
    centred = Grid.centred(SLAB_SHAPE, SLAB_SPACING)
    z0 = round(_biopsied_centre_z(record) - (SLAB_SHAPE[0] - 1) * SLAB_SPACING[0] / 2.0, 1)
    return Grid(SLAB_SHAPE, SLAB_SPACING, (centred.origin[0], centred.origin[1], z0))


def _stored(values: NDArray[np.float64]) -> tuple[NDArray[np.uint16], float]:
    """Values >= 0 as uint16 with one slope for the series (maximum at 60000)."""
    top = float(values.max()) if values.size and values.max() > 0 else 1.0
    slope = float(ds_str(top / 60000.0))
    return np.round(values / slope).astype(np.uint16), slope


class _SeriesWriter:
    """Writes the instances of one MR series (one template, positions and per-instance values set per frame)."""

    def __init__(self, study: StudyHeader, series: SeriesHeader, grid: Grid, vendor: MrVendor, *, tr_s: float,
                 flip_deg: float, sequence: str, when: datetime) -> None:
        self.grid, self.uid_parts = grid, (study.study_uid, series.series_uid)
        ds = image_series_template(MR_IMAGE_STORAGE, study, series, grid, signed=False, bits_stored=16,
                                   content=when, acquisition=when, image_type=["ORIGINAL", "PRIMARY", "M", "ND"])
        ds.BodyPartExamined = "ABDOMEN"
        ds.ScanningSequence = "GR" if sequence == "spgr" else "EP"
        ds.SequenceVariant = "SP" if sequence == "spgr" else "SK"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "3D" if sequence == "spgr" else "2D"
        ds.RepetitionTime = ds_str(tr_s * 1000.0)
        ds.EchoTime = ds_str(1.5 if sequence == "spgr" else 60.0)
        ds.EchoTrainLength = 1
        ds.FlipAngle = ds_str(flip_deg)
        ds.MagneticFieldStrength = ds_str(vendor.field_t)
        ds.ImagingFrequency = ds_str(42.577 * vendor.field_t)
        ds.ImagedNucleus = "1H"
        ds.NumberOfAverages = "1"
        self.ds, self.count, self.vendor = ds, 0, vendor

    def write(self, folder: Path, image: NDArray[np.uint16], z: int, slope: float, **values: Any) -> str:
        """One instance of slice ``z``; ``values`` are attributes (or ``private`` for the b-value tag)."""
        ds = self.ds
        self.count += 1
        ds.SOPInstanceUID = make_uid(*self.uid_parts, self.count)
        ds.InstanceNumber = self.count
        zmm = float(self.grid.axis(2)[z])
        ds.ImagePositionPatient = [ds_str(self.grid.origin[0]), ds_str(self.grid.origin[1]), ds_str(zmm)]
        ds.SliceLocation = ds_str(zmm)
        ds.RescaleSlope, ds.RescaleIntercept = ds_str(slope), "0"
        b_value = values.pop("b_value", None)
        for name, value in values.items():
            setattr(ds, name, value)
        if b_value is not None:
            _set_b_value(ds, self.vendor, b_value)
        ds.PixelData = np.ascontiguousarray(image, dtype="<u2").tobytes()
        write_dataset(ds, folder / f"MR_{self.count:05d}.dcm")
        return str(ds.SOPInstanceUID)


def _set_b_value(ds: Any, vendor: MrVendor, b: float) -> None:
    """The b-value where the vendor's classic MR images keep it (private; no standard (0018,9087))."""
    if vendor.key == "siemens":
        ds.private_block(0x0019, "SIEMENS MR HEADER", create=True).add_new(0x0C, "IS", str(int(b)))
    elif vendor.key == "ge":
        ds.private_block(0x0043, "GEMS_PARM_01", create=True).add_new(
            0x39, "IS", [str(1_000_000_000 + int(b)), "8", "0", "0"])
    else:
        ds.private_block(0x2001, "Philips Imaging DD 001", create=True).add_new(0x03, "FL", float(b))


def _study_header(record: SubjectRecord, timepoint: str, vendor: MrVendor, when: datetime) -> StudyHeader:
    subject = record.subject
    tp = MR_TIMEPOINTS.index(timepoint)
    return StudyHeader(
        patient_name=f"SYNTHETIC^{subject.subject_id}", patient_id=subject.patient_id, birth_date=subject.birth_date,
        sex=subject.sex, weight_kg=record.studies[timepoint].weight_kg, height_m=subject.height_m,
        study_uid=mri_study_uid(record, timepoint),
        frame_of_reference_uid=make_uid(record.seed, subject.subject_id, timepoint, "MR frame"), study_datetime=when,
        study_id=f"{subject.subject_id}M{tp}",
        accession_number=f"ACC{subject.index + 1:02d}M{tp}{record.seed % 100000:05d}",
        description=f"MR abdomen mpMRI {timepoint}", manufacturer=vendor.manufacturer, model=vendor.model,
        software=vendor.software)


def _aif_blood_mm(t: NDArray[np.float64]) -> NDArray[np.float64]:
    import dcmri

    return np.asarray(dcmri.aif_parker(t, BAT=BOLUS_ARRIVAL_S), dtype=float) * 1000.0


def write_mri_study(out_dir: Path, record: SubjectRecord, timepoint: str, vendor: MrVendor) -> Path:
    """Write one MR study (VFA, DCE, DWI, RTSTRUCT, truth.json) under ``out_dir`` and return its folder."""
    from ..mri.dce import model_curve
    from ..mri.relaxometry import spgr_signal
    from ..mri.stage import relaxivity

    folder = out_dir / mri_folder(record.subject.subject_id, timepoint)
    plan = record.studies[timepoint]
    when = (plan.ct_start - timedelta(days=1)).replace(hour=14, minute=5, second=0, microsecond=0)
    study = _study_header(record, timepoint, vendor, when)
    grid = _slab(record)
    structures = record.phantom.structures(timepoint)
    labels, _ = rasterise([s.shape for s in structures], grid)
    tissues = [tissue_parameters(s) for s in structures]
    present = sorted(set(np.unique(labels).tolist()) - {0})
    r1 = relaxivity(AGENT, vendor.field_t)

    def lookup(attr: str, outside: float = 0.0) -> NDArray[np.float64]:
        table = np.array([outside, *(getattr(t, attr) for t in tissues)])
        return np.asarray(table[labels], dtype=float)

    t1, pd = lookup("t1_s", 1.0), lookup("pd")
    m0 = 1000.0 * pd
    uid = (record.seed, record.subject.subject_id, timepoint)
    number = iter(range(1, 100))

    # variable flip angles: one series per angle (Siemens) or one series
    vfa_dir = folder / "VFA"
    writer = None
    for i, flip in enumerate(VFA_FLIPS_DEG):
        if writer is None or vendor.vfa_series_per_angle:
            series = SeriesHeader("MR", make_uid(*uid, "VFA", i if vendor.vfa_series_per_angle else 0), next(number),
                                  f"t1_vibe_fa{flip:g}" if vendor.vfa_series_per_angle else "T1 map VFA",
                                  when + timedelta(minutes=2))
            writer = _SeriesWriter(study, series, grid, vendor, tr_s=VFA_TR_S, flip_deg=flip, sequence="spgr",
                                   when=when + timedelta(minutes=2))
            target = vfa_dir / f"FA{flip:02.0f}" if vendor.vfa_series_per_angle else vfa_dir
            target.mkdir(parents=True, exist_ok=True)
        stored, slope = _stored(spgr_signal(1.0, t1, VFA_TR_S, flip) * m0)
        writer.ds.FlipAngle = ds_str(flip)
        for z in range(grid.shape[0]):
            writer.write(target, stored[z], z, slope)

    # DCE
    t = np.asarray(DCE_TIMES_S)
    cb = _aif_blood_mm(t)
    cp = cb / (1.0 - HCT)
    conc = np.zeros((t.size, *grid.shape))
    for label in present:
        tissue, structure = tissues[label - 1], structures[label - 1]
        curve = cb if structure.name == "aorta" else model_curve(
            "etm", cp, t, np.array([tissue.ktrans_per_min / 60.0, tissue.ve, tissue.vp]))
        conc[:, labels == label] = curve[:, None]
    signal = spgr_signal(1.0, 1.0 / (1.0 / t1[None] + r1 * conc), DCE_TR_S, DCE_FLIP_DEG) * m0[None]
    stored, slope = _stored(signal)
    dce_dir = folder / "DCE"
    dce_dir.mkdir(parents=True, exist_ok=True)
    start = when + timedelta(minutes=6)
    writer = _SeriesWriter(study, SeriesHeader("MR", make_uid(*uid, "DCE"), next(number), "DCE dynamic",
                                               start), grid, vendor, tr_s=DCE_TR_S, flip_deg=DCE_FLIP_DEG,
                           sequence="spgr", when=start)
    first_phase_uids = []
    for k, seconds in enumerate(t):
        moment = start + timedelta(seconds=float(seconds))
        timing: dict[str, Any]
        if vendor.dce_timing == "acquisition":
            timing = {"AcquisitionDate": da_str(moment), "AcquisitionTime": tm_str(moment),
                      "AcquisitionDateTime": moment.strftime("%Y%m%d%H%M%S.%f")}
        else:
            timing = {"TriggerTime": ds_str(seconds * 1000.0), "TemporalPositionIdentifier": k + 1,
                      "NumberOfTemporalPositions": t.size}
        for z in range(grid.shape[0]):
            sop = writer.write(dce_dir, stored[k, z], z, slope, **timing)
            if k == 0:
                first_phase_uids.append(sop)

    # DWI: b = 0 once, every other b in DWI_DIRECTIONS directions (isotropic: the same signal)
    b = np.asarray(B_VALUES)
    f, d, dstar, kurt = lookup("f"), lookup("d_mm2_per_s"), lookup("dstar_mm2_per_s"), lookup("k")
    dwi = m0[None] * (f[None] * np.exp(-b[:, None, None, None] * dstar[None])
                      + (1 - f[None]) * np.exp(-b[:, None, None, None] * d[None]
                                               + (b[:, None, None, None] * d[None]) ** 2 * kurt[None] / 6.0))
    stored, slope = _stored(dwi)
    dwi_dir = folder / "DWI"
    dwi_dir.mkdir(parents=True, exist_ok=True)
    start = when + timedelta(minutes=15)
    writer = _SeriesWriter(study, SeriesHeader("MR", make_uid(*uid, "DWI"), next(number), "ep2d_diff trace",
                                               start), grid, vendor, tr_s=4.0, flip_deg=90.0, sequence="epi",
                           when=start)
    for k, value in enumerate(b):
        for _direction in range(DWI_DIRECTIONS if value > 0 else 1):
            for z in range(grid.shape[0]):
                writer.write(dwi_dir, stored[k, z], z, slope, b_value=float(value))

    # contours on the DCE slices (the VFA, DCE and DWI share the slab)
    rs = SeriesHeader("RTSTRUCT", make_uid(*uid, "MR RTSTRUCT series"), next(number), "synthetic truth contours",
                      when + timedelta(hours=2))
    write_structure_set(folder / "RTSTRUCT" / "RTSTRUCT_0001.dcm", study, rs, make_uid(*uid, "MR RTSTRUCT"),
                        MR_IMAGE_STORAGE, make_uid(*uid, "DCE"), grid, first_phase_uids, structures)

    voxel_ml = grid.voxel_volume_ml
    truth = {"subject_id": record.subject.subject_id, "timepoint": timepoint, "vendor": vendor.key,
             "field_t": vendor.field_t, "agent": AGENT, "r1_per_mm_s": r1, "hct": HCT,
             "aif": {"kind": "population", "name": "parker", "bolus_arrival_s": BOLUS_ARRIVAL_S, "medium": "blood"},
             "dce": {"times_s": list(DCE_TIMES_S), "tr_s": DCE_TR_S, "flip_deg": DCE_FLIP_DEG},
             "vfa": {"tr_s": VFA_TR_S, "flips_deg": list(VFA_FLIPS_DEG)}, "b_values": list(B_VALUES),
             "grid": grid.to_dict(),
             "structures": {structures[label - 1].name: {
                 "kind": structures[label - 1].kind, "n_voxels": int(np.count_nonzero(labels == label)),
                 "volume_ml_in_slab": round(int(np.count_nonzero(labels == label)) * voxel_ml, 6),
                 **asdict(tissues[label - 1])} for label in present}}
    write_json(folder / "truth.json", truth)
    return folder


def mri_vendor(record: SubjectRecord, timepoint: str) -> MrVendor:
    """The vendor of an MR study: the three in turn over the cohort's MR studies, in subject then timepoint order
    (tracers cycle over the subjects, so a CD8 subject's rank among them is its index // len(TRACER_CYCLE))."""
    rank = record.subject.index // len(TRACER_CYCLE)
    return MR_VENDORS[(rank * len(MR_TIMEPOINTS) + MR_TIMEPOINTS.index(timepoint)) % len(MR_VENDORS)]
