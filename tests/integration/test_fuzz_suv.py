"""A seeded sample of the SUV header fuzzer (bench/fuzz_suv_headers.py runs all of its ~1,350 mutants): no
plausible wrong SUV, no traceback, no partial output, no refusal longer than one line (issue 17)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path


def test_fuzzed_vendor_headers_are_refused_or_unchanged(repo: Path, cohort_3: Path) -> None:
    proc = subprocess.run([sys.executable, str(repo / "bench" / "fuzz_suv_headers.py"), "--data", str(cohort_3),
                           "--mutants", "150", "--seed", "5"], capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    counts = {label.strip(): int(n) for label, n in re.findall(r"^ {2}(\w[\w ()]*?)\s+(\d+) {2}\(", out, re.M)}
    assert not {"SILENT", "TRACEBACK", "PARTIAL", "MULTILINE"} & set(counts), out
    assert sum(counts.values()) >= 120 and counts.get("refused", 0) >= 50, out
