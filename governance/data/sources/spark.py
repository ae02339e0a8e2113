"""Spark tables as sources: ``spark://<connection>/<database>.<table>``, read by a Spark session in the audit's process.

The operator declares each Spark connection in ``DATA_SOURCE_SPARK`` (comma-separated entries
``name=<master>?settings``): the master (``local[N]``, ``local[*]``, ``spark://host:port``, ``yarn``,
``k8s://https://host:port``), the warehouse folder, the Hive metastore the tables are in (a ``thrift://`` service,
or an embedded Derby database for one process), and the Spark settings whose values are secret, each read from the
one environment variable named. A source URI names a declared connection and a table, nothing else.

The immutability evidence is computed by Spark in the form the PostgreSQL source records (``evidence``): the table's
columns, its row count, and the sums over all rows of the two signed 64-bit halves of ``md5(row text)``, where the
row text is PostgreSQL's ``row::text`` (a record literal: ``(v1,v2,...)``, NULL as nothing, a value quoted when it
is empty or holds ``"``, ``\\``, ``(``, ``)``, ``,`` or white space, with ``"`` and ``\\`` doubled inside) built with
Spark's own functions. For text, integer, boolean, decimal, date, timestamp and binary columns the text is
PostgreSQL's, so the same rows give the same digest on both (``tests/sources/test_spark_sources.py`` checks COMPAS);
floating-point and nested columns are written as Spark writes them (Java's ``Double.toString``: ``1.0`` where
PostgreSQL writes ``1``), so a table with such columns has a digest of the same form that differs from PostgreSQL's.

A process holds one Spark session (the JVM holds one SparkContext): :func:`session` starts it for a connection and
refuses a second connection in the same process, saying so.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from governance.data.sources.uris import Source, SourceError

SPARK = "spark"
DIGEST_METHOD = (
    "sum of the two signed 64-bit halves of md5(row text) over all rows, and count(*); the row text is "
    "PostgreSQL's row::text for text, integer, boolean, decimal, date, timestamp and binary columns, Spark's own "
    "text for floating-point and nested columns"
)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
# Spark masters an operator may name (no "local[N,F]": its comma would split the comma-separated setting).
_MASTER = re.compile(
    r"^(local(\[(\*|[1-9][0-9]{0,3})\])?|spark://[A-Za-z0-9.-]+:[0-9]{1,5}|yarn|k8s://https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)$"
)
_SECRET_KEY = re.compile(r"^spark\.hadoop\.[A-Za-z0-9._-]{1,200}$")
_SETTINGS = {"warehouse", "metastore", "metastore_db", "shuffle_partitions"}
# The characters that make PostgreSQL's record output quote a value (record_out: '"', '\\', '(', ')', ',' and
# isspace in the C locale).
_QUOTED = '"\\(), \t\n\r\v\f'


@dataclass(frozen=True)
class SparkConnection:
    """A Spark connection the operator declared (``DATA_SOURCE_SPARK``): the master, the warehouse and the Hive
    metastore a source's table is looked up in, and the secret Spark settings (key, environment variable)."""

    name: str
    master: str
    warehouse: str = ""
    metastore: str = ""  # hive.metastore.uris: thrift://host:port
    metastore_db: str = ""  # an embedded Derby metastore (one process at a time)
    shuffle_partitions: int = 0  # 0: Spark's default
    secrets: tuple[tuple[str, str], ...] = ()

    def conf(self) -> dict[str, str]:
        """The Spark settings of a session on this connection, secrets read from their variables (SourceError when
        one is not set)."""
        conf = {
            "spark.app.name": "assay-source",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.catalogImplementation": "hive",
            "spark.sql.session.timeZone": "UTC",  # timestamps' text, hashed by the digest, in UTC as PostgreSQL's
        }
        if self.warehouse:
            conf["spark.sql.warehouse.dir"] = self.warehouse
        if self.metastore:
            conf["spark.hadoop.hive.metastore.uris"] = self.metastore
        if self.metastore_db:
            folder = Path(self.metastore_db)
            conf["spark.hadoop.javax.jdo.option.ConnectionURL"] = f"jdbc:derby:;databaseName={folder};create=true"
            conf["spark.driver.extraJavaOptions"] = f"-Dderby.system.home={folder.parent}"
        if self.shuffle_partitions:
            conf["spark.sql.shuffle.partitions"] = str(self.shuffle_partitions)
        for key, variable in self.secrets:
            value = os.environ.get(variable)
            if value is None:
                raise SourceError(
                    f"The environment variable {variable} that Spark connection {self.name} names is not set."
                )
            conf[key] = value
        return conf


@dataclass(frozen=True)
class SparkSource(Source):
    """A table (``database.table``) in a declared Spark connection's metastore."""

    spark: SparkConnection | None = None

    @property
    def qualified(self) -> str:
        """The table as Spark names it, each part quoted (the parts are plain identifiers, checked by the parser)."""
        return ".".join(f"`{part}`" for part in self.table.split("."))

    @property
    def location(self) -> str:
        assert self.spark is not None
        return f"spark://{self.spark.name}/{self.table}"  # no credentials: they stay in the environment


def parse_spark_connections(entries: Sequence[str]) -> dict[str, SparkConnection]:
    """The Spark connections the operator declared, each ``name=<master>`` with optional ``?warehouse=/path&
    metastore=thrift://host:port&metastore_db=/path&shuffle_partitions=N&secret.spark.hadoop.<key>=VAR``. Raises
    SourceError naming the bad entry."""
    connections: dict[str, SparkConnection] = {}
    for entry in entries:
        name, _, declared = entry.strip().partition("=")
        name = name.strip()
        where = f"DATA_SOURCE_SPARK entry {name or entry!r}"
        master, _, query = declared.strip().partition("?")
        if not _NAME.match(name) or not _MASTER.match(master):
            raise SourceError(
                f"{where}: write name=<master>?settings, the master local[N], local[*], spark://host:port, yarn or "
                "k8s://https://host:port, the name in lower case letters, digits, '-' and '_'."
            )
        if name in connections:
            raise SourceError(f"{where}: the name is declared twice.")
        params = parse_qs(query, keep_blank_values=True)
        secrets = {key[len("secret.") :]: values for key, values in params.items() if key.startswith("secret.")}
        unknown = sorted(set(params) - _SETTINGS - {f"secret.{key}" for key in secrets})
        if unknown or any(len(values) > 1 for values in params.values()):
            raise SourceError(
                f"{where}: unknown or repeated setting(s) {', '.join(unknown) or 'given twice'}; allowed once each: "
                f"{', '.join(sorted(_SETTINGS))}, and secret.spark.hadoop.<key>=VAR."
            )
        given = {key: values[0] for key, values in params.items()}
        for key in ("warehouse", "metastore_db"):
            if given.get(key) and not Path(given[key]).is_absolute():
                raise SourceError(f"{where}: {key} is an absolute path.")
        metastore = given.get("metastore", "")
        if metastore and not re.match(r"^thrift://[A-Za-z0-9.-]+:[0-9]{1,5}$", metastore):
            raise SourceError(f"{where}: metastore is a Hive metastore's thrift://host:port.")
        if bool(metastore) == bool(given.get("metastore_db")):
            raise SourceError(
                f"{where}: name the Hive metastore the tables are in: metastore=thrift://host:port, or "
                "metastore_db=/absolute/path for an embedded Derby metastore (one process at a time)."
            )
        partitions = given.get("shuffle_partitions", "0")
        if not partitions.isdigit() or int(partitions) > 100_000:
            raise SourceError(f"{where}: shuffle_partitions is a whole number.")
        for key, (variable,) in secrets.items():
            if not _SECRET_KEY.match(key) or not _ENV_NAME.match(variable):
                raise SourceError(
                    f"{where}: a secret is secret.spark.hadoop.<key>=VAR, VAR an environment variable's name "
                    "(capitals, digits, _)."
                )
        connections[name] = SparkConnection(
            name=name,
            master=master,
            warehouse=given.get("warehouse", ""),
            metastore=metastore,
            metastore_db=given.get("metastore_db", ""),
            shuffle_partitions=int(partitions),
            secrets=tuple(sorted((key, values[0]) for key, values in secrets.items())),
        )
    return connections


def parse_spark_source(uri: str, *, entries: Sequence[str]) -> SparkSource | None:
    """A ``spark://<connection>/<database>.<table>`` source (``<table>`` alone: the ``default`` database) on a
    connection ``entries`` (``DATA_SOURCE_SPARK``) declares; None for any other scheme. Raises SourceError."""
    uri = uri.strip()
    if not uri.lower().startswith("spark://"):
        return None
    parts = urlsplit(uri)
    if "@" in parts.netloc or ":" in parts.netloc:
        raise SourceError(
            "A spark:// source names a declared connection, not a user, password, host or port: "
            "spark://<connection>/<database>.<table>. The operator declares connections in DATA_SOURCE_SPARK."
        )
    if parts.query or parts.fragment:
        raise SourceError(
            "A spark:// source takes no parameters: the master, metastore and settings are the declared connection's."
        )
    connections = parse_spark_connections(entries)
    if not connections:
        raise SourceError(
            "Spark sources are not enabled: the operator declares Spark connections in DATA_SOURCE_SPARK."
        )
    connection = connections.get(parts.netloc)
    if connection is None:
        raise SourceError(
            f"{parts.netloc or 'No connection'} is not a Spark connection DATA_SOURCE_SPARK declares "
            f"(declared: {', '.join(sorted(connections))})."
        )
    names = parts.path.strip("/").split(".")
    if len(names) == 1:
        names = ["default", *names]
    if len(names) != 2 or not all(_IDENTIFIER.match(name) for name in names):
        raise SourceError(
            f"Name a table as spark://{connection.name}/<database>.<table> (or <table> in the default database): "
            "plain names of letters, digits and underscores."
        )
    table = ".".join(names)
    return SparkSource(kind=SPARK, uri=f"spark://{connection.name}/{table}", table=table, spark=connection)


_lock = threading.Lock()
_started: dict[str, Any] = {}  # the one session of this process, under its connection


def session(connection: SparkConnection) -> Any:
    """This process's Spark session on ``connection``, started at the first call (a JVM: seconds). A process holds
    one SparkContext, so a session on another connection (or one Assay did not start) is refused. Raises
    SourceError when PySpark or Java is missing."""
    with _lock:
        if _started:
            if _started["connection"] != connection:
                raise SourceError(
                    f"This process already reads Spark connection {_started['connection'].name}, and a process holds "
                    f"one Spark session: {connection.name}'s sources are read in another worker process."
                )
            return _started["session"]
        try:
            from pyspark import SparkContext  # noqa: PLC0415 - PySpark loads only for a Spark source
            from pyspark.sql import SparkSession  # noqa: PLC0415 - PySpark loads only for a Spark source
        except ImportError:
            raise SourceError("PySpark is not installed here: `make spark` installs it (and Java).") from None
        if SparkContext._active_spark_context is not None:
            raise SourceError(
                "A Spark session that Assay did not start runs in this process; Spark sources use their own."
            )
        builder = SparkSession.builder.master(connection.master)
        for key, value in connection.conf().items():
            builder = builder.config(key, value)
        try:
            started = builder.enableHiveSupport().getOrCreate()
        except Exception as exc:  # no Java, a master that cannot be reached: PySpark raises several types
            raise SourceError(f"Spark connection {connection.name} could not start: {str(exc).strip()[:500]}") from None
        started.sparkContext.setLogLevel("ERROR")
        logging.getLogger("py4j").setLevel(logging.WARNING)  # not a line per closed gateway connection
        _started.update(connection=connection, session=started)
        return started


def table(source: SparkSource) -> Any:
    """The source's table as a Spark DataFrame (SourceError when the table does not exist or cannot be read)."""
    assert source.spark is not None
    spark = session(source.spark)
    try:
        if not spark.catalog.tableExists(source.table):
            raise SourceError(f"The table {source.table} does not exist on Spark connection {source.spark.name}.")
        return spark.table(source.qualified)
    except SourceError:
        raise
    except Exception as exc:  # AnalysisException and the JVM's errors
        raise SourceError(f"Spark cannot read {source.table}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]


def column(name: str) -> Any:
    """The column ``name`` of a DataFrame, quoted (a name may hold dots or spaces)."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - PySpark loads only for a Spark source

    return F.col("`" + name.replace("`", "``") + "`")


def _field(values: Any, kind: Any) -> Any:
    """One field of PostgreSQL's record text (see the module docstring): the value's text, quoted where
    record_out quotes it, NULL as nothing. Only text (and nested values) are searched for characters that need
    quotes: the text of a number, boolean or date never has one, that of a timestamp always (its space)."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - PySpark loads only for a Spark source
    from pyspark.sql import types as T  # noqa: PLC0415 - PySpark loads only for a Spark source

    if isinstance(kind, T.BooleanType):
        text = F.when(values, F.lit("t")).when(~values, F.lit("f"))  # NULL: neither
    elif isinstance(kind, T.TimestampType):  # timestamptz's text in UTC, quoted (it holds a space)
        text = F.concat(F.lit('"'), values.cast("string"), F.lit('+00"'))
    elif isinstance(kind, T.TimestampNTZType):
        text = F.concat(F.lit('"'), values.cast("string"), F.lit('"'))
    elif isinstance(kind, T.BinaryType):  # bytea_output=hex: \x..., its backslash doubled inside quotes
        text = F.concat(F.lit('"\\\\x'), F.lower(F.hex(values)), F.lit('"'))
    elif isinstance(kind, (T.StringType, T.VarcharType, T.CharType, T.ArrayType, T.MapType, T.StructType)):
        text = values if isinstance(kind, (T.StringType, T.VarcharType, T.CharType)) else F.to_json(values)
        escaped = F.replace(F.replace(text, F.lit("\\"), F.lit("\\\\")), F.lit('"'), F.lit('""'))
        # A character of _QUOTED present: translate() deletes them all, so the text gets shorter.
        needs = (text == F.lit("")) | (F.length(F.translate(text, _QUOTED, "")) < F.length(text))
        text = F.when(needs, F.concat(F.lit('"'), escaped, F.lit('"'))).otherwise(text)
    else:  # integers, decimals, dates; floating point as Spark writes it
        text = values.cast("string")
    return F.coalesce(text, F.lit(""))


def row_text(frame: Any) -> Any:
    """Each row's text as PostgreSQL's ``row::text`` writes it (for the types the module docstring names)."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - PySpark loads only for a Spark source

    fields = [_field(column(field.name), field.dataType) for field in frame.schema.fields]
    return F.concat(F.lit("("), F.concat_ws(",", *fields), F.lit(")"))


def digest_of(frame: Any) -> tuple[int, str]:
    """The row count and content digest (``high:low``) of ``frame``, computed by Spark in one aggregation."""
    from pyspark.sql import functions as F  # noqa: PLC0415 - PySpark loads only for a Spark source

    hashed = F.md5(row_text(frame).cast("binary"))

    def half(start: int) -> Any:
        signed = F.conv(F.substring(hashed, start, 16), 16, -10)  # a negative base: read as a signed 64-bit number
        return F.coalesce(F.sum(signed.cast("decimal(38,0)")), F.lit(0).cast("decimal(38,0)"))

    found = frame.agg(F.count(F.lit(1)), half(1), half(17)).collect()[0]
    return int(found[0]), f"{format(found[1], 'f')}:{format(found[2], 'f')}"


def spark_evidence(source: SparkSource) -> dict[str, Any]:
    """The evidence that the Spark table is unchanged later: its columns, row count and content digest."""
    frame = table(source)
    try:
        rows, digest = digest_of(frame)
    except Exception as exc:
        raise SourceError(f"Spark cannot read {source.table}: {_first_line(exc)}") from None
    return {
        "kind": SPARK,
        "columns": [{"name": field.name, "dtype": field.dataType.simpleString()} for field in frame.schema.fields],
        "rows": rows,
        "digest": digest,
        "method": DIGEST_METHOD,
    }
