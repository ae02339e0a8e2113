"""python manage.py deliver_webhooks: attempt every webhook delivery that is due (run it from cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from registry.tasks import retry_due_webhooks


class Command(BaseCommand):
    help = "Attempt the pending webhook deliveries whose retry time has come; prints how many were attempted."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{retry_due_webhooks()} deliveries attempted.")
