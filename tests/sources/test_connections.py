"""PostgreSQL sources use only what the operator declared (DATA_SOURCE_CONNECTIONS).

The attack this closes: a team member with ``datasets:write`` naming an allowed server but a database, role,
query and password variable of their choosing (``postgresql://postgres@127.0.0.1:5432/<Assay's database>?query=
SELECT pg_read_file(...)``, ``password_env=SECRET_KEY``). Each such URI is refused with the reason and changes
nothing; a declared connection reads as declared, with the password from its one variable and nothing else from the
process environment (every libpq environment variable is set to a marker here and none reaches the connection).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from psycopg import pq

from governance.data.models import DatasetVersion
from governance.data.sources import SourceError, evidence_of, parse_connections, parse_source, postgres
from governance.trail.models import Event
from tests.conftest import Cast
from tests.data.conftest import make_dataset
from tests.sources.conftest import CONNECTION, PG_HOST, PG_PORT, connections, declaration, pg_uri, source_db_name

API = "/api/v1"
READ_FILE = "SELECT pg_read_file('/etc/hostname') AS sex, 1 AS label, 1 AS prediction"


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        # The review's attack, as written: an allowed host with a database, role and query of the caller's choosing.
        (
            f"postgresql://postgres@{PG_HOST}:{PG_PORT}/assay?query={READ_FILE}",
            "names a declared connection, not a user, password, host or port",
        ),
        (f"postgresql://{PG_HOST}/assay", f"{PG_HOST} is not a connection DATA_SOURCE_CONNECTIONS declares"),
        ("postgresql://postgres@source/compas", "not a user, password, host or port"),
        ("postgresql://source:5433/compas", "not a user, password, host or port"),
        ("postgresql://source/compas?password_env=SECRET_KEY", "may not set password_env"),
        ("postgresql://source/compas?dbname=assay&user=postgres", "may not set dbname, user"),
        ("postgresql://source/compas?options=-c+default_transaction_read_only%3Doff", "may not set options"),
        ("postgresql://source/compas?host=10.0.0.9&sslmode=disable", "may not set host, sslmode"),
        ("postgresql://warehouse/compas", "warehouse is not a connection DATA_SOURCE_CONNECTIONS declares"),
        (f"postgresql://source?query={READ_FILE}", "The connection source does not allow queries"),
    ],
)
def test_a_uri_cannot_choose_where_or_as_whom(uri: str, words: str) -> None:
    with pytest.raises(SourceError) as refused:
        parse_source(uri, roots=[], connections=connections(queries=False))
    assert words in str(refused.value)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("source=postgresql://127.0.0.1:5432/db", "name the role, the host and the database"),
        ("source=postgresql://u:secret@127.0.0.1:5432/db", "no password in the URL"),
        ("source=postgresql://u@127.0.0.1:5432/db?options=-c+x%3Dy", "unknown or repeated setting(s) options"),
        ("source=postgresql://u@127.0.0.1:5432/db?password_env=lower", "password_env must be an environment"),
        ("source=postgresql://u@127.0.0.1:5432/db?queries=yes", "queries is true or false"),
        ("Source=postgresql://u@127.0.0.1:5432/db", "the name in lower case"),
        ("source=mysql://u@127.0.0.1:3306/db", "starts with postgresql://"),
    ],
)
def test_a_bad_declaration_is_named(entry: str, words: str) -> None:
    with pytest.raises(SourceError) as refused:
        parse_connections([entry])
    assert words in str(refused.value)
    assert "DATA_SOURCE_CONNECTIONS entry" in str(refused.value)


def test_a_declaration_is_read_whole() -> None:
    entry = "warehouse=postgresql://auditor@db.internal:6432/risk?password_env=WAREHOUSE_PW&sslmode=verify-full"
    (declared,) = parse_connections([entry]).values()
    assert (declared.host, declared.port, declared.database, declared.user) == ("db.internal", 6432, "risk", "auditor")
    assert (declared.password_env, declared.sslmode, declared.queries) == ("WAREHOUSE_PW", "verify-full", False)


@pytest.fixture
def marked_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Every environment variable libpq reads set to a marker, with a password file and a service file that would
    log in elsewhere as someone else; returns the marker."""
    marker = "from-the-environment"
    for option in pq.Conninfo.get_defaults():
        if option.envvar:
            monkeypatch.setenv(option.envvar.decode(), f"{marker}-{option.keyword.decode()}")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:*:{marker}-pgpass\n")
    passfile.chmod(0o600)
    services = tmp_path / "pg_service.conf"
    services.write_text(
        f"[{marker}]\nuser=nobody\ndbname=template0\npassword={marker}-service\n"
        "options=-c default_transaction_read_only=off\n"
    )
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    monkeypatch.setenv("PGSERVICE", marker)
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    monkeypatch.setenv("HOME", str(tmp_path))  # ~/.pgpass and ~/.postgresql/ would be here
    (tmp_path / ".pgpass").write_text(f"*:*:*:*:{marker}-home\n")
    (tmp_path / ".pgpass").chmod(0o600)
    return marker


def _settings(connection: Any) -> dict[str, str]:
    return {o.keyword.decode(): (o.val or b"").decode() for o in connection.pgconn.info}


def test_only_the_declared_variable_is_read(source_db: str, marked_environment: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("ASSAY_H12_SOURCE_PASSWORD", "the-declared-one")
    source = parse_source(
        pg_uri("table=german"), roots=[], connections=connections(password_env="ASSAY_H12_SOURCE_PASSWORD")
    )

    with postgres.connect(source) as connection:
        found = connection.execute("SELECT current_user, current_database(), current_setting('transaction_read_only')")
        assert found.fetchone() == ("postgres", source_db, "on")
        used = _settings(connection)

    assert used["password"] == "the-declared-one"
    assert (used["host"], used["port"], used["dbname"], used["user"]) == (PG_HOST, str(PG_PORT), source_db, "postgres")
    # libpq reads PGSERVICE itself (it has no empty service), but the service fills no setting: all are explicit.
    leaked = {key: value for key, value in used.items() if marked_environment in value and key != "service"}
    assert leaked == {}
    assert evidence_of(source)["rows"] == 1000


def test_without_a_declared_variable_no_password_is_found(source_db: str, marked_environment: str) -> None:
    source = parse_source(pg_uri("table=german"), roots=[], connections=connections())  # trust: no password needed
    with postgres.connect(source) as connection:
        used = _settings(connection)
        assert connection.info.password == ""
    assert used["passfile"] == "/dev/null/assay-no-passfile"
    assert used["sslcertmode"] == "disable"
    assert [key for key, value in used.items() if marked_environment in value and key != "service"] == []


def test_a_declared_variable_that_is_not_set_is_named(source_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ASSAY_H12_SOURCE_PASSWORD", raising=False)
    source = parse_source(
        pg_uri("table=german"), roots=[], connections=connections(password_env="ASSAY_H12_SOURCE_PASSWORD")
    )
    with pytest.raises(SourceError, match=f"ASSAY_H12_SOURCE_PASSWORD that connection {CONNECTION} names is not set"):
        evidence_of(source)


def test_a_query_runs_read_only_on_a_connection_that_allows_queries(source_db: str) -> None:
    source = parse_source(
        pg_uri("query=SELECT * FROM german WHERE age_group = '<=25'"), roots=[], connections=connections()
    )
    assert evidence_of(source)["rows"] == 190  # UCI German credit: 190 applicants aged 25 or less
    with postgres.snapshot(source) as connection:
        assert connection.execute("SHOW transaction_read_only").fetchone() == ("on",)
        assert connection.execute("SHOW statement_timeout").fetchone() == ("1h",)


@pytest.mark.parametrize(
    "uri",
    [
        f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{{db}}?query={READ_FILE}",
        f"postgresql://{CONNECTION}?query={READ_FILE}",
        f"postgresql://{CONNECTION}/german?password_env=SECRET_KEY",
        f"postgresql://{PG_HOST}/german",
    ],
)
def test_the_attack_through_the_api_changes_nothing(cast: Cast, settings: Any, uri: str) -> None:
    settings.DATA_SOURCE_CONNECTIONS = [declaration(queries=False)]
    make_dataset(cast, "compas-eval")
    before = (DatasetVersion.objects.count(), Event.objects.count())

    response = cast.owner.client().post(
        f"{API}/datasets/compas-eval/versions/", {"source_uri": uri.format(db=source_db_name())}, format="json"
    )

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "invalid_source"
    assert (DatasetVersion.objects.count(), Event.objects.count()) == before


@pytest.mark.parametrize(
    "uri",
    [
        f"postgresql://{CONNECTION}/german#age=25",
        "parquet:///tmp/scores.parquet#part=1",
        f"postgresql://{CONNECTION}/german#",
    ],
)
def test_a_fragment_is_refused_rather_than_dropped(cast: Cast, settings: Any, uri: str, tmp_path: Path) -> None:
    """urlsplit drops "#...", so "table#age=25" would read the whole table: the URI is refused by name."""
    settings.DATA_SOURCE_CONNECTIONS = [declaration(queries=False)]
    settings.DATA_SOURCE_ROOTS = [str(tmp_path)]
    uri = uri.replace("/{root}", str(tmp_path))
    make_dataset(cast, "compas-eval")
    before = (DatasetVersion.objects.count(), Event.objects.count())
    response = cast.owner.client().post(f"{API}/datasets/compas-eval/versions/", {"source_uri": uri}, format="json")
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "invalid_source"
    assert "no fragment" in response.json()["error"]["message"]
    assert (DatasetVersion.objects.count(), Event.objects.count()) == before
