"""python manage.py lifecycle TRANSITION MODEL VERSION --as USER [--reason R] [--environment ENV]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.access.actions import ActionError
from governance.access.models import User
from governance.trail.log import Actor
from registry import actions
from registry.models import Environment, ModelVersion

TRANSITIONS = ("submit", "approve", "reject", "deploy", "retire")


class Command(BaseCommand):
    help = (
        "Move a model version through its lifecycle as a named user. The same rules as the API apply: the "
        "state machine, roles and separation of duties (a submitter never approves their own version)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("transition", choices=TRANSITIONS)
        parser.add_argument("model")
        parser.add_argument("version", type=int)
        parser.add_argument("--as", dest="username", required=True, help="the user who performs the transition")
        parser.add_argument("--reason", default="")
        parser.add_argument("--environment", choices=Environment.values)

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"There is no active user named '{options['username']}'.")
        version = ModelVersion.objects.filter(model__name=options["model"], number=options["version"]).first()
        if version is None:
            raise CommandError(f"There is no version {options['version']} of model '{options['model']}'.")
        kwargs: dict[str, Any] = {
            "version": version,
            "user": user,
            "actor": Actor.for_user(user),
            "reason": options["reason"],
        }
        transition = options["transition"]
        if transition == "deploy":
            kwargs["environment"] = options["environment"] or Environment.PRODUCTION
        if transition == "retire" and options["environment"]:
            kwargs["environment"] = options["environment"]
        try:
            getattr(actions, f"do_{transition}")(**kwargs)
        except ActionError as exc:
            raise CommandError(str(exc)) from None
        version.refresh_from_db()
        self.stdout.write(f"{version}: {version.state}")
