"""Each supported tool's real output (tests/data/evidence/, produced by the tool itself offline) is read into the
measurements known from how it was produced; files that are not what they claim are refused, naming why."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from audits.evidence.formats import EvidenceFormatError, read_evidence
from audits.evidence.formats import common as limits
from tests.evidence import files


def _read(path: Path, tmp_path: Path, *, tool: str = ""):
    real = files.unpacked(path, tmp_path)
    return read_evidence(real, name=real.name, tool=tool)


def _one(parsed, task: str, metric: str):
    (found,) = [m for m in parsed.measurements if m.task == task and m.metric == metric]
    return found


@pytest.mark.parametrize("path", [files.INSPECT_SMALL_EVAL, files.INSPECT_SMALL_JSON])
def test_inspect_logs_give_accuracy_with_every_sample(path: Path, tmp_path: Path) -> None:
    parsed = _read(path, tmp_path, tool="inspect")
    assert (parsed.tool, parsed.format) == ("inspect", "inspect-eval" if path.suffix == ".eval" else "inspect-json")
    assert parsed.tool_version.startswith("0.3.")
    accuracy = _one(parsed, "arithmetic_small", "accuracy")
    assert (accuracy.value, accuracy.sample_size, accuracy.successes) == (0.75, 20, 15)
    assert [o.hit for o in accuracy.outcomes or []] == [True] * 15 + [False] * 5
    assert accuracy.outcomes[0].item == "q0000#1"
    assert _one(parsed, "arithmetic_small", "stderr").outcomes is None


def test_inspect_large_eval_log(tmp_path: Path) -> None:
    accuracy = _one(_read(files.INSPECT_LARGE_EVAL, tmp_path), "arithmetic_large", "accuracy")
    assert (accuracy.value, accuracy.sample_size, accuracy.successes) == (0.85, 600, 510)


def test_garak_reports_give_attack_success_rates_per_probe(tmp_path: Path) -> None:
    repeat = _read(files.GARAK_REPEAT, tmp_path, tool="garak")
    (probe,) = repeat.measurements
    assert (probe.task, probe.metric, probe.sample_size, probe.successes) == (
        "promptinject.HijackHateHumans",
        "attack_success_rate",
        256,
        256,
    )
    assert probe.details["detector"] == "promptinject.AttackRogueString"
    assert probe.outcomes is not None
    assert all(o.hit for o in probe.outcomes)
    blank = _read(files.GARAK_BLANK, tmp_path)
    assert sorted(m.task for m in blank.measurements) == [
        "promptinject.HijackHateHumans",
        "promptinject.HijackKillHumans",
        "promptinject.HijackLongPrompt",
    ]
    assert all((m.sample_size, m.successes) == (256, 0) for m in blank.measurements)
    assert blank.tool_version == repeat.tool_version != "unknown"


def test_promptfoo_output_gives_a_pass_rate_per_provider(tmp_path: Path) -> None:
    parsed = _read(files.PROMPTFOO, tmp_path, tool="promptfoo")
    (echo,) = parsed.measurements
    assert (echo.task, echo.metric, echo.sample_size, echo.successes) == ("echo", "pass_rate", 6, 4)
    assert parsed.tool_version == json.loads(files.PROMPTFOO.read_text())["metadata"]["promptfooVersion"]


def test_lm_eval_results_give_each_task_metric(tmp_path: Path) -> None:
    parsed = _read(files.LM_EVAL, tmp_path, tool="lm-eval")
    document = json.loads(files.LM_EVAL.read_text())
    (acc,) = parsed.measurements
    assert (acc.task, acc.metric, acc.sample_size) == ("assay_yesno", "acc", 40)
    assert acc.value == document["results"]["assay_yesno"]["acc,none"]
    assert acc.outcomes is None
    assert acc.higher_is_better is True
    assert parsed.tool_version == document["lm_eval_version"]


def test_lm_eval_samples_give_per_document_outcomes_that_agree_with_the_results(tmp_path: Path) -> None:
    parsed = _read(files.LM_EVAL_SAMPLES, tmp_path, tool="lm-eval")
    (acc,) = parsed.measurements
    assert (acc.task, acc.metric, acc.sample_size) == ("assay_yesno", "acc", 40)
    assert acc.outcomes is not None
    # The same run's results file states the accuracy lm-eval computed from these documents.
    assert acc.value == json.loads(files.LM_EVAL.read_text())["results"]["assay_yesno"]["acc,none"]
    assert acc.successes == round(acc.value * 40)
    renamed = tmp_path / "my-samples.jsonl"
    renamed.write_bytes(files.LM_EVAL_SAMPLES.read_bytes())
    with pytest.raises(EvidenceFormatError, match=r"named samples_<task>_<date>\.jsonl"):
        read_evidence(renamed, name=renamed.name)


def test_evidently_snapshot_gives_metrics_and_tests(tmp_path: Path) -> None:
    parsed = _read(files.EVIDENTLY, tmp_path, tool="evidently")
    share = _one(parsed, "DriftedColumnsCount(drift_share=0.5)", "share")
    assert share.value == pytest.approx(2 / 3)
    tests = _one(parsed, "tests", "pass_rate")
    document = json.loads(files.EVIDENTLY.read_text())
    assert tests.sample_size == len(document["tests"])
    assert tests.successes == sum(t["status"] == "SUCCESS" for t in document["tests"])


def test_giskard_scan_and_junit(tmp_path: Path) -> None:
    scan = _read(files.GISKARD_SCAN, tmp_path, tool="giskard")
    flagged = _one(scan, "scan", "detectors_with_issues")
    assert (flagged.sample_size, flagged.successes) == (9, 2)
    assert _one(scan, "PerformanceBiasDetector", "issues").value == 1
    junit = _read(files.GISKARD_JUNIT, tmp_path, tool="giskard")
    suite = _one(junit, "test suite", "pass_rate")
    assert (suite.sample_size, suite.successes) == (2, 0)


# --- refusals ---------------------------------------------------------------------------------------------------


def test_a_file_of_another_tool_is_refused_as_such(tmp_path: Path) -> None:
    with pytest.raises(EvidenceFormatError, match=r"the file is promptfoo's \(promptfoo JSON output\), not garak's"):
        read_evidence(files.PROMPTFOO, name="output.json", tool="garak")
    with pytest.raises(EvidenceFormatError, match=r"the file is lm-eval's .*, not inspect's"):
        read_evidence(files.LM_EVAL, name="results.json", tool="inspect")


def test_json_of_no_supported_tool_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"accuracy": 0.99}')
    with pytest.raises(EvidenceFormatError, match="match none of their formats"):
        read_evidence(path, name="x.json")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"version": 2, "status": "success", "eval": {"task": "t"', "not valid JSON"),
        ('{"version": 2, "status": "error", "eval": {"task": "t"}, "results": {}}', "did not finish"),
        ('{"version": "2", "status": "success", "eval": {"task": "t"}}', "log version number"),
        ('{"version": 2, "status": "success", "eval": {"task": "t"}, "results": {"scores": []}}', "no scores"),
    ],
)
def test_malformed_inspect_json_is_refused(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "log.json"
    path.write_text(text)
    with pytest.raises(EvidenceFormatError, match=problem):
        read_evidence(path, name="log.json")


def test_an_empty_or_oversized_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "e.json"
    empty.write_bytes(b"")
    with pytest.raises(EvidenceFormatError, match="empty"):
        read_evidence(empty, name="e.json")
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 1000)
    with pytest.raises(EvidenceFormatError, match="at most 1,000 are accepted"):
        read_evidence(files.PROMPTFOO, name="output.json")


def test_a_zip_bomb_eval_is_refused_before_it_expands(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.eval"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("header.json", b"{" + b" " * (50 * 1024 * 1024) + b"}")
    assert bomb.stat().st_size < 200_000  # 50 MiB of spaces deflate to about 50 KiB
    with pytest.raises(EvidenceFormatError, match="likely zip bomb"):
        read_evidence(bomb, name="bomb.eval")


def test_a_zip_member_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.eval"
    with zipfile.ZipFile(real, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("header.json", b'{"version": 2}' + b" " * 4000)
    data = bytearray(real.read_bytes())
    # Shrink the central directory's uncompressed size (offset 24 of its entry) so the member expands past it.
    entry = data.rindex(b"PK\x01\x02")
    data[entry + 24 : entry + 28] = (100).to_bytes(4, "little")
    liar = tmp_path / "liar.eval"
    liar.write_bytes(bytes(data))
    with pytest.raises(EvidenceFormatError, match=r"beyond its declared size|cannot be read"):
        read_evidence(liar, name="liar.eval")


def test_too_many_members_and_non_zip_eval_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audits.evidence.formats.zipped.MAX_MEMBERS", 5)
    with pytest.raises(EvidenceFormatError, match="at most 5 are read"):
        read_evidence(files.INSPECT_SMALL_EVAL, name="a.eval")
    with pytest.raises(EvidenceFormatError, match="is not one"):
        read_evidence(files.PROMPTFOO, name="output.eval")
    with pytest.raises(EvidenceFormatError, match=r"only as an Inspect \.eval"):
        read_evidence(files.INSPECT_SMALL_EVAL, name="log.json")


def test_a_truncated_eval_log_is_refused(tmp_path: Path) -> None:
    cut = tmp_path / "cut.eval"
    cut.write_bytes(files.INSPECT_SMALL_EVAL.read_bytes()[:20_000])
    with pytest.raises(EvidenceFormatError, match="not a readable zip"):
        read_evidence(cut, name="cut.eval")


def test_a_garak_probe_gives_one_measurement_per_detector(tmp_path: Path) -> None:
    # garak writes one eval entry per probe and detector; both dan probes have two detectors over the same 5 outputs.
    dan = _read(files.GARAK_DAN, tmp_path, tool="garak")
    found = {(m.task, m.details["detector"]): (m.sample_size, m.successes) for m in dan.measurements}
    assert found == {
        ("dan.Dan_11_0", "dan.DAN"): (5, 5),
        ("dan.Dan_11_0", "mitigation.MitigationBypass"): (5, 0),
        ("dan.Dan_10_0", "dan.DAN"): (5, 5),
        ("dan.Dan_10_0", "mitigation.MitigationBypass"): (5, 0),
    }
    assert all(m.outcomes is not None for m in dan.measurements)  # the judged attempts agree with garak's tally


def test_a_skipped_junit_case_is_neither_passed_nor_an_item(tmp_path: Path) -> None:
    # pytest's real JUnit XML: 2 pass, 1 fails, 1 is skipped. The pass rate is 2 of the 3 that ran, not 3 of 4.
    parsed = _read(files.JUNIT_SKIPPED, tmp_path, tool="giskard")
    rate = _one(parsed, "test suite", "pass_rate")
    assert (rate.sample_size, rate.successes) == (3, 2)  # counted as passed, it was 3 of 4
    assert rate.details["skipped"] == 1
    assert parsed.summary == {"tests": 4, "passed": 2, "skipped": 1}
    assert _one(parsed, "junit_cases", "test_fourth_is_skipped").details == {"passed": None, "skipped": True}
    assert _one(parsed, "junit_cases", "test_third_fails").details == {"passed": False}


def test_garak_report_with_inconsistent_counts_is_refused(tmp_path: Path) -> None:
    lines = files.unpacked(files.GARAK_REPEAT, tmp_path).read_text().splitlines()
    edited = []
    for line in lines:
        entry = json.loads(line)
        if entry.get("entry_type") == "eval":
            entry["passed"] = entry["total_evaluated"] + 1
        edited.append(json.dumps(entry))
    path = tmp_path / "bad.report.jsonl"
    path.write_text("\n".join(edited))
    with pytest.raises(EvidenceFormatError, match="exceeds the total"):
        read_evidence(path, name=path.name)


def test_junit_with_an_entity_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaa">]><testsuites>&a;</testsuites>')
    with pytest.raises(EvidenceFormatError, match="safe XML"):
        read_evidence(path, name="x.xml")


def test_a_zstandard_member_that_expands_beyond_its_declared_size_is_refused(tmp_path: Path) -> None:
    # Inspect's own .eval compresses with Zstandard (zip method 93); shrink header.json's declared size in the
    # central directory, and its decompression must stop at that size rather than trust the stream.
    data = bytearray(files.INSPECT_SMALL_EVAL.read_bytes())
    with zipfile.ZipFile(files.INSPECT_SMALL_EVAL) as archive:
        info = archive.getinfo("header.json")
    assert info.compress_type == 93
    entry = data.rindex(b"header.json") - 46  # its central directory entry (the last mention of its name)
    assert data[entry : entry + 4] == b"PK\x01\x02"
    data[entry + 24 : entry + 28] = (info.compress_size).to_bytes(4, "little")  # expands 1x: no ratio alarm
    lying = tmp_path / "lying.eval"
    lying.write_bytes(bytes(data))
    with pytest.raises(EvidenceFormatError, match="beyond its declared size"):
        read_evidence(lying, name="lying.eval")
