"""Spark sources use only what the operator declared (DATA_SOURCE_SPARK): a URI names a connection and a table.

No Spark runs here: these are the declarations and URIs, refused with the reason before any JVM starts.
"""

from __future__ import annotations

import pytest

from governance.data.sources import SourceError
from governance.data.sources.spark import parse_spark_connections, parse_spark_source

ENTRY = "lake=local[2]?warehouse=/srv/spark/warehouse&metastore_db=/srv/spark/metastore_db"


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("lake=local[2]", "name the Hive metastore the tables are in"),
        ("lake=local[2]?metastore=thrift://meta:9083&metastore_db=/srv/m", "name the Hive metastore"),
        ("lake=local[2]?metastore=http://meta:9083", "metastore is a Hive metastore's thrift://host:port"),
        ("lake=local[2]?metastore_db=relative/path", "metastore_db is an absolute path"),
        ("lake=local[2]?metastore_db=/m&warehouse=wh", "warehouse is an absolute path"),
        ("lake=local[2]?metastore_db=/m&spark.driver.extraJavaOptions=-Dx", "unknown or repeated setting(s) spark."),
        ("lake=local[2]?metastore_db=/m&secret.spark.driver.memory=VAR", "a secret is secret.spark.hadoop.<key>=VAR"),
        ("lake=local[2]?metastore_db=/m&secret.spark.hadoop.fs.s3a.secret.key=lower", "a secret is secret.spark"),
        ("lake=local[2]?metastore_db=/m&shuffle_partitions=many", "shuffle_partitions is a whole number"),
        ("lake=mesos://m:5050?metastore_db=/m", "write name=<master>?settings"),
        ("Lake=local[2]?metastore_db=/m", "write name=<master>?settings"),
        ("lake=local[2]?metastore_db=/m&metastore_db=/n", "given twice"),
    ],
)
def test_a_bad_declaration_is_named(entry: str, words: str) -> None:
    with pytest.raises(SourceError) as refused:
        parse_spark_connections([entry])
    assert words in str(refused.value)
    assert "DATA_SOURCE_SPARK entry" in str(refused.value)


def test_a_declaration_is_read_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = (
        "prod=spark://spark-master.internal:7077?warehouse=/srv/wh&metastore=thrift://meta.internal:9083"
        "&shuffle_partitions=64&secret.spark.hadoop.fs.s3a.secret.key=LAKE_S3_SECRET"
    )
    declared = parse_spark_connections([entry, ENTRY])["prod"]
    assert (declared.master, declared.warehouse, declared.metastore) == (
        "spark://spark-master.internal:7077",
        "/srv/wh",
        "thrift://meta.internal:9083",
    )
    with pytest.raises(SourceError, match="LAKE_S3_SECRET that Spark connection prod names is not set"):
        declared.conf()
    monkeypatch.setenv("LAKE_S3_SECRET", "s3cr3t")
    conf = declared.conf()
    assert conf["spark.hadoop.fs.s3a.secret.key"] == "s3cr3t"
    assert conf["spark.hadoop.hive.metastore.uris"] == "thrift://meta.internal:9083"
    assert (conf["spark.ui.enabled"], conf["spark.sql.shuffle.partitions"]) == ("false", "64")
    assert "s3cr3t" not in repr(declared)  # the declaration holds the variable's name, not its value


@pytest.mark.parametrize(
    ("uri", "table"),
    [("spark://lake/risk.decisions", "risk.decisions"), ("spark://lake/decisions", "default.decisions")],
)
def test_a_uri_names_a_table_on_a_declared_connection(uri: str, table: str) -> None:
    source = parse_spark_source(uri, entries=[ENTRY])
    assert source is not None
    assert (source.kind, source.table, source.location) == ("spark", table, f"spark://lake/{table}")
    assert source.qualified == ".".join(f"`{part}`" for part in table.split("."))


def test_other_schemes_are_not_spark() -> None:
    assert parse_spark_source("postgresql://warehouse/public.decisions", entries=[ENTRY]) is None
    assert parse_spark_source("parquet:///srv/lake/x", entries=[]) is None
