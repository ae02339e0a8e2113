"""Helpers shared by the policy document tests (test_policies.py, test_policy_refusals.py): a minimal valid
policy, edits of it, and asserting that a text is refused.
"""

from __future__ import annotations

import pytest

from audits.policies import PolicyError, load_policy

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
