"""What the API reference says about each area and operation, beyond what the views themselves declare.

``governance.api.openapi`` reads these tables while drf-spectacular builds ``/api/schema/``:

- ``TAGS``: the areas of the API, in the order the reference shows them; ``AREAS`` gives each path its area.
- ``OPERATIONS``: per operation (``"METHOD /path"``, as the schema spells the path), a summary in words and the error
  statuses it can give beyond those derived from its view (401, 403, 404, 400/413/415/422 for a body, 429): the
  conflicts (409) its action can refuse with, a 404 for an object named in the body or query, a 422 for a query
  parameter it checks.
- ``EXAMPLES``: request bodies of the main flows (register a model, upload a version, start an audit, ask the gate),
  as the documentation's own curl lines send them; ``RESPONSE_EXAMPLES``: the gate's answers.

A new endpoint may instead declare its summary and tag on the view (``@extend_schema(summary=..., tags=[...])``); an
explicit declaration wins over these tables. ``tests/api/test_openapi_reference.py`` checks every operation.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple


class Area(NamedTuple):
    name: str
    description: str


TAGS = [
    Area("meta", "Where to start: the API's entry points."),
    Area("access", "Who is calling, teams, and API tokens (issue, list, revoke)."),
    Area("models", "Registered models: the EU AI Act risk questionnaire and tier, descriptions, history, webhooks."),
    Area(
        "versions",
        "Model versions: the artifact upload (ONNX or skops), model cards, the lifecycle (submit, approve, reject, "
        "deploy, retire) and findings.",
    ),
    Area("datasets", "Datasets and their versions: a CSV or Parquet upload (profiled on arrival) or an external URI."),
    Area("lineage", "What was made from what: lineage runs, OpenLineage events, W3C PROV-JSON."),
    Area("consent", "Purposes of processing, consent events and coverage, and data subjects' requests (GDPR)."),
    Area("policies", "Audit policies: versioned YAML and the differences between versions."),
    Area("audits", "Audit runs of a model version on an evaluation dataset under a policy; their verdicts."),
    Area("reports", "PAdES-signed PDF reports of audit runs."),
    Area(
        "gate",
        "The deployment gate for pipelines: a decision per version and environment, its signed token and proof, "
        "and the client programs.",
    ),
    Area("monitoring", "Production batches against the training reference: drift, live fairness, labels."),
    Area("obligations", "Obligation catalogues, compliance status, Annex IV, ISO/IEC 42001 and serious incidents."),
    Area("exports", "Evidence bundles for regulators, and shares: time-limited read access."),
    Area("trail", "The signed, tamper-evident trail: events, checkpoints, inclusion and consistency proofs."),
]

# The first rule whose pattern matches the path after /api/v1/ gives the operation's area.
_VERSION = r"models/\{name\}/versions/\{number\}/"
AREAS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(pattern), area)
    for pattern, area in [
        (r"^$", "meta"),
        (r"^(me|teams/|tokens/)", "access"),
        (_VERSION + r"(batches/|drift$|monitoring$|monitoring/source$)", "monitoring"),
        (_VERSION + r"(obligations/|annex-iv|monitoring-plan)", "obligations"),
        (_VERSION + r"reports/", "reports"),
        (_VERSION + r"lineage", "lineage"),
        (r"^models/\{name\}/versions/", "versions"),
        (r"^models/\{name\}/(incidents/|obligation-scope)", "obligations"),
        (r"^(models/|risk-questionnaire)", "models"),
        (r"^datasets/\{name\}/versions/\{number\}/lineage", "lineage"),
        (r"^datasets/\{name\}/versions/\{number\}/coverage", "consent"),
        (r"^datasets/", "datasets"),
        (r"^lineage/", "lineage"),
        (r"^(consent/|subjects/)", "consent"),
        (r"^audits/\{id\}/reports/", "reports"),
        (r"^audits/", "audits"),
        (r"^policies/", "policies"),
        (r"^reports/", "reports"),
        (r"^gates/", "gate"),
        (r"^(obligation-catalogues/|statement-of-applicability)", "obligations"),
        (r"^(exports/|shares/)", "exports"),
        (r"^trail/", "trail"),
    ]
]
API_PREFIX = "/api/v1/"


def area_of(path: str) -> str | None:
    """The area (tag) of an API path, or None when no rule names it."""
    if not path.startswith(API_PREFIX):
        return None
    rest = path.removeprefix(API_PREFIX)
    return next((area for pattern, area in AREAS if pattern.search(rest)), None)


class Operation(NamedTuple):
    summary: str
    errors: dict[int, str] = {}


def _op(summary: str, **errors: str) -> Operation:
    """An operation's summary and extra error statuses, given as ``e409="..."``."""
    return Operation(summary, {int(key.removeprefix("e")): text for key, text in errors.items()})


_TRANSITION = "`illegal_transition`: the version's state does not allow this step (the message lists those it does)"
_NOT_CHECKPOINTED = "No checkpoint has been issued yet"
_AS_OF = "The time given is not ISO 8601 with a time zone"
_LINEAGE = "`direction` is not upstream or downstream, or `depth` is not 1 to 1000"
_SELF_REVIEW = "`self_review`: separation of duties, you registered or submitted this version"
_ERASED = "`erased`: the subject's key was destroyed on an erasure request; `key_unreadable`: it does not open"

OPERATIONS: dict[str, Operation] = {
    # meta and access
    "GET /api/v1/": _op("List the API's entry points"),
    "GET /api/v1/me": _op("Show who is calling: role, teams and scopes"),
    "GET /api/v1/teams/": _op("List teams"),
    "GET /api/v1/teams/{slug}/": _op("Show a team and its members"),
    "GET /api/v1/tokens/": _op("List your API tokens"),
    "POST /api/v1/tokens/": _op("Issue an API token (shown once)"),
    "GET /api/v1/tokens/{id}/": _op("Show an API token"),
    "DELETE /api/v1/tokens/{id}/": _op("Revoke an API token", e422="`refused`: the token is already revoked"),
    # models
    "GET /api/v1/models/": _op("List the models you may see"),
    "POST /api/v1/models/": _op(
        "Register a model, classified by the risk questionnaire", e409="`duplicate`: a model of that name exists"
    ),
    "GET /api/v1/models/{name}/": _op("Show a model"),
    "PATCH /api/v1/models/{name}/": _op("Edit a model's purpose, uses and KPIs"),
    "GET /api/v1/models/{name}/history": _op("Show which versions were live at a time, with approvals"),
    "POST /api/v1/models/{name}/risk": _op("Re-classify a model's risk tier"),
    "GET /api/v1/risk-questionnaire": _op("Show the EU AI Act risk questionnaire"),
    "GET /api/v1/models/{name}/webhooks/": _op("List a model's webhooks"),
    "POST /api/v1/models/{name}/webhooks/": _op(
        "Add a webhook (its secret shown once)",
        e409="`too_many_webhooks`: the model has `WEBHOOK_MAX_PER_MODEL` active webhooks already",
    ),
    "GET /api/v1/models/{name}/webhooks/{id}/": _op("Show a webhook"),
    "DELETE /api/v1/models/{name}/webhooks/{id}/": _op(
        "Remove a webhook", e409="`already_removed`: the webhook is removed already"
    ),
    "GET /api/v1/models/{name}/webhooks/{id}/deliveries/": _op("List a webhook's deliveries"),
    # versions
    "GET /api/v1/models/{name}/versions/": _op("List a model's versions"),
    "POST /api/v1/models/{name}/versions/": _op("Upload a version: its artifact and metadata"),
    "GET /api/v1/models/{name}/versions/{number}/": _op("Show a version"),
    "GET /api/v1/models/{name}/versions/{number}/mlbom": _op("Download a version's CycloneDX 1.6 ML-BOM"),
    "GET /api/v1/models/{name}/versions/{number}/model-card": _op("Show a version's model card"),
    "PUT /api/v1/models/{name}/versions/{number}/model-card": _op(
        "Edit a version's model card", e409="`card_frozen`: a reviewer has decided on the version"
    ),
    "POST /api/v1/models/{name}/versions/{number}/submit": _op(
        "Submit a version for review", e409=f"{_TRANSITION}; `prohibited`: a prohibited-practice model"
    ),
    "POST /api/v1/models/{name}/versions/{number}/approve": _op(
        "Approve a submitted version",
        e403=_SELF_REVIEW,
        e409=f"{_TRANSITION}; `duplicate_review`: you have reviewed it already",
    ),
    "POST /api/v1/models/{name}/versions/{number}/reject": _op(
        "Reject a submitted version",
        e403=_SELF_REVIEW,
        e409=f"{_TRANSITION}; `duplicate_review`: you have reviewed it already",
    ),
    "POST /api/v1/models/{name}/versions/{number}/deploy": _op(
        "Deploy an approved version",
        e409=f"{_TRANSITION}; `prohibited`; `approvals_missing`: fewer approvers than the tier needs; "
        "`deployment_blocked`: no passing audit under the required policy; `already_deployed`; `concurrent_deploy`",
    ),
    "POST /api/v1/models/{name}/versions/{number}/retire": _op(
        "Retire a deployed version", e409=f"{_TRANSITION}; `not_deployed`: the version is not live there"
    ),
    "GET /api/v1/models/{name}/versions/{number}/findings/": _op("List a version's findings"),
    "POST /api/v1/models/{name}/versions/{number}/findings/{id}/resolve": _op(
        "Resolve a finding",
        e403=_SELF_REVIEW,
        e409="`resolved`: the finding is resolved already; `not_deployed`: retiring a version that is not live",
    ),
    # lineage
    "GET /api/v1/models/{name}/versions/{number}/lineage": _op("Show a version's lineage graph", e422=_LINEAGE),
    "GET /api/v1/models/{name}/versions/{number}/lineage/prov": _op("Download a version's lineage as PROV-JSON"),
    "GET /api/v1/datasets/{name}/versions/{number}/lineage": _op("Show a dataset version's lineage", e422=_LINEAGE),
    "GET /api/v1/lineage/runs/": _op("List lineage runs"),
    "POST /api/v1/lineage/runs/": _op("Record a lineage run", e409="`duplicate`: a run with that id exists"),
    "GET /api/v1/lineage/runs/{run_id}/": _op("Show a lineage run"),
    "POST /api/v1/lineage/openlineage": _op(
        "Record an OpenLineage run event",
        e409="`conflict`: the run id is in use by another run, or another request is recording the event",
    ),
    # datasets
    "GET /api/v1/datasets/": _op("List the datasets you may see"),
    "POST /api/v1/datasets/": _op("Register a dataset", e409="`duplicate`: a dataset of that name exists"),
    "GET /api/v1/datasets/{name}/": _op("Show a dataset"),
    "GET /api/v1/datasets/{name}/versions/": _op("List a dataset's versions"),
    "POST /api/v1/datasets/{name}/versions/": _op("Upload a dataset version: a file or an external URI"),
    "GET /api/v1/datasets/{name}/versions/{number}/": _op("Show a dataset version and its profile"),
    # consent and subjects
    "GET /api/v1/datasets/{name}/versions/{number}/coverage": _op(
        "Count the subjects consenting to a purpose",
        e422="The purpose is unknown or missing, the time is not ISO 8601, or the dataset has no subject column",
    ),
    "GET /api/v1/consent/purposes/": _op("List purposes of processing"),
    "POST /api/v1/consent/purposes/": _op(
        "Define a purpose of processing", e409="`duplicate`: a purpose with that code exists"
    ),
    "GET /api/v1/consent/events/": _op("List consent events"),
    "POST /api/v1/consent/events/": _op("Record a consent event", e409=_ERASED),
    "POST /api/v1/consent/events/bulk": _op("Import consent events from a CSV file", e409=_ERASED),
    "POST /api/v1/subjects/lookup": _op("Look up the pseudonym of an external id"),
    "GET /api/v1/subjects/{pseudonym}/": _op("Show a subject's consent state", e422=_AS_OF),
    "POST /api/v1/subjects/{pseudonym}/access": _op("Answer a subject's access request (GDPR Art. 15)", e409=_ERASED),
    "POST /api/v1/subjects/{pseudonym}/erasure": _op("Erase a subject (GDPR Art. 17)", e409=_ERASED),
    "POST /api/v1/subjects/{pseudonym}/personal-data": _op("Store sealed personal data of a subject", e409=_ERASED),
    # policies
    "GET /api/v1/policies/": _op("List audit policies"),
    "POST /api/v1/policies/": _op(
        "Save a policy's next version (YAML)",
        e409="`builtin`: the name is a built-in policy's; or the policy is being created by someone else",
    ),
    "GET /api/v1/policies/{name}/": _op("Show a policy"),
    "GET /api/v1/policies/{name}/versions/{number}/": _op("Show one version of a policy"),
    "GET /api/v1/policies/{name}/diff": _op(
        "Compare two versions of a policy", e422="`from` or `to` is not a version number, or not one of the policy's"
    ),
    # audits
    "GET /api/v1/audits/": _op("List audit runs"),
    "POST /api/v1/audits/": _op(
        "Start an audit",
        e404="The model version or dataset version does not exist, or is not yours to see",
        e409="`running`: `force` while an audit of the same inputs is still running, or one is starting",
    ),
    "GET /api/v1/audits/{id}/": _op("Show an audit run: progress, verdict and checks"),
    "GET /api/v1/audits/{id}/ll144-summary/": _op(
        "Show an audit's NYC Local Law 144 summary",
        e409="`ll144_summary_unavailable`: the run is not complete, or its results cannot be summarised",
        e422="A query parameter that is not one of the summary's fields",
    ),
    # reports
    "GET /api/v1/audits/{id}/reports/": _op("List an audit run's signed reports"),
    "POST /api/v1/audits/{id}/reports/": _op(
        "Build a signed report of an audit run", e409="`report_refused`: the run is not complete, or ended in error"
    ),
    "GET /api/v1/models/{name}/versions/{number}/reports/": _op("List a version's signed reports"),
    "POST /api/v1/models/{name}/versions/{number}/reports/": _op("Build a signed report of a version"),
    "GET /api/v1/reports/{id}/": _op("Show a report's metadata"),
    "GET /api/v1/reports/{id}/pdf": _op("Download a signed PDF report"),
    # gate
    "POST /api/v1/gates/check": _op(
        "Ask the gate for a deployment decision",
        e404="The model, version or dataset does not exist for this token (`details.known` lists those that do)",
    ),
    "GET /api/v1/gates/decisions/{seq}/proof": _op(
        "Download the proof of a gate decision",
        e409="`not_checkpointed`: no checkpoint covers the decision yet (`Retry-After` says when to ask again)",
    ),
    "GET /api/v1/gates/client.py": _op("Download the gate's command-line client"),
    "GET /api/v1/gates/decision_proof.py": _op("Download the decision proof checker"),
    "GET /api/v1/gates/verifier.py": _op("Download the witness verifier"),
    # monitoring
    "GET /api/v1/models/{name}/versions/{number}/monitoring": _op("Show a version's monitoring configuration"),
    "PUT /api/v1/models/{name}/versions/{number}/monitoring": _op("Configure monitoring of a version"),
    "GET /api/v1/models/{name}/versions/{number}/monitoring/source": _op("Show where a version's batches live"),
    "PUT /api/v1/models/{name}/versions/{number}/monitoring/source": _op(
        "Read a version's batches from a partitioned source"
    ),
    "GET /api/v1/models/{name}/versions/{number}/batches/": _op("List a version's production batches"),
    "POST /api/v1/models/{name}/versions/{number}/batches/": _op(
        "Upload a production batch",
        e409="`not_configured`: the version has no monitoring configuration; or another batch arrived at once",
    ),
    "GET /api/v1/models/{name}/versions/{number}/batches/{batch}/": _op("Show a batch's statistics and alerts"),
    "POST /api/v1/models/{name}/versions/{number}/batches/{batch}/labels": _op(
        "Upload the labels of a batch", e409="`duplicate`: the batch has its labels already"
    ),
    "GET /api/v1/models/{name}/versions/{number}/drift": _op("Show a statistic over batches"),
    # obligations
    "GET /api/v1/obligation-catalogues/": _op("List obligation catalogues"),
    "POST /api/v1/obligation-catalogues/": _op("Save a catalogue's next version (YAML)"),
    "GET /api/v1/obligation-catalogues/{name}/": _op("Show an obligation catalogue"),
    "GET /api/v1/obligation-catalogues/{name}/oscal": _op("Download a catalogue as an OSCAL catalog"),
    "GET /api/v1/models/{name}/obligation-scope": _op("Show a model's roles and catalogues"),
    "PUT /api/v1/models/{name}/obligation-scope": _op("Set a model's roles and catalogues"),
    "GET /api/v1/models/{name}/versions/{number}/obligations/": _op("Show a version's compliance status"),
    "GET /api/v1/models/{name}/versions/{number}/obligations/oscal": _op(
        "Download a version's status as OSCAL assessment results"
    ),
    "POST /api/v1/models/{name}/versions/{number}/obligations/{catalogue}/{obligation}/decisions": _op(
        "Attest an obligation, or mark it not applicable"
    ),
    "GET /api/v1/models/{name}/versions/{number}/annex-iv": _op(
        "Show a version's Annex IV documentation", e422="`against` is not a version number"
    ),
    "GET /api/v1/models/{name}/versions/{number}/annex-iv.pdf": _op("Download the signed Annex IV PDF"),
    "GET /api/v1/models/{name}/versions/{number}/monitoring-plan": _op("Show a version's post-market monitoring plan"),
    "GET /api/v1/models/{name}/versions/{number}/monitoring-plan.pdf": _op("Download the signed monitoring plan"),
    "GET /api/v1/models/{name}/incidents/": _op("List a model's serious incidents"),
    "POST /api/v1/models/{name}/incidents/": _op("Record a serious incident"),
    "POST /api/v1/models/{name}/incidents/{id}/report": _op(
        "Report an incident to the authority", e409="`already_reported`: the incident was reported already"
    ),
    "POST /api/v1/models/{name}/incidents/{id}/steps": _op("Record a step taken about a serious incident"),
    "GET /api/v1/statement-of-applicability/": _op("Show the ISO/IEC 42001 statement of applicability"),
    "GET /api/v1/statement-of-applicability.csv": _op("Download the statement of applicability as CSV"),
    "GET /api/v1/statement-of-applicability.pdf": _op("Download the signed statement of applicability"),
    "PUT /api/v1/statement-of-applicability/{control}": _op("Decide on an Annex A control"),
    # exports
    "GET /api/v1/exports/": _op("List evidence bundles"),
    "POST /api/v1/exports/": _op(
        "Export an evidence bundle",
        e404="The model does not exist, or is not yours to see",
        e409="`concurrent_export`: a bundle for the same recipient is still being built",
    ),
    "GET /api/v1/exports/{id}/": _op("Show an evidence bundle and its build's progress"),
    "GET /api/v1/exports/{id}/download": _op(
        "Download an evidence bundle (ZIP)", e409="`export_not_ready`: the bundle is not built (yet, or at all)"
    ),
    "GET /api/v1/shares/": _op("List shares"),
    "POST /api/v1/shares/": _op(
        "Share a model or a bundle with a regulator", e404="The model or export does not exist, or is not yours"
    ),
    "POST /api/v1/shares/{id}/revoke": _op(
        "Revoke a share", e409="`already_revoked` or `already_expired`: the share gives no access already"
    ),
    "GET /api/v1/shares/{id}/accesses": _op("List the accesses a share gave"),
    # trail
    "GET /api/v1/trail/events/": _op("List trail events"),
    "GET /api/v1/trail/events/{seq}/": _op("Show a trail event"),
    "GET /api/v1/trail/checkpoints/": _op("List signed checkpoints"),
    "POST /api/v1/trail/checkpoints/": _op("Issue a signed checkpoint now", e422="The trail could not be checkpointed"),
    "GET /api/v1/trail/checkpoints/latest": _op("Show the newest signed checkpoint", e404=_NOT_CHECKPOINTED),
    "GET /api/v1/trail/proofs/inclusion": _op(
        "Prove an event is in the trail",
        e404="`queued` names no queued event",
        e422="`seq` or `tree_size` is missing, not an integer, or out of range (or no checkpoint exists yet), or the "
        "sequencer refused the queued event",
    ),
    "GET /api/v1/trail/proofs/consistency": _op(
        "Prove an earlier trail is a prefix of a later one",
        e422="`from` or `to` is missing, not an integer, or out of range",
    ),
}


_CREDIT_SCORING_ROLES = {
    "label": "credit_risk",
    "favourable": "1",
    "protected": ["age_group", "sex"],
    "features": [
        "duration_months",
        "credit_amount",
        "installment_rate",
        "residence_since",
        "age",
        "existing_credits",
        "people_liable",
    ],
}

# The main flows' request bodies: "METHOD /path" -> media type -> example name -> (summary, value).
EXAMPLES: dict[str, dict[str, dict[str, tuple[str, Any]]]] = {
    "POST /api/v1/models/": {
        "application/json": {
            "high_risk_credit_scoring": (
                "A credit-scoring model: Annex III 5(b), profiling people, so high risk",
                {
                    "name": "credit-scoring",
                    "team": "credit-risk",
                    "purpose": "Score consumer loan applications.",
                    "risk_answers": {
                        "art_5_practices": [],
                        "annex_i": "none",
                        "annex_iii_uses": ["5(b)"],
                        "profiles_natural_persons": True,
                        "transparency": [],
                    },
                },
            )
        }
    },
    "POST /api/v1/models/{name}/versions/": {
        "multipart/form-data": {
            "onnx_artifact": (
                "An ONNX artifact (the file goes in `artifact`) with its code's origin",
                {"metadata": '{"code_repository": "https://git.example.org/risk", "code_commit": "3f2a9c1"}'},
            )
        },
        "application/json": {
            "predictions_only": (
                "A version without an artifact: audits read its predictions from the dataset",
                {
                    "metrics": {"auc": 0.81},
                    "input_schema": [{"name": "income", "type": "float"}, {"name": "age", "type": "int"}],
                },
            )
        },
    },
    "POST /api/v1/audits/": {
        "application/json": {
            "four_fifths": (
                "Audit credit-scoring v1 on German credit under the four-fifths rule, scoring with its own model",
                {
                    "model": "credit-scoring",
                    "version": 1,
                    "dataset": "german-credit",
                    "dataset_version": 1,
                    "policy": "four-fifths",
                    "column_roles": _CREDIT_SCORING_ROLES,
                },
            )
        }
    },
    "POST /api/v1/gates/check": {
        "application/json": {
            "existing_audit": (
                "Judge v2 for production on its latest audit under the policy its tier requires",
                {"model": "credit-scoring", "version": 2, "environment": "production"},
            ),
            "start_audit": (
                "Judge v1, auditing it on German credit first if no audit of these inputs exists",
                {
                    "model": "credit-scoring",
                    "version": 1,
                    "environment": "production",
                    "dataset": "german-credit",
                    "dataset_version": 1,
                    "wait_seconds": 30,
                    "column_roles": _CREDIT_SCORING_ROLES,
                },
            ),
        }
    },
}


_GATE_ANSWER = {
    "model": "credit-scoring",
    "artifact_sha256": "9f2c5e0d6b1a4c3e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e",
    "environment": "production",
    "policy": {"name": "eu-ai-act-high-risk", "version": 1},
    "open_findings": [],
    "group_facts": [],
    "imported_evidence": [],  # the policy's criteria over other tools' evidence: eu-ai-act-high-risk judges none
}

# Answers of the main flows: "METHOD /path" -> status -> example name -> (summary, value).
RESPONSE_EXAMPLES: dict[str, dict[str, dict[str, tuple[str, Any]]]] = {
    "POST /api/v1/gates/check": {
        "200": {
            "pass": (
                "v2 passed its audit and has its approvals: deploy it, with the signed decision token",
                {
                    **_GATE_ANSWER,
                    "decision": "pass",
                    "reasons": ["Audit run 2 under 'eu-ai-act-high-risk' passed.", "Approved by 2 of 2 needed."],
                    "version": 2,
                    "audit": {
                        "id": 2,
                        "status": "done",
                        "verdict": "pass",
                        "url": "/api/v1/audits/2/",
                        "results_sha256": "4d1f0c9b8a7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c",
                    },
                    "approvers": [3, 5],
                    "findings_url": "/api/v1/models/credit-scoring/versions/2/findings/",
                    "token": "assay-gate/1 ... (a C2SP signed note; verify it offline, docs/gate.md)",
                    "decision_id": 42,
                    "proof_url": "/api/v1/gates/decisions/42/proof",
                },
            )
        },
        "412": {
            "fail": (
                "v1's audit failed: the job fails, and the reasons say why",
                {
                    **_GATE_ANSWER,
                    "decision": "fail",
                    "reasons": ["Audit run 3 failed: performance: accuracy 0.611 is below 0.7."],
                    "version": 1,
                    "audit": {
                        "id": 3,
                        "status": "done",
                        "verdict": "fail",
                        "url": "/api/v1/audits/3/",
                        "results_sha256": "7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a",
                    },
                    "approvers": [],
                    "findings_url": "/api/v1/models/credit-scoring/versions/1/findings/",
                    "token": None,
                    "decision_id": 41,
                    "proof_url": "/api/v1/gates/decisions/41/proof",
                },
            )
        },
    }
}
