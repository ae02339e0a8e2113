"""Adversarial robustness: a black-box evasion attack, random noise of the same size, and a counterfactual flip test
on the protected attributes.

- Perturbations are measured in each feature's standard deviation over the evaluation rows, with the L-infinity norm:
  epsilon 0.1 allows every feature to move by at most a tenth of its standard deviation. Features that are constant in
  the data (or have missing values) are left alone, and every perturbed value stays within the range the data shows
  (the attack's clip values).
- Evasion attack (adversarial-robustness-toolbox): ``hop_skip_jump`` (HopSkipJump, L-infinity) or ``boundary``
  (BoundaryAttack) against a ``BlackBoxClassifier`` that returns the model's decision one-hot, on ``sample_rows``
  seeded rows, one row at a time until ``time_budget_seconds`` runs out. Each attack starts from the nearest row of
  the data with the other decision (seeded and reproducible; ART's own random start is not seedable). Both attacks
  look for the smallest change that flips a decision; a row counts as flipped within epsilon when a point inside the
  epsilon ball (the attack's example itself, or that example clipped into the ball) is verified, by calling the
  model, to get the other decision. The success rate is therefore a lower bound: a stronger search could find more.
  ``zoo`` estimates gradients from class probabilities, which Assay cannot yet ask a model for, so it is reported as
  insufficient evidence.
- Random noise: each sampled row is perturbed ten times uniformly inside the same epsilon ball; the share of those
  draws whose decision differs is reported (not judged), the random counterpart of the attack.
- Counterfactual flip test, on all rows: for each protected attribute that is a model input (a feature named as the
  data's column the column roles map the role to, e.g. ``gender`` for the role ``sex``), set that feature to each
  other value it takes in the data (at most ten: deciles when it takes more), leave every other feature as it is,
  and count the rows whose decision changes under any of them, overall and per group.
  Rows whose category is unknown (``audits.checks.groups.unknown_mask``) are in no group: they count in the overall
  figure (their decision can change all the same) and are reported apart, never as a group of their own.
  A protected attribute that is not a model input cannot change a decision on its own: the test does not apply to it,
  and the result says so (its influence can only come through proxies; the explainability check reports those).
- Fail: the success rate within epsilon does not meet ``max_success_rate`` (on a partial sample: when the flips
  found already exceed it for the whole sample), or a protected attribute's overall counterfactual flip rate does not
  meet ``counterfactual_flip_rate_max``. Both are ratios of counts, judged exactly (``Fraction``) by the threshold's
  operator (``<=`` unless the policy says otherwise). Insufficient evidence: no model to query, or the budget ran
  out before the sample was attacked (and no failure is already certain).
- Cost: the counterfactual and noise tests are a few model calls over the rows and always run in full; the attack
  gets what remains of ``time_budget_seconds``, and the model query that crosses the deadline is stopped.
"""

from __future__ import annotations

import importlib.metadata
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

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
from audits.checks.explainability import OutOfTime, TimeBudget, budget_settings, model_needed, seeded_rows
from audits.checks.groups import unknown_mask

DEFAULT_SAMPLE_ROWS = 100
DEFAULT_EPSILON = 0.1
DEFAULT_ATTACK = "hop_skip_jump"
NOISE_DRAWS = 10
COUNTERFACTUAL_MAX_VALUES = 10
# Attack settings: bounded so that one row costs about a thousand model queries per iteration at most.
HOP_SKIP_JUMP = {"max_iter": 10, "max_eval": 1000, "init_eval": 100}
BOUNDARY = {"max_iter": 200, "num_trial": 25, "sample_size": 20}
QUERY_BATCH = 4096
ATTACK_NAMES = {"hop_skip_jump": "HopSkipJump", "boundary": "BoundaryAttack", "zoo": "ZOO"}


@dataclass
class Standardized:
    """The varying features in standard-deviation units, and the way back to a full feature matrix."""

    mean: np.ndarray
    scale: np.ndarray
    varying: np.ndarray  # boolean: the features an attack may change (not constant in the data)
    low: np.ndarray  # per varying feature, the data's minimum in standard units
    high: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray) -> Standardized:
        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        varying = scale > 0
        z = (features[:, varying] - mean[varying]) / scale[varying]
        return cls(mean=mean, scale=scale, varying=varying, low=z.min(axis=0), high=z.max(axis=0))

    def to_z(self, features: np.ndarray) -> np.ndarray:
        return (features[:, self.varying] - self.mean[self.varying]) / self.scale[self.varying]

    def to_features(self, z: np.ndarray, like: np.ndarray) -> np.ndarray:
        """Rows of ``like`` with their varying features replaced by ``z`` (in standard units)."""
        full = np.array(like, dtype=np.float64, copy=True)
        full[:, self.varying] = np.asarray(z, dtype=np.float64) * self.scale[self.varying] + self.mean[self.varying]
        return full


def noise_flip_rate(
    *,
    predict: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    scale: np.ndarray,
    radius: float,
    draws: int,
    rng: np.random.Generator,
) -> float:
    """The share of noisy copies of ``features`` whose decision differs from the row's own decision.

    Parameters
    ----------
    predict
        The model's favourable decision for each row of a matrix.
    features
        The rows to perturb.
    scale
        Each feature's standard deviation: noise on feature j is uniform in ``[-radius, radius] * scale[j]``.
    radius
        The noise's L-infinity radius in standard deviations (0 leaves every row unchanged).
    draws
        Noisy copies of each row.
    rng
        The seeded generator the noise comes from.
    """
    if len(features) == 0 or draws < 1:
        return float("nan")
    original = np.asarray(predict(features), dtype=bool)
    noisy = np.repeat(features, draws, axis=0)
    noisy = noisy + rng.uniform(-radius, radius, size=noisy.shape) * scale
    changed = np.asarray(predict(noisy), dtype=bool) != np.repeat(original, draws)
    return float(changed.mean())


def counterfactual_flips(
    *,
    predict: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    column: int,
    groups: np.ndarray,
    decisions: np.ndarray,
    min_group_size: int,
    unknown: np.ndarray | None = None,
) -> dict[str, Any]:
    """Rows whose decision changes when only feature ``column`` is set to another value it takes in the data.

    Parameters
    ----------
    predict
        The model's favourable decision for each row of a matrix.
    features
        All rows' features.
    column
        The protected attribute's feature index.
    groups
        Each row's group of the protected attribute (for the per-group counts).
    decisions
        Each row's own decision (``predict(features)``).
    min_group_size
        Groups smaller than this are marked (reported, not judged separately).
    unknown
        True where the row's group is unknown: such rows are in no group, and are counted apart (``unknown``).
    """
    values = features[:, column]
    distinct = np.unique(values[~np.isnan(values)])
    if len(distinct) > COUNTERFACTUAL_MAX_VALUES:
        distinct = np.unique(np.quantile(values[~np.isnan(values)], np.linspace(0.1, 0.9, 9), method="nearest"))
    flipped = np.zeros(len(features), dtype=bool)
    for value in distinct:
        changed_rows = values != value
        if not changed_rows.any():
            continue
        altered = features[changed_rows].copy()
        altered[:, column] = value
        flipped[changed_rows] |= np.asarray(predict(altered), dtype=bool) != decisions[changed_rows]
    unknown = np.zeros(len(features), dtype=bool) if unknown is None else np.asarray(unknown, dtype=bool)
    by_group = []
    for group in sorted(set(groups[~unknown].tolist())):
        mask = (groups == group) & ~unknown
        count = int(mask.sum())
        by_group.append(
            {
                "group": group,
                "count": count,
                "flipped": int(flipped[mask].sum()),
                "flip_rate": finite(flipped[mask].mean()) if count else None,
                "below_min_group_size": count < min_group_size,
            }
        )
    return {
        "values_tried": [float(v) for v in distinct],
        "flipped": int(flipped.sum()),
        "flip_rate": finite(flipped.mean()),
        "became_favourable": int((flipped & ~decisions).sum()),
        "became_unfavourable": int((flipped & decisions).sum()),
        "groups": by_group,
        "unknown": {"count": int(unknown.sum()), "flipped": int(flipped[unknown].sum())},
    }


@dataclass
class AttackResult:
    """What an evasion attack found on the rows it covered (in sample order)."""

    rows: np.ndarray  # indices of the rows attacked to the end
    adversarial: np.ndarray  # the attack's example for each (standard units, varying features)
    flipped: np.ndarray  # the example gets the other decision
    within_epsilon: np.ndarray  # a point inside the epsilon ball gets the other decision
    within_epsilon_points: np.ndarray  # that point (the original row where there is none)
    queries: int
    rows_sampled: int
    stopped_by_time_budget: bool


class _Oracle:
    """The model's decisions for points in standard units, counted, and refused once the budget has run out."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], space: Standardized, budget: TimeBudget) -> None:
        self.predict = predict
        self.space = space
        self.budget = budget
        self.queries = 0

    def __call__(self, z: np.ndarray, like: np.ndarray) -> np.ndarray:
        if self.budget.expired():
            raise OutOfTime
        self.queries += len(z)
        rows = np.repeat(like, len(z), axis=0) if len(like) != len(z) else like
        return np.asarray(self.predict(self.space.to_features(z, rows)), dtype=bool)


def _search(attack: str, oracle: _Oracle, like: np.ndarray) -> Any:
    """The ART attack against a black-box classifier answering the decision for ``like`` with changed features."""
    with warnings.catch_warnings():  # ART warns at import about optional deep-learning frameworks
        warnings.simplefilter("ignore")
        from art.attacks.evasion import BoundaryAttack, HopSkipJump
        from art.estimators.classification import BlackBoxClassifier

    def one_hot(z: np.ndarray) -> np.ndarray:
        decided = oracle(z, like)
        return np.stack([~decided, decided], axis=1).astype(np.float32)

    space = oracle.space
    classifier = BlackBoxClassifier(
        one_hot, input_shape=(int(space.varying.sum()),), nb_classes=2, clip_values=(space.low, space.high)
    )
    if attack == "boundary":
        return BoundaryAttack(classifier, batch_size=QUERY_BATCH, targeted=False, verbose=False, **BOUNDARY)
    return HopSkipJump(classifier, batch_size=QUERY_BATCH, targeted=False, norm=np.inf, verbose=False, **HOP_SKIP_JUMP)


def _evade(
    *,
    attack: str,
    oracle: _Oracle,
    like: np.ndarray,
    z: np.ndarray,
    own: bool,
    start: np.ndarray | None,
    epsilon: float,
) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """One row's attack: the example, whether it flips the row's decision ``own``, and a point inside the epsilon
    ball that does (or None)."""
    if start is None:  # the model gives one decision on every row: nowhere to start from
        return z[0], False, None
    example = _search(attack, oracle, like).generate(z.astype(np.float32), x_adv_init=start.astype(np.float32))
    example = np.asarray(example, dtype=np.float64)
    if oracle(example, like)[0] == own:
        return example[0], False, None
    ball = np.clip(example, z - epsilon, z + epsilon)  # in float64, so that |ball - z| <= epsilon up to rounding
    return example[0], True, (ball[0] if oracle(ball, like)[0] != own else None)


def bounded_evasion(
    *,
    attack: str,
    predict: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    rows: np.ndarray,
    epsilon: float,
    budget: TimeBudget,
    seed: int,
) -> AttackResult:
    """An ART black-box evasion attack on ``features[rows]``, one row at a time until ``budget`` runs out, with each
    example checked against the model inside the L-infinity ball of radius ``epsilon`` standard deviations.

    Parameters
    ----------
    attack
        ``hop_skip_jump`` or ``boundary``.
    predict
        The model's favourable decision for each row of a matrix.
    features
        All rows' features (standard deviations, ranges and starting points come from them).
    rows
        The rows to attack, in order.
    epsilon
        The L-infinity radius, in standard deviations, within which a flipped decision counts.
    budget
        The time budget; a model query past it raises OutOfTime and the row in progress is dropped.
    seed
        Seeds numpy's global generator (restored afterwards), which ART draws its random directions from.
    """
    space = Standardized.of(features)
    oracle = _Oracle(predict, space, budget)
    z_all = space.to_z(features)
    attacked, examples, flipped, inside, points = [], [], [], [], []
    stopped = False
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        # Decisions of the rows as the attack sees them (after the round trip through standard units).
        decisions = oracle(z_all, features)
        for row in rows:
            z = z_all[row : row + 1]
            others = np.flatnonzero(decisions != decisions[row])
            # Start from the nearest row with the other decision: ART's own random start is not seedable.
            start = others[np.argmin(np.abs(z_all[others] - z).max(axis=1))] if len(others) else None
            example, is_flipped, point = _evade(
                attack=attack,
                oracle=oracle,
                like=features[row : row + 1],
                z=z,
                own=bool(decisions[row]),
                start=None if start is None else z_all[start : start + 1],
                epsilon=epsilon,
            )
            attacked.append(int(row))
            examples.append(example)
            flipped.append(is_flipped)
            inside.append(point is not None)
            points.append(z[0] if point is None else point)
    except OutOfTime:
        stopped = True
    finally:
        np.random.set_state(state)
    width = int(space.varying.sum())
    return AttackResult(
        rows=np.asarray(attacked, dtype=np.intp),
        adversarial=np.vstack(examples) if examples else np.zeros((0, width)),
        flipped=np.asarray(flipped, dtype=bool),
        within_epsilon=np.asarray(inside, dtype=bool),
        within_epsilon_points=np.vstack(points) if points else np.zeros((0, width)),
        queries=oracle.queries,
        rows_sampled=len(rows),
        stopped_by_time_budget=stopped,
    )


class AdversarialCheck(Check):
    name = "adversarial"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
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
            attack=attack,
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
        attack: str,
        predict: Callable[[np.ndarray], np.ndarray],
        features: np.ndarray,
        rows: np.ndarray,
        epsilon: float,
        budget: TimeBudget,
        seed: int,
    ) -> dict[str, Any]:
        library = f"adversarial-robustness-toolbox {importlib.metadata.version('adversarial-robustness-toolbox')}"
        if attack == "zoo":
            return {
                "name": attack,
                "library": library,
                "ran": False,
                "note": (
                    "ZOO estimates gradients from class probabilities; Assay can query this model for decisions only, "
                    "so the attack would have nothing to follow."
                ),
            }
        started = time.monotonic()
        found = bounded_evasion(
            attack=attack, predict=predict, features=features, rows=rows, epsilon=epsilon, budget=budget, seed=seed
        )
        space = Standardized.of(features)
        z = space.to_z(features[found.rows]) if len(found.rows) else np.zeros((0, int(space.varying.sum())))
        distance = np.abs(found.adversarial - z).max(axis=1) if len(z) else np.zeros(0)
        counted = np.abs(found.within_epsilon_points - z).max(axis=1)[found.within_epsilon] if len(z) else np.zeros(0)
        attacked = len(found.rows)
        succeeded = int(found.within_epsilon.sum())
        return {
            "name": attack,
            "library": library,
            "ran": True,
            "parameters": dict(HOP_SKIP_JUMP if attack == "hop_skip_jump" else BOUNDARY),
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
