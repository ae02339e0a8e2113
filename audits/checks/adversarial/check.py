"""The adversarial check: runs the probes and the attack, and judges their counts exactly (see the package's
docstring for what each measures)."""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

import numpy as np

from audits.checks.adversarial.blackbox import BOUNDARY, HOP_SKIP_JUMP, AttackResult, Standardized, bounded_evasion
from audits.checks.adversarial.probes import counterfactual_flips, noise_flip_rate
from audits.checks.adversarial.structural import Plan, linear_evasion, plan_attack
from audits.checks.adversarial.trees import tree_evasion
from audits.checks.base import (
    FAIL,
    INSUFFICIENT,
    PASS,
    Check,
    CheckContext,
    CheckOutcome,
    Threshold,
    basis,
    exact_threshold,
    finite,
    threshold,
)
from audits.checks.explainability import TimeBudget, budget_settings, model_needed, seeded_rows
from audits.checks.groups import unknown_mask

DEFAULT_SAMPLE_ROWS = 100
DEFAULT_EPSILON = 0.1
DEFAULT_ATTACK = "hop_skip_jump"
NOISE_DRAWS = 10
ATTACK_NAMES = {
    "hop_skip_jump": "HopSkipJump",
    "boundary": "BoundaryAttack",
    "zoo": "ZOO",
    "linear_exact": "the exact attack on the linear score",
    "tree_exact": "the exact attack on the trees",
}
EXACT_ATTACKS = frozenset({"linear_exact", "tree_exact"})


class AdversarialCheck(Check):
    """``structure=False`` runs the policy's black-box attack even on a model whose structure is read (the
    benchmark's reference; the exact attacks are what audits run)."""

    name = "adversarial"

    def __init__(self, *, structure: bool = True) -> None:
        self.structure = structure

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        # A source's rows sampled by its engine (audits.statistics.samples), when it drew them; else every row.
        evaluation = getattr(evaluation, "sample", None) or evaluation
        sample_rows, seconds = budget_settings(settings, default_rows=DEFAULT_SAMPLE_ROWS)
        budget = TimeBudget(seconds)
        epsilon = threshold(settings, "epsilon") or DEFAULT_EPSILON
        # Both rates are ratios of counts (rows flipped over rows tried): judged exactly, by the policy's operator.
        max_success = exact_threshold(settings, "max_success_rate", default_operator="<=")
        max_flips = exact_threshold(settings, "counterfactual_flip_rate_max", default_operator="<=")
        attack = str(settings.get("attack") or DEFAULT_ATTACK)
        if evaluation.predict is None or evaluation.features is None:
            reason = model_needed(evaluation, consequence="neither an attack nor a counterfactual can be run")
            return self.outcome(INSUFFICIENT, reason, rows=evaluation.rows)
        features = np.asarray(evaluation.features, dtype=np.float64)
        names = tuple(evaluation.feature_names)
        predict = evaluation.predict
        decisions = np.asarray(predict(features), dtype=bool)
        rng = np.random.default_rng(context.seed)
        rows = seeded_rows(len(features), sample_rows, rng)

        counterfactual = []
        columns = dict(getattr(evaluation, "protected_columns", None) or {})
        for attribute, groups in evaluation.protected.items():
            # The model's features are the data's columns: a role (sex) is a model input under its column (gender).
            column = columns.get(attribute, attribute)
            if column not in names:
                counterfactual.append(
                    {
                        "attribute": attribute,
                        "column": column,
                        "model_input": False,
                        "applies": False,
                        "note": (
                            f"{_named(attribute, column)} is not a model input, so changing it alone cannot "
                            "change a decision."
                        ),
                    }
                )
                continue
            flips = counterfactual_flips(
                predict=predict,
                features=features,
                column=names.index(column),
                groups=np.asarray(groups),
                decisions=decisions,
                min_group_size=context.min_group_size,
                unknown=unknown_mask(evaluation, attribute),
            )
            counterfactual.append(
                {"attribute": attribute, "column": column, "model_input": True, "applies": True, **flips}
            )

        space = Standardized.of(features)
        noise = noise_flip_rate(
            predict=predict,
            features=features[rows],
            scale=np.where(space.varying, space.scale, 0.0),  # constant (or incomplete) features are not perturbed
            radius=epsilon,
            draws=NOISE_DRAWS,
            rng=rng,
        )
        attack_details = self._attack(
            plan=plan_attack(evaluation, features, decisions, attack)
            if self.structure
            else Plan(attack, "the model's structure is not read (the black-box attack was asked for)"),
            predict=predict,
            features=features,
            rows=rows,
            epsilon=epsilon,
            budget=budget,
            seed=context.seed,
        )
        details: dict[str, Any] = {
            "rows": evaluation.rows,
            "perturbation_unit": "L-infinity distance, in standard deviations of each feature over the evaluation rows",
            "epsilon": epsilon,
            "epsilon_basis": basis(settings, "epsilon"),
            "max_success_rate": max_success.value if max_success else None,
            "max_success_rate_basis": basis(settings, "max_success_rate"),
            "counterfactual_flip_rate_max": max_flips.value if max_flips else None,
            "thresholds": {
                key: limit.as_json()
                for key, limit in (("max_success_rate", max_success), ("counterfactual_flip_rate_max", max_flips))
                if limit is not None
            },
            "counterfactual_flip_rate_max_basis": basis(settings, "counterfactual_flip_rate_max"),
            "attack": attack_details,
            "noise": {
                "distribution": "uniform in the L-infinity ball of radius epsilon",
                "radius": epsilon,
                "draws_per_row": NOISE_DRAWS,
                "rows": len(rows),
                "flip_rate": finite(noise),
            },
            "counterfactual": {"rows": len(features), "attributes": counterfactual},
            "time_budget_seconds": budget.seconds,
            "seconds": round(budget.elapsed(), 3),
            "seed": context.seed,
        }
        return self._judge(details, max_success=max_success, max_flips=max_flips)

    def _attack(
        self,
        *,
        plan: Plan,
        predict: Callable[[np.ndarray], np.ndarray],
        features: np.ndarray,
        rows: np.ndarray,
        epsilon: float,
        budget: TimeBudget,
        seed: int,
    ) -> dict[str, Any]:
        attack = plan.attack
        library = f"adversarial-robustness-toolbox {importlib.metadata.version('adversarial-robustness-toolbox')}"
        chosen = {"attack_reason": plan.reason, "exact": attack in EXACT_ATTACKS}
        if attack == "zoo":
            return {
                "name": attack,
                "library": library,
                **chosen,
                "ran": False,
                "note": (
                    "ZOO estimates gradients from class probabilities; Assay can query this model for decisions only, "
                    "so the attack would have nothing to follow."
                ),
            }
        started = time.monotonic()
        if attack == "linear_exact":
            found = linear_evasion(plan=plan, predict=predict, features=features, rows=rows, epsilon=epsilon)
            library = f"numpy {np.__version__} (closed form)"
            assert plan.structure is not None
            parameters: dict[str, Any] = {
                "norm": "L-infinity",
                "epsilon": epsilon,
                "structure": plan.structure.source,
                "score": plan.structure.score.output,
                "decision_threshold": plan.threshold,
            }
        elif attack == "tree_exact":
            if plan.ensemble is None or plan.threshold is None or plan.structure is None:
                raise ValueError("the exact tree attack needs the model's trees and decision threshold")
            found = tree_evasion(
                ensemble=plan.ensemble,
                threshold=plan.threshold,
                predict=predict,
                features=features,
                rows=rows,
                epsilon=epsilon,
                budget=budget,
            )
            library = f"scipy {importlib.metadata.version('scipy')} (HiGHS mixed-integer programming)"
            parameters = {
                "norm": "L-infinity",
                "epsilon": epsilon,
                "structure": plan.structure.source,
                "score": plan.structure.score.output,
                "decision_threshold": plan.threshold,
                "trees": len(plan.ensemble.trees),
            }
        else:
            found = bounded_evasion(
                attack=attack, predict=predict, features=features, rows=rows, epsilon=epsilon, budget=budget, seed=seed
            )
            parameters = dict(HOP_SKIP_JUMP if attack == "hop_skip_jump" else BOUNDARY)
        space = Standardized.of(features)
        z = space.to_z(features[found.rows]) if len(found.rows) else np.zeros((0, int(space.varying.sum())))
        distance = np.abs(found.adversarial - z).max(axis=1) if len(z) else np.zeros(0)
        counted = np.abs(found.within_epsilon_points - z).max(axis=1)[found.within_epsilon] if len(z) else np.zeros(0)
        attacked = len(found.rows)
        succeeded = int(found.within_epsilon.sum())
        return {
            "name": attack,
            "library": library,
            **chosen,
            "ran": True,
            "parameters": parameters,
            "rows_sampled": found.rows_sampled,
            "rows_attacked": attacked,
            "stopped_by_time_budget": found.stopped_by_time_budget,
            "seconds": round(time.monotonic() - started, 3),
            "queries": found.queries,
            "perturbed_features": int(space.varying.sum()),
            "succeeded_within_epsilon": succeeded,
            "success_rate_within_epsilon": finite(succeeded / attacked) if attacked else None,
            "flipped_at_any_distance": int(found.flipped.sum()),
            "median_perturbation": finite(float(np.median(distance[found.flipped]))) if found.flipped.any() else None,
            "largest_counted_perturbation": finite(float(counted.max())) if len(counted) else None,
            **_minimal(found),
        }

    def _judge(
        self, details: dict[str, Any], *, max_success: Threshold | None, max_flips: Threshold | None
    ) -> CheckOutcome:
        failures: list[str] = []
        unsure: list[str] = []
        said: list[str] = []
        _judge_attack(details, max_success=max_success, failures=failures, unsure=unsure, said=said)
        _judge_counterfactual(details, max_flips=max_flips, failures=failures, said=said)
        noise = details["noise"]["flip_rate"]
        if noise is not None:
            said.append(f"random noise within epsilon changed {noise:.1%} of decisions (reported, not judged)")
        if failures:
            return self.outcome(FAIL, _sentences(failures + unsure + said), **details)
        if unsure:
            return self.outcome(INSUFFICIENT, _sentences(unsure + said), **details)
        return self.outcome(PASS, _sentences(said), **details)


def _judge_attack(
    details: dict[str, Any],
    *,
    max_success: Threshold | None,
    failures: list[str],
    unsure: list[str],
    said: list[str],
) -> None:
    """The attack's success rate within epsilon against the limit, in words. A partial sample fails only when the
    flips found already exceed the limit for the whole sample; otherwise it is insufficient evidence."""
    attack = details["attack"]
    name = ATTACK_NAMES[attack["name"]]
    if not attack["ran"]:
        note = attack["note"]
        (unsure if max_success is not None else said).append(f"{name} was not run: {note[0].lower()}{note[1:-1]}")
        return
    attacked, sampled = attack["rows_attacked"], attack["rows_sampled"]
    succeeded = attack["succeeded_within_epsilon"]
    found = f"{name} flipped {succeeded} of {attacked} attacked decisions within epsilon {details['epsilon']:g} SD"
    rate = f"{succeeded / attacked:.1%}" if attacked else "no rows attacked"
    limit = "reported, not judged" if max_success is None else f"limit {max_success.value * 100:g}%"
    median = attack["median_perturbation"]
    distance = (
        "" if median is None else f"; where it flipped one at any distance, the median change was {median:.2f} SD"
    )
    if attack.get("exact"):
        distance = _smallest_changes(attack)
    partial = (
        f"the time budget of {details['time_budget_seconds']:g} s ran out after attacking {attacked} of {sampled} "
        "sampled rows"
    )
    # Flips found among the rows attacked so far, over all sampled rows: more attacks can only add flips, so a
    # share that already fails the limit fails it for the whole sample, even when the time budget cut it short.
    if max_success is not None and sampled and not max_success.passes(Fraction(succeeded, sampled)):
        failures.append(f"{found}: more than {max_success.value * 100:g}% of the {sampled} sampled rows{distance}")
    elif max_success is not None and attacked < sampled:
        unsure.append(f"{partial}: {found} ({limit}){distance}")
    else:
        said.append(f"{found} ({rate}; {limit}){distance}" + (f"; {partial}" if attacked < sampled else ""))
    if attack.get("exact"):
        said.append("the attack is exact for this model: no change within epsilon flips any other sampled decision")


def _judge_counterfactual(
    details: dict[str, Any], *, max_flips: Threshold | None, failures: list[str], said: list[str]
) -> None:
    """Each protected attribute's counterfactual flip rate against the limit, in words."""
    for entry in details["counterfactual"]["attributes"]:
        named = _named(entry["attribute"], entry.get("column", entry["attribute"]))
        if not entry["applies"]:
            said.append(
                f"the counterfactual test does not apply to {named}: it is not a model input, so "
                "changing it alone cannot change a decision (its influence can only come through proxies)"
            )
            continue
        rows = details["counterfactual"]["rows"]
        words = f"{entry['flipped']} of {rows} decisions ({entry['flip_rate']:.1%}) change when only {named} changes"
        if max_flips is not None and rows and not max_flips.passes(Fraction(entry["flipped"], rows)):
            failures.append(f"{words}, above the limit of {max_flips.value * 100:g}%")
        else:
            said.append(words + ("" if max_flips is None else f" (limit {max_flips.value * 100:g}%)"))


def _named(attribute: str, column: str) -> str:
    """A protected role in words, with its column when the column roles map it to another name."""
    return attribute if column == attribute else f"{attribute} (column {column!r})"


def _sentences(parts: list[str]) -> str:
    return " ".join(part[:1].upper() + part[1:] + "." for part in parts)


def _minimal(found: AttackResult) -> dict[str, Any]:
    """An exact attack's smallest flipping change: its median over the rows it can flip within the data's range."""
    if found.minimal is None:
        return {}
    reachable = found.minimal[np.isfinite(found.minimal)]
    return {
        "rows_flippable_in_range": len(reachable),
        "rows_without_minimal_perturbation": int(np.isnan(found.minimal).sum()),
        "median_minimal_perturbation": finite(float(np.median(reachable))) if len(reachable) else None,
    }


def _smallest_changes(attack: dict[str, Any]) -> str:
    """An exact attack's smallest flipping changes in words: their median over the rows that can flip at all, and
    the rows whose programme ran out of time (a tree attack's, reported only)."""
    median = attack.get("median_minimal_perturbation")
    missing = attack.get("rows_without_minimal_perturbation") or 0
    words = (
        ""
        if median is None
        else f"; the smallest change that flips a decision has a median of {median:.2f} SD over the "
        f"{attack['rows_flippable_in_range']} rows it can flip within the data's range"
    )
    if missing:
        words += f"; the smallest change was not found in time for {missing} rows (reported only, not judged)"
    return words
