"""Separation of duties and the lifecycle rules hold at every entry point, not only the API:
``manage.py lifecycle`` goes through the same actions, and the Django admin shows the registry without ever
changing it (the portal has no registry pages yet).
"""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from governance.access.models import User
from governance.access.roles import Role
from registry import actions
from registry.admin import ModelVersionAdmin
from registry.models import ModelVersion, RegisteredModel, Review
from tests.api import db_state, events_since, last_seq
from tests.conftest import Cast
from tests.registry.conftest import MakeVersion, Walk, acting, new_member

# --- manage.py lifecycle ---------------------------------------------------------------------------------------


def lifecycle(*args: str) -> str:
    out = StringIO()
    call_command("lifecycle", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def refused_command(*args: str) -> str:
    """Run a lifecycle command that must fail; assert it changed nothing and left no event; return its message."""
    before, seq = db_state(), last_seq()
    with pytest.raises(CommandError) as caught:
        lifecycle(*args)
    assert events_since(seq) == []
    assert db_state() == before
    return str(caught.value)


def test_the_command_moves_a_version_as_the_named_user(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    version = make_version(minimal_risk_model)
    seq = last_seq()

    outputs = [
        lifecycle("submit", "document-router", "1", "--as", "omar"),
        lifecycle("approve", "document-router", "1", "--as", "rhea", "--reason", "fine"),
        lifecycle("deploy", "document-router", "1", "--as", "olivia", "--environment", "staging"),
        lifecycle("retire", "document-router", "1", "--as", "olivia", "--reason", "done"),
    ]

    assert [line.strip() for line in outputs] == [
        "document-router v1: submitted",
        "document-router v1: approved",
        "document-router v1: deployed",
        "document-router v1: retired",
    ]
    recorded = events_since(seq)
    assert [(e.action, e.actor_kind, e.actor_user_id) for e in recorded] == [
        ("model_version.submitted", "user", cast.owner.user.pk),
        ("model_version.approval_added", "user", cast.reviewer.user.pk),
        ("model_version.approved", "user", cast.reviewer.user.pk),
        ("model_version.deployed", "user", cast.officer.user.pk),
        ("model_version.retired", "user", cast.officer.user.pk),
    ]
    assert recorded[3].payload["environment"] == "staging"
    version.refresh_from_db()
    assert version.state == "retired"


@pytest.mark.parametrize("transition", ["approve", "reject"])
def test_the_submitter_cannot_review_through_the_command(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk, transition: str
) -> None:
    version = walk(make_version(minimal_risk_model), "submitted")  # omar registered and submitted it

    message = refused_command(transition, "document-router", "1", "--as", "omar", "--reason", "mine is great")

    # omar is an owner, so the refusal names the roles that may review; the version is untouched.
    assert "officer, reviewer" in message
    version.refresh_from_db()
    assert version.state == "submitted"


@pytest.mark.parametrize("transition", ["approve", "reject"])
def test_a_submitter_who_became_a_reviewer_is_refused_for_separation_of_duties(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, transition: str
) -> None:
    pat = new_member("pat", "owner", ["credit-risk"])
    version = make_version(minimal_risk_model, by=pat)
    actions.do_submit(version=version, user=pat.user, actor=acting(pat))
    User.objects.filter(pk=pat.user.pk).update(role=Role.REVIEWER)

    message = refused_command(transition, "document-router", "1", "--as", "pat", "--reason", "looks fine to me")

    assert "separation of duties" in message
    version.refresh_from_db()
    assert version.state == "submitted"
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("approve", "document-router", "1", "--as", "rhea"), "Cannot approve"),  # a draft
        (("deploy", "document-router", "1", "--as", "olivia"), "Cannot deploy"),
        (("submit", "document-router", "1", "--as", "otto"), "not in this model's team"),
        (("submit", "document-router", "1", "--as", "regina"), "you are regulator"),
        (("submit", "document-router", "9", "--as", "omar"), "no version 9"),
        (("submit", "no-such-model", "1", "--as", "omar"), "no version 1 of model 'no-such-model'"),
        (("submit", "document-router", "1", "--as", "nobody"), "no active user named 'nobody'"),
    ],
)
def test_the_command_refuses_what_the_api_refuses(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, args: tuple[str, ...], words: str
) -> None:
    make_version(minimal_risk_model)

    assert words in refused_command(*args)


def test_a_rejection_through_the_command_needs_a_reason(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(minimal_risk_model), "submitted")

    assert "needs a reason" in refused_command("reject", "document-router", "1", "--as", "rhea")


def test_a_deactivated_user_cannot_act_through_the_command(
    cast: Cast, minimal_risk_model: RegisteredModel, make_version: MakeVersion
) -> None:
    make_version(minimal_risk_model)
    User.objects.filter(pk=cast.owner.user.pk).update(is_active=False)

    assert "no active user named 'omar'" in refused_command("submit", "document-router", "1", "--as", "omar")


# --- the Django admin ------------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(cast: Cast) -> Client:
    client = Client()
    client.force_login(cast.admin.user)
    return client


def version_admin(version: ModelVersion, page: str = "change") -> str:
    return f"/admin/registry/modelversion/{version.pk}/{page}/"


def test_the_admin_lists_versions_with_their_state(
    admin_client: Client, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    walk(make_version(high_risk_model), "submitted")

    response = admin_client.get("/admin/registry/modelversion/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "credit-scoring" in html
    assert "Submitted for review" in html


def test_the_admin_shows_lifecycle_fields_read_only(
    admin_client: Client, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(high_risk_model), "submitted")

    response = admin_client.get(version_admin(version))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Submitted for review" in html  # shown...
    for field in ("state", "number", "submitted_by", "artifact_sha256", "model_card"):
        assert f'name="{field}"' not in html, field  # ...but never as an input


def test_posting_a_new_state_through_the_admin_changes_nothing(
    cast: Cast, admin_client: Client, high_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(high_risk_model), "submitted")
    before, seq = db_state(), last_seq()

    response = admin_client.post(
        version_admin(version),
        {
            "state": "approved",
            "number": "7",
            "submitted_by": str(cast.admin.user.pk),
            "model_card": json.dumps({"factors": "edited behind the trail's back"}),
            "_save": "Save",
        },
    )

    assert response.status_code in (200, 302, 403)
    version.refresh_from_db()
    assert (version.state, version.number, version.submitted_by) == ("submitted", 1, cast.owner.user)
    assert version.model_card == {}
    assert not Review.objects.exists()
    assert [e.action for e in events_since(seq)] == []
    after = db_state()
    # The admin's own log of the visit aside (django_admin_log is not one of Assay's tables), nothing moved.
    assert after == before


def test_saving_a_version_in_the_admin_never_undoes_a_transition_made_meanwhile(
    cast: Cast, admin_client: Client, minimal_draft: ModelVersion, walk: Walk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version admin is view-only, so a save can never write a stale row over a concurrent transition."""
    version = walk(minimal_draft, "submitted")
    saves: list[int] = []
    monkeypatch.setattr(ModelVersionAdmin, "save_model", lambda *args, **kwargs: saves.append(1))
    response = admin_client.post(version_admin(version), {"_save": "Save"})
    assert response.status_code == 403
    assert saves == []
    version.refresh_from_db()
    assert version.state == "submitted"


@pytest.mark.parametrize(
    "path",
    [
        "/admin/registry/modelversion/add/",
        "/admin/registry/registeredmodel/add/",
    ],
)
def test_the_admin_cannot_create_registry_objects(admin_client: Client, path: str) -> None:
    assert admin_client.get(path).status_code == 403
    before = db_state()
    assert admin_client.post(path, {"name": "sneaky", "state": "deployed"}).status_code == 403
    assert db_state() == before


def test_the_admin_cannot_delete_or_edit_reviews_and_deployments(
    admin_client: Client, minimal_risk_model: RegisteredModel, make_version: MakeVersion, walk: Walk
) -> None:
    version = walk(make_version(minimal_risk_model), "deployed")
    review, deployment = version.reviews.get(), version.deployments.get()
    before = db_state()

    posts = [
        (version_admin(version, "delete"), {"post": "yes"}),
        (f"/admin/registry/review/{review.pk}/change/", {"decision": "reject", "reason": "rewritten"}),
        (f"/admin/registry/review/{review.pk}/delete/", {"post": "yes"}),
        (f"/admin/registry/deployment/{deployment.pk}/change/", {"environment": "production"}),
        (f"/admin/registry/deployment/{deployment.pk}/delete/", {"post": "yes"}),
    ]
    for path, data in posts:
        assert admin_client.post(path, data).status_code == 403, path

    assert db_state() == before


def model_form(model: RegisteredModel, **changes: Any) -> dict[str, Any]:
    """The registered-model admin form as the browser would post it, with ``changes``."""
    data = {
        "purpose": model.purpose,
        "intended_use": model.intended_use,
        "out_of_scope_uses": model.out_of_scope_uses,
        "business_kpis": json.dumps(model.business_kpis),
        "_save": "Save",
    }
    return {**data, **changes}


def test_the_admin_shows_a_model_but_never_edits_it(admin_client: Client, high_risk_model: RegisteredModel) -> None:
    # Administrators run the system; descriptive fields change through the API, by the owning team, recorded.
    page = f"/admin/registry/registeredmodel/{high_risk_model.pk}/change/"

    response = admin_client.get(page)
    assert response.status_code == 200
    html = response.content.decode()
    assert high_risk_model.purpose in html  # shown...
    for field in ("purpose", "intended_use", "business_kpis", "risk_tier", "name"):
        assert f'name="{field}"' not in html, field  # ...never as an input

    before, seq = db_state(), last_seq()
    response = admin_client.post(page, model_form(high_risk_model, purpose="Edited in the admin.", risk_tier="minimal"))

    assert response.status_code == 403
    assert events_since(seq) == []
    assert db_state() == before


@pytest.mark.parametrize("who", ["officer", "owner", "reviewer"])
def test_only_admins_reach_the_admin(cast: Cast, high_risk_model: RegisteredModel, who: str) -> None:
    client = Client()
    client.force_login(getattr(cast, who).user)
    before = db_state()

    response = client.post(
        f"/admin/registry/registeredmodel/{high_risk_model.pk}/change/",
        model_form(high_risk_model, purpose="changed by a non-admin"),
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert db_state() == before
