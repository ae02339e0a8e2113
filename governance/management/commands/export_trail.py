"""python manage.py export_trail --out DIR: the trail in the offline verifier's format (see verifier.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from governance.trail.checkpoints import CheckpointRefused, issue_checkpoint
from governance.trail.keys import published_verifier_keys
from governance.trail.leaf import format_time
from governance.trail.models import Checkpoint, Event
from governance.trail.witnesses import cosigned_note

VERIFIER = Path(__file__).resolve().parents[2] / "trail" / "verifier.py"


class Command(BaseCommand):
    help = "Export leaves (exact bytes), checkpoints and public keys, plus the standalone verifier, to DIR."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"]
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} is a file; give a new or empty directory.")
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} exists and is not empty; choose a new directory.")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"Cannot create {out}: {exc.strerror}") from None
        # Every export is covered by a checkpoint issued for it.
        try:
            checkpoint = issue_checkpoint(reason="export")
        except CheckpointRefused as exc:
            raise CommandError(f"Nothing exported: {exc}") from None
        assert checkpoint is not None
        size = checkpoint.tree_size
        with (out / "leaves.jsonl").open("wb") as handle:
            rows = Event.objects.filter(seq__lt=size).order_by("seq").values_list("leaf", flat=True)
            for leaf in rows.iterator(chunk_size=5000):
                handle.write(bytes(leaf) + b"\n")
        notes = [
            {"tree_size": cp.tree_size, "note": cosigned_note(cp)}  # with the witnesses' cosignatures
            for cp in Checkpoint.objects.filter(id__lte=checkpoint.id).prefetch_related("cosignatures").order_by("id")
        ]
        (out / "checkpoints.json").write_text(json.dumps({"checkpoints": notes}, indent=1), encoding="utf-8")
        (out / "keys.txt").write_text("".join(f"{key}\n" for key in published_verifier_keys()), encoding="utf-8")
        (out / "checkpoint.note").write_text(cosigned_note(checkpoint), encoding="utf-8")
        (out / "trail.json").write_text(
            json.dumps(
                {
                    "format": "assay-trail/1",
                    "origin": settings.TRAIL_ORIGIN,
                    "tree_size": size,
                    "exported_at": format_time(timezone.now()),
                    "leaf_encoding": "RFC 8785 JCS, UTF-8; leaves.jsonl holds one leaf per line",
                },
                indent=1,
            ),
            encoding="utf-8",
        )
        shutil.copyfile(VERIFIER, out / "verify.py")
        self.stdout.write(f"Exported {size} events and {len(notes)} checkpoints to {out}")
        self.stdout.write(f"Verify offline: python {out / 'verify.py'} verify {out} --trusted-keys KEYS_YOU_TRUST")
