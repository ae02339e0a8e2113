"""Export lineage as a W3C PROV-JSON document.

PROV-JSON is the W3C Member Submission https://www.w3.org/Submission/2013/SUBM-prov-json-20130424/. Dataset and
model versions are PROV entities, runs are activities; ``used``, ``wasGeneratedBy`` and ``wasAssociatedWith`` come
from the caller, and ``wasDerivedFrom`` is derived: every output of a run was derived from every input of it.

Pure: plain dicts in, a JSON-ready dict out, no Django. The same lineage always gives the same document (ids
sorted, relation ids numbered in that order, times in UTC), so exports can be diffed and hashed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

PROV_URI = "http://www.w3.org/ns/prov#"
DEFAULT_NAMESPACE_URI = "https://assay.example/ns#"
PREFIX = "assay"

ENTITY_TYPES = {"dataset_version": "DatasetVersion", "model_version": "ModelVersion"}
AGENT_TYPES = {"person": "prov:Person", "organization": "prov:Organization", "software_agent": "prov:SoftwareAgent"}
ACTIVITY_TYPE = "Run"


def prov_document(
    *,
    entities: list[dict],
    activities: list[dict],
    used: list[tuple[str, str]],
    generated: list[tuple[str, str]],
    agents: Sequence[dict] = (),
    associations: Sequence[tuple[str, str]] = (),
    namespace_uri: str = DEFAULT_NAMESPACE_URI,
) -> dict[str, Any]:
    """Build a PROV-JSON document from lineage given as plain values.

    Parameters
    ----------
    entities
        ``{"id": "assay:dataset/credit-applications/v3", "type": "dataset_version" | "model_version",
        "label": str, "attributes": {name: value}}``; attribute names get the ``assay:`` prefix.
    activities
        ``{"id": "assay:run/<uuid>", "label": str, "startTime": datetime | None, "endTime": datetime | None,
        "attributes": {...}}``; times must be timezone-aware.
    used
        ``(activity_id, entity_id)`` pairs: the run read that version.
    generated
        ``(entity_id, activity_id)`` pairs: the run produced that version.
    agents
        ``{"id": ..., "label": str, "type": "person" | "organization" | "software_agent" (optional),
        "attributes": {...}}``.
    associations
        ``(activity_id, agent_id)`` pairs: the agent was responsible for the run.
    namespace_uri
        The IRI the ``assay`` prefix stands for.

    Attribute values may be str, int, float, bool (written as JSON natives) or timezone-aware datetime (written
    as an ``xsd:dateTime`` typed literal); None values are left out. Ids are qualified names (``assay:...``).
    Every relation must name declared ids: an edge to nothing is a caller's bug, refused with ValueError.
    """
    entity_section = _section(entities, _entity, "entity")
    activity_section = _section(activities, _activity, "activity")
    agent_section = _section(agents, _agent, "agent")

    # Pairs may arrive as lists (decoded JSON); as tuples they dedupe and sort.
    used_pairs = sorted({(a, e) for a, e in used})
    generated_pairs = sorted({(e, a) for e, a in generated})
    association_pairs = sorted({(a, g) for a, g in associations})
    _check_refs(used_pairs, activity_section, entity_section, "used")
    _check_refs([(a, e) for e, a in generated_pairs], activity_section, entity_section, "generated")
    _check_refs(association_pairs, activity_section, agent_section, "associations")

    inputs: dict[str, set[str]] = {}
    for activity, entity in used_pairs:
        inputs.setdefault(activity, set()).add(entity)
    derived = sorted(
        {
            (output, source, activity)
            for output, activity in generated_pairs
            for source in inputs.get(activity, ())
            if source != output
        }
    )

    return {
        "prefix": {PREFIX: namespace_uri, "prov": PROV_URI},
        "entity": entity_section,
        "activity": activity_section,
        "agent": agent_section,
        "used": _numbered("u", ({"prov:activity": a, "prov:entity": e} for a, e in used_pairs)),
        "wasGeneratedBy": _numbered("g", ({"prov:entity": e, "prov:activity": a} for e, a in generated_pairs)),
        "wasDerivedFrom": _numbered(
            "d",
            ({"prov:generatedEntity": out, "prov:usedEntity": src, "prov:activity": act} for out, src, act in derived),
        ),
        "wasAssociatedWith": _numbered("w", ({"prov:activity": a, "prov:agent": g} for a, g in association_pairs)),
    }


def _section(records: Iterable[Mapping[str, Any]], render: Any, kind: str) -> dict[str, dict[str, Any]]:
    section: dict[str, dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: str(r["id"])):
        if not (
            isinstance(record["id"], str) and record["id"].startswith(f"{PREFIX}:") and record["id"][len(PREFIX) + 1 :]
        ):
            # Only the assay prefix is declared; any other would make a document PROV readers reject.
            raise ValueError(f"{kind} id {record['id']!r} must be a qualified name {PREFIX}:<local part>")
        if record["id"] in section:
            raise ValueError(f"{kind} {record['id']} is declared twice")
        section[record["id"]] = render(record)
    return section


def _entity(record: Mapping[str, Any]) -> dict[str, Any]:
    kind = record.get("type")
    if kind not in ENTITY_TYPES:
        raise ValueError(f"entity {record['id']}: type must be one of {', '.join(ENTITY_TYPES)}, not {kind!r}")
    out: dict[str, Any] = {"prov:type": _qualified_name(f"{PREFIX}:{ENTITY_TYPES[kind]}")}
    return _with_label_and_attributes(out, record)


def _activity(record: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"prov:type": _qualified_name(f"{PREFIX}:{ACTIVITY_TYPE}")}
    # PROV-JSON writes activity times as plain xsd:dateTime strings (the submission's activity example).
    for key in ("startTime", "endTime"):
        if record.get(key) is not None:
            out[f"prov:{key}"] = _datetime(record[key], where=f"activity {record['id']} {key}")
    return _with_label_and_attributes(out, record)


def _agent(record: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kind = record.get("type")
    if kind is not None:
        if kind not in AGENT_TYPES:
            raise ValueError(f"agent {record['id']}: type must be one of {', '.join(AGENT_TYPES)}, not {kind!r}")
        out["prov:type"] = _qualified_name(AGENT_TYPES[kind])
    return _with_label_and_attributes(out, record)


def _with_label_and_attributes(out: dict[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    if record.get("label"):
        out["prov:label"] = str(record["label"])
    for name, value in sorted((record.get("attributes") or {}).items()):
        if value is not None:
            out[f"{PREFIX}:{name}"] = _literal(value, where=f"{record['id']} {name}")
    return out


def _literal(value: object, *, where: str) -> Any:
    if isinstance(value, datetime):
        return {"$": _datetime(value, where=where), "type": "xsd:dateTime"}
    if isinstance(value, str | bool | int | float):
        return value
    raise TypeError(f"{where}: attribute values must be str, int, float, bool or datetime, not {type(value).__name__}")


def _qualified_name(name: str) -> dict[str, str]:
    return {"$": name, "type": "prov:QUALIFIED_NAME"}


def _datetime(value: datetime, *, where: str) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{where}: datetime must be timezone-aware")
    return value.astimezone(UTC).isoformat()


def _check_refs(
    pairs: Iterable[tuple[str, str]], left: Mapping[str, Any], right: Mapping[str, Any], relation: str
) -> None:
    for a, b in pairs:
        for ref, known in ((a, left), (b, right)):
            if ref not in known:
                raise ValueError(f"{relation} names {ref}, which is not declared")


def _numbered(letter: str, relations: Iterable[dict[str, str]]) -> dict[str, dict[str, str]]:
    """Relation records keyed by blank-node ids ``_:u1``, ``_:u2``... in the (sorted) order given."""
    return {f"_:{letter}{n}": relation for n, relation in enumerate(relations, start=1)}
