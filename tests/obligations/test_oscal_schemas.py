"""The OSCAL exports validated against NIST's OSCAL JSON schemas with ``jsonschema`` (tests/data/oscal/PROVENANCE.md
says where the schema files come from and what about them is not verified).

The schemas' token pattern uses Unicode classes (``\\p{L}``) that Python's ``re`` cannot compile, so the validator
checks ``pattern`` with the ``regex`` package; the tests show the patterns are enforced, not skipped.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import regex
from jsonschema import Draft7Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError

from registry.models import ModelVersion
from tests.conftest import Cast
from tests.registry.conftest import register_model

SCHEMAS = Path(__file__).resolve().parent.parent / "data" / "oscal"
SETS = ("v1.2.0", "v1.2.1-trestle")
API = "/api/v1"
V = f"{API}/models/credit-scoring/versions/1"
CATALOGUES = ("eu-ai-act-high-risk", "nist-ai-rmf", "nyc-ll144", "iso-42001", "colorado-ai-act")


def _pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and regex.search(pattern, instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


FORMATS = FormatChecker()


@FORMATS.checks("regex", raises=regex.error)
def _is_regex(instance: object) -> bool:
    return not isinstance(instance, str) or regex.compile(instance) is not None


OscalValidator = validators.extend(Draft7Validator, {"pattern": _pattern})


def validator(schema_set: str, model: str) -> Any:
    """A validator for ``model`` ("catalog", "assessment-results") of a vendored schema set, the schema itself first
    checked against draft-07's meta-schema (its regexes compiled with ``regex``)."""
    schema = json.loads((SCHEMAS / schema_set / f"oscal_{model}_schema.json").read_text(encoding="utf-8"))
    OscalValidator(Draft7Validator.META_SCHEMA, format_checker=FORMATS).validate(schema)
    return OscalValidator(schema, format_checker=FORMATS)


def errors(schema_set: str, model: str, document: dict[str, Any]) -> list[str]:
    found = validator(schema_set, model).iter_errors(document)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found)


@pytest.fixture
def credit(cast: Cast, make_version: Any) -> ModelVersion:
    return make_version(register_model(cast, "high"), model_card={"intended_use": "Consumer credit decisions."})


def test_the_vendored_schemas_are_the_files_the_provenance_names() -> None:
    provenance = (SCHEMAS / "PROVENANCE.md").read_text(encoding="utf-8")
    for schema_set in SETS:
        for model in ("catalog", "assessment-results"):
            data = (SCHEMAS / schema_set / f"oscal_{model}_schema.json").read_bytes()
            assert hashlib.sha256(data).hexdigest() in provenance
            version = "1.2.0" if schema_set == "v1.2.0" else "1.2.1"
            assert json.loads(data)["$id"].startswith(f"http://csrc.nist.gov/ns/oscal/{version}/")


def test_the_stock_validator_cannot_read_the_schemas_token_pattern() -> None:
    # Why the regex package: with Python's re, the schema itself is refused (\p{L} is a bad escape).
    schema = json.loads((SCHEMAS / "v1.2.0" / "oscal_catalog_schema.json").read_text(encoding="utf-8"))
    with pytest.raises(SchemaError, match="is not a 'regex'"):
        Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("schema_set", SETS)
@pytest.mark.django_db
def test_the_assessment_results_export_is_valid_oscal(cast: Cast, credit: ModelVersion, schema_set: str) -> None:
    decisions = f"{V}/obligations/eu-ai-act-high-risk/art-26-7-inform-workers/decisions"
    cast.officer.client().post(decisions, {"decision": "not_applicable", "reason": "No workplace use."}, format="json")
    response = cast.owner.client().get(f"{V}/obligations/oscal")
    assert response.status_code == 200, response.content
    document = response.json()
    assert document["assessment-results"]["metadata"]["oscal-version"] == "1.2.1"
    found = errors(schema_set, "assessment-results", document)
    if schema_set == "v1.2.0":
        # NIST's v1.2.0 schema requires a related observation's "observation-uuid" but lists no properties and
        # allows none, so no finding that names its observations can pass it; v1.2.1 fixed it ("Fixed all the
        # assemblies that were missing flags in JSON Schemas in v1.2.0", usnistgov/OSCAL ac8d41bb4). Every error
        # must be that one, and the defect must be in the file.
        defect = "Additional properties are not allowed ('observation-uuid' was unexpected)"
        assert found
        assert all("/related-observations/" in line and line.endswith(defect) for line in found), found
        assert _related_observation_is_unsatisfiable(schema_set)
    else:
        assert found == []
        assert not _related_observation_is_unsatisfiable(schema_set)


def _related_observation_is_unsatisfiable(schema_set: str) -> bool:
    schema = json.loads((SCHEMAS / schema_set / "oscal_assessment-results_schema.json").read_text(encoding="utf-8"))
    finding = schema["definitions"]["oscal-ar-oscal-assessment-common:finding"]
    item = finding["properties"]["related-observations"]["items"]
    return "observation-uuid" in item.get("required", []) and "properties" not in item


@pytest.mark.parametrize("schema_set", SETS)
@pytest.mark.parametrize("name", CATALOGUES)
@pytest.mark.django_db
def test_each_catalogue_export_is_a_valid_oscal_catalog(cast: Cast, name: str, schema_set: str) -> None:
    response = cast.regulator.client().get(f"{API}/obligation-catalogues/{name}/oscal")
    assert response.status_code == 200, response.content
    assert errors(schema_set, "catalog", response.json()) == []


@pytest.mark.parametrize(
    ("change", "where", "words"),
    [
        # A control id must be an OSCAL token: "\p{L}" or "_" first (the Unicode class is checked, not skipped).
        (lambda d: d["catalog"]["controls"][0].update(id="9-risk"), "catalog/controls/0/id", "does not match"),
        (lambda d: d["catalog"]["controls"][0].update(id="ärt-9"), None, None),  # a Unicode letter is a token
        (lambda d: d["catalog"].update(uuid="not-a-uuid"), "catalog/uuid", "does not match"),
        (lambda d: d["catalog"]["metadata"].update({"last-modified": "2026-12-06"}), "catalog/metadata", "match"),
        (lambda d: d["catalog"]["metadata"].pop("title"), "catalog/metadata", "'title' is a required property"),
        (lambda d: d["catalog"].update(extra=1), "catalog", "Additional properties are not allowed"),
        (lambda d: d["catalog"]["controls"][0].update(title="a\nb"), "catalog/controls/0/title", "does not match"),
    ],
)
@pytest.mark.django_db
def test_the_validator_refuses_what_the_schema_forbids(cast: Cast, change: Any, where: str | None, words: str) -> None:
    document = cast.regulator.client().get(f"{API}/obligation-catalogues/eu-ai-act-high-risk/oscal").json()
    broken = copy.deepcopy(document)
    change(broken)
    found = errors("v1.2.0", "catalog", broken)
    if where is None:
        assert found == []
        return
    assert any(line.startswith(f"{where}") and words in line for line in found), found
