"""python manage.py monitor_batch --model NAME --version N --data FILE [--as USER] [--delimiter ,] [--json]"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audits.api.monitoring import BatchDetailSerializer
from audits.monitoring.actions import do_upload_batch, execute_check
from governance.access.actions import ActionError
from governance.access.models import User
from governance.access.roles import Role
from governance.trail.log import Actor
from registry.models import ModelVersion


class Command(BaseCommand):
    help = (
        "Send a production batch (CSV or Parquet) of a model version and check it now: drift per feature, "
        "prediction drift, live fairness and, with labels, performance decay. Same rules as the API."
    )

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version is the model version here (the interface), not Django's version flag.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True)
        parser.add_argument("--version", type=int, required=True)
        parser.add_argument("--data", type=Path, required=True, help="the batch file")
        parser.add_argument("--as", dest="username", help="who sends it (default: the only active CI account)")
        parser.add_argument("--delimiter", default=",")
        parser.add_argument("--json", action="store_true", help="print the batch and its results as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options["username"])
        version = ModelVersion.objects.filter(model__name=options["model"], number=options["version"]).first()
        if version is None:
            raise CommandError(f"There is no version {options['version']} of model '{options['model']}'.")
        path: Path = options["data"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            batch = do_upload_batch(
                version=version,
                user=user,
                actor=Actor.for_user(user),
                file_path=path,
                file_name=path.name,
                delimiter=options["delimiter"],
            )
        except ActionError as exc:
            raise CommandError(str(exc)) from None
        batch = execute_check(batch.pk)  # a no-op when the in-process job checked it already
        if options["json"]:
            self.stdout.write(json.dumps(BatchDetailSerializer(batch).data, default=str, indent=2))
            return
        self.stdout.write(f"{version} batch {batch.number}: {batch.rows} rows, {batch.status}")
        if batch.error:
            self.stdout.write(f"  error: {batch.error}")
        for alert in (batch.results or {}).get("alerts", []) + (batch.results or {}).get("warnings", []):
            self.stdout.write(f"  {alert['level']}: {alert['title']}")

    def _user(self, username: str | None) -> User:
        if username:
            user = User.objects.filter(username=username, is_active=True).first()
            if user is None:
                raise CommandError(f"There is no active user named '{username}'.")
            return user
        pipelines = list(User.objects.filter(role=Role.CI, is_active=True)[:2])
        if len(pipelines) != 1:
            raise CommandError("Say who sends the batch with --as USER (an owner of the model's team, or CI).")
        return pipelines[0]
