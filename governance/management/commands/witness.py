"""python manage.py witness keygen|serve ...: run the C2SP witness (governance/trail/witness.py) from a checkout.

The witness is a standalone program so that a regulator can run it without Assay; this command only saves typing
``python governance/trail/witness.py``. It needs no database and no settings beyond Django's start-up.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from governance.trail import witness


class Command(BaseCommand):
    help = "Run a witness that cosigns Assay checkpoints (C2SP tlog-witness); see docs/witnesses.md."
    requires_system_checks: list[str] = []  # an outside party's witness does not depend on this Assay's settings

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arguments", nargs="*", help="keygen ... or serve ... (see 'witness help')")

    def run_from_argv(self, argv: list[str]) -> None:
        # Hand every argument after "witness" to the program's own parser (its --options are not Django's).
        sys.exit(witness.main(argv[2:]))

    def handle(self, *args: Any, **options: Any) -> None:  # pragma: no cover - run_from_argv never calls it
        sys.exit(witness.main(list(options["arguments"])))
