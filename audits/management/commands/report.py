"""python manage.py report --run ID | --model NAME --version N --out FILE.pdf [--new] [--as USERNAME]
[--cert-out CERT.pem]

Writes the signed PDF compliance report of an audit run or a model version: the latest stored one that is still
current, or a new one (always new with ``--new``). Building one is recorded in the trail (``report.generated``,
``report.signed``) as the user named by ``--as``, else as the system. ``--cert-out`` also writes the signing
certificate, to validate the PDF offline: ``pyhanko sign validate --trust CERT.pem --no-revocation-check FILE.pdf``.
A run that is not complete is refused (exit 1, with the reason).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audits.models import AuditRun
from audits.reports import service
from audits.reports.signing import signing_certificate_pem
from governance.access.models import User
from governance.trail.log import Actor
from registry.models import ModelVersion


class Command(BaseCommand):
    help = "Write the signed PDF report of an audit run (--run) or a model version (--model, --version) to --out."

    def add_base_argument(self, parser: Any, *args: Any, **kwargs: Any) -> None:
        # --version names a model version here (as everywhere in Assay), not Django's version.
        if "--version" not in args:
            super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", type=int, metavar="ID", help="an audit run id")
        parser.add_argument("--model", metavar="NAME", help="a registered model's name (with --version)")
        parser.add_argument("--version", type=int, metavar="N", help="the model's version number")
        parser.add_argument("--out", required=True, metavar="FILE.pdf", help="where to write the signed PDF")
        parser.add_argument("--new", action="store_true", help="build a new report even if a current one is stored")
        parser.add_argument("--as", dest="username", metavar="USERNAME", help="record the build as this user")
        parser.add_argument("--cert-out", metavar="CERT.pem", help="also write the signing certificate (PEM)")

    def handle(self, *args: Any, **options: Any) -> None:
        by_run = options["run"] is not None
        if by_run == bool(options["model"]) or bool(options["model"]) != (options["version"] is not None):
            raise CommandError("Give --run ID, or --model NAME with --version N.", returncode=2)
        actor = Actor.system()
        if options["username"]:
            user = User.objects.filter(username=options["username"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active user named {options['username']!r}.")
            actor = Actor.for_user(user)
        try:
            if by_run:
                run = AuditRun.objects.select_related("model_version__model").filter(pk=options["run"]).first()
                if run is None:
                    raise CommandError(f"No audit run {options['run']}.")
                build_run = service.build_run_report if options["new"] else service.report_for_run
                report = build_run(run, actor=actor)
            else:
                version = (
                    ModelVersion.objects.select_related("model")
                    .filter(model__name=options["model"], number=options["version"])
                    .first()
                )
                if version is None:
                    raise CommandError(f"No version {options['version']} of a model named {options['model']!r}.")
                build_version = service.build_version_report if options["new"] else service.report_for_version
                report = build_version(version, actor=actor)
        except service.ReportRefused as exc:
            raise CommandError(str(exc)) from None
        Path(options["out"]).write_bytes(report.read_bytes())
        if options["cert_out"]:
            Path(options["cert_out"]).write_bytes(signing_certificate_pem())
        self.stdout.write(
            f"Report {report.pk} ({report.kind}, {report.pages} pages, verdict {report.verdict or 'none'}) written to "
            f"{options['out']}\nsha256 {report.sha256}\nsigned by certificate sha256 {report.signer_certificate_sha256}"
        )
