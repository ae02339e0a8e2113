"""python manage.py add_user NAME --role ROLE [--team TEAM ...] [--email E] [--password-file F | --no-password]"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.access.actions import ActionError, do_create_user
from governance.access.roles import Role
from governance.trail.log import Actor


class Command(BaseCommand):
    help = "Create a user with one role. The password comes from --password-file or a prompt, never an argument."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--team", action="append", default=[], help="team slug; repeat for several")
        parser.add_argument("--email", default="")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--password-file", type=Path, help="read the password from this file's first line")
        source.add_argument(
            "--no-password", action="store_true", help="a service account that signs in only with tokens"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password: str | None
        if options["no_password"]:
            password = None
        elif options["password_file"]:
            try:
                password = options["password_file"].read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError) as exc:
                raise CommandError(f"Cannot read a password from {options['password_file']}: {exc}") from None
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        try:
            user = do_create_user(
                username=options["username"],
                role=options["role"],
                teams=options["team"],
                email=options["email"],
                password=password,
                actor=Actor.system(),
            )
        except ActionError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Created {user.username} ({user.role}).")
