"""The JSON Schema (draft 2020-12) every policy document validates against.

A threshold is never a bare number: it is ``{value, operator, basis}``, where ``operator`` is the condition a
measured value must meet to PASS (``>=``, ``>``, ``<=``, ``<``: ``measured <operator> value``) and ``basis`` says
where the number comes from, in words and a citation, and which operator the rule uses (29 CFR 1607.4(D) calls
adverse only a rate "less than four-fifths", so the four-fifths threshold passes with ``>=``). Each threshold's
direction is fixed by the schema (an ``impact_ratio_min`` takes ``>=`` or ``>``, never ``<=``), so a flipped
direction is refused rather than silently inverted.

Policies written before operators existed say ``comparison: min`` (read as ``>=``) or ``max`` (read as ``<=``);
they still load. A threshold states ``operator``, ``comparison`` or both (then they must agree in direction).

Plain settings that only bound the work a check does (``sample_rows``, ``time_budget_seconds``) carry no basis.
Every mapping refuses unknown keys, so a misspelt threshold is an error, not a threshold that never applies.

The checks and their settings are not listed here: each registered check (``audits.checks.registry``) brings the
JSON Schema of its settings, and :func:`policy_schema` puts them under ``checks``. ``POLICY_SCHEMA`` and
``CHECK_NAMES`` are read from the registry each time they are asked for.
"""

from __future__ import annotations

import functools
from typing import Any

from audits.checks import registry
from audits.checks.settings import ADVERSARIAL_ATTACKS, DIRECTIONS, REFERENCE_HIGHEST, fraction_schema, threshold_schema

# CHECK_NAMES and POLICY_SCHEMA are module attributes too (see __getattr__ at the end).
__all__ = ["ADVERSARIAL_ATTACKS", "DIRECTIONS", "REFERENCE_HIGHEST", "SLUG_PATTERN", "policy_schema"]

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"

_MONITORING = {
    "type": "object",
    "description": "Thresholds for monitoring a deployed model between audits.",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "psi_warning": threshold_schema(
            "max", "Population stability index above this raises a warning.", exclusive_minimum=0, maximum=10
        ),
        "psi_alert": threshold_schema(
            "max", "Population stability index above this raises an alert.", exclusive_minimum=0, maximum=10
        ),
        "impact_ratio_alert": fraction_schema("min", "An impact ratio below this raises an alert."),
        "accuracy_drop_alert": fraction_schema(
            "max", "A fall in accuracy from the audited value larger than this (0.05 = 5 points) raises an alert."
        ),
        "recall_drop_alert": fraction_schema(
            "max", "A fall in recall (of the favourable outcome) from the baseline larger than this raises an alert."
        ),
        "roc_auc_drop_alert": fraction_schema(
            "max", "A fall in ROC AUC from the baseline larger than this raises an alert."
        ),
        "min_batch_rows": {
            **threshold_schema(
                "min",
                "A batch with fewer rows than this (for performance decay: fewer labelled rows) has its drift and "
                "decay statistics reported as insufficient_evidence: never an alert, a warning or a pass.",
            ),
            "properties": {
                "value": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                "operator": {"enum": list(DIRECTIONS["min"])},
                "comparison": {"const": "min"},
                "basis": {"$ref": "#/$defs/basis"},
            },
        },
    },
}


def _build_schema(checks: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Assay audit policy",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "title", "description", "confidence_level", "min_group_size", "checks"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": SLUG_PATTERN,
                "maxLength": 64,
                "description": "Slug, e.g. four-fifths.",
            },
            "title": {"type": "string", "minLength": 1, "maxLength": 200},
            "description": {"type": "string", "minLength": 1, "maxLength": 10_000},
            "version": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1_000_000,
                "description": "Optional in the file: the policy store numbers versions.",
            },
            "confidence_level": {
                "type": "number",
                "minimum": 0.5,
                "maximum": 0.999,
                "description": "Confidence level of every interval the checks compute.",
            },
            "min_group_size": {
                "type": "integer",
                "minimum": 1,
                "maximum": 1_000_000,
                "description": "A group with fewer rows than this yields insufficient_evidence, never a pass.",
            },
            "intersections": {
                "type": ["boolean", "array"],
                "description": "true: every combination of the protected attributes; or a list of attribute lists.",
                "minItems": 1,
                "uniqueItems": True,
                "items": {
                    "type": "array",
                    "minItems": 2,
                    "uniqueItems": True,
                    "items": {"type": "string", "minLength": 1},
                },
            },
            "protected_roles": {
                "type": "array",
                "description": (
                    "Protected roles the audit must map to columns (e.g. sex, race_ethnicity); a role not mapped is "
                    "insufficient evidence naming it, never a pass on the other tables."
                ),
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "minLength": 1, "pattern": r"\S"},
            },
            "small_groups": {
                "type": "object",
                "description": (
                    "How a group below min_group_size is treated: insufficient (the default: its comparisons are "
                    "insufficient evidence) or exclude (listed as excluded with its count and rate; needs a basis)."
                ),
                "additionalProperties": False,
                "required": ["handling"],
                "properties": {
                    "handling": {"enum": ["insufficient", "exclude"]},
                    "basis": {"$ref": "#/$defs/basis"},
                },
                "if": {"properties": {"handling": {"const": "exclude"}}},
                "then": {"required": ["handling", "basis"]},
            },
            "max_unknown_share": fraction_schema(
                "max",
                "Largest share of rows whose protected value is unknown (in no group) that still counts as evidence; "
                "above it the group checks are insufficient_evidence.",
            ),
            "checks": {
                "type": "object",
                "description": "The checks to run, by name, each with its settings.",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": checks,
            },
            "monitoring": _MONITORING,
        },
        "$defs": {
            "basis": {
                "type": "object",
                "description": "Where a number comes from: the rule in words, and a citation someone can look up.",
                "additionalProperties": False,
                "required": ["text", "citation"],
                "properties": {
                    "text": {"type": "string", "minLength": 1, "pattern": r"\S"},
                    "citation": {"type": "string", "minLength": 1, "pattern": r"\S"},
                    # Ids in governance.citations of the provisions the citation text names; the loader checks
                    # that each resolves. The text stays for readers and may name what the catalogue does not.
                    "citations": {
                        "type": "array",
                        "minItems": 1,
                        "uniqueItems": True,
                        "items": {"type": "string", "minLength": 1, "pattern": r"\S"},
                    },
                    "url": {"type": "string", "pattern": r"^https?://\S+$"},
                },
            },
        },
    }


@functools.lru_cache(maxsize=4)
def _schema_at(generation: int) -> dict[str, Any]:
    return _build_schema({spec.name: dict(spec.settings) for spec in registry.specs()})


def policy_schema() -> dict[str, Any]:
    """The policy schema, with each registered check's settings (``audits.checks.registry``) under ``checks``;
    built again when a check is registered or removed. Treat it as read-only."""
    return _schema_at(registry.generation())


def __getattr__(name: str) -> Any:
    # CHECK_NAMES and POLICY_SCHEMA follow the registry of checks rather than a list kept here.
    if name == "POLICY_SCHEMA":
        return policy_schema()
    if name == "CHECK_NAMES":
        return registry.names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
