"""docs/data-sources.md: the URIs it shows are accepted as written (given the settings it shows), its connection
declaration reads as it says, and its run_audit command parses with the command's own options."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from audits.management.commands.run_audit import Command
from governance.data.sources import parse_connections, parse_source

PAGE = Path(__file__).resolve().parents[2] / "docs" / "data-sources.md"


def _blocks() -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", PAGE.read_text(encoding="utf-8"), flags=re.S | re.M)


def _setting(name: str) -> list[str]:
    found = re.search(rf"^{name}=(\S+)", PAGE.read_text(encoding="utf-8"), flags=re.M)
    assert found, name
    return found.group(1).split(",")  # as settings.env_list reads it


def _bodies() -> list[dict]:
    return [json.loads(body) for block in _blocks() for body in re.findall(r"-d '(\{.*?\})'", block)]


def test_the_pages_uris_are_accepted(tmp_path: Path) -> None:
    uris = [body["source_uri"] for body in _bodies()]
    (parquet,) = [uri for uri in uris if uri.startswith("parquet://")]  # the others: test_docs_lakehouse.py
    (postgresql,) = [uri for uri in uris if uri.startswith("postgresql://")]
    # The folder the page names, made under a temporary root that stands for /srv/lake.
    roots = _setting("DATA_SOURCE_ROOTS")
    local = tmp_path / parquet.removeprefix(f"parquet://{roots[0]}/")
    local.mkdir(parents=True)
    assert parse_source(f"parquet://{local}", roots=[str(tmp_path)], connections={}).path == local
    connections = parse_connections(_setting("DATA_SOURCE_CONNECTIONS"))
    parsed = parse_source(postgresql, roots=[], connections=connections)
    assert parsed.table == "public.decisions"
    declared = parsed.connection
    assert declared is not None
    assert (declared.name, declared.user, declared.database) == ("warehouse", "auditor", "risk")
    assert (declared.password_env, declared.queries) == ("ASSAY_WAREHOUSE_PASSWORD", False)


def test_the_pages_run_audit_command_parses() -> None:
    (command,) = [block for block in _blocks() if "run_audit" in block]
    words = shlex.split(command.replace("\\\n", " "))
    arguments = words[words.index("run_audit") + 1 :]
    options = Command().create_parser("manage.py", "run_audit").parse_args(arguments)
    assert (options.dataset, options.dataset_version, options.prediction) == ("loan-evaluation", 4, "approved")


@pytest.mark.parametrize("name", ["DATA_SOURCE_ROOTS", "DATA_SOURCE_CONNECTIONS"])
def test_the_pages_settings_exist(name: str, settings: object) -> None:
    assert hasattr(settings, name)
