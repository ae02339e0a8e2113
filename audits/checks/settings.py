"""JSON Schema pieces for a check's policy settings (pure: no Django), and the settings of the built-in checks.

A check declares the settings it reads as one JSON Schema object (:func:`settings_schema`), in its
:class:`~audits.checks.registry.CheckSpec`; the policy schema (``audits.policies.schema``) puts every registered
check's settings under ``checks.<name>``, so a policy naming a check is validated against that check's own settings.

A threshold is never a bare number: it is ``{value, operator, basis}`` (:func:`threshold_schema`), its direction
fixed by the schema; ``basis`` refers to ``#/$defs/basis`` of the policy schema the settings are placed in. Every
mapping refuses unknown keys, so a misspelt threshold is an error, not a threshold that never applies.
"""

from __future__ import annotations

from typing import Any

# Black-box evasion attacks of adversarial-robustness-toolbox that need only the model's predictions.
ADVERSARIAL_ATTACKS = ("hop_skip_jump", "boundary", "zoo")

REFERENCE_HIGHEST = "highest_selection_rate"


#: The operators a threshold of each direction may state (the pass condition), and the legacy comparison word.
DIRECTIONS = {"min": (">=", ">"), "max": ("<=", "<")}


def threshold_schema(
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


def fraction_schema(comparison: str, description: str) -> dict[str, Any]:
    return threshold_schema(comparison, description, minimum=0, maximum=1)


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


def settings_schema(
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

BUILTIN_SETTINGS: dict[str, dict[str, Any]] = {
    "performance": settings_schema(
        "Predictive performance on labelled evaluation data (scikit-learn metrics).",
        {name: fraction_schema("min", f"Lower bound on {name.removesuffix('_min')}.") for name in _PERFORMANCE_METRICS},
        needs_one_of=_PERFORMANCE_METRICS,
    ),
    "group_fairness": settings_schema(
        "Differences between groups of a protected attribute (fairlearn MetricFrame).",
        {
            "demographic_parity_difference_max": fraction_schema(
                "max", "Largest allowed difference in selection rate between any two groups."
            ),
            "equalized_odds_difference_max": fraction_schema(
                "max", "Largest allowed difference in true- or false-positive rate between any two groups."
            ),
            "max_interval_width": threshold_schema(
                "max",
                "Widest confidence interval on a difference that still counts as evidence; wider is "
                "insufficient_evidence, not a pass.",
                exclusive_minimum=0,
                maximum=1,
            ),
        },
        needs_one_of=("demographic_parity_difference_max", "equalized_odds_difference_max"),
    ),
    "disparate_impact": settings_schema(
        "Impact ratios: each group's selection (or scoring) rate divided by the reference group's.",
        {
            "impact_ratio_min": fraction_schema("min", "Lowest impact ratio that passes."),
            "significance_alpha": threshold_schema(
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
            "exclude_groups_below_share": fraction_schema(
                "min",
                "A group whose share of the known rows does not meet this (operator >=: a share below it) may be "
                "left out of impact ratios, only when the column roles' exclusions give the auditor's "
                "justification for it; it is still reported with its count and rate.",
            ),
        },
        required=("impact_ratio_min",),
    ),
    "explainability": settings_schema(
        "Global and local attributions (shap) on a sample of rows.",
        {
            "sample_rows": _SAMPLE_ROWS,
            "time_budget_seconds": _TIME_BUDGET,
            "protected_attribute_max_share": fraction_schema(
                "max", "Largest share of total attribution the protected attributes may carry."
            ),
            "proxy_association_min": fraction_schema(
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
    "adversarial": settings_schema(
        "Black-box evasion attacks (adversarial-robustness-toolbox) and protected-attribute counterfactuals.",
        {
            "attack": {"enum": list(ADVERSARIAL_ATTACKS), "description": "The evasion attack to run."},
            "sample_rows": _SAMPLE_ROWS,
            "time_budget_seconds": _TIME_BUDGET,
            "epsilon": threshold_schema(
                "max",
                "Largest perturbation that counts as an attack (L-infinity, in standard deviations of each feature).",
                exclusive_minimum=0,
                maximum=10,
            ),
            "max_success_rate": fraction_schema(
                "max", "Largest share of sampled rows an attack within epsilon may flip."
            ),
            "counterfactual_flip_rate_max": fraction_schema(
                "max", "Largest share of rows whose decision changes when only the protected attribute changes."
            ),
        },
        needs_one_of=("max_success_rate", "counterfactual_flip_rate_max"),
        extra={"dependentRequired": {"max_success_rate": ["epsilon"]}},
    ),
    "data_quality": settings_schema(
        "Completeness and representativeness of the evaluation data.",
        {
            "max_missing_fraction": fraction_schema("max", "Largest share of missing values allowed in any column."),
            "min_group_share": fraction_schema(
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
                    "max_abs_difference": fraction_schema(
                        "max", "Largest allowed gap between a group's share of the data and its declared share."
                    ),
                },
            },
        },
        needs_one_of=("max_missing_fraction", "min_group_share", "declared_population_shares"),
    ),
}
