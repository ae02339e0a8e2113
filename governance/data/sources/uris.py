"""Source URIs: ``parquet:///path`` (a file or a folder of ``*.parquet``) and ``postgresql://...?table=`` or
``?query=``, parsed and checked against the allow-lists before anything is read."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

PARQUET = "parquet"
POSTGRESQL = "postgresql"
KINDS = (PARQUET, POSTGRESQL)

# schema.table or table: plain identifiers only (they are quoted as identifiers too, never pasted as text).
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
_QUERY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_PARAMETERS = {"table", "query", "password_env", "sslmode"}
MAX_QUERY = 20_000


class SourceError(ValueError):
    """A source URI that cannot be used, or a source that cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class Source:
    """A parsed source URI: a Parquet path, or a PostgreSQL server and the relation (a table or a query) on it."""

    kind: str
    uri: str
    path: Path | None = None
    host: str = ""
    port: int = 5432
    database: str = ""
    user: str = ""
    table: str = ""
    query: str = ""
    password_env: str = ""
    sslmode: str = ""

    @property
    def location(self) -> str:
        """Where the source is, without credentials or query text: what the trail and the portal may show."""
        if self.kind == PARQUET:
            return f"parquet://{self.path}"
        relation = f"table={self.table}" if self.table else f"query sha256:{self.query_sha256[:16]}"
        return f"postgresql://{self.host}:{self.port}/{self.database} {relation}"

    @property
    def query_sha256(self) -> str:
        return hashlib.sha256(self.query.encode()).hexdigest() if self.query else ""


def parse_source(uri: str, *, roots: Sequence[str], databases: Sequence[str]) -> Source:
    """``uri`` checked and parsed: a ``parquet://`` path inside one of ``roots``, or a ``postgresql://`` server
    named in ``databases`` (``host:port``) with exactly one of ``table`` and ``query``. Raises SourceError."""
    uri = uri.strip()
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme == PARQUET:
        return _parquet(uri, roots)
    if scheme in {"postgresql", "postgres"}:
        return _postgresql(uri, databases)
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


def _postgresql(uri: str, databases: Sequence[str]) -> Source:
    parts = urlsplit(uri)
    if parts.password:
        raise SourceError(
            "A source URI may not hold a password (it would be stored): name the environment variable that holds "
            "it with password_env=NAME, or let libpq read PGPASSWORD or ~/.pgpass."
        )
    params = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(params) - _PARAMETERS)
    if unknown:
        allowed = ", ".join(sorted(_PARAMETERS))
        raise SourceError(f"Unknown source parameter(s) {', '.join(unknown)}; allowed: {allowed}.")
    if any(len(values) > 1 for values in params.values()):
        raise SourceError("Each source parameter may be given once.")
    given = {name: values[0] for name, values in params.items()}
    host, port, database = parts.hostname or "", parts.port or 5432, unquote(parts.path.lstrip("/"))
    if not host or not database:
        raise SourceError(
            "A postgresql:// URI names a host and a database: postgresql://user@host:5432/database?table=t"
        )
    if not databases:
        raise SourceError("PostgreSQL sources are not enabled: set DATA_SOURCE_DATABASES to the servers (host:port).")
    if f"{host}:{port}" not in databases:
        raise SourceError(f"{host}:{port} is not a server DATA_SOURCE_DATABASES allows.")
    table, query = given.get("table", ""), given.get("query", "")
    if bool(table) == bool(query):
        raise SourceError("Give exactly one of table=schema.name and query=SELECT ... in the URI.")
    if table and not _TABLE.match(table):
        raise SourceError("table must be a plain name or schema.name (letters, digits, underscores).")
    if query and (len(query) > MAX_QUERY or not _QUERY_START.match(query) or ";" in query):
        raise SourceError(f"query must be one SELECT (or WITH) statement, without ';', of at most {MAX_QUERY} chars.")
    password_env = given.get("password_env", "")
    if password_env and not _ENV_NAME.match(password_env):
        raise SourceError("password_env must be an environment variable's name (capitals, digits, underscores).")
    return Source(
        kind=POSTGRESQL,
        uri=uri,
        host=host,
        port=port,
        database=database,
        user=unquote(parts.username or ""),
        table=table,
        query=query,
        password_env=password_env,
        sslmode=given.get("sslmode", ""),
    )
