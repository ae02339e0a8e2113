"""docs/monitoring.md: the batch-source requests it shows are accepted as written: each body passes the API's
serializer, its URI parses with the settings docs/data-sources.md shows, and the path is the endpoint's."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from django.urls import resolve

from audits.api.monitoring_source import BatchSourceSerializer
from governance.data.sources import parse_connections, parse_source
from governance.data.sources.partitions import partition_of

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _requests() -> list[tuple[str, dict]]:
    text = (DOCS / "monitoring.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M) if "monitoring/source" in b]
    found = []
    for block in blocks:
        for url, body in re.findall(r"(http://\S+/monitoring/source) .*?-d '(\{.*?\})'", block, flags=re.S):
            found.append((url, json.loads(body)))
    return found


def _setting(name: str) -> list[str]:
    found = re.search(rf"^{name}=(\S+)", (DOCS / "data-sources.md").read_text(encoding="utf-8"), flags=re.M)
    assert found, name
    return found.group(1).split(",")


def test_the_pages_batch_sources_are_accepted(tmp_path: Path) -> None:
    requests = _requests()
    assert len(requests) == 2
    connections = parse_connections(_setting("DATA_SOURCE_CONNECTIONS"))
    kinds = []
    for url, body in requests:
        assert resolve(url.removeprefix("http://127.0.0.1:8000")).url_name == "version-monitoring-source"
        serializer = BatchSourceSerializer(data=body)
        assert serializer.is_valid(), serializer.errors
        uri = body["uri"]
        if uri.startswith("parquet://"):  # the folder the page names, under a temporary root standing for /srv/lake
            local = tmp_path / uri.removeprefix(f"parquet://{_setting('DATA_SOURCE_ROOTS')[0]}/")
            (local / "date=2026-12-05").mkdir(parents=True)
            source = parse_source(f"parquet://{local}", roots=[str(tmp_path)], connections={})
        else:
            source = parse_source(uri, roots=[], connections=connections)
        partition = partition_of(source, body["partition_column"], dt.date.fromisoformat(body["start"]))
        kinds.append((source.kind, partition.column))
    assert kinds == [("postgresql", "scored_on"), ("parquet", "date")]
