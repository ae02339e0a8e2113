"""The risk questionnaire under the Act where it is asked and applied: stored models re-classified by migration 0006
(with a finding where the tier changes), the API speaking both questionnaires, the portal's questionnaire, and
the reclassify command. The legal known answers, one case per provision, are in test_risk_act.py.
"""

from __future__ import annotations

import importlib
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from governance.access.models import Team
from governance.citations import EU_AI_ACT_TEXT_VERSION
from registry import actions
from registry.models import Finding, RegisteredModel, VersionState
from tests.api import assert_error, events_since, last_seq
from tests.conftest import Cast
from tests.portal.conftest import signed_in
from tests.registry.conftest import TEAM, MakeVersion, Walk, acting, register_model
from tests.registry.risk_act_helpers import ANNEX_III_USES, ART_5_POINTS, DEROGATION, FIRST_QUESTIONNAIRE, answers

# --- stored models: re-classified by migration 0006, with a finding where the tier changes -------------------

MIGRATION = "registry.migrations.0006_risk_under_the_act"


def _run_migration_step() -> None:
    importlib.import_module(MIGRATION).reclassify(apps, None)


def _as_before_issue_27(model: RegisteredModel, tier: str) -> RegisteredModel:
    # What the first rules stored: the tier they gave, a rationale without citations, no basis.
    RegisteredModel.objects.filter(pk=model.pk).update(risk_tier=tier, risk_rationale="(old rules)", risk_basis={})
    return RegisteredModel.objects.get(pk=model.pk)


@pytest.mark.django_db
def test_the_migration_makes_a_human_review_derogation_high_and_opens_a_finding_for_an_officer(
    cast: Cast, make_version: MakeVersion, walk: Walk
) -> None:
    human_review = {**FIRST_QUESTIONNAIRE, "annex_iii_area": "education", "human_reviews_each_decision": True}
    model = actions.do_register_model(
        user=cast.owner.user,
        actor=acting(cast.owner),
        name="exam-proctor",
        team=Team.objects.get(slug=TEAM),
        purpose="Flags irregularities in online exams.",
        risk_answers=human_review,
    )
    model = _as_before_issue_27(model, "limited")
    approved = walk(make_version(model), VersionState.APPROVED)  # one approval sufficed for "limited"
    retired = walk(make_version(model), VersionState.RETIRED)
    seq = last_seq()

    _run_migration_step()

    model.refresh_from_db()
    assert model.risk_tier == "high"
    assert model.risk_answers == human_review  # the answers stay as they were given
    assert "is not an Art. 6(3) condition" in model.risk_rationale
    assert model.risk_basis["text_version"] == EU_AI_ACT_TEXT_VERSION
    assert "eu-ai-act/annex-iii/3" in [c["id"] for c in model.risk_basis["citations"]]
    findings = list(Finding.objects.filter(kind="risk_reclassified"))
    assert [(f.version_id, f.status, f.cause) for f in findings] == [
        (approved.pk, "open", "risk_reclassified:limited->high")
    ]  # none on the retired version
    assert "from limited to high" in findings[0].title
    approved.refresh_from_db()
    assert approved.state == VersionState.SUBMITTED  # a high-risk model needs a second approver
    assert retired.pk != approved.pk
    changed = events_since(seq, "model.risk_changed")
    assert [(e.actor_kind, e.payload["old_tier"], e.payload["new_tier"]) for e in changed] == [
        ("system", "limited", "high")
    ]
    assert changed[0].payload["text_version"] == EU_AI_ACT_TEXT_VERSION
    assert [e.payload["kind"] for e in events_since(seq, "finding.opened")] == ["risk_reclassified"]


@pytest.mark.django_db
def test_the_migration_stores_the_basis_of_an_unchanged_tier_without_a_finding(
    cast: Cast, make_version: MakeVersion
) -> None:
    model = _as_before_issue_27(register_model(cast, "high"), "high")
    make_version(model)

    _run_migration_step()

    model.refresh_from_db()
    assert model.risk_tier == "high"
    assert "[eu-ai-act/art-6/3/sub-3]" in model.risk_rationale  # credit scoring profiles applicants
    assert model.risk_basis["tier"] == "high"
    assert not Finding.objects.filter(kind="risk_reclassified").exists()


@pytest.mark.django_db
def test_the_migration_step_does_nothing_without_models() -> None:
    seq = last_seq()
    _run_migration_step()
    assert events_since(seq) == []


# --- the API speaks both questionnaires --------------------------------------------------------------------

API = "/api/v1/models/"


@pytest.mark.django_db
def test_registering_with_the_current_questionnaire_stores_the_basis(cast: Cast) -> None:
    body = {
        "name": "claims-router",
        "team": TEAM,
        "purpose": "Routes health-insurance claims to a handler by claim type.",
        "risk_answers": answers(annex_iii_uses=["5(c)"], transparency=["50(1)"], **DEROGATION),
    }

    response = cast.owner.client().post(API, body, format="json")

    assert response.status_code == 201, response.content
    data = response.json()
    assert data["risk_tier"] == "limited"
    assert data["risk_basis"]["art_6_3_derogation"] is True
    assert [d["citation"] for d in data["risk_basis"]["duties"]] == [
        "eu-ai-act/art-6/4",
        "eu-ai-act/art-49/2",
        "eu-ai-act/art-50/1",
    ]
    assert data["risk_answers"]["art_6_3_assessment"] == DEROGATION["art_6_3_assessment"]


@pytest.mark.django_db
def test_bad_answers_to_the_current_questionnaire_are_named_and_change_nothing(cast: Cast) -> None:
    body = {
        "name": "claims-router",
        "team": TEAM,
        "purpose": "p",
        "risk_answers": answers(annex_iii_uses=["5"], art_6_3_conditions="a", transparency=None),
    }
    seq = last_seq()

    error = assert_error(cast.owner.client().post(API, body, format="json"), 422, "validation_failed")

    assert set(error["details"]["risk_answers"]) == {"annex_iii_uses", "art_6_3_conditions", "transparency"}
    assert not RegisteredModel.objects.filter(name="claims-router").exists()
    assert events_since(seq) == []


# --- the portal's questionnaire ----------------------------------------------------------------------------


def _portal_answers(**changes: Any) -> dict[str, Any]:
    form = {
        "art_5_1_h_objective": "none",
        "annex_i": "none",
        "annex_iii_uses": ["5(b)"],
        "art_6_3_conditions": ["a"],
        "art_6_3_no_significant_risk": "on",
        "art_6_3_assessment": DEROGATION["art_6_3_assessment"],
        "transparency": ["50(1)"],
        "reason": "The scoring moved to another system; this one only routes files.",
    }
    return {**form, **changes}


@pytest.mark.django_db
def test_the_portal_questionnaire_quotes_the_act_and_an_officer_re_classifies_with_it(cast: Cast) -> None:
    model = register_model(cast, "high")
    url = f"/models/{model.name}/risk"
    client = signed_in(cast.officer)

    page = client.get(url).content.decode()
    assert "in the case of life and health insurance" in page  # Annex III 5(c) as worded
    assert "AI systems intended to be used for emotion recognition" in page  # 1(c)
    assert "the placing on the market, the putting into service or the use of" in page  # Art. 5(1)
    assert "Art. 6(3)(a): the AI system is intended to perform a narrow procedural task" in page

    response = client.post(url, _portal_answers())

    assert response.status_code == 302
    model.refresh_from_db()
    assert (model.risk_tier, model.risk_basis["art_6_3_derogation"]) == ("limited", True)
    shown = client.get(url).content.decode()
    assert "Art. 49(2) of Regulation (EU) 2024/1689" in shown
    assert "Art. 6(4) of Regulation (EU) 2024/1689" in shown
    assert "Art. 50(1) of Regulation (EU) 2024/1689" in shown
    assert EU_AI_ACT_TEXT_VERSION in shown


@pytest.mark.django_db
def test_the_portal_refuses_the_derogation_without_its_documentation_and_says_why(cast: Cast) -> None:
    model = register_model(cast, "minimal")

    response = signed_in(cast.officer).post(f"/models/{model.name}/risk", _portal_answers(art_6_3_assessment=""))

    assert response.status_code == 302
    model.refresh_from_db()
    assert model.risk_tier == "high"
    assert "no documented assessment" in model.risk_rationale


@pytest.mark.django_db
def test_bad_portal_answers_are_marked_and_change_nothing(cast: Cast) -> None:
    model = register_model(cast, "minimal")
    seq = last_seq()

    response = signed_in(cast.officer).post(
        f"/models/{model.name}/risk", _portal_answers(annex_iii_uses=["5"], reason="")
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert "Please correct the problems marked below." in body
    assert "Select a valid choice. 5 is not one of the available choices." in body
    model.refresh_from_db()
    assert model.risk_tier == "minimal"
    assert events_since(seq) == []


@pytest.mark.django_db
def test_only_officers_are_offered_and_may_use_the_questionnaire(cast: Cast) -> None:
    model = register_model(cast, "minimal")
    url = f"/models/{model.name}/risk"

    assert "Change the classification" not in signed_in(cast.owner).get(url).content.decode()
    assert signed_in(cast.reviewer).post(url, _portal_answers()).status_code == 403
    model.refresh_from_db()
    assert model.risk_tier == "minimal"


@pytest.mark.django_db(transaction=True)
def test_migration_0006_re_classifies_a_model_stored_by_the_first_rules(unprotected_trail: None) -> None:
    # Migrate back to before issue 27, store what the first rules stored, and migrate forward for real.

    executor = MigrationExecutor(connection)
    executor.migrate([("registry", "0005_monitoring")])
    old = executor.loader.project_state([("registry", "0005_monitoring")]).apps
    owner = old.get_model("governance", "User").objects.create(username="legacy-owner", role="owner")
    team = old.get_model("governance", "Team").objects.create(slug="exams", name="Exams")
    model = old.get_model("registry", "RegisteredModel").objects.create(
        name="exam-proctor",
        team=team,
        purpose="Flags irregularities in online exams.",
        risk_tier="limited",
        risk_answers={**FIRST_QUESTIONNAIRE, "annex_iii_area": "education", "human_reviews_each_decision": True},
        risk_rationale="Education, but no profiling and a human reviews each decision: Art. 6(3) claimed.",
        created_by=owner,
    )
    old.get_model("registry", "ModelVersion").objects.create(
        model=model, number=1, state="approved", framework="predictions-only", created_by=owner
    )

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    stored = RegisteredModel.objects.get(name="exam-proctor")
    assert stored.risk_tier == "high"
    assert stored.risk_basis["text_version"] == EU_AI_ACT_TEXT_VERSION
    finding = Finding.objects.get(version__model=stored)
    assert (finding.kind, finding.status) == ("risk_reclassified", "open")
    assert stored.versions.get().state == VersionState.SUBMITTED


@pytest.mark.django_db
def test_the_api_serves_the_questionnaire_with_each_option_quoting_its_provision(cast: Cast) -> None:
    response = cast.ci.client().get("/api/v1/risk-questionnaire")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["text_version"] == EU_AI_ACT_TEXT_VERSION
    questions = {q["key"]: q for q in body["questions"]}
    assert list(questions) == [
        "art_5_practices",
        "art_5_1_h_objective",
        "annex_i",
        "annex_i_third_party_assessment",
        "annex_iii_uses",
        "profiles_natural_persons",
        "art_6_3_conditions",
        "art_6_3_no_significant_risk",
        "art_6_3_assessment",
        "transparency",
    ]  # the Act's order: Art. 5, Art. 6(1), Art. 6(2), Art. 6(3)-(4), Art. 50
    uses = {o["value"]: o["citation"] for o in questions["annex_iii_uses"]["options"]}
    assert sorted(uses) == sorted(ANNEX_III_USES)
    assert uses["5(c)"]["label"] == "Annex III, point 5(c), to Regulation (EU) 2024/1689"
    assert uses["5(c)"]["text"].endswith("in the case of life and health insurance")
    assert [o["value"] for o in questions["art_5_practices"]["options"]] == ART_5_POINTS
    assert questions["art_6_3_assessment"]["required"] is False
    assert questions["annex_iii_uses"]["required"] is True


@pytest.mark.django_db
def test_the_reclassify_command_runs_the_same_action_and_names_what_changed(
    cast: Cast, make_version: MakeVersion
) -> None:
    changed = _as_before_issue_27(register_model(cast, "high"), "limited")
    make_version(changed)
    _as_before_issue_27(register_model(cast, "minimal"), "minimal")
    out = StringIO()

    call_command("reclassify_risk", "--reason", "Catalogue wording corrected.", stdout=out)

    assert out.getvalue().splitlines() == ["credit-scoring: limited -> high", "document-router: minimal (unchanged)"]
    changed.refresh_from_db()
    assert changed.risk_change_reason == "Catalogue wording corrected."
    assert Finding.objects.filter(kind="risk_reclassified", version__model=changed).count() == 1
    with pytest.raises(CommandError, match="No model named nowhere"):
        call_command("reclassify_risk", "nowhere", "--reason", "x")
    with pytest.raises(CommandError, match="--reason"):
        call_command("reclassify_risk", "--reason", "  ")
