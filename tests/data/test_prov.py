"""PROV-JSON export, read back by the reference PROV library and checked against the submission's JSON Schema."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema.validators import validator_for
from prov.model import (
    ProvActivity,
    ProvAgent,
    ProvAssociation,
    ProvDerivation,
    ProvDocument,
    ProvEntity,
    ProvGeneration,
    ProvUsage,
)

from governance.data.prov import DEFAULT_NAMESPACE_URI, prov_document

SCHEMA = Path(__file__).parent / "prov" / "prov-json.schema.json"

RUN_FEATURES = "assay:run/0191f7a4-0000-7000-8000-00000000000a"
RUN_TRAIN = "assay:run/0191f7a4-0000-7000-8000-00000000000b"
APPLICATIONS = "assay:dataset/credit-applications/v3"
BUREAU = "assay:dataset/bureau-scores/v7"
FEATURES = "assay:dataset/credit-features/v1"
MODEL = "assay:model/credit-scorer/v4"
OFFICER = "assay:user/officer"
AIRFLOW = "assay:agent/airflow"

CEST = timezone(timedelta(hours=2))


def lineage() -> dict[str, Any]:
    """Two source datasets -> a feature run -> a feature dataset -> a training run (which also reads one source)
    -> a model version; the runs associated with their agents."""
    return {
        "entities": [
            {
                "id": APPLICATIONS,
                "type": "dataset_version",
                "label": "credit-applications v3",
                "attributes": {"sha256": "a" * 64, "rows": 1200, "version": 3},
            },
            {"id": BUREAU, "type": "dataset_version", "label": "bureau-scores v7", "attributes": {"sha256": "b" * 64}},
            {
                "id": FEATURES,
                "type": "dataset_version",
                "label": "credit-features v1",
                "attributes": {"sha256": "c" * 64, "registered": datetime(2026, 3, 1, 9, 0, tzinfo=CEST)},
            },
            {
                "id": MODEL,
                "type": "model_version",
                "label": "credit-scorer v4",
                "attributes": {"sha256": "d" * 64, "approved": False, "auc": 0.87, "withdrawn_at": None},
            },
        ],
        "activities": [
            {
                "id": RUN_FEATURES,
                "label": "credit_dag.features",
                "startTime": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
                "endTime": datetime(2026, 3, 1, 8, 5, 30, tzinfo=UTC),
                "attributes": {"job_namespace": "airflow", "code_ref": "https://github.com/acme/pipes.git@9c1e"},
            },
            {
                "id": RUN_TRAIN,
                "label": "credit_dag.train",
                "startTime": datetime(2026, 3, 1, 10, 10, tzinfo=CEST),
                "endTime": None,
                "attributes": {},
            },
        ],
        "used": [
            (RUN_FEATURES, APPLICATIONS),
            (RUN_FEATURES, BUREAU),
            (RUN_TRAIN, FEATURES),
            (RUN_TRAIN, APPLICATIONS),
        ],
        "generated": [(FEATURES, RUN_FEATURES), (MODEL, RUN_TRAIN)],
        "agents": [
            {"id": OFFICER, "label": "Olive Officer", "type": "person"},
            {"id": AIRFLOW, "label": "Airflow", "type": "software_agent", "attributes": {"version": "2.10.5"}},
        ],
        "associations": [(RUN_FEATURES, AIRFLOW), (RUN_TRAIN, AIRFLOW), (RUN_TRAIN, OFFICER)],
    }


def read_back(doc: dict[str, Any]) -> Any:
    return ProvDocument.deserialize(content=json.dumps(doc), format="json")


def local(qualified_name: Any) -> str | None:
    """``assay:dataset/x`` for a prov QualifiedName (or None)."""
    return None if qualified_name is None else str(qualified_name)


def test_reference_library_reads_every_record_as_given() -> None:
    given = lineage()
    document = read_back(prov_document(**given))

    entities = {local(r.identifier): r for r in document.get_records(ProvEntity)}
    assert set(entities) == {APPLICATIONS, BUREAU, FEATURES, MODEL}
    applications = entities[APPLICATIONS]
    assert applications.identifier.uri == DEFAULT_NAMESPACE_URI + "dataset/credit-applications/v3"
    assert [local(t) for t in applications.get_asserted_types()] == ["assay:DatasetVersion"]
    assert [local(t) for t in entities[MODEL].get_asserted_types()] == ["assay:ModelVersion"]
    assert applications.label == "credit-applications v3"
    extras = {str(k): v for k, v in applications.extra_attributes if str(k).startswith("assay:")}
    assert extras == {"assay:sha256": "a" * 64, "assay:rows": 1200, "assay:version": 3}
    features_registered = next(v for k, v in entities[FEATURES].extra_attributes if str(k) == "assay:registered")
    assert features_registered == datetime(2026, 3, 1, 7, 0, tzinfo=UTC)
    model_extras = {str(k): v for k, v in entities[MODEL].extra_attributes if str(k).startswith("assay:")}
    assert model_extras == {"assay:sha256": "d" * 64, "assay:approved": False, "assay:auc": 0.87}  # None left out

    activities = {local(r.identifier): r for r in document.get_records(ProvActivity)}
    assert set(activities) == {RUN_FEATURES, RUN_TRAIN}
    assert activities[RUN_FEATURES].get_startTime() == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert activities[RUN_FEATURES].get_endTime() == datetime(2026, 3, 1, 8, 5, 30, tzinfo=UTC)
    assert activities[RUN_TRAIN].get_startTime() == datetime(2026, 3, 1, 8, 10, tzinfo=UTC)
    assert activities[RUN_TRAIN].get_endTime() is None
    assert activities[RUN_TRAIN].label == "credit_dag.train"
    assert [local(t) for t in activities[RUN_TRAIN].get_asserted_types()] == ["assay:Run"]

    agents = {local(r.identifier): r for r in document.get_records(ProvAgent)}
    assert [local(t) for t in agents[OFFICER].get_asserted_types()] == ["prov:Person"]
    assert [local(t) for t in agents[AIRFLOW].get_asserted_types()] == ["prov:SoftwareAgent"]

    def pairs(kind: type, first: str, second: str) -> set[tuple[str, ...]]:
        return {
            (local(r.get_attribute(first).pop()), local(r.get_attribute(second).pop()))
            for r in document.get_records(kind)
        }

    assert pairs(ProvUsage, "prov:activity", "prov:entity") == set(given["used"])
    assert pairs(ProvGeneration, "prov:entity", "prov:activity") == set(given["generated"])
    assert pairs(ProvAssociation, "prov:activity", "prov:agent") == set(given["associations"])
    derivations = {
        tuple(local(r.get_attribute(a).pop()) for a in ("prov:generatedEntity", "prov:usedEntity", "prov:activity"))
        for r in document.get_records(ProvDerivation)
    }
    # Every output of a run derives from every input of the same run, and from nothing else.
    assert derivations == {
        (FEATURES, APPLICATIONS, RUN_FEATURES),
        (FEATURES, BUREAU, RUN_FEATURES),
        (MODEL, FEATURES, RUN_TRAIN),
        (MODEL, APPLICATIONS, RUN_TRAIN),
    }


def test_reference_library_serialisation_reads_back_to_the_same_records() -> None:
    ours = read_back(prov_document(**lineage()))
    theirs = ProvDocument.deserialize(content=ours.serialize(format="json"), format="json")
    assert theirs == ours
    assert set(map(str, theirs.get_records())) == set(map(str, ours.get_records()))


def test_document_conforms_to_the_prov_json_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = validator_for(schema)
    validator.check_schema(schema)
    errors = sorted(validator(schema).iter_errors(prov_document(**lineage())), key=str)
    assert errors == []
    # The schema is not vacuous: a relation without its required end is refused.
    broken = prov_document(**lineage())
    del broken["wasDerivedFrom"]["_:d1"]["prov:usedEntity"]
    assert not validator(schema).is_valid(broken)


def test_typed_literals_and_times_are_written_as_the_submission_says() -> None:
    doc = prov_document(**lineage())
    assert doc["prefix"] == {"assay": DEFAULT_NAMESPACE_URI, "prov": "http://www.w3.org/ns/prov#"}
    assert doc["entity"][APPLICATIONS]["prov:type"] == {"$": "assay:DatasetVersion", "type": "prov:QUALIFIED_NAME"}
    assert doc["entity"][FEATURES]["assay:registered"] == {"$": "2026-03-01T07:00:00+00:00", "type": "xsd:dateTime"}
    assert doc["activity"][RUN_TRAIN]["prov:startTime"] == "2026-03-01T08:10:00+00:00"
    assert "prov:endTime" not in doc["activity"][RUN_TRAIN]
    assert doc["used"]["_:u1"] == {"prov:activity": RUN_FEATURES, "prov:entity": BUREAU}  # sorted by ids
    assert set(doc["wasDerivedFrom"]) == {"_:d1", "_:d2", "_:d3", "_:d4"}


def test_same_lineage_in_any_order_gives_identical_json() -> None:
    first = lineage()
    shuffled = lineage()
    rng = random.Random(7)
    for key in ("entities", "activities", "used", "generated", "agents", "associations"):
        rng.shuffle(shuffled[key])
    shuffled["used"].append(list(shuffled["used"][0]))  # a duplicate edge adds nothing, even as a JSON list
    for entity in shuffled["entities"]:
        entity["attributes"] = dict(reversed(list(entity["attributes"].items())))
    assert json.dumps(prov_document(**first)) == json.dumps(prov_document(**shuffled))


def test_namespace_uri_is_a_parameter() -> None:
    doc = prov_document(**lineage(), namespace_uri="https://governance.bank.example/assay#")
    assert doc["prefix"]["assay"] == "https://governance.bank.example/assay#"
    entity = next(iter(read_back(doc).get_records()))
    assert entity.identifier.uri.startswith("https://governance.bank.example/assay#")


def test_empty_lineage_is_a_valid_document() -> None:
    doc = prov_document(entities=[], activities=[], used=[], generated=[])
    assert list(read_back(doc).get_records()) == []


def test_a_run_without_inputs_derives_nothing_and_no_version_derives_from_itself() -> None:
    given = lineage()
    given["used"] = [(RUN_TRAIN, MODEL)]  # nonsensical, but must not yield "model derived from model"
    doc = prov_document(**given)
    assert doc["wasDerivedFrom"] == {}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda g: g["entities"][0].__setitem__("type", "table"), ValueError, "type must be one of"),
        (lambda g: g["entities"].append(dict(g["entities"][0])), ValueError, "declared twice"),
        (lambda g: g["used"].append((RUN_TRAIN, "assay:dataset/ghost/v1")), ValueError, "not declared"),
        (lambda g: g["generated"].append((MODEL, "assay:run/ghost")), ValueError, "not declared"),
        (lambda g: g["associations"].append((RUN_TRAIN, "assay:user/ghost")), ValueError, "not declared"),
        (
            lambda g: g["activities"][0].__setitem__("startTime", datetime(2026, 3, 1, 8, 0)),  # naive
            ValueError,
            "timezone-aware",
        ),
        (lambda g: g["entities"][0]["attributes"].__setitem__("tags", ["a"]), TypeError, "attribute values"),
        (lambda g: g["agents"][0].__setitem__("type", "robot"), ValueError, "type must be one of"),
        (lambda g: g["entities"][0].__setitem__("id", "dataset/credit/v3"), ValueError, "qualified name"),
        (lambda g: g["activities"][0].__setitem__("id", "ex:run/1"), ValueError, "qualified name"),
    ],
)
def test_bad_lineage_is_refused(change: Any, error: type[Exception], message: str) -> None:
    given = lineage()
    change(given)
    with pytest.raises(error, match=message):
        prov_document(**given)
