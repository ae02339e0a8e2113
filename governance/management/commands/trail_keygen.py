"""python manage.py trail_keygen --out FILE: create an Ed25519 checkpoint signing key (PEM, mode 0600)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.trail.keys import generate_private_key_pem


class Command(BaseCommand):
    help = "Write a new Ed25519 private key for signing checkpoints; point TRAIL_SIGNING_KEY_FILE at it."
    # The hint of assay.E003 (the configured key cannot be loaded) names this command: that check must not block it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["out"]
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CommandError(f"{path} exists; refusing to overwrite a key.") from None
        except OSError as exc:
            raise CommandError(f"Cannot create {path}: {exc.strerror}") from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(generate_private_key_pem())
        self.stdout.write(f"Wrote {path}. Keep it secret; back it up; set TRAIL_SIGNING_KEY_FILE={path}.")
