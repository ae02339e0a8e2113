"""Giskard scan results: the scan report's JSON (``ScanReport.to_json``: per detector, the issues it found by level,
``{"PerformanceBiasDetector": {"major": ["..."]}, "OverconfidenceDetector": {}}``), or the JUnit XML of the test
suite a scan generates (``TestSuiteResult.to_junit``: a ``testsuite`` per test, its ``testcase`` failing or not).

From the scan JSON: each detector is a task with the metric ``issues`` (its number of issues; ``major``, ``medium``
and ``minor`` in the details), and the task ``scan`` has the metric ``detectors_with_issues`` with one outcome per
detector run (a hit when it found an issue). From JUnit XML: the task ``test suite`` has the metric ``pass_rate``
with one outcome per test case that ran (a hit when it passed; a case with ``<skipped>`` was not run, is left out of
the items and counted in the details as ``skipped``), and each test its metric value (``testcase/@time``, where
Giskard puts it). Neither format records Giskard's version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audits.evidence.formats.common import (
    EvidenceFormatError,
    ItemOutcome,
    Measurement,
    ParsedEvidence,
    check_size,
    mapping,
    read_json_file,
)

TOOL = "giskard"
_LEVELS = ("major", "medium", "minor")


def looks_like(document: Any) -> bool:
    """Whether a JSON document is shaped like a Giskard scan report: detector names mapping to issues by level."""
    return (
        isinstance(document, dict)
        and bool(document)
        and all(isinstance(key, str) and key.endswith("Detector") for key in document)
        and all(isinstance(value, dict) for value in document.values())
    )


def read_json(path: Path) -> ParsedEvidence:
    """A Giskard scan report's JSON."""
    return parse_scan(mapping(read_json_file(path, what="the Giskard scan report"), what="a Giskard scan report"))


def parse_scan(document: dict[str, Any]) -> ParsedEvidence:
    if not looks_like(document):
        raise EvidenceFormatError("not a Giskard scan report: it maps detector names (…Detector) to their issues")
    measurements = []
    outcomes = []
    for detector, levels in document.items():
        found: dict[str, int] = {}
        for level, issues in levels.items():
            if level not in _LEVELS:
                raise EvidenceFormatError(f"{detector}: issue level {level!r} is not one of {', '.join(_LEVELS)}")
            if not isinstance(issues, list) or not all(isinstance(issue, str) for issue in issues):
                raise EvidenceFormatError(f"{detector}.{level} must be a list of issue descriptions")
            found[level] = len(issues)
        total = sum(found.values())
        measurements.append(Measurement(task=detector, metric="issues", value=float(total), details=found))
        outcomes.append(ItemOutcome(item=detector, hit=total > 0))
    measurements.append(
        Measurement(
            task="scan",
            metric="detectors_with_issues",
            value=sum(o.hit for o in outcomes) / len(outcomes),
            outcomes=outcomes,
            higher_is_better=False,
        )
    )
    return ParsedEvidence(
        tool=TOOL,
        tool_version="unknown",
        format="giskard-scan-json",
        measurements=measurements,
        summary={"detectors": len(outcomes), "issues": int(sum(m.value or 0 for m in measurements[:-1]))},
    )


def read_junit(path: Path) -> ParsedEvidence:
    """The JUnit XML of a Giskard test suite's results (parsed with defusedxml: no entities, no DTD)."""
    from defusedxml import ElementTree as SafeElementTree  # noqa: PLC0415 - loaded for XML uploads only
    from defusedxml.common import DefusedXmlException  # noqa: PLC0415 - as above

    check_size(path)
    try:
        root = SafeElementTree.parse(path, forbid_dtd=True).getroot()
    except (SafeElementTree.ParseError, DefusedXmlException) as exc:
        raise EvidenceFormatError(f"not well-formed, safe XML: {exc}") from None
    if root.tag != "testsuites":
        raise EvidenceFormatError(f"not JUnit XML: the root element is <{root.tag}>, not <testsuites>")
    measurements = []
    outcomes = []
    skipped = 0
    for index, suite in enumerate(root.findall("testsuite")):
        name = suite.get("name") or f"test {index}"
        test_name = name.removeprefix("Test ").rsplit(" (metric=", 1)[0]
        for case in suite.findall("testcase"):
            failed = case.find("failure") is not None or case.find("error") is not None
            if case.find("skipped") is not None and not failed:
                skipped += 1  # not run: neither passed nor failed, so out of the pass rate's items
                passed: bool | None = None
            else:
                passed = not failed
                outcomes.append(ItemOutcome(item=f"{index}: {test_name}"[:200], hit=passed))
            try:
                value = float(case.get("time", ""))
            except ValueError:
                value = None
            details = {"passed": passed} if passed is not None else {"passed": None, "skipped": True}
            measurements.append(
                Measurement(task=test_name, metric=case.get("name") or "metric", value=value, details=details)
            )
    if not measurements:
        raise EvidenceFormatError("the JUnit XML has no test cases")
    declared = root.get("tests")
    if declared is not None and declared.isdigit() and int(declared) != len(root.findall("testsuite")):
        raise EvidenceFormatError(
            f"<testsuites tests={declared}> does not match its {len(root.findall('testsuite'))} test suites"
        )
    measurements.append(
        Measurement(
            task="test suite",
            metric="pass_rate",
            value=sum(o.hit for o in outcomes) / len(outcomes) if outcomes else None,
            outcomes=outcomes,
            higher_is_better=True,
            details={"skipped": skipped},
        )
    )
    return ParsedEvidence(
        tool=TOOL,
        tool_version="unknown",
        format="giskard-junit-xml",
        measurements=measurements,
        summary={"tests": len(outcomes) + skipped, "passed": sum(o.hit for o in outcomes), "skipped": skipped},
    )
