"""python manage.py reclassify_risk --reason "...": re-classify every model from its stored answers under the
current rules and citations catalogue (after a correction of either), opening a finding where a tier changes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.trail.log import Actor
from registry.actions import RegistryError, do_reclassify_stored_risk
from registry.models import RegisteredModel


class Command(BaseCommand):
    help = (
        "Re-classify every model (or those named) from its stored risk answers under the current rules; where the "
        "tier changes, each version not retired or rejected gets a finding for an officer to confirm."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reason", required=True, help="Why (kept on each model and committed in the trail).")
        parser.add_argument("models", nargs="*", help="Model names (default: every model).")

    def handle(self, *args: Any, **options: Any) -> None:
        reason = options["reason"].strip()
        if not reason:
            raise CommandError("--reason must say why the models are re-classified.")
        models = RegisteredModel.objects.order_by("name")
        if options["models"]:
            missing = sorted(
                set(options["models"]) - set(models.filter(name__in=options["models"]).values_list("name", flat=True))
            )
            if missing:
                raise CommandError(f"No model named {', '.join(missing)}; nothing was re-classified.")
            models = models.filter(name__in=options["models"])
        for model in models:
            old = model.risk_tier
            try:
                new = do_reclassify_stored_risk(model=model, actor=Actor.system(), reason=reason).risk_tier
            except RegistryError as exc:
                self.stderr.write(f"{model.name}: not re-classified: {exc}")
                continue
            change = f"{old} -> {new}" if old != new else f"{old} (unchanged)"
            self.stdout.write(f"{model.name}: {change}")
