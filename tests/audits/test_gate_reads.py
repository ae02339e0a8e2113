"""The approval gate's hand-written reads (``audits/gate/reads.py``) against the ORM queries they replace, which are
their specification: the same rows, the same columns and the same order on every arrangement the gate meets (no
runs, several, a newer error beside a good run, only errors, another dataset version, a run still live), and the
columns a read does not load still load on first touch, with the ORM's value.

Datasets, versions, policies, reviews, resolving a finding and starting an audit go through the actions; audit runs
in a chosen status and open findings are created directly, with explicit times where order matters (how a run ends
or a finding arises is tested elsewhere). Each arrangement also names the row it means, so the ORM query is checked
to pick it before the read is compared with the ORM.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audits.actions import do_save_policy, do_start_audit, ensure_builtin_policies
from audits.gate import reads
from audits.models import AuditRun, Policy, PolicyVersion, RunStatus, Verdict
from audits.policies import builtin_policies
from governance.data.models import DatasetVersion
from registry import actions as registry
from registry.models import Decision, Finding, FindingResolution, FindingStatus, ModelVersion, Review
from tests.conftest import Cast
from tests.data.conftest import make_dataset, make_file_version
from tests.registry.conftest import acting, register_model

ROLES = {"label": "label", "favourable": "1", "prediction": "prediction", "protected": ["sex"]}
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
HOUSE = "house-four-fifths"
OTHER = "house-other"
_inputs = itertools.count(1)


def _policy_text(name: str, impact_ratio_min: str = "0.8") -> str:
    text = builtin_policies()["four-fifths"].replace("name: four-fifths", f"name: {name}", 1)
    return text.replace("value: 0.8\n", f"value: {impact_ratio_min}\n", 1)


@dataclass
class World:
    cast: Cast
    versions: dict[str, ModelVersion]  # v1, v2 (the one asked about) and v3 of credit-scoring (high risk)
    datasets: dict[str, DatasetVersion]  # unfair = decisions v1, fair = decisions v2, holdout = holdout v1
    policies: dict[str, PolicyVersion]  # older = house-four-fifths v1, current = its v3 (the latest)


@pytest.fixture
def world(cast: Cast, media_root: Path) -> World:
    decisions = make_dataset(cast, "decisions")
    datasets = {
        "unfair": make_file_version(cast, decisions, b"sex,label,prediction\nf,1,0\nm,1,1\n", name="v1.csv"),
        "fair": make_file_version(cast, decisions, b"sex,label,prediction\nf,1,1\nm,1,1\n", name="v2.csv"),
        "holdout": make_file_version(
            cast, make_dataset(cast, "holdout"), b"sex,label,prediction\nf,0,1\nm,0,0\n", name="holdout.csv"
        ),
    }
    model = register_model(cast, "high")
    owner = acting(cast.owner)
    versions = {
        f"v{n}": registry.do_register_version(model=model, user=cast.owner.user, actor=owner) for n in (1, 2, 3)
    }
    # The house policy's versions interleave with another policy's, so that neither id order nor a missing name
    # filter could pass for "the latest version of this policy". v2 changes only a comment (a new sha256, the same
    # canonical hash), v3 a threshold.
    officer = acting(cast.officer)

    def save(text: str) -> PolicyVersion:
        return do_save_policy(user=cast.officer.user, actor=officer, text=text)

    older = save(_policy_text(HOUSE))
    save(_policy_text(OTHER))
    save("# Reworded: the same rule.\n" + _policy_text(HOUSE))
    save(_policy_text(OTHER, "0.75"))
    current = save(_policy_text(HOUSE, "0.85"))
    assert (older.number, current.number) == (1, 3)
    return World(cast=cast, versions=versions, datasets=datasets, policies={"older": older, "current": current})


# --- the ORM equivalents (what decisions.py did before reads.py) --------------------------------------------------


def orm_latest_policy_version(name: str) -> PolicyVersion | None:
    return PolicyVersion.objects.filter(policy__name=name).order_by("-number").first()


def orm_latest_run(version: Any, policy_version: Any, dataset_version: Any = None) -> AuditRun | None:
    runs = AuditRun.objects.filter(model_version=version, policy_version=policy_version)
    if dataset_version is not None:
        runs = runs.filter(dataset_version=dataset_version)
    return runs.exclude(status=RunStatus.ERROR).order_by("-created_at", "-id").first() or runs.order_by("-id").first()


def orm_approvers(version: Any, decision: str) -> list[int]:
    return list(
        Review.objects.filter(version=version, decision=decision)
        .order_by("reviewer_id")
        .values_list("reviewer_id", flat=True)
    )


def orm_findings(version: Any, status: str) -> list[dict[str, Any]]:
    found = Finding.objects.filter(version=version, status=status)  # the model's ordering: -opened_at, -id
    return [{"id": f.pk, "kind": f.kind, "title": f.title} for f in found]


# --- what the gate reads of each row --------------------------------------------------------------------------------


def policy_view(version: PolicyVersion | None) -> tuple[Any, ...] | None:
    if version is None:
        return None
    return (
        version.pk,
        version.number,
        version.sha256,
        version.canonical_sha256,
        version.policy_id,
        version.policy.pk,
        version.policy.name,
    )


def run_view(run: AuditRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    dataset_version, policy_version = run.dataset_version, run.policy_version
    return {
        "pk": run.pk,
        "model_version_id": run.model_version_id,
        "status": run.status,
        "progress": run.progress,
        "verdict": run.verdict,
        "verdict_reasons": run.verdict_reasons,
        "results_sha256": run.results_sha256,
        "error": run.error,
        "dataset_version": (
            run.dataset_version_id,
            dataset_version.pk,
            dataset_version.number,
            dataset_version.sha256,
            dataset_version.dataset_id,
            dataset_version.dataset.name,
        ),
        "policy_version": (
            run.policy_version_id,
            policy_version.pk,
            policy_version.number,
            policy_version.canonical_sha256,
            policy_version.policy.name,
        ),
    }


# --- arranging audit runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """An audit run to create: its name in the arrangement, status, minutes after T0, and the inputs it is of."""

    name: str
    status: str
    minutes: int
    version: str = "v2"
    dataset: str = "fair"
    policy: str = "current"


def make_run(world: World, run: Run) -> AuditRun:
    """``run`` created directly in its status, with what a run in that status holds."""
    fields: dict[str, Any] = {}
    if run.status == RunStatus.DONE:
        fields = {
            "progress": 100,
            "verdict": Verdict.FAIL,
            "verdict_reasons": [f"{run.name}: impact ratio 0.500 < 0.8 for sex=f (“four-fifths”)", "second reason"],
            "results": {"checks": {"disparate_impact": {"impact_ratio": 0.5}}, "run": run.name},
            "results_sha256": hashlib.sha256(run.name.encode()).hexdigest(),
        }
    elif run.status == RunStatus.ERROR:
        fields = {"progress": 20, "error": f"{run.name}: the evaluation dataset could not be read."}
    elif run.status == RunStatus.RUNNING:
        fields = {"progress": 40, "progress_note": "disparate_impact"}
    return AuditRun.objects.create(
        model_version=world.versions[run.version],
        dataset_version=world.datasets[run.dataset],
        policy_version=world.policies[run.policy],
        column_roles=ROLES,
        inputs_sha256=f"{next(_inputs):064x}",
        created_by=world.cast.owner.user,
        status=run.status,
        created_at=T0 + timedelta(minutes=run.minutes),
        **fields,
    )


DONE, ERROR, QUEUED, RUNNING = RunStatus.DONE, RunStatus.ERROR, RunStatus.QUEUED, RunStatus.RUNNING
# (runs in creation order, the dataset version asked about or None, the run the ORM picks or None)
LATEST_RUN_CASES = [
    pytest.param(
        [Run("other-version", DONE, 30, version="v1"), Run("other-policy-version", DONE, 40, policy="older")],
        None,
        None,
        id="no-runs",
    ),
    pytest.param(
        [
            Run("newest", DONE, 30),  # created first: the newest by time, not by id
            Run("middle", DONE, 20),
            Run("oldest", DONE, 0),
            Run("other-version", DONE, 50, version="v1"),
            Run("other-policy-version", DONE, 60, policy="older"),
        ],
        None,
        "newest",
        id="several-finished-newest-wins",
    ),
    pytest.param(
        [Run("first", DONE, 10), Run("second", DONE, 10), Run("older", DONE, 0)],
        None,
        "second",
        id="same-time-higher-id-wins",
    ),
    pytest.param(
        [Run("good", DONE, 0), Run("error", ERROR, 30), Run("later-error", ERROR, 40)],
        None,
        "good",
        id="newer-error-beside-good-run",
    ),
    pytest.param(
        [Run("old-error", ERROR, 0), Run("new-error", ERROR, 30), Run("other-version", DONE, 40, version="v1")],
        None,
        "new-error",
        id="only-errors-newest-wins",
    ),
    pytest.param(
        # The ORM's fallback takes the highest id among errors, whatever created_at says.
        [Run("error-created-first-later-time", ERROR, 30), Run("error-created-last", ERROR, 0)],
        None,
        "error-created-last",
        id="only-errors-clock-disagrees-with-ids",
    ),
    pytest.param(
        [
            Run("on-fair", DONE, 0),
            Run("on-unfair", DONE, 30, dataset="unfair"),
            Run("on-holdout", DONE, 40, dataset="holdout"),
        ],
        "fair",
        "on-fair",
        id="dataset-filter-ignores-other-dataset-versions",
    ),
    pytest.param(
        [
            Run("on-fair", DONE, 0),
            Run("on-unfair", DONE, 30, dataset="unfair"),
            Run("on-holdout", DONE, 40, dataset="holdout"),
        ],
        None,
        "on-holdout",
        id="no-dataset-filter-any-dataset-version",
    ),
    pytest.param(
        [Run("on-unfair", DONE, 30, dataset="unfair")],
        "fair",
        None,
        id="dataset-filter-no-run-on-it",
    ),
    pytest.param(
        [Run("error-on-fair", ERROR, 0), Run("good-on-unfair", DONE, 30, dataset="unfair")],
        "fair",
        "error-on-fair",
        id="dataset-filter-only-an-error-on-it",
    ),
    pytest.param(
        [Run("done", DONE, 0), Run("running", RUNNING, 30), Run("error", ERROR, 40)],
        None,
        "running",
        id="running-run-is-latest",
    ),
    pytest.param(
        [Run("done", DONE, 0), Run("queued", QUEUED, 30)],
        None,
        "queued",
        id="queued-run-is-latest",
    ),
    pytest.param(
        [Run("queued", QUEUED, 0), Run("done", DONE, 30)],
        None,
        "done",
        id="queued-run-older-than-done",
    ),
]


# --- the tests ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_latest_policy_version_is_the_orms_for_every_stored_policy_and_none_for_unknown_names(
    world: World, django_assert_num_queries: Any
) -> None:
    ensure_builtin_policies()
    names = [*Policy.objects.values_list("name", flat=True), "no-such-policy", HOUSE.upper(), "x' OR '1'='1"]
    assert {HOUSE, OTHER, *builtin_policies()} <= set(names)
    for name in names:
        got = reads.latest_policy_version(name)
        with django_assert_num_queries(0):  # the policy's id and name come with the version
            seen = policy_view(got)
        assert seen == policy_view(orm_latest_policy_version(name)), name

    # Known answers: v3 of the house policy; v2 (a comment changed) kept the canonical hash of v1.
    latest = reads.latest_policy_version(HOUSE)
    assert latest is not None
    assert (latest.pk, latest.number, latest.policy.name) == (world.policies["current"].pk, 3, HOUSE)
    assert latest.canonical_sha256 == world.policies["current"].canonical_sha256
    versions = PolicyVersion.objects.filter(policy__name=HOUSE).order_by("number")
    assert len({v.sha256 for v in versions}) == 3
    assert len({v.canonical_sha256 for v in versions}) == 2
    assert reads.latest_policy_version("no-such-policy") is None


@pytest.mark.django_db
@pytest.mark.parametrize(("arranged", "dataset", "winner"), LATEST_RUN_CASES)
def test_latest_run_is_the_orms(
    world: World,
    django_assert_num_queries: Any,
    arranged: list[Run],
    dataset: str | None,
    winner: str | None,
) -> None:
    runs = {run.name: make_run(world, run) for run in arranged}
    version, policy_version = world.versions["v2"], world.policies["current"]
    dataset_version = world.datasets[dataset] if dataset else None

    expected = orm_latest_run(version, policy_version, dataset_version)
    assert (expected.pk if expected else None) == (runs[winner].pk if winner else None), "the arrangement's meaning"

    got = reads.latest_run(version, policy_version, dataset_version)
    with django_assert_num_queries(0):  # what the decision reads of the run, its dataset and policy is all loaded
        seen = run_view(got)
    assert seen == run_view(expected)
    if got is not None:
        assert isinstance(got.verdict_reasons, list)


@pytest.mark.django_db
def test_a_run_the_gate_started_and_still_queued_is_the_latest(world: World) -> None:
    make_run(world, Run("finished", DONE, 0))
    version, policy_version, dataset_version = world.versions["v2"], world.policies["current"], world.datasets["fair"]
    started, created = do_start_audit(
        user=world.cast.owner.user,
        actor=acting(world.cast.owner),
        model_version=version,
        dataset_version=dataset_version,
        policy_version=policy_version,
        column_roles=ROLES,
    )
    assert created
    assert started.status == RunStatus.QUEUED  # its job runs on commit, which this test's transaction never reaches

    for asked in (dataset_version, None):
        got = reads.latest_run(version, policy_version, asked)
        assert run_view(got) == run_view(orm_latest_run(version, policy_version, asked))
        assert got is not None
        assert (got.pk, got.status, got.progress, got.verdict, got.verdict_reasons) == (
            started.pk,
            RunStatus.QUEUED,
            0,
            "",
            [],
        )


@pytest.mark.django_db
def test_columns_the_reads_did_not_load_load_on_first_touch_with_the_orms_values(
    world: World, django_assert_num_queries: Any
) -> None:
    make_run(world, Run("done", DONE, 0))
    version, policy_version = world.versions["v2"], world.policies["current"]
    run = reads.latest_run(version, policy_version)
    expected = orm_latest_run(version, policy_version)
    assert run is not None
    assert expected is not None

    assert {"results", "column_roles", "created_at", "created_by_id"} <= run.get_deferred_fields()
    with django_assert_num_queries(1):
        results = run.results
    assert results == expected.results == {"checks": {"disparate_impact": {"impact_ratio": 0.5}}, "run": "done"}
    assert run.column_roles == expected.column_roles == ROLES
    assert run.created_at == expected.created_at == T0
    assert run.inputs_sha256 == expected.inputs_sha256
    assert run.created_by_id == expected.created_by_id == world.cast.owner.user.pk
    assert run.model_version.number == expected.model_version.number == 2
    # Touching a deferred column loads only that column: what the read loaded stays as it was.
    assert run_view(run) == run_view(expected)

    dataset_version = run.dataset_version
    assert "schema" in dataset_version.get_deferred_fields()
    assert dataset_version.schema == expected.dataset_version.schema
    assert dataset_version.file.name == expected.dataset_version.file.name
    assert dataset_version.dataset.team_id == expected.dataset_version.dataset.team_id

    latest = reads.latest_policy_version(HOUSE)
    orm_latest = orm_latest_policy_version(HOUSE)
    assert latest is not None
    assert orm_latest is not None
    assert {"text", "document"} <= latest.get_deferred_fields()
    with django_assert_num_queries(1):
        text = latest.text
    assert text == orm_latest.text
    assert latest.document == orm_latest.document
    assert latest.created_by_id == orm_latest.created_by_id == world.cast.officer.user.pk
    assert latest.policy.title == orm_latest.policy.title
    assert latest.policy.builtin is orm_latest.policy.builtin is False


@pytest.mark.django_db
def test_approvers_are_the_orms_in_reviewer_id_order(world: World) -> None:
    cast = world.cast
    v1, v2, v3 = world.versions["v1"], world.versions["v2"], world.versions["v3"]
    # The reviewer approves before the officer but has the higher id: reviewer-id order is not decision order.
    assert cast.officer.user.pk < cast.reviewer.user.pk
    registry.do_submit(version=v2, user=cast.owner.user, actor=acting(cast.owner))
    for member in (cast.reviewer, cast.officer):
        registry.do_approve(version=v2, user=member.user, actor=acting(member))
    # v1: one approval, then a rejection.
    registry.do_submit(version=v1, user=cast.owner.user, actor=acting(cast.owner))
    registry.do_approve(version=v1, user=cast.reviewer.user, actor=acting(cast.reviewer))
    registry.do_reject(version=v1, user=cast.officer.user, actor=acting(cast.officer), reason="Not convincing.")
    # v3: no review at all.
    assert list(Review.objects.filter(version=v2).order_by("decided_at").values_list("reviewer_id", flat=True)) == [
        cast.reviewer.user.pk,
        cast.officer.user.pk,
    ]

    for version in (v1, v2, v3):
        for decision in Decision:
            assert reads.approvers(version, decision=decision) == orm_approvers(version, decision), (version, decision)

    assert reads.approvers(v2, decision=Decision.APPROVE) == [cast.officer.user.pk, cast.reviewer.user.pk]
    assert reads.approvers(v1, decision=Decision.APPROVE) == [cast.reviewer.user.pk]
    assert reads.approvers(v1, decision=Decision.REJECT) == [cast.officer.user.pk]
    assert reads.approvers(v3, decision=Decision.APPROVE) == []


@pytest.mark.django_db
def test_findings_are_the_orms_open_ones_newest_first(world: World) -> None:
    cast = world.cast
    v1, v2, v3 = world.versions["v1"], world.versions["v2"], world.versions["v3"]

    def open_finding(version: ModelVersion, name: str, minutes: int, kind: str = "drift_alert") -> Finding:
        return Finding.objects.create(
            version=version,
            kind=kind,
            cause=name,
            title=f"{name} — ‘opened’ {minutes} min after T0",
            opened_at=T0 + timedelta(minutes=minutes),
        )

    latest = open_finding(v2, "latest", 30, kind="consent_withdrawn")  # created first: newest by time, not by id
    tie_a = open_finding(v2, "tie", 20)
    tie_b = open_finding(v2, "tie-again", 20, kind="audit_failed")
    oldest = open_finding(v2, "oldest", 0)
    closed = open_finding(v2, "withdrawal", 40, kind="consent_withdrawn")
    registry.do_resolve_finding(
        finding=closed,
        user=cast.reviewer.user,
        actor=acting(cast.reviewer),
        resolution=FindingResolution.ACCEPT,
        reason="The subject's rows were a rounding error of the training set.",
    )
    # The same cause arising again after its finding was resolved opens a new finding.
    reopened = open_finding(v2, "withdrawal", 50, kind="consent_withdrawn")
    elsewhere = open_finding(v1, "elsewhere", 60)

    for version in (v1, v2, v3):
        for status in FindingStatus:
            assert reads.findings(version, status=status) == orm_findings(version, status), (version, status)

    def listed(*found: Finding) -> list[dict[str, Any]]:
        return [{"id": f.pk, "kind": f.kind, "title": f.title} for f in found]

    assert reads.findings(v2, status=FindingStatus.OPEN) == listed(reopened, latest, tie_b, tie_a, oldest)
    assert reads.findings(v2, status=FindingStatus.RESOLVED) == listed(closed)
    assert reads.findings(v1, status=FindingStatus.OPEN) == listed(elsewhere)
    assert reads.findings(v3, status=FindingStatus.OPEN) == []
