"""The audit API's runs of a predictions-only model version on an uploaded CSV: the whole journey, reading and
listing, refused requests, and inputs that pass validation but cannot be audited.

Every write is checked for what it stored and the trail event it recorded; every refusal for the error it answered
with and that it changed nothing. Audits run in process (no broker in tests): the tests that read the verdict from
the POST's own answer run with real commits, as production does; the others run the job when the test's
transaction would commit (``django_capture_on_commit_callbacks``) and read the run back.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import statistics
from collections.abc import Callable
from typing import Any

import pytest
from sklearn import metrics as skm

from audits.models import AuditRun, CheckResult
from audits.policies import builtin_policies
from governance.data import actions as data
from tests.api import assert_error, db_state, events_since, last_seq
from tests.audits.conftest import (
    API,
    DATASET,
    FAILING_RATES,
    MODEL,
    PASSING_RATES,
    PREDICTION_ROLES,
    SCORE_ROLES,
    audit_body,
    canonical_sha256,
    decision_rows,
    post_audit,
    predictions_only_version,
    rows_csv,
    upload,
)
from tests.conftest import Cast, Member
from tests.conftest import sha256_text as sha256_of
from tests.data.conftest import acting, make_dataset, make_external_version, refused


def actions_of(events: list[Any]) -> list[str]:
    return [event.action for event in events]


def audit_events(seq: int) -> list[Any]:
    """The audit.* events recorded after ``seq`` (a checkpoint job that runs on commit may register its key)."""
    return [event for event in events_since(seq) if event.action.startswith("audit.")]


# --- audit runs: the whole journey, with real commits ----------------------------------------------------------


def started_payload(version: Any, dataset_version: Any, roles: dict[str, Any], *, forced: bool, run: int) -> dict:
    """The audit.started payload a verifier expects, computed from the inputs (not read from the run)."""
    policy_text = builtin_policies()["four-fifths"]
    canonical_roles = {
        "label": roles["label"],
        "protected": roles["protected"],
        "favourable": "1",
        "prediction": roles.get("prediction", ""),
        "score": roles.get("score", ""),
        "threshold": roles.get("threshold"),
        "reference_groups": {},
        "features": [],
    }
    hashes = {
        "artifact_sha256": None,
        "model_version": f"{version.model.name}/v{version.number}",
        "dataset_sha256": dataset_version.sha256,
        "dataset_version": f"{dataset_version.dataset.name}/v{dataset_version.number}",
        "policy_sha256": sha256_of(policy_text),
        "policy_version": "four-fifths/v1",
        "column_roles_sha256": canonical_sha256(canonical_roles),
    }
    return {"run": run, **hashes, "inputs_sha256": canonical_sha256(hashes), "forced": forced}


@pytest.mark.django_db(transaction=True)
def test_an_audit_runs_to_a_verdict_and_the_same_inputs_return_the_same_run(
    unprotected_trail: None, cast: Cast, media_root: Any, builtin_policies_stored: None
) -> None:
    version = predictions_only_version(cast)
    rows = decision_rows(PASSING_RATES)
    dataset_version = upload(cast, rows)
    assert dataset_version.sha256 == hashlib.sha256(rows_csv(rows)).hexdigest()  # the uploaded bytes' hash
    body = audit_body(version, dataset_version)
    seq = last_seq()

    response = post_audit(cast.owner, body)

    assert response.status_code == 201, response.content
    run = response.json()
    assert (run["model"], run["version"], run["dataset"], run["dataset_version"]) == (MODEL, 1, DATASET, 1)
    assert (run["policy"], run["policy_version"], run["status"], run["verdict"]) == ("four-fifths", 1, "done", "pass")
    assert (run["error"], run["forced"], run["progress"], run["created_by"]) == ("", False, 100, "omar")
    (check,) = run["checks"]
    assert (check["check"], check["outcome"], check["required"]) == ("disparate_impact", "pass", True)
    (grouping,) = check["details"]["groupings"]
    assert grouping["reference_group"] == "sex=M"
    rows = {row["group"]: row for row in grouping["groups"]}
    assert (rows["sex=F"]["count"], rows["sex=F"]["selected"], rows["sex=M"]["selected"]) == (100, 45, 50)
    assert rows["sex=F"]["selection_rate"] == pytest.approx(0.45)
    assert rows["sex=F"]["impact_ratio"] == pytest.approx(0.9)
    assert rows["sex=F"]["passes_four_fifths"] is True
    assert rows["sex=F"]["test"] == "two_proportion_z"
    assert check["details"]["basis"]["citation"].startswith("29 CFR § 1607.4(D)")
    for library in ("numpy", "scikit-learn", "fairlearn"):
        assert run["library_versions"][library] == importlib.metadata.version(library)

    stored = AuditRun.objects.get()
    assert stored.pk == run["id"]
    assert list(CheckResult.objects.filter(run=stored).values_list("check_name", "outcome")) == [
        ("disparate_impact", "pass")
    ]
    started, completed = audit_events(seq)
    assert (started.action, completed.action) == ("audit.started", "audit.completed")
    assert started.actor_user_id == cast.owner.user.pk
    assert started.payload == started_payload(version, dataset_version, PREDICTION_ROLES, forced=False, run=stored.pk)
    assert started.payload["inputs_sha256"] == run["inputs_sha256"] == stored.inputs_sha256
    # The completion event commits to the results: anyone holding them can recompute the hash.
    recomputed = canonical_sha256({"verdict": stored.verdict, "results": stored.results, "error": stored.error})
    assert completed.actor_kind == "system"
    assert completed.payload["run"] == stored.pk
    assert (completed.payload["status"], completed.payload["verdict"]) == ("done", "pass")
    assert completed.payload["results_sha256"] == recomputed == run["results_sha256"]
    assert stored.results["checks"]["disparate_impact"]["outcome"] == "pass"

    # The same inputs again: the same run, and nothing new.
    before, seq = db_state(), last_seq()
    again = post_audit(cast.owner, body)
    assert again.status_code == 200, again.content
    assert again.json()["id"] == run["id"]
    assert db_state() == before
    assert events_since(seq) == []

    # force: a new run of the same inputs, marked as forced.
    forced = post_audit(cast.owner, {**body, "force": True})
    assert forced.status_code == 201, forced.content
    assert forced.json()["id"] != run["id"]
    assert (forced.json()["forced"], forced.json()["verdict"]) == (True, "pass")
    assert forced.json()["results_sha256"] == run["results_sha256"]  # same inputs, same results
    started, completed = audit_events(seq)
    assert started.payload == started_payload(
        version, dataset_version, PREDICTION_ROLES, forced=True, run=forced.json()["id"]
    )
    assert AuditRun.objects.count() == 2

    detail = cast.reviewer.client().get(f"{API}/audits/{run['id']}/")
    assert detail.status_code == 200
    assert detail.json() == run


@pytest.mark.django_db(transaction=True)
def test_a_score_and_threshold_audit_under_baseline_reports_every_check(
    unprotected_trail: None, cast: Cast, media_root: Any, builtin_policies_stored: None
) -> None:
    version = predictions_only_version(cast)
    rows = decision_rows(FAILING_RATES)
    dataset_version = upload(cast, rows)

    response = post_audit(cast.officer, audit_body(version, dataset_version, policy="baseline", roles=SCORE_ROLES))

    assert response.status_code == 201, response.content
    run = response.json()
    assert (run["status"], run["verdict"]) == ("done", "fail")
    checks = {c["check"]: c for c in run["checks"]}
    assert set(checks) == {"data_quality", "disparate_impact", "group_fairness", "performance"}
    assert {c["required"] for c in checks.values()} == {False}
    assert checks["disparate_impact"]["outcome"] == "fail"
    # baseline's rate is by_output: a score without a decision column is judged by its scoring rate (LL144), the
    # share of each group scoring above the sample's median.
    assert checks["disparate_impact"]["details"]["rate"] == "scoring_rate"
    scores = [float(r["score"]) for r in rows]
    median = statistics.median(scores)
    rate = {sex: sum(float(r["score"]) > median for r in rows if r["sex"] == sex) / 100 for sex in ("F", "M")}
    ratio = rate["F"] / rate["M"]
    assert ratio < 0.8
    assert (
        f"sex=F: impact ratio {ratio:.3f} against sex=M is below 0.8 (significant"
        in checks["disparate_impact"]["reason"]
    )
    assert any(reason.startswith("disparate_impact: sex=F") for reason in run["verdict_reasons"])
    # The figures are scikit-learn's on the uploaded rows.
    y_true = [int(r["label"]) for r in rows]
    y_pred = [int(s >= 0.5) for s in scores]
    overall = checks["performance"]["details"]["overall"]
    assert overall["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-12)
    assert overall["roc_auc"] == pytest.approx(skm.roc_auc_score(y_true, scores), abs=1e-12)
    assert checks["performance"]["outcome"] == "pass"
    assert checks["data_quality"]["details"]["group_shares"] == {"sex": {"F": 0.5, "M": 0.5}}
    summary = checks["group_fairness"]["details"]["groupings"][0]["summary"]
    assert summary["demographic_parity_difference"] == pytest.approx(0.25)
    assert checks["group_fairness"]["outcome"] == "fail"


# --- audit runs: reading and listing ---------------------------------------------------------------------------


def run_now(member: Member, body: dict[str, Any], capture: Callable[..., Any]) -> dict[str, Any]:
    """POST an audit, let the job run when the transaction would commit, and return the run as GET shows it."""
    with capture(execute=True):
        response = post_audit(member, body)
    assert response.status_code in (200, 201), response.content
    shown = member.client().get(f"{API}/audits/{response.json()['id']}/")
    assert shown.status_code == 200
    return shown.json()


def test_runs_are_listed_and_filtered_and_hidden_from_other_teams(
    cast: Cast, media_root: Any, builtin_policies_stored: None, django_capture_on_commit_callbacks: Any
) -> None:
    approval = predictions_only_version(cast)
    pricing = predictions_only_version(cast, name="loan-pricing")
    passing = upload(cast, decision_rows(PASSING_RATES))
    failing = upload(cast, decision_rows(FAILING_RATES))
    one_group = upload(cast, decision_rows({"F": (60, 30)}))
    capture = django_capture_on_commit_callbacks
    passed = run_now(cast.owner, audit_body(approval, passing), capture)
    failed = run_now(cast.owner, audit_body(pricing, failing), capture)
    errored = run_now(cast.owner, audit_body(pricing, one_group), capture)
    assert [r["verdict"] for r in (passed, failed, errored)] == ["pass", "fail", ""]

    def listed(member: Member, query: str = "") -> list[int]:
        response = member.client().get(f"{API}/audits/{query}")
        assert response.status_code == 200, response.content
        assert all("checks" not in run for run in response.json()["results"])
        return [run["id"] for run in response.json()["results"]]

    assert listed(cast.reviewer) == [errored["id"], failed["id"], passed["id"]]  # newest first
    assert listed(cast.reviewer, f"?model={MODEL}") == [passed["id"]]
    assert listed(cast.reviewer, "?model=loan-pricing") == [errored["id"], failed["id"]]
    assert listed(cast.reviewer, "?verdict=fail") == [failed["id"]]
    assert listed(cast.reviewer, "?status=error") == [errored["id"]]
    assert listed(cast.reviewer, "?status=done&model=loan-pricing") == [failed["id"]]
    assert listed(cast.officer, "?verdict=pass") == [passed["id"]]

    # Another team's owner sees none of them, and each one is "not found".
    assert listed(cast.outsider) == []
    for run in (passed, failed):
        seq = last_seq()
        refused(lambda run=run: cast.outsider.client().get(f"{API}/audits/{run['id']}/"), 404, "not_found")
        assert actions_of(events_since(seq)) == ["access.denied"]
    assert_error(cast.reviewer.client().get(f"{API}/audits/999999/"), 404, "not_found")


# --- audit runs: refused requests ------------------------------------------------------------------------------


@pytest.fixture
def inputs(cast: Cast, media_root: Any, builtin_policies_stored: None) -> tuple[Any, Any]:
    """A predictions-only model version and an uploaded evaluation dataset version (credit-risk team)."""
    return predictions_only_version(cast), upload(cast, decision_rows(PASSING_RATES))


COLUMNS = "Columns: applicant_id, sex, age_band, income, label, prediction, score."


# Each bad request: what it changes in a good body, the field the error names, and words its message must hold.
BAD_REQUESTS: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    "missing-label": (
        {"column_roles": {**PREDICTION_ROLES, "label": "outcome"}},
        "column_roles",
        ["no column named 'outcome'", COLUMNS],
    ),
    "misspelt-protected": (
        {"column_roles": {**PREDICTION_ROLES, "protected": ["sex", "gender"]}},
        "column_roles",
        ["no column named 'gender'", COLUMNS],
    ),
    "prediction-and-score": (
        {"column_roles": {**PREDICTION_ROLES, "score": "score", "threshold": 0.5}},
        "column_roles",
        ["prediction", "not both"],
    ),
    "score-without-threshold": (
        {"column_roles": {"label": "label", "protected": ["sex"], "score": "score"}},
        "column_roles",
        ["threshold", "needs a decision threshold"],
    ),
    "no-protected": ({"column_roles": {**PREDICTION_ROLES, "protected": []}}, "column_roles", ["protected"]),
    "misspelt-role": (
        {"column_roles": {**PREDICTION_ROLES, "treshold": 0.5}},
        "column_roles",
        ["treshold", "not recognised"],
    ),
    "unknown-policy": (
        {"policy": "four-fifth"},
        "policy",
        ["Unknown policy 'four-fifth'", "baseline, eu-ai-act-high-risk, four-fifths, nyc-ll144"],
    ),
    "unknown-policy-version": ({"policy_version": 2}, "policy_version", ["four-fifths has no version 2."]),
    "unknown-field": ({"forse": True}, "forse", ["not recognised"]),
}


def test_bad_audit_requests_are_422_naming_the_problem(cast: Cast, inputs: tuple[Any, Any]) -> None:
    # One arrangement for every case: each refusal is checked to leave the database as it found it.
    for case, (change, field, words) in BAD_REQUESTS.items():
        body = {**audit_body(*inputs), **change}

        error = refused(lambda body=body: post_audit(cast.owner, body), 422)

        assert field in error["details"], (case, error)
        text = str(error["details"][field]) + error["message"]
        for word in words:
            assert word in text, (case, error)
    assert not AuditRun.objects.exists()


def test_an_external_dataset_version_cannot_be_audited(cast: Cast, inputs: tuple[Any, Any]) -> None:
    version, _ = inputs
    external = make_external_version(cast, make_dataset(cast, "lake-applicants"))

    error = refused(lambda: post_audit(cast.owner, audit_body(version, external)), 422)

    assert "external URI cannot be read" in error["message"]
    assert "dataset" in error["details"]
    assert not AuditRun.objects.exists()


def test_who_may_start_an_audit(cast: Cast, inputs: tuple[Any, Any], anonymous: Any) -> None:
    ladder = {"reviewer": 403, "regulator": 403, "read_only": 403, "outsider": 404}
    clients = [(anonymous, 401)] + [(cast.members()[who].client(), status) for who, status in ladder.items()]

    for client, status in clients:
        refused(lambda client=client: client.post(f"{API}/audits/", audit_body(*inputs), format="json"), status)

    assert not AuditRun.objects.exists()


def test_another_teams_dataset_is_not_found(cast: Cast, inputs: tuple[Any, Any]) -> None:
    version, _ = inputs

    hiring = make_dataset(cast, "hiring-evaluation", team="hiring")
    theirs = data.do_register_dataset_version(
        dataset=hiring, user=cast.outsider.user, actor=acting(cast.outsider), external_uri="s3://hiring/eval.csv"
    )

    refused(lambda: post_audit(cast.owner, audit_body(version, theirs)), 404, "not_found")


def test_a_queued_run_is_returned_again_and_cannot_be_forced_twice(cast: Cast, inputs: tuple[Any, Any]) -> None:
    body = audit_body(*inputs)
    # The test's transaction never commits, so the job never starts: the run stays queued.
    first = post_audit(cast.owner, body)
    assert first.status_code == 201, first.content
    assert (first.json()["status"], first.json()["verdict"]) == ("queued", "")

    again = post_audit(cast.officer, body)
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first.json()["id"]

    error = refused(lambda: post_audit(cast.owner, {**body, "force": True}), 409, "running")
    assert "already running" in error["message"]
    assert AuditRun.objects.count() == 1


# --- audit runs: inputs that pass validation but cannot be audited ---------------------------------------------


def three_label_values(rows: list[dict[str, str]]) -> None:
    rows[3]["label"] = "2"


def empty_predictions(rows: list[dict[str, str]]) -> None:
    rows[5]["prediction"] = ""
    rows[150]["prediction"] = ""


def empty_scores(rows: list[dict[str, str]]) -> None:
    rows[7]["score"] = ""


def one_group(rows: list[dict[str, str]]) -> None:
    for row in rows:
        row["sex"] = "F"


@pytest.mark.parametrize(
    ("spoil", "roles", "words"),
    [
        (three_label_values, PREDICTION_ROLES, "label: binary checks need two values; 'label' has 3"),
        (empty_predictions, PREDICTION_ROLES, "prediction: 2 rows have no prediction"),
        (empty_scores, SCORE_ROLES, "score: 1 rows have no score"),
        (None, {**SCORE_ROLES, "threshold": 2.0}, "threshold: 2.0 is outside the scores' range"),
        (one_group, PREDICTION_ROLES, "every row of 'sex' is in one group"),
    ],
    ids=["three-label-values", "empty-predictions", "empty-scores", "threshold-out-of-range", "one-group"],
)
@pytest.mark.usefixtures("media_root", "builtin_policies_stored")
def test_inputs_that_cannot_be_audited_end_in_error_never_a_pass(
    cast: Cast,
    django_capture_on_commit_callbacks: Any,
    spoil: Callable[[list[dict[str, str]]], None] | None,
    roles: dict[str, Any],
    words: str,
) -> None:
    version = predictions_only_version(cast)
    rows = decision_rows(PASSING_RATES)
    if spoil is not None:
        spoil(rows)
    dataset_version = upload(cast, rows)
    seq = last_seq()

    run = run_now(cast.owner, audit_body(version, dataset_version, roles=roles), django_capture_on_commit_callbacks)

    assert (run["status"], run["verdict"], run["checks"]) == ("error", "", [])
    assert words in run["error"], run["error"]
    started, completed = audit_events(seq)
    assert (started.action, completed.action) == ("audit.started", "audit.completed")
    assert (completed.payload["status"], completed.payload["verdict"]) == ("error", None)
    assert completed.payload["results_sha256"] == canonical_sha256(
        {"verdict": "", "results": {}, "error": run["error"]}
    )
    assert not CheckResult.objects.exists()


@pytest.mark.parametrize("query", ["version=\u00b2", "version=\u0663", "version=99999999999"])
def test_a_version_filter_that_is_not_ascii_digits_is_ignored_not_a_500(cast: Cast, query: str) -> None:
    response = cast.owner.client().get(f"{API}/audits/?{query}")
    assert response.status_code == 200
    assert response.json()["count"] == 0
