"""``manage.py incident_reminders``: record the reminders due for unreported serious incidents (run it from cron,
e.g. hourly); each reminder is a trail event, sent once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from obligations.incidents import send_reminders


class Command(BaseCommand):
    help = "Record the reminders due now for serious incidents not yet reported (Art. 73 deadlines)."

    def handle(self, *args: Any, **options: Any) -> None:
        for incident, label in send_reminders():
            due = f"{incident.deadline:%Y-%m-%d %H:%M} UTC"
            self.stdout.write(f"{label}: incident {incident.pk} of {incident.model.name}, report due {due}")
