"""docs/data-sources.md, "A Spark table": the Spark declaration it shows reads as it says, and its URI is accepted
on it (as tests/sources/test_docs_sources.py checks the page's other sources)."""

from __future__ import annotations

import json
import re

from governance.data.sources.spark import parse_spark_source
from tests.sources.test_docs_sources import PAGE, _blocks


def test_the_pages_spark_source_is_accepted() -> None:
    bodies = [json.loads(body) for block in _blocks() for body in re.findall(r"--json '(\{.*?\})'", block)]
    (uri,) = [body["source_uri"] for body in bodies if body["source_uri"].startswith("spark://")]
    found = re.search(r"^DATA_SOURCE_SPARK='([^']+)'$", PAGE.read_text(encoding="utf-8"), flags=re.M)
    assert found, "the page shows DATA_SOURCE_SPARK='...' (quoted: & and [ ] mean something to the shell)"
    entries = found.group(1).split(",")  # as settings.env_list reads it

    source = parse_spark_source(uri, entries=entries)

    assert source is not None
    assert (source.table, source.location) == ("risk.decisions", "spark://lake/risk.decisions")
    declared = source.spark
    assert declared is not None
    assert (declared.master, declared.warehouse, declared.metastore) == (
        "local[4]",
        "/srv/spark/warehouse",
        "thrift://metastore.internal:9083",
    )
    assert declared.secrets == (("spark.hadoop.fs.s3a.secret.key", "LAKE_S3_SECRET"),)


def test_the_spark_setting_exists(settings: object) -> None:
    assert hasattr(settings, "DATA_SOURCE_SPARK")
