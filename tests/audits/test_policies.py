"""Policy documents: the built-ins cite their basis, and anything invalid is refused with its line and field."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from audits.checks.base import exact_threshold
from audits.policies import (
    CHECK_NAMES,
    POLICY_SCHEMA,
    Policy,
    PolicyError,
    builtin_policies,
    diff_policies,
    load_policy,
)

ROOT = Path(__file__).resolve().parents[2]

# Line numbers below refer to this text; keep it as it is.
MINIMAL = """\
name: test-policy
title: Test policy
description: A policy for tests.
confidence_level: 0.95
min_group_size: 30
checks:
  disparate_impact:
    required: true
    impact_ratio_min:
      value: 0.8
      comparison: min
      basis:
        text: Four-fifths of the highest group's rate.
        citation: 29 CFR 1607.4(D)
"""

BASIS = "basis: {text: An organisational default., citation: Test suite}"

# Numbers a policy may hold outside a threshold: they bound work or describe the data, and have no basis.
PLAIN_NUMBERS = {"confidence_level", "min_group_size", "version", "sample_rows", "time_budget_seconds"}


def refused(text: str | bytes) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        load_policy(text, source="test.yaml")
    assert caught.value.source == "test.yaml"
    return caught.value


def replaced(old: str, new: str, text: str = MINIMAL) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def with_check(check: str) -> str:
    """MINIMAL with another check appended under ``checks`` (``check`` indented as a mapping entry)."""
    return MINIMAL + check


# --- the schema and the built-ins -------------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(POLICY_SCHEMA)
    assert POLICY_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(POLICY_SCHEMA["properties"]["checks"]["properties"]) == set(CHECK_NAMES)


def test_the_four_builtins_are_shipped_under_their_names() -> None:
    texts = builtin_policies()
    assert set(texts) == {"four-fifths", "nyc-ll144", "eu-ai-act-high-risk", "baseline"}
    for name, text in texts.items():
        assert load_policy(text).name == name


@pytest.mark.parametrize("name", sorted(builtin_policies()))
def test_builtin_loads_and_validates(name: str) -> None:
    policy = load_policy(builtin_policies()[name], source=f"{name}.yaml")
    assert isinstance(policy, Policy)
    assert policy.version is None  # the store numbers versions
    assert policy.checks
    assert set(policy.checks) <= set(CHECK_NAMES)
    assert list(Draft202012Validator(POLICY_SCHEMA).iter_errors(policy.document)) == []


def _numbers(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], Any]]:
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in _numbers(item, (*path, key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in _numbers(item, (*path, index))]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [(path, value)]
    return []


def _thresholds(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        own = [value] if "value" in value or "comparison" in value or "operator" in value else []
        return own + [found for item in value.values() for found in _thresholds(item)]
    if isinstance(value, list):
        return [found for item in value for found in _thresholds(item)]
    return []


@pytest.mark.parametrize("name", sorted(builtin_policies()))
def test_every_threshold_of_a_builtin_has_a_basis_with_a_citation(name: str) -> None:
    document = load_policy(builtin_policies()[name]).document
    thresholds = _thresholds(document)
    assert thresholds
    for threshold in thresholds:
        # Built-ins state the pass condition as an operator (the legacy ``comparison`` is for stored policies).
        assert threshold["operator"] in (">=", ">", "<=", "<")
        assert "comparison" not in threshold
        assert threshold["basis"]["text"].strip()
        assert threshold["basis"]["citation"].strip()
    # No number escapes: each one is a threshold's value or a plain setting that needs no basis.
    for path, _number in _numbers(document):
        if path[-1] == "value":
            assert set(document_at(document, path[:-1])) >= {"value", "operator", "basis"}, path
        else:
            assert path[-1] in PLAIN_NUMBERS, path


def document_at(document: dict[str, Any], path: tuple[str | int, ...]) -> Any:
    for part in path:
        document = document[part]  # type: ignore[index]
    return document


def test_four_fifths_flags_impact_ratios_below_0_8_citing_the_uniform_guidelines() -> None:
    policy = load_policy(builtin_policies()["four-fifths"])
    check = policy.checks["disparate_impact"]
    assert check["required"] is True
    assert check["impact_ratio_min"]["value"] == 0.8
    # 29 CFR 1607.4(D): adverse only when "less than four-fifths", so a ratio of exactly 4/5 passes (>=).
    assert check["impact_ratio_min"]["operator"] == ">="
    assert check["reference_group"] == "highest_selection_rate"
    basis = check["impact_ratio_min"]["basis"]
    assert "1607.4(D)" in basis["citation"]
    assert "less than four-fifths (4/5) (or eighty percent)" in basis["text"]
    assert "exactly 4/5 passes" in basis["text"]
    assert "significant in both statistical and practical terms" in check["significance_alpha"]["basis"]["text"]
    assert set(policy.thresholds) == {
        "checks.disparate_impact.impact_ratio_min",
        "checks.disparate_impact.significance_alpha",
    }


def test_ll144_excludes_categories_under_2_percent_from_impact_ratios_but_reports_them() -> None:
    policy = load_policy(builtin_policies()["nyc-ll144"])
    check = policy.checks["disparate_impact"]
    exclusion = check["exclude_groups_below_share"]
    assert exclusion["value"] == 0.02
    assert exclusion["operator"] == ">="  # "less than 2%" may be excluded: a share of 2% or more is included
    assert "5-301" in exclusion["basis"]["citation"]
    assert "excluded from impact ratios but reported" in exclusion["basis"]["text"]
    assert policy.document["intersections"] == [["sex", "race_ethnicity"]]
    assert policy.document["protected_roles"] == ["sex", "race_ethnicity"]
    assert "auditor's justification" in exclusion["basis"]["text"]
    assert check["rate"] == "by_output"  # selection rate or scoring rate, by the tool's output
    assert check["required"] is True
    # The law sets no pass mark: the basis of the 0.8 flag must say so.
    assert "neither sets a pass mark" in check["impact_ratio_min"]["basis"]["text"]


def test_eu_ai_act_policy_requires_explainability_and_adversarial_checks() -> None:
    policy = load_policy(builtin_policies()["eu-ai-act-high-risk"])
    assert policy.checks["explainability"]["required"] is True
    assert policy.checks["adversarial"]["required"] is True
    citations = " ".join(t["basis"]["citation"] for t in policy.thresholds.values())
    for article in ("2024/1689", "Art. 10(3)", "Art. 13(1)", "Art. 15(5)", "Art. 72"):
        assert article in citations
    assert set(policy.document["monitoring"]) == {
        "psi_warning",
        "psi_alert",
        "impact_ratio_alert",
        "accuracy_drop_alert",
    }


def test_baseline_is_permissive_and_says_its_basis_is_organisational() -> None:
    policy = load_policy(builtin_policies()["baseline"])
    assert not any(check["required"] for check in policy.checks.values())
    for field, threshold in policy.thresholds.items():
        assert "not a legal requirement" in threshold["basis"]["text"], field
        assert "organisational" in threshold["basis"]["citation"], field
    monitoring = policy.document["monitoring"]
    assert (monitoring["psi_warning"]["value"], monitoring["psi_alert"]["value"]) == (0.1, 0.2)
    assert monitoring["impact_ratio_alert"]["value"] == 0.8
    assert monitoring["accuracy_drop_alert"]["value"] == 0.05


# --- refusals: each names its line and field ---------------------------------------------------------------------

FIELD = "checks.disparate_impact.impact_ratio_min"

REFUSALS = [
    pytest.param(
        replaced("        citation: 29 CFR 1607.4(D)\n", ""),
        12,
        f"{FIELD}.basis",
        f"line 12, {FIELD}.basis: 'citation' is a required property",
        id="missing-citation",
    ),
    pytest.param(
        replaced(
            "      basis:\n"
            "        text: Four-fifths of the highest group's rate.\n"
            "        citation: 29 CFR 1607.4(D)\n",
            "",
        ),
        9,
        FIELD,
        f"line 9, {FIELD}: 'basis' is a required property",
        id="missing-basis",
    ),
    pytest.param(
        replaced("        citation: 29 CFR 1607.4(D)", "        citation: '  '"),
        14,
        f"{FIELD}.basis.citation",
        f"line 14, {FIELD}.basis.citation: must not be empty",
        id="blank-citation",
    ),
    pytest.param(
        replaced("    impact_ratio_min:", "    impact_ratio_mni:"),
        9,
        "checks.disparate_impact.impact_ratio_mni",
        "line 9, checks.disparate_impact.impact_ratio_mni: unknown key 'impact_ratio_mni' "
        "(did you mean 'impact_ratio_min'?)",
        id="typo-in-threshold-name",
    ),
    pytest.param(
        replaced("confidence_level: 0.95", "confidence_levle: 0.95"),
        4,
        "confidence_levle",
        "line 4, confidence_levle: unknown key 'confidence_levle' (did you mean 'confidence_level'?)",
        id="typo-at-top-level",
    ),
    pytest.param(
        replaced("  disparate_impact:", "  disparate_impakt:"),
        7,
        "checks.disparate_impakt",
        "line 7, checks.disparate_impakt: unknown key 'disparate_impakt' (did you mean 'disparate_impact'?)",
        id="unknown-check",
    ),
    pytest.param(
        replaced("      value: 0.8", "      value: 1.8"),
        10,
        f"{FIELD}.value",
        f"line 10, {FIELD}.value: must be at most 1, got 1.8",
        id="threshold-above-range",
    ),
    pytest.param(
        replaced("      value: 0.8", "      value: -0.1"),
        10,
        f"{FIELD}.value",
        f"line 10, {FIELD}.value: must be at least 0, got -0.1",
        id="threshold-below-range",
    ),
    pytest.param(
        replaced("confidence_level: 0.95", "confidence_level: 1.5"),
        4,
        "confidence_level",
        "line 4, confidence_level: must be at most 0.999, got 1.5",
        id="confidence-level-out-of-range",
    ),
    pytest.param(
        replaced("min_group_size: 30", "min_group_size: 0"),
        5,
        "min_group_size",
        "line 5, min_group_size: must be at least 1, got 0",
        id="min-group-size-zero",
    ),
    pytest.param(
        replaced("      value: 0.8", "      value: high"),
        10,
        f"{FIELD}.value",
        f"line 10, {FIELD}.value: must be a number, got text ('high')",
        id="wrong-type",
    ),
    pytest.param(
        replaced("      value: 0.8", "      value: '0.8'"),
        10,
        f"{FIELD}.value",
        f"line 10, {FIELD}.value: must be a number, got text ('0.8'); remove the quotes to make it a number",
        id="quoted-number",
    ),
    pytest.param(
        replaced("min_group_size: 30", "min_group_size: 30.5"),
        5,
        "min_group_size",
        "line 5, min_group_size: must be an integer, got a number (30.5)",
        id="fractional-integer",
    ),
    pytest.param(
        replaced("min_group_size: 30", "min_group_size: 30.0"),
        5,
        "min_group_size",
        "line 5, min_group_size: must be an integer, got a number (30.0)",
        id="float-for-integer",
    ),
    pytest.param(
        # YAML 1.1 would read "yes" as true; a policy reads it as the text it looks like, and refuses it.
        replaced("    required: true", "    required: yes"),
        8,
        "checks.disparate_impact.required",
        "line 8, checks.disparate_impact.required: must be a boolean (true or false), got text ('yes')",
        id="yes-is-not-a-boolean",
    ),
    pytest.param(
        replaced("      comparison: min", "      comparison: max"),
        11,
        f"{FIELD}.comparison",
        f"line 11, {FIELD}.comparison: must be 'min', got 'max'",
        id="flipped-comparison",
    ),
    pytest.param(
        replaced("      comparison: min", '      operator: "<="'),
        11,
        f"{FIELD}.operator",
        f"line 11, {FIELD}.operator: must be one of '>=', '>', got '<='",
        id="flipped-operator",
    ),
    pytest.param(
        replaced("      comparison: min", '      operator: "=>"'),
        11,
        f"{FIELD}.operator",
        f"line 11, {FIELD}.operator: must be one of '>=', '>', got '=>'",
        id="misspelt-operator",
    ),
    pytest.param(
        replaced("      comparison: min\n", ""),
        9,
        FIELD,
        f"line 9, {FIELD}: needs at least one of operator, comparison",
        id="no-operator",
    ),
    pytest.param(
        replaced("      value: 0.8", "      value: .nan"),
        10,
        f"{FIELD}.value",
        f"line 10, {FIELD}.value: must be a finite number, got .nan",
        id="nan",
    ),
    pytest.param(
        replaced("      value: 0.8", "      value: 1e999"),
        10,
        f"{FIELD}.value",
        f"line 10, {FIELD}.value: must be a finite number, got 1e999",
        id="overflowing-float",
    ),
    pytest.param(
        replaced("name: test-policy", "name: Test Policy"),
        1,
        "name",
        "line 1, name: must be a slug (lowercase letters and digits, joined by single hyphens), got 'Test Policy'",
        id="name-not-a-slug",
    ),
    pytest.param(
        replaced("title: Test policy\n", ""),
        1,
        "",
        "line 1: 'title' is a required property",
        id="missing-top-level-field",
    ),
    pytest.param(
        replaced("min_group_size: 30\n", "min_group_size: 30\nmin_group_size: 5\n"),
        6,
        "min_group_size",
        "line 6, min_group_size: duplicate key 'min_group_size' (first at line 5)",
        id="duplicate-key",
    ),
    pytest.param(
        replaced("      value: 0.8\n", "      value: 0.8\n      value: 0.5\n"),
        11,
        f"{FIELD}.value",
        f"line 11, {FIELD}.value: duplicate key 'value' (first at line 10)",
        id="duplicate-nested-key",
    ),
    pytest.param(
        replaced("title: Test policy", "title: [Test policy"),
        3,
        "",
        "line 3: not YAML: expected ',' or ']', but got ':' (while parsing a flow sequence at line 2)",
        id="not-yaml",
    ),
    pytest.param(
        "name: x\n\ttitle: y\n",
        2,
        "",
        "line 2: not YAML: found character '\\t' that cannot start any token",
        id="tab-indent",
    ),
    pytest.param(
        "- name: test-policy\n- title: Test policy\n",
        1,
        "",
        "line 1: a policy is a mapping of fields (name, title, checks, ...), not a list",
        id="list-instead-of-mapping",
    ),
    pytest.param(
        "just some words\n",
        1,
        "",
        "line 1: a policy is a mapping of fields (name, title, checks, ...), not text",
        id="scalar-instead-of-mapping",
    ),
    pytest.param("", None, "", "the policy is empty", id="empty"),
    pytest.param("# only a comment\n\n", None, "", "the policy is empty", id="only-comments"),
    pytest.param(
        MINIMAL + "---\nname: second\n",
        15,
        "",
        "line 15: not YAML: but found another document (expected a single document in the stream at line 1)",
        id="two-documents",
    ),
    pytest.param(
        replaced("title: Test policy", "title: !!python/object:os.system echo"),
        2,
        "title",
        "line 2, title: unsupported YAML tag 'tag:yaml.org,2002:python/object:os.system'",
        id="python-tag",
    ),
    pytest.param(
        replaced("title: Test policy", "title: !!binary aGVsbG8="),
        2,
        "title",
        "line 2, title: unsupported YAML tag 'tag:yaml.org,2002:binary'",
        id="binary-tag",
    ),
    pytest.param(
        replaced("min_group_size: 30", "2: 30"),
        5,
        "",
        "line 5: keys must be text; quote the key '2'",
        id="non-text-key",
    ),
    pytest.param(
        replaced("    required: true", "    <<: {required: true}"),
        8,
        "checks.disparate_impact",
        "line 8, checks.disparate_impact: merge keys (<<) are not supported; spell the values out",
        id="merge-key",
    ),
    pytest.param(
        replaced("title: Test policy", "title: \x07bell"),
        2,
        "",
        "line 2: not YAML: it holds the character U+0007, which YAML does not allow",
        id="control-character",
    ),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), REFUSALS)
def test_invalid_policy_is_refused_with_its_line_and_field(
    text: str, line: int | None, field: str, message: str
) -> None:
    error = refused(text)
    assert (error.line, error.field, error.message) == (line, field, message)
    assert str(error) == message


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def test_billion_laughs_is_refused_at_the_alias_that_expands_too_far() -> None:
    # Written out, d is 7,381 values and everything before e 8,303: e's first alias of d passes 10,000 (g alone
    # would be 9**7 = 4.8 million "lol"s).
    error = refused(BILLION_LAUGHS)
    assert (error.line, error.field) == (5, "e[0]")
    assert error.message == "line 5, e[0]: the alias here expands the policy past 10000 values; spell the values out"


def test_recursive_alias_is_refused() -> None:
    error = refused("name: &loop [x, *loop]\n")
    assert (error.line, error.field) == (1, "name[1]")
    assert "refers to a value that contains it" in error.message


def test_more_than_64_aliases_are_refused_at_the_65th() -> None:
    aliases = "\n".join(f"k{i}: *v" for i in range(65))
    error = refused(f"v: &v 1\n{aliases}\n")
    assert (error.line, error.field) == (66, "")
    assert error.message == "line 66: more than 64 aliases; a policy should spell its values out"


def test_a_text_over_64_kib_is_refused_before_it_is_parsed() -> None:
    error = refused(MINIMAL + "#" * 65_536 + "\n")
    assert error.line is None
    assert error.message == f"the policy is {len(MINIMAL) + 65_537} bytes; the limit is 65536"


def test_deep_nesting_is_refused() -> None:
    error = refused("a: " + "[" * 20 + "]" * 20 + "\n")
    assert error.message.startswith("line 1, a[0][0]")
    assert "nested more than 16 levels deep" in error.message
    # Deeper still is stopped while composing, before PyYAML's recursion can exhaust the stack.
    assert refused("a:\n " + "[" * 2_000 + "]" * 2_000 + "\n").message == "line 2: nested more than 16 levels deep"


def test_non_utf8_bytes_are_refused_with_the_line_of_the_bad_byte() -> None:
    data = MINIMAL.encode("utf-8").replace(b"title: Test policy", b"title: Caf\xe9 policy")
    error = refused(data)
    assert (error.line, error.field) == (2, "")
    assert error.message == "line 2: the policy is not UTF-8 text (byte 0xe9 at offset 28)"


def test_utf8_bytes_load_like_text() -> None:
    from_bytes = load_policy(MINIMAL.encode("utf-8"))
    from_text = load_policy(MINIMAL)
    assert from_bytes == from_text


def test_lone_surrogate_in_text_is_refused() -> None:
    error = refused(replaced("title: Test policy", "title: Test \ud800 policy"))
    assert error.line == 2
    assert "lone surrogate" in error.message


def test_check_without_anything_to_pass_or_fail_on_is_refused() -> None:
    error = refused(with_check("  performance:\n    required: true\n"))
    assert error.message == (
        "line 15, checks.performance: needs at least one of accuracy_min, balanced_accuracy_min, roc_auc_min, "
        "f1_min, precision_min, recall_min"
    )


def test_attack_success_rate_needs_its_epsilon() -> None:
    adversarial = f"""\
  adversarial:
    required: true
    attack: hop_skip_jump
    max_success_rate: {{value: 0.2, comparison: max, {BASIS}}}
"""
    error = refused(with_check(adversarial))
    assert error.message == "line 15, checks.adversarial: 'epsilon' is required when 'max_success_rate' is set"
    with_epsilon = adversarial + f"    epsilon: {{value: 0.1, comparison: max, {BASIS}}}\n"
    error = refused(with_check(with_epsilon.replace("hop_skip_jump", "carlini")))
    assert error.message == (
        "line 17, checks.adversarial.attack: must be one of 'hop_skip_jump', 'boundary', 'zoo', got 'carlini'"
    )


def test_a_policy_written_with_comparison_still_loads_and_is_judged_with_its_operator() -> None:
    """Stored policies from before operators said ``comparison: min``; they load, and min reads as ``>=``."""
    legacy = load_policy(MINIMAL)
    stated = load_policy(replaced("      comparison: min", '      operator: ">"'))
    both = load_policy(replaced("      comparison: min", '      comparison: min\n      operator: ">="'))

    assert set(legacy.thresholds) == set(stated.thresholds) == {FIELD}
    limit = exact_threshold(legacy.checks["disparate_impact"], "impact_ratio_min", default_operator=">")
    assert (limit.operator, str(limit.exact)) == (">=", "4/5")
    strict = exact_threshold(stated.checks["disparate_impact"], "impact_ratio_min", default_operator=">=")
    assert strict.operator == ">"
    assert not strict.passes(Fraction(4, 5))
    assert limit.passes(Fraction(4, 5))
    assert both.checks["disparate_impact"]["impact_ratio_min"]["operator"] == ">="


def test_protected_roles_small_groups_and_max_unknown_share_are_validated() -> None:
    good = MINIMAL.replace(
        "checks:\n",
        "protected_roles: [sex, race_ethnicity]\n"
        f"small_groups: {{handling: exclude, {BASIS}}}\n"
        f'max_unknown_share: {{value: 0.05, operator: "<=", {BASIS}}}\n'
        "checks:\n",
        1,
    )
    document = load_policy(good).document
    assert document["protected_roles"] == ["sex", "race_ethnicity"]
    assert document["small_groups"]["handling"] == "exclude"
    no_basis = MINIMAL.replace("checks:\n", "small_groups: {handling: exclude}\nchecks:\n", 1)
    assert "'basis' is a required property" in str(refused(no_basis))
    assert "must be one of 'insufficient', 'exclude'" in str(
        refused(MINIMAL.replace("checks:\n", "small_groups: {handling: drop}\nchecks:\n", 1))
    )
    assert "must be one of '<=', '<'" in str(
        refused(
            MINIMAL.replace("checks:\n", f'max_unknown_share: {{value: 0.05, operator: ">=", {BASIS}}}\nchecks:\n', 1)
        )
    )
    assert "must not be empty" in str(refused(MINIMAL.replace("checks:\n", "protected_roles: []\nchecks:\n", 1)))


def test_reference_group_is_the_known_word_or_a_mapping() -> None:
    error = refused(replaced("    required: true", "    required: true\n    reference_group: highest"))
    assert error.message == (
        "line 9, checks.disparate_impact.reference_group: must be 'highest_selection_rate' or a mapping of "
        "attribute to group, got 'highest'"
    )
    error = refused(replaced("    required: true", "    required: true\n    reference_group: {sex: 1}"))
    assert error.message == "line 9, checks.disparate_impact.reference_group.sex: must be text, got an integer (1)"
    policy = load_policy(replaced("    required: true", "    required: true\n    reference_group: {sex: male}"))
    assert policy.checks["disparate_impact"]["reference_group"] == {"sex": "male"}


def test_psi_warning_must_be_below_psi_alert() -> None:
    monitoring = f"""\
monitoring:
  psi_warning: {{value: 0.3, comparison: max, {BASIS}}}
  psi_alert: {{value: 0.2, comparison: max, {BASIS}}}
"""
    error = refused(MINIMAL + monitoring)
    assert (
        error.message
        == "line 16, monitoring.psi_warning.value: must be below monitoring.psi_alert.value (0.2), got 0.3"
    )


def test_declared_population_shares_of_an_attribute_must_not_exceed_one() -> None:
    data_quality = f"""\
  data_quality:
    required: false
    declared_population_shares:
      source: {{text: Census 2020 table P2., citation: US Census Bureau}}
      max_abs_difference: {{value: 0.05, comparison: max, {BASIS}}}
      shares:
        country: {{NO: 0.6, "Black or African American": 0.6}}
"""
    error = refused(with_check(data_quality))
    assert error.line == 21
    assert error.field == "checks.data_quality.declared_population_shares.shares.country"
    assert error.message.endswith("the shares of one attribute must add up to at most 1, got 1.2")


# --- YAML as a policy reads it --------------------------------------------------------------------------------


def test_scalars_follow_the_yaml_1_2_core_schema() -> None:
    data_quality = f"""\
  data_quality:
    required: false
    max_missing_fraction: {{value: 5e-2, comparison: max, {BASIS}}}
    declared_population_shares:
      source: {{text: Published 2024-01-31., citation: Statistics Norway}}
      max_abs_difference: {{value: 0x0, comparison: max, {BASIS}}}
      shares:
        country: {{NO: 0.5, yes: 0.25, "Black or African American": 0.25}}
"""
    policy = load_policy(with_check(data_quality))
    check = policy.checks["data_quality"]
    assert check["max_missing_fraction"]["value"] == 0.05  # YAML 1.1 would read 5e-2 as text
    assert check["declared_population_shares"]["max_abs_difference"]["value"] == 0
    # YAML 1.1 would read NO and yes as booleans (the "Norway problem").
    assert set(check["declared_population_shares"]["shares"]["country"]) == {"NO", "yes", "Black or African American"}
    assert check["declared_population_shares"]["source"]["text"] == "Published 2024-01-31."


def test_a_few_aliases_for_a_repeated_basis_are_fine() -> None:
    text = f"""\
name: aliased
title: Aliased
description: One basis, used twice.
confidence_level: 0.95
min_group_size: 30
checks:
  group_fairness:
    required: false
    demographic_parity_difference_max:
      value: 0.1
      comparison: max
      basis: &house {{text: House rule., citation: Policy handbook 4.2}}
    equalized_odds_difference_max: {{value: 0.1, comparison: max, basis: *house}}
  disparate_impact:
    required: false
    impact_ratio_min: {{value: 0.8, comparison: min, {BASIS}}}
"""
    policy = load_policy(text)
    checks = policy.checks["group_fairness"]
    assert checks["equalized_odds_difference_max"]["basis"] == {
        "text": "House rule.",
        "citation": "Policy handbook 4.2",
    }
    assert checks["demographic_parity_difference_max"]["basis"] == checks["equalized_odds_difference_max"]["basis"]


def test_field_names_quote_keys_that_are_not_plain_words() -> None:
    data_quality = """\
  data_quality:
    required: false
    min_group_share: {value: 0.01, comparison: min, basis: {text: x, citation: y}}
    declared_population_shares:
      source: {text: x, citation: y}
      max_abs_difference: {value: 0.05, comparison: max, basis: {text: x, citation: y}}
      shares:
        race: {"Black or African American": 1.5}
"""
    error = refused(with_check(data_quality))
    assert error.field == 'checks.data_quality.declared_population_shares.shares.race["Black or African American"]'
    assert error.line == 22


# --- identity: the two hashes ------------------------------------------------------------------------------------


def test_canonical_hash_ignores_comments_key_order_and_layout() -> None:
    reordered = """\
# Same policy, written differently.
checks:
  disparate_impact:
    impact_ratio_min:
      basis: {citation: "29 CFR 1607.4(D)", text: "Four-fifths of the highest group's rate."}
      comparison: 'min'
      value: 0.80   # trailing zero, flow style, quotes
    required: true
min_group_size: 30
confidence_level: 0.95
description: A policy for tests.
title: Test policy
name: test-policy
"""
    original, rewritten = load_policy(MINIMAL), load_policy(reordered)
    assert rewritten.sha256 == original.sha256
    assert rewritten.text_sha256 != original.text_sha256
    assert load_policy("# a comment\n" + MINIMAL).sha256 == original.sha256
    assert diff_policies(MINIMAL, reordered) == ""


def test_canonical_hash_changes_with_a_threshold() -> None:
    original = load_policy(MINIMAL)
    changed = load_policy(replaced("      value: 0.8", "      value: 0.75"))
    assert changed.sha256 != original.sha256
    assert load_policy(replaced("citation: 29 CFR 1607.4(D)", "citation: 29 CFR 1607.4")).sha256 != original.sha256


def test_the_hashes_are_of_the_canonical_json_and_of_the_exact_bytes() -> None:
    policy = load_policy(MINIMAL)
    assert policy.canonical_json().startswith(b'{"checks":{"disparate_impact":{"impact_ratio_min":{"basis":')
    assert policy.sha256 == hashlib.sha256(policy.canonical_json()).hexdigest()
    assert policy.text_sha256 == hashlib.sha256(MINIMAL.encode("utf-8")).hexdigest()
    assert policy.text == MINIMAL


def test_policy_is_frozen() -> None:
    policy = load_policy(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.sha256 = "0" * 64  # type: ignore[misc]


# --- review: the diff ------------------------------------------------------------------------------------------


def test_diff_shows_the_changed_threshold_by_its_full_name() -> None:
    new = replaced("      value: 0.8", "      value: 0.75")
    diff = diff_policies(MINIMAL, new, old_label="v1", new_label="v2")
    old_hash, new_hash = load_policy(MINIMAL).sha256, load_policy(new).sha256
    assert diff == (
        f"--- v1 (sha256 {old_hash})\n"
        f"+++ v2 (sha256 {new_hash})\n"
        "@@ -4 +4 @@\n"
        "-checks.disparate_impact.impact_ratio_min.value: 0.8\n"
        "+checks.disparate_impact.impact_ratio_min.value: 0.75\n"
    )


def test_diff_of_a_builtin_against_an_edited_copy() -> None:
    text = builtin_policies()["nyc-ll144"]
    edited = text.replace("      value: 0.02\n", "      value: 0.05\n").replace(
        "  - [sex, race_ethnicity]", "  - [sex, age]"
    )
    diff = diff_policies(text, edited)
    changed = [line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == [
        "-checks.disparate_impact.exclude_groups_below_share.value: 0.02",
        "+checks.disparate_impact.exclude_groups_below_share.value: 0.05",
        '-intersections[0][1]: "race_ethnicity"',
        '+intersections[0][1]: "age"',
    ]


def test_diff_refuses_an_invalid_side() -> None:
    with pytest.raises(
        PolicyError, match=r"^line 10, checks\.disparate_impact\.impact_ratio_min\.value: must be at most 1"
    ):
        diff_policies(MINIMAL, replaced("      value: 0.8", "      value: 8"))


# --- purity ----------------------------------------------------------------------------------------------------


def test_policies_import_nothing_from_django() -> None:
    code = "import sys, audits.policies; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
