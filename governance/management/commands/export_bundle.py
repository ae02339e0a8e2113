"""python manage.py export_bundle --model NAME [--version N] [--from DATE --to DATE] [--recipient USER] --out FILE.zip

The same action as ``POST /api/v1/exports/``: the bundle is recorded, retained and downloadable again; this command
also writes a copy to ``--out``. It waits for the build (in this process without a broker; with one, it polls the
export while a worker builds it, printing the progress). It acts as ``--as`` (an officer or administrator), by
default the only active officer when there is exactly one.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.access.actions import ActionError
from governance.access.models import User
from governance.access.roles import Role
from governance.celery import app
from governance.exports.actions import do_create_export, execute_export, open_bundle
from governance.exports.models import Export, ExportStatus
from governance.trail.log import Actor
from registry.models import RegisteredModel


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD).") from None


class Command(BaseCommand):
    help = "Export a model's evidence bundle (signed manifest, reports, trail proofs, offline verify.py) to a ZIP."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # --version here is the model version (the interface), not Django's own version flag.
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True, help="the registered model's name")
        parser.add_argument("--version", type=int, help="only this version (default: all)")
        parser.add_argument("--from", dest="date_from", type=_date, help="first day (YYYY-MM-DD, UTC)")
        parser.add_argument("--to", dest="date_to", type=_date, help="last day, inclusive (YYYY-MM-DD, UTC)")
        parser.add_argument("--recipient", help="the regulator account it is for (its previous bundle is linked)")
        parser.add_argument("--as", dest="as_user", help="the officer or administrator exporting")
        parser.add_argument("--out", type=Path, required=True, help="where to write the ZIP (a new file)")
        parser.add_argument(
            "--wait", type=int, default=3600, help="seconds to wait for a worker to build it (default 3600)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        if out.exists():
            raise CommandError(f"{out} exists; choose a new file name.")
        if not out.parent.is_dir():
            raise CommandError(f"{out.parent} is not a directory.")
        user = self._exporter(options["as_user"])
        model = RegisteredModel.objects.filter(name=options["model"]).first()
        if model is None:
            raise CommandError(f"There is no model named {options['model']!r}.")
        version = None
        if options["version"] is not None:
            version = model.versions.filter(number=options["version"]).first()
            if version is None:
                raise CommandError(f"{model.name} has no version {options['version']}.")
        recipient = None
        if options["recipient"]:
            recipient = User.objects.filter(username=options["recipient"]).first()
            if recipient is None:
                raise CommandError(f"There is no user named {options['recipient']!r}.")
        try:
            export = do_create_export(
                user=user,
                actor=Actor.for_user(user),
                model=model,
                version=version,
                date_from=options["date_from"],
                date_to=options["date_to"],
                recipient=recipient,
            )
        except ActionError as error:
            raise CommandError(str(error)) from None
        export = self._wait(export, seconds=options["wait"])
        if export.status != ExportStatus.READY:
            raise CommandError(f"Export {export.pk} failed: {export.error}")
        assert export.checkpoint is not None
        with open_bundle(export) as source, out.open("xb") as target:
            shutil.copyfileobj(source, target)
        self.stdout.write(
            f"Exported {model.name} as export {export.pk}: {export.size} bytes, sha256 {export.sha256}, "
            f"{export.events} trail events proved against checkpoint size {export.checkpoint.tree_size}."
        )
        self.stdout.write(f"Wrote {out}. Verify offline: python verify.py {out} --trusted-keys KEYS_YOU_TRUST")

    def _wait(self, export: Export, *, seconds: int) -> Export:
        """The export once its build ended, polling while a worker builds it."""
        if export.is_live and app.conf.task_always_eager:
            # No broker, so no worker: the build runs here (already done, unless an outer transaction holds it back).
            export = execute_export(export.pk)
        deadline, said = time.monotonic() + seconds, ""
        while export.is_live:
            if time.monotonic() > deadline:
                raise CommandError(
                    f"Export {export.pk} is still {export.status} after {seconds} s; it carries on: "
                    f"GET /api/v1/exports/{export.pk}/ shows its progress."
                )
            line = f"{export.status} {export.progress}%: {export.progress_note}"
            if line != said:
                self.stderr.write(line)
                said = line
            time.sleep(1)
            export.refresh_from_db()
        return export

    def _exporter(self, username: str | None) -> User:
        exporters = User.objects.filter(is_active=True, role__in=[Role.OFFICER, Role.ADMIN])
        if username:
            user = User.objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"There is no user named {username!r}.")
            return user  # the action refuses anyone who may not export, with its own message
        officers = list(exporters.filter(role=Role.OFFICER)[:2])
        if len(officers) != 1:
            raise CommandError("Say who exports: --as USERNAME (an officer or administrator).")
        return officers[0]
