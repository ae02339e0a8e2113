"""The real result files the tools produced (tests/data/evidence/, made by produce.py; PROVENANCE.md says how), and
what is known about each from how it was produced."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "evidence"

INSPECT_SMALL_EVAL = DATA / "inspect" / "arithmetic_small.eval"  # 20 samples, 15 answered correctly
INSPECT_SMALL_JSON = DATA / "inspect" / "arithmetic_small.json"  # the same task, logged as JSON
INSPECT_LARGE_EVAL = DATA / "inspect" / "arithmetic_large.eval"  # 600 samples, 510 answered correctly
GARAK_REPEAT = DATA / "garak" / "repeat-hijackhatehumans.report.jsonl.gz"  # test.Repeat echoes every injection
GARAK_BLANK = DATA / "garak" / "blank-promptinject.report.jsonl.gz"  # test.Blank answers nothing: no hit
# test.Repeat on dan.Dan_11_0 and dan.Dan_10_0, 5 outputs each, judged by two detectors per probe: dan.DAN 5/5 hits,
# mitigation.MitigationBypass 0/5
GARAK_DAN = DATA / "garak" / "repeat-dan.report.jsonl.gz"
PROMPTFOO = DATA / "promptfoo" / "output.json"  # the echo provider: 4 of 6 tests pass
LM_EVAL = DATA / "lm-eval" / "results.json"  # the dummy model on 40 local items
(LM_EVAL_SAMPLES,) = (DATA / "lm-eval").glob("samples_assay_yesno_*.jsonl")  # the same run's per-item log
EVIDENTLY = DATA / "evidently" / "snapshot.json"  # drift on 2 of 3 columns; 6 tests
GISKARD_SCAN = DATA / "giskard" / "scan.json"  # 9 detectors, 2 with a major issue
GISKARD_JUNIT = DATA / "giskard" / "scan-suite.junit.xml"  # the 2 tests the scan generated, both failing
JUNIT_SKIPPED = DATA / "junit" / "pytest-skipped.junit.xml"  # pytest's JUnit XML: 2 cases pass, 1 fails, 1 skipped


def unpacked(path: Path, into: Path) -> Path:
    """The tool's own bytes: a gzipped file unpacked into ``into`` under its original name, other files as they are."""
    if path.suffix != ".gz":
        return path
    target = into / path.name.removesuffix(".gz")
    with gzip.open(path, "rb") as source, target.open("wb") as out:
        shutil.copyfileobj(source, out)
    return target
