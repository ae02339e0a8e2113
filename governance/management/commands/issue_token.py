"""python manage.py issue_token NAME [--read-only] [--days N] [--label TEXT]: prints the token alone."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.access.actions import ActionError, do_issue_token
from governance.access.models import User
from governance.trail.log import Actor


class Command(BaseCommand):
    help = "Issue an API token for a user and print it (alone, on stdout). Only its hash is stored."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--read-only", action="store_true", help="the token can only read")
        parser.add_argument("--days", type=int, default=None, help="expire after N days (default: never)")
        parser.add_argument("--label", default="", help="a name to tell the token apart in lists")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user named '{options['username']}'.")
        try:
            issued = do_issue_token(
                user=user,
                actor=Actor.system(),
                name=options["label"],
                read_only=options["read_only"],
                days=options["days"],
            )
        except ActionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(issued.raw)
