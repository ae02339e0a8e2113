"""audits.policies.resolve: the one lookup of a stored policy version by name and number."""

from __future__ import annotations

import pytest

from audits import policies
from audits.actions import do_save_policy, ensure_builtin_policies
from audits.models import Policy, PolicyVersion
from audits.policies import builtin_policies
from governance.trail.log import Actor

pytestmark = pytest.mark.django_db


def _second_version_of_four_fifths() -> PolicyVersion:
    """Store four-fifths' shipped text with one comment added: a new version (the text differs), same rules."""
    text = builtin_policies()["four-fifths"] + "\n# a second version, for the lookup's test\n"
    return do_save_policy(user=None, actor=Actor.system(), text=text, builtin=True)


def test_an_unknown_name_is_refused_naming_the_known_policies() -> None:
    ensure_builtin_policies()

    with pytest.raises(policies.PolicyNotFound) as caught:
        policies.resolve("four-fifth")

    assert caught.value.field == "policy"
    assert str(caught.value) == (
        "Unknown policy 'four-fifth'. Policies: baseline, eu-ai-act-high-risk, four-fifths, nyc-ll144."
    )


def test_an_unknown_version_is_refused_naming_the_policy_and_number() -> None:
    ensure_builtin_policies(only="four-fifths")

    with pytest.raises(policies.PolicyNotFound) as caught:
        policies.resolve("four-fifths", 9)

    assert caught.value.field == "policy_version"
    assert str(caught.value) == "four-fifths has no version 9."


def test_no_version_means_the_latest_and_a_number_means_that_one() -> None:
    ensure_builtin_policies(only="four-fifths")
    first = PolicyVersion.objects.get(policy__name="four-fifths", number=1)
    second = _second_version_of_four_fifths()
    assert second.number == 2

    latest = policies.resolve("four-fifths")

    assert (latest.pk, latest.number, latest.policy.name) == (second.pk, 2, "four-fifths")
    assert policies.resolve("four-fifths", 1).pk == first.pk
    assert policies.resolve("four-fifths", version=2).pk == second.pk


def test_a_builtin_not_stored_yet_is_stored_unless_told_not_to() -> None:
    assert not Policy.objects.exists()

    with pytest.raises(policies.PolicyNotFound):
        policies.resolve("nyc-ll144", install=False)
    assert not Policy.objects.exists()

    found = policies.resolve("nyc-ll144")

    assert (found.policy.name, found.number) == ("nyc-ll144", 1)
    assert list(Policy.objects.values_list("name", flat=True)) == ["nyc-ll144"]


def test_an_unknown_name_stores_nothing() -> None:
    with pytest.raises(policies.PolicyNotFound) as caught:
        policies.resolve("no-such-policy")

    assert str(caught.value) == "Unknown policy 'no-such-policy'. Policies: none."
    assert not Policy.objects.exists()
