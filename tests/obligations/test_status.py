"""A version's compliance status, computed from what Assay holds: which obligations apply (by tier, role and Annex
III point, as the Act says), which are met (each linked to a trail event whose inclusion proof verifies), attested,
not applicable or missing. Everything is arranged through the apps' actions and the audit engine's real runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from governance.citations import cite
from governance.data.actions.lineage import do_record_run
from governance.trail.log import Actor, prove_inclusion, root_at, tree_size
from governance.trail.models import Event
from governance.trail.verifier import verify_inclusion
from obligations.actions import ObligationError, do_decide, do_set_scope, ensure_builtin_catalogues
from obligations.catalogues import Obligation, builtin_catalogues, load_catalogue
from obligations.status import applicability, compliance_status
from registry import actions as registry_actions
from registry.models import ModelVersion
from tests.audits.conftest import PASSING_RATES, audit_body, decision_rows, post_audit, upload
from tests.conftest import Cast, sha256_text
from tests.registry.conftest import acting, register_model

EU = load_catalogue(builtin_catalogues()["eu-ai-act-high-risk"])
PROVIDER_IDS = {o.id for o in EU.obligations if "provider" in o.roles}
DEPLOYER_IDS = {o.id for o in EU.obligations if "deployer" in o.roles}
DOC = "a" * 64


def _eu(obligation_id: str) -> Obligation:
    found = EU.obligation(obligation_id)
    assert found is not None
    return found


# --- applicability: known answers from the Act (pure) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("annex", "applies"),
    [
        # Art. 27(1): deployers of the systems in Annex III, points 5(b) (creditworthiness) and 5(c) (insurance).
        ({"eu-ai-act/annex-iii/5/b"}, True),
        ({"eu-ai-act/annex-iii/5/c"}, True),
        ({"eu-ai-act/annex-iii/5/a"}, False),  # public assistance benefits: only public bodies (not told)
        ({"eu-ai-act/annex-iii/4/a"}, False),  # recruitment
        ({"eu-ai-act/annex-iii/2"}, False),  # critical infrastructure: excluded by the article itself
        (set(), False),  # high risk through Annex I (a product's safety component)
    ],
)
def test_art_27_applies_to_deployers_of_credit_and_insurance_systems(annex: set[str], applies: bool) -> None:
    assert (
        applicability(_eu("art-27-fundamental-rights-impact"), tier="high", roles=("deployer",), annex=annex)[0]
        is applies
    )


def test_art_27_does_not_bind_a_provider_and_an_area_without_its_letter_is_read_conservatively() -> None:
    fria = _eu("art-27-fundamental-rights-impact")
    assert not applicability(fria, tier="high", roles=("provider",), annex={"eu-ai-act/annex-iii/5/b"})[0]
    applies, notes = applicability(fria, tier="high", roles=("deployer",), annex={"eu-ai-act/annex-iii/5"})
    assert applies
    assert "eu-ai-act/annex-iii/5 without its point's letter" in notes[0]


@pytest.mark.parametrize("tier", ["limited", "minimal", "prohibited"])
def test_no_high_risk_obligation_applies_to_another_tier(tier: str) -> None:
    for obligation in EU.obligations:
        applies, notes = applicability(obligation, tier=tier, roles=("provider", "deployer"), annex=set())
        assert not applies
        assert f"the model's tier is {tier}" in notes[0]


def test_art_26_11_follows_annex_iii_and_not_annex_i() -> None:
    notice = _eu("art-26-11-inform-persons")
    assert applicability(notice, tier="high", roles=("deployer",), annex={"eu-ai-act/annex-iii/4/a"})[0]
    assert not applicability(notice, tier="high", roles=("deployer",), annex=set())[0]


def test_roles_split_the_catalogue_into_the_providers_and_the_deployers_articles() -> None:
    def applying(roles: tuple[str, ...]) -> set[str]:
        annex = {"eu-ai-act/annex-iii/5/b"}
        return {o.id for o in EU.obligations if applicability(o, tier="high", roles=roles, annex=annex)[0]}

    assert applying(("provider",)) == PROVIDER_IDS
    assert applying(("deployer",)) == DEPLOYER_IDS
    assert {cite(c).article for i in PROVIDER_IDS for c in _eu(i).citations if cite(c).article} == {
        "9",
        "10",
        "11",
        "12",
        "13",
        "14",
        "15",
        "17",
        "72",
        "73",
    }


# --- the status of a version ------------------------------------------------------------------------------------


def _line(status: dict[str, Any], catalogue: str, obligation: str) -> dict[str, Any]:
    (found,) = [c for c in status["catalogues"] if c["name"] == catalogue]
    (line,) = [o for o in found["obligations"] if o["id"] == obligation]
    return line


def _proof_verifies(event: dict[str, Any]) -> None:
    """The event's inclusion proof checks out against the trail's root, with the standalone verifier."""
    stored = Event.objects.get(seq=event["seq"])
    assert bytes(stored.leaf_hash).hex() == event["leaf_hash"]
    size = tree_size()
    verify_inclusion(
        leaf_hash=bytes(stored.leaf_hash),
        index=stored.seq,
        tree_size=size,
        proof=prove_inclusion(seq=stored.seq, size=size),
        root=root_at(size),
    )


@pytest.fixture
def credit(cast: Cast, make_version: Any) -> ModelVersion:
    """credit-scoring v1 (high risk, Annex III area 5), a draft with two model card sections."""
    model = register_model(cast, "high")
    return make_version(model, model_card={"intended_use": "Consumer credit decisions.", "metrics": "AUC 0.81"})


def test_a_fresh_high_risk_draft_owes_every_eu_obligation_and_lacks_most_evidence(credit: ModelVersion) -> None:
    status = compliance_status(credit)
    assert (status["risk_tier"], status["roles"], status["roles_declared"]) == ("high", ["deployer", "provider"], False)
    assert status["annex_iii"] == ["eu-ai-act/annex-iii/5"]
    eu = status["catalogues"][0]
    assert eu["name"] == "eu-ai-act-high-risk"
    assert {o["id"] for o in eu["obligations"]} == PROVIDER_IDS | DEPLOYER_IDS
    assert eu["counts"] == {"met": 0, "attested": 0, "not_applicable": 0, "missing": 18}
    risk = _line(status, "eu-ai-act-high-risk", "art-9-risk-management")
    assert risk["missing"] == [
        "An audit under eu-ai-act-high-risk that passes, within 365 days.",
        "The version approved by its required reviewers.",
    ]
    assert (
        "without its point's letter"
        in _line(status, "eu-ai-act-high-risk", "art-27-fundamental-rights-impact")["notes"][0]
    )


def test_a_model_card_section_is_met_with_the_event_that_wrote_it(credit: ModelVersion) -> None:
    status = compliance_status(credit)
    context = _line(status, "nist-ai-rmf", "MAP-1")
    assert context["status"] == "met"
    (evidence,) = context["evidence"]
    assert evidence["event"]["action"] == "model_version.registered"
    assert Event.objects.get(seq=evidence["event"]["seq"]).object_id == str(credit.pk)
    _proof_verifies(evidence["event"])
    # Art. 11 needs all five sections; two are filled in.
    documentation = _line(status, "eu-ai-act-high-risk", "art-11-technical-documentation")
    assert documentation["status"] == "missing"
    assert len(documentation["missing"]) == 3


def test_approval_is_met_by_the_approved_event_and_its_proof_verifies(
    cast: Cast, credit: ModelVersion, walk: Any
) -> None:
    walk(credit, "approved")
    status = compliance_status(credit)
    manage = _line(status, "nist-ai-rmf", "MANAGE-1")
    assert manage["status"] == "met"
    event = manage["evidence"][0]["event"]
    assert event["action"] == "model_version.approved"
    _proof_verifies(event)
    # Art. 9 needs the high-risk audit too: still missing, and it says only the audit is lacking.
    risk = _line(status, "eu-ai-act-high-risk", "art-9-risk-management")
    assert (risk["status"], risk["missing"]) == (
        "missing",
        ["An audit under eu-ai-act-high-risk that passes, within 365 days."],
    )


def test_lineage_recorded_meets_the_provenance_obligations(cast: Cast, credit: ModelVersion) -> None:
    run = do_record_run(user=cast.owner.user, actor=acting(cast.owner), job_name="train", model_outputs=[credit])
    line = _line(compliance_status(credit), "nist-ai-rmf", "MAP-4")
    assert line["status"] == "met"
    assert line["evidence"][0]["description"] == f"Lineage run {run.pk} records the version as its output."
    assert line["evidence"][0]["event"]["action"] == "lineage_run.recorded"
    _proof_verifies(line["evidence"][0]["event"])


def test_an_attestation_and_a_not_applicable_decision_are_trail_events(cast: Cast, credit: ModelVersion) -> None:
    officer = cast.officer
    attested = do_decide(
        user=officer.user,
        actor=acting(officer),
        version=credit,
        catalogue="eu-ai-act-high-risk",
        obligation="art-17-quality-management",
        kind="attested",
        reason="QMS manual v3 adopted",
        document_name="qms-manual-v3.pdf",
        document_sha256=DOC.upper(),
    )
    declined = do_decide(
        user=officer.user,
        actor=acting(officer),
        version=credit,
        catalogue="eu-ai-act-high-risk",
        obligation="art-26-7-inform-workers",
        kind="not_applicable",
        reason="Not used at our workplace.",
    )
    event = Event.objects.get(seq=attested.event_seq)
    assert event.action == "obligation.attested"
    assert event.payload == {
        "model": "credit-scoring",
        "version": 1,
        "catalogue": "eu-ai-act-high-risk",
        "catalogue_version": 1,
        "obligation": "art-17-quality-management",
        "document_sha256": DOC,
        "reason_sha256": sha256_text("QMS manual v3 adopted"),
    }
    assert Event.objects.get(seq=declined.event_seq).action == "obligation.not_applicable"
    status = compliance_status(credit)
    qms = _line(status, "eu-ai-act-high-risk", "art-17-quality-management")
    assert qms["status"] == "attested"
    assert qms["evidence"][0]["event"]["seq"] == attested.event_seq
    assert DOC in qms["evidence"][0]["description"]
    workers = _line(status, "eu-ai-act-high-risk", "art-26-7-inform-workers")
    assert (workers["status"], workers["decision"]["reason"]) == ("not_applicable", "Not used at our workplace.")
    _proof_verifies(workers["decision"]["event"])
    assert status["catalogues"][0]["counts"] == {"met": 0, "attested": 1, "not_applicable": 1, "missing": 16}
    # A later decision on the same obligation is the one in force.
    do_decide(
        user=officer.user,
        actor=acting(officer),
        version=credit,
        catalogue="eu-ai-act-high-risk",
        obligation="art-26-7-inform-workers",
        kind="attested",
        reason="Works council informed.",
        document_name="notice.pdf",
        document_sha256="b" * 64,
    )
    assert _line(compliance_status(credit), "eu-ai-act-high-risk", "art-26-7-inform-workers")["status"] == "attested"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"obligation": "art-72-post-market-monitoring"}, "decision"),  # only monitoring satisfies Art. 72
        ({"obligation": "art-99"}, "obligation"),
        ({"catalogue": "colorado"}, "catalogue"),
        ({"document_sha256": "a" * 63}, "document_sha256"),
        ({"document_sha256": "g" * 64}, "document_sha256"),
        ({"document_name": "  "}, "document_name"),
        ({"reason": "   "}, "reason"),
        ({"kind": "waived"}, "decision"),
    ],
)
def test_a_wrong_decision_is_refused_and_leaves_no_trace(
    cast: Cast, credit: ModelVersion, changes: dict, field: str
) -> None:
    args = {
        "catalogue": "eu-ai-act-high-risk",
        "obligation": "art-17-quality-management",
        "kind": "attested",
        "reason": "r",
        "document_name": "d.pdf",
        "document_sha256": DOC,
        **changes,
    }
    ensure_builtin_catalogues()
    before = tree_size()
    with pytest.raises(ObligationError) as refused:
        do_decide(user=cast.officer.user, actor=acting(cast.officer), version=credit, **args)
    assert refused.value.field == field
    assert tree_size() == before


@pytest.mark.parametrize("member", ["owner", "reviewer", "admin", "regulator", "ci"])
def test_only_an_officer_decides(cast: Cast, credit: ModelVersion, member: str) -> None:
    who = getattr(cast, member)
    with pytest.raises(ObligationError) as refused:
        do_decide(
            user=who.user,
            actor=acting(who),
            version=credit,
            catalogue="eu-ai-act-high-risk",
            obligation="art-17-quality-management",
            kind="not_applicable",
            reason="no",
        )
    assert refused.value.status == 403


def test_the_declared_scope_decides_roles_and_catalogues(cast: Cast, credit: ModelVersion) -> None:
    ensure_builtin_catalogues()
    scope = do_set_scope(
        user=cast.officer.user,
        actor=acting(cast.officer),
        model=credit.model,
        roles=["provider"],
        catalogues=["eu-ai-act-high-risk", "iso-42001"],
        reason="We sell the model; we do not use it.",
    )
    assert Event.objects.get(seq=scope.event_seq).payload["roles"] == ["provider"]
    status = compliance_status(credit)
    assert [c["name"] for c in status["catalogues"]] == ["eu-ai-act-high-risk", "iso-42001"]
    eu = status["catalogues"][0]
    assert {o["id"] for o in eu["obligations"]} == PROVIDER_IDS
    assert {o["id"] for o in eu["not_applicable_by_rule"]} == DEPLOYER_IDS
    assert len(status["catalogues"][1]["obligations"]) == 38


def test_a_minimal_risk_model_owes_no_eu_obligation(cast: Cast, make_version: Any) -> None:
    version = make_version(register_model(cast, "minimal"))
    eu = compliance_status(version)["catalogues"][0]
    assert eu["obligations"] == []
    assert len(eu["not_applicable_by_rule"]) == 18


@pytest.mark.django_db(transaction=True)
def test_a_passing_audit_counts_within_its_window_and_not_after(
    unprotected_trail: None,
    cast: Cast,
    media_root: Any,
    builtin_policies_stored: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    model = register_model(cast, "minimal", name="loan-approval")
    version = registry_actions.do_register_version(
        model=model, user=cast.owner.user, actor=Actor.for_user(cast.owner.user), metrics={"auc": 0.8}
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = post_audit(cast.owner, audit_body(version, upload(cast, decision_rows(PASSING_RATES))))
    assert response.status_code == 201, response.content
    finished = dt.datetime.fromisoformat(
        cast.owner.client().get(f"/api/v1/audits/{response.json()['id']}/").json()["finished_at"]
    )
    line = _line(compliance_status(version, now=finished + dt.timedelta(days=364)), "nist-ai-rmf", "MEASURE-2")
    assert line["status"] == "met"
    assert line["evidence"][0]["event"]["action"] == "audit.completed"
    _proof_verifies(line["evidence"][0]["event"])
    late = _line(compliance_status(version, now=finished + dt.timedelta(days=366)), "nist-ai-rmf", "MEASURE-2")
    assert late["status"] == "missing"
