"""python manage.py seed_demo: demo teams, users and data for `make run` (development only, idempotent).

The data is real: UCI Statlog German Credit (CC BY 4.0, in governance/data/demo/) with an invented applicant id
per row, a credit-scoring model trained on it, a purpose with consents, and one withdrawal with its finding.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from audits.actions import do_start_audit, ensure_builtin_policies
from audits.models import Policy
from governance.access.actions import do_create_user, do_issue_token
from governance.access.models import Team, User
from governance.data import actions as data
from governance.data.demo import DEMO_FEATURES, german_credit_csv, train_demo_model
from governance.data.models import Dataset
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.log import Actor
from registry import actions as registry

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
        issue_checkpoint(reason="seed")
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, role, teams in DEMO_USERS:
            team_text = f" in {', '.join(teams)}" if teams else ""
            self.stdout.write(f"  {username:<8} {role}{team_text}")
        if ci_token:
            self.stdout.write(f"CI token for ci-bot (shown once): {ci_token}")
        if not created and not ci_token:
            self.stdout.write("(the demo users already existed)")
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
                hyperparameters={"estimator": "LogisticRegression", "class_weight": "balanced", "max_iter": 2000},
                training_datasets=[{"dataset": dataset.name, "version": version.number}],
                code_repository="https://git.example.org/credit/scoring",
                code_commit="9fceb02d0ae598e95dc970b74767f19372d61af8",
            )
        # The demo's audit: the four-fifths rule by age group (the in-process job runs it right away).
        ensure_builtin_policies()
        four_fifths = Policy.objects.get(name="four-fifths").latest_version()
        assert four_fifths is not None
        do_start_audit(
            user=owner,
            actor=as_owner,
            model_version=model_version,
            dataset_version=version,
            policy_version=four_fifths,
            column_roles={
                "label": "credit_risk",
                "favourable": "1",
                "protected": ["age_group", "sex"],
                "features": list(DEMO_FEATURES),
            },
        )
        purpose = data.do_create_purpose(
            user=officer,
            actor=as_officer,
            code="model_training",
            description="Use of application data to train and evaluate credit-risk models.",
            legal_basis="consent",
        )
        given = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)
        for number in range(1, 901):  # 900 of the 1000 applicants were asked and agreed
            data.do_record_consent(
                user=officer,
                actor=as_officer,
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
        data.do_record_consent(
            user=officer,
            actor=as_officer,
            purpose=purpose,
            kind="withdrawn",
            occurred_at=given + dt.timedelta(days=40),
            external_id="DE-0042",
            source="customer portal",
            notice_version="2026-01",
        )


# Credit scoring profiles applicants in an Annex III area (5(b), creditworthiness): high risk.
HIGH_RISK_CREDIT = {
    "prohibited_practice": "none",
    "annex_iii_area": "essential_services",
    "profiles_natural_persons": True,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}
