"""The approval gate's request path in few queries: a decision's reads in one query (``reads.decision_reads``, checked
against the single reads of ``reads.py``, which ``test_gate_reads.py`` checks against the ORM), the version asked
about through a hand-written scope (``reads.visible_version``, checked against ``registry.access`` for every member
of the cast), and an ended run's group facts and judged criteria kept per process by run and results hash (a
repeated decision reads neither again). A new policy version is judged by at once: nothing caches which version is
the latest.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from audits.actions import do_save_policy
from audits.gate import reads
from audits.gate.token import signing_key
from governance.trail.keys import ensure_key_registered
from governance.trail.log import lock_trail
from governance.trail.models import SigningKey
from registry import actions as registry
from registry.access import models_visible_to
from registry.models import Decision, Finding, FindingStatus, ModelVersion
from tests.audits import test_gate_reads
from tests.audits.test_gate import approve, ask, predictions
from tests.audits.test_gate_reads import (
    HOUSE,
    LATEST_RUN_CASES,
    OTHER,
    T0,
    Run,
    World,
    _policy_text,
    make_run,
    policy_view,
    run_view,
)
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import acting, register_model

world = test_gate_reads.world  # the fixture: three versions, three datasets, a policy's versions among another's


def _arrange_people(world: World) -> None:
    """Two approvals and a rejection on v2, one approval on v1; open and resolved findings on v2 and v1."""
    cast = world.cast
    v1, v2 = world.versions["v1"], world.versions["v2"]
    registry.do_submit(version=v2, user=cast.owner.user, actor=acting(cast.owner))
    for member in (cast.reviewer, cast.officer):
        registry.do_approve(version=v2, user=member.user, actor=acting(member))
    registry.do_submit(version=v1, user=cast.owner.user, actor=acting(cast.owner))
    registry.do_approve(version=v1, user=cast.reviewer.user, actor=acting(cast.reviewer))
    registry.do_reject(version=v1, user=cast.officer.user, actor=acting(cast.officer), reason="Not convincing.")
    for n, (minutes, status) in enumerate(((30, "open"), (20, "open"), (20, "open"), (40, "resolved"))):
        Finding.objects.create(
            version=v2,
            kind="drift_alert",
            cause=f"cause {n}",
            title=f"‘{status}’ {minutes} min after T0",
            opened_at=T0 + timedelta(minutes=minutes),
            status=status,
        )
    Finding.objects.create(version=v1, kind="drift_alert", cause="v1", title="v1's", opened_at=T0)


def _single_reads(version: Any, policy: str, dataset_version: Any, key_id: str) -> tuple[Any, ...]:
    policy_version = reads.latest_policy_version(policy)
    run = reads.latest_run(version, policy_version, dataset_version) if policy_version is not None else None
    return (
        policy_view(policy_version),
        run_view(run),
        {d: reads.approvers(version, decision=d) for d in Decision},
        {s: reads.findings(version, status=s) for s in FindingStatus},
        SigningKey.objects.filter(key_id=key_id).exists(),
    )


def _one_read(version: Any, policy: str, dataset_version: Any, key_id: str, django_assert_num_queries: Any) -> Any:
    approvers, findings = {}, {}
    asked = [(d, FindingStatus.OPEN) for d in Decision] + [(Decision.APPROVE, s) for s in FindingStatus]
    for decision, status in asked:
        with django_assert_num_queries(1):
            found = reads.decision_reads(
                version,
                policy=policy,
                dataset_version=dataset_version,
                approval=decision,
                finding_status=status,
                key_id=key_id,
            )
        approvers[decision] = found.approvers
        findings[status] = found.findings
        with django_assert_num_queries(0):  # the run's dataset and policy come with it
            seen = (policy_view(found.policy_version), run_view(found.run))
    return (*seen, approvers, findings, found.key_published)


@pytest.mark.django_db
@pytest.mark.parametrize(("arranged", "dataset", "winner"), LATEST_RUN_CASES)
def test_one_read_answers_what_the_single_reads_answer(
    world: World, django_assert_num_queries: Any, arranged: list[Run], dataset: str | None, winner: str | None
) -> None:
    _arrange_people(world)
    runs = {run.name: make_run(world, run) for run in arranged}
    key = signing_key()
    with transaction.atomic():  # the key's row, as its first signature adds it
        lock_trail()
        ensure_key_registered(key)
    dataset_version = world.datasets[dataset] if dataset else None
    for version in world.versions.values():
        for policy in (HOUSE, OTHER, "no-such-policy"):
            for key_id in (key.key_id.hex(), "0" * 8):
                expected = _single_reads(version, policy, dataset_version, key_id)
                got = _one_read(version, policy, dataset_version, key_id, django_assert_num_queries)
                assert got == expected, (version, policy, key_id)
    found = reads.decision_reads(
        world.versions["v2"],
        policy=HOUSE,
        dataset_version=dataset_version,
        approval=Decision.APPROVE,
        finding_status=FindingStatus.OPEN,
        key_id=key.key_id.hex(),
    )
    assert (found.run.pk if found.run else None) == (runs[winner].pk if winner else None)
    assert found.policy_version is not None
    assert (found.policy_version.number, found.key_published) == (3, True)
    assert found.approvers == sorted([world.cast.officer.user.pk, world.cast.reviewer.user.pk])
    titles = [f["title"] for f in found.findings]
    assert titles == ["‘open’ 30 min after T0", "‘open’ 20 min after T0", "‘open’ 20 min after T0"]


@pytest.mark.django_db
def test_the_version_asked_about_is_the_one_registry_access_finds_for_every_member(cast: Cast) -> None:
    credit = register_model(cast, "high")  # team credit-risk
    owner = acting(cast.owner)
    versions = [registry.do_register_version(model=credit, user=cast.owner.user, actor=owner) for _ in range(3)]
    ModelVersion.objects.filter(pk=versions[1].pk).update(artifact_sha256="a" * 64)
    questions = [
        (name, number, sha)
        for name in (credit.name, "no-such-model", "x' OR '1'='1")
        for number in (None, 1, 2, 3, 4)
        for sha in ("", "a" * 64, "b" * 64)
        if number is not None or sha
    ]
    for member_name, member in cast.members().items():
        user = member.user
        for name, number, sha in questions:
            found = reads.visible_version(user, model=name, number=number, artifact_sha256=sha)
            if member_name == "regulator":
                assert found is reads.SCOPED_ELSEWHERE
                continue
            versions_seen = ModelVersion.objects.filter(model__in=models_visible_to(user).filter(name=name))
            if number is not None:
                versions_seen = versions_seen.filter(number=number)
            if sha:
                versions_seen = versions_seen.filter(artifact_sha256=sha)
            expected = versions_seen.order_by("-number").first()
            assert (found.pk if found else None) == (expected.pk if expected else None), (member_name, name, number)
            if found is not None:
                assert (found.model.name, found.model.risk_tier, found.model.team_id, str(found)) == (
                    expected.model.name,
                    expected.model.risk_tier,
                    expected.model.team_id,
                    str(expected),
                )
                assert (found.state, found.framework, found.artifact_sha256) == (
                    expected.state,
                    expected.framework,
                    expected.artifact_sha256,
                )
    # Known answers: the owner's team sees v2 by its artifact; the outsider (another team) sees nothing.
    seen = reads.visible_version(cast.owner.user, model=credit.name, number=None, artifact_sha256="a" * 64)
    assert seen is not None
    assert seen.number == 2
    assert reads.visible_version(cast.outsider.user, model=credit.name, number=1, artifact_sha256="") is None


@pytest.fixture
def passed(cast: Cast, media_root: Path) -> dict[str, Any]:
    """credit-scoring v1, audited under four-fifths (it passes) and approved: the gate's common question."""
    dataset = make_dataset(cast, "decisions")
    make_file_version(cast, dataset, predictions(0.57, 0.6), name="fair.csv")
    model = register_model(cast, "high")
    version = registry.do_register_version(model=model, user=cast.owner.user, actor=acting(cast.owner))
    return {"model": model, "version": version}


def _tables(queries: list[dict[str, Any]]) -> str:
    return "\n".join(q["sql"] for q in queries)


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={"high": "four-fifths"})
def test_a_repeated_pass_reads_its_state_in_one_query_and_not_the_runs_results(
    cast: Cast, passed: dict[str, Any]
) -> None:
    assert ask(cast, 1, 1).json()["decision"] == "pending_approval"  # runs the audit
    approve(cast, passed["version"])
    first = ask(cast, 1, None).json()
    assert first["decision"] == "pass", first
    with CaptureQueriesContext(connection) as seen:
        again = ask(cast, 1, None).json()
    assert again["decision"] == "pass"
    for same in ("reasons", "audit", "approvers", "open_findings", "group_facts", "imported_evidence", "policy"):
        assert again[same] == first[same], same
    sql = _tables(seen.captured_queries)
    # The run's results and check results were read once (by the first decision), not again.
    assert '"results"' not in sql
    assert "audits_checkresult" not in sql
    # Policy, run, approvals, findings and the signing key: one query between the version and the trail.
    decision_reads = [q for q in seen.captured_queries if "audits_policyversion" in q["sql"]]
    assert len(decision_reads) == 1
    assert "registry_review" in decision_reads[0]["sql"]
    assert "registry_finding" in decision_reads[0]["sql"]
    assert "governance_signingkey" in decision_reads[0]["sql"]
    for table in ("registry_review", "registry_finding", "governance_signingkey", "audits_auditrun"):
        assert sum(table in q["sql"] for q in seen.captured_queries) == 1, table
    # The version: one hand-written query, no ORM's (the ORM quotes its column names).
    assert sum("registry_modelversion" in q["sql"] for q in seen.captured_queries) == 1
    assert '"registry_modelversion"' not in sql


@pytest.mark.django_db
@override_settings(AUDIT_REQUIRED_POLICIES={"high": HOUSE})
def test_a_new_policy_version_is_judged_by_at_once(cast: Cast, passed: dict[str, Any]) -> None:
    officer = acting(cast.officer)
    first = do_save_policy(user=cast.officer.user, actor=officer, text=_policy_text(HOUSE))
    assert ask(cast, 1, 1).json()["audit"]["verdict"] == "pass"
    approve(cast, passed["version"])
    body = ask(cast, 1, None).json()
    assert (body["decision"], body["policy"]) == ("pass", {"name": HOUSE, "version": first.number})

    # A stricter version of the same policy: the next decision judges by it (no audit under it yet).
    second = do_save_policy(user=cast.officer.user, actor=officer, text=_policy_text(HOUSE, "0.99"))
    body = ask(cast, 1, None).json()
    assert (body["decision"], body["policy"]) == ("insufficient_evidence", {"name": HOUSE, "version": second.number})
    assert body["token"] is None
    body = ask(cast, 1, 1).json()  # audited under the new version: the rates 0.57 and 0.6 fail 0.99
    assert (body["decision"], body["policy"]["version"], body["audit"]["verdict"]) == ("fail", second.number, "fail")
