"""Arrangements shared by the registry tests: questionnaire answers, one model per risk tier (team credit-risk),
predictions-only versions, walks through the lifecycle, and deployment checks that block.

Everything is arranged through the registry's own actions, as the cast's members, so the trail holds what it
would hold in production and a test can count the events its own step added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from governance.access.actions import do_create_user, do_issue_token
from governance.access.models import Team
from governance.data import actions as data
from governance.trail.log import Actor
from registry import actions, hooks, risk
from registry.models import ModelVersion, RegisteredModel, VersionState
from tests.conftest import Cast, Member

TEAM = "credit-risk"

# One set of questionnaire answers per tier, each chosen by the rule that produces it (see test_risk.py).
RISK_ANSWERS: dict[str, dict[str, Any]] = {
    "prohibited": {
        "prohibited_practice": "social_scoring",
        "annex_iii_area": "none",
        "profiles_natural_persons": True,
        "human_reviews_each_decision": False,
        "interacts_with_people_or_generates_content": False,
    },
    # Credit scoring profiles applicants in an Annex III area (5, essential services): always high.
    "high": {
        "prohibited_practice": "none",
        "annex_iii_area": "essential_services",
        "profiles_natural_persons": True,
        "human_reviews_each_decision": False,
        "interacts_with_people_or_generates_content": False,
    },
    "limited": {
        "prohibited_practice": "none",
        "annex_iii_area": "none",
        "profiles_natural_persons": False,
        "human_reviews_each_decision": False,
        "interacts_with_people_or_generates_content": True,
    },
    "minimal": {
        "prohibited_practice": "none",
        "annex_iii_area": "none",
        "profiles_natural_persons": False,
        "human_reviews_each_decision": False,
        "interacts_with_people_or_generates_content": False,
    },
}

MODEL_NAMES = {
    "prohibited": "citizen-score",
    "high": "credit-scoring",
    "limited": "loan-chat-assistant",
    "minimal": "document-router",
}

# The transitions that take a fresh draft to each state (deploys go to staging unless a test says otherwise).
PATHS: dict[str, tuple[str, ...]] = {
    VersionState.DRAFT: (),
    VersionState.SUBMITTED: ("submit",),
    VersionState.APPROVED: ("submit", "approve"),
    VersionState.REJECTED: ("submit", "reject"),
    VersionState.DEPLOYED: ("submit", "approve", "deploy"),
    VersionState.RETIRED: ("submit", "approve", "deploy", "retire"),
}


def risk_answers(tier: str) -> dict[str, Any]:
    """A fresh copy of the answers that classify as ``tier``."""
    return dict(RISK_ANSWERS[tier])


def acting(member: Member) -> Actor:
    """The trail actor of a cast member acting in person (not through a token)."""
    return Actor.for_user(member.user)


def new_member(username: str, role: str, teams: list[str]) -> Member:
    """A user beyond the fixed cast (a second officer, another team's reviewer), with a full-rights token."""
    user = do_create_user(username=username, role=role, teams=teams, password=None, actor=Actor.system())
    return Member(user=user, token=do_issue_token(user=user, actor=Actor.system(), days=30).raw)


def register_model(cast: Cast, tier: str, *, name: str | None = None) -> RegisteredModel:
    """A model of team credit-risk registered by its owner, classified as ``tier`` by the questionnaire."""
    model = actions.do_register_model(
        user=cast.owner.user,
        actor=acting(cast.owner),
        name=name or MODEL_NAMES[tier],
        team=Team.objects.get(slug=TEAM),
        purpose=f"A {tier}-risk model of the credit-risk team.",
        risk_answers=risk_answers(tier),
        intended_use="Decisions on consumer loan applications.",
        out_of_scope_uses="Employment screening.",
        business_kpis=["approval rate", "default rate"],
    )
    assert model.risk_tier == tier
    return model


@pytest.fixture
def high_risk_answers() -> dict[str, Any]:
    return risk_answers("high")


@pytest.fixture
def minimal_risk_answers() -> dict[str, Any]:
    return risk_answers("minimal")


@pytest.fixture
def high_risk_model(cast: Cast) -> RegisteredModel:
    return register_model(cast, "high")


@pytest.fixture
def applications_dataset(cast: Cast) -> Any:
    """The credit-risk team's dataset ``applications-2025`` with three versions (external URIs)."""
    actor = Actor.for_user(cast.owner.user)
    dataset = data.do_register_dataset(
        user=cast.owner.user, actor=actor, name="applications-2025", team=Team.objects.get(slug="credit-risk")
    )
    for number in (1, 2, 3):
        data.do_register_dataset_version(
            dataset=dataset, user=cast.owner.user, actor=actor, external_uri=f"s3://credit/applications/{number}"
        )
    return dataset


@pytest.fixture
def limited_risk_model(cast: Cast) -> RegisteredModel:
    return register_model(cast, "limited")


@pytest.fixture
def minimal_risk_model(cast: Cast) -> RegisteredModel:
    return register_model(cast, "minimal")


@pytest.fixture
def prohibited_model(cast: Cast) -> RegisteredModel:
    return register_model(cast, "prohibited")


MakeVersion = Callable[..., ModelVersion]


@pytest.fixture
def make_version(cast: Cast) -> MakeVersion:
    """``make_version(model, by=member, **metadata)``: register the next predictions-only version (default: owner)."""

    def make(model: RegisteredModel, *, by: Member | None = None, **metadata: Any) -> ModelVersion:
        member = by or cast.owner
        metadata.setdefault("metrics", {"auc": 0.81})
        metadata.setdefault("input_schema", [{"name": "income", "type": "float"}, {"name": "age", "type": "int"}])
        return actions.do_register_version(model=model, user=member.user, actor=acting(member), **metadata)

    return make


@pytest.fixture
def minimal_draft(minimal_risk_model: RegisteredModel, make_version: MakeVersion) -> ModelVersion:
    """Version 1 of the minimal-risk model (document-router), a draft registered by the owner."""
    return make_version(minimal_risk_model)


@pytest.fixture
def high_risk_draft(high_risk_model: RegisteredModel, make_version: MakeVersion) -> ModelVersion:
    """Version 1 of the high-risk model (credit-scoring), a draft registered by the owner."""
    return make_version(high_risk_model)


Walk = Callable[..., ModelVersion]


@pytest.fixture
def walk(cast: Cast) -> Walk:
    """``walk(version, state, environment="staging")``: take a draft to ``state`` through the actions.

    The owner submits; the reviewer approves (and the officer too when the tier needs two approvers) or
    rejects; the officer deploys to ``environment`` and retires.
    """

    def step(version: ModelVersion, transition: str, environment: str) -> None:
        if transition == "submit":
            actions.do_submit(version=version, user=cast.owner.user, actor=acting(cast.owner))
        elif transition == "approve":
            approvers = [cast.reviewer, cast.officer][: risk.required_approvals(version.model.risk_tier)]
            for member in approvers:
                actions.do_approve(version=version, user=member.user, actor=acting(member), reason="looks sound")
        elif transition == "reject":
            actions.do_reject(version=version, user=cast.reviewer.user, actor=acting(cast.reviewer), reason="no")
        elif transition == "deploy":
            actions.do_deploy(
                version=version, user=cast.officer.user, actor=acting(cast.officer), environment=environment
            )
        elif transition == "retire":
            actions.do_retire(version=version, user=cast.officer.user, actor=acting(cast.officer), reason="sunset")
        else:  # pragma: no cover - a typo in a test
            raise AssertionError(transition)

    def walk_to(version: ModelVersion, state: str, *, environment: str = "staging") -> ModelVersion:
        version.refresh_from_db()
        assert version.state == VersionState.DRAFT, "walks start from a draft"
        for transition in PATHS[state]:
            step(version, transition, environment)
        version.refresh_from_db()
        assert version.state == state
        return version

    return walk_to


@pytest.fixture
def blocking_check() -> Iterator[Callable[[ModelVersion], str | None]]:
    """A registered deployment check that blocks every version (as a failed required audit would)."""

    def no_passing_audit(version: ModelVersion) -> str | None:
        return f"No passing fairness audit for {version}."

    hooks.DEPLOYMENT_CHECKS.append(no_passing_audit)
    try:
        yield no_passing_audit
    finally:
        hooks.DEPLOYMENT_CHECKS.remove(no_passing_audit)


# ---------------------------------------------------------------------------------------------
# Fixtures of the artifact tests (test_artifacts*.py): tiny models trained once per module
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def scaled_logreg(cancer: tuple[np.ndarray, np.ndarray]) -> Pipeline:
    X, y = cancer
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


@pytest.fixture(scope="module")
def iris_logreg(iris: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
    X, y = iris
    return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.fixture(scope="module")
def onnx_bytes(iris_logreg: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]) -> bytes:
    X, _ = iris
    return to_onnx(iris_logreg, X[:1].astype(np.float32), options={"zipmap": False}).SerializeToString()
