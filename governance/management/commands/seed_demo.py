"""python manage.py seed_demo: demo teams and users for `make run` (development only, idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from governance.access.actions import do_create_user, do_issue_token
from governance.access.models import User
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.log import Actor

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
