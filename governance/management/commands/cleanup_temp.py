"""Remove temporary upload files that killed processes left behind (see governance.tempfiles)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.tempfiles import cleanup_temp_files, staging_folder


class Command(BaseCommand):
    help = (
        "Remove files in FILE_UPLOAD_TEMP_DIR not modified for TEMP_FILE_MAX_AGE_SECONDS: uploads of processes that "
        "were killed (a running request's file is never that old). Safe to run at any time; beat runs it hourly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help=f"age limit in seconds (default TEMP_FILE_MAX_AGE_SECONDS, {settings.TEMP_FILE_MAX_AGE_SECONDS})",
        )

    def handle(self, *args: Any, older_than: int | None = None, **options: Any) -> None:
        if older_than is not None and older_than < 0:
            raise CommandError("--older-than must be 0 or more seconds.")
        removed = cleanup_temp_files(older_than=older_than)
        self.stdout.write(f"Removed {len(removed)} temporary file(s) from {staging_folder()}.")
