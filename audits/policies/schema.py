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
"""

from __future__ import annotations

from typing import Any

CHECK_NAMES = ("performance", "group_fairness", "disparate_impact", "explainability", "adversarial", "data_quality")

# Black-box evasion attacks of adversarial-robustness-toolbox that need only the model's predictions.
ADVERSARIAL_ATTACKS = ("hop_skip_jump", "boundary", "zoo")

REFERENCE_HIGHEST = "highest_selection_rate"

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


#: The operators a threshold of each direction may state (the pass condition), and the legacy comparison word.
DIRECTIONS = {"min": (">=", ">"), "max": ("<=", "<")}


def _threshold(
    comparison: str,
    description: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        value["minimum"] = minimum
    if exclusive_minimum is not None:
        value["exclusiveMinimum"] = exclusive_minimum
    if maximum is not None:
        value["maximum"] = maximum
    return {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "required": ["value", "basis"],
        "anyOf": [{"required": ["operator"]}, {"required": ["comparison"]}],
        "properties": {
            "value": value,
            "operator": {
                "enum": list(DIRECTIONS[comparison]),
                "description": "The pass condition: the measured value <operator> value.",
            },
            "comparison": {"const": comparison, "description": "Legacy form of operator (min: >=, max: <=)."},
            "basis": {"$ref": "#/$defs/basis"},
        },
    }


def _fraction(comparison: str, description: str) -> dict[str, Any]:
    return _threshold(comparison, description, minimum=0, maximum=1)


_SAMPLE_ROWS = {
    "type": "integer",
    "minimum": 1,
    "maximum": 100_000,
    "description": "Rows drawn (seeded) from the evaluation data; bounds the check's cost.",
}
_TIME_BUDGET = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": 86_400,
    "description": "Wall-clock seconds the check may use; past it the check stops and reports insufficient evidence.",
}


def _check(
    description: str,
    properties: dict[str, Any],
    *,
    needs_one_of: tuple[str, ...] = (),
    required: tuple[str, ...] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "required": ["required", *required],
        "properties": {
            "required": {
                "type": "boolean",
                "description": (
                    "true: if this check cannot run (no protected attribute, no artifact, over budget) the audit "
                    "is insufficient_evidence; false: the check is reported as skipped."
                ),
            },
            **properties,
        },
    }
    if needs_one_of:
        # At least one of these must be set, or the check would have nothing to pass or fail on.
        schema["anyOf"] = [{"required": [name]} for name in needs_one_of]
    if extra:
        schema.update(extra)
    return schema


_PERFORMANCE_METRICS = ("accuracy_min", "balanced_accuracy_min", "roc_auc_min", "f1_min", "precision_min", "recall_min")

_CHECKS: dict[str, Any] = {
    "performance": _check(
        "Predictive performance on labelled evaluation data (scikit-learn metrics).",
        {name: _fraction("min", f"Lower bound on {name.removesuffix('_min')}.") for name in _PERFORMANCE_METRICS},
        needs_one_of=_PERFORMANCE_METRICS,
    ),
    "group_fairness": _check(
        "Differences between groups of a protected attribute (fairlearn MetricFrame).",
        {
            "demographic_parity_difference_max": _fraction(
                "max", "Largest allowed difference in selection rate between any two groups."
            ),
            "equalized_odds_difference_max": _fraction(
                "max", "Largest allowed difference in true- or false-positive rate between any two groups."
            ),
            "max_interval_width": _threshold(
                "max",
                "Widest confidence interval on a difference that still counts as evidence; wider is "
                "insufficient_evidence, not a pass.",
                exclusive_minimum=0,
                maximum=1,
            ),
        },
        needs_one_of=("demographic_parity_difference_max", "equalized_odds_difference_max"),
    ),
    "disparate_impact": _check(
        "Impact ratios: each group's selection (or scoring) rate divided by the reference group's.",
        {
            "impact_ratio_min": _fraction("min", "Lowest impact ratio that passes."),
            "significance_alpha": _threshold(
                "max",
                "A difference in rates counts as statistically significant when its p-value meets this by the "
                "operator (< : below alpha).",
                exclusive_minimum=0,
                maximum=0.5,
            ),
            "reference_group": {
                "description": (
                    f"'{REFERENCE_HIGHEST}' (the group with the highest rate, per attribute) or an explicit "
                    "mapping of attribute to group label."
                ),
                "anyOf": [
                    {"const": REFERENCE_HIGHEST},
                    {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {"type": "string", "minLength": 1},
                    },
                ],
            },
            "rate": {
                "enum": ["selection_rate", "scoring_rate", "by_output"],
                "description": (
                    "selection_rate: share of a group given the favourable outcome; scoring_rate: share of a group "
                    "scoring above the whole sample's median score; by_output: selection rate for a binary output, "
                    "scoring rate for a continuous score."
                ),
            },
            "exclude_groups_below_share": _fraction(
                "min",
                "A group whose share of the known rows does not meet this (operator >=: a share below it) may be "
                "left out of impact ratios, only when the column roles' exclusions give the auditor's "
                "justification for it; it is still reported with its count and rate.",
            ),
        },
        required=("impact_ratio_min",),
    ),
    "explainability": _check(
        "Global and local attributions (shap) on a sample of rows.",
        {
            "sample_rows": _SAMPLE_ROWS,
            "time_budget_seconds": _TIME_BUDGET,
            "protected_attribute_max_share": _fraction(
                "max", "Largest share of total attribution the protected attributes may carry."
            ),
            "proxy_association_min": _fraction(
                "min",
                "A feature whose association with a protected attribute (by proxy_measure) meets this determines or "
                "nearly determines it: its attribution counts in the protected attributes' share.",
            ),
            "proxy_measure": {
                "enum": ["cramers_v"],
                "description": (
                    "The association proxy_association_min is judged on: cramers_v, bias-corrected Cramér's V "
                    "between the attribute and the feature's values (or the intervals that best separate the "
                    "attribute's categories, for a numeric feature with more than ten values)."
                ),
            },
        },
        extra={"dependentRequired": {"proxy_association_min": ["proxy_measure"]}},
    ),
    "adversarial": _check(
        "Black-box evasion attacks (adversarial-robustness-toolbox) and protected-attribute counterfactuals.",
        {
            "attack": {"enum": list(ADVERSARIAL_ATTACKS), "description": "The evasion attack to run."},
            "sample_rows": _SAMPLE_ROWS,
            "time_budget_seconds": _TIME_BUDGET,
            "epsilon": _threshold(
                "max",
                "Largest perturbation that counts as an attack (L-infinity, in standard deviations of each feature).",
                exclusive_minimum=0,
                maximum=10,
            ),
            "max_success_rate": _fraction("max", "Largest share of sampled rows an attack within epsilon may flip."),
            "counterfactual_flip_rate_max": _fraction(
                "max", "Largest share of rows whose decision changes when only the protected attribute changes."
            ),
        },
        needs_one_of=("max_success_rate", "counterfactual_flip_rate_max"),
        extra={"dependentRequired": {"max_success_rate": ["epsilon"]}},
    ),
    "data_quality": _check(
        "Completeness and representativeness of the evaluation data.",
        {
            "max_missing_fraction": _fraction("max", "Largest share of missing values allowed in any column."),
            "min_group_share": _fraction(
                "min", "Smallest share of the data any group of a protected attribute may have."
            ),
            "declared_population_shares": {
                "type": "object",
                "description": "Group shares of the population the system is meant for, to compare the data against.",
                "additionalProperties": False,
                "required": ["source", "shares", "max_abs_difference"],
                "properties": {
                    "source": {"$ref": "#/$defs/basis"},
                    "shares": {
                        "type": "object",
                        "minProperties": 1,
                        "additionalProperties": {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
                        },
                    },
                    "max_abs_difference": _fraction(
                        "max", "Largest allowed gap between a group's share of the data and its declared share."
                    ),
                },
            },
        },
        needs_one_of=("max_missing_fraction", "min_group_share", "declared_population_shares"),
    ),
}

_MONITORING = {
    "type": "object",
    "description": "Thresholds for monitoring a deployed model between audits.",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        "psi_warning": _threshold(
            "max", "Population stability index above this raises a warning.", exclusive_minimum=0, maximum=10
        ),
        "psi_alert": _threshold(
            "max", "Population stability index above this raises an alert.", exclusive_minimum=0, maximum=10
        ),
        "impact_ratio_alert": _fraction("min", "An impact ratio below this raises an alert."),
        "accuracy_drop_alert": _fraction(
            "max", "A fall in accuracy from the audited value larger than this (0.05 = 5 points) raises an alert."
        ),
        "recall_drop_alert": _fraction(
            "max", "A fall in recall (of the favourable outcome) from the baseline larger than this raises an alert."
        ),
        "roc_auc_drop_alert": _fraction("max", "A fall in ROC AUC from the baseline larger than this raises an alert."),
        "min_batch_rows": {
            **_threshold(
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

POLICY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Assay audit policy",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "title", "description", "confidence_level", "min_group_size", "checks"],
    "properties": {
        "name": {"type": "string", "pattern": SLUG_PATTERN, "maxLength": 64, "description": "Slug, e.g. four-fifths."},
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
        "max_unknown_share": _fraction(
            "max",
            "Largest share of rows whose protected value is unknown (in no group) that still counts as evidence; "
            "above it the group checks are insufficient_evidence.",
        ),
        "checks": {
            "type": "object",
            "description": "The checks to run, by name, each with its settings.",
            "minProperties": 1,
            "additionalProperties": False,
            "properties": _CHECKS,
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
                "url": {"type": "string", "pattern": r"^https?://\S+$"},
            },
        },
    },
}
