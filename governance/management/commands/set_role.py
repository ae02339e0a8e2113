"""python manage.py set_role NAME --role ROLE [--team TEAM ...]: change a user's role (recorded in the trail)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.access.actions import ActionError, do_change_role
from governance.access.models import User
from governance.access.roles import Role
from governance.trail.log import Actor


class Command(BaseCommand):
    help = "Change a user's role and, with --team, their teams. The change is an event in the trail."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--team", action="append", default=None, help="team slug; repeat for several")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"There is no user named '{options['username']}'.")
        try:
            user = do_change_role(user=user, actor=Actor.system(), role=options["role"], teams=options["team"])
        except ActionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{user.username} is now {user.role}.")
