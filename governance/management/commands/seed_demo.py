"""python manage.py seed_demo: demo teams, users and data for `make run` (development only, idempotent).

The data is real: UCI Statlog German Credit (CC BY 4.0, in governance/data/demo/) with an invented applicant id
per row, a credit-scoring model trained on it, a purpose with consents, and one withdrawal with its finding. After
it a newcomer sees every feature: credit-scoring v1 under review (its failing audit with a signed report);
credit-scoring v2, trained without age on a derived german-credit v2, passing the audit its high risk tier requires
and approved by two reviewers, so the approval gate answers pass for it with the demo CI token; a second model
approved, deployed and monitored (one ordinary production batch, one deliberately shifted, whose drift and
live-fairness alerts are open findings), credit-scoring shared with the demo regulator, and one evidence bundle.

Each step is done once: it checks whether its result exists, so running the command again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from audits.actions import do_start_audit, ensure_builtin_policies
from audits.checks.base import PASS
from audits.gate.decisions import required_policy
from audits.models import AuditRun, Report, RunStatus
from audits.monitoring import actions as monitoring
from audits.policies import resolve as resolve_policy
from audits.reports.service import report_for_run
from governance.access.actions import do_create_user, do_issue_token
from governance.access.models import Team, User
from governance.data import actions as data
from governance.data.demo import (
    DEMO_FEATURES,
    DEMO_HYPERPARAMETERS,
    INDICATOR_COLUMNS,
    MONITORED_FEATURES,
    SCORING_FEATURES,
    audit_roles,
    cards,
    demo_batches,
    german_credit_csv,
    german_credit_v2_csv,
    train_demo_model,
    train_scoring_model,
)
from governance.data.models import Dataset, DatasetVersion
from governance.exports.actions import do_create_export, do_create_share
from governance.exports.models import Export, Share
from governance.trail.checkpoints import issue_checkpoint, latest_checkpoint
from governance.trail.log import Actor, tree_size
from registry import actions as registry
from registry.models import ModelVersion, RegisteredModel, Review, VersionState

DEMO_PASSWORD = "assay-demo-2026"  # noqa: S105 - development only: the command refuses to run with DEBUG off

DEMO_USERS = [
    ("ada", "admin", []),
    ("olivia", "officer", []),
    ("omar", "owner", ["credit-risk"]),
    ("rhea", "reviewer", ["credit-risk"]),
    ("hana", "owner", ["hiring"]),
    ("regina", "regulator", []),
]


class Command(BaseCommand):
    help = "Create demo users (one per role) with a shared demo password, and a CI token. DEBUG only."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("seed_demo creates accounts with a published password; it runs only with DEBUG=1.")
        created = []
        for username, role, teams in DEMO_USERS:
            if not User.objects.filter(username=username).exists():
                do_create_user(username=username, role=role, teams=teams, password=DEMO_PASSWORD, actor=Actor.system())
                created.append(username)
        ci = User.objects.filter(username="ci-bot").first()
        ci_token = None
        if ci is None:
            ci = do_create_user(username="ci-bot", role="ci", actor=Actor.system())
            ci_token = do_issue_token(user=ci, actor=Actor.system(), name="demo pipeline", days=30).raw
        if not Dataset.objects.filter(name="german-credit").exists():
            self._seed_data()
            self.stdout.write(
                "Demo data: dataset german-credit (UCI German Credit), model credit-scoring v1 (ONNX) audited under "
                "four-fifths (it fails: applicants aged 25 or under), consents and one withdrawal with its finding."
            )
        self._seed_story()
        latest = latest_checkpoint()
        if latest is None or latest.tree_size < tree_size():  # a run that added nothing signs nothing new
            issue_checkpoint(reason="seed")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, teams in DEMO_USERS:
            team_text = f" in {', '.join(teams)}" if teams else ""
            self.stdout.write(f"  {username:<8} {role}{team_text}")
        if ci_token:
            self.stdout.write(f"CI token for ci-bot (shown once): {ci_token}")
        else:  # only its hash is stored: it cannot be shown again
            self.stdout.write("The CI token was shown at the first start (only its hash is kept).")
        self.stdout.write("API tokens for ci-bot, omar, rhea and olivia, as shell variables: make demo-tokens")
        if not created and not ci_token:
            self.stdout.write("(the demo users already existed)")
        if figures := _demo_figures():
            self.stdout.write(figures)
        self.stdout.write("Portal: http://127.0.0.1:8000/   API docs: http://127.0.0.1:8000/api/docs/")

    def _seed_data(self) -> None:
        """A dataset, a training run, a model, consents and one withdrawal (which opens a finding)."""
        owner = User.objects.get(username="omar")
        officer = User.objects.get(username="olivia")
        as_owner, as_officer = Actor.for_user(owner), Actor.for_user(officer)
        team = Team.objects.get(slug="credit-risk")
        dataset = data.do_register_dataset(
            user=owner,
            actor=as_owner,
            name="german-credit",
            team=team,
            description="Consumer credit applications (UCI Statlog German Credit) with an applicant id per row.",
        )
        content = german_credit_csv(with_groups=True)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "german-credit.csv"
            path.write_bytes(content)
            version = data.do_register_dataset_version(
                dataset=dataset,
                user=owner,
                actor=as_owner,
                file_path=path,
                file_name="german-credit.csv",
                source="UCI Machine Learning Repository, Statlog (German Credit Data), 1994",
                licence="CC BY 4.0",
                subject_id_column="applicant_id",
                label_column="credit_risk",
            )
            model = registry.do_register_model(
                user=owner,
                actor=as_owner,
                name="credit-scoring",
                team=team,
                purpose="Scores consumer credit applications for the risk of default.",
                intended_use="Pre-screening of consumer loan applications, with a human decision on each.",
                out_of_scope_uses="Employment, insurance or tenancy decisions.",
                risk_answers=HIGH_RISK_CREDIT,
            )
            artifact = Path(folder) / "credit-scoring.onnx"
            artifact.write_bytes(train_demo_model(content))
            model_version = registry.do_register_version(
                model=model,
                user=owner,
                actor=as_owner,
                artifact_path=artifact,
                artifact_name="credit-scoring.onnx",
                hyperparameters=DEMO_HYPERPARAMETERS,
                training_datasets=[{"dataset": dataset.name, "version": version.number}],
                code_repository="https://git.example.org/credit/scoring",
                code_commit="9fceb02d0ae598e95dc970b74767f19372d61af8",
                model_card=cards.CREDIT_SCORING_V1,
            )
        # The demo's audit: the four-fifths rule by age group (the in-process job runs it right away).
        ensure_builtin_policies()
        four_fifths = resolve_policy("four-fifths")
        do_start_audit(
            user=owner,
            actor=as_owner,
            model_version=model_version,
            dataset_version=version,
            policy_version=four_fifths,
            column_roles=audit_roles(DEMO_FEATURES),
        )
        purpose = data.do_create_purpose(
            user=officer,
            actor=as_officer,
            code="model_training",
            description="Use of application data to train and evaluate credit-risk models.",
            legal_basis="consent",
        )
        given = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)
        # One outer transaction for the 900 consents (each action's own becomes a savepoint): one commit to disk
        # instead of 900, and nothing of them is kept if one fails.
        with transaction.atomic():
            for number in range(1, 901):  # 900 of the 1000 applicants were asked and agreed
                self._consent(officer, purpose, given, number)
        data.do_record_consent(
            user=officer,
            actor=as_officer,
            purpose=purpose,
            kind="withdrawn",
            occurred_at=given + dt.timedelta(days=40),
            external_id=WITHDRAWN_APPLICANT,
            source="customer portal",
            notice_version="2026-01",
        )

    @staticmethod
    def _consent(officer: User, purpose: Any, given: dt.datetime, number: int) -> None:
        data.do_record_consent(
            user=officer,
            actor=Actor.for_user(officer),
            purpose=purpose,
            kind="given",
            occurred_at=given,
            external_id=f"DE-{number:04d}",
            source="application form",
            notice_version="2026-01",
            controller="Example Bank AG",
            pii_categories=["financial", "demographic"],
            collection_method="online form",
            jurisdiction="DE",
        )

    def _seed_story(self) -> None:
        """The rest of the lifecycle, each step once: review, a signed report, a deployed and monitored model, a
        share with the regulator and an evidence bundle."""
        owner, officer, reviewer = (User.objects.get(username=n) for n in ("omar", "olivia", "rhea"))
        as_owner, as_officer = Actor.for_user(owner), Actor.for_user(officer)
        credit = ModelVersion.objects.select_related("model").get(model__name="credit-scoring", number=1)
        if credit.state == VersionState.DRAFT:
            registry.do_submit(
                version=credit, user=owner, actor=as_owner, reason="Ready for review: the audit's findings attached."
            )
            self.stdout.write("credit-scoring v1 is submitted for review (the approvals inbox of rhea and olivia).")
        run = AuditRun.objects.filter(model_version=credit, status=RunStatus.DONE).order_by("id").first()
        if run is not None and not Report.objects.filter(run=run).exists():
            report_for_run(run, actor=as_officer)
            self.stdout.write(f"A signed PDF report of audit run {run.pk}.")
        self._seed_second_version(owner=owner, officer=officer, reviewer=reviewer)
        if not RegisteredModel.objects.filter(name=MONITORED_MODEL).exists():
            self._seed_monitored(owner=owner, officer=officer, reviewer=reviewer)
            self.stdout.write(
                f"{MONITORED_MODEL} v1 approved, deployed and monitored: batch 1 is ordinary, batch 2 is shifted "
                "(credit_amount up one standard deviation, female approvals halved): drift and fairness alerts."
            )
        regulator = User.objects.get(username="regina")
        shares = Share.objects.filter(model=credit.model, regulator=regulator, revoked_at__isnull=True)
        if not any(share.is_active() for share in shares):
            do_create_share(
                user=officer,
                actor=as_officer,
                regulator=regulator,
                model=credit.model,
                expires_at=timezone.now() + dt.timedelta(days=90),
                reason="Demo: market surveillance request about credit scoring (EU AI Act Art. 74).",
            )
            self.stdout.write("credit-scoring is shared with regina (regulator) for 90 days.")
        if not Export.objects.exists():
            export = do_create_export(user=officer, actor=as_officer, model=credit.model, recipient=regulator)
            self.stdout.write(f"Evidence bundle {export.pk} for regina: {export.status}.")

    def _seed_second_version(self, *, owner: User, officer: User, reviewer: User) -> None:
        """credit-scoring v2, each step once: german-credit v2 derived from v1 (with its lineage run), the model
        trained on it, its audit under the policy the high risk tier requires, and, once that passed, its review."""
        as_owner = Actor.for_user(owner)
        model = RegisteredModel.objects.get(name="credit-scoring")
        v1_data = DatasetVersion.objects.get(dataset__name="german-credit", number=1)
        v2_data = DatasetVersion.objects.filter(dataset=v1_data.dataset, number=2).first()
        with tempfile.TemporaryDirectory() as folder:
            if v2_data is None:
                with default_storage.open(str(v1_data.file.name)) as stored:
                    content = german_credit_v2_csv(stored.read(), without=(WITHDRAWN_APPLICANT,))
                path = Path(folder) / "german-credit-v2.csv"
                path.write_bytes(content)
                v2_data = data.do_register_dataset_version(
                    dataset=v1_data.dataset,
                    user=owner,
                    actor=as_owner,
                    file_path=path,
                    file_name=path.name,
                    source=f"Derived from german-credit v1: indicator columns added, {WITHDRAWN_APPLICANT} removed",
                    licence="CC BY 4.0",
                    subject_id_column="applicant_id",
                    label_column="credit_risk",
                )
                data.do_record_run(
                    user=owner,
                    actor=as_owner,
                    job_name="german-credit-indicators",
                    inputs=[v1_data],
                    outputs=[v2_data],
                    code_ref="https://git.example.org/credit/scoring@9b3e1c4",
                    parameters={
                        "indicators": {name: f"{a} == {code}" for name, (a, code) in INDICATOR_COLUMNS.items()},
                        "removed_applicants": [WITHDRAWN_APPLICANT],  # withdrew consent to model training
                    },
                )
            version = ModelVersion.objects.filter(model=model, number=2).first()
            if version is None:
                with default_storage.open(str(v2_data.file.name)) as stored:
                    artifact = Path(folder) / "credit-scoring.onnx"
                    artifact.write_bytes(train_scoring_model(stored.read()))
                version = registry.do_register_version(
                    model=model,
                    user=owner,
                    actor=as_owner,
                    artifact_path=artifact,
                    artifact_name="credit-scoring.onnx",
                    hyperparameters={**DEMO_HYPERPARAMETERS, "class_weight": None},
                    training_datasets=[{"dataset": v2_data.dataset.name, "version": v2_data.number}],
                    code_repository="https://git.example.org/credit/scoring",
                    code_commit="9b3e1c4f5a0d27e86c1b9f3a4d5e6f708192a3b4",
                    model_card=cards.CREDIT_SCORING_V2,
                )
        # The policy its tier requires (eu-ai-act-high-risk by default), or that one where the settings require none.
        policy = required_policy(version) or required_policy(version, "eu-ai-act-high-risk")
        policy_name = policy.policy.name
        # Audited on all the rows it was trained on, so its numbers are in-sample: the policy's selection-rate
        # intervals (at most 0.2 wide) need the 190 applicants aged 25 or under of the whole data; a held-out third
        # would leave about 60 of them, too few to judge.
        run, started = do_start_audit(
            user=owner,
            actor=as_owner,
            model_version=version,
            dataset_version=v2_data,
            policy_version=policy,
            column_roles=audit_roles(SCORING_FEATURES),
        )
        run.refresh_from_db()
        if started:
            self.stdout.write(
                f"credit-scoring v2 (trained without age on german-credit v2) audited under {policy_name}: "
                f"audit run {run.pk} is {run.status}, verdict {run.verdict or 'none yet'}."
            )
        if run.status != RunStatus.DONE:  # a worker runs it: submitted and approved by the next seed_demo
            self.stdout.write(f"credit-scoring v2 waits for audit run {run.pk}; run seed_demo again once it is done.")
            return
        if run.verdict != PASS:  # reviewers do not approve what its required audit did not pass
            return
        if version.state == VersionState.DRAFT:
            version = registry.do_submit(
                version=version, user=owner, actor=as_owner, reason=f"Audit run {run.pk} passed {policy_name}."
            )
        if version.state == VersionState.SUBMITTED:
            for approver in (reviewer, officer):  # four eyes: a high-risk version needs two distinct approvers
                if Review.objects.filter(version=version, reviewer=approver).exists():
                    continue
                version = registry.do_approve(
                    version=version,
                    user=approver,
                    actor=Actor.for_user(approver),
                    reason=f"Audit run {run.pk} passed; age is no longer an input.",
                )
            self.stdout.write(
                "credit-scoring v2 is approved by rhea and olivia: the gate answers pass for it with the CI token."
            )

    def _seed_monitored(self, *, owner: User, officer: User, reviewer: User) -> None:
        """A minimal-risk model on the same data, approved and deployed, with two monitored production batches."""
        as_owner, as_officer = Actor.for_user(owner), Actor.for_user(officer)
        dataset_version = DatasetVersion.objects.get(dataset__name="german-credit", number=1)
        model = registry.do_register_model(
            user=owner,
            actor=as_owner,
            name=MONITORED_MODEL,
            team=Team.objects.get(slug="credit-risk"),
            purpose="Estimates the default risk of the loan book for IFRS 9 expected-credit-loss provisions.",
            intended_use="Portfolio provisioning totals, reviewed by finance; no decision about any applicant.",
            out_of_scope_uses="Decisions about individual applicants or customers.",
            risk_answers=MINIMAL_RISK_PROVISIONING,
        )
        content = german_credit_csv(with_groups=True)
        # The same estimator as credit-scoring v1 (trained on the same data): its stored bytes, not a second fit.
        credit = ModelVersion.objects.get(model__name="credit-scoring", number=1)
        with default_storage.open(str(credit.artifact.name)) as stored:
            model_bytes = stored.read()
        with tempfile.TemporaryDirectory() as folder:
            artifact = Path(folder) / "loan-provisioning.onnx"
            artifact.write_bytes(model_bytes)
            version = registry.do_register_version(
                model=model,
                user=owner,
                actor=as_owner,
                artifact_path=artifact,
                artifact_name="loan-provisioning.onnx",
                hyperparameters=DEMO_HYPERPARAMETERS,
                training_datasets=[{"dataset": "german-credit", "version": dataset_version.number}],
                code_repository="https://git.example.org/credit/provisioning",
                code_commit="4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                model_card=cards.LOAN_PROVISIONING_V1,
            )
            registry.do_submit(version=version, user=owner, actor=as_owner, reason="Minimal risk: one approver.")
            registry.do_approve(
                version=version, user=reviewer, actor=Actor.for_user(reviewer), reason="Portfolio use only."
            )
            registry.do_deploy(
                version=version, user=officer, actor=as_officer, environment="production", reason="Quarter-end run."
            )
            monitoring.do_configure_monitoring(
                version=version,
                user=owner,
                actor=as_owner,
                features=[
                    {"name": name, "kind": "categorical" if name == "purpose" else "numeric"}
                    for name in MONITORED_FEATURES
                ],
                prediction="decision",
                favourable="1",
                protected=["sex"],
            )
            ci = User.objects.get(username="ci-bot")
            for number, batch in enumerate(demo_batches(content, model_bytes), start=1):
                path = Path(folder) / f"batch-{number}.csv"
                path.write_bytes(batch)
                # Checked when the upload commits (in process without a broker).
                monitoring.do_upload_batch(
                    version=version, user=ci, actor=Actor.for_user(ci), file_path=path, file_name=path.name
                )


def _demo_figures() -> str:
    """The figures of credit-scoring v1's four-fifths audit, as README states them, from the run's results."""
    run = (
        AuditRun.objects.filter(model_version__model__name="credit-scoring", model_version__number=1, status="done")
        .order_by("id")
        .first()
    )
    checks = (run.results or {}).get("checks", {}) if run else {}
    groupings = checks.get("disparate_impact", {}).get("groupings", [])
    groups = {
        g["group"]: g for grouping in groupings if grouping["grouping"] == "age_group" for g in grouping["groups"]
    }
    young, older = groups.get("age_group=<=25"), groups.get("age_group=>25")
    if run is None or young is None or older is None:
        return ""
    return (
        f"Audit run {run.pk} (credit-scoring v1, four-fifths): {run.verdict}. It approves {young['selected']} of the "
        f"{young['count']} applicants aged 25 or under ({young['selection_rate']:.2f}) against {older['selected']} of "
        f"the {older['count']} older ones ({older['selection_rate']:.2f}), an impact ratio of "
        f"{young['impact_ratio']:.2f}."
    )


MONITORED_MODEL = "loan-provisioning"

# The demo applicant who withdraws consent to model training (a finding on credit-scoring v1; v2's data leaves them
# out).
WITHDRAWN_APPLICANT = "DE-0042"

# Provisioning estimates for the whole loan book: no Annex III use, no decision about a person: minimal risk.
MINIMAL_RISK_PROVISIONING = {
    "prohibited_practice": "none",
    "annex_iii_area": "none",
    "profiles_natural_persons": False,
    "human_reviews_each_decision": True,
    "interacts_with_people_or_generates_content": False,
}

# Credit scoring profiles applicants in an Annex III area (5(b), creditworthiness): high risk.
HIGH_RISK_CREDIT = {
    "prohibited_practice": "none",
    "annex_iii_area": "essential_services",
    "profiles_natural_persons": True,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}
