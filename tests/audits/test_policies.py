"""Policy documents: the built-ins cite their basis, YAML is read as a policy reads it, a policy's two hashes,
the review diff, and purity. Refusals of invalid policies are in test_policy_refusals.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from audits.policies import (
    CHECK_NAMES,
    POLICY_SCHEMA,
    Policy,
    PolicyError,
    builtin_policies,
    diff_policies,
    load_policy,
)
from tests.audits.policy_helpers import BASIS, MINIMAL, refused, replaced, with_check

ROOT = Path(__file__).resolve().parents[2]


# Numbers a policy may hold outside a threshold: they bound work or describe the data, and have no basis.
PLAIN_NUMBERS = {"confidence_level", "min_group_size", "version", "sample_rows", "time_budget_seconds"}


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
