"""The explainability check (pure; no Django): explains a sample of the model's decisions, measures the share of
attribution carried by features counted for protected attributes, reports possible proxies, and judges the share
against the policy's ``protected_attribute_max_share``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Mapping
from typing import Any

import numpy as np

from audits.checks.base import FAIL, INSUFFICIENT, PASS, Check, CheckContext, CheckOutcome, basis, finite, threshold
from audits.checks.explainability.attribution import BACKGROUND_ROWS, importance_table
from audits.checks.explainability.budget import TimeBudget, budget_settings, model_needed, seeded_rows
from audits.checks.explainability.explainers import choose, explain
from audits.checks.explainability.proxies import (
    CATEGORICAL_MAX_VALUES,
    PROXY_MAX_RANK,
    PROXY_MIN_CRAMERS_V,
    QUANTILE_BINS,
    ProxyRule,
    _declared_sources,
    associations,
    counted_features,
    known_values,
    operator_of,
    proxy_rule,
)

DEFAULT_SAMPLE_ROWS = 100
LOCAL_ROWS_REPORTED = 10  # local explanations kept in the result (all explained rows feed the global importance)


def _thresholds_judged(settings: Mapping[str, Any], *, limit: float | None, rule: ProxyRule | None) -> dict[str, Any]:
    """The thresholds the policy sets for this check (only those it sets), with their operators and bases."""
    judged: dict[str, Any] = {}
    if limit is not None:
        operator = operator_of(settings, "protected_attribute_max_share", "<=")
        judged["protected_attribute_max_share"] = {
            "value": limit,
            "operator": operator,
            "basis": basis(settings, "protected_attribute_max_share"),
        }
    if rule is not None:
        judged["proxy_association_min"] = {"value": rule.value, "operator": rule.operator, "basis": rule.basis}
    return judged


def _describe_reason(reason: Mapping[str, Any]) -> str:
    if reason["why"] == "model_input":
        return f"is {reason['attribute']}"
    if reason["why"] == "declared":
        return f"{reason['attribute']} is derived from it (declared)"
    return f"{MEASURE_NAMES[reason['measure']]} {reason['value']:.2f} with {reason['attribute']}"


MEASURE_NAMES = {"cramers_v": "Cramér's V"}
# What computes each explainer's numbers: shap itself, or Assay's numpy code that tests check equal to shap's own.
LIBRARIES = {"linear": "LinearExplainer", "exact": "ExactExplainer"}


def _library(explainer: str) -> str:
    shap = f"shap {importlib.metadata.version('shap')}"
    if explainer in LIBRARIES:
        return f"numpy {np.__version__} (equal to {shap}'s {LIBRARIES[explainer]} on the same rows and background)"
    return shap


class ExplainabilityCheck(Check):
    name = "explainability"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        # A source's rows sampled by its engine (audits.statistics.samples), when it drew them; else every row.
        evaluation = getattr(evaluation, "sample", None) or evaluation
        sample_rows, seconds = budget_settings(settings, default_rows=DEFAULT_SAMPLE_ROWS)
        budget = TimeBudget(seconds)
        limit = threshold(settings, "protected_attribute_max_share")
        rule = proxy_rule(settings)
        if evaluation.predict is None or evaluation.features is None:
            reason = model_needed(evaluation, consequence="its decisions cannot be explained")
            return self.outcome(INSUFFICIENT, reason, rows=evaluation.rows)
        features = np.asarray(evaluation.features, dtype=np.float64)
        names = tuple(evaluation.feature_names)
        rng = np.random.default_rng(context.seed)
        rows = seeded_rows(len(features), sample_rows, rng)
        background = features[seeded_rows(len(features), BACKGROUND_ROWS, rng)]

        def decide(matrix: np.ndarray) -> np.ndarray:
            return np.asarray(evaluation.predict(matrix), dtype=np.float64)

        model = getattr(evaluation, "model", None)
        choice = choose(
            model=model,
            favourable=evaluation.roles.favourable,
            decide=decide,
            features=features,
            probabilities=model is not None and evaluation.scores is not None,
            no_probability_reason=evaluation.no_scores_reason,
        )
        shap_values = explain(
            choice, features=features, rows=rows, background=background, budget=budget, seed=context.seed
        )
        importance = importance_table(shap_values.values, names)
        by_feature = {entry["feature"]: entry for entry in importance}
        columns = dict(getattr(evaluation, "protected_columns", None) or {role: role for role in evaluation.protected})
        attributes = []
        for attribute in evaluation.protected:
            entry = by_feature.get(columns[attribute])
            if entry is None:
                attributes.append({"attribute": attribute, "model_input": False})
            else:
                attributes.append({"attribute": attribute, "model_input": True, **entry})
        explained = len(shap_values.rows)
        total = sum(e["mean_abs_shap"] for e in importance)
        pairs = associations(
            features=features,
            names=names,
            protected=evaluation.protected,
            known={role: known_values(evaluation, role) for role in evaluation.protected},
            skip=set(columns.values()),
            measure=rule.measure if rule is not None else None,
        )
        derived_from = _declared_sources(evaluation, columns)
        counted = counted_features(
            columns=columns, derived_from=derived_from, pairs=pairs, rule=rule, by_feature=by_feature
        )
        protected_share = sum(entry["mean_abs_shap"] for entry in counted) / total if total > 0 else None
        proxies = [
            {**pair, "rank": by_feature[pair["feature"]]["rank"], "share": by_feature[pair["feature"]]["share"]}
            for pair in pairs
            if (pair["cramers_v"] or 0.0) >= PROXY_MIN_CRAMERS_V
            and by_feature[pair["feature"]]["rank"] <= PROXY_MAX_RANK
            and by_feature[pair["feature"]]["mean_abs_shap"] > 0
        ]
        details: dict[str, Any] = {
            "explainer": choice.explainer,
            "library": _library(choice.explainer),
            "explainer_note": choice.reason,
            "explained_output": choice.score.output,
            "explained_output_kind": choice.score.kind,
            "model_structure": None if choice.structure is None else choice.structure.source,
            "rows": evaluation.rows,
            "coverage": {
                "rows_sampled": shap_values.rows_sampled,
                "rows_explained": explained,
                "background_rows": shap_values.background_rows,
                "coalitions_per_row": shap_values.coalitions,
                "exact_shapley_values": shap_values.exact,
                # Local accuracy, checked: the largest |base value + sum of a row's values - the row's output|.
                "local_accuracy_gap": finite(
                    float(np.max(np.abs(shap_values.values.sum(axis=1) + shap_values.base_value - shap_values.outputs)))
                )
                if explained
                else None,
                "time_budget_seconds": budget.seconds,
                "seconds": round(budget.elapsed(), 3),
                "stopped_by_time_budget": shap_values.stopped_by_time_budget,
                "seed": context.seed,
            },
            "base_value": finite(shap_values.base_value),
            "global_importance": importance,
            "protected_attributes": attributes,
            "protected_share": None if protected_share is None else finite(protected_share),
            "protected_attribute_max_share": limit,
            "basis": basis(settings, "protected_attribute_max_share"),
            "counted_features": counted,
            "derived_from": {role: list(sources) for role, sources in derived_from.items()},
            "declared_not_inputs": sorted(
                {source for sources in derived_from.values() for source in sources} - set(by_feature)
            ),
            "thresholds": _thresholds_judged(settings, limit=limit, rule=rule),
            "proxy_measure": None if rule is None else rule.measure,
            "proxies": proxies,
            "proxy_rule": {
                "min_cramers_v": PROXY_MIN_CRAMERS_V,
                "max_rank": PROXY_MAX_RANK,
                "quantile_bins": QUANTILE_BINS,
                "categorical_max_values": CATEGORICAL_MAX_VALUES,
            },
            "associations": pairs,
            "local_explanations": [
                {
                    "row": int(row),
                    "decision": float(decision),
                    "output": float(output),
                    "values": {name: float(v) for name, v in zip(names, row_values, strict=True)},
                }
                for row, decision, output, row_values in zip(
                    shap_values.rows[:LOCAL_ROWS_REPORTED],
                    decide(features[shap_values.rows[:LOCAL_ROWS_REPORTED]]) if explained else [],
                    shap_values.outputs[:LOCAL_ROWS_REPORTED],
                    shap_values.values[:LOCAL_ROWS_REPORTED],
                    strict=True,
                )
            ],
        }
        return self._judge(details, limit=limit, counted=counted, proxies=proxies)

    def _judge(
        self, details: dict[str, Any], *, limit: float | None, counted: list[dict[str, Any]], proxies: list[dict]
    ) -> CheckOutcome:
        coverage = details["coverage"]
        explained, sampled = coverage["rows_explained"], coverage["rows_sampled"]
        covered = f"Explained {explained} of {sampled} sampled rows in {coverage['seconds']:.1f} s"
        if explained == 0:
            return self.outcome(
                INSUFFICIENT,
                f"The time budget of {coverage['time_budget_seconds']:g} s ran out before any row was explained.",
                **details,
            )
        share = details["protected_share"]
        rule = details["thresholds"].get("proxy_association_min")
        if not counted:
            unmeasured = (
                ""
                if rule is None
                else f", and no feature reaches {MEASURE_NAMES[details['proxy_measure']]} {rule['operator']} "
                f"{rule['value']:g} with one"
            )
            measured = (
                "no feature counts for a protected attribute (none is a model input or declared as the source of "
                f"one{unmeasured}), so any influence comes through other features"
            )
        elif share is None:
            measured = "no feature moved the explained output in the sample (every attribution is 0)"
        else:
            names = "; ".join(
                f"{entry['feature']}: " + ", ".join(_describe_reason(reason) for reason in entry["because"])
                for entry in counted
            )
            measured = f"the features counted for protected attributes ({names}) carry {share:.1%} of all attribution"
        notes = ""
        if rule is None:
            notes = (
                " Only model inputs and declared sources of protected attributes count: the policy sets no "
                "proxy_association_min."
            )
        if proxies:
            shown = "; ".join(
                f"{p['feature']} (rank {p['rank']}, Cramér's V {p['cramers_v']:.2f} with {p['attribute']})"
                for p in proxies
            )
            notes += f" Possible proxies for a protected attribute: {shown}."
        if explained < sampled:
            return self.outcome(
                INSUFFICIENT,
                f"{covered}: the time budget of {coverage['time_budget_seconds']:g} s ran out before the sample was "
                f"covered. In the rows explained, {measured}.{notes}",
                **details,
            )
        if limit is None:
            return self.outcome(
                PASS, f"Reported only (the policy sets no limit): {measured}. {covered}.{notes}", **details
            )
        operator = details["thresholds"]["protected_attribute_max_share"]["operator"]
        if share is not None and (share > limit if operator == "<=" else share >= limit):
            return self.outcome(
                FAIL, f"{_sentence(measured)}, above the limit of {limit * 100:g}%. {covered}.{notes}", **details
            )
        return self.outcome(PASS, f"{_sentence(measured)} (limit {limit * 100:g}%). {covered}.{notes}", **details)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
