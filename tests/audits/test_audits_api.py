"""The audit API's versioned policies: reading, saving a new version, refusals, and the diff of two versions. Audit
runs are in test_audit_runs_api.py.

Every write is checked for what it stored and the trail event it recorded; every refusal for the error it answered
with and that it changed nothing.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
import rfc8785
import yaml
from django.core.management import call_command

from audits.models import Policy, PolicyVersion
from audits.policies import builtin_policies
from tests.api import assert_error, db_state, events_since, last_seq
from tests.audits.conftest import API
from tests.conftest import Cast, Member, sha256_text
from tests.conftest import sha256_text as sha256_of
from tests.data.conftest import refused

BUILTIN_NAMES = ["baseline", "eu-ai-act-high-risk", "four-fifths", "nyc-ll144"]


# Line numbers below refer to this text; keep it as it is.
CUSTOM = """\
name: credit-screen
title: Credit screen
description: Four-fifths screen for consumer credit decisions.
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


STRICTER = CUSTOM.replace("value: 0.8", "value: 0.85")


def canonical_document_sha256(text: str) -> str:
    """What a policy *says*, hashed as the policy store documents it: RFC 8785 JSON of the parsed YAML."""
    return hashlib.sha256(rfc8785.dumps(yaml.safe_load(text))).hexdigest()


def post_policy(member: Member, text: str, reason: str = "") -> Any:
    return member.client().post(f"{API}/policies/", {"text": text, "reason": reason}, format="json")


# --- policies --------------------------------------------------------------------------------------------------


def test_reading_policies_writes_nothing_and_install_policies_stores_the_builtins(cast: Cast) -> None:
    before, seq = db_state(), last_seq()
    assert cast.read_only.client().get(f"{API}/policies/").json()["results"] == []  # a read never writes
    assert (db_state(), events_since(seq)) == (before, [])

    call_command("install_policies", stdout=io.StringIO())
    response = cast.reviewer.client().get(f"{API}/policies/")

    assert response.status_code == 200, response.content
    listed = response.json()["results"]
    assert [p["name"] for p in listed] == BUILTIN_NAMES
    shipped = builtin_policies()
    for policy in listed:
        assert policy["builtin"] is True
        assert policy["versions"] == [1]
        assert policy["latest"]["sha256"] == sha256_of(shipped[policy["name"]])
        assert policy["latest"]["canonical_sha256"] == canonical_document_sha256(shipped[policy["name"]])
    stored = events_since(seq, "policy.saved")
    assert sorted(e.payload["policy"] for e in stored) == BUILTIN_NAMES
    assert {(e.actor_kind, e.payload["version"]) for e in stored} == {("system", 1)}
    assert set(Policy.objects.values_list("name", flat=True)) == set(BUILTIN_NAMES)

    # Stored once: a second look writes nothing.
    before, seq = db_state(), last_seq()
    assert [p["name"] for p in cast.regulator.client().get(f"{API}/policies/").json()["results"]] == BUILTIN_NAMES
    assert db_state() == before
    assert events_since(seq) == []


def test_an_officer_saves_a_policy_and_each_change_is_a_new_version(cast: Cast, builtin_policies_stored: None) -> None:
    seq = last_seq()

    first = post_policy(cast.officer, CUSTOM, reason="first draft")

    assert first.status_code == 201, first.content
    body = first.json()
    assert (body["policy"], body["number"], body["text"]) == ("credit-screen", 1, CUSTOM)
    assert body["sha256"] == sha256_of(CUSTOM)
    assert body["canonical_sha256"] == canonical_document_sha256(CUSTOM)
    assert body["created_by"] == "olivia"
    policy = Policy.objects.get(name="credit-screen")
    assert (policy.title, policy.builtin, policy.created_by) == ("Credit screen", False, cast.officer.user)
    (saved,) = events_since(seq)
    assert saved.action == "policy.saved"
    assert saved.actor_user_id == cast.officer.user.pk
    assert saved.payload == {
        "policy": "credit-screen",
        "version": 1,
        "sha256": sha256_of(CUSTOM),
        "canonical_sha256": canonical_document_sha256(CUSTOM),
        "reason_sha256": sha256_text("first draft"),
    }

    # The same text again is the same version, and records nothing.
    before, seq = db_state(), last_seq()
    again = post_policy(cast.officer, CUSTOM, reason="resubmitted")
    assert again.json()["number"] == 1
    assert db_state() == before
    assert events_since(seq) == []

    # A changed threshold is version 2; version 1 stays as it was.
    changed = post_policy(cast.officer, STRICTER, reason="tighter after review")

    assert changed.status_code == 201, changed.content
    assert changed.json()["number"] == 2
    (saved,) = events_since(seq)
    assert saved.payload == {
        "policy": "credit-screen",
        "version": 2,
        "sha256": sha256_of(STRICTER),
        "canonical_sha256": canonical_document_sha256(STRICTER),
        "reason_sha256": sha256_text("tighter after review"),
    }
    assert list(PolicyVersion.objects.filter(policy=policy).values_list("number", "text")) == [
        (1, CUSTOM),
        (2, STRICTER),
    ]

    client = cast.reviewer.client()
    detail = client.get(f"{API}/policies/credit-screen/").json()
    assert (detail["versions"], detail["latest"]["number"], detail["builtin"]) == ([1, 2], 2, False)
    v1 = client.get(f"{API}/policies/credit-screen/versions/1/").json()
    assert v1["text"] == CUSTOM
    assert v1["document"]["checks"]["disparate_impact"]["impact_ratio_min"]["value"] == 0.8
    assert v1["change_reason"] == "first draft"
    assert_error(client.get(f"{API}/policies/credit-screen/versions/3/"), 404, "not_found")
    assert_error(client.get(f"{API}/policies/no-such-policy/"), 404, "not_found")
    assert_error(client.get(f"{API}/policies/no-such-policy/versions/1/"), 404, "not_found")


def test_saving_the_same_text_again_answers_200(cast: Cast, builtin_policies_stored: None) -> None:
    assert post_policy(cast.officer, CUSTOM).status_code == 201

    assert post_policy(cast.officer, CUSTOM).status_code == 200


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("value: 0.8", "value: 1.8", "line 10, checks.disparate_impact.impact_ratio_min.value: must be at most 1"),
        ("impact_ratio_min:", "impact_ratio_mn:", "line 9, checks.disparate_impact.impact_ratio_mn: unknown key"),
        ("        citation: 29 CFR 1607.4(D)\n", "", "line 12, checks.disparate_impact.impact_ratio_min.basis:"),
        ("min_group_size: 30", "min_group_size: '30'", "line 5, min_group_size: must be an integer"),
        ("title: Credit screen", "title: Credit: screen", "line 2: not YAML: mapping values are not allowed here"),
    ],
    ids=["out-of-range", "misspelt-key", "basis-without-citation", "quoted-number", "not-yaml"],
)
def test_an_invalid_policy_is_422_naming_the_line_and_field(
    cast: Cast, builtin_policies_stored: None, old: str, new: str, where: str
) -> None:
    assert CUSTOM.count(old) == 1
    text = CUSTOM.replace(old, new)

    error = refused(lambda: post_policy(cast.officer, text), 422, "invalid_policy")

    assert error["message"].startswith(where), error
    assert error["details"] == {"text": [error["message"]]}
    assert not Policy.objects.filter(name="credit-screen").exists()


def test_a_builtin_policy_cannot_be_changed_through_the_api(cast: Cast, builtin_policies_stored: None) -> None:
    text = builtin_policies()["four-fifths"].replace("value: 0.8", "value: 0.7")

    error = refused(lambda: post_policy(cast.officer, text), 409, "builtin")

    assert "four-fifths is a built-in policy" in error["message"]
    assert PolicyVersion.objects.filter(policy__name="four-fifths").count() == 1


def test_only_officers_and_admins_write_policies(cast: Cast, builtin_policies_stored: None, anonymous: Any) -> None:
    ladder = {"owner": 403, "reviewer": 403, "regulator": 403, "read_only": 403, "ci": 403}
    clients = [(anonymous, 401)] + [(cast.members()[who].client(), status) for who, status in ladder.items()]

    for client, status in clients:
        refused(lambda client=client: client.post(f"{API}/policies/", {"text": CUSTOM}, format="json"), status)

    assert not Policy.objects.filter(name="credit-screen").exists()


def test_an_admin_may_save_a_policy(cast: Cast, builtin_policies_stored: None) -> None:
    assert post_policy(cast.admin, CUSTOM).status_code == 201
    assert PolicyVersion.objects.get(policy__name="credit-screen").created_by == cast.admin.user


def test_reading_policies_needs_a_login(anonymous: Any, builtin_policies_stored: None) -> None:
    for path in ("policies/", "policies/four-fifths/", "policies/four-fifths/versions/1/"):
        assert_error(anonymous.get(f"{API}/{path}"), 401, "not_authenticated")


@pytest.mark.django_db
def test_the_diff_of_two_policy_versions_names_the_changed_threshold(cast: Cast) -> None:
    text = builtin_policies()["four-fifths"].replace("name: four-fifths", "name: stricter-fifths")
    officer = cast.officer.client()
    assert officer.post("/api/v1/policies/", {"text": text}, format="json").status_code == 201
    changed = text.replace("value: 0.8", "value: 0.85", 1)
    assert officer.post("/api/v1/policies/", {"text": changed, "reason": "Stricter."}, format="json").status_code == 201

    body = cast.owner.client().get("/api/v1/policies/stricter-fifths/diff", {"from": 1, "to": 2}).json()

    assert "-checks.disparate_impact.impact_ratio_min.value: 0.8" in body["diff"]
    assert "+checks.disparate_impact.impact_ratio_min.value: 0.85" in body["diff"]
    missing = cast.owner.client().get("/api/v1/policies/stricter-fifths/diff", {"from": 1, "to": 9})
    assert missing.status_code == 422
    assert "no version 9" in missing.json()["error"]["message"]


@pytest.mark.parametrize("numbers", [{"from": "\u00b2", "to": "1"}, {"from": "1", "to": "-1"}])
def test_a_policy_diff_with_a_bad_version_number_is_422(
    cast: Cast, builtin_policies_stored: None, numbers: dict[str, str]
) -> None:
    error = assert_error(cast.owner.client().get(f"{API}/policies/baseline/diff", numbers), 422)
    assert set(error["details"]) & {"from", "to"}
