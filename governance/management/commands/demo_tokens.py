"""python manage.py demo_tokens (`make demo-tokens`): new API tokens for the demo's users, as shell assignments.

`make run` shows the CI token once, at first start (only tokens' hashes are stored, so it cannot be shown again), and
the docs' curl examples need the tokens of omar, rhea and olivia as well: this prints a fresh one for each, as
``OWNER=assay_...`` lines that ``eval "$(make -s demo-tokens)"`` sets in a shell. DEBUG only, like the demo.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from governance.access.actions import do_issue_token
from governance.access.models import User
from governance.trail.log import Actor

# The shell variable of each demo user's token, as the docs' examples name them.
DEMO_TOKENS = (
    ("OWNER", "omar", "owner in credit-risk"),
    ("REVIEWER", "rhea", "reviewer in credit-risk"),
    ("OFFICER", "olivia", "compliance officer"),
    ("CI", "ci-bot", "the CI pipeline"),
)
DAYS = 30


class Command(BaseCommand):
    help = "Issue new API tokens for the demo users and print them as shell assignments. DEBUG only."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_tokens is for the demo; it runs only with DEBUG=1.")
        users = {u.username: u for u in User.objects.filter(username__in=[name for _, name, _ in DEMO_TOKENS])}
        missing = [name for _, name, _ in DEMO_TOKENS if name not in users]
        if missing:
            raise CommandError(f"No demo users {', '.join(missing)}: run `make run` (or manage.py seed_demo) first.")
        for variable, username, who in DEMO_TOKENS:
            issued = do_issue_token(user=users[username], actor=Actor.system(), name="make demo-tokens", days=DAYS)
            self.stdout.write(f"{variable}={issued.raw}  # {username}, {who}; expires in {DAYS} days")
