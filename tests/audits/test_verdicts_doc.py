"""docs/verdicts.md cannot drift from the engine: every worked example on the page is a fenced block marked
``verdict-example`` (or ``proxy-example``) whose data and expected numbers this module reads and recomputes through
the engine as an audit run computes them (a CSV read as on upload -> ``build_evaluation`` -> ``evaluate``), with the
regulator bundle's verifier agreeing; each exact fraction an example expects is also quoted in the prose of its
section; and the page's table of operators is the built-in policies' own.

Block format (JSON): ``policy`` (a built-in), ``policy_changes`` (top-level keys replaced; ``checks`` merged per
check), ``only_checks`` (the checks kept), ``columns`` (protected columns, default ``["sex"]``), ``roles`` (column
roles added), ``groups`` (per group its column values and either ``count`` and ``selected`` (the label agrees with
the decision), or ``tp``/``fp``/``tn``/``fn``, or ``count`` with an explicit ``label`` and ``prediction``), and
``expect``: ``verdict``, ``outcomes`` (check -> outcome), ``groupings`` ("check grouping" -> fields of the table),
``rows`` ("check grouping" -> group -> fields of its row), ``summary`` ("check grouping" -> fields), ``reasons``
(words in the reasons), ``error`` (words of the refusal). A float expected is compared to three significant digits.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from audits.checks.base import CheckContext
from audits.checks.explainability import ExplainabilityCheck
from audits.engine import evaluate
from audits.evaluation import ColumnRoles, Evaluation, EvaluationError, build_evaluation
from audits.policies import builtin_policies, load_policy
from governance.data.ingest import read_table
from governance.trail.verifier import recompute_audit

DOC = Path(__file__).resolve().parents[2] / "docs" / "verdicts.md"
BLOCK = re.compile(r"```json (verdict-example|proxy-example)\n(.*?)```", re.DOTALL)


def sections() -> list[tuple[str, str, str, dict[str, Any]]]:
    """Per example block: its kind, its section's heading, the section's prose (blocks left out), and the block."""
    found = []
    text = DOC.read_text(encoding="utf-8")
    for part in re.split(r"\n(?=## )", text):
        heading = part.splitlines()[0]
        prose = re.sub(r"```.*?```", "", part, flags=re.DOTALL)
        for kind, body in BLOCK.findall(part):
            found.append((kind, heading, prose, json.loads(body)))
    return found


EXAMPLES = [(heading, prose, spec) for kind, heading, prose, spec in sections() if kind == "verdict-example"]
PROXIES = [(heading, prose, spec) for kind, heading, prose, spec in sections() if kind == "proxy-example"]


def rows_of(spec: Mapping[str, Any], columns: list[str]) -> list[list[str]]:
    rows: list[list[str]] = []
    for number, group in enumerate(spec["groups"]):
        values = [str(group.get(column, "")) for column in columns]
        if "selected" in group:
            cells = [("1", "1")] * group["selected"] + [("0", "0")] * (group["count"] - group["selected"])
        elif "tp" in group:
            cells = [("1", "1")] * group["tp"] + [("0", "1")] * group["fp"]
            cells += [("0", "0")] * group["tn"] + [("1", "0")] * group["fn"]
        else:
            cells = [(str(group["label"]), str(group["prediction"]))] * group["count"]
        rows += [[f"{number}-{i}", *values, label, decided] for i, (label, decided) in enumerate(cells)]
    return rows


def policy_of(spec: Mapping[str, Any]) -> dict[str, Any]:
    document = copy.deepcopy(load_policy(builtin_policies()[spec["policy"]]).document)
    changes = dict(spec.get("policy_changes") or {})
    for name, settings in (changes.pop("checks", None) or {}).items():
        document["checks"][name] = {**document["checks"].get(name, {}), **settings}
    document.update(changes)
    if spec.get("only_checks"):
        document["checks"] = {k: v for k, v in document["checks"].items() if k in spec["only_checks"]}
    return document


def run_example(spec: Mapping[str, Any], tmp_path: Path) -> dict[str, Any] | str:
    """The example's results, or the words of the refusal."""
    columns = list(spec.get("columns", ["sex"]))
    header = ["id", *columns, "outcome", "decision"]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows_of(spec, columns)])
    path = tmp_path / "example.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    roles = ColumnRoles.from_json(
        {"label": "outcome", "prediction": "decision", "protected": columns, **(spec.get("roles") or {})}
    )
    table = read_table(path, fmt="csv", text_columns=header[1:])
    try:
        evaluation = build_evaluation(table, roles)
    except EvaluationError as error:
        return str(error)
    results = evaluate(evaluation, policy_of(spec)).results
    found = recompute_audit({"results": results, "verdict": results["verdict"]}, label="example")
    assert found.disagreements == []
    return results


def same(found: Any, expected: Any, where: str) -> None:
    if isinstance(expected, float):
        assert found == pytest.approx(expected, rel=5e-3), where
    elif isinstance(expected, Mapping):
        assert isinstance(found, Mapping), where
        for key, value in expected.items():
            same(found.get(key), value, f"{where}.{key}")
    else:
        assert found == expected, where


def table_of(results: Mapping[str, Any], key: str) -> dict[str, Any]:
    check, grouping = key.split(" ", 1)
    (found,) = [g for g in results["checks"][check]["groupings"] if g["grouping"] == grouping]
    return found


@pytest.mark.parametrize(("heading", "prose", "spec"), EXAMPLES, ids=[spec["name"] for _, _, spec in EXAMPLES])
def test_each_worked_example_is_what_the_engine_computes(
    heading: str, prose: str, spec: dict[str, Any], tmp_path: Path
) -> None:
    expect = spec["expect"]
    results = run_example(spec, tmp_path)
    if "error" in expect:
        assert isinstance(results, str), f"{spec['name']}: expected a refusal, got a verdict"
        for words in expect["error"]:
            assert words in results
        return
    assert isinstance(results, dict), results
    same(results["verdict"], expect["verdict"], "verdict")
    for check, outcome in (expect.get("outcomes") or {}).items():
        assert results["checks"][check]["outcome"] == outcome, check
    for key, fields in (expect.get("groupings") or {}).items():
        same(table_of(results, key), fields, key)
    for key, groups in (expect.get("rows") or {}).items():
        rows = {row["group"]: row for row in table_of(results, key)["groups"]}
        assert set(groups) <= set(rows), (key, sorted(rows))
        for group, fields in groups.items():
            same(rows[group], fields, f"{key} {group}")
    for key, fields in (expect.get("summary") or {}).items():
        same(table_of(results, key)["summary"], fields, f"{key} summary")
    for words in expect.get("reasons") or []:
        assert words in " ".join(results["reasons"]), words


@pytest.mark.parametrize(("heading", "prose", "spec"), EXAMPLES, ids=[spec["name"] for _, _, spec in EXAMPLES])
def test_each_exact_fraction_an_example_expects_is_quoted_in_its_section(
    heading: str, prose: str, spec: dict[str, Any]
) -> None:
    def fractions(value: Any) -> list[str]:
        if isinstance(value, Mapping):
            return [f for v in value.values() for f in fractions(v)]
        return [value] if isinstance(value, str) and re.fullmatch(r"[0-9]+/[0-9]+", value) else []

    for fraction in fractions(spec["expect"]):
        assert fraction in prose, f"{heading}: {fraction} is expected by {spec['name']} but not said in the prose"


def synthetic_proxy(spec: Mapping[str, Any]) -> Evaluation:
    """The proxy example's data: ``years`` takes 1 to 8 (100 rows each), ``slot`` cycles 1 to 8 (independent of
    years), the protected ``band`` is "up_to_4" or "over_4" from years, and the model decides on both."""
    years = np.repeat(np.arange(1, 9), 100).astype(np.float64)
    slot = np.tile(np.arange(1, 9), 100).astype(np.float64)
    band = np.where(years <= spec["cut"], "up_to_4", "over_4")
    features = np.column_stack([years, slot])

    def predict(matrix: np.ndarray) -> np.ndarray:
        return np.asarray(matrix)[:, 0] + np.asarray(matrix)[:, 1] > 9

    decided = predict(features).astype(np.int8)
    return Evaluation(
        y_true=decided,
        y_pred=decided,
        scores=None,
        protected={"band": band},
        roles=ColumnRoles(label="label", protected=("band",), features=("years", "slot")),
        features=features,
        feature_names=("years", "slot"),
        predict=predict,
        rows=len(years),
    )


@pytest.mark.parametrize(("heading", "prose", "spec"), PROXIES, ids=[spec["name"] for _, _, spec in PROXIES])
def test_the_proxy_example_is_what_the_check_computes(heading: str, prose: str, spec: dict[str, Any]) -> None:
    settings = {**spec["settings"], "sample_rows": 20, "time_budget_seconds": 300}
    outcome = ExplainabilityCheck().run(synthetic_proxy(spec), settings, CheckContext())
    expect = spec["expect"]
    pairs = {pair["feature"]: pair for pair in outcome.details["associations"]}
    for feature, value in expect["association"].items():
        assert round(pairs[feature]["determination"]["value"], 2) == value, feature
        assert f"{value:.2f}" in prose, feature
    counted = {entry["feature"]: entry for entry in outcome.details["counted_features"]}
    assert sorted(counted) == expect["counted"]
    assert outcome.details["protected_share"] == pytest.approx(sum(e["share"] for e in counted.values()))
    assert outcome.outcome == expect["outcome"], outcome.reason


def test_the_operators_table_is_the_built_in_policies_own() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = re.findall(r"^\| `([a-z0-9-]+)` \| `([a-z_]+)\.([a-z_]+)` \| ([0-9.]+) \| `([<>=]+)` \|", text, re.M)
    assert table, "docs/verdicts.md has no operators table"
    listed = {(policy, check, key): (float(value), operator) for policy, check, key, value, operator in table}
    shipped = {}
    for policy, path in builtin_policies().items():
        for check, settings in (load_policy(path).document.get("checks") or {}).items():
            for key, entry in settings.items():
                if isinstance(entry, Mapping) and "operator" in entry:
                    shipped[(policy, check, key)] = (float(entry["value"]), entry["operator"])
    assert listed == shipped


def test_the_page_has_every_worked_example_the_issue_asks_for() -> None:
    names = {spec["name"] for _, _, spec in EXAMPLES} | {spec["name"] for _, _, spec in PROXIES}
    wanted = {
        "exactly-four-fifths",
        "unknown-category",
        "small-group",
        "small-group-excluded",
        "undefined-rate",
        "significance",
        "ll144-exclusion",
        "proxy",
        "required-roles",
        "value-vocabulary",
    }
    assert wanted <= names, sorted(wanted - names)
