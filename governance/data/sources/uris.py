"""Source URIs: ``parquet:///path`` (a file or a folder of ``*.parquet``) and ``postgresql://<connection>/<table>``
or ``postgresql://<connection>?query=...``, parsed and checked against what the operator allows before anything is
read. A PostgreSQL source names a connection the operator declared (:func:`parse_connections`): its host, port,
database, role and password variable are the declaration's, never the URI's."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

PARQUET = "parquet"
POSTGRESQL = "postgresql"
KINDS = (PARQUET, POSTGRESQL)

# schema.table or table: plain identifiers only (they are quoted as identifiers too, never pasted as text).
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
_CONNECTION_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_QUERY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
# What a declaration may say besides user@host:port/database; nothing else reaches libpq.
_DECLARED = {"password_env", "sslmode", "sslrootcert", "queries"}
_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
MAX_QUERY = 20_000


class SourceError(ValueError):
    """A source URI that cannot be used, or a source that cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class Connection:
    """A PostgreSQL connection the operator declared (``DATA_SOURCE_CONNECTIONS``): the only server, database, role
    and password variable a source may use. ``queries``: whether sources on it may be a ``query=`` (else tables)."""

    name: str
    host: str
    port: int
    database: str
    user: str
    password_env: str = ""
    sslmode: str = ""
    sslrootcert: str = ""
    queries: bool = False


@dataclass(frozen=True)
class Source:
    """A parsed source URI: a Parquet path, or a declared PostgreSQL connection and the relation (a table or a
    query) on it."""

    kind: str
    uri: str
    path: Path | None = None
    connection: Connection | None = None
    table: str = ""
    query: str = ""

    @property
    def location(self) -> str:
        """Where the source is, without credentials or query text: what the trail and the portal may show."""
        if self.kind == PARQUET:
            return f"parquet://{self.path}"
        assert self.connection is not None
        relation = f"/{self.table}" if self.table else f" query sha256:{self.query_sha256[:16]}"
        return f"postgresql://{self.connection.name}{relation}"

    @property
    def query_sha256(self) -> str:
        return hashlib.sha256(self.query.encode()).hexdigest() if self.query else ""


def parse_source(uri: str, *, roots: Sequence[str], connections: Mapping[str, Connection]) -> Source:
    """``uri`` checked and parsed: a ``parquet://`` path inside one of ``roots``, or a ``postgresql://`` source on
    one of ``connections`` (by name) with a table or, where the connection allows queries, a query. Raises
    SourceError."""
    uri = uri.strip()
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme == PARQUET:
        return _parquet(uri, roots)
    if scheme in {"postgresql", "postgres"}:
        return _postgresql(uri, connections)
    raise SourceError(
        "source_uri must start with parquet:// (a file or folder) or postgresql:// (a table or query); "
        f"got {scheme + '://' if scheme else 'no scheme'}."
    )


def _parquet(uri: str, roots: Sequence[str]) -> Source:
    parts = urlsplit(uri)
    if parts.netloc or parts.query:
        raise SourceError("A parquet:// URI is an absolute path, as in parquet:///data/scores (three slashes).")
    raw = Path(unquote(parts.path))
    if not raw.is_absolute():
        raise SourceError("A parquet:// URI is an absolute path, as in parquet:///data/scores (three slashes).")
    if not roots:
        raise SourceError("Parquet sources are not enabled: set DATA_SOURCE_ROOTS to the folders they may be in.")
    path = raw.resolve()
    allowed = [Path(root).resolve() for root in roots]
    if not any(path == root or root in path.parents for root in allowed):
        raise SourceError(f"{raw} is not inside a folder DATA_SOURCE_ROOTS allows.")
    if not path.exists():
        raise SourceError(f"{raw} does not exist.")
    return Source(kind=PARQUET, uri=f"parquet://{path}", path=path)


def _postgresql(uri: str, connections: Mapping[str, Connection]) -> Source:
    parts = urlsplit(uri)
    if "@" in parts.netloc or ":" in parts.netloc:
        raise SourceError(
            "A postgresql:// source names a declared connection, not a user, password, host or port: "
            "postgresql://<connection>/<schema.table>. The operator declares connections in DATA_SOURCE_CONNECTIONS."
        )
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(params) - {"query"})
    if unknown:
        raise SourceError(
            f"A source URI may not set {', '.join(unknown)}: the host, database, role, password and connection "
            "options are the declared connection's. Only query= may be given (on a connection that allows queries)."
        )
    if any(len(values) > 1 for values in params.values()):
        raise SourceError("query= may be given once.")
    if not connections:
        raise SourceError(
            "PostgreSQL sources are not enabled: the operator declares the connections they may use in "
            "DATA_SOURCE_CONNECTIONS."
        )
    name = parts.netloc
    connection = connections.get(name)
    if connection is None:
        raise SourceError(
            f"{name or 'No connection'} is not a connection DATA_SOURCE_CONNECTIONS declares "
            f"(declared: {', '.join(sorted(connections))})."
        )
    table, query = unquote(parts.path.strip("/")), params.get("query", [""])[0]
    if bool(table) == bool(query):
        raise SourceError(
            f"Name a table (postgresql://{name}/schema.table) or give a query (postgresql://{name}?query=SELECT ...): "
            "one of the two."
        )
    if table and not _TABLE.match(table):
        raise SourceError("The table must be a plain name or schema.name (letters, digits, underscores).")
    if query and not connection.queries:
        raise SourceError(
            f"The connection {name} does not allow queries: name a table, or ask the operator to declare "
            "queries=true on it."
        )
    if query and (len(query) > MAX_QUERY or not _QUERY_START.match(query) or ";" in query):
        raise SourceError(f"query must be one SELECT (or WITH) statement, without ';', of at most {MAX_QUERY} chars.")
    return Source(kind=POSTGRESQL, uri=uri, connection=connection, table=table, query=query)


def parse_connections(entries: Sequence[str]) -> dict[str, Connection]:
    """The connections the operator declared, each ``name=postgresql://user@host:port/database`` with optional
    ``?password_env=VAR&sslmode=...&sslrootcert=/path&queries=true``. Raises SourceError naming the bad entry."""
    connections: dict[str, Connection] = {}
    for entry in entries:
        name, _, url = entry.strip().partition("=")
        name = name.strip()
        where = f"DATA_SOURCE_CONNECTIONS entry {name or entry!r}"
        if not _CONNECTION_NAME.match(name) or not url:
            raise SourceError(
                f"{where}: write name=postgresql://user@host:5432/database, the name in lower case letters, digits, "
                "'-' and '_'."
            )
        if name in connections:
            raise SourceError(f"{where}: the name is declared twice.")
        connections[name] = _declared(name, url.strip(), where)
    return connections


def _declared(name: str, url: str, where: str) -> Connection:
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise SourceError(f"{where}: the URL starts with postgresql://.")
    if parts.password is not None:
        raise SourceError(f"{where}: no password in the URL; name the variable that holds it with password_env=VAR.")
    try:
        port = parts.port or 5432
    except ValueError:
        raise SourceError(f"{where}: the port is not a number.") from None
    host, user, database = parts.hostname or "", unquote(parts.username or ""), unquote(parts.path.lstrip("/"))
    if not host or not user or not database or "/" in database:
        raise SourceError(f"{where}: name the role, the host and the database: postgresql://user@host:5432/database.")
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(params) - _DECLARED)
    if unknown or any(len(values) > 1 for values in params.values()):
        raise SourceError(
            f"{where}: unknown or repeated setting(s) {', '.join(unknown) or 'given twice'}; "
            f"allowed once each: {', '.join(sorted(_DECLARED))}."
        )
    given = {key: values[0] for key, values in params.items()}
    password_env, sslmode = given.get("password_env", ""), given.get("sslmode", "")
    if password_env and not _ENV_NAME.match(password_env):
        raise SourceError(f"{where}: password_env must be an environment variable's name (capitals, digits, _).")
    if sslmode and sslmode not in _SSLMODES:
        raise SourceError(f"{where}: sslmode must be one of {', '.join(sorted(_SSLMODES))}.")
    if given.get("queries", "false") not in {"true", "false"}:
        raise SourceError(f"{where}: queries is true or false.")
    sslrootcert = given.get("sslrootcert", "")
    if sslrootcert and not Path(sslrootcert).is_absolute():
        raise SourceError(f"{where}: sslrootcert is an absolute path.")
    return Connection(
        name=name,
        host=host,
        port=port,
        database=database,
        user=user,
        password_env=password_env,
        sslmode=sslmode,
        sslrootcert=sslrootcert,
        queries=given.get("queries") == "true",
    )
