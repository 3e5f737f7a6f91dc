"""Fuzz: single-attribute mutants of three vendor PET series through `petvoi suv` (issue 17).

Run:  .venv/bin/python bench/fuzz_suv_headers.py [--data DIR] [--mutants N] [--seed S] [--dosing] [--keep DIR]

The series are the baselines of P01 (Siemens, 18F, BQML), P02 (GE, 68Ga, BQML) and P03 (Philips, 89Zr, CNTS) of
the cohort in ``--data`` (default: sample_data once `make demo` has written its DICOM, else a synthetic 3-subject
cohort written into the work folder). Every SUV- and geometry-relevant attribute is deleted, emptied, or set to
garbage, NaN, Inf, 1e30, zero or a negative value, on every slice or on one; and the pixel layout is
contradicted (BitsAllocated 8 on 16-bit data, Rows or Columns halved) and files are removed (the last two, one
in the middle). Each mutant runs
`petvoi suv` in this process - from its headers alone, or with ``--dosing`` with the sample dosing table (whose
weight and dose then override the header's) - and is classed:

* unchanged: exit 0 and SUVmax equal to the unmutated series' (relative 1e-6);
* warned: exit 0, SUVmax changed, and a warning in the sidecar that the unmutated run has not;
* refused: exit 2 with one error line on stderr; MULTILINE: exit 2 with other lines too (a library warning
  printed beside the error: every Python warning is shown, as a user without filters sees it);
* SILENT: exit 0, SUVmax changed by more than 1e-6 relative, no new warning - a plausible wrong SUV;
* TRACEBACK: any other exception; PARTIAL: suv.nii.gz without suv.json or the reverse, on any exit.

The last four must be 0; the script exits 1 otherwise. ``--mutants N`` runs a seeded random N of them (default:
all).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import shutil
import sys
import tempfile
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pydicom

REPO = Path(__file__).resolve().parents[1]
FLAVOURS = {"siemens_18F": "P01", "ge_68Ga": "P02", "philips_CNTS_89Zr": "P03"}
TOP = ["PatientWeight", "PatientSize", "PatientSex", "Units", "DecayCorrection", "CorrectedImage",
       "SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime", "RescaleSlope", "RescaleIntercept",
       "DecayFactor", "FrameReferenceTime", "ActualFrameDuration", "PixelSpacing", "SliceThickness",
       "SpacingBetweenSlices", "ImagePositionPatient", "ImageOrientationPatient", "NumberOfSlices", "Modality",
       "SUVType"]
RADIOPHARMACEUTICAL = ["RadionuclideTotalDose", "RadionuclideHalfLife", "RadiopharmaceuticalStartTime",
                       "RadiopharmaceuticalStartDateTime", "RadionuclidePositronFraction"]
KINDS: dict[str, Any] = {"delete": None, "empty": "", "garbage": "abc", "nan": "nan", "inf": "inf", "big": "1e30",
                         "zero": "0", "negative": "-5"}
LAYOUT: dict[str, str | dict[str, int]] = {"bits8": {"BitsAllocated": 8, "BitsStored": 8, "HighBit": 7},
                                           "rows_half": "Rows", "columns_half": "Columns"}


def _mutants() -> list[tuple[str, str, str, str]]:
    """(flavour, attribute, kind, scope) of every mutant."""
    out = []
    for flavour in FLAVOURS:
        for attribute in TOP + RADIOPHARMACEUTICAL:
            for kind in KINDS:
                for scope in ("all", "one"):
                    out.append((flavour, attribute, kind, scope))
        for kind in LAYOUT:
            out.append((flavour, "layout", kind, "all"))
        out += [(flavour, "files", "drop_last_two", "all"), (flavour, "files", "drop_middle", "all")]
    return out


def _set(ds: pydicom.Dataset, attribute: str, value: Any) -> None:
    target = ds
    if attribute in RADIOPHARMACEUTICAL:
        if "RadiopharmaceuticalInformationSequence" not in ds:
            return
        target = ds.RadiopharmaceuticalInformationSequence[0]
    if value is None:
        if attribute in target:
            delattr(target, attribute)
        return
    if attribute in ("PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient") and value != "":
        old = list(getattr(target, attribute, []) or [1.0, 1.0])
        old[0] = value
        value = old
    setattr(target, attribute, value)


def _apply(folder: Path, attribute: str, kind: str, scope: str) -> bool:
    """Mutate the series in ``folder``; False when pydicom cannot store the value (not a mutant)."""
    files = sorted(folder.glob("*.dcm"), key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))
    if attribute == "files":
        for f in files[-2:] if kind == "drop_last_two" else [files[len(files) // 2]]:
            f.unlink()
        return True
    chosen = files if scope == "all" else [files[len(files) // 2]]
    for f in chosen:
        ds = pydicom.dcmread(f)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if attribute == "layout":
                    change = LAYOUT[kind]
                    if isinstance(change, str):
                        setattr(ds, change, int(getattr(ds, change)) // 2)
                    else:
                        for keyword, value in change.items():
                            setattr(ds, keyword, value)
                else:
                    _set(ds, attribute, KINDS[kind])
                ds.save_as(f)
        except Exception:  # noqa: BLE001 - pydicom refuses to write the value: no such mutant
            return False
    return True


def _suv(folder: Path, out: Path, extra: list[str]) -> tuple[Any, list[str]]:
    from pipeline.cli import main

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("always")  # a library warning printed beside a refusal is a line the user sees
            status: Any = main(["-q", "suv", str(folder), "-o", str(out), *extra])
    except SystemExit as exc:
        status = exc.code
    except Exception as exc:  # noqa: BLE001 - what the fuzzer looks for
        status = f"{type(exc).__name__}: {exc}"[:200]
    return status, [line for line in err.getvalue().splitlines() if line.strip()]


def _suv_max(out: Path) -> tuple[float, set[str]]:
    from pipeline.dicom.geometry import read_nifti

    volume, _ = read_nifti(out)
    return float(volume.max()), set(json.loads(out.with_name("suv.json").read_text()).get("warnings", []))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, help="a seeded random sample of this many (default: all)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--dosing", action="store_true", help="give suv the sample dosing table (default: headers)")
    parser.add_argument("--data", type=Path, help="cohort folder with dicom/ and dosing.csv (default: see above)")
    parser.add_argument("--keep", type=Path, help="work folder (default: a temporary one, removed)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="fuzz_suv_"))
    sample = args.data or REPO / "sample_data"
    if args.data is None and not (sample / "dicom" / "P03" / "baseline" / "PT").is_dir():
        from pipeline.synthetic import generate_cohort

        sample = work / "cohort"
        generate_cohort(sample, n_subjects=3, seed=0)
    mutants = _mutants()
    if args.mutants is not None and args.mutants < len(mutants):
        mutants = random.Random(args.seed).sample(mutants, args.mutants)
    extra = {flavour: ["--dosing", str(sample / "dosing.csv"), "--subject", subject, "--timepoint", "baseline"]
             if args.dosing else [] for flavour, subject in FLAVOURS.items()}
    reference: dict[str, tuple[float, set[str]]] = {}
    for flavour, subject in FLAVOURS.items():
        folder = work / "reference" / flavour
        shutil.rmtree(folder.parent / flavour, ignore_errors=True)
        shutil.copytree(sample / "dicom" / subject / "baseline" / "PT", folder / "PT")
        status, lines = _suv(folder / "PT", folder / "suv.nii.gz", extra[flavour])
        if status != 0:
            raise SystemExit(f"the unmutated {flavour} series fails: {status} {lines}")
        reference[flavour] = _suv_max(folder / "suv.nii.gz")
    classes: Counter[str] = Counter()
    by_flavour: Counter[tuple[str, str]] = Counter()
    bad: list[str] = []
    skipped = 0
    for flavour, attribute, kind, scope in mutants:
        folder = work / "mutant"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(sample / "dicom" / FLAVOURS[flavour] / "baseline" / "PT", folder / "PT")
        if not _apply(folder / "PT", attribute, kind, scope):
            skipped += 1
            continue
        out = folder / "suv.nii.gz"
        status, lines = _suv(folder / "PT", out, extra[flavour])
        partial = out.exists() != out.with_name("suv.json").exists()
        name = f"{flavour} {attribute} {kind} {scope}"
        if partial:
            label = "PARTIAL"
        elif isinstance(status, str):
            label = "TRACEBACK"
        elif status == 2:
            label = "refused" if len(lines) == 1 else "MULTILINE"
        elif status == 0:
            value, found = _suv_max(out)
            ref_value, ref_warnings = reference[flavour]
            if abs(value - ref_value) <= 1e-6 * abs(ref_value):
                label = "unchanged"
            else:
                label = "warned" if found - ref_warnings else "SILENT"
                if label == "SILENT":
                    name += f" (SUVmax {ref_value:.4g} -> {value:.4g})"
        else:
            label = f"exit {status}"
        classes[label] += 1
        by_flavour[(flavour, label)] += 1
        if label in ("PARTIAL", "TRACEBACK", "SILENT", "MULTILINE") or label.startswith("exit"):
            bad.append(f"{label}: {name}: {status if isinstance(status, str) else (lines[-1] if lines else '')}")
    print(f"{sum(classes.values())} mutants ({skipped} values pydicom cannot store skipped), seed {args.seed}, "
          f"{'with the dosing table' if args.dosing else 'headers alone'}")
    for label, count in sorted(classes.items(), key=lambda kv: -kv[1]):
        per = ", ".join(f"{f} {by_flavour[(f, label)]}" for f in FLAVOURS)
        print(f"  {label:<18} {count:>5}  ({per})")
    for line in bad:
        print("  " + line[:300])
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
