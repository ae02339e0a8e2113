"""Policies cite by catalogue id: every basis of every built-in policy names at least one provision in the citations
catalogue, and a policy naming an id the catalogue does not hold is refused with that id, its line and field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from audits.actions import do_save_policy, ensure_builtin_policies
from audits.models import PolicyVersion
from audits.policies import PolicyError, builtin_policies, load_policy
from governance.citations import cite
from governance.trail.log import Actor


def _bases(value: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, Any]]]:
    # A basis is the mapping with the rule in words and its citation (thresholds, small_groups, a declared source).
    if isinstance(value, dict):
        if {"text", "citation"} <= value.keys():
            yield ".".join(path), value
            return
        for key, item in value.items():
            yield from _bases(item, (*path, str(key)))


@pytest.mark.parametrize("name", sorted(builtin_policies()))
def test_every_basis_of_a_builtin_policy_cites_catalogue_ids(name: str) -> None:
    policy = load_policy(builtin_policies()[name], source=f"{name}.yaml")
    bases = list(_bases(policy.document))
    assert bases, f"{name}: found no basis at all"
    for where, basis in bases:
        assert basis.get("citations"), f"{name}: {where} cites no catalogue id"
        for citation_id in basis["citations"]:
            cite(citation_id)  # raises UnknownCitation naming the id


def test_the_builtins_cite_the_provisions_their_text_names() -> None:
    # Known answers: the four-fifths rule is 29 CFR 1607.4(D); LL144's 2% exclusion is 6 RCNY 5-301(d); the
    # baseline claims no legal basis, only a voluntary framework's practice.
    def ids(name: str) -> dict[str, list[str]]:
        return {w: b["citations"] for w, b in _bases(load_policy(builtin_policies()[name]).document)}

    assert ids("four-fifths")["checks.disparate_impact.impact_ratio_min.basis"][0] == "us-29-cfr/1607-4/d"
    assert ids("nyc-ll144")["checks.disparate_impact.exclude_groups_below_share.basis"] == ["nyc-rcny/5-301/d"]
    assert "eu-ai-act/art-15/5" in ids("eu-ai-act-high-risk")["checks.adversarial.max_success_rate.basis"]
    for where, cited in ids("baseline").items():
        assert all(not cite(c).binding or c == "us-29-cfr/1607-4/d" for c in cited), where
        assert any(c.startswith("nist-ai-rmf/") for c in cited), where


def test_an_unknown_citation_id_is_refused_naming_the_id_line_and_field() -> None:
    text = builtin_policies()["four-fifths"].replace(
        "        citations: [us-29-cfr/1607-4/d]\n", "        citations: [us-29-cfr/1607-4/e]\n"
    )
    assert "1607-4/e" in text
    with pytest.raises(PolicyError) as caught:
        load_policy(text, source="four-fifths.yaml")
    error = caught.value
    assert "unknown citation id 'us-29-cfr/1607-4/e'" in error.message
    assert "did you mean 'us-29-cfr/1607-4/d'" in error.message
    assert error.field == "checks.disparate_impact.significance_alpha.basis.citations[0]"
    assert error.line == text.splitlines().index("        citations: [us-29-cfr/1607-4/e]") + 1


def test_citations_is_a_non_empty_list_of_ids() -> None:
    text = builtin_policies()["four-fifths"].replace(
        "        citations: [us-29-cfr/1607-4/d]\n", "        citations: []\n"
    )
    with pytest.raises(PolicyError, match="citations: must not be empty"):
        load_policy(text)


def test_a_policy_without_citation_ids_still_loads() -> None:
    # Stored versions written before ids existed carry only the citation text; they must keep loading.
    text = "\n".join(
        line for line in builtin_policies()["four-fifths"].splitlines() if not line.strip().startswith("citations:")
    )
    assert load_policy(text).name == "four-fifths"


@pytest.mark.django_db
def test_a_builtin_that_gained_citation_ids_is_stored_as_a_new_version_and_the_old_keeps_its_hashes() -> None:
    # install_policies (ensure_builtin_policies) stores a changed shipped text as the next version; the version
    # stored before ids existed keeps its text and both hashes, because its document did not change.

    shipped = builtin_policies()["four-fifths"]
    before_ids = "\n".join(line for line in shipped.splitlines() if not line.strip().startswith("citations:")) + "\n"
    old = do_save_policy(user=None, actor=Actor.system(), text=before_ids, builtin=True)
    old_hashes = (old.sha256, old.canonical_sha256)

    ensure_builtin_policies(only="four-fifths")
    ensure_builtin_policies(only="four-fifths")  # idempotent: no third version

    versions = list(PolicyVersion.objects.filter(policy__name="four-fifths").order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    assert (versions[0].sha256, versions[0].canonical_sha256) == old_hashes
    assert versions[0].canonical_sha256 == load_policy(before_ids).sha256
    assert versions[1].canonical_sha256 == load_policy(shipped).sha256 != old_hashes[1]
    assert versions[1].text == shipped
