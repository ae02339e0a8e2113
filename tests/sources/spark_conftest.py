"""A real Spark for the Spark source tests: PySpark in local mode (``local[1]``), one session per test process.

The session is Assay's own (``governance.data.sources.spark.session``) on the connection the tests declare: a
warehouse and an embedded Derby metastore in a temporary folder, no UI, one shuffle partition, quiet logs. Starting
the JVM costs seconds, so every Spark test is in the xdist group ``spark`` (``--dist loadgroup`` runs them all in
one worker: one JVM per suite run) and the session lives as long as the process. Without Java or PySpark (``make
spark`` installs both) the tests skip, saying which is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.sources.conftest import TABLES

NAME = "lake"
SECRET_ENV = "ASSAY_TEST_SPARK_SECRET"
SECRET = "spark-secret-4f1c9e"  # a credential the declaration reads from the environment; never stored
DATABASE = "risk"


def _missing() -> str:
    """Why Spark cannot run here (empty: it can)."""
    if importlib.util.find_spec("pyspark") is None:
        return "PySpark is not installed (make spark installs it)"
    java = shutil.which("java")
    if java is None:
        return "Java is not installed (make spark installs Debian's openjdk-17-jre-headless)"
    try:
        subprocess.run([java, "-version"], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"java -version fails: {exc}"
    return ""


def declaration(folder: Path) -> str:
    """The DATA_SOURCE_SPARK entry the tests declare: ``local[1]``, a warehouse and a Derby metastore in ``folder``,
    and one secret Spark setting read from ``SECRET_ENV``."""
    return (
        f"{NAME}=local[1]?warehouse={folder / 'warehouse'}&metastore_db={folder / 'metastore_db'}"
        f"&shuffle_partitions=1&secret.spark.hadoop.fs.s3a.secret.key={SECRET_ENV}"
    )


def save_table(session: Any, table: pa.Table, name: str) -> None:
    """``table`` as the managed Spark table ``name`` (database.table), replacing one of that name; one file, so
    Spark reads the rows in the order given."""
    session.createDataFrame(table).coalesce(1).write.mode("overwrite").saveAsTable(name)


_LAKE: list[tuple[str, Any]] = []  # this process's (declaration, session): every test module shares it


@pytest.fixture(scope="session")
def spark_lake(tmp_path_factory: pytest.TempPathFactory, tables: dict[str, pa.Table]) -> tuple[str, Any]:
    """This process's Spark session with ``risk.compas`` and ``risk.german``; the declaration it was started on.
    Started once per process (each test module that imports this fixture gets the same one) and left running to
    the process's end, when the JVM goes with it."""
    missing = _missing()
    if missing:
        pytest.skip(f"Spark tests need Java and PySpark: {missing}")
    if _LAKE:
        return _LAKE[0]
    from governance.data.sources import spark  # noqa: PLC0415 - after the skip: loads nothing Spark needs first

    entry = declaration(tmp_path_factory.mktemp("spark"))
    os.environ[SECRET_ENV] = SECRET  # this test process's environment, as the operator's would be
    (connection,) = spark.parse_spark_connections([entry]).values()
    session = spark.session(connection)
    session.sql(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    for name in TABLES:
        save_table(session, tables[name], f"{DATABASE}.{name}")
    _LAKE.append((entry, session))
    return _LAKE[0]


@pytest.fixture
def spark_sources(settings: Any, spark_lake: tuple[str, Any]) -> Any:
    """DATA_SOURCE_SPARK declaring the session's connection; the session."""
    entry, session = spark_lake
    settings.DATA_SOURCE_SPARK = [entry]
    return session
