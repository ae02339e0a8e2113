"""The JSON Schema (draft 2020-12) every obligation catalogue validates against.

A catalogue is a reviewed document, like an audit policy: a framework's obligations, each with Assay's summary of it
(never the text of a copyrighted standard), the provisions it rests on (ids in governance.citations, checked by the
loader) or, for a standard that is not law, the standard's own control id; which systems it applies to; and the kinds
of evidence that satisfy it. Any one of the evidence items listed satisfies an obligation: the catalogue says which
pieces of Assay's evidence a reviewer accepts, not that they are the only way to comply.
"""

from __future__ import annotations

from typing import Any

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# Obligation ids: "art-9-risk-management", "A.6.2.8", "GOVERN-1".
OBLIGATION_ID_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,62}[A-Za-z0-9])?$"

TIERS = ("prohibited", "high", "limited", "minimal")  # registry.models.RiskTier; checked equal in the tests
ROLES = ("provider", "deployer")
MODEL_CARD_SECTIONS = (  # registry.models.MODEL_CARD_SECTIONS; checked equal in the tests
    "model_details",
    "intended_use",
    "factors",
    "metrics",
    "evaluation_data",
    "training_data",
    "quantitative_analyses",
    "ethical_considerations",
    "caveats_and_recommendations",
)

_TEXT = {"type": "string", "minLength": 1, "maxLength": 2000, "pattern": r"\S"}


def _kind(name: str, description: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = properties or {}
    return {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "required": ["kind", *properties],
        "properties": {"kind": {"const": name}, **properties},
    }


EVIDENCE_KINDS: dict[str, dict[str, Any]] = {
    "audit_passed": _kind(
        "audit_passed",
        "An audit of the version under the named policy finished with the verdict pass, within the last N days.",
        {
            "policy": {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 64},
            "within_days": {"type": "integer", "minimum": 1, "maximum": 3650},
        },
    ),
    "approval": _kind("approval", "The version reached its required approvals (separation of duties kept)."),
    "model_card_section": _kind(
        "model_card_section",
        "The version's model card has the named section, not empty.",
        {"section": {"enum": list(MODEL_CARD_SECTIONS)}},
    ),
    "monitoring_configured": _kind("monitoring_configured", "Post-deployment monitoring is configured."),
    "lineage_recorded": _kind("lineage_recorded", "A lineage run records the version as its output."),
    "attestation": _kind(
        "attestation",
        "An officer attests, with the hash of the document that shows it (a procedure, a plan, a notice).",
        {"document": _TEXT},
    ),
}

CATALOGUE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Assay obligation catalogue",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "title", "framework", "binding", "source", "description", "obligations"],
    "properties": {
        "name": {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 64},
        "title": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
        "framework": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
        "binding": {"type": "boolean", "description": "False for a voluntary framework or a standard."},
        "source": {**_TEXT, "description": "The text (and its version) the obligations were read from."},
        "description": {"type": "string", "minLength": 1, "maxLength": 10_000, "pattern": r"\S"},
        "version": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
        "obligations": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {"$ref": "#/$defs/obligation"},
        },
    },
    "$defs": {
        "obligation": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id", "title", "summary", "applies_to", "evidence"],
            "anyOf": [{"required": ["citations"]}, {"required": ["control"]}],
            "properties": {
                "id": {"type": "string", "pattern": OBLIGATION_ID_PATTERN},
                "title": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"\S"},
                "summary": {**_TEXT, "description": "Assay's summary of the obligation, in its own words."},
                "citations": {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"type": "string", "minLength": 1, "maxLength": 200},
                    "description": "Ids in governance.citations of the provisions the obligation rests on.",
                },
                "control": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 64,
                    "pattern": r"\S",
                    "description": "The standard's own id for it (ISO/IEC 42001 'A.6.2.8', NIST AI RMF 'MAP 2').",
                },
                "applies_to": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["tiers", "roles"],
                    "properties": {
                        "tiers": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(TIERS)}},
                        "roles": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(ROLES)}},
                        "annex_iii": {
                            "type": "array",
                            "minItems": 1,
                            "uniqueItems": True,
                            "items": {"type": "string", "pattern": r"^eu-ai-act/annex-iii/[1-8](?:/[a-e])?$"},
                            "description": "Only for a system classified under one of these Annex III points.",
                        },
                    },
                },
                "requires": {
                    "enum": ["any", "all"],
                    "description": "any (the default): one evidence item satisfies it; all: every item must.",
                },
                "evidence": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 20,
                    "description": "The evidence that satisfies the obligation (any one, or all: see requires).",
                    "items": {
                        "type": "object",
                        "required": ["kind"],
                        "properties": {"kind": {"enum": list(EVIDENCE_KINDS)}},
                        "allOf": [
                            {"if": {"properties": {"kind": {"const": name}}}, "then": schema}
                            for name, schema in EVIDENCE_KINDS.items()
                        ],
                    },
                },
            },
        },
    },
}
