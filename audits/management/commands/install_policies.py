"""python manage.py install_policies: store the shipped audit policies (a new version when their text changed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from audits.actions import ensure_builtin_policies
from audits.models import Policy


class Command(BaseCommand):
    help = "Store the built-in audit policies (four-fifths, nyc-ll144, eu-ai-act-high-risk, baseline). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        ensure_builtin_policies()
        for policy in Policy.objects.filter(builtin=True):
            latest = policy.latest_version()
            self.stdout.write(f"{policy.name} v{latest.number if latest else '?'}: {policy.title}")
