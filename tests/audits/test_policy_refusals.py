"""Policy documents: anything invalid is refused with its line and field, hostile YAML (alias bombs, deep nesting,
bad bytes) included.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from audits.checks.base import exact_threshold
from audits.policies import load_policy
from tests.audits.policy_helpers import BASIS, MINIMAL, refused, replaced, with_check

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
