"""Parse OpenLineage RunEvents as the Airflow, Spark and dbt clients send them.

The body is validated against the official OpenLineage JSON Schema, vendored in ``schemas/OpenLineage.json``
(see ``schemas/SOURCES.md``), then reduced to the few fields Assay records. Pure: no Django, no network.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "OpenLineage.json"

EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")

# Run facets kept as the run's parameters: plain configuration that says how the run was set up, not what it
# produced. Deliberately absent: environmentVariables (may carry secrets), errorMessage (an outcome), parent
# (its own field), and producer-specific facets such as ``airflow`` or ``dbt_run`` (large, and not configuration).
PARAMETER_FACETS = (
    "nominalTime",  # the schedule slot the run stands for
    "processing_engine",  # engine name and version, adapter version
    "executionParameters",  # the parameters the job was invoked with
    "spark_properties",  # Spark configuration (spark.master, spark.app.name, ...)
)

# The base-facet fields that describe the facet, not the run; dropped from parameters.
_FACET_METADATA = frozenset({"_producer", "_schemaURL", "_deleted"})

# RFC 3339 date-times start with a full date and a time; datetime.fromisoformat alone would take a bare date.
_DATE_TIME_START = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
# RFC 4122 text form, which the spec's ``format: uuid`` means (uuid.UUID alone would also take braces and URNs).
_UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class OpenLineageError(ValueError):
    """The body is not an OpenLineage RunEvent Assay can take; ``path`` names the faulty field (``run.runId``)."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


@dataclass(frozen=True)
class DatasetRef:
    """An input or output dataset of a run, as OpenLineage names it."""

    namespace: str
    name: str
    version: str  # facets.version.datasetVersion, or ""
    schema_fields: tuple[str, ...]  # top-level field names of the schema facet, or ()


@dataclass(frozen=True)
class RunEvent:
    """The parts of an OpenLineage RunEvent that Assay records."""

    event_type: str  # START | RUNNING | COMPLETE | ABORT | FAIL | OTHER
    event_time: datetime  # timezone-aware
    run_id: uuid.UUID
    job_namespace: str
    job_name: str
    producer: str
    inputs: tuple[DatasetRef, ...]
    outputs: tuple[DatasetRef, ...]
    code_ref: str  # see _code_ref
    parent_run_id: uuid.UUID | None
    parameters: dict[str, Any] = field(default_factory=dict)  # see PARAMETER_FACETS


def parse_run_event(body: object) -> RunEvent:
    """Validate ``body`` (decoded JSON) as an OpenLineage RunEvent and extract what Assay records.

    Raises OpenLineageError with a short message and the JSON path of the fault.
    """
    if not isinstance(body, Mapping):
        raise OpenLineageError(f"expected a JSON object (an OpenLineage RunEvent), got {_json_type(body)}")
    if "run" not in body:
        # Static lineage (spec 2-0-0 and later) has no run; say so rather than "'run' is a required property".
        if "dataset" in body:
            raise OpenLineageError(
                "this is an OpenLineage DatasetEvent (static lineage, no run); this endpoint takes RunEvents",
                path="run",
            )
        if "job" in body:
            raise OpenLineageError(
                "this is an OpenLineage JobEvent (static lineage, no run); this endpoint takes RunEvents",
                path="run",
            )
    _validate(body)

    run, job = body["run"], body["job"]
    run_facets = _facets(run)
    return RunEvent(
        # The schema leaves eventType optional and gives no default. OTHER is the spec's word for an event that
        # adds metadata without a state transition, the only reading that cannot start or end a run by mistake.
        event_type=body.get("eventType", "OTHER"),
        event_time=_event_time(body["eventTime"]),
        run_id=_uuid(run["runId"], path="run.runId"),
        job_namespace=job["namespace"],
        job_name=job["name"],
        producer=body["producer"],
        inputs=tuple(_dataset(d) for d in body.get("inputs", ())),
        outputs=tuple(_dataset(d) for d in body.get("outputs", ())),
        code_ref=_code_ref(_facets(job)),
        parent_run_id=_parent_run_id(run_facets),
        parameters=_parameters(run_facets),
    )


# --- validation -----------------------------------------------------------------------------------------------


def _refuse_retrieval(uri: str) -> Any:
    """The registry's retrieve hook: never fetch a schema. The vendored schema has only local refs."""
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # referencing's attrs wrapper hides __init__ from mypy


@functools.cache
def _run_event_validator() -> Any:
    """A validator for the RunEvent definition of the vendored schema, built once."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    # The schema is registered under its own $id; any other URI goes to _refuse_retrieval, so a $ref that is
    # not in the file fails loudly instead of touching the network.
    registry = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]  # as above: attrs-made __init__
    registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
    # Formats (date-time, uuid, uri) are annotations here, as in 2020-12 by default: eventTime and runId are
    # checked below with clearer messages, and producers commonly send _producer values that are not URIs.
    return Draft202012Validator({"$ref": f"{schema['$id']}#/$defs/RunEvent"}, registry=registry)


def _validate(body: Mapping[str, Any]) -> None:
    from jsonschema.exceptions import best_match

    error = best_match(_run_event_validator().iter_errors(body))
    if error is None:
        return
    # The spec wraps every facets map in a one-branch anyOf; best_match stops there when the branch has several
    # equally good faults ("... is not valid under any of the given schemas"). Name one of them instead.
    while error.validator in ("anyOf", "oneOf") and error.context:
        error = min(error.context, key=lambda e: (-len(e.absolute_path), e.message))
    path = _json_path(error.absolute_path)
    if error.validator == "required":
        missing = next(
            (
                name
                for name in error.validator_value
                if name not in error.instance and error.message.startswith(repr(name))
            ),
            None,
        )
        if missing is not None:
            path = _join(path, missing)
            raise OpenLineageError(f"{path} is required", path=path)
    where = path or "the event"
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        raise OpenLineageError(f"{where} must be {_article(expected)}, got {_json_type(error.instance)}", path=path)
    if error.validator == "enum":
        choices = ", ".join(str(v) for v in error.validator_value)
        raise OpenLineageError(f"{where} must be one of {choices}, got {_short(error.instance)}", path=path)
    raise OpenLineageError(f"{where}: {_clip(error.message, 200)}", path=path)


def _event_time(value: str) -> datetime:
    try:
        if not _DATE_TIME_START.match(value):  # a date alone is not a date-time
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise OpenLineageError(
            f"eventTime must be an ISO 8601 date-time, got {_short(value)}", path="eventTime"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise OpenLineageError(
            f"eventTime has no timezone offset ({_short(value)}); send e.g. 2025-01-31T12:00:00Z", path="eventTime"
        )
    try:
        year = parsed.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not 1900 <= year <= 9998:
        raise OpenLineageError(f"eventTime is out of range ({_short(value)})", path="eventTime")
    return parsed


def _uuid(value: str, *, path: str) -> uuid.UUID:
    if not _UUID_TEXT.match(value):
        raise OpenLineageError(f"{path} must be a UUID, got {_short(value)}", path=path)
    return uuid.UUID(value)


# --- extraction -----------------------------------------------------------------------------------------------


def _facets(holder: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The facets of a run, job or dataset, without those marked ``_deleted`` (which withdraw a facet)."""
    facets = holder.get("facets") or {}
    return {k: v for k, v in facets.items() if isinstance(v, Mapping) and v.get("_deleted") is not True}


def _dataset(data: Mapping[str, Any]) -> DatasetRef:
    facets = _facets(data)
    version = facets.get("version", {}).get("datasetVersion", "")
    # The facet says string; Iceberg snapshot ids and Delta versions sometimes arrive as JSON numbers.
    if isinstance(version, int) and not isinstance(version, bool):
        version = str(version)
    fields = facets.get("schema", {}).get("fields", ())
    return DatasetRef(
        namespace=data["namespace"],
        name=data["name"],
        version=version if isinstance(version, str) else "",
        schema_fields=tuple(_names(fields)),
    )


def _names(fields: object) -> Iterable[str]:
    if not isinstance(fields, list):
        return
    for f in fields:
        if isinstance(f, Mapping) and isinstance(f.get("name"), str):
            yield f["name"]


def _code_ref(job_facets: Mapping[str, Mapping[str, Any]]) -> str:
    """Where the job's code lives, as one string.

    - sourceCodeLocation with repoUrl: ``{repoUrl}@{version}#{path}`` (each suffix only when given);
    - sourceCodeLocation without repoUrl: ``{url}@{version}`` (url already points at the file);
    - sourceCode (the code itself, possibly megabytes): ``{language}:sha256:{hex}``, which pins the exact text
      without copying it;
    - otherwise "".
    """
    location = job_facets.get("sourceCodeLocation", {})
    repo_url, url = (
        _without_credentials(_text(location.get("repoUrl"))),
        _without_credentials(_text(location.get("url"))),
    )
    if repo_url or url:
        ref = repo_url or url
        version, path = _text(location.get("version")), _text(location.get("path"))
        if version:
            ref += f"@{version}"
        if repo_url and path:
            ref += f"#{path}"
        return ref
    source = job_facets.get("sourceCode", {})
    code = source.get("sourceCode")
    if isinstance(code, str) and code:
        digest = hashlib.sha256(code.encode("utf-8")).hexdigest()
        language = _text(source.get("language")).lower() or "source"
        return f"{language}:sha256:{digest}"
    return ""


def _parent_run_id(run_facets: Mapping[str, Mapping[str, Any]]) -> uuid.UUID | None:
    parent = run_facets.get("parent")
    if parent is None:
        return None
    run = parent.get("run")
    run_id = run.get("runId") if isinstance(run, Mapping) else None
    if not isinstance(run_id, str):
        raise OpenLineageError("run.facets.parent.run.runId is required", path="run.facets.parent.run.runId")
    return _uuid(run_id, path="run.facets.parent.run.runId")


def _parameters(run_facets: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The configuration-like run facets (PARAMETER_FACETS), minus the base-facet fields, as plain JSON."""
    kept = {
        name: {k: v for k, v in run_facets[name].items() if k not in _FACET_METADATA}
        for name in PARAMETER_FACETS
        if name in run_facets
    }
    # A JSON round trip detaches the result from the request body and guarantees it stores as JSON.
    result: dict[str, Any] = json.loads(json.dumps(kept))
    return result


# --- small helpers --------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _json_path(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, part)
    return path


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages (bool before int: bool is an int in Python)."""
    for kinds, name in _JSON_TYPES:
        if isinstance(value, kinds):
            return name
    return "null" if value is None else type(value).__name__


_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "boolean"),
    ((int, float), "number"),
    (str, "string"),
    ((list, tuple), "array"),
    (Mapping, "object"),
)


def _article(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short(value: object) -> str:
    """A value quoted for a message, clipped so a hostile body cannot make the message long."""
    return _clip(repr(value), 60)


def _without_credentials(url: str) -> str:
    """A URL without any ``user:password@`` part (CI systems put access tokens there)."""
    if not url or "@" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
