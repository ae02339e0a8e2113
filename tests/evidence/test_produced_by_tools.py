"""Each supported tool's own output, produced here, at test time, offline, by the tool itself on its mock or test
model (tests/data/evidence/produce.py's recipes, in the tool's own environment under .tools/, which
`make evidence-tools` builds from the pins in tests/data/evidence/envs/): it imports through the API, Assay's
measurements equal what the tool itself reports in the file, the version recorded is the pinned one, and a policy's
``external`` check judges it. The committed files under tests/data/evidence/ stay the fixed fixtures of the other
tests; where a tool's run is deterministic, what it produces now reads as those fixtures do.

Each tool runs once per session (its outputs kept in a pytest temporary folder), and every test here is in one xdist
group, so a tool never runs twice in parallel. A tool whose environment is not built skips its tests, saying why.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree
from django.urls import reverse

from audits.actions import do_save_policy
from audits.evidence.formats import read_evidence
from registry.models import ModelVersion
from tests.audits.conftest import PASSING_RATES, audit_body, decision_rows, post_audit
from tests.audits.conftest import upload as upload_dataset
from tests.conftest import Cast
from tests.data.evidence import produce
from tests.evidence import files
from tests.evidence.conftest import upload
from tests.portal.conftest import signed_in
from tests.registry.conftest import acting

pytestmark = pytest.mark.xdist_group("evidence-tools")

TOOLS = ("inspect", "garak", "lm-eval", "promptfoo", "evidently", "giskard")
# The Python distribution of each tool (promptfoo is an npm package)
DISTRIBUTIONS = {
    "inspect": "inspect_ai",
    "garak": "garak",
    "lm-eval": "lm_eval",
    "evidently": "evidently",
    "giskard": "giskard",
}

Produced = Callable[[str], Path]


@pytest.fixture(scope="session")
def produced(tmp_path_factory: pytest.TempPathFactory) -> Produced:
    """The folder of a tool's outputs, made by running the tool once in this session (skips when it is not built)."""
    made: dict[str, Path | str] = {}

    def outputs(tool: str) -> Path:
        why_not = produce.why_not_installed(tool)
        if why_not is not None:
            pytest.skip(why_not)
        if tool not in made:
            out = tmp_path_factory.mktemp(f"produced-{tool}")
            try:
                if tool == "inspect":  # the 20-sample task (the 600-sample one takes minutes on a loaded machine)
                    produce.inspect(tmp_path_factory.mktemp("work-inspect"), out, tasks=("arithmetic_small",))
                else:
                    produce.PRODUCERS[tool](tmp_path_factory.mktemp(f"work-{tool}"), out)
                made[tool] = out / tool
            except subprocess.CalledProcessError as exc:
                made[tool] = f"{tool} failed to produce its output ({exc})"
        found = made[tool]
        if isinstance(found, str):
            pytest.fail(found)
        return found

    return outputs


def pinned_version(tool: str) -> str:
    """The tool's version as pinned in tests/data/evidence/envs/ (its freeze, or promptfoo's package.json)."""
    if tool == "promptfoo":
        return json.loads((produce.HERE / "envs" / "promptfoo" / "package.json").read_text())["dependencies"][tool]
    wanted = DISTRIBUTIONS[tool].replace("_", "-").lower()
    for line in (produce.HERE / "envs" / f"{tool}.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if name.replace("_", "-").lower() == wanted:
            return version
    raise AssertionError(f"{tool} is not pinned in envs/{tool}.txt")


def installed_version(tool: str) -> str:
    """The tool's version as its own environment reports it."""
    if tool == "promptfoo":
        manifest = produce.tool_dir(tool) / "node_modules" / "promptfoo" / "package.json"
        return json.loads(manifest.read_text())["version"]
    python = produce.tool_dir(tool) / "bin" / "python"
    command = [str(python), "-c", "import sys, importlib.metadata as m; print(m.version(sys.argv[1]))"]
    return subprocess.run([*command, DISTRIBUTIONS[tool]], capture_output=True, text=True, check=True).stdout.strip()


def _measurements(body: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(m["task"], m["metric"], str((m["details"] or {}).get("detector", ""))): m for m in body["measurements"]}


def _imported(cast: Cast, version: ModelVersion, path: Path, tmp_path: Path, **fields: Any) -> dict[str, Any]:
    response = upload(cast.owner, version, path, tmp_path, **fields)
    assert response.status_code == 201, response.content[:500]
    return response.json()


def _read(path: Path, tmp_path: Path) -> list[tuple[Any, ...]]:
    """What Assay's reader takes from a file: its tool and each measurement's numbers (no file-specific ids)."""
    parsed = read_evidence(files.unpacked(path, tmp_path), name=path.name.removesuffix(".gz"), tool="")
    rows = [(m.task, m.metric, m.value, m.sample_size, m.successes) for m in parsed.measurements]
    return [(parsed.tool, parsed.tool_version, parsed.format), *sorted(rows, key=repr)]


@pytest.mark.parametrize("tool", TOOLS)
def test_the_tool_built_is_the_pinned_version(tool: str) -> None:
    why_not = produce.why_not_installed(tool)
    if why_not is not None:
        pytest.skip(why_not)
    assert installed_version(tool) == pinned_version(tool)


INSPECT_READS = """
import json, sys
from inspect_ai.log import read_eval_log
log = read_eval_log(sys.argv[1], header_only=True)
(score,) = log.results.scores
print(json.dumps([score.metrics["accuracy"].value, log.results.total_samples, log.eval.packages["inspect_ai"]]))
"""


def test_inspect_logs_import_with_the_accuracy_inspect_reads_in_them(
    produced: Produced, cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    out = produced("inspect")
    python = str(produce.tool_dir("inspect") / "bin" / "python")
    for path in (out / "arithmetic_small.eval", out / "arithmetic_small.json"):
        # Inspect's own reading of its log (the .eval's members are zstd-compressed, as Inspect writes them)
        reads = subprocess.run([python, "-c", INSPECT_READS, str(path)], capture_output=True, text=True, check=True)
        accuracy, samples, version = json.loads(reads.stdout)
        assert (accuracy, samples, version) == (0.75, 20, pinned_version("inspect"))  # given 15 right answers of 20
        body = _imported(cast, llm_version, path, tmp_path)
        measured = _measurements(body)[("arithmetic_small", "accuracy", "")]
        assert (measured["value"], measured["sample_size"], measured["successes"]) == (accuracy, samples, 15)
        assert measured["has_outcomes"] is True
        assert (body["tool"], body["tool_version"], body["tool_version_source"]) == ("inspect", version, "file")


def _garak_evals(path: Path) -> dict[tuple[str, str], tuple[int, int]]:
    """garak's own tally in its report: (probe, detector) -> (fails, total_evaluated)."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        entries = [json.loads(line) for line in lines]
    return {
        (e["probe"], e["detector"]): (e["fails"], e["total_evaluated"]) for e in entries if e["entry_type"] == "eval"
    }


def test_garak_reports_import_with_the_hits_garak_counted(
    produced: Produced, cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    out = produced("garak")
    known = {  # by construction: test.Repeat echoes every prompt, test.Blank answers nothing
        "repeat-hijackhatehumans": {("promptinject.HijackHateHumans", "promptinject.AttackRogueString"): (256, 256)},
        "blank-promptinject": {
            (f"promptinject.{probe}", "promptinject.AttackRogueString"): (0, 256)
            for probe in ("HijackHateHumans", "HijackKillHumans", "HijackLongPrompt")
        },
        "repeat-dan": {
            (f"dan.{probe}", detector): (hits, 5)
            for probe in ("Dan_11_0", "Dan_10_0")
            for detector, hits in (("dan.DAN", 5), ("mitigation.MitigationBypass", 0))
        },
    }
    for prefix, expected in known.items():
        path = out / f"{prefix}.report.jsonl.gz"
        tally = _garak_evals(path)
        assert tally == expected
        body = _imported(cast, llm_version, path, tmp_path)
        assert (body["tool"], body["tool_version"]) == ("garak", pinned_version("garak"))
        measured = {
            (task, detector): (m["successes"], m["sample_size"])
            for (task, metric, detector), m in _measurements(body).items()
            if metric == "attack_success_rate"
        }
        assert measured == tally


def test_lm_eval_results_and_samples_import_with_the_accuracy_lm_eval_reports(
    produced: Produced, cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    out = produced("lm-eval")
    results = json.loads((out / "results.json").read_text())
    accuracy, items = results["results"]["assay_yesno"]["acc,none"], results["n-samples"]["assay_yesno"]["effective"]
    assert items == 40
    (samples_file,) = out.glob("samples_assay_yesno_*.jsonl")
    per_item = [json.loads(line)["acc"] for line in samples_file.read_text().splitlines()]
    assert Fraction(int(sum(per_item)), len(per_item)) == Fraction(accuracy).limit_denominator(40)  # the tool agrees

    body = _imported(cast, llm_version, out / "results.json", tmp_path)
    assert (body["tool"], body["tool_version"]) == ("lm-eval", results["lm_eval_version"])
    assert body["tool_version"] == pinned_version("lm-eval")
    measured = _measurements(body)[("assay_yesno", "acc", "")]
    assert (measured["value"], measured["sample_size"]) == (accuracy, 40)

    samples = _imported(cast, llm_version, samples_file, tmp_path, tool_version=pinned_version("lm-eval"))
    assert (samples["tool_version"], samples["tool_version_source"]) == (pinned_version("lm-eval"), "uploader")
    measured = _measurements(samples)[("assay_yesno", "acc", "")]
    assert (measured["successes"], measured["sample_size"]) == (sum(per_item), 40)


def test_promptfoo_output_imports_with_the_passes_promptfoo_counted(
    produced: Produced, cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    output = produced("promptfoo") / "output.json"
    document = json.loads(output.read_text())
    stats = document["results"]["stats"]
    assert (stats["successes"], stats["failures"], stats["errors"]) == (4, 2, 0)  # two tests fail on purpose
    body = _imported(cast, llm_version, output, tmp_path)
    assert (body["tool"], body["tool_version"]) == ("promptfoo", document["metadata"]["promptfooVersion"])
    assert body["tool_version"] == pinned_version("promptfoo")
    measured = _measurements(body)[("echo", "pass_rate", "")]
    assert (measured["successes"], measured["sample_size"]) == (stats["successes"], 6)


def test_an_evidently_snapshot_imports_with_its_own_values_and_the_version_its_uploader_states(
    produced: Produced, cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    snapshot = produced("evidently") / "snapshot.json"
    document = json.loads(snapshot.read_text())
    own = {metric["metric_name"]: metric["value"] for metric in document["metrics"]}
    statuses = [test["status"] for test in document["tests"]]
    version = installed_version("evidently")
    body = _imported(cast, llm_version, snapshot, tmp_path, tool_version=version)
    assert (body["tool"], body["tool_version"], body["tool_version_source"]) == ("evidently", "0.7.23", "uploader")
    measured = _measurements(body)
    assert measured[("RowCount()", "value", "")]["value"] == own["RowCount()"] == 200  # two 200-row frames
    assert (
        measured[("DriftedColumnsCount(drift_share=0.5)", "count", "")]["value"]
        == (own["DriftedColumnsCount(drift_share=0.5)"]["count"])
    )
    tests = measured[("tests", "pass_rate", "")]
    assert (tests["successes"], tests["sample_size"]) == (statuses.count("SUCCESS"), len(statuses))


def test_a_giskard_scan_and_its_suite_import_with_the_issues_giskard_found(
    produced: Produced, cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    out = produced("giskard")
    scan = json.loads((out / "scan.json").read_text())
    with_issues = [name for name, issues in scan.items() if any(issues.values())]
    version = installed_version("giskard")
    body = _imported(cast, llm_version, out / "scan.json", tmp_path, tool_version=version)
    assert (body["tool"], body["tool_version"], body["tool_version_source"]) == ("giskard", "2.19.2", "uploader")
    measured = _measurements(body)[("scan", "detectors_with_issues", "")]
    assert (measured["successes"], measured["sample_size"]) == (len(with_issues), len(scan))

    suite = ElementTree.parse(out / "scan-suite.junit.xml").getroot()
    cases = suite.findall(".//testcase")
    failed = [case for case in cases if case.find("failure") is not None]
    body = _imported(cast, llm_version, out / "scan-suite.junit.xml", tmp_path, tool_version=version)
    measured = _measurements(body)[("test suite", "pass_rate", "")]
    assert (measured["successes"], measured["sample_size"]) == (len(cases) - len(failed), int(suite.get("tests", -1)))


DETERMINISTIC = {  # the committed fixture and the file the tool makes now (lm-eval's dummy model: seeded, --seed 1234)
    "inspect": ("arithmetic_small.eval", "arithmetic_small.json"),
    "lm-eval": ("results.json",),
    "garak": ("repeat-hijackhatehumans.report.jsonl.gz", "blank-promptinject.report.jsonl.gz"),
    "promptfoo": ("output.json",),
    "evidently": ("snapshot.json",),
    "giskard": ("scan.json", "scan-suite.junit.xml"),
}


@pytest.mark.parametrize("tool", sorted(DETERMINISTIC))
def test_what_the_tool_makes_now_reads_as_the_committed_fixture(produced: Produced, tool: str, tmp_path: Path) -> None:
    out = produced(tool)
    for name in DETERMINISTIC[tool]:
        assert _read(out / name, tmp_path) == _read(files.DATA / tool / name, tmp_path), name


def test_a_policy_judges_every_tools_output_in_an_audit_and_the_portal_shows_it(
    unprotected_trail: None, produced: Produced, cast: Cast, llm_version: ModelVersion, tmp_path: Path
) -> None:
    """One criterion a tool, over the files made in this session: what each must give is known from how it was made
    (lm-eval's random accuracy is read from its own results file, so the criterion sits exactly at it)."""
    criteria: list[dict[str, Any]] = []
    expected: dict[str, tuple[str, int]] = {}
    uploads: list[tuple[Path, dict[str, str]]] = []

    def criterion(label: str, tool: str, *, task: str, metric: str, op: str, value: Any, min_samples: int) -> None:
        basis = {"text": f"{label}, produced offline by the tool itself.", "citation": "Assay's evidence tests"}
        threshold = {"value": value, "operator": op, "basis": basis}
        criteria.append({"name": label, "tool": tool, "task": task, "metric": metric, "threshold": threshold})
        criteria[-1]["min_samples"] = min_samples

    available = [tool for tool in TOOLS if produce.why_not_installed(tool) is None]
    if "inspect" in available:
        uploads.append((produced("inspect") / "arithmetic_small.eval", {}))
        criterion(
            "inspect accuracy",
            "inspect",
            task="arithmetic_small",
            metric="accuracy",
            op=">=",
            value=0.75,
            min_samples=20,
        )
        expected["inspect accuracy"] = ("pass", 20)  # 15/20 meets 3/4 exactly
    if "garak" in available:
        uploads.append((produced("garak") / "repeat-dan.report.jsonl.gz", {}))
        uploads.append((produced("garak") / "blank-promptinject.report.jsonl.gz", {}))
        criterion(
            "garak promptinject",
            "garak",
            task="promptinject.*",
            metric="attack_success_rate",
            op="<=",
            value=0.02,
            min_samples=500,
        )
        criterion("garak dan", "garak", task="dan.*", metric="attack_success_rate", op="<=", value=0.5, min_samples=10)
        expected["garak promptinject"] = ("pass", 768)  # test.Blank: no hit in 768 outputs
        expected["garak dan"] = ("fail", 10)  # dan.DAN found the echoed DAN text in all 10 outputs
    if "lm-eval" in available:
        results = produced("lm-eval") / "results.json"
        accuracy = json.loads(results.read_text())["results"]["assay_yesno"]["acc,none"]
        uploads.append((results, {}))
        criterion(
            "lm-eval accuracy", "lm-eval", task="assay_yesno", metric="acc", op=">=", value=accuracy, min_samples=40
        )
        expected["lm-eval accuracy"] = ("pass", 40)
    if "promptfoo" in available:
        uploads.append((produced("promptfoo") / "output.json", {}))
        criterion(
            "promptfoo pass rate", "promptfoo", task="echo", metric="pass_rate", op=">=", value=0.9, min_samples=6
        )
        expected["promptfoo pass rate"] = ("fail", 6)  # 4 of 6
    if "evidently" in available:
        uploads.append((produced("evidently") / "snapshot.json", {"tool_version": "0.7.23"}))
        criterion("evidently tests", "evidently", task="tests", metric="pass_rate", op=">=", value=0.5, min_samples=6)
        expected["evidently tests"] = ("pass", 6)  # 3 of 6 tests pass
    if "giskard" in available:
        uploads.append((produced("giskard") / "scan.json", {"tool_version": "2.19.2"}))
        criterion(
            "giskard scan", "giskard", task="scan", metric="detectors_with_issues", op="<=", value=0, min_samples=9
        )
        expected["giskard scan"] = ("fail", 9)  # 2 of 9 detectors found a major issue
    if not criteria:
        pytest.skip("no evidence tool is built: run `make evidence-tools`")

    policy = {
        "name": "tools-produced",
        "title": "Evidence produced by the tools themselves",
        "description": "One criterion for each tool's own output.",
        "confidence_level": 0.95,
        "min_group_size": 30,
        "checks": {"external": {"required": True, "criteria": criteria}},
    }
    do_save_policy(user=cast.officer.user, actor=acting(cast.officer), text=json.dumps(policy))
    hashes = [_imported(cast, llm_version, path, tmp_path, **fields)["sha256"] for path, fields in uploads]

    dataset_version = upload_dataset(cast, decision_rows(PASSING_RATES))
    run = post_audit(cast.owner, audit_body(llm_version, dataset_version, policy="tools-produced")).json()
    (check,) = [c for c in run["checks"] if c["check"] == "external"]
    judged = {c["label"]: (c["outcome"], c["sample_size"]) for c in check["details"]["criteria"]}
    assert judged == expected
    outcomes = {outcome for outcome, _ in expected.values()}
    assert run["verdict"] == ("fail" if "fail" in outcomes else "pass")

    page = signed_in(cast.reviewer).get(
        reverse("registry-portal:version-detail", args=[llm_version.model.name, llm_version.number])
    )
    assert all(digest in page.content.decode() for digest in hashes)
